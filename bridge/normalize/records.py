"""The three normalized records, built the same way for every exchange: what the exchange
mappings (:mod:`.okx`, :mod:`.kraken`, :mod:`.okex_v1`) fill in, field by field as
``schemas/normalized/`` names them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from bridge.normalize.numbers import number

TRADES: Final = "trades"
BOOK: Final = "book"
TOP_OF_BOOK: Final = "top-of-book"

PAYLOAD_TYPES: Final = {
    TRADES: "exchange_bridge.normalized.Trade",
    BOOK: "exchange_bridge.normalized.BookChange",
    TOP_OF_BOOK: "exchange_bridge.normalized.TopOfBook",
}

BUY: Final = "buy"
SELL: Final = "sell"


@dataclass(frozen=True, slots=True)
class Normalized:
    """One normalized record's payload, and which of the three topics it goes to."""

    kind: str
    payload: dict[str, Any]


def micros(ms: int | None) -> int | None:
    """A millisecond time as the normalized records' microseconds."""
    return None if ms is None else ms * 1000


def trade(
    symbol: str,
    exchange_symbol: str,
    *,
    trade_id: str | None,
    side: str | None,
    price: str,
    amount: str,
    time_us: int | None,
) -> Normalized:
    return Normalized(
        TRADES,
        {
            "symbol": symbol,
            "exchange_symbol": exchange_symbol,
            "trade_id": trade_id,
            "side": side,
            **number("price", price),
            **number("amount", amount),
            "time": time_us,
        },
    )


def levels(pairs: Iterable[tuple[str | None, str | None]]) -> list[dict[str, Any]]:
    """Price levels from (price, amount) texts; a level without both says nothing to apply
    (the exchanges' own checks refuse such levels) and is left out."""
    return [
        {**number("price", price), **number("amount", amount)}
        for price, amount in pairs
        if price is not None and amount is not None
    ]


def book(
    symbol: str,
    exchange_symbol: str,
    *,
    snapshot: bool,
    bids: list[dict[str, Any]],
    asks: list[dict[str, Any]],
    depth: int | None,
    verified: str,
    time_us: int | None,
) -> Normalized:
    return Normalized(
        BOOK,
        {
            "symbol": symbol,
            "exchange_symbol": exchange_symbol,
            "snapshot": snapshot,
            "bids": bids,
            "asks": asks,
            "depth": depth,
            "verified": verified,
            "time": time_us,
        },
    )


def top_of_book(
    symbol: str,
    exchange_symbol: str,
    *,
    bid: tuple[str | None, str | None],
    ask: tuple[str | None, str | None],
    last: tuple[str | None, str | None] = (None, None),
    time_us: int | None,
) -> Normalized:
    return Normalized(
        TOP_OF_BOOK,
        {
            "symbol": symbol,
            "exchange_symbol": exchange_symbol,
            **number("bid_price", bid[0]),
            **number("bid_amount", bid[1]),
            **number("ask_price", ask[0]),
            **number("ask_amount", ask[1]),
            **number("last_price", last[0]),
            **number("last_amount", last[1]),
            "time": time_us,
        },
    )
