"""The record envelope: adapter events into records on their topics."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.avro.formats import decode_single_object
from bridge.avro.records import Codec
from bridge.avro.store import SchemaStore
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

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"
CONN = ConnectionInfo("okx", "okx", "okx-public", "okx-public#1", "pod-0")
FRAME = Frame('{"x":1}', 1_700_000_000_123_456, 7)
STATUS = Destination(
    topic="okx.status",
    schema="okx/status",
    key="status",
    channel="status",
    arg={"channel": "status"},
)


@pytest.fixture(scope="module")
def store() -> SchemaStore:
    return SchemaStore(SCHEMAS)


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
