"""Kraken WebSocket v1 to normalized records: trade rows to trades, book messages to book
changes, spread and ticker to top of book.

Kraken's book records carry the checksum but no verdict: the adapter's check puts it on the
push (:attr:`~bridge.exchanges.events.Push.book_check`), as OKX's records say it themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from bridge.exchanges.events import Destination, Push, Verified
from bridge.normalize import records
from bridge.normalize.records import BOOK, TOP_OF_BOOK, TRADES, Normalized
from bridge.normalize.symbols import kraken_symbol

_TRADE: Final = "exchange_bridge.kraken.Trade"
_BOOK: Final = "exchange_bridge.kraken.Book"
_SPREAD: Final = "exchange_bridge.kraken.Spread"
_TICKER: Final = "exchange_bridge.kraken.Ticker"

_KINDS: Final = {"trade": TRADES, "book": BOOK, "spread": TOP_OF_BOOK, "ticker": TOP_OF_BOOK}
_SIDES: Final = {"b": records.BUY, "s": records.SELL}


def kinds(destination: Destination) -> tuple[str, ...]:
    kind = _KINDS.get(destination.channel.partition("-")[0])
    return (kind,) if kind is not None else ()


def symbol(destination: Destination) -> str:
    return kraken_symbol(destination.key)


def depth(channel: str) -> int | None:
    """``book-10`` -> 10."""
    _, _, text = channel.partition("-")
    return int(text) if text.isdigit() else None


def normalize(push: Push) -> list[Normalized]:
    destination = push.destination
    payload = push.payload
    names = (symbol(destination), payload["pair"])
    if push.payload_type == _TRADE:
        return [
            records.trade(
                *names,
                trade_id=None,  # Kraken v1 trades have no id
                side=_SIDES.get(payload["side"]),
                price=payload["price"],
                amount=payload["volume"],
                time_us=payload["time"],
            )
        ]
    if push.payload_type == _BOOK:
        times = [level["timestamp"] for level in (*payload["asks"], *payload["bids"])]
        return [
            records.book(
                *names,
                snapshot=payload["snapshot"],
                bids=_levels(payload["bids"]),
                asks=_levels(payload["asks"]),
                depth=depth(destination.channel),
                verified=push.book_check or Verified.NOT_CHECKED,
                time_us=max(times) if times else None,
            )
        ]
    if push.payload_type == _SPREAD:
        return [
            records.top_of_book(
                *names,
                bid=(payload["bid"], payload["bid_volume"]),
                ask=(payload["ask"], payload["ask_volume"]),
                time_us=payload["time"],
            )
        ]
    if push.payload_type == _TICKER:
        return [
            records.top_of_book(
                *names,
                # The lot volume, not the whole-lot volume: the amount as a decimal.
                bid=(payload["bid_price"], payload["bid_lot_volume"]),
                ask=(payload["ask_price"], payload["ask_lot_volume"]),
                last=(payload["close_price"], payload["close_lot_volume"]),
                time_us=None,  # Kraken's ticker has no time
            )
        ]
    return []


def _levels(levels: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return records.levels((level["price"], level["volume"]) for level in levels)
