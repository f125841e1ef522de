"""The simulator's order books: one book per instrument, and what each book channel of it sends.

Each instrument has one book (prices in integer ticks, sizes and order counts as text) and one
sequence counter that every change advances, as OKX's seqIds are per instrument. A channel
sees its depth of the book:

* ``books``, ``books-l2-tbt``, ``books-elp`` (400 levels) and ``books50-l2-tbt`` (50): a snapshot
  (``prevSeqId`` -1) to a new subscriber, then updates with the levels that changed within the
  depth since the channel's previous message (size ``"0"`` for a level that left it),
  ``prevSeqId`` the seqId of that message, and OKX's CRC32 of the top 25 levels (or 0, as OKX
  sends since June 2026, with ``checksums=False``). The sequence is the channel's, not a
  connection's: every subscriber sees the same seqIds, as on OKX.
* ``books5`` (5 levels) and ``bbo-tbt`` (1 level): the whole view whenever it changed, with the
  seqId and no action, checksum or prevSeqId.

Faults for tests, each on the next update of an instrument (any channel, or one): a lost update
(sent to nobody; the next one follows it all the same), a wrong checksum, a ``prevSeqId`` that
does not follow, and OKX's documented sequence reset (a lower seqId whose ``prevSeqId`` still
follows: not a fault for a client).

No sockets and no event loop here: the simulator decides who receives what this makes.
"""

from __future__ import annotations

import random
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from bridge.sandbox.server import BookLevels

INCREMENTAL_DEPTHS: Final[Mapping[str, int]] = {
    "books": 400,
    "books-l2-tbt": 400,
    "books50-l2-tbt": 50,
    "books-elp": 400,
}
FULL_DEPTHS: Final[Mapping[str, int]] = {"books5": 5, "bbo-tbt": 1}
BOOK_CHANNELS: Final = frozenset({*INCREMENTAL_DEPTHS, *FULL_DEPTHS})

_LEVELS: Final = 60
"""Levels a side of a fresh book (more than 50, less than 400: both views differ)."""

Fault = Literal["lose", "corrupt_checksum", "break_sequence", "reset_sequence"]


