"""Reading records back: any bridge topic decoded into JSON (``bridge tail``, the demo), and
the writer schemas that ``bridge rebuild`` decodes raw frames with.

Both wire formats decode: single-object values by fingerprint (the local ``schemas/`` first,
then the compacted schemas topic, so records of schema versions this checkout does not have
still decode), Confluent values by registry id (fetched once per id from the registry).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import fastavro
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError

from bridge.avro.formats import decode_body, split_value
from bridge.avro.registry import RegistryClient
from bridge.avro.store import SchemaStore, fingerprint_bytes, fingerprint_text, version_key
from bridge.errors import BridgeError, KafkaUnavailableError, SchemaError, TopicNotFoundError
from bridge.topics import SCHEMAS_TOPIC

log = logging.getLogger(__name__)


def jsonable(value: Any) -> Any:
    """A decoded value (union branches as ``(full name, value)``, as :func:`decode_body` returns
    them) as JSON, for ``bridge tail`` and the demo: timestamps as ISO 8601, bytes as text (or
    ``{"base64": ...}`` when not UTF-8), and a record taken as a union branch as an object with
    one member, the record's full name: ``{"exchange_bridge.okex.SpotDeal": {...fields}}``.

    That last form is how Avro's own JSON encoding writes a union branch (``avro-tools
    tojson`` and Java's ``JsonEncoder`` print the same shape), and it cannot clash with the
    record's fields: a form that put the name beside the fields, under a member such as
    ``type``, lost it to every payload with a field of that name (OKEx deals, orders and
    balances, Kraken ownTrades). Avro decimals (the normalized topics' ``*_decimal`` fields)
    are written as text of their digits, never as a float. The other unions of the schemas
    are ``["null", T]``, whose values need no name and are written plain."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        name, inner = value
        return {name: jsonable(inner)}
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        # An Avro decimal as its digits in text, never through a float: 42219.9, not
        # 42219.900000000000000000 (its scale) nor 4.22199E+4.
        return format(value.normalize(), "f") if value else "0"
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(value).decode()}
    return value


def union_branch(rendered: Any) -> tuple[str, Any]:
    """(full name, fields) of a union branch as :func:`jsonable` renders it."""
    if not isinstance(rendered, dict) or len(rendered) != 1:
        raise SchemaError(f"not a rendered union branch: {str(rendered)[:80]}")
    ((name, fields),) = rendered.items()
    return name, fields


@dataclass(frozen=True, slots=True)
class TailedRecord:
    """One record read back: where it was, its key, the label of its writer schema, and the
    decoded value (union branches as ``(full name, value)`` pairs; :meth:`to_json` renders it
    with :func:`jsonable`)."""

    topic: str
    partition: int
    offset: int
    key: str | None
    schema: str | None
    value: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps(
            {
                "topic": self.topic,
                "partition": self.partition,
                "offset": self.offset,
                "key": self.key,
                "schema": self.schema,
                "value": jsonable(self.value),
            },
            ensure_ascii=False,
        )


