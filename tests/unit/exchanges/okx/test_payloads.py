"""OKX pushes: typed payloads, the generic record's exact element text, and every push of every
fixture against its schema. (Every typed channel's documentation example: test_channels.py.)
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bridge.exchanges.events import (
    Event,
    Push,
    ResyncRequired,
    Unrecognized,
)
from bridge.exchanges.okx import OkxAdapter
from bridge.exchanges.okx.channels import typed_channel
from tests.unit.exchanges.okx.helpers import (
    BOOKS,
    BOOKS_DEST,
    CALENDAR,
    CALENDAR_DEST,
    STATUS,
    STATUS_DEST,
    TICKERS,
    TICKERS_DEST,
    all_fixture_names,
    assert_valid,
    connected,
    dest,
    fixture,
    fixture_json,
    logged_in,
    only,
    pushes,
)

# --- inbound: pushes -----------------------------------------------------------------------------


def test_status_push() -> None:
    (push,) = pushes(connected(STATUS).receive(fixture("status-push.json")))
    assert push.destination == STATUS_DEST
    assert push.payload_type == "exchange_bridge.okx.Status"
    assert push.payload == {
        "title": "Trading account WebSocket system upgrade",
        "state": "completed",
        "begin": 1672823400000,
        "end": 1672825980000,
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
    assert push.payload["begin"] == 1672823400000
    assert push.payload["href"] == ""
    assert push.payload["preOpenBegin"] is None
    assert push.event_time_ms == 1672826038470
    assert push.exchange_conn_id is None
    assert push.identity is not None


def test_economic_calendar_push() -> None:
    (push,) = pushes(logged_in(CALENDAR).receive(fixture("economic-calendar-push.json")))
    assert push.destination == CALENDAR_DEST
    assert push.payload_type == "exchange_bridge.okx.EconomicCalendar"
    assert push.payload == {
        "calendarId": "319275",
        "date": 1597026383085,
        "region": "United States",
        "category": "Manufacturing PMI",
        "event": "S&P Global Manufacturing PMI Final",
        "refDate": 1597026383085,
        "actual": "49.2",
        "previous": "47.3",
        "forecast": "49.3",
        "importance": "2",
        "prevInitial": "",
        "ccy": "",
        "unit": "",
        "ts": 1698648096590,
        "dateSpan": None,
        "extra": {},
    }
    assert push.payload["importance"] == "2"
    assert push.event_time_ms == 1698648096590


def test_typed_push_missing_fields_are_none_and_unknown_fields_go_to_extra() -> None:
    element = {
        "state": "ongoing",
        "begin": 1672823400000,  # a number is accepted as well as digits
        "end": None,
        "serviceType": 5,  # not text: kept as its JSON text
        "newField": "new",
        "nested": {"a": [1, "ü"]},
        "count": 3,
        "flag": False,
        "nothing": None,
    }
    frame = {"arg": STATUS, "data": [element]}
    (push,) = pushes(connected(STATUS).receive(json.dumps(frame)))
    assert push.payload == {
        "title": None,
        "state": "ongoing",
        "begin": 1672823400000,
        "end": None,
        "preOpenBegin": None,
        "href": None,
        "serviceType": "5",
        "system": None,
        "scheDesc": None,
        "maintType": None,
        "env": None,
        "ts": None,
        "extra": {
            "newField": "new",
            "nested": '{"a":[1,"ü"]}',
            "count": "3",
            "flag": "false",
            "nothing": "null",
        },
    }
    assert push.event_time_ms is None


@pytest.mark.parametrize(
    ("channel", "field", "value"),
    [
        ("status", "begin", "abc"),
        ("status", "end", "1672825980000.5"),
        ("status", "ts", "-1"),
        ("status", "preOpenBegin", " 1"),
        ("status", "begin", True),
        ("status", "begin", 1.5),
        ("status", "ts", "99999999999999999999"),
        ("economic-calendar", "date", "2023-01-01"),
        ("economic-calendar", "refDate", "１２３"),  # full-width digits are not ASCII digits
        ("economic-calendar", "ts", ["1"]),
    ],
)
def test_bad_timestamp_makes_that_element_unrecognized(
    channel: str, field: str, value: Any
) -> None:
    good = {"title": "fine", "ts": "1672826038470"}
    bad = {"title": "bad", field: value}
    frame = {"arg": {"channel": channel}, "data": [good, bad, good], "connId": "c"}
    events = connected().receive(json.dumps(frame, ensure_ascii=False))
    assert [type(e) for e in events] == [Push, Unrecognized, Push]
    assert_valid(events[0])  # type: ignore[arg-type]
    unrecognized = events[1]
    assert isinstance(unrecognized, Unrecognized)
    assert field in unrecognized.reason and "data[1]" in unrecognized.reason
    assert unrecognized.exchange_conn_id == "c"


def test_status_begin_abc_reason_names_field_and_value() -> None:
    frame = '{"arg":{"channel":"status"},"data":[{"begin":"abc"}]}'
    event = only(connected(STATUS).receive(frame))
    assert isinstance(event, Unrecognized)
    assert "begin" in event.reason and "abc" in event.reason


def test_typed_push_element_that_is_not_an_object() -> None:
    events = connected().receive('{"arg":{"channel":"status"},"data":[["x"]]}')
    assert isinstance(only(events), Unrecognized)
    assert "not an object" in events[0].reason  # type: ignore[attr-defined]


def test_tickers_push_is_a_typed_ticker() -> None:
    (push,) = pushes(connected(TICKERS).receive(fixture("tickers-push.json")))
    assert push.destination == TICKERS_DEST
    assert push.payload_type == "exchange_bridge.okx.Ticker"
    assert push.payload == {
        "instType": "SPOT",
        "instId": "BTC-USDT",
        "last": "9999.99",
        "lastSz": "0.1",
        "askPx": "9999.99",
        "askSz": "11",
        "bidPx": "8888.88",
        "bidSz": "5",
        "open24h": "9000",
        "high24h": "10000",
        "low24h": "8888.88",
        "volCcy24h": "2222",
        "vol24h": "2222",
        "sodUtc0": "2222",
        "sodUtc8": "2222",
        "ts": 1597026383085,
        "extra": {},
    }
    assert push.event_time_ms == 1597026383085


@pytest.mark.parametrize(
    ("name", "action", "prev_seq_id", "seq_id", "ts"),
    [
        ("books-snapshot.json", "snapshot", -1, 123456, 1597026383085),
        ("books-update.json", "update", 123456, 123457, 1597026383185),
        ("books-update-idle.json", "update", 123457, 123457, 1597026413185),
    ],
)
def test_books_push_is_a_typed_book(
    name: str, action: str, prev_seq_id: int, seq_id: int, ts: int
) -> None:
    (push,) = pushes(connected(BOOKS).receive(fixture(name)))
    element = fixture_json(name)["data"][0]
    assert push.destination == BOOKS_DEST
    assert push.payload_type == "exchange_bridge.okx.Book"
    assert push.payload == {
        "instId": None,
        "action": action,
        "asks": [
            {"price": p, "size": s, "deprecated": d, "orders": o} for p, s, d, o in element["asks"]
        ],
        "bids": [
            {"price": p, "size": s, "deprecated": d, "orders": o} for p, s, d, o in element["bids"]
        ],
        "ts": ts,
        "checksum": 0,
        "prevSeqId": prev_seq_id,
        "seqId": seq_id,
        # a snapshot starts the book; an update alone has no book to be checked against
        "verified": "verified" if action == "snapshot" else "not_checked",
        "extra": {},
    }
    assert push.event_time_ms == ts


def test_book_pushes_in_order_are_verified_by_their_sequence() -> None:
    adapter = connected(BOOKS)
    found = []
    for name in ("books-snapshot.json", "books-update.json", "books-update-idle.json"):
        (push,) = pushes(adapter.receive(fixture(name)))
        found.append((push.payload["prevSeqId"], push.payload["seqId"], push.payload["verified"]))
    assert found == [
        (-1, 123456, "verified"),
        (123456, 123457, "verified"),
        (123457, 123457, "verified"),  # the idle keepalive
    ]
    assert adapter.data_to_send() == []


def test_any_channel_works_including_array_elements() -> None:
    candle = ["1597026383085", "8533.02", "8553.74", "8527.17", "8548.26", "45247", "529.58", "0"]
    arg = {"channel": "sprd-candle1m", "sprdId": "BTC-USDT_BTC-USDT-SWAP"}
    (push,) = pushes(connected().receive(json.dumps({"arg": arg, "data": [candle]})))
    assert push.destination == dest(arg)
    assert push.payload == {"action": None, "data": json.dumps(candle, separators=(",", ":"))}
    assert push.event_time_ms is None

    other = {"arg": {"channel": "brand-new", "n": 1}, "data": [{"x": "ü", "ts": 5}], "connId": "c"}
    (push,) = pushes(connected().receive(json.dumps(other, ensure_ascii=False)))
    assert push.destination == dest({"channel": "brand-new", "n": "1"})
    assert push.payload["data"] == '{"x":"ü","ts":5}'  # not escaped
    assert push.event_time_ms == 5
    assert push.exchange_conn_id == "c"


def test_generic_push_with_a_bad_ts_is_still_carried() -> None:
    frame = '{"arg":{"channel":"sprd-public-trades","sprdId":"S"},"data":[{"ts":"soon"}]}'
    (push,) = pushes(connected().receive(frame))
    assert push.event_time_ms is None


def test_push_with_several_elements_gives_one_push_each() -> None:
    frame = {"arg": TICKERS, "data": [{"last": "1", "ts": "1"}, {"last": "2", "ts": "2"}]}
    events = pushes(connected(TICKERS).receive(json.dumps(frame)))
    assert [p.event_time_ms for p in events] == [1, 2]


def test_push_with_empty_data_gives_nothing() -> None:
    assert (
        connected(TICKERS).receive('{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[]}')
        == []
    )


def test_push_on_binary_frame_with_utf8_json() -> None:
    (push,) = pushes(connected(STATUS).receive(fixture("status-push.json").encode()))
    assert push.payload["state"] == "completed"


def first_push(events: list[Event]) -> Push:
    found = [e for e in events if isinstance(e, Push)]
    assert found, events
    return found[0]


def test_identity_is_content_based() -> None:
    old, new = connected(BOOKS), connected(BOOKS)
    a = first_push(old.receive(fixture("books-update.json")))
    b = first_push(new.receive(fixture("books-update.json")))
    assert a.identity == b.identity

    element = fixture_json("books-update.json")["data"][0]
    reordered = dict(reversed(list(element.items())))
    c = first_push(new.receive(json.dumps({"arg": BOOKS, "action": "update", "data": [reordered]})))
    assert c.identity == a.identity

    d = first_push(new.receive(json.dumps({"arg": BOOKS, "action": "snapshot", "data": [element]})))
    assert d.identity != a.identity
    for changed in ({"seqId": 9}, {"prevSeqId": 9}, {"ts": "1597026383186"}):
        e = first_push(
            new.receive(
                json.dumps({"arg": BOOKS, "action": "update", "data": [{**element, **changed}]})
            )
        )
        assert e.identity != a.identity, changed

    s1 = first_push(connected(STATUS).receive(fixture("status-push.json")))
    s2 = first_push(connected(STATUS).receive(fixture("status-push.json")))
    assert s1.identity == s2.identity
    t1 = first_push(connected(TICKERS).receive(fixture("tickers-push.json")))
    ticker = fixture_json("tickers-push.json")
    ticker["data"][0]["last"] = "1"
    t2 = first_push(connected(TICKERS).receive(json.dumps(ticker)))
    assert t1.identity != t2.identity


def test_identity_ignores_key_order_and_nothing_else_on_every_kind_of_element() -> None:
    """Flat elements (hashed as their pairs), nested ones (hashed as their sorted text) and
    elements of a channel carried as text: the same content in another key order is the same
    push, any other value or action is another."""
    generic = {"channel": "sprd-tickers", "instId": "X"}
    flat = {"instId": "BTC-USDT", "last": "1", "ts": "1700000000000", "flag": True, "n": None}
    nested = {**flat, "levels": [["1", "2"]], "inner": {"a": "1", "b": 2}}

    def identity(arg: dict[str, str], element: dict[str, Any], action: str | None = None) -> Any:
        frame: dict[str, Any] = {"arg": arg, "data": [element]}
        if action is not None:
            frame["action"] = action
        return first_push(connected(arg).receive(json.dumps(frame))).identity

    for arg in (TICKERS, generic):
        for element in (flat, nested):
            reordered = dict(reversed(list(element.items())))
            assert identity(arg, element) == identity(arg, reordered)
            assert identity(arg, element) != identity(arg, element, "snapshot")
            for key, value in (("last", "2"), ("flag", False), ("n", "null"), ("extra", "1")):
                assert identity(arg, element) != identity(arg, {**element, key: value}), key
    assert identity(generic, nested) != identity(generic, {**nested, "inner": {"a": "1"}})
    assert identity(generic, nested) != identity(generic, {**nested, "levels": [["1", "3"]]})
    # a number and a string of the same text: the same content (no channel sends both)
    assert identity(generic, {"a": 1}) == identity(generic, {"a": "1"})

    # an element with a key twice is identified by its exact text
    twice = '{"arg":{"channel":"sprd-tickers","instId":"X"},"data":[{"a":"1","a":"2"}]}'
    other = '{"arg":{"channel":"sprd-tickers","instId":"X"},"data":[{"a":"2","a":"1"}]}'
    a = first_push(connected(generic).receive(twice))
    b = first_push(connected(generic).receive(twice))
    c = first_push(connected(generic).receive(other))
    assert a.identity == b.identity != c.identity


def test_a_book_without_seq_ids_is_identified_by_its_content() -> None:
    level = ["1", "2", "0", "1"]
    element: dict[str, Any] = {"asks": [level], "bids": [], "ts": "5", "checksum": 0}
    frame = {"arg": BOOKS, "action": "update", "data": [element]}
    a = first_push(connected(BOOKS).receive(json.dumps(frame)))
    level[1] = "3"
    b = first_push(connected(BOOKS).receive(json.dumps(frame)))
    assert a.identity != b.identity


# --- schemas -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", all_fixture_names())
def test_every_push_from_every_fixture_fits_its_schema(name: str) -> None:
    for adapter in (connected(STATUS, TICKERS, BOOKS), logged_in(CALENDAR)):
        for event in adapter.receive(fixture(name)):
            assert not (
                isinstance(event, Unrecognized) and event.reason.startswith("adapter error")
            )
            if isinstance(event, Push):
                assert_valid(event)
                typed = typed_channel(event.destination.channel)
                assert event.destination.schema == (typed.schema if typed else "okx/channel")
                assert event.payload_type == (
                    typed.payload_type if typed else "exchange_bridge.okx.ChannelData"
                )


def test_fixtures_that_push_produce_pushes() -> None:
    names = [n for n in all_fixture_names() if "push" in n or n.startswith("books-")]
    not_json = {"doc-account-push.json", "doc-balance_and_position-push.json"}
    assert len(names) == 33
    for name in names:
        events = logged_in(STATUS, CALENDAR).receive(fixture(name))
        if name in not_json:
            assert [type(e) for e in events] == [Unrecognized]
        else:
            assert pushes([e for e in events if not isinstance(e, ResyncRequired)])


def test_economic_calendar_date_span_is_a_typed_field_from_v2() -> None:
    adapter = OkxAdapter([{"channel": "economic-calendar"}])
    frame = json.dumps(
        {
            "arg": {"channel": "economic-calendar"},
            "data": [{"calendarId": "1", "date": "1597026383085", "dateSpan": "1"}],
        }
    )
    [push] = [e for e in adapter.receive(frame) if isinstance(e, Push)]
    assert push.payload["dateSpan"] == "1"
    assert push.payload["extra"] == {}
