"""The OKEx v1 simulator's market state: books kept as text, top-of-book data, synthetic data."""

from __future__ import annotations

from decimal import Decimal

from bridge.sandbox.okex_v1.market import OkexV1Market, ladder
from bridge.sandbox.server import BookLevels


def test_apply_adds_edits_and_deletes_levels_compared_as_numbers() -> None:
    market = OkexV1Market()
    market.set_book("bch_btc", [("0.05", "1"), ("0.049", "2")], [("0.051", "1.5")])
    market.apply("bch_btc", bids=[("0.0495", "4"), ("0.0500", "0")], asks=[("0.051", "9")])
    assert market.book("bch_btc") == BookLevels(
        bids=[("0.0495", "4"), ("0.049", "2")], asks=[("0.051", "9")]
    )
    market.apply("bch_btc", bids=[("0.049", "3.5")], asks=[("0.0510", "0")])
    assert market.book("bch_btc") == BookLevels(bids=[("0.0495", "4"), ("0.049", "3.5")], asks=[])


def test_depth_data_is_the_whole_book_or_its_top() -> None:
    market = OkexV1Market()
    bids, asks = ladder("bch_btc", levels=8)
    market.set_book("bch_btc", bids, asks)
    full = market.depth_data("bch_btc", None, 1504529236946)
    top = market.depth_data("bch_btc", 5, 1504529236946)
    assert len(full["bids"]) == len(full["asks"]) == 8
    assert top["bids"] == full["bids"][:5] and top["asks"] == full["asks"][:5]
    assert str(top["timestamp"]) == "1504529236946"


def test_ladder_and_mid() -> None:
    bids, asks = ladder("btc_usdt", levels=2)
    assert bids == [("59994.00000000", "1.0000"), ("59988.00000000", "1.0000")]
    assert asks == [("60006.00000000", "1.0000"), ("60012.00000000", "1.0000")]
    market = OkexV1Market()
    assert market.mid("btc_usdt") == Decimal("60000")  # empty book: by quote currency
    market.set_book("btc_usdt", bids, asks)
    assert market.mid("btc_usdt") == Decimal("60000")


def test_synthetic_ticker_deal_and_candle_are_well_formed() -> None:
    market = OkexV1Market(seed=1)
    ticker = market.ticker("bch_btc")
    assert Decimal(ticker["buy"]) < Decimal(ticker["last"]) < Decimal(ticker["sell"])
    tid, price, amount, when, side = market.deal("bch_btc")
    assert (tid, price) == ("1001", "0.05000000") and side in ("bid", "ask")
    assert market.deal("bch_btc")[0] == "1002"
    assert len(when) == 8 and when[2] == when[5] == ":" and Decimal(amount) > 0
    minute, *prices, volume = market.candle("bch_btc")
    assert int(minute) % 60_000 == 0 and len(prices) == 4 and Decimal(volume) > 0


def test_random_changes_keep_a_valid_book() -> None:
    market = OkexV1Market(seed=3)
    market.set_book("bch_btc", *ladder("bch_btc"))
    for _ in range(200):
        side, changes = market.random_change("bch_btc")
        market.apply("bch_btc", **{side: changes})
    book = market.book("bch_btc")
    assert book.bids and book.asks
    assert all(Decimal(amount) > 0 for _, amount in book.bids + book.asks)