class WriterSchemas:
    """Finds the writer schema of a value: by fingerprint in the local store, else in the
    schemas topic (read again on each miss, since a bridge may have published it a moment
    ago); by id in the registry. Parsed schemas are cached."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        store: SchemaStore | None = None,
        schemas_topic: str | None = SCHEMAS_TOPIC,
        registry: RegistryClient | None = None,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.client_options = dict(client_options or {})
        self.store = store or SchemaStore()
        self.schemas_topic = schemas_topic
        self.registry = registry
        self._by_fingerprint: dict[bytes, tuple[str, Any]] = {
            s.fingerprint: (version_key(s), s.parsed) for s in self.store.all()
        }
        self._by_id: dict[int, tuple[str, Any]] = {}

    async def decode(self, data: bytes) -> tuple[str, dict[str, Any]]:
        """(label of the writer schema, decoded value) of one record value."""
        _wire, reference, body = split_value(data)
        if isinstance(reference, int):
            label, parsed = await self._for_id(reference)
        else:
            label, parsed = await self._for_fingerprint(reference)
        return label, decode_body(parsed, body, label)

    async def _for_fingerprint(self, fingerprint: bytes) -> tuple[str, Any]:
        found = self._by_fingerprint.get(fingerprint)
        if found is None and self.schemas_topic:
            published = await read_schemas_topic(
                self.bootstrap_servers, self.schemas_topic, client_options=self.client_options
            )
            for fp, (label, definition) in published.items():
                if fp not in self._by_fingerprint:
                    self._by_fingerprint[fp] = (label, fastavro.parse_schema(definition))
            found = self._by_fingerprint.get(fingerprint)
        if found is None:
            where = f" nor in topic {self.schemas_topic}" if self.schemas_topic else ""
            raise SchemaError(
                f"unknown schema fingerprint {fingerprint_text(fingerprint)} "
                f"(not in schemas/{where})"
            )
        return found

    async def _for_id(self, schema_id: int) -> tuple[str, Any]:
        found = self._by_id.get(schema_id)
        if found is None:
            if self.registry is None:
                raise SchemaError(
                    f"Confluent wire format (registry id {schema_id}): pass --registry-url"
                )
            try:
                text = await self.registry.schema_by_id(schema_id)
                parsed = fastavro.parse_schema(json.loads(text))
            except (BridgeError, ValueError, fastavro.schema.SchemaParseException) as exc:
                raise SchemaError(f"registry id {schema_id}: {exc}") from exc
            found = self._by_id[schema_id] = (f"registry:{schema_id}", parsed)
        return found


async def tail(
    bootstrap_servers: str,
    topics: Sequence[str],
    *,
    from_beginning: bool = True,
    idle_timeout: float | None = None,
    store: SchemaStore | None = None,
    schemas_topic: str | None = SCHEMAS_TOPIC,
    registry: RegistryClient | None = None,
    client_options: Mapping[str, Any] | None = None,
    missing_topics: Literal["wait", "fail"] = "wait",
) -> AsyncIterator[TailedRecord]:
    """Yield decoded records of ``topics`` as they arrive; stop after ``idle_timeout`` seconds
    without a record (None: never). ``schemas_topic`` (with any prefix) resolves fingerprints
    the local ``schemas/`` does not know; ``registry`` resolves Confluent schema ids.

    Never creates a topic. A topic that does not exist yet is waited for (``missing_topics``
    ``"wait"``: the demo starts reading before the bridge has written), or refused with
    :class:`~bridge.errors.TopicNotFoundError` (``"fail"``: ``bridge tail``). Raises
    :class:`~bridge.errors.KafkaUnavailableError` when Kafka cannot be reached at start."""
    schemas = WriterSchemas(
        bootstrap_servers,
        store=store,
        schemas_topic=schemas_topic,
        registry=registry,
        client_options=client_options,
    )
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        **(client_options or {}),
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
    )
    await _start(consumer, bootstrap_servers)
    try:
        partitions = _Partitions(consumer, topics, from_beginning)
        try:
            existing = await partitions.refresh()
        except KafkaError as exc:
            raise KafkaUnavailableError(f"Kafka at {bootstrap_servers}: {exc}") from exc
        missing = [t for t in topics if t not in existing]
        if missing and missing_topics == "fail":
            raise TopicNotFoundError(
                f"no topic {', '.join(missing)} on {bootstrap_servers} "
                "(or not visible to this client); `bridge schemas list` shows the topics "
                "the bridge writes"
            )
        loop = asyncio.get_running_loop()
        last_record = last_refresh = loop.time()
        while True:
            now = loop.time()
            if idle_timeout is not None and now - last_record >= idle_timeout:
                return
            if now - last_refresh >= _REFRESH_SECONDS:
                # topics created (and partitions added) since: the bridge may be starting too
                with contextlib.suppress(KafkaError):  # Kafka away for a moment: next time
                    await partitions.refresh()
                last_refresh = now
            wait = _REFRESH_SECONDS
            if idle_timeout is not None:
                wait = min(wait, max(0.0, idle_timeout - (now - last_record)))
            if not partitions.assigned:
                await asyncio.sleep(wait)
                continue
            batch = await consumer.getmany(timeout_ms=int(wait * 1000))
            for messages in batch.values():
                for message in messages:
                    last_record = loop.time()
                    yield await _tailed(schemas, message)
    finally:
        await consumer.stop()


_REFRESH_SECONDS = 2.0
"""How often ``tail`` looks for the topics (and partitions) it waits for."""


class _Partitions:
    """The partitions of the topics ``tail`` reads, assigned by hand.

    Not a subscription: a consumer subscribed to topic names asks for their metadata by name,
    and a broker with ``auto.create.topics.enable`` (Kafka's default) creates any topic named
    in a metadata request (aiokafka always allows it and has no setting such as the Java
    client's ``allow.auto.create.topics``). So the topics are found in the metadata of every
    topic (a request that names none), and their partitions assigned; the positions already
    reached are kept when a topic that appeared later joins the assignment (aiokafka starts
    every partition of a new assignment afresh)."""

    def __init__(
        self, consumer: AIOKafkaConsumer, topics: Sequence[str], from_beginning: bool
    ) -> None:
        self.consumer = consumer
        self.topics = list(dict.fromkeys(topics))
        self.from_beginning = from_beginning
        self.assigned: set[TopicPartition] = set()
        self._first = True

    async def refresh(self) -> set[str]:
        """Assign the partitions that appeared; the wanted topics that exist."""
        cluster = await self.consumer._client.fetch_all_metadata()
        found = {
            TopicPartition(topic, p)
            for topic in self.topics
            for p in cluster.partitions_for_topic(topic) or ()
        }
        new = found - self.assigned
        if new:
            kept = {tp: await self.consumer.position(tp) for tp in self.assigned}
            self.consumer.assign(sorted(found | self.assigned))
            # assign() made the client track the names, and its metadata requests would name
            # them from now on: back to requests for every topic (leaders come with them).
            self.consumer._client.set_topics([])
            for tp, offset in kept.items():
                self.consumer.seek(tp, offset)
            if self.from_beginning or not self._first:
                # a topic that appeared while we waited holds only records from after our start
                await self.consumer.seek_to_beginning(*new)
            else:
                await self.consumer.seek_to_end(*new)
            self.assigned |= new
        self._first = False
        return {tp.topic for tp in found}


async def _tailed(schemas: WriterSchemas, message: Any) -> TailedRecord:
    key = message.key.decode("utf-8", "replace") if message.key else None
    try:
        label, value = await schemas.decode(message.value or b"")
    except SchemaError as exc:
        return TailedRecord(
            message.topic, message.partition, message.offset, key, None, {"undecodable": str(exc)}
        )
    return TailedRecord(message.topic, message.partition, message.offset, key, label, value)


async def _start(consumer: AIOKafkaConsumer, bootstrap_servers: str) -> None:
    """Start ``consumer``, or close it and raise KafkaUnavailableError: a consumer that failed
    to start still holds a client, which would warn "Unclosed AIOKafkaConsumer" later."""
    try:
        await consumer.start()
    except KafkaError as exc:
        await consumer.stop()
        why = (
            "no broker answered"
            if isinstance(exc, KafkaConnectionError)
            else f"{type(exc).__name__}: {exc}"
        )
        raise KafkaUnavailableError(f"cannot reach Kafka at {bootstrap_servers}: {why}") from exc


# --- the schemas topic --------------------------------------------------------------------------


async def read_schemas_topic(
    bootstrap_servers: str,
    topic: str,
    *,
    timeout: float = 10.0,
    client_options: Mapping[str, Any] | None = None,
) -> dict[bytes, tuple[str, dict[str, Any]]]:
    """Every schema in the schemas topic: fingerprint → (``<id>.v<version>`` label, schema
    definition). Reads up to the end offsets at the time of the call, so it always ends. Asks
    for no topic by name before it is known to exist, so it creates none."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **(client_options or {}),
    )
    await _start(consumer, bootstrap_servers)
    found: dict[bytes, tuple[str, dict[str, Any]]] = {}
    try:
        partitions = consumer.partitions_for_topic(topic)
        if partitions is None:
            await consumer._client.force_metadata_update()  # a topic created a moment ago
            partitions = consumer.partitions_for_topic(topic) or set()
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not assigned:
            return found
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        end = await consumer.end_offsets(assigned)
        remaining = {tp for tp in assigned if end[tp] > 0}
        async with asyncio.timeout(timeout):
            while remaining:
                batch = await consumer.getmany(*remaining, timeout_ms=500)
                for messages in batch.values():
                    for message in messages:
                        _add_schema(found, message.key, message.value, message.headers)
                for tp in list(remaining):
                    if await consumer.position(tp) >= end[tp]:
                        remaining.discard(tp)
    finally:
        await consumer.stop()
    return found


def _add_schema(
    found: dict[bytes, tuple[str, dict[str, Any]]],
    key: bytes | None,
    value: bytes | None,
    headers: Any,
) -> None:
    if not key or not value:
        return  # a tombstone, or not ours
    try:
        fingerprint = fingerprint_bytes(key.decode())
        definition = json.loads(value)
    except ValueError:
        log.warning("schemas topic: skipping a record that is not <fingerprint hex> → JSON")
        return
    meta = {k: v.decode("utf-8", "replace") for k, v in headers or ()}
    label = f"{meta.get('bridge.schema.id', definition.get('name', '?'))}"
    if "bridge.schema.version" in meta:
        label += f".v{meta['bridge.schema.version']}"
    found[fingerprint] = (label, definition)
