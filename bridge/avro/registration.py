"""At start: make every schema the bridge writes findable by consumers.

Two places, one per wire format (:mod:`bridge.avro.formats`):

- **a schema registry** for the Confluent wire format: :func:`register_all` registers (or looks
  up) each topic's value schema and returns the ids the encoder writes, refusing a schema that
  cannot read its subject's latest version;
- **the compacted schemas topic** (``bridge.schemas``) for single-object encoding: one record
  per schema the bridge writes, keyed by its CRC-64-AVRO fingerprint (:func:`schema_record`;
  the topic is made by :func:`bridge.admin.ensure_compacted_topic`), so a consumer resolves any
  record from Kafka alone (:func:`bridge.avro.decode.read_schemas_topic`).

:func:`written_topics` says which topics, and which schema versions, a configuration writes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterable, Mapping

from bridge.avro.compat import read_problems
from bridge.avro.records import Codec, OutRecord
from bridge.avro.registry import RegistryClient, SubjectNameStrategy, subject_name
from bridge.avro.store import Schema, schema_text, version_key
from bridge.errors import IncompatibleSchemaError, RegistryError, SchemaError
from bridge.exchanges import adapter_class
from bridge.normalize.normalizer import normalized_destinations
from bridge.settings import ConnectionSettings
from bridge.topics import DEADLETTER_SCHEMA, RAW_SCHEMA, raw_topic, with_prefix

log = logging.getLogger(__name__)


def written_topics(
    connections: Iterable[ConnectionSettings],
    codec: Codec,
    *,
    raw_topics: bool = True,
    normalized: Collection[str] = (),
) -> dict[str, Schema]:
    """Topic (before the prefix) → the schema version the bridge writes there, for every topic
    the given connections can write: their channels, ``<exchange>.events``, ``<exchange>.raw``,
    the dead-letter topic, and the normalized topics their channels feed for the connections
    named in ``normalized``."""
    store = codec.store
    topics: dict[str, Schema] = {codec.deadletter_topic: store.latest(DEADLETTER_SCHEMA)}
    for conn in connections:
        cls = adapter_class(conn.exchange)
        destinations = cls.destinations(conn.subscriptions)
        if conn.name in normalized:
            destinations += normalized_destinations(conn.exchange, destinations)
        for destination in destinations:
            topics[destination.topic] = store.latest(destination.schema)
        events = codec.events_destination(cls.topic_group)
        topics[events.topic] = store.latest(events.schema)
        if raw_topics:
            topics[raw_topic(cls.topic_group)] = store.latest(RAW_SCHEMA)
    return dict(sorted(topics.items()))


# --- with a registry ------------------------------------------------------------------------------


async def register_all(
    client: RegistryClient,
    topics: Mapping[str, Schema],
    *,
    topic_prefix: str,
    strategy: SubjectNameStrategy,
    check_compatibility: bool = True,
    auto_register: bool = True,
) -> dict[tuple[str, bytes], int]:
    """Register (or look up) the value schema of every topic; returns the ids for
    :class:`~bridge.avro.formats.ConfluentEncoder`. A schema that cannot read its subject's
    latest version, or that the registry's compatibility rule refuses, raises
    :class:`~bridge.errors.IncompatibleSchemaError` naming the subject and why."""
    ids: dict[tuple[str, bytes], int] = {}
    for topic, schema in topics.items():
        subject = subject_name(strategy, with_prefix(topic_prefix, topic), schema.full_name)
        text = schema_text(schema)
        found = await client.lookup(subject, text)
        if found is not None:
            ids[(topic, schema.fingerprint)] = found.id
            continue
        if check_compatibility:
            await _refuse_incompatible(client, subject, schema, text)
        if not auto_register:
            raise RegistryError(
                f"subject {subject!r} does not have {version_key(schema)} and "
                "schema_registry.auto_register is false: register it first "
                "(`bridge schemas register`)"
            )
        ids[(topic, schema.fingerprint)] = await client.register(subject, text)
    return ids


async def _refuse_incompatible(
    client: RegistryClient, subject: str, schema: Schema, text: str
) -> None:
    """Raise IncompatibleSchemaError unless ``schema`` reads the subject's latest version: by
    the reader check of ``bridge schemas check`` (:func:`~bridge.avro.compat.read_problems`)
    and by the registry's own verdict."""
    latest = await client.latest(subject)
    if latest is None:
        return
    try:
        problems = read_problems(schema.definition, json.loads(latest.schema))
    except (ValueError, SchemaError) as exc:
        problems = [f"the registered schema cannot be compared: {exc}"]
    verdict = await client.check_compatibility(subject, text)
    if verdict.compatible and not problems:
        return
    reasons = problems + [f"registry: {m}" for m in verdict.messages]
    if not reasons:
        reasons = ["the registry's compatibility rule refuses it"]
    raise IncompatibleSchemaError(
        f"subject {subject!r}: {version_key(schema)} cannot read data written with the "
        f"subject's latest version {latest.version} (id {latest.id}):\n  "
        + "\n  ".join(reasons)
        + "\nFix the schema (docs/SCHEMAS.md), or set schema_registry.check_compatibility: "
        "false to register it anyway (consumers of the subject may break)."
    )


# --- without one: the schemas topic -------------------------------------------------------------


def schema_record(topic: str, schema: Schema) -> OutRecord:
    """One record of the compacted schemas topic: key the fingerprint as text (16 hex digits,
    the number as Avro's tools print it, as the ``bridge.schema.fingerprint`` header writes it),
    value the schema's JSON text."""
    return OutRecord(
        topic, schema.fingerprint_text.encode(), schema_text(schema).encode(), schema.headers
    )
