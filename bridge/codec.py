"""Avro encoding: one value schema per topic, versioned files under ``schemas/``, parsed once.

Schema files are named ``schemas/<group>/<name>.v<N>.avsc``; the schema id ``<group>/<name>``
(e.g. ``okx/status``) resolves to its highest version. Values are written in one of two wire
formats, chosen when the :class:`Codec` is built, so a consumer can find the writer schema of
any record from its first bytes:

- Avro single-object encoding (no registry): ``C3 01`` + the 8-byte little-endian CRC-64-AVRO
  fingerprint of the writer schema + the Avro body (:class:`SingleObjectEncoder`);
- the Confluent wire format (with a schema registry): ``00`` + the registry's 4-byte big-endian
  schema id + the Avro body (:class:`ConfluentEncoder`; ids come from :mod:`bridge.registry`).

The codec also turns adapter events into records: it knows the envelope every topic shares
(metadata + payload union), not any exchange.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, Protocol

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from bridge.errors import SchemaError
from bridge.exchanges.events import (
    ChannelConnCount,
    Destination,
    Event,
    ExchangeError,
    LoginResult,
    Maintenance,
    Notice,
    Push,
    Subscribed,
    SubscribeFailed,
)
from bridge.frame import ConnectionInfo, Frame
from bridge.topics import (
    DEADLETTER_SCHEMA,
    DEADLETTER_TOPIC,
    RAW_SCHEMA,
    check_topic,
    events_schema,
    events_topic,
    raw_topic,
)

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
CONFLUENT_MAGIC = b"\x00"
SUBSCRIPTION_EVENT = "exchange_bridge.SubscriptionEvent"
SESSION_MARKER = "exchange_bridge.SessionMarker"
CONNECTION_EVENT = "exchange_bridge.ConnectionEvent"

_FILE_NAME = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_-]*)\.v(?P<version>[1-9][0-9]*)\.avsc$")


def schemas_dir() -> Path:
    """The ``schemas/`` folder: inside the installed package, or at the top of a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "schemas", here.parent / "schemas"):
        if candidate.is_dir():
            return candidate
    raise SchemaError(f"no schemas folder found next to {here}")


@dataclass(frozen=True)
class Schema:
    id: str
    """``<group>/<name>``, e.g. ``okx/status``."""
    version: int
    path: Path
    definition: Mapping[str, Any]

    @cached_property
    def parsed(self) -> Any:
        return fastavro.parse_schema(dict(self.definition))

    @cached_property
    def full_name(self) -> str:
        ns = self.definition.get("namespace")
        name = str(self.definition["name"])
        return name if "." in name or not ns else f"{ns}.{name}"

    @cached_property
    def fingerprint(self) -> bytes:
        """CRC-64-AVRO of the parsing canonical form, little-endian (as single-object encoding
        writes it; fastavro already returns the bytes in that order)."""
        return bytes.fromhex(fingerprint(to_parsing_canonical_form(self.parsed), "CRC-64-AVRO"))

    @cached_property
    def headers(self) -> list[tuple[str, bytes]]:
        return [
            ("bridge.schema.id", self.id.encode()),
            ("bridge.schema.name", self.full_name.encode()),
            ("bridge.schema.version", str(self.version).encode()),
            ("bridge.schema.fingerprint", self.fingerprint.hex().encode()),
        ]


