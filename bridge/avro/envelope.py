"""The envelope's bytes, written with its constant parts encoded once.

An Avro record is its fields' encodings one after the other, so a record's bytes can be put
together from pieces. Most of a channel record's envelope does not change from one record to
the next: the exchange, channel and subscription arg are the same for every record of one
destination, the connection fields for every record of one connection, and the union branch of
the payload for every record of one payload type. Those pieces are encoded once, by fastavro
itself, and kept; per record only the receive and event times, the exchange's connection id,
the sequence number and the payload are encoded (the payload by fastavro, with its branch's
schema). The raw record needs no fastavro call at all.

The bytes are those ``fastavro.schemaless_writer`` writes for the whole value (unit tests
compare both on every kind of record). Any value the pieces do not cover exactly (a number
outside an Avro long, a type fastavro would have to judge) makes :class:`EnvelopeWriter` return
None, and the caller encodes the whole value as before, so errors are fastavro's own.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import fastavro

from bridge.avro.store import Schema

_MIN_LONG, _MAX_LONG = -(2**63), 2**63 - 1
_NULL_BRANCH = b"\x00"
_SECOND_BRANCH = b"\x02"
_MAX_ENTRIES = 4096
"""Entries each cache keeps at most (destinations x connections); cleared when full."""

_Memo = tuple[int | None, bytes]
_NOTHING: _Memo = (None, b"")
"""A memo of no value: no int equals None."""

Prefix = Callable[[str, Schema], bytes]
"""The wire format's bytes before the Avro body, for a topic and its writer schema."""


def _zigzag(n: int) -> bytes:
    """An Avro long (zig-zag, then base-128 varint, low group first)."""
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _record_schema(name: str, fields: list[tuple[str, Any]]) -> Any:
    return fastavro.parse_schema(
        {"type": "record", "name": name, "fields": [{"name": n, "type": t} for n, t in fields]}
    )


_HEAD = _record_schema(
    "Head",
    [("exchange", "string"), ("channel", "string"), ("arg", {"type": "map", "values": "string"})],
)
_CONNECTION = _record_schema("Connection", [("connection", "string"), ("connection_id", "string")])
_INSTANCE = _record_schema("Instance", [("bridge_instance", "string")])
_RAW_TAIL = _record_schema("RawTail", [("bridge_instance", "string"), ("frame_type", "string")])
_RAW_HEAD = _record_schema(
    "RawHead", [("exchange", "string"), ("connection", "string"), ("connection_id", "string")]
)

_MICROS = {"type": "long", "logicalType": "timestamp-micros"}
_MILLIS = {"type": "long", "logicalType": "timestamp-millis"}
CHANNEL_FIELDS: list[tuple[str, Any]] = [
    ("exchange", "string"),
    ("channel", "string"),
    ("arg", {"type": "map", "values": "string"}),
    ("receive_time", _MICROS),
    ("event_time", ["null", _MILLIS]),
    ("connection", "string"),
    ("connection_id", "string"),
    ("exchange_connection_id", ["null", "string"]),
    ("sequence", "long"),
    ("bridge_instance", "string"),
]
"""The envelope of every channel schema before its ``payload`` union, in order: what the
pieces stand for. A schema whose fields differ is encoded whole."""

RAW_FIELDS: list[tuple[str, Any]] = [
    ("exchange", "string"),
    ("connection", "string"),
    ("connection_id", "string"),
    ("receive_time", _MICROS),
    ("sequence", "long"),
    ("bridge_instance", "string"),
    ("frame_type", "string"),
    ("data", "bytes"),
]


