"""Kraken order books: what a book message says, the local copy of each subscribed book, and
its CRC32 checksum."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from bridge.exchanges import wire
from bridge.exchanges.book import PriceBook
from bridge.exchanges.events import Verified
from bridge.exchanges.kraken.payloads import array, decimal, timestamp
from bridge.exchanges.wire import BadElement

CHECKSUM_LEVELS = 10
"""The book checksum covers the best 10 asks, then the best 10 bids."""

_BOOK_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def book_checksum(asks: Sequence[tuple[str, str]], bids: Sequence[tuple[str, str]]) -> str:
    """Kraken's book checksum: unsigned CRC32 of the best 10 asks (lowest first) then the best
    10 bids (highest first), each price and volume as sent with ``.`` and leading zeros
    removed, concatenated; as decimal text like the ``c`` field.

    The Kraken simulator (``bridge/sandbox``) computes the same checksum on purpose, as the
    other side of the protocol: an independent oracle, not a copy to share."""
    parts: list[str] = []
    for price, volume in [*asks[:CHECKSUM_LEVELS], *bids[:CHECKSUM_LEVELS]]:
        parts.append(price.replace(".", "").lstrip("0"))
        parts.append(volume.replace(".", "").lstrip("0"))
    return str(zlib.crc32("".join(parts).encode("ascii")))


class BookState(Enum):
    VERIFYING = "verifying"  # the local book follows the exchange's; checksums are checked
    RESYNCING = "resyncing"  # a checksum failed; resubscribed, waiting for the new snapshot


@dataclass(slots=True)
class LocalBook:
    """One pair's book as the exchange sent it, kept in price order (:mod:`bridge.exchanges.book`:
    prices compared as decimals, the texts kept exactly as sent for the checksum)."""

    depth: int
    book: PriceBook = field(default_factory=PriceBook)
    state: BookState = BookState.VERIFYING

    def apply(self, side: str, levels: Iterable[Mapping[str, Any]]) -> None:
        book_side = self.book.asks if side == "a" else self.book.bids
        book_side.set_levels((level["price"], level["volume"]) for level in levels)

    def truncate(self) -> None:
        """Keep the subscribed depth: Kraken sends no deletes for levels pushed out of it."""
        self.book.asks.truncate(self.depth)
        self.book.bids.truncate(self.depth)

    def checksum(self) -> str:
        return book_checksum(
            self.book.asks.best(CHECKSUM_LEVELS), self.book.bids.best(CHECKSUM_LEVELS)
        )

    def update(self, message: BookMessage) -> Verified:
        """Apply a message and say what its check found: FAILED when its checksum does not
        match the book it leaves (the book is then RESYNCING: no more checks until a new
        snapshot replaces it), NOT_CHECKED without a checksum or while resyncing."""
        for side, levels in message.ordered:
            self.apply(side, levels)
        self.truncate()
        if self.state is not BookState.VERIFYING:
            return Verified.NOT_CHECKED
        if message.checksum is None:
            return Verified.VERIFIED if message.snapshot else Verified.NOT_CHECKED
        if self.checksum() == message.checksum:
            return Verified.VERIFIED
        self.state = BookState.RESYNCING
        return Verified.FAILED


@dataclass(frozen=True, slots=True)
class BookMessage:
    """One book message: a snapshot (``as``/``bs``) or an update (``a``/``b``, in one object or
    two), its levels typed for the record."""

    snapshot: bool
    asks: list[dict[str, Any]]
    bids: list[dict[str, Any]]
    checksum: str | None
    extra: dict[str, str]
    ordered: list[tuple[str, list[dict[str, Any]]]]
    """The levels per side (``a`` or ``b``) in message order: Kraken's updates of one price
    must be applied in order."""

    def payload(self, pair: str, channel_id: int) -> dict[str, Any]:
        return {
            "pair": pair,
            "channel_id": channel_id,
            "snapshot": self.snapshot,
            "asks": self.asks,
            "bids": self.bids,
            "checksum": self.checksum,
            "extra": self.extra,
        }

    @property
    def event_time_ms(self) -> int | None:
        times = [level["timestamp"] for level in (*self.asks, *self.bids)]
        return max(times) // 1000 if times else None


def book_message(channel: str, parts: list[Any]) -> BookMessage:
    """The book message of a public data array (its one or two payload objects)."""
    if not 1 <= len(parts) <= 2 or not all(isinstance(p, dict) for p in parts):
        raise BadElement("book data must be one or two objects")
    keys = set().union(*(p.keys() for p in parts))
    snapshot = bool(keys & {"as", "bs"})
    sides = ("as", "bs") if snapshot else ("a", "b")
    if snapshot and keys & {"a", "b"}:
        raise BadElement("book snapshot mixed with updates")
    checksum: str | None = None
    asks: list[dict[str, Any]] = []
    bids: list[dict[str, Any]] = []
    extra: dict[str, str] = {}
    ordered: list[tuple[str, list[dict[str, Any]]]] = []
    for part in parts:
        for key, value in part.items():
            if key in sides:
                levels = book_levels(f"{channel} {key}", value)
                (asks if key == sides[0] else bids).extend(levels)
                ordered.append(("a" if key == sides[0] else "b", levels))
            elif key == "c":
                checksum = decimal("c", value)
            else:
                extra[key] = wire.text(value)
    return BookMessage(snapshot, asks, bids, checksum, extra, ordered)


def book_levels(name: str, value: Any) -> list[dict[str, Any]]:
    rows = array(name, value, 0)
    levels: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        row = array(f"{name}[{index}]", row, 3)
        price = decimal("price", row[0])
        volume = decimal("volume", row[1])
        if not _BOOK_NUMBER.fullmatch(price) or not _BOOK_NUMBER.fullmatch(volume):
            raise BadElement(f"{name}[{index}]: price and volume must be decimal numbers")
        time_us, time_text = timestamp("timestamp", row[2])
        if len(row) > 4:
            raise BadElement(f"{name}[{index}] has {len(row)} elements; at most 4 are known")
        levels.append(
            {
                "price": price,
                "volume": volume,
                "timestamp": time_us,
                "timestamp_text": time_text,
                "update_type": wire.text(row[3]) if len(row) > 3 else None,
            }
        )
    return levels
