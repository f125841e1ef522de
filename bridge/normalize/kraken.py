"""Kraken WebSocket v1 to normalized records: trade rows to trades, book messages to book
changes, spread and ticker to top of book.

Kraken's book records carry the checksum but no verdict: the adapter checks it and, when it
fails, follows the push with a resync. :class:`BookChecks` follows the same events to say what
the adapter found, as OKX's records say it themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from bridge.exchanges.events import Destination, Push
from bridge.normalize import records
from bridge.normalize.records import BOOK, TOP_OF_BOOK, TRADES, Normalized
from bridge.normalize.symbols import kraken_symbol

_TRADE: Final = "exchange_bridge.kraken.Trade"
_BOOK: Final = "exchange_bridge.kraken.Book"
_SPREAD: Final = "exchange_bridge.kraken.Spread"
_TICKER: Final = "exchange_bridge.kraken.Ticker"

_KINDS: Final = {"trade": TRADES, "book": BOOK, "spread": TOP_OF_BOOK, "ticker": TOP_OF_BOOK}
_SIDES: Final = {"b": records.BUY, "s": records.SELL}
_MAX_BOOKS: Final = 4096
"""Books followed at most (pairs the server names beyond the configured ones included)."""


def kinds(destination: Destination) -> tuple[str, ...]:
    kind = _KINDS.get(destination.channel.partition("-")[0])
    return (kind,) if kind is not None else ()


def symbol(destination: Destination) -> str:
    return kraken_symbol(destination.key)


def depth(channel: str) -> int | None:
    """``book-10`` -> 10."""
    _, _, text = channel.partition("-")
    return int(text) if text.isdigit() else None


class BookChecks:
    """What the adapter's checksum check made of each book message, from its events: a book is
    checked from a snapshot on the same connection on, until a checksum fails; then not again
    until the resubscription's snapshot."""

    def __init__(self) -> None:
        # (connection, channel, pair) -> (connection id, checked): per configured connection,
        # so what is kept is bounded by the subscriptions, not by the reconnections.
        self._books: dict[tuple[str, str, str], tuple[str, bool]] = {}

    def verified(
        self, connection: str, connection_id: str, push: Push, resync_follows: bool
    ) -> str:
        key = (connection, push.destination.channel, push.destination.key)
        if push.payload["snapshot"]:
            if len(self._books) >= _MAX_BOOKS and key not in self._books:
                self._books.clear()
            self._books[key] = (connection_id, not resync_follows)
            return records.FAILED if resync_follows else records.VERIFIED
        state = self._books.get(key)
        if state is None or state != (connection_id, True):
            return records.NOT_CHECKED  # no snapshot on this connection, or a resync waits
        if resync_follows:
            self._books[key] = (connection_id, False)
            return records.FAILED
        return records.VERIFIED if push.payload["checksum"] is not None else records.NOT_CHECKED


def normalize(push: Push, verified: str | None) -> list[Normalized]:
    """``verified``: the book's check (:class:`BookChecks`), for book messages."""
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
                verified=verified or records.NOT_CHECKED,
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