def okx_checksum(bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> int:
    """CRC32 of ``bid:size:ask:size:...`` over the best 25 levels of each side (the longer
    side's remaining levels after the shorter one's), as a signed 32-bit integer.

    Written here independently of the adapter's (:mod:`bridge.exchanges.okx.book`) on purpose:
    the simulator is the other side of the protocol."""
    parts: list[str] = []
    for index in range(25):
        for side in (bids, asks):
            if index < len(side):
                parts.extend(side[index])
    value = zlib.crc32(":".join(parts).encode("utf-8"))
    return value - (1 << 32) if value >= 1 << 31 else value


def now_ms() -> str:
    return str(int(time.time() * 1000))


Level = tuple[str, str]  # (size, orders)


@dataclass
class _Instrument:
    tick: int
    """Decimals of a price."""
    bids: dict[int, Level]
    asks: dict[int, Level]
    seq_id: int
    size_decimals: int

    def price(self, units: int) -> str:
        """A price in ticks as OKX writes it: no trailing zeros."""
        whole, fraction = divmod(units, 10**self.tick)
        text = (
            f"{whole}.{fraction:0{self.tick}d}".rstrip("0").rstrip(".") if self.tick else str(whole)
        )
        return text

    def view(self, depth: int) -> tuple[list[tuple[int, Level]], list[tuple[int, Level]]]:
        """The best ``depth`` (price, level) of each side, best first."""
        bids = sorted(self.bids.items(), reverse=True)[:depth]
        asks = sorted(self.asks.items())[:depth]
        return bids, asks


@dataclass
class _Channel:
    """What one book channel of one instrument last sent (to every subscriber)."""

    bids: dict[int, Level] = field(default_factory=dict)
    asks: dict[int, Level] = field(default_factory=dict)
    seq_id: int = -1


class OkxBooks:
    """Every instrument's book and every book channel's view of it."""

    def __init__(self, rng: random.Random, *, checksums: bool = True) -> None:
        self._random = rng
        self.checksums = checksums
        """False: every checksum is 0, as OKX sends since June 2026."""
        self._instruments: dict[str, _Instrument] = {}
        self._channels: dict[tuple[str, str], _Channel] = {}
        self._faults: list[tuple[Fault, str | None, str | None]] = []
        self.faults_applied: dict[Fault, int] = dict.fromkeys(
            ("lose", "corrupt_checksum", "break_sequence", "reset_sequence"), 0
        )

    # -- what a client holding a book must have ---------------------------------------------

    def levels(self, inst_id: str, channel: str = "books") -> BookLevels:
        """The (price, size) texts of ``channel``'s view of ``inst_id``, best first."""
        instrument = self._instrument(inst_id)
        view = self._channels.get((channel, inst_id))
        if view is None:
            depth = INCREMENTAL_DEPTHS.get(channel) or FULL_DEPTHS[channel]
            bids, asks = instrument.view(depth)
        else:
            bids = sorted(view.bids.items(), reverse=True)
            asks = sorted(view.asks.items())
        return BookLevels(
            bids=[(instrument.price(p), level[0]) for p, level in bids],
            asks=[(instrument.price(p), level[0]) for p, level in asks],
        )

    def checksum(self, inst_id: str, channel: str = "books") -> int:
        levels = self.levels(inst_id, channel)
        return okx_checksum(levels.bids, levels.asks)

    # -- faults --------------------------------------------------------------------------------

    def add_fault(self, fault: Fault, inst_id: str | None, channel: str | None) -> None:
        """The next update of ``inst_id`` (any, when None) on ``channel`` (any incremental
        book channel, when None) gets ``fault``."""
        self._faults.append((fault, inst_id, channel))

    def _take_fault(self, inst_id: str, channel: str) -> Fault | None:
        for index, (fault, inst, chan) in enumerate(self._faults):
            if inst in (None, inst_id) and chan in (None, channel):
                del self._faults[index]
                self.faults_applied[fault] += 1
                return fault
        return None

    # -- messages ------------------------------------------------------------------------------

    def snapshot(self, arg: Mapping[str, str]) -> dict[str, Any]:
        """The first message of a new subscriber of an incremental channel: the channel's view
        (which every subscriber shares), or a new view of the book when it has none."""
        channel, inst_id = arg["channel"], arg["instId"]
        instrument = self._instrument(inst_id)
        view = self._channels.get((channel, inst_id))
        if view is None:
            bids, asks = instrument.view(INCREMENTAL_DEPTHS[channel])
            view = self._channels[(channel, inst_id)] = _Channel(
                dict(bids), dict(asks), instrument.seq_id
            )
        element = self._element(
            instrument,
            sorted(view.asks.items()),
            sorted(view.bids.items(), reverse=True),
            prev_seq_id=-1,
            seq_id=view.seq_id,
            checksum=self._checksum(instrument, view),
        )
        return {"arg": dict(arg), "action": "snapshot", "data": [element]}

    def forget(self, channel: str, inst_id: str) -> None:
        """Nobody receives the channel any more: a new subscriber gets a fresh view."""
        self._channels.pop((channel, inst_id), None)

    def step(self, inst_id: str) -> None:
        """Change the book a little (one to three levels) and advance its sequence."""
        instrument = self._instrument(inst_id)
        for _ in range(self._random.randint(1, 3)):
            self._mutate(instrument)
        instrument.seq_id += self._random.randint(1, 3)

    def update(self, arg: Mapping[str, str]) -> tuple[dict[str, Any] | None, Fault | None]:
        """The message of an incremental channel after the book changed: the levels that
        changed within its depth since its last message (None when nothing did), and the fault
        it carries. A lost message is made all the same (its levels and seqId are what the next
        one follows) and returned with the fault ``lose``: the caller sends it to nobody."""
        channel, inst_id = arg["channel"], arg["instId"]
        instrument = self._instrument(inst_id)
        view = self._channels.get((channel, inst_id))
        if view is None:
            return None, None
        bids, asks = instrument.view(INCREMENTAL_DEPTHS[channel])
        bid_rows = _changes(view.bids, dict(bids), descending=True)
        ask_rows = _changes(view.asks, dict(asks), descending=False)
        if not bid_rows and not ask_rows:
            return None, None
        fault = self._take_fault(inst_id, channel)
        prev_seq_id = view.seq_id
        if fault == "reset_sequence":
            # OKX: after maintenance the sequence may restart lower; prevSeqId still follows.
            instrument.seq_id = self._random.randint(1, 100)
        view.bids, view.asks, view.seq_id = dict(bids), dict(asks), instrument.seq_id
        if fault == "break_sequence":
            prev_seq_id += self._random.randint(1, 5)
        checksum = self._checksum(instrument, view)
        if fault == "corrupt_checksum":
            checksum = checksum + 1 if checksum != 2**31 - 1 else -(2**31)
        element = self._element(
            instrument,
            [(p, level) for p, level in ask_rows],
            [(p, level) for p, level in bid_rows],
            prev_seq_id=prev_seq_id,
            seq_id=view.seq_id,
            checksum=checksum,
        )
        return {"arg": dict(arg), "action": "update", "data": [element]}, fault

    def keepalive(self, arg: Mapping[str, str]) -> dict[str, Any] | None:
        """OKX's message after about 60 s without a change: no levels, ``seqId`` and
        ``prevSeqId`` both the last seqId."""
        view = self._channels.get((arg["channel"], arg["instId"]))
        if view is None:
            return None
        instrument = self._instrument(arg["instId"])
        element = self._element(
            instrument,
            [],
            [],
            prev_seq_id=view.seq_id,
            seq_id=view.seq_id,
            checksum=self._checksum(instrument, view),
        )
        return {"arg": dict(arg), "action": "update", "data": [element]}

    def full(self, arg: Mapping[str, str], *, changed_only: bool) -> dict[str, Any] | None:
        """A books5 or bbo-tbt message: the whole view, when it changed (or always, with
        ``changed_only`` False: a new subscriber's first push)."""
        channel, inst_id = arg["channel"], arg["instId"]
        instrument = self._instrument(inst_id)
        bids, asks = instrument.view(FULL_DEPTHS[channel])
        view = self._channels.setdefault((channel, inst_id), _Channel())
        if changed_only and (dict(bids), dict(asks)) == (view.bids, view.asks):
            return None
        view.bids, view.asks, view.seq_id = dict(bids), dict(asks), instrument.seq_id
        element: dict[str, Any] = {
            "asks": [self._row(instrument, p, level) for p, level in asks],
            "bids": [self._row(instrument, p, level) for p, level in bids],
        }
        if channel == "books5":  # as in OKX's example of books5 (not of bbo-tbt)
            element["instId"] = inst_id
        element.update(ts=now_ms(), seqId=instrument.seq_id)
        return {"arg": dict(arg), "data": [element]}

    # -- building ------------------------------------------------------------------------------

    def _checksum(self, instrument: _Instrument, view: _Channel) -> int:
        if not self.checksums:
            return 0
        bids = [(instrument.price(p), lv[0]) for p, lv in sorted(view.bids.items(), reverse=True)]
        asks = [(instrument.price(p), lv[0]) for p, lv in sorted(view.asks.items())]
        return okx_checksum(bids[:25], asks[:25])

    @staticmethod
    def _row(instrument: _Instrument, price: int, level: Level) -> list[str]:
        size, orders = level
        return [instrument.price(price), size, "0", orders]

    def _element(
        self,
        instrument: _Instrument,
        asks: list[tuple[int, Level]],
        bids: list[tuple[int, Level]],
        *,
        prev_seq_id: int,
        seq_id: int,
        checksum: int,
    ) -> dict[str, Any]:
        return {
            "asks": [self._row(instrument, p, level) for p, level in asks],
            "bids": [self._row(instrument, p, level) for p, level in bids],
            "ts": now_ms(),
            "checksum": checksum,
            "prevSeqId": prev_seq_id,
            "seqId": seq_id,
        }

    def _instrument(self, inst_id: str) -> _Instrument:
        instrument = self._instruments.get(inst_id)
        if instrument is None:
            base = inst_id.split("-", 1)[0]
            mid, tick = {"BTC": (60000_0, 1), "ETH": (3000_00, 2)}.get(base, (100_000, 3))
            instrument = _Instrument(
                tick=tick,
                bids={},
                asks={},
                seq_id=self._random.randint(1_000_000, 9_000_000),
                size_decimals=8 if inst_id.count("-") == 1 else 0,
            )
            for level in range(_LEVELS):
                instrument.bids[mid - 1 - level] = self._level(instrument)
                instrument.asks[mid + level] = self._level(instrument)
            self._instruments[inst_id] = instrument
        return instrument

    def _level(self, instrument: _Instrument) -> Level:
        units = self._random.randint(1, 5 * 10**instrument.size_decimals)
        size = _decimal_text(units, instrument.size_decimals)
        return size, str(self._random.randint(1, 30))

    def _mutate(self, instrument: _Instrument) -> None:
        """Resize, remove or add a level near the top of one side, keeping the book crossed
        never and about _LEVELS deep."""
        bids, asks = instrument.bids, instrument.asks
        side, other, direction = (
            (bids, asks, -1) if self._random.random() < 0.5 else (asks, bids, 1)
        )
        best = (max if direction < 0 else min)(side)
        price = best + direction * self._random.randint(0, 8)
        roll = self._random.random()
        if price in side and roll < 0.3 and len(side) > 2:
            del side[price]
            outer = (min if direction < 0 else max)(side)
            side[outer + direction] = self._level(instrument)  # the book keeps its depth
        elif roll < 0.15 and len(side) > 2:
            # a new best level, inside the spread
            inside = best - direction
            opposite = (min if direction < 0 else max)(other)
            if (inside < opposite) if direction < 0 else (inside > opposite):
                side[inside] = self._level(instrument)
                side.pop((min if direction < 0 else max)(side))
        else:
            side[price] = self._level(instrument)
            while len(side) > _LEVELS:
                side.pop((min if direction < 0 else max)(side))


def _decimal_text(units: int, decimals: int) -> str:
    if not decimals:
        return str(units)
    whole, fraction = divmod(units, 10**decimals)
    return f"{whole}.{fraction:0{decimals}d}".rstrip("0").rstrip(".")


def _changes(
    before: dict[int, Level], after: dict[int, Level], *, descending: bool
) -> list[tuple[int, Level]]:
    """The levels of ``after`` that differ from ``before``, and ("0", "0") for those gone, in
    book order."""
    rows = {p: level for p, level in after.items() if before.get(p) != level}
    rows.update({p: ("0", "0") for p in before if p not in after})
    return sorted(rows.items(), reverse=descending)
