"""What the Kraken simulator's channels carry: a synthetic market per pair (a book with its
CRC32 checksum, trades, ticker, spread, candles) and a synthetic account (open orders and own
trades), written the way Kraken writes numbers and times.

No sockets and no event loop here: the simulator (:mod:`bridge.sandbox.kraken.protocol`)
decides who receives what this makes.
"""

from __future__ import annotations

import random
import time
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from bridge.sandbox.server import BookLevels

__all__ = ["KrakenAccount", "KrakenMarket", "book_checksum", "now_text"]

# Levels each side of a fresh synthetic book; a depth beyond it sees the whole book.
_BOOK_LEVELS: Final = 40
_PRICE_DECIMALS: Final = 5
_VOLUME_DECIMALS: Final = 8
_BASE_PRICES: Final = {"XBT/USD": 60000.0, "XBT/EUR": 55000.0, "ETH/USD": 3000.0, "ETH/XBT": 0.05}

BookUpdate = tuple[list[list[str]], list[list[str]]]
"""The ask rows and the bid rows of one book update."""


def now_text() -> str:
    """Now as Kraken writes times: decimal seconds with six digits."""
    ns = time.time_ns()
    return f"{ns // 1_000_000_000}.{ns // 1000 % 1_000_000:06d}"


def _fixed(units: int, decimals: int) -> str:
    scale = 10**decimals
    return f"{units // scale}.{units % scale:0{decimals}d}"


def _price(units: int) -> str:
    return _fixed(units, _PRICE_DECIMALS)


def _volume(units: int) -> str:
    return _fixed(units, _VOLUME_DECIMALS)


def book_checksum(asks: Sequence[tuple[str, str]], bids: Sequence[tuple[str, str]]) -> str:
    """CRC32 of the best 10 asks then the best 10 bids, price and volume texts without ``.``
    and leading zeros.

    An independent oracle, deliberately not imported from the adapter
    (:mod:`bridge.exchanges.kraken`): the simulator is the other side of the protocol, and
    sharing the client's code would let a checksum bug pass both."""
    text = "".join(
        price.replace(".", "").lstrip("0") + volume.replace(".", "").lstrip("0")
        for price, volume in [*asks[:10], *bids[:10]]
    )
    return str(zlib.crc32(text.encode()))


@dataclass
class _Level:
    volume: int
    """In units of 10**-8."""
    timestamp: str


Side = list[tuple[int, _Level]]


@dataclass
class _Pair:
    """One pair's synthetic market: a book (price units of 10**-5) and running statistics."""

    tick: int
    asks: dict[int, _Level]
    bids: dict[int, _Level]
    last_price: int
    last_volume: int = 100_000_000
    volume_today: int = 0
    trades_today: int = 0
    candles: dict[int, dict[str, Any]] = field(default_factory=dict)

    def view(self, depth: int) -> tuple[Side, Side]:
        """The best ``depth`` levels per side: asks lowest first, bids highest first."""
        asks = [(p, self.asks[p]) for p in sorted(self.asks)[:depth]]
        bids = [(p, self.bids[p]) for p in sorted(self.bids, reverse=True)[:depth]]
        return asks, bids


def _texts(levels: Iterable[tuple[int, _Level]]) -> list[tuple[str, str]]:
    return [(_price(p), _volume(level.volume)) for p, level in levels]


def _with_texts(side: Side) -> list[tuple[tuple[str, str], tuple[int, _Level]]]:
    return list(zip(_texts(side), side, strict=True))


