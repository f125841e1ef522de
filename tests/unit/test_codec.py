"""The codec: schema files, single-object encoding, and the record envelope."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import fastavro
import pytest

from bridge.codec import Codec, SchemaStore, decode_single_object, encode_single_object
from bridge.errors import SchemaError
from bridge.exchanges.events import (
    Destination,
    ExchangeError,
    LoginResult,
    Notice,
    Pong,
    Push,
    Subscribed,
    SubscribeFailed,
)
from bridge.frame import ConnectionInfo, Frame

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
CONN = ConnectionInfo("okx", "okx", "okx-public", "okx-public#1", "pod-0")
FRAME = Frame('{"x":1}', 1_700_000_000_123_456, 7)
STATUS = Destination(
    topic="okx.status",
    schema="okx/status",
    key="status",
    channel="status",
    arg={"channel": "status"},
)


def crc64_avro(data: bytes) -> int:
    """The Avro specification's reference CRC-64-AVRO, written out independently of fastavro."""
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


@pytest.fixture(scope="module")
def store() -> SchemaStore:
    return SchemaStore(SCHEMAS)


def test_every_schema_file_loads_with_its_version(store: SchemaStore) -> None:
    ids = {s.id for s in store.all()}
    assert {
        "okx/status",
        "okx/economic-calendar",
        "okx/channel",
        "okx/events",
        "bridge/raw",
        "bridge/deadletter",
    } <= ids
    assert store.latest("okx/status").version == 1


def test_fingerprint_is_crc64_avro_of_canonical_form_little_endian(store: SchemaStore) -> None:
    schema = store.latest("okx/status")
    canonical = fastavro.schema.to_parsing_canonical_form(schema.parsed).encode()
    assert schema.fingerprint == struct.pack("<Q", crc64_avro(canonical))


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


def test_schema_store_rejects_badly_named_or_broken_files(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "thing.avsc").write_text('{"type": "string"}')
    with pytest.raises(SchemaError, match="v<N>"):
        SchemaStore(tmp_path)
    (tmp_path / "x" / "thing.avsc").unlink()
    (tmp_path / "x" / "thing.v1.avsc").write_text(
        '{"type": "record", "name": "R", "fields": [{"name": "a"}]}'
    )
    with pytest.raises(SchemaError, match="thing.v1.avsc"):
        SchemaStore(tmp_path)


def test_push_record_carries_metadata_and_typed_payload(store: SchemaStore) -> None:
    codec = Codec(store)
    payload = {
        "title": "t",
        "state": "ongoing",
        "begin": 1672823400000,
        "end": None,
        "preOpenBegin": None,
        "href": "",
        "serviceType": "0",
        "system": "unified",
        "scheDesc": "",
        "maintType": "1",
        "env": "1",
        "ts": 1672826038470,
        "extra": {},
    }
    push = Push(
        destination=STATUS,
        payload_type="exchange_bridge.okx.Status",
        payload=payload,
        event_time_ms=1672826038470,
        exchange_conn_id="a4d3ae55",
    )
    [record] = codec.records_for(CONN, FRAME, push)
    assert (record.topic, record.key) == ("okx.status", b"status")
    headers = dict(record.headers)
    assert headers["bridge.schema.id"] == b"okx/status"
    assert headers["bridge.schema.version"] == b"1"
    assert headers["bridge.exchange"] == b"okx"
    _, value = decode_single_object(store, record.value)
    assert value["sequence"] == 7
    assert value["connection_id"] == "okx-public#1"
    assert value["exchange_connection_id"] == "a4d3ae55"
    assert value["arg"] == {"channel": "status"}
    assert int(value["event_time"].timestamp() * 1000) == 1672826038470
    name, status = value["payload"]
    assert name == "exchange_bridge.okx.Status"
    assert int(status["begin"].timestamp() * 1000) == 1672823400000
    assert status["end"] is None and status["href"] == ""


@pytest.mark.parametrize(
    ("event", "topic", "branch", "fields"),
    [
        (
            Subscribed(destination=STATUS, op="subscribe", request_id="1512"),
            "okx.status",
            "exchange_bridge.SubscriptionEvent",
            {"event": "subscribe", "request_id": "1512"},
        ),
        (
            SubscribeFailed(
                destination=STATUS, op="subscribe", code="60018", message="bad", request_id="2"
            ),
            "okx.status",
            "exchange_bridge.SubscriptionEvent",
            {"event": "error", "code": "60018"},
        ),
        (
            LoginResult(ok=False, code="60009", message="Login failed."),
            "okx.events",
            "exchange_bridge.ConnectionEvent",
            {"event": "error", "code": "60009"},
        ),
        (
            ExchangeError(code="60012", message="Invalid request", request_id=None),
            "okx.events",
            "exchange_bridge.ConnectionEvent",
            {"event": "error", "message": "Invalid request"},
        ),
        (
            Notice(code="64008", message="soon", reconnect_advised=True),
            "okx.events",
            "exchange_bridge.ConnectionEvent",
            {"event": "notice", "code": "64008"},
        ),
    ],
)
def test_acks_errors_and_notices_land_on_their_topic(store, event, topic, branch, fields) -> None:
    [record] = Codec(store).records_for(CONN, FRAME, event)
    assert record.topic == topic
    _, value = decode_single_object(store, record.value)
    name, payload = value["payload"]
    assert name == branch
    assert fields.items() <= payload.items()


def test_counted_events_make_no_record(store: SchemaStore) -> None:
    assert Codec(store).records_for(CONN, FRAME, Pong()) == []


def test_payload_that_does_not_fit_raises_so_it_can_be_dead_lettered(store: SchemaStore) -> None:
    push = Push(
        destination=STATUS,
        payload_type="exchange_bridge.okx.Status",
        payload={"title": 5},
        event_time_ms=None,
    )
    with pytest.raises((ValueError, TypeError, KeyError)):
        Codec(store).records_for(CONN, FRAME, push)


def test_raw_and_deadletter_keep_the_frame_bytes(store: SchemaStore) -> None:
    codec = Codec(store)
    binary = Frame(b"\x01\x02\xff", 1, 3)
    raw = codec.raw_record(CONN, binary)
    assert raw.topic == "okx.raw"
    _, value = decode_single_object(store, raw.value)
    assert (value["frame_type"], value["data"]) == ("binary", b"\x01\x02\xff")
    dead = codec.deadletter_record(CONN, FRAME, "classify", "not JSON")
    assert dead.topic == "bridge.deadletter"
    _, value = decode_single_object(store, dead.value)
    assert (value["data"], value["stage"], value["error"]) == (b'{"x":1}', "classify", "not JSON")


def test_schema_files_are_self_contained_json() -> None:
    for path in SCHEMAS.glob("*/*.avsc"):
        fastavro.parse_schema(json.loads(path.read_text()))
