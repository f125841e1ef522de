"""OKEx v1 spot to normalized records: deals to trades, depth (incremental) and depth_N (the
whole book each time) to book changes, ticker to top of book."""

from __future__ import annotations

from typing import Final

from bridge.exchanges.events import Destination, Push, Verified
from bridge.exchanges.okex_v1.channels import Kind, parse_channel
from bridge.normalize import records
from bridge.normalize.records import BOOK, TOP_OF_BOOK, TRADES, Normalized, micros
from bridge.normalize.symbols import okex_symbol

_KINDS: Final = {
    Kind.DEALS: TRADES,
    Kind.DEPTH: BOOK,
    Kind.DEPTH_FULL: BOOK,
    Kind.TICKER: TOP_OF_BOOK,
}
_SIDES: Final = {"bid": records.BUY, "ask": records.SELL}
"""A deal's ``type``: ``bid``, a buyer took an ask; ``ask``, a seller took a bid."""


def kinds(destination: Destination) -> tuple[str, ...]:
    info = parse_channel(destination.channel)
    kind = _KINDS.get(info.kind) if info is not None else None
    return (kind,) if kind is not None else ()


def symbol(destination: Destination) -> str:
    return okex_symbol(destination.key)


def normalize(push: Push) -> list[Normalized]:
    destination = push.destination
    info = parse_channel(destination.channel)
    if info is None:
        return []
    payload = push.payload
    names = (symbol(destination), destination.key)
    match info.kind:
        case Kind.DEALS:
            return [
                records.trade(
                    *names,
                    trade_id=payload["tid"],
                    side=_SIDES.get(payload["type"]),
                    price=payload["price"],
                    amount=payload["amount"],
                    time_us=micros(payload["timestamp"]),
                )
            ]
        case Kind.DEPTH | Kind.DEPTH_FULL:
            full = info.kind is Kind.DEPTH_FULL
            return [
                records.book(
                    *names,
                    snapshot=payload["action"] == "snapshot",
                    bids=_levels(payload["bids"]),
                    asks=_levels(payload["asks"]),
                    depth=int(info.depth) if full and info.depth else None,
                    # OKEx v1 sends no checksum and no sequence: nothing to verify.
                    verified=Verified.FULL_BOOK if full else Verified.NOT_CHECKED,
                    time_us=micros(payload["timestamp"]),
                )
            ]
        case Kind.TICKER:
            return [
                records.top_of_book(
                    *names,
                    bid=(payload["buy"], None),
                    ask=(payload["sell"], None),
                    last=(payload["last"], None),
                    time_us=micros(payload["timestamp"]),
                )
            ]
    return []


def _levels(levels: list[dict[str, str]]) -> list[dict[str, object]]:
    return records.levels((level["price"], level["amount"]) for level in levels)
