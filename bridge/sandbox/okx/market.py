"""What the OKX simulator's public channels carry: status and economic-calendar elements (their
fields, and frames captured from the real exchange), and synthetic tickers, trades, candles,
public data (mark price, funding rate, instruments...), status changes and calendar events for
the generators. Order books: :mod:`bridge.sandbox.okx.books`; the account: ``account.py``.

No sockets and no event loop here: the simulator (:mod:`bridge.sandbox.okx.protocol`) decides
who receives what this makes.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterable, Mapping
from typing import Any, Final

from bridge.sandbox.okx.wire import bar_ms

__all__ = [
    "CALENDAR_FIELDS",
    "DEFAULT_STATUS",
    "SEED_CALENDAR_FRAME",
    "SEED_STATUS_FRAME",
    "STATUS_FIELDS",
    "OkxMarket",
    "complete",
    "inst_type",
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


class OkxMarket:
    """Synthetic market data, reproducible from ``seed``: tickers, trades, candles and the
    public data channels per instrument, and a stream of status changes and calendar events.
    (Order books: :mod:`bridge.sandbox.okx.books`.)"""

    def __init__(self, seed: int = 0, rng: random.Random | None = None) -> None:
        self._random = rng or random.Random(seed)
        self._last_prices: dict[str, float] = {}
        self._trade_ids: dict[str, int] = {}
        self._trade_seq = self._random.randint(1_000, 9_000)
        self._candles: dict[tuple[str, str], list[str]] = {}
        self._status_round = 0
        self._calendar_id = _FIRST_CALENDAR_ID

    # -- tickers -----------------------------------------------------------------------------

    @staticmethod
    def _base_price(inst_id: str) -> float:
        base = inst_id.split("-", 1)[0]
        return {"BTC": 60000.0, "ETH": 3000.0}.get(base, 100.0)

    def _walk(self, inst_id: str) -> float:
        last = self._last_prices.get(inst_id, self._base_price(inst_id))
        last *= 1 + self._random.gauss(0, 0.0005)
        self._last_prices[inst_id] = last
        return last

    def ticker(self, inst_id: str) -> dict[str, str]:
        """The next ``tickers`` element of ``inst_id``: a random walk of the last price."""
        base = self._base_price(inst_id)
        last = self._walk(inst_id)
        spread = base * 0.0001

        def sz() -> str:
            return f"{self._random.uniform(0.001, 5):.4f}"

        return {
            "instType": inst_type(inst_id),
            "instId": inst_id,
            "last": _px(last),
            "lastSz": sz(),
            "askPx": _px(last + spread),
            "askSz": sz(),
            "bidPx": _px(last - spread),
            "bidSz": sz(),
            "open24h": _px(base),
            "high24h": _px(max(base, last) * 1.01),
            "low24h": _px(min(base, last) * 0.99),
            "volCcy24h": f"{self._random.uniform(1e6, 1e8):.2f}",
            "vol24h": f"{self._random.uniform(1e3, 1e5):.4f}",
            "sodUtc0": _px(base),
            "sodUtc8": _px(base),
            "ts": now_ms(),
        }

    # -- trades --------------------------------------------------------------------------------

    def trades(self, inst_id: str, *, aggregated: bool = True) -> list[dict[str, Any]]:
        """One to three trades of ``inst_id``: ``trades`` elements (aggregated, with count and
        seqId), or ``trades-all`` elements (one trade each)."""
        found: list[dict[str, Any]] = []
        for _ in range(self._random.randint(1, 3)):
            last = self._walk(inst_id)
            count = self._random.randint(1, 3) if aggregated else 1
            trade_id = self._trade_ids.get(inst_id, 130_639_000) + count
            self._trade_ids[inst_id] = trade_id
            element: dict[str, Any] = {
                "instId": inst_id,
                "tradeId": str(trade_id),
                "px": _px(last),
                "sz": f"{self._random.uniform(0.0001, 2):.8f}",
                "side": self._random.choice(("buy", "sell")),
            }
            if aggregated:
                self._trade_seq += self._random.randint(1, 4)
                element.update(ts=now_ms(), count=str(count), source="0", seqId=self._trade_seq)
            else:
                element.update(source="0", ts=now_ms())
            found.append(element)
        return found

    # -- candles -------------------------------------------------------------------------------

    def candles(self, channel: str, inst_id: str, bar_ms: int) -> list[list[str]]:
        """The rows of a ``candle<bar>`` (9 elements) or ``mark-price-`` / ``index-candle<bar>``
        (6) push: the current candle, preceded by the previous one with ``confirm`` "1" when
        a new bar began since the last push."""
        now = int(time.time() * 1000)
        start = now - now % bar_ms
        last = self._walk(inst_id)
        rows: list[list[str]] = []
        current = self._candles.get((channel, inst_id))
        if current is not None and int(current[0]) != start:
            rows.append([*current[:-1], "1"])
            current = None
        if current is None:
            current = [str(start), _px(last), _px(last), _px(last), _px(last)]
            if channel.startswith("candle"):
                current += ["0", "0", "0"]
            current.append("0")
        current[2] = _px(max(float(current[2]), last))
        current[3] = _px(min(float(current[3]), last))
        current[4] = _px(last)
        if channel.startswith("candle"):
            volume = float(current[5]) + self._random.uniform(0.01, 3)
            current[5] = f"{volume:.4f}"
            current[6] = f"{volume * last:.4f}"
            current[7] = f"{volume * last:.4f}"
        self._candles[(channel, inst_id)] = current
        rows.append(list(current))
        return rows

    # -- public data channels ------------------------------------------------------------------

    def mark_price(self, inst_id: str) -> dict[str, str]:
        return {
            "instType": inst_type(inst_id),
            "instId": inst_id,
            "markPx": _px(self._walk(inst_id)),
            "ts": now_ms(),
        }

    def index_ticker(self, inst_id: str) -> dict[str, str]:
        base, last = self._base_price(inst_id), self._walk(inst_id)
        return {
            "instId": inst_id,
            "idxPx": _px(last),
            "high24h": _px(max(base, last) * 1.01),
            "low24h": _px(min(base, last) * 0.99),
            "open24h": _px(base),
            "sodUtc0": _px(base),
            "sodUtc8": _px(base),
            "ts": now_ms(),
        }

    def funding_rate(self, inst_id: str) -> dict[str, str]:
        hour = 3_600_000
        now = int(time.time() * 1000)
        funding = now - now % (8 * hour) + 8 * hour
        rate = self._random.uniform(-0.0005, 0.0005)
        return {
            "formulaType": "withRate",
            "fundingRate": f"{rate:.16f}",
            "fundingTime": str(funding),
            "impactValue": "20000",
            "instId": inst_id,
            "instType": "SWAP",
            "interestRate": "0.0001",
            "method": "current_period",
            "maxFundingRate": "0.00375",
            "minFundingRate": "-0.00375",
            "nextFundingRate": "",
            "nextFundingTime": str(funding + 8 * hour),
            "premium": f"{rate / 2:.16f}",
            "settFundingRate": f"{rate * 0.9:.16f}",
            "settState": "settled",
            "ts": str(now),
        }

    def open_interest(self, inst_id: str) -> dict[str, str]:
        oi = self._random.uniform(1e5, 3e6)
        return {
            "instId": inst_id,
            "instType": inst_type(inst_id),
            "oi": f"{oi:.8f}",
            "oiCcy": f"{oi / 100:.8f}",
            "oiUsd": f"{oi * self._walk(inst_id) / 100:.8f}",
            "ts": now_ms(),
        }

    def price_limit(self, inst_id: str) -> dict[str, Any]:
        last = self._walk(inst_id)
        return {
            "instType": inst_type(inst_id),
            "instId": inst_id,
            "buyLmt": _px(last * 1.02),
            "sellLmt": _px(last * 0.98),
            "ts": now_ms(),
            "enabled": True,
        }

    def option_summaries(self, inst_family: str) -> list[dict[str, str]]:
        """One element per option of ``inst_family`` (a call and a put at two strikes)."""
        underlying = self._walk(inst_family)
        expiry = time.strftime("%y%m%d", time.gmtime(time.time() + 7 * 86400))
        found = []
        for strike in (round(underlying * 0.9, -2), round(underlying * 1.1, -2)):
            for kind in ("C", "P"):
                delta = self._random.uniform(0, 1) * (1 if kind == "C" else -1)
                found.append(
                    {
                        "instType": "OPTION",
                        "instId": f"{inst_family}-{expiry}-{strike:.0f}-{kind}",
                        "uly": inst_family,
                        "delta": f"{delta:.10f}",
                        "gamma": f"{self._random.uniform(0, 3):.10f}",
                        "vega": f"{self._random.uniform(0, 0.001):.10f}",
                        "theta": f"{-self._random.uniform(0, 0.01):.10f}",
                        "lever": f"{self._random.uniform(1, 50):.9f}",
                        "markVol": f"{self._random.uniform(0.3, 0.9):.10f}",
                        "bidVol": f"{self._random.uniform(0.3, 0.9):.10f}",
                        "askVol": f"{self._random.uniform(0.3, 0.9):.10f}",
                        "realVol": "",
                        "deltaBS": f"{delta:.10f}",
                        "gammaBS": f"{self._random.uniform(0, 0.001):.10f}",
                        "thetaBS": f"{-self._random.uniform(0, 50):.10f}",
                        "vegaBS": f"{self._random.uniform(0, 50):.10f}",
                        "ts": now_ms(),
                        "fwdPx": _px(underlying * 1.001),
                        "volLv": f"{self._random.uniform(0.3, 0.9):.10f}",
                    }
                )
        return found

    def estimated_price(self, arg: Mapping[str, str]) -> dict[str, str]:
        family = arg.get("instFamily") or arg.get("instId", "BTC-USD").rsplit("-", 1)[0]
        expiry = time.strftime("%y%m%d", time.gmtime(time.time() + 3600))
        return {
            "instId": arg.get("instId") or f"{family}-{expiry}",
            "instType": arg.get("instType", "FUTURES"),
            "settlePx": f"{self._walk(family):.16f}",
            "settleType": "settlement",
            "ts": now_ms(),
        }

    def liquidation(self, inst_type_: str) -> dict[str, Any]:
        inst_id = {"MARGIN": "BTC-USDT"}.get(inst_type_, "BTC-USDT-SWAP")
        family = "" if inst_type_ == "MARGIN" else "BTC-USDT"
        return {
            "details": [
                {
                    "bkLoss": "0",
                    "bkPx": _px(self._walk(inst_id) * 0.97),
                    "ccy": "USDT" if inst_type_ == "MARGIN" else "",
                    "posSide": self._random.choice(("long", "short")),
                    "side": self._random.choice(("buy", "sell")),
                    "sz": str(self._random.randint(1, 300)),
                    "ts": now_ms(),
                }
            ],
            "instFamily": family,
            "instId": inst_id,
            "instType": inst_type_,
            "uly": family,
        }

    def frames(self, arg: Mapping[str, str], instruments: Iterable[str]) -> list[dict[str, Any]]:
        """One round of a market data channel's frames for the subscribers of ``arg`` (not the
        book channels); ``instruments``: the configured instruments."""
        channel, inst_id = arg["channel"], arg.get("instId", "")
        data: list[Any]
        if channel == "tickers":
            data = [self.ticker(inst_id)]
        elif channel == "trades":
            data = self.trades(inst_id)
        elif channel == "trades-all":  # one trade per push
            return [{"arg": dict(arg), "data": [t]} for t in self.trades(inst_id, aggregated=False)]
        elif (bar := bar_ms(channel)) is not None:
            data = self.candles(channel, inst_id, bar)
        elif channel == "mark-price":
            data = [self.mark_price(inst_id)]
        elif channel == "index-tickers":
            data = [self.index_ticker(inst_id)]
        elif channel == "funding-rate":
            data = [self.funding_rate(inst_id)]
        elif channel == "open-interest":
            data = [self.open_interest(inst_id)]
        elif channel == "price-limit":
            data = [self.price_limit(inst_id)]
        elif channel == "opt-summary":
            data = self.option_summaries(arg["instFamily"])
        elif channel == "estimated-price":
            data = [self.estimated_price(arg)]
        elif channel == "liquidation-orders":
            data = [self.liquidation(arg["instType"])]
        else:  # instruments: one of them changes a trading parameter
            listed = self.instruments(arg["instType"], instruments)
            data = [self._random.choice(listed)] if listed else []
            for instrument in data:
                instrument["maxMktSz"] = str(self._random.randint(100_000, 2_000_000))
        return [{"arg": dict(arg), "data": data}] if data else []

    def instruments(self, inst_type_: str, inst_ids: Iterable[str]) -> list[dict[str, Any]]:
        """The ``instruments`` elements of the configured instruments of ``inst_type_`` (every
        documented field; "" where it does not apply)."""
        found: list[dict[str, Any]] = []
        for inst_id in sorted(inst_ids):
            if inst_type(inst_id) != inst_type_:
                continue
            base, quote = inst_id.split("-")[:2]
            spot = inst_type_ in ("SPOT", "MARGIN")
            found.append(
                {
                    "alias": "",
                    "auctionEndTime": "",
                    "baseCcy": base if spot else "",
                    "category": "1",
                    "ctMult": "" if spot else "1",
                    "ctType": "" if spot else "linear",
                    "ctVal": "" if spot else "0.01",
                    "ctValCcy": "" if spot else base,
                    "contTdSwTime": "1704876947000",
                    "expTime": "",
                    "futureSettlement": False,
                    "groupId": "1",
                    "instFamily": "" if spot else f"{base}-{quote}",
                    "instId": inst_id,
                    "instType": inst_type_,
                    "lever": "10",
                    "listTime": "1606468572000",
                    "lotSz": "0.00000001" if spot else "1",
                    "maxIcebergSz": "9999999999.0000000000000000",
                    "maxLmtAmt": "1000000",
                    "maxLmtSz": "9999999999",
                    "maxMktAmt": "1000000",
                    "maxMktSz": "1000000",
                    "maxStopSz": "1000000",
                    "maxTriggerSz": "9999999999.0000000000000000",
                    "maxTwapSz": "9999999999.0000000000000000",
                    "minSz": "0.00001" if spot else "1",
                    "optType": "",
                    "openType": "call_auction" if spot else "",
                    "preMktSwTime": "",
                    "quoteCcy": quote if spot else "",
                    "settleCcy": "" if spot else quote,
                    "seriesId": "",
                    "state": "live",
                    "ruleType": "normal",
                    "stk": "",
                    "tickSz": "0.1",
                    "uly": "" if spot else f"{base}-{quote}",
                    "instIdCode": 1_000_000_000 + len(found),
                    "instCategory": "1",
                    "upcChg": [{"param": "tickSz", "newValue": "0.01", "effTime": "1704876947000"}],
                }
            )
        return found

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


def inst_type(inst_id: str) -> str:
    """The instrument type an instrument ID names: SPOT, SWAP, FUTURES or OPTION."""
    if inst_id.endswith("-SWAP"):
        return "SWAP"
    if inst_id.endswith(("-C", "-P")):
        return "OPTION"
    return "SPOT" if inst_id.count("-") == 1 else "FUTURES"


def _px(value: float) -> str:
    return f"{value:.2f}"