class KrakenMarket:
    """Synthetic public data per pair (Kraken's form, ``XBT/USD``), reproducible from the
    ``random.Random`` it is given."""

    def __init__(self, rng: random.Random) -> None:
        self._random = rng
        self._pairs: dict[str, _Pair] = {}

    # -- books -------------------------------------------------------------------------------

    def book(self, pair: str, depth: int) -> BookLevels:
        """The best ``depth`` (price, volume) texts per side."""
        asks, bids = self._pair(pair).view(depth)
        return BookLevels(bids=_texts(bids), asks=_texts(asks))

    def checksum(self, pair: str) -> str:
        """The checksum a client holding the book of ``pair`` (any depth) computes."""
        top = self.book(pair, 10)
        return book_checksum(top.asks, top.bids)

    def snapshot(self, pair: str, depth: int) -> dict[str, list[list[str]]]:
        """The ``{"as": …, "bs": …}`` snapshot a new ``book-<depth>`` subscription receives."""
        asks, bids = self._pair(pair).view(depth)
        return {
            "as": [[*text, level.timestamp] for text, (_, level) in _with_texts(asks)],
            "bs": [[*text, level.timestamp] for text, (_, level) in _with_texts(bids)],
        }

    def book_step(self, pair: str, depths: Iterable[int]) -> dict[int, BookUpdate]:
        """Change the book of ``pair``; per depth, the update its subscribers need (a depth
        whose view did not change is left out). :meth:`checksum` is the new checksum."""
        market = self._pair(pair)
        before = {depth: market.view(depth) for depth in depths}
        old_asks, old_bids = dict(market.asks), dict(market.bids)
        self._mutate(market)
        updates: dict[int, BookUpdate] = {}
        for depth, (asks_before, bids_before) in before.items():
            new_asks, new_bids = market.view(depth)
            ask_changes = _diff(asks_before, new_asks, market.asks, old_asks)
            bid_changes = _diff(bids_before, new_bids, market.bids, old_bids)
            if ask_changes or bid_changes:
                updates[depth] = (ask_changes, bid_changes)
        return updates

    def _pair(self, pair: str) -> _Pair:
        market = self._pairs.get(pair)
        if market is None:
            mid = int(_BASE_PRICES.get(pair, 100.0) * 10**_PRICE_DECIMALS)
            tick = max(1, mid // 600_000)
            now = now_text()
            market = _Pair(tick=tick, asks={}, bids={}, last_price=mid)
            for level in range(1, _BOOK_LEVELS + 1):
                market.asks[mid + level * tick] = _Level(self._volume(), now)
                market.bids[mid - level * tick] = _Level(self._volume(), now)
            self._pairs[pair] = market
        return market

    def _volume(self) -> int:
        return self._random.randint(1_000_000, 1_000_000_000)  # 0.01 to 10

    def _mutate(self, market: _Pair) -> None:
        """One change per chosen side: resize, delete (a new level refills the far end), or
        insert a new price near the top. Sometimes both sides change together."""
        sides = [self._random.choice(("a", "b"))]
        if self._random.random() < 0.3:
            sides = ["a", "b"]
        now = now_text()
        for side in sides:
            levels = market.asks if side == "a" else market.bids
            ordered = sorted(levels, reverse=side == "b")
            direction = 1 if side == "a" else -1
            roll = self._random.random()
            if roll < 0.45:
                price = ordered[self._random.randrange(min(15, len(ordered)))]
                levels[price] = _Level(self._volume(), now)
            elif roll < 0.7 and len(levels) > 12:
                del levels[ordered[self._random.randrange(10)]]
                levels[ordered[-1] + direction * market.tick] = _Level(self._volume(), now)
            else:
                other_best = min(market.asks) if side == "b" else max(market.bids)
                price = ordered[0] + direction * market.tick * self._random.randint(-8, 3)
                if (price - other_best) * direction > 0 and price not in levels:
                    levels[price] = _Level(self._volume(), now)
                    # keep the book from growing without bound
                    if len(levels) > 2 * _BOOK_LEVELS:
                        del levels[max(levels) if side == "a" else min(levels)]
                else:
                    levels[ordered[0]] = _Level(self._volume(), now)
        market.last_price = (min(market.asks) + max(market.bids)) // 2

    # -- trades, ticker, spread, candles -----------------------------------------------------

    def trades(self, pair: str) -> list[list[str]]:
        """One to three trades at the best prices; they move the statistics and candles."""
        market = self._pair(pair)
        rows = []
        for _ in range(self._random.randint(1, 3)):
            buy = self._random.random() < 0.5
            price = min(market.asks) if buy else max(market.bids)
            volume = self._volume() // 10
            market.last_price, market.last_volume = price, volume
            market.volume_today += volume
            market.trades_today += 1
            for candle in market.candles.values():
                candle["high"] = max(candle["high"], price)
                candle["low"] = min(candle["low"], price)
                candle["close"] = price
                candle["volume"] += volume
                candle["count"] += 1
            side = "b" if buy else "s"
            kind = self._random.choice(("l", "m"))
            rows.append([_price(price), _volume(volume), now_text(), side, kind, ""])
        return rows

    def ticker(self, pair: str) -> dict[str, Any]:
        market = self._pair(pair)
        ask, bid = min(market.asks), max(market.bids)
        ask_volume, bid_volume = market.asks[ask].volume, market.bids[bid].volume
        last, tick = market.last_price, market.tick
        spread = tick * 200
        return {
            "a": [_price(ask), ask_volume // 10**_VOLUME_DECIMALS, _volume(ask_volume)],
            "b": [_price(bid), bid_volume // 10**_VOLUME_DECIMALS, _volume(bid_volume)],
            "c": [_price(last), _volume(market.last_volume)],
            "v": [_volume(market.volume_today), _volume(market.volume_today + 10**10)],
            "p": [_price(last), _price(last)],
            "t": [market.trades_today, market.trades_today + 1000],
            "l": [_price(last - spread), _price(last - 2 * spread)],
            "h": [_price(last + spread), _price(last + 2 * spread)],
            "o": [_price(last), _price(last + tick)],
        }

    def spread(self, pair: str) -> list[str]:
        market = self._pair(pair)
        ask, bid = min(market.asks), max(market.bids)
        return [
            _price(bid),
            _price(ask),
            now_text(),
            _volume(market.bids[bid].volume),
            _volume(market.asks[ask].volume),
        ]

    def candle(self, pair: str, interval: int) -> list[Any]:
        """The current ``interval``-minute candle; a new one starts with each interval."""
        market = self._pair(pair)
        now = time.time()
        start = int(now) // (interval * 60) * (interval * 60)
        candle = market.candles.get(interval)
        if candle is None or candle["start"] != start:
            price = market.last_price
            candle = {"start": start, "open": price, "high": price, "low": price}
            candle.update(close=price, volume=0, count=0)
            market.candles[interval] = candle
        return [
            now_text(),
            f"{start + interval * 60}.000000",
            _price(candle["open"]),
            _price(candle["high"]),
            _price(candle["low"]),
            _price(candle["close"]),
            _price(candle["close"]),
            _volume(candle["volume"]),
            candle["count"],
        ]


def _diff(
    before: Side, after: Side, book: Mapping[int, _Level], old_book: Mapping[int, _Level]
) -> list[list[str]]:
    """The update a client holding ``before`` (one side, truncated to its depth) needs to hold
    ``after``: deletes (volume 0) for levels gone from the book, and every level of ``after``
    that is new or changed; a level that was in the book all along and only came back into the
    depth is marked ``"r"`` (republished). Levels pushed out by better ones need nothing: the
    client truncates to its depth."""
    changes: list[list[str]] = []
    seen = dict(before)
    for price, _ in before:
        if price not in book:
            changes.append([_price(price), _volume(0), now_text()])
    for price, level in after:
        old = seen.get(price)
        if old is not None and old == level:
            continue
        row = [_price(price), _volume(level.volume), level.timestamp]
        if old is None and old_book.get(price) == level:
            row.append("r")
        changes.append(row)
    return changes


class KrakenAccount:
    """A synthetic trading account: orders open, the oldest fills, each fill a trade."""

    def __init__(self) -> None:
        self._order_number = 0
        self.open_orders: dict[str, dict[str, Any]] = {}
        self.own_trades: list[dict[str, Any]] = []

    def new_order_and_fill(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Open a new order, and fill and close the oldest one when two are open. Returns the
        ``openOrders`` entries and the ``ownTrades`` entries (none without a fill) to send."""
        self._order_number += 1
        n = self._order_number
        order_id = f"O{n:05d}-SIMUL-ATEDXX"
        now = now_text()
        order = {
            "avg_price": "0.00000",
            "cost": "0.00000",
            "descr": {
                "close": "",
                "leverage": "0:1",
                "order": f"buy 1.00000000 XBT/USD @ limit {60000 + n}.00000",
                "ordertype": "limit",
                "pair": "XBT/USD",
                "price": f"{60000 + n}.00000",
                "price2": "0.00000",
                "type": "buy",
            },
            "expiretm": "0.000000",
            "fee": "0.00000",
            "limitprice": "0.00000",
            "misc": "",
            "oflags": "fciq",
            "opentm": now,
            "refid": None,
            "starttm": "0.000000",
            "status": "open",
            "stopprice": "0.00000",
            "userref": 0,
            "vol": "1.00000000",
            "vol_exec": "0.00000000",
        }
        updates: list[dict[str, Any]] = [{order_id: order}]
        trades: list[dict[str, Any]] = []
        if len(self.open_orders) >= 2:
            closed_id, closed = next(iter(self.open_orders.items()))
            del self.open_orders[closed_id]
            price = closed["descr"]["price"]
            updates.append(
                {
                    closed_id: {
                        "status": "closed",
                        "vol_exec": "1.00000000",
                        "cost": price,
                        "fee": "0.10000",
                        "avg_price": price,
                        "lastupdated": now,
                    }
                }
            )
            trade = {
                f"T{n:05d}-SIMUL-ATEDXX": {
                    "cost": price,
                    "fee": "0.10000",
                    "margin": "0.00000",
                    "ordertxid": closed_id,
                    "ordertype": "limit",
                    "pair": "XBT/USD",
                    "postxid": f"P{n:05d}-SIMUL-ATEDXX",
                    "price": price,
                    "time": now,
                    "type": "buy",
                    "vol": "1.00000000",
                }
            }
            self.own_trades.append(trade)
            trades.append(trade)
        self.open_orders[order_id] = order
        return updates, trades