class SchemaStore:
    """Every schema version under one folder, loaded and parsed once."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or schemas_dir()
        self._versions: dict[str, dict[int, Schema]] = {}
        for path in sorted(self.root.glob("*/*.avsc")):
            match = _FILE_NAME.match(path.name)
            if not match:
                raise SchemaError(f"{path}: schema files are named <name>.v<N>.avsc")
            schema_id = f"{path.parent.name}/{match['name']}"
            try:
                definition = json.loads(path.read_text(encoding="utf-8"))
                schema = Schema(schema_id, int(match["version"]), path, definition)
                schema.parsed  # noqa: B018 - parse now so a broken file fails at start
            except (ValueError, fastavro.schema.SchemaParseException) as exc:
                raise SchemaError(f"{path}: {exc}") from exc
            self._versions.setdefault(schema_id, {})[schema.version] = schema
        self._by_fingerprint = {s.fingerprint: s for s in self.all()}

    def latest(self, schema_id: str) -> Schema:
        try:
            versions = self._versions[schema_id]
        except KeyError:
            raise SchemaError(f"no schema {schema_id!r} under {self.root}") from None
        return versions[max(versions)]

    def versions(self, schema_id: str) -> list[Schema]:
        return [self._versions[schema_id][v] for v in sorted(self._versions.get(schema_id, {}))]

    def all(self) -> Iterator[Schema]:
        for versions in self._versions.values():
            yield from versions.values()

    def by_fingerprint(self, fp: bytes) -> Schema | None:
        return self._by_fingerprint.get(fp)


def schema_text(schema: Schema) -> str:
    """The schema as compact JSON, docs and logical types included: the text registered with a
    registry and published to ``bridge.schemas`` (the parsing canonical form would drop the
    logical types consumers need). Always the same text for the same file."""
    return json.dumps(schema.definition, separators=(",", ":"), ensure_ascii=False)


def encode_single_object(schema: Schema, value: Mapping[str, Any]) -> bytes:
    out = io.BytesIO()
    out.write(SINGLE_OBJECT_MAGIC)
    out.write(schema.fingerprint)
    fastavro.schemaless_writer(out, schema.parsed, value)
    return out.getvalue()


def encode_confluent(schema_id: int, schema: Schema, value: Mapping[str, Any]) -> bytes:
    out = io.BytesIO()
    out.write(CONFLUENT_MAGIC)
    out.write(schema_id.to_bytes(4, "big"))
    fastavro.schemaless_writer(out, schema.parsed, value)
    return out.getvalue()


WireFormat = Literal["single-object", "confluent"]


def split_value(data: bytes) -> tuple[WireFormat, bytes | int, bytes]:
    """Which wire format a value is in, the writer schema's reference (an 8-byte fingerprint,
    or a registry id) and the Avro body."""
    if data[:2] == SINGLE_OBJECT_MAGIC and len(data) >= 10:
        return "single-object", data[2:10], data[10:]
    if data[:1] == CONFLUENT_MAGIC and len(data) >= 5:
        return "confluent", int.from_bytes(data[1:5], "big"), data[5:]
    raise SchemaError(
        "neither Avro single-object encoding (C3 01) nor the Confluent wire format (00)"
    )


def decode_body(parsed_schema: Any, body: bytes, what: str) -> dict[str, Any]:
    """An Avro body read with its writer schema. Union branches come back as
    ``(full name, value)`` tuples."""
    try:
        value = fastavro.schemaless_reader(
            io.BytesIO(body), parsed_schema, None, return_record_name=True
        )
    except (ValueError, TypeError, KeyError, IndexError, EOFError) as exc:
        raise SchemaError(f"{what}: the value does not decode: {exc}") from exc
    if not isinstance(value, dict):  # every bridge schema is a record
        raise SchemaError(f"{what}: decoded to {type(value).__name__}, not a record")
    return value


def decode_single_object(store: SchemaStore, data: bytes) -> tuple[Schema, dict[str, Any]]:
    """Decode a single-object encoded value with the writer schema named by its fingerprint.
    Union branches come back as ``(full name, value)`` tuples."""
    if data[:2] != SINGLE_OBJECT_MAGIC or len(data) < 10:
        raise SchemaError("not Avro single-object encoding (missing C3 01 marker)")
    schema = store.by_fingerprint(data[2:10])
    if schema is None:
        raise SchemaError(f"unknown schema fingerprint {data[2:10].hex()}")
    return schema, decode_body(schema.parsed, data[10:], schema.id)


class ValueEncoder(Protocol):
    """Writes one value of ``topic`` (before the prefix) with ``schema`` in a wire format."""

    def encode(self, topic: str, schema: Schema, value: Mapping[str, Any]) -> bytes: ...


class SingleObjectEncoder:
    """Avro single-object encoding: no registry needed, the fingerprint names the schema."""

    def encode(self, topic: str, schema: Schema, value: Mapping[str, Any]) -> bytes:
        return encode_single_object(schema, value)


class ConfluentEncoder:
    """The Confluent wire format. ``ids`` maps (topic before the prefix, schema fingerprint) to
    the registry's schema id; it is filled once at start (:func:`bridge.schema_tools.register_all`)
    and never asks the registry again, so a registry outage does not stop production."""

    def __init__(self) -> None:
        self.ids: dict[tuple[str, bytes], int] = {}

    def encode(self, topic: str, schema: Schema, value: Mapping[str, Any]) -> bytes:
        schema_id = self.ids.get((topic, schema.fingerprint))
        if schema_id is None:
            raise SchemaError(
                f"{topic}: no registry id for {schema.id}.v{schema.version} "
                "(only the topics known at start are registered)"
            )
        return encode_confluent(schema_id, schema, value)


@dataclass(frozen=True, slots=True)
class OutRecord:
    """One Kafka record, ready to send (the topic prefix not yet applied)."""

    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


class Codec:
    """Turns frames and adapter events into encoded records, in the wire format of ``encoder``
    (default: single-object encoding)."""

    def __init__(
        self,
        store: SchemaStore | None = None,
        deadletter_topic: str = DEADLETTER_TOPIC,
        *,
        encoder: ValueEncoder | None = None,
    ) -> None:
        self.store = store or SchemaStore()
        self.deadletter_topic = deadletter_topic
        self.encoder: ValueEncoder = encoder or SingleObjectEncoder()
        self._raw = self.store.latest(RAW_SCHEMA)
        self._deadletter = self.store.latest(DEADLETTER_SCHEMA)

    # -- envelopes -----------------------------------------------------------------------------

    def channel_record(
        self,
        conn: ConnectionInfo,
        frame: Frame,
        destination: Destination,
        payload_type: str,
        payload: Mapping[str, Any],
        *,
        event_time_ms: int | None = None,
        exchange_conn_id: str | None = None,
    ) -> OutRecord:
        check_topic(destination.topic)
        schema = self.store.latest(destination.schema)
        value = {
            "exchange": conn.exchange,
            "channel": destination.channel,
            "arg": dict(destination.arg),
            "receive_time": frame.received_us,
            "event_time": event_time_ms,
            "connection": conn.connection,
            "connection_id": conn.connection_id,
            "exchange_connection_id": exchange_conn_id,
            "sequence": frame.sequence,
            "bridge_instance": conn.bridge_instance,
            "payload": (payload_type, payload),
        }
        return OutRecord(
            destination.topic,
            destination.key.encode(),
            self.encoder.encode(destination.topic, schema, value),
            self._headers(schema, conn),
        )

    def records_for(self, conn: ConnectionInfo, frame: Frame, event: Event) -> list[OutRecord]:
        """The records one event produces; empty for events that are only counted."""
        match event:
            case Push():
                return [
                    self.channel_record(
                        conn,
                        frame,
                        event.destination,
                        event.payload_type,
                        event.payload,
                        event_time_ms=event.event_time_ms,
                        exchange_conn_id=event.exchange_conn_id,
                    )
                ]
            case Subscribed():
                payload = {
                    "event": event.op,
                    "request_id": event.request_id,
                    "code": None,
                    "message": None,
                }
                return [
                    self._subscription(
                        conn, frame, event.destination, payload, event.exchange_conn_id
                    )
                ]
            case SubscribeFailed():
                payload = {
                    "event": "error",
                    "request_id": event.request_id,
                    "code": event.code,
                    "message": event.message,
                }
                return [
                    self._subscription(
                        conn, frame, event.destination, payload, event.exchange_conn_id
                    )
                ]
            case LoginResult():
                return [
                    self.connection_event(
                        conn,
                        frame,
                        "login" if event.ok else "error",
                        event.code,
                        event.message,
                        None,
                        {"ok": str(event.ok).lower()},
                        event.exchange_conn_id,
                    )
                ]
            case ExchangeError():
                return [
                    self.connection_event(
                        conn,
                        frame,
                        "error",
                        event.code,
                        event.message,
                        event.request_id,
                        {},
                        event.exchange_conn_id,
                    )
                ]
            case Notice():
                return [
                    self.connection_event(
                        conn,
                        frame,
                        "notice",
                        event.code,
                        event.message,
                        None,
                        {},
                        event.exchange_conn_id,
                    )
                ]
            case ChannelConnCount():
                name = "channel-conn-count-error" if event.error else "channel-conn-count"
                attributes = {
                    **event.attributes,
                    "channel": event.channel,
                    "connCount": event.conn_count,
                }
                return [
                    self.connection_event(
                        conn, frame, name, None, None, None, attributes, event.exchange_conn_id
                    )
                ]
            case Maintenance():
                attributes = {**event.attributes, "status": event.status}
                return [
                    self.connection_event(
                        conn,
                        frame,
                        "systemStatus",
                        None,
                        None,
                        None,
                        attributes,
                        event.exchange_conn_id,
                    )
                ]
        return []

    def _subscription(
        self,
        conn: ConnectionInfo,
        frame: Frame,
        destination: Destination,
        payload: Mapping[str, Any],
        exchange_conn_id: str | None,
    ) -> OutRecord:
        return self.channel_record(
            conn, frame, destination, SUBSCRIPTION_EVENT, payload, exchange_conn_id=exchange_conn_id
        )

    def events_destination(self, group: str) -> Destination:
        return Destination(
            topic=events_topic(group),
            schema=events_schema(group),
            key="events",
            channel="",
            arg={},
        )

    def connection_event(
        self,
        conn: ConnectionInfo,
        frame: Frame,
        name: str,
        code: str | None,
        message: str | None,
        request_id: str | None,
        attributes: Mapping[str, str],
        exchange_conn_id: str | None,
    ) -> OutRecord:
        destination = self.events_destination(conn.topic_group)
        payload = {
            "event": name,
            "code": code,
            "message": message,
            "request_id": request_id,
            "attributes": dict(attributes),
        }
        return self.channel_record(
            conn, frame, destination, CONNECTION_EVENT, payload, exchange_conn_id=exchange_conn_id
        )

    def session_marker(
        self,
        conn: ConnectionInfo,
        frame: Frame,
        destination: Destination,
        kind: str,
        reason: str,
        detail: str | None = None,
    ) -> OutRecord:
        payload = {"kind": kind, "reason": reason, "detail": detail}
        return self.channel_record(conn, frame, destination, SESSION_MARKER, payload)

    # -- raw and dead letters --------------------------------------------------------------------

    def raw_record(self, conn: ConnectionInfo, frame: Frame) -> OutRecord:
        value = self._frame_fields(conn, frame)
        topic = raw_topic(conn.topic_group)
        return OutRecord(
            topic,
            conn.connection.encode(),
            self.encoder.encode(topic, self._raw, value),
            self._headers(self._raw, conn),
        )

    def deadletter_record(
        self, conn: ConnectionInfo, frame: Frame, stage: str, error: str
    ) -> OutRecord:
        # The error may quote the frame, lone surrogates from JSON escapes included: keep them
        # readable instead of failing to encode the very record that reports the failure.
        error = error.encode("utf-8", "backslashreplace").decode("utf-8")
        value = {**self._frame_fields(conn, frame), "stage": stage, "error": error}
        return OutRecord(
            self.deadletter_topic,
            conn.connection.encode(),
            self.encoder.encode(self.deadletter_topic, self._deadletter, value),
            self._headers(self._deadletter, conn),
        )

    # -- the schemas topic (registry-less mode) ----------------------------------------------------

    @staticmethod
    def schema_record(topic: str, schema: Schema) -> OutRecord:
        """One record of the compacted schemas topic: key the fingerprint as 16 hex digits
        (as the ``bridge.schema.fingerprint`` header writes it), value the schema's JSON text."""
        return OutRecord(
            topic, schema.fingerprint.hex().encode(), schema_text(schema).encode(), schema.headers
        )

    @staticmethod
    def _frame_fields(conn: ConnectionInfo, frame: Frame) -> dict[str, Any]:
        is_text = isinstance(frame.data, str)
        return {
            "exchange": conn.exchange,
            "connection": conn.connection,
            "connection_id": conn.connection_id,
            "receive_time": frame.received_us,
            "sequence": frame.sequence,
            "bridge_instance": conn.bridge_instance,
            "frame_type": "text" if is_text else "binary",
            "data": frame.data.encode() if isinstance(frame.data, str) else frame.data,
        }

    @staticmethod
    def _headers(schema: Schema, conn: ConnectionInfo) -> list[tuple[str, bytes]]:
        return [*schema.headers, ("bridge.exchange", conn.exchange.encode())]
