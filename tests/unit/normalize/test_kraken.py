"""Kraken WebSocket v1 documentation examples, normalized field by field (docs/NORMALIZED.md),
and the book verdicts followed from the adapter's checksum check."""

from __future__ import annotations

from typing import Any

from bridge.normalize.normalizer import Normalizer
from tests.unit.exchanges.kraken.helpers import connected, fixture
from tests.unit.normalize.helpers import conn, decoded, level, numbers, receive

INFO = conn("kraken", "kraken")


def test_trade_rows() -> None:
    adapter = connected({"name": "trade", "pair": ["XBT/USD"]})
    first, second = receive(adapter, INFO, fixture("trade.json"))
    assert first.destination.topic == "normalized.trades"
    assert first.destination.key == "kraken:BTC-USD"
    value = decoded(INFO, first)
    assert value["exchange"] == "kraken" and value["channel"] == "trade"
    assert value["payload"] == {
        "symbol": "BTC-USD",
        "exchange_symbol": "XBT/USD",
        "trade_id": None,
        "side": "sell",
        **numbers(price="5541.20000", amount="0.15850568"),
        "time": value["payload"]["time"],
    }
    # to the microsecond, from the decimal-seconds text
    assert first.payload["time"] == 1534614057321597
    assert second.payload["side"] == "buy" and second.payload["time"] == 1534614057324998
    assert second.payload["price"] == "6060.00000" and second.payload["amount"] == "0.02455000"


def test_spread_is_top_of_book() -> None:
    adapter = connected({"name": "spread", "pair": ["XBT/USD"]})
    [push] = receive(adapter, INFO, fixture("spread.json"))
    assert push.destination.topic == "normalized.top-of-book"
    payload = dict(decoded(INFO, push)["payload"])
    assert payload.pop("time").timestamp() == 1542057299.545897
    assert payload == {
        "symbol": "BTC-USD",
        "exchange_symbol": "XBT/USD",
        **numbers(
            bid_price="5698.40000",
            bid_amount="1.01234567",
            ask_price="5700.00000",
            ask_amount="0.98765432",
            last_price=None,
            last_amount=None,
        ),
    }


def test_ticker_is_top_of_book_with_the_last_trade() -> None:
    adapter = connected({"name": "ticker", "pair": ["XBT/USD"]})
    [push] = receive(adapter, INFO, fixture("ticker.json"))
    assert push.destination.topic == "normalized.top-of-book"
    assert decoded(INFO, push)["payload"] == {
        "symbol": "BTC-USD",
        "exchange_symbol": "XBT/USD",
        **numbers(
            bid_price="5525.10000",
            bid_amount="1.000",
            ask_price="5525.40000",
            ask_amount="1.000",
            last_price="5525.10000",
            last_amount="0.00398963",
        ),
        "time": None,
    }


def book_adapter() -> Any:
    return connected({"name": "book", "pair": ["XBT/USD"], "depth": 10})


def test_book_snapshot_and_update() -> None:
    adapter = book_adapter()
    normalizer = Normalizer(["c"])
    [snapshot] = receive(adapter, INFO, fixture("book-snapshot.json"), normalizer)
    assert snapshot.destination.topic == "normalized.book"
    assert snapshot.destination.key == "kraken:BTC-USD"
    payload = dict(decoded(INFO, snapshot)["payload"])
    # the latest level time of the message
    assert payload.pop("time").timestamp() == 1534614248.223465
    asks, bids = payload.pop("asks"), payload.pop("bids")
    assert payload == {
        "symbol": "BTC-USD",
        "exchange_symbol": "XBT/USD",
        "snapshot": True,
        "depth": 10,
        "verified": "verified",
    }
    assert len(asks) == len(bids) == 10
    assert asks[0] == level("5541.30000", "1.00000000")
    assert bids[-1] == level("5540.30000", "1.62500000")
    [update] = receive(adapter, INFO, fixture("book-update-ask.json"), normalizer)
    assert decoded(INFO, update)["payload"] | {"time": None} == {
        "symbol": "BTC-USD",
        "exchange_symbol": "XBT/USD",
        "snapshot": False,
        "asks": [level("5541.25000", "0.75000000")],
        "bids": [],
        "depth": 10,  # the ask pushed out of the depth is dropped by the depth, not a removal
        "verified": "verified",
        "time": None,
    }


def test_an_update_with_both_sides() -> None:
    adapter = book_adapter()
    normalizer = Normalizer(["c"])
    for name in ("book-snapshot.json", "book-update-ask.json", "book-update-bid-republish.json"):
        receive(adapter, INFO, fixture(name), normalizer)
    [both] = receive(adapter, INFO, fixture("book-update-both-sides.json"), normalizer)
    payload = decoded(INFO, both)["payload"]  # as a consumer reads it
    assert payload["asks"] == [level("5541.40000", "0.12345678")]
    assert payload["bids"] == [
        level("5541.20000", "0.00000000"),  # amount 0: removed
        level("5541.15000", "2.00000000"),
    ]
    assert both.payload["verified"] == "verified"


def test_a_failed_checksum_then_unchecked_until_the_next_snapshot() -> None:
    adapter = book_adapter()
    normalizer = Normalizer(["c"])
    for name in ("book-snapshot.json", "book-update-ask.json"):
        receive(adapter, INFO, fixture(name), normalizer)
    [failed] = receive(adapter, INFO, fixture("book-update-bad-checksum.json"), normalizer)
    assert failed.payload["verified"] == "failed"
    [after] = receive(adapter, INFO, fixture("book-update-ask.json"), normalizer)
    assert after.payload["verified"] == "not_checked"
    [snapshot] = receive(adapter, INFO, fixture("book-snapshot.json"), normalizer)
    assert snapshot.payload["verified"] == "verified"
    [update] = receive(adapter, INFO, fixture("book-update-ask.json"), normalizer)
    assert update.payload["verified"] == "verified"


def test_an_update_before_a_snapshot_on_its_connection_is_not_checked() -> None:
    normalizer = Normalizer(["c"])
    receive(book_adapter(), INFO, fixture("book-snapshot.json"), normalizer)
    # a new connection of the same configured connection: its first update has no snapshot
    reconnected = conn("kraken", "kraken", connection_id="c#2")
    [update] = receive(book_adapter(), reconnected, fixture("book-update-ask.json"), normalizer)
    assert update.payload["verified"] == "not_checked"
