"""What the OKX simulator's channels carry: status and economic-calendar elements (their
fields, and frames captured from the real exchange), and synthetic tickers, books, status
changes and calendar events for the generators.

No sockets and no event loop here: the simulator (:mod:`bridge.sandbox.okx.protocol`) decides
who receives what this makes.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "CALENDAR_FIELDS",
    "DEFAULT_STATUS",
    "SEED_CALENDAR_FRAME",
    "SEED_STATUS_FRAME",
    "STATUS_FIELDS",
    "OkxMarket",
    "complete",
    "now_ms",
]

STATUS_FIELDS: Final = (
    "title",
    "state",
    "begin",
    "end",
    "preOpenBegin",
    "href",
    "serviceType",
    "system",
    "scheDesc",
    "maintType",
    "env",
    "ts",
)
CALENDAR_FIELDS: Final = (
    "calendarId",
    "date",
    "region",
    "category",
    "event",
    "refDate",
    "actual",
    "previous",
    "forecast",
    "importance",
    "prevInitial",
    "ccy",
    "unit",
    "ts",
)

# Frames captured from the real exchange; send them with send_raw() for byte-exact tests.
SEED_STATUS_FRAME: Final = (
    '{"arg":{"channel":"status"},"data":[{"begin":"1672823400000","end":"1672825980000",'
    '"href":"","preOpenBegin":"","scheDesc":"","serviceType":"0","state":"completed",'
    '"system":"unified","maintType":"1","env":"1",'
    '"title":"Trading account WebSocket system upgrade","ts":"1672826038470"}]}'
)
SEED_CALENDAR_FRAME: Final = (
    '{"arg":{"channel":"economic-calendar"},"data":[{"calendarId":"319275",'
    '"date":"1597026383085","region":"United States","category":"Manufacturing PMI",'
    '"event":"S&P Global Manufacturing PMI Final","refDate":"1597026383085","actual":"49.2",'
    '"previous":"47.3","forecast":"49.3","importance":"2","prevInitial":"","ccy":"","unit":"",'
    '"ts":"1698648096590"}]}'
)
# The status a fresh simulator reports on subscribe (the seed's element, key order kept, so
# pushing it reproduces SEED_STATUS_FRAME byte for byte).
DEFAULT_STATUS: Final[Mapping[str, Any]] = json.loads(SEED_STATUS_FRAME)["data"][0]

# The maintenance states the status generator cycles through.
_STATUS_CYCLE: Final = ("scheduled", "ongoing", "completed")
_FIRST_CALENDAR_ID: Final = 319275  # the seed event's


def now_ms() -> str:
    return str(int(time.time() * 1000))


def complete(element: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """``element`` with every missing field added as "" (``ts`` as now), as the real server
    sends them; the given keys keep their order, so a complete element stays as given."""
    completed = dict(element)
    for name in fields:
        completed.setdefault(name, now_ms() if name == "ts" else "")
    return completed


Levels = dict[float, tuple[str, str]]
"""price -> (size, order count)"""


@dataclass
class _Book:
    """A synthetic order book for the books generator."""

    bids: Levels
    asks: Levels
    seq_id: int
    tick: float


class OkxMarket:
    """Synthetic market data, reproducible from ``seed``: tickers and books per instrument,
    and a stream of status changes and calendar events."""

    def __init__(self, seed: int = 0) -> None:
        self._random = random.Random(seed)
        self._last_prices: dict[str, float] = {}
        self._books: dict[str, _Book] = {}
        self._status_round = 0
        self._calendar_id = _FIRST_CALENDAR_ID

    # -- tickers -----------------------------------------------------------------------------

    @staticmethod
    def _base_price(inst_id: str) -> float:
        base = inst_id.split("-", 1)[0]
        return {"BTC": 60000.0, "ETH": 3000.0}.get(base, 100.0)

    def ticker(self, inst_id: str) -> dict[str, str]:
        """The next ``tickers`` element of ``inst_id``: a random walk of the last price."""
        base = self._base_price(inst_id)
        last = self._last_prices.get(inst_id, base) * (1 + self._random.gauss(0, 0.0005))
        self._last_prices[inst_id] = last
        spread = base * 0.0001
        if inst_id.endswith("-SWAP"):
            inst_type = "SWAP"
        elif inst_id.count("-") == 1:
            inst_type = "SPOT"
        else:
            inst_type = "FUTURES"

        def px(value: float) -> str:
            return f"{value:.2f}"

        def sz() -> str:
            return f"{self._random.uniform(0.001, 5):.4f}"

        return {
            "instType": inst_type,
            "instId": inst_id,
            "last": px(last),
            "lastSz": sz(),
            "askPx": px(last + spread),
            "askSz": sz(),
            "bidPx": px(last - spread),
            "bidSz": sz(),
            "open24h": px(base),
            "high24h": px(max(base, last) * 1.01),
            "low24h": px(min(base, last) * 0.99),
            "volCcy24h": f"{self._random.uniform(1e6, 1e8):.2f}",
            "vol24h": f"{self._random.uniform(1e3, 1e5):.4f}",
            "sodUtc0": px(base),
            "sodUtc8": px(base),
            "ts": now_ms(),
        }

    # -- books -------------------------------------------------------------------------------

    def book_snapshot(self, arg: Mapping[str, str]) -> dict[str, Any]:
        """A ``books`` snapshot frame of ``arg["instId"]``'s whole book."""
        book = self._book(arg["instId"])
        return _book_frame(arg, book.bids, book.asks, book.seq_id, prev_seq_id=None)

    def book_update(self, arg: Mapping[str, str]) -> dict[str, Any]:
        """Change the book of ``arg["instId"]`` a little; the ``books`` update frame saying
        so, its ``prevSeqId`` the previous frame's ``seqId``."""
        book = self._book(arg["instId"])
        prev_seq_id = book.seq_id
        bids, asks = self._mutate(book)
        book.seq_id += self._random.randint(1, 3)
        return _book_frame(arg, bids, asks, book.seq_id, prev_seq_id=prev_seq_id)

    def _book(self, inst_id: str) -> _Book:
        book = self._books.get(inst_id)
        if book is None:
            mid = self._base_price(inst_id)
            tick = mid * 0.0001
            book = _Book(bids={}, asks={}, seq_id=self._random.randint(1_000, 100_000), tick=tick)
            for level in range(1, 21):
                book.bids[round(mid - level * tick, 8)] = self._level()
                book.asks[round(mid + level * tick, 8)] = self._level()
            self._books[inst_id] = book
        return book

    def _level(self) -> tuple[str, str]:
        return f"{self._random.uniform(0.01, 10):.4f}", str(self._random.randint(1, 20))

    def _mutate(self, book: _Book) -> tuple[Levels, Levels]:
        """Change one level per side (resize or replace); return the changed levels."""
        changes: list[Levels] = []
        for side, direction in ((book.bids, -1), (book.asks, 1)):
            changed: Levels = {}
            price = self._random.choice(list(side))
            if self._random.random() < 0.3 and len(side) > 1:
                del side[price]
                changed[price] = ("0", "0")  # size 0 deletes the level
                outermost = max(side) if direction > 0 else min(side)
                new_price = round(outermost + direction * book.tick, 8)
                side[new_price] = changed[new_price] = self._level()
            else:
                side[price] = changed[price] = self._level()
            changes.append(changed)
        return changes[0], changes[1]

    # -- status and economic calendar --------------------------------------------------------

    def next_status_change(self) -> dict[str, str]:
        """A maintenance announcement moving on one state: scheduled, ongoing, completed,
        then the next upgrade."""
        now = int(time.time() * 1000)
        number, state = divmod(self._status_round, len(_STATUS_CYCLE))
        self._status_round += 1
        return {
            "title": f"Demo system upgrade #{number + 1}",
            "state": _STATUS_CYCLE[state],
            "begin": str(now + 60_000),
            "end": str(now + 3_660_000),
            "serviceType": "0",
            "system": "unified",
            "maintType": "1",
            "env": "1",
            "ts": str(now),
        }

    def next_calendar_event(self) -> dict[str, str]:
        """A new economic-calendar event (the seed's, with a new id and today's dates)."""
        now = now_ms()
        self._calendar_id += 1
        return {
            "calendarId": str(self._calendar_id),
            "date": now,
            "region": "United States",
            "category": "Manufacturing PMI",
            "event": "S&P Global Manufacturing PMI Final",
            "refDate": now,
            "actual": "49.2",
            "previous": "47.3",
            "forecast": "49.3",
            "importance": "2",
            "ts": now,
        }


def _book_frame(
    arg: Mapping[str, str], bids: Levels, asks: Levels, seq_id: int, *, prev_seq_id: int | None
) -> dict[str, Any]:
    """A ``books`` frame: a snapshot (``prev_seq_id`` None: ``prevSeqId`` -1) or an update."""

    def rows(levels: Levels, descending: bool) -> list[list[str]]:
        ordered = sorted(levels.items(), reverse=descending)
        return [[f"{price:.2f}", size, "0", orders] for price, (size, orders) in ordered]

    element = {
        "asks": rows(asks, descending=False),
        "bids": rows(bids, descending=True),
        "ts": now_ms(),
        "checksum": 0,  # deprecated by OKX, always 0 since mid-2026
        "prevSeqId": -1 if prev_seq_id is None else prev_seq_id,
        "seqId": seq_id,
    }
    action = "snapshot" if prev_seq_id is None else "update"
    return {"arg": dict(arg), "action": action, "data": [element]}
