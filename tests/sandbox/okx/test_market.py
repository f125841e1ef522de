"""What the OKX simulator's channels carry: completed elements and synthetic data."""

from __future__ import annotations

import json

from bridge.sandbox.okx.market import (
    CALENDAR_FIELDS,
    DEFAULT_STATUS,
    SEED_STATUS_FRAME,
    STATUS_FIELDS,
    OkxMarket,
    complete,
)
from bridge.sandbox.okx.wire import dumps


def test_complete_adds_missing_fields_and_keeps_the_given_order() -> None:
    element = complete({"state": "ongoing", "title": "x"}, STATUS_FIELDS)
    assert list(element)[:2] == ["state", "title"] and set(element) == set(STATUS_FIELDS)
    assert element["begin"] == "" and element["ts"].isdigit()
    assert complete({"ts": "1"}, CALENDAR_FIELDS)["ts"] == "1"
    # the default status is the seed's element: pushing it reproduces the seed frame
    frame = {"arg": {"channel": "status"}, "data": [complete(DEFAULT_STATUS, STATUS_FIELDS)]}
    assert dumps(frame) == SEED_STATUS_FRAME
    assert json.loads(SEED_STATUS_FRAME)["data"][0] == DEFAULT_STATUS


def test_tickers_walk_and_name_the_instrument_type() -> None:
    market = OkxMarket(seed=1)
    ticks = [market.ticker("BTC-USDT") for _ in range(20)]
    assert {t["instType"] for t in ticks} == {"SPOT"}
    assert len({t["last"] for t in ticks}) > 1
    for t in ticks:
        assert float(t["bidPx"]) < float(t["last"]) < float(t["askPx"])
    assert market.ticker("BTC-USDT-SWAP")["instType"] == "SWAP"
    assert market.ticker("BTC-USD-250328")["instType"] == "FUTURES"
    assert OkxMarket(seed=1).ticker("BTC-USDT")["last"] == ticks[0]["last"]  # reproducible


def test_book_updates_chain_their_sequence_ids() -> None:
    market = OkxMarket()
    arg = {"channel": "books", "instId": "ETH-USDT"}
    snapshot = market.book_snapshot(arg)
    assert snapshot["action"] == "snapshot" and snapshot["arg"] == arg
    [element] = snapshot["data"]
    assert element["prevSeqId"] == -1 and len(element["bids"]) == len(element["asks"]) == 20
    prices = [float(row[0]) for row in element["bids"]]
    assert prices == sorted(prices, reverse=True)
    previous = element["seqId"]
    for _ in range(10):
        [update] = market.book_update(arg)["data"]
        assert update["prevSeqId"] == previous < update["seqId"]
        assert update["checksum"] == 0 and 1 <= len(update["bids"]) <= 2
        previous = update["seqId"]


def test_status_changes_cycle_and_calendar_ids_count_up() -> None:
    market = OkxMarket()
    changes = [market.next_status_change() for _ in range(4)]
    assert [c["state"] for c in changes] == ["scheduled", "ongoing", "completed", "scheduled"]
    assert [c["title"][-2:] for c in changes] == ["#1", "#1", "#1", "#2"]
    assert set(changes[0]) <= set(STATUS_FIELDS)
    events = [market.next_calendar_event() for _ in range(2)]
    assert [e["calendarId"] for e in events] == ["319276", "319277"]
    assert set(events[0]) <= set(CALENDAR_FIELDS)
