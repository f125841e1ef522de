"""OKX v5 to normalized records: trades and trades-all to trades; the book channels to book
changes (books5 as a whole book each time); bbo-tbt and tickers to top of book."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from bridge.exchanges.events import Destination, Push
from bridge.exchanges.okx.book import BOOK_DEPTHS
from bridge.normalize import records
from bridge.normalize.records import BOOK, TOP_OF_BOOK, TRADES, Normalized, micros
from bridge.normalize.symbols import okx_symbol

_TRADE: Final = "exchange_bridge.okx.Trade"
_BOOK: Final = "exchange_bridge.okx.Book"
_TICKER: Final = "exchange_bridge.okx.Ticker"

_TOP_OF_BOOK_CHANNELS: Final = frozenset({"bbo-tbt", "tickers"})
_SIDES: Final = {"buy": records.BUY, "sell": records.SELL}


def kinds(destination: Destination) -> tuple[str, ...]:
    """The normalized topics a channel feeds."""
    channel = destination.channel
    if channel in ("trades", "trades-all"):
        return (TRADES,)
    if channel in _TOP_OF_BOOK_CHANNELS:
        return (TOP_OF_BOOK,)
    if channel in BOOK_DEPTHS:
        return (BOOK,)
    return ()


def exchange_symbol(destination: Destination) -> str:
    """The instId: the key of every channel normalized here."""
    return destination.arg.get("instId") or destination.key


def symbol(destination: Destination) -> str:
    return okx_symbol(exchange_symbol(destination))


def normalize(push: Push) -> list[Normalized]:
    destination = push.destination
    payload = push.payload
    names = (symbol(destination), exchange_symbol(destination))
    if push.payload_type == _TRADE:
        if payload["px"] is None or payload["sz"] is None:
            return []  # nothing traded to say
        return [
            records.trade(
                *names,
                trade_id=payload["tradeId"],
                side=_SIDES.get(payload["side"] or ""),
                price=payload["px"],
                amount=payload["sz"],
                time_us=micros(payload["ts"]),
            )
        ]
    if push.payload_type == _TICKER:
        return [
            records.top_of_book(
                *names,
                bid=(payload["bidPx"], payload["bidSz"]),
                ask=(payload["askPx"], payload["askSz"]),
                last=(payload["last"], payload["lastSz"]),
                time_us=micros(payload["ts"]),
            )
        ]
    if push.payload_type == _BOOK:
        if destination.channel == "bbo-tbt":
            return [
                records.top_of_book(
                    *names,
                    bid=_best(payload["bids"]),
                    ask=_best(payload["asks"]),
                    time_us=micros(payload["ts"]),
                )
            ]
        if destination.channel not in BOOK_DEPTHS:
            return []
        return [
            records.book(
                *names,
                # books5 has no action: every push is the whole book.
                snapshot=payload["action"] in (None, "snapshot"),
                bids=records.levels((lv["price"], lv["size"]) for lv in payload["bids"]),
                asks=records.levels((lv["price"], lv["size"]) for lv in payload["asks"]),
                depth=BOOK_DEPTHS[destination.channel],
                verified=payload["verified"],
                time_us=micros(payload["ts"]),
            )
        ]
    return []


def _best(levels: list[Mapping[str, Any]]) -> tuple[str | None, str | None]:
    if not levels:
        return None, None
    return levels[0]["price"], levels[0]["size"]