def _write(schema: Any, value: Mapping[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema, value)
    return out.getvalue()


def _fields(schema: Schema) -> list[tuple[str, Any]]:
    return [(field["name"], field["type"]) for field in schema.definition["fields"]]


def _is_channel_schema(schema: Schema) -> bool:
    fields = _fields(schema)
    return fields[:-1] == CHANNEL_FIELDS and fields[-1][0] == "payload"


class EnvelopeWriter:
    """Channel and raw records' bytes from cached pieces (module docstring). Every method
    returns None when the value is not one the pieces write exactly."""

    def __init__(self, prefix: Prefix) -> None:
        self._prefix = prefix
        self._heads: dict[Hashable, bytes] = {}
        self._connections: dict[Hashable, tuple[bytes, bytes]] = {}
        self._branches: dict[tuple[bytes, str], tuple[bytes, Any] | None] = {}
        self._raw_heads: dict[Hashable, tuple[bytes, bytes, bytes]] = {}
        # The frame's receive time and sequence, encoded once for all its records.
        self._time: _Memo = _NOTHING
        self._sequence: _Memo = _NOTHING

    @staticmethod
    def _long(value: Any, memo: _Memo = _NOTHING) -> bytes | None:
        """``value`` as an Avro long (``memo``'s bytes when it is its value); None when it is
        not an int in the range of one."""
        if type(value) is not int or not _MIN_LONG <= value <= _MAX_LONG:
            return None
        if value == memo[0]:
            return memo[1]
        return _zigzag(value)

    def channel(
        self,
        topic: str,
        schema: Schema,
        exchange: str,
        channel: str,
        arg: Mapping[str, str],
        conn: Hashable,
        connection: str,
        connection_id: str,
        bridge_instance: str,
        received_us: int,
        event_time_ms: int | None,
        exchange_conn_id: str | None,
        sequence: int,
        payload_type: str,
        payload: Mapping[str, Any],
    ) -> bytes | None:
        key = (topic, schema.fingerprint, exchange, channel, tuple(arg.items()))
        head = self._heads.get(key)
        if head is None:
            if not _is_channel_schema(schema):
                return None
            if len(self._heads) >= _MAX_ENTRIES:
                self._heads.clear()
            head = self._heads[key] = self._prefix(topic, schema) + _write(
                _HEAD, {"exchange": exchange, "channel": channel, "arg": dict(arg)}
            )
        parts = self._connections.get(conn)
        if parts is None:
            if len(self._connections) >= _MAX_ENTRIES:
                self._connections.clear()
            parts = self._connections[conn] = (
                _write(_CONNECTION, {"connection": connection, "connection_id": connection_id}),
                _write(_INSTANCE, {"bridge_instance": bridge_instance}),
            )
        branch = self._branch(schema, payload_type)
        time = self._long(received_us, self._time)
        seq = self._long(sequence, self._sequence)
        if branch is None or time is None or seq is None:
            return None
        self._time, self._sequence = (received_us, time), (sequence, seq)
        if event_time_ms is None:
            event = _NULL_BRANCH
        elif (event_long := self._long(event_time_ms)) is not None:
            event = _SECOND_BRANCH + event_long
        else:
            return None
        if exchange_conn_id is None:
            conn_id = _NULL_BRANCH
        elif type(exchange_conn_id) is str:
            data = exchange_conn_id.encode()
            conn_id = _SECOND_BRANCH + _zigzag(len(data)) + data
        else:
            return None
        index, writer_schema = branch
        out = io.BytesIO()
        out.write(b"".join((head, time, event, parts[0], conn_id, seq, parts[1], index)))
        fastavro.schemaless_writer(out, writer_schema, payload)
        return out.getvalue()

    def _branch(self, schema: Schema, payload_type: str) -> tuple[bytes, Any] | None:
        """The union index of the payload's branch, encoded, and the branch's parsed schema;
        None when the union has no branch of that name."""
        key = (schema.fingerprint, payload_type)
        if key in self._branches:
            return self._branches[key]
        named: dict[str, Any] = {}
        fastavro.parse_schema(dict(schema.definition), named_schemas=named)
        union = schema.parsed["fields"][-1]["type"]
        found = None
        names = (
            [b if isinstance(b, str) else b.get("name") for b in union]
            if isinstance(union, list)
            else []
        )
        if names.count(payload_type) == 1 and payload_type in named:
            branch = fastavro.parse_schema(named[payload_type], named_schemas=dict(named))
            found = (_zigzag(names.index(payload_type)), branch)
        self._branches[key] = found
        return found

    def raw(
        self,
        topic: str,
        schema: Schema,
        conn: Hashable,
        exchange: str,
        connection: str,
        connection_id: str,
        bridge_instance: str,
        received_us: int,
        sequence: int,
        data: str | bytes,
    ) -> bytes | None:
        parts = self._raw_heads.get(conn)
        if parts is None:
            if _fields(schema) != RAW_FIELDS:
                return None
            if len(self._raw_heads) >= _MAX_ENTRIES:
                self._raw_heads.clear()
            instance = {"bridge_instance": bridge_instance}
            parts = self._raw_heads[conn] = (
                self._prefix(topic, schema)
                + _write(
                    _RAW_HEAD,
                    {
                        "exchange": exchange,
                        "connection": connection,
                        "connection_id": connection_id,
                    },
                ),
                _write(_RAW_TAIL, {**instance, "frame_type": "text"}),
                _write(_RAW_TAIL, {**instance, "frame_type": "binary"}),
            )
        time = self._long(received_us, self._time)
        seq = self._long(sequence, self._sequence)
        if time is None or seq is None:
            return None
        self._time, self._sequence = (received_us, time), (sequence, seq)
        if isinstance(data, str):
            body, tail = data.encode(), parts[1]
        else:
            body, tail = data, parts[2]
        return b"".join((parts[0], time, seq, tail, _zigzag(len(body)), body))
