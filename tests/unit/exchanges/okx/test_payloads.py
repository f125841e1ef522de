"""OKX pushes: typed payloads (status, economic-calendar), the generic record's exact element
text, and every push of every fixture against its schema.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bridge.exchanges.events import (
    Push,
    Unrecognized,
)
from bridge.exchanges.okx import OkxAdapter
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
    assert isinstance(push.identity, str) and push.identity


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


def test_tickers_push_goes_the_generic_way() -> None:
    element = fixture_json("tickers-push.json")["data"][0]
    (push,) = pushes(connected(TICKERS).receive(fixture("tickers-push.json")))
    assert push.destination == TICKERS_DEST
    assert push.payload_type == "exchange_bridge.okx.ChannelData"
    assert push.payload == {"action": None, "data": json.dumps(element, separators=(",", ":"))}
    assert push.event_time_ms == 1597026383085


@pytest.mark.parametrize(
    ("name", "action", "prev_seq_id", "seq_id", "ts"),
    [
        ("books-snapshot.json", "snapshot", -1, 123456, 1597026383085),
        ("books-update.json", "update", 123456, 123457, 1597026383185),
        ("books-update-idle.json", "update", 123457, 123457, 1597026413185),
    ],
)
def test_books_push(name: str, action: str, prev_seq_id: int, seq_id: int, ts: int) -> None:
    (push,) = pushes(connected(BOOKS).receive(fixture(name)))
    assert push.destination == BOOKS_DEST
    assert push.payload["action"] == action
    data = json.loads(push.payload["data"])
    assert data == fixture_json(name)["data"][0]
    assert (data["prevSeqId"], data["seqId"], data["checksum"]) == (prev_seq_id, seq_id, 0)
    assert push.event_time_ms == ts


def test_book_update_sequence_is_carried_in_order() -> None:
    adapter = connected(BOOKS)
    seq = []
    for name in ("books-snapshot.json", "books-update.json", "books-update-idle.json"):
        (push,) = pushes(adapter.receive(fixture(name)))
        data = json.loads(push.payload["data"])
        seq.append((data["prevSeqId"], data["seqId"]))
    assert seq[0][0] == -1
    assert seq[1][0] == seq[0][1]
    assert seq[2][0] == seq[2][1] == seq[1][1]


def test_any_channel_works_including_array_elements() -> None:
    candle = ["1597026383085", "8533.02", "8553.74", "8527.17", "8548.26", "45247", "529.58", "0"]
    frame = {"arg": {"channel": "candle1m", "instId": "BTC-USDT"}, "data": [candle]}
    (push,) = pushes(connected().receive(json.dumps(frame)))
    assert push.destination == dest({"channel": "candle1m", "instId": "BTC-USDT"}, key="BTC-USDT")
    assert push.payload == {"action": None, "data": json.dumps(candle, separators=(",", ":"))}
    assert push.event_time_ms is None

    other = {"arg": {"channel": "brand-new", "n": 1}, "data": [{"x": "ü", "ts": 5}], "connId": "c"}
    (push,) = pushes(connected().receive(json.dumps(other, ensure_ascii=False)))
    assert push.destination == dest({"channel": "brand-new", "n": "1"})
    assert push.payload["data"] == '{"x":"ü","ts":5}'  # not escaped
    assert push.event_time_ms == 5
    assert push.exchange_conn_id == "c"


def test_generic_push_with_a_bad_ts_is_still_carried() -> None:
    frame = '{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"ts":"soon"}]}'
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


def test_identity_is_content_based() -> None:
    old, new = connected(BOOKS), connected(BOOKS)
    (a,) = old.receive(fixture("books-update.json"))
    (b,) = new.receive(fixture("books-update.json"))
    assert isinstance(a, Push) and isinstance(b, Push)
    assert a.identity == b.identity

    element = fixture_json("books-update.json")["data"][0]
    reordered = dict(reversed(list(element.items())))
    (c,) = new.receive(json.dumps({"arg": BOOKS, "action": "update", "data": [reordered]}))
    assert isinstance(c, Push) and c.identity == a.identity

    (d,) = new.receive(json.dumps({"arg": BOOKS, "action": "snapshot", "data": [element]}))
    assert isinstance(d, Push) and d.identity != a.identity
    (e,) = new.receive(
        json.dumps({"arg": BOOKS, "action": "update", "data": [{**element, "seqId": 9}]})
    )
    assert isinstance(e, Push) and e.identity != a.identity

    (s1,) = connected(STATUS).receive(fixture("status-push.json"))
    (s2,) = connected(STATUS).receive(fixture("status-push.json"))
    assert isinstance(s1, Push) and isinstance(s2, Push) and s1.identity == s2.identity


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
                assert (
                    event.destination.schema
                    == {
                        "exchange_bridge.okx.Status": "okx/status",
                        "exchange_bridge.okx.EconomicCalendar": "okx/economic-calendar",
                        "exchange_bridge.okx.ChannelData": "okx/channel",
                    }[event.payload_type]
                )


def test_fixtures_that_push_produce_pushes() -> None:
    names = [n for n in all_fixture_names() if "push" in n or n.startswith("books-")]
    assert len(names) == 6
    for name in names:
        assert pushes(logged_in(STATUS, CALENDAR).receive(fixture(name)))


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
