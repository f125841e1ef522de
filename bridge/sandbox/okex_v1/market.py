"""What the OKEx v1 simulator's market channels carry: an order book per pair (prices and
amounts kept as the text they were given), the latest ticker, and synthetic tickers, deals,
candles and book changes for the generators.

No sockets here: :mod:`bridge.sandbox.okex_v1.protocol` decides who receives what.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bridge.sandbox.okex_v1.wire import Raw, amount_text, decimal
from bridge.sandbox.server import BookLevels

__all__ = ["Level", "OkexV1Market", "ladder", "now_ms"]

Level = tuple[str, str]
"""(price, amount) as text."""


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class _Book:
    """price text -> amount text, per side."""

    bids: dict[str, str] = field(default_factory=dict)
    asks: dict[str, str] = field(default_factory=dict)


class OkexV1Market:
    """Books and tickers per pair (``bch_btc``), and synthetic data reproducible from
    ``seed``."""

    def __init__(self, seed: int = 0) -> None:
        self._books: dict[str, _Book] = {}
        self.tickers: dict[str, dict[str, Any]] = {}
        """symbol -> the latest ticker pushed (what a new subscriber receives)."""
        self._random = random.Random(seed)
        self._next_tid = 1001

    # -- books -------------------------------------------------------------------------------

    def book(self, symbol: str) -> BookLevels:
        """The order book of ``symbol``, best levels first."""
        book = self._books.get(symbol, _Book())
        return BookLevels(
            bids=_sorted_side(book.bids, descending=True),
            asks=_sorted_side(book.asks, descending=False),
        )

    def set_book(self, symbol: str, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        self._books[symbol] = _Book(bids=dict(bids), asks=dict(asks))

    def apply(self, symbol: str, *, bids: Iterable[Level] = (), asks: Iterable[Level] = ()) -> None:
        """Apply level changes: a new price adds, a known price (``"115"`` and ``"115.0"``
        are one) gets the new amount, amount ``"0"`` deletes."""
        book = self._books.setdefault(symbol, _Book())
        for side, changes in ((book.bids, bids), (book.asks, asks)):
            for price, amount in changes:
                deletes = decimal(amount) == 0
                side.pop(_find_price(side, price), None)
                if not deletes:
                    side[price] = amount

    def depth_data(self, symbol: str, size: int | None, timestamp: int) -> dict[str, Any]:
        """The data of a full ``_depth`` push (``size`` None) or of a ``_depth_<size>`` push."""
        bids, asks = self.book(symbol)
        if size is not None:
            bids, asks = bids[:size], asks[:size]
        return {
            "asks": [list(level) for level in asks],
            "bids": [list(level) for level in bids],
            "timestamp": Raw(str(timestamp)),
        }

    def mid(self, symbol: str) -> Decimal:
        """The middle of the best prices (a default by quote currency for an empty book)."""
        bids, asks = self.book(symbol)
        if bids and asks:
            return (Decimal(bids[0][0]) + Decimal(asks[0][0])) / 2
        return _default_mid(symbol)

    def random_change(self, symbol: str) -> tuple[str, list[Level]]:
        """One random level change (add, edit or delete) on one side: (side, changes)."""
        book = self._books.setdefault(symbol, _Book())
        side_name = self._random.choice(("bids", "asks"))
        side = book.bids if side_name == "bids" else book.asks
        action = self._random.random()
        if side and action < 0.3:
            return side_name, [(self._random.choice(list(side)), "0")]
        if side and action < 0.6:
            price = self._random.choice(list(side))
        else:
            mid = self.mid(symbol)
            offset = mid * Decimal(self._random.randint(1, 40)) / 10_000
            price = amount_text(mid - offset if side_name == "bids" else mid + offset)
        return side_name, [(price, f"{self._random.uniform(0.01, 10):.4f}")]

    # -- ticker, deals, candles --------------------------------------------------------------

    def ticker(self, symbol: str) -> dict[str, Any]:
        mid = self.mid(symbol)
        spread = mid * Decimal("0.0005")
        return {
            "high": amount_text(mid * Decimal("1.02")),
            "vol": f"{self._random.uniform(100, 10000):.8f}",
            "last": amount_text(mid),
            "low": amount_text(mid * Decimal("0.98")),
            "buy": amount_text(mid - spread),
            "change": amount_text(mid * Decimal("0.001")),
            "sell": amount_text(mid + spread),
            "dayLow": amount_text(mid * Decimal("0.97")),
            "dayHigh": amount_text(mid * Decimal("1.03")),
            "timestamp": Raw(str(now_ms())),
        }

    def deal(self, symbol: str) -> list[str]:
        """``[tid, price, amount, "HH:MM:SS", "bid"|"ask"]`` at the exchange's wall clock."""
        tid, self._next_tid = self._next_tid, self._next_tid + 1
        # The exchange's wall clock: Asia/Shanghai, UTC+8 all year.
        shanghai = time.gmtime(time.time() + 8 * 3600)
        side = self._random.choice(("bid", "ask"))
        return [
            str(tid),
            amount_text(self.mid(symbol)),
            f"{self._random.uniform(0.001, 2):.3f}",
            time.strftime("%H:%M:%S", shanghai),
            side,
        ]

    def candle(self, symbol: str) -> list[str]:
        """``[ms, open, high, low, close, volume]`` of the current minute."""
        mid = self.mid(symbol)
        minute = now_ms() // 60_000 * 60_000
        return [
            str(minute),
            amount_text(mid),
            amount_text(mid * Decimal("1.001")),
            amount_text(mid * Decimal("0.999")),
            amount_text(mid),
            f"{self._random.uniform(1, 100):.3f}",
        ]


def ladder(symbol: str, levels: int = 10) -> tuple[list[Level], list[Level]]:
    """(bids, asks) of a book to start with: ``levels`` of amount 1 each side of a price
    typical of the quote currency, one ten-thousandth apart."""
    mid = _default_mid(symbol)
    tick = mid / 10_000
    return (
        [(amount_text(mid - tick * i), "1.0000") for i in range(1, levels + 1)],
        [(amount_text(mid + tick * i), "1.0000") for i in range(1, levels + 1)],
    )


def _default_mid(symbol: str) -> Decimal:
    quote = symbol.split("_", 1)[1]
    return Decimal("60000") if quote == "usdt" else Decimal("0.05")


def _find_price(side: Mapping[str, str], price: str) -> str:
    """The key under which ``price`` is stored (``"115"`` and ``"115.0"`` are one level)."""
    if price in side:
        return price
    wanted = decimal(price)
    for known in side:
        if decimal(known) == wanted:
            return known
    return price


def _sorted_side(levels: Mapping[str, str], *, descending: bool) -> list[Level]:
    return sorted(levels.items(), key=lambda item: decimal(item[0]), reverse=descending)
