"""OKEx v1 documentation examples, normalized field by field (docs/NORMALIZED.md)."""

from __future__ import annotations

import datetime as dt

from tests.unit.exchanges.okex_v1.helpers import DEALS, DEPTH, DEPTH5, TICKER, connected, fixture
from tests.unit.normalize.helpers import conn, decoded, level, numbers, receive

INFO = conn("okex_v1", "okex")
BOOK_BIDS = [level("115", "1"), level("114", "1"), level("1E-8", "0.0008792")]


def test_deals() -> None:
    adapter = connected(DEALS)
    [push] = receive(adapter, INFO, fixture("deals-push.json"))
    assert push.destination.topic == "normalized.trades"
    assert push.destination.key == "okex_v1:BCH-BTC"
    value = decoded(INFO, push)
    assert value["exchange"] == "okex_v1"
    assert value["channel"] == "ok_sub_spot_bch_btc_deals"
    payload = dict(value["payload"])
    # 16:34:07 Asia/Shanghai on the receive date (2018-08-18 17:44:20 UTC)
    assert payload.pop("time") == dt.datetime(2018, 8, 18, 8, 34, 7, tzinfo=dt.UTC)
    assert payload == {
        "symbol": "BCH-BTC",
        "exchange_symbol": "bch_btc",
        "trade_id": "1001",
        "side": "sell",  # type ask: a seller took a bid
        **numbers(price="2463.86", amount="0.052"),
    }


def test_depth_first_push_is_a_snapshot() -> None:
    adapter = connected(DEPTH)
    [push] = receive(adapter, INFO, fixture("depth-push.json"))
    assert push.destination.topic == "normalized.book"
    payload = dict(decoded(INFO, push)["payload"])
    assert payload.pop("time").timestamp() == 1504529236.946
    assert payload == {
        "symbol": "BCH-BTC",
        "exchange_symbol": "bch_btc",
        "snapshot": True,
        "asks": [],
        "bids": BOOK_BIDS,
        "depth": None,
        "verified": "not_checked",  # OKEx v1 has no checksum
    }
    [update] = receive(adapter, INFO, fixture("depth-push.json"))
    assert update.payload["snapshot"] is False


def test_depth_n_is_a_whole_book_every_time() -> None:
    adapter = connected(DEPTH5)
    for _ in range(2):
        [push] = receive(adapter, INFO, fixture("depth-5-push.json"))
        payload = dict(decoded(INFO, push)["payload"])
        assert payload.pop("time").timestamp() == 1504529432.367
        assert payload == {
            "symbol": "BCH-BTC",
            "exchange_symbol": "bch_btc",
            "snapshot": True,
            "asks": [],
            "bids": BOOK_BIDS,
            "depth": 5,
            "verified": "full_book",
        }


def test_ticker_is_top_of_book_without_amounts() -> None:
    adapter = connected(TICKER)
    [push] = receive(adapter, INFO, fixture("ticker-push.json"))
    assert push.destination.topic == "normalized.top-of-book"
    payload = dict(decoded(INFO, push)["payload"])
    assert payload.pop("time").timestamp() == 1500444626.0
    assert payload == {
        "symbol": "BCH-BTC",
        "exchange_symbol": "bch_btc",
        **numbers(
            bid_price="115",
            bid_amount=None,
            ask_price="115",
            ask_amount=None,
            last_price="111",
            last_amount=None,
        ),
    }
