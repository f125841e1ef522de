"""The wire formats: single-object encoding and the Confluent framing."""

from __future__ import annotations

import io
from pathlib import Path

import fastavro
import pytest

from bridge.avro.formats import (
    ConfluentEncoder,
    decode_body,
    decode_single_object,
    encode_confluent,
    encode_single_object,
    split_value,
)
from bridge.avro.store import SchemaStore
from bridge.errors import SchemaError

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"
STATUS = SchemaStore(SCHEMAS).latest("okx/status")


@pytest.fixture(scope="module")
def store() -> SchemaStore:
    return SchemaStore(SCHEMAS)


def test_single_object_encoding_layout_and_round_trip(store: SchemaStore) -> None:
    schema = store.latest("bridge/raw")
    value = {
        "exchange": "okx",
        "connection": "c",
        "connection_id": "c#1",
        "receive_time": 1_700_000_000_000_001,
        "sequence": 1,
        "bridge_instance": "i",
        "frame_type": "text",
        "data": b"pong",
    }
    encoded = encode_single_object(schema, value)
    assert encoded[:2] == b"\xc3\x01"
    assert encoded[2:10] == schema.fingerprint
    body = fastavro.schemaless_reader(io.BytesIO(encoded[10:]), schema.parsed, None)
    assert body["data"] == b"pong"
    decoded_schema, decoded = decode_single_object(store, encoded)
    assert decoded_schema is schema
    assert decoded["receive_time"].timestamp() == pytest.approx(1_700_000_000.000001)


def test_decode_rejects_foreign_bytes(store: SchemaStore) -> None:
    with pytest.raises(SchemaError, match="C3 01"):
        decode_single_object(store, b"\x00\x00\x00\x00\x01hello")
    with pytest.raises(SchemaError, match="unknown schema fingerprint"):
        decode_single_object(store, b"\xc3\x01" + b"\x00" * 8 + b"\x00")


# --- the Confluent wire format --------------------------------------------------------------------


def test_confluent_wire_format_round_trip() -> None:
    value = {
        "exchange": "okx",
        "channel": "status",
        "arg": {"channel": "status"},
        "receive_time": 1,
        "event_time": None,
        "connection": "c",
        "connection_id": "c#1",
        "exchange_connection_id": None,
        "sequence": 1,
        "bridge_instance": "i",
        "payload": ("exchange_bridge.SessionMarker", {"kind": "k", "reason": "r", "detail": None}),
    }
    data = encode_confluent(258, STATUS, value)
    assert data[:5] == b"\x00\x00\x00\x01\x02"
    wire, reference, body = split_value(data)
    assert (wire, reference) == ("confluent", 258)
    decoded = decode_body(STATUS.parsed, body, "okx/status")
    assert decoded["payload"] == ("exchange_bridge.SessionMarker", value["payload"][1])

    encoder = ConfluentEncoder()
    with pytest.raises(SchemaError, match="okx.status: no registry id for okx/status.v1"):
        encoder.encode("okx.status", STATUS, value)
    encoder.ids[("okx.status", STATUS.fingerprint)] = 258
    assert encoder.encode("okx.status", STATUS, value) == data


def test_split_value_refuses_other_formats() -> None:
    with pytest.raises(SchemaError, match="neither"):
        split_value(b"{}")
