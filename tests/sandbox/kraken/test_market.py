"""The Kraken simulator's synthetic market and account, without a server.

Checksums are recomputed here from the book a client rebuilds, independently of
``book_checksum``.
"""

from __future__ import annotations

import random
import zlib
from decimal import Decimal

from bridge.sandbox.kraken.market import KrakenAccount, KrakenMarket, book_checksum

Levels = list[tuple[str, str]]


def crc(asks: Levels, bids: Levels) -> str:
    text = "".join(
        p.replace(".", "").lstrip("0") + v.replace(".", "").lstrip("0")
        for p, v in asks[:10] + bids[:10]
    )
    return str(zlib.crc32(text.encode()))


def apply(book: dict[Decimal, tuple[str, str]], rows: list[list[str]]) -> None:
    for row in rows:
        if Decimal(row[1]) == 0:
            book.pop(Decimal(row[0]), None)
        else:
            book[Decimal(row[0])] = (row[0], row[1])


def test_the_checksum_is_crc32_of_the_top_ten_without_dots_and_leading_zeros() -> None:
    asks = [("0.05005", "0.00000500"), ("0.05010", "1.00000000")]
    bids = [("0.05000", "0.50000000")]
    assert book_checksum(asks, bids) == crc(asks, bids)
    assert book_checksum(asks, bids) == str(zlib.crc32(b"50055005010100000000500050000000"))


def test_book_steps_take_every_depth_to_the_market_view() -> None:
    market = KrakenMarket(random.Random(7))
    books = {}
    for depth in (10, 25):
        snapshot = market.snapshot("XBT/USD", depth)
        assert len(snapshot["as"]) == len(snapshot["bs"]) == depth
        books[depth] = (
            {Decimal(p): (p, v) for p, v, _ in snapshot["as"]},
            {Decimal(p): (p, v) for p, v, _ in snapshot["bs"]},
        )
    for _ in range(300):
        updates = market.book_step("XBT/USD", [10, 25])
        for depth, (ask_rows, bid_rows) in updates.items():
            asks, bids = books[depth]
            apply(asks, ask_rows)
            apply(bids, bid_rows)
            for key in sorted(asks)[depth:]:
                del asks[key]
            for key in sorted(bids, reverse=True)[depth:]:
                del bids[key]
        for depth, (asks, bids) in books.items():
            view = market.book("XBT/USD", depth)
            assert [asks[k] for k in sorted(asks)] == view.asks
            assert [bids[k] for k in sorted(bids, reverse=True)] == view.bids
    top = market.book("XBT/USD", 10)
    assert market.checksum("XBT/USD") == crc(top.asks, top.bids)
    assert Decimal(top.bids[0][0]) < Decimal(top.asks[0][0])


def test_trades_move_the_ticker_and_the_candle() -> None:
    market = KrakenMarket(random.Random(1))
    candle = market.candle("ETH/USD", 5)
    assert candle[8] == 0 and int(Decimal(candle[1])) % 300 == 0
    trades = market.trades("ETH/USD")
    assert 1 <= len(trades) <= 3 and all(row[3] in ("b", "s") for row in trades)
    assert market.candle("ETH/USD", 5)[8] == len(trades)
    ticker = market.ticker("ETH/USD")
    assert ticker["c"][0] == trades[-1][0] and ticker["t"][0] == len(trades)
    bid, ask, _, bid_volume, ask_volume = market.spread("ETH/USD")
    assert Decimal(bid) < Decimal(ask) and Decimal(bid_volume) > 0 < Decimal(ask_volume)


def test_the_account_fills_its_oldest_order_once_two_are_open() -> None:
    account = KrakenAccount()
    updates, trades = account.new_order_and_fill()
    assert [next(iter(u)) for u in updates] == ["O00001-SIMUL-ATEDXX"] and trades == []
    account.new_order_and_fill()
    updates, trades = account.new_order_and_fill()
    assert [next(iter(u.values())).get("status") for u in updates] == ["open", "closed"]
    [trade] = trades
    assert next(iter(trade.values()))["ordertxid"] == "O00001-SIMUL-ATEDXX"
    assert list(account.open_orders) == ["O00002-SIMUL-ATEDXX", "O00003-SIMUL-ATEDXX"]
    assert account.own_trades == trades
