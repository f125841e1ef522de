"""What a consumer of a book topic does: hold the book the records describe. The test
compares it with the book the simulator holds."""

from __future__ import annotations

import zlib
from decimal import Decimal
from typing import Any

from bridge.avro.decode import TailedRecord


class ConsumerBook:
    """What a consumer of a book topic keeps: price -> (price, size) texts per side."""

    def __init__(self) -> None:
        self.asks: dict[Decimal, tuple[str, str]] = {}
        self.bids: dict[Decimal, tuple[str, str]] = {}
        self.started = False

    @staticmethod
    def is_snapshot(payload: dict[str, Any]) -> bool:
        raise NotImplementedError

    def apply(self, record: TailedRecord) -> None:
        raise NotImplementedError

    def _change(self, side: dict[Decimal, tuple[str, str]], price: str, size: str) -> None:
        if Decimal(size) == 0:
            side.pop(Decimal(price), None)
        else:
            side[Decimal(price)] = (price, size)

    def levels(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """(asks, bids), best level first."""
        return (
            [self.asks[k] for k in sorted(self.asks)],
            [self.bids[k] for k in sorted(self.bids, reverse=True)],
        )


def kraken_checksum(asks: list[tuple[str, str]], bids: list[tuple[str, str]]) -> str:
    """Kraken's book checksum, written from its documentation (an oracle independent of the
    adapter's and the simulator's)."""
    text = "".join(
        p.replace(".", "").lstrip("0") + v.replace(".", "").lstrip("0")
        for p, v in asks[:10] + bids[:10]
    )
    return str(zlib.crc32(text.encode()))


class KrakenBook(ConsumerBook):
    """A consumer of kraken.book: start from a snapshot record, apply update records, keep the
    depth of the record's arg, and check each update's checksum."""

    def __init__(self) -> None:
        super().__init__()
        self.verified = 0
        self.failed = 0

    @staticmethod
    def is_snapshot(payload: dict[str, Any]) -> bool:
        return bool(payload["snapshot"])

    def apply(self, record: TailedRecord) -> None:
        book = record.value["payload"][1]
        depth = int(record.value["arg"]["depth"])
        if self.is_snapshot(book):
            self.asks, self.bids, self.started = {}, {}, True
        elif not self.started:
            return
        for side, levels in ((self.asks, book["asks"]), (self.bids, book["bids"])):
            for level in levels:
                self._change(side, level["price"], level["volume"])
        for key in sorted(self.asks)[depth:]:
            del self.asks[key]
        for key in sorted(self.bids, reverse=True)[depth:]:
            del self.bids[key]
        if book["checksum"] is not None:
            ok = kraken_checksum(*self.levels()) == book["checksum"]
            self.verified += ok
            self.failed += not ok


class OkexBook(ConsumerBook):
    """A consumer of okex.spot.depth: a snapshot record starts the book afresh, update records
    change it level by level (amount 0 deletes)."""

    @staticmethod
    def is_snapshot(payload: dict[str, Any]) -> bool:
        return bool(payload["action"] == "snapshot")

    def apply(self, record: TailedRecord) -> None:
        depth = record.value["payload"][1]
        if self.is_snapshot(depth):
            self.asks, self.bids, self.started = {}, {}, True
        for side, levels in ((self.asks, depth["asks"]), (self.bids, depth["bids"])):
            for level in levels:
                self._change(side, level["price"], level["amount"])
