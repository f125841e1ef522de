"""The OKX channels with typed records: for each, its schema, its payload record, and the fields
of that record in schema order (names as OKX writes them), each with the kind of value it holds.

Field names, kinds and meanings are OKX's v5 documentation's (the docs of each field are in
the schema files under ``schemas/okx/``; ``tests/unit/exchanges/okx/test_channels.py`` checks
that these tables and the schemas agree). Kinds:

    (none)  text, exactly as sent (prices, sizes, enumerations, ids); missing or null -> null
    ms      a documented millisecond timestamp -> timestamp-millis; "" (OKX's "absent") -> null
    long    a JSON integer -> long;  bool  a JSON boolean;  texts  an array of strings
    many(…) an array of objects -> an array of records;  one(…)  one object -> a record

A field OKX adds later lands in the record's ``extra`` map, so nothing is lost. A channel not
listed here keeps the generic ``okx/channel`` record (the element's exact JSON text), so any
channel can be added in configuration without code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Kind(Enum):
    TEXT = "text"
    MILLIS = "ms"
    LONG = "long"
    BOOL = "bool"
    TEXTS = "texts"


@dataclass(frozen=True, slots=True)
class Nested:
    """A field holding objects: ``many`` (an array of them) or one."""

    fields: Mapping[str, FieldKind]
    many: bool


FieldKind = Kind | Nested
Fields = Mapping[str, FieldKind]

EventTime = Callable[[Mapping[str, Any]], int | None]
"""The record's event_time (ms) from its typed payload."""


def _fields(names: str, **nested: Nested) -> Fields:
    """``"a b:ms c"`` -> {"a": TEXT, "b": MILLIS, "c": ...}; nested fields by keyword."""
    table: dict[str, FieldKind] = {}
    for token in names.split():
        name, _, kind = token.partition(":")
        table[name] = nested[name] if name in nested else Kind(kind or "text")
    return table


def many(fields: Fields) -> Nested:
    return Nested(fields, many=True)


def one(fields: Fields) -> Nested:
    return Nested(fields, many=False)


def _field(name: str) -> EventTime:
    def event_time(payload: Mapping[str, Any]) -> int | None:
        value = payload[name]
        return value if isinstance(value, int) else None

    return event_time


def _latest_detail(payload: Mapping[str, Any]) -> int | None:
    """liquidation-orders: the latest ``ts`` of the element's details (OKX says they need not
    come in order)."""
    times = [d["ts"] for d in payload["details"] or () if d["ts"] is not None]
    return max(times) if times else None


@dataclass(frozen=True, slots=True)
class TypedChannel:
    schema: str
    """Schema id under ``schemas/``, e.g. ``okx/tickers``."""
    payload_type: str
    """Full name of the payload record, e.g. ``exchange_bridge.okx.Ticker``."""
    fields: Fields
    """The element's fields, in schema order (after ``push_fields``; ``extra`` last)."""
    push_fields: Fields = field(default_factory=dict)
    """Fields of the push itself (outside ``data``), repeated in the record of each element."""
    event_time: EventTime | None = None
    rows: bool = False
    """The elements are arrays (candles): ``fields`` name their positions."""
    book: bool = False
    """An order book channel: :mod:`bridge.exchanges.okx.book` types it and checks the book."""


def _typed(
    name: str,
    record: str,
    fields: Fields,
    *,
    event_time: str | EventTime | None = "ts",
    push_fields: Fields | None = None,
    rows: bool = False,
    book: bool = False,
) -> TypedChannel:
    return TypedChannel(
        schema=f"okx/{name}",
        payload_type=f"exchange_bridge.okx.{record}",
        fields=fields,
        push_fields=push_fields or {},
        event_time=_field(event_time) if isinstance(event_time, str) else event_time,
        rows=rows,
        book=book,
    )


# --- nested records ------------------------------------------------------------------------------

_BOOK_LEVEL = _fields("price size deprecated orders")
_LIQUIDATION_DETAIL = _fields("side posSide bkPx sz bkLoss ccy ts:ms")
_UPCOMING_CHANGE = _fields("param newValue effTime:ms")
_ACCOUNT_DETAIL = _fields(
    "ccy eq cashBal uTime:ms isoEq availEq disEq fixedBal availBal frozenBal ordFrozen liab "
    "upl uplLiab crossLiab isoLiab rewardBal mgnRatio imr mmr interest twap frpType maxLoan "
    "eqUsd borrowFroz notionalLever coinUsdPrice stgyEq isoUpl spotInUseAmt clSpotInUseAmt "
    "maxSpotInUseAmt spotIsoBal smtSyncEq spotCopyTradingEq spotBal openAvgPx accAvgPx "
    "spotUpl spotUplRatio totalPnl totalPnlRatio colRes colBorrAutoConversion "
    "collateralRestrict:bool collateralEnabled:bool autoLendStatus autoLendMtAmt"
)
_CLOSE_ORDER_ALGO = _fields(
    "algoId slTriggerPx slTriggerPxType tpTriggerPx tpTriggerPxType closeFraction"
)
_BALANCE = _fields("ccy cashBal uTime:ms")
_POSITION_DATA = _fields(
    "posId tradeId instId instType mgnMode avgPx ccy posSide pos baseBal quoteBal posCcy "
    "nonSettleAvgPx settledPnl uTime:ms"
)
_POSITION_TRADE = _fields("instId tradeId")
_ATTACHED_ALGO_ORDER = _fields(
    "attachAlgoId attachAlgoClOrdId tpOrdKind tpTriggerPx tpTriggerRatio tpTriggerPxType "
    "tpOrdPx slTriggerPx slTriggerRatio slTriggerPxType slOrdPx sz amendPxOnTriggerType "
    "callbackRatio callbackSpread activePx"
)
_ALGO_ATTACHED_ORDER = _fields(
    "attachAlgoClOrdId tpTriggerPx tpTriggerRatio tpTriggerPxType tpOrdPx slTriggerPx "
    "slTriggerRatio slTriggerPxType slOrdPx callbackRatio callbackSpread activePx"
)

# --- channels ------------------------------------------------------------------------------------

_PAGES = _fields("eventType curPage:long lastPage:bool")
"""account and positions: the push's type and page, outside data."""

STATUS = _typed(
    "status",
    "Status",
    _fields(
        "title state begin:ms end:ms preOpenBegin:ms href serviceType system scheDesc "
        "maintType env ts:ms"
    ),
)
ECONOMIC_CALENDAR = _typed(
    "economic-calendar",
    "EconomicCalendar",
    _fields(
        "calendarId date:ms region category event refDate:ms actual previous forecast "
        "importance prevInitial ccy unit ts:ms "
        # v2: documented on OKX's REST calendar (0: the time is known, 1: only the date)
        "dateSpan"
    ),
)
TICKERS = _typed(
    "tickers",
    "Ticker",
    _fields(
        "instType instId last lastSz askPx askSz bidPx bidSz open24h high24h low24h volCcy24h "
        "vol24h sodUtc0 sodUtc8 ts:ms"
    ),
)
TRADES = _typed(
    "trades", "Trade", _fields("instId tradeId px sz side ts:ms count source seqId:long")
)
BOOKS = _typed(
    "books",
    "Book",
    _fields(
        "instId action asks bids ts:ms checksum:long prevSeqId:long seqId:long verified",
        asks=many(_BOOK_LEVEL),
        bids=many(_BOOK_LEVEL),
    ),
    book=True,
)
CANDLE = _typed(
    "candle", "Candle", _fields("ts:ms o h l c vol volCcy volCcyQuote confirm"), rows=True
)
MARK_PRICE_CANDLE = _typed(
    "mark-price-candle", "MarkPriceCandle", _fields("ts:ms o h l c confirm"), rows=True
)
INDEX_CANDLE = _typed("index-candle", "IndexCandle", _fields("ts:ms o h l c confirm"), rows=True)
MARK_PRICE = _typed("mark-price", "MarkPrice", _fields("instType instId markPx ts:ms"))
INDEX_TICKERS = _typed(
    "index-tickers",
    "IndexTicker",
    _fields("instId idxPx open24h high24h low24h sodUtc0 sodUtc8 ts:ms"),
)
FUNDING_RATE = _typed(
    "funding-rate",
    "FundingRate",
    _fields(
        "instType instId method formulaType fundingRate nextFundingRate fundingTime:ms "
        "nextFundingTime:ms minFundingRate maxFundingRate interestRate impactValue settState "
        "settFundingRate premium ts:ms"
    ),
)
OPEN_INTEREST = _typed(
    "open-interest", "OpenInterest", _fields("instType instId oi oiCcy oiUsd ts:ms")
)
PRICE_LIMIT = _typed(
    "price-limit", "PriceLimit", _fields("instType instId buyLmt sellLmt ts:ms enabled:bool")
)
OPT_SUMMARY = _typed(
    "opt-summary",
    "OptionSummary",
    _fields(
        "instType instId uly delta gamma vega theta deltaBS gammaBS vegaBS thetaBS lever "
        "markVol bidVol askVol realVol volLv fwdPx ts:ms"
    ),
)
ESTIMATED_PRICE = _typed(
    "estimated-price",
    "EstimatedPrice",
    _fields("instType instId settleType settlePx ts:ms"),
)
LIQUIDATION_ORDERS = _typed(
    "liquidation-orders",
    "LiquidationOrder",
    _fields("instType instId uly instFamily details", details=many(_LIQUIDATION_DETAIL)),
    event_time=_latest_detail,
)
INSTRUMENTS = _typed(
    "instruments",
    "Instrument",
    _fields(
        "instType seriesId instId uly groupId instFamily category baseCcy quoteCcy settleCcy "
        "ctVal ctMult ctValCcy optType stk listTime:ms auctionEndTime:ms contTdSwTime:ms "
        "preMktSwTime:ms openType expTime:ms lever tickSz lotSz minSz ctType alias state "
        "ruleType maxLmtSz maxMktSz maxLmtAmt maxMktAmt maxTwapSz maxIcebergSz maxTriggerSz "
        "maxStopSz futureSettlement:bool instIdCode:long instCategory upcChg",
        upcChg=many(_UPCOMING_CHANGE),
    ),
    # No field says when the change happened (listTime and expTime are schedule times).
    event_time=None,
)
ACCOUNT = _typed(
    "account",
    "Account",
    _fields(
        "uTime:ms totalEq isoEq adjEq availEq ordFroz imr mmr borrowFroz mgnRatio notionalUsd "
        "notionalUsdForBorrow notionalUsdForSwap notionalUsdForFutures notionalUsdForOption "
        "upl delta deltaLever deltaNeutralStatus details",
        details=many(_ACCOUNT_DETAIL),
    ),
    push_fields=_PAGES,
    event_time="uTime",
)
POSITIONS = _typed(
    "positions",
    "Position",
    _fields(
        "instType mgnMode posId posSide pos hedgedPos baseBal quoteBal baseBorrowed "
        "baseInterest quoteBorrowed quoteInterest posCcy availPos avgPx upl uplRatio uplLastPx "
        "uplRatioLastPx instId lever liqPx markPx imr margin mgnRatio mmr liab liabCcy "
        "interest tradeId notionalUsd optVal pendingCloseOrdLiabVal adl bizRefId bizRefType "
        "ccy last idxPx usdPx bePx deltaBS deltaPA gammaBS gammaPA thetaBS thetaPA vegaBS "
        "vegaPA spotInUseAmt spotInUseCcy clSpotInUseAmt maxSpotInUseAmt realizedPnl pnl fee "
        "fundingFee liqPenalty closeOrderAlgo cTime:ms uTime:ms pTime:ms nonSettleAvgPx "
        "settledPnl",
        closeOrderAlgo=many(_CLOSE_ORDER_ALGO),
    ),
    push_fields=_PAGES,
    event_time="pTime",
)
BALANCE_AND_POSITION = _typed(
    "balance_and_position",
    "BalanceAndPosition",
    _fields(
        "pTime:ms eventType balData posData trades",
        balData=many(_BALANCE),
        posData=many(_POSITION_DATA),
        trades=many(_POSITION_TRADE),
    ),
    event_time="pTime",
)
ORDERS = _typed(
    "orders",
    "Order",
    _fields(
        "instType instId tgtCcy ccy ordId clOrdId tag px pxUsd pxVol pxType sz notionalUsd "
        "ordType side posSide tdMode fillPx tradeId fillSz fillPnl fillTime:ms fillFee "
        "fillFeeCcy fillPxVol fillPxUsd fillMarkVol fillFwdPx fillMarkPx fillIdxPx execType "
        "accFillSz fillNotionalUsd avgPx state lever attachAlgoClOrdId tpTriggerPx "
        "tpTriggerPxType tpOrdPx slTriggerPx slTriggerPxType slOrdPx attachAlgoOrds "
        "linkedAlgoOrd stpId stpMode feeCcy fee rebateCcy rebate pnl source cancelSource "
        "amendSource category isTpLimit uTime:ms cTime:ms reqId amendResult reduceOnly "
        "quickMgnType algoClOrdId algoId lastPx code msg tradeQuoteCcy outcome",
        attachAlgoOrds=many(_ATTACHED_ALGO_ORDER),
        linkedAlgoOrd=one(_fields("algoId")),
    ),
    event_time="uTime",
)
FILLS = _typed(
    "fills",
    "Fill",
    _fields("instId fillSz fillPx side ts:ms ordId clOrdId tradeId execType count"),
)
ORDERS_ALGO = _typed(
    "orders-algo",
    "AlgoOrder",
    _fields(
        "instType instId ccy ordId ordIdList:texts algoId clOrdId sz ordType side posSide "
        "tdMode tgtCcy lever state tpTriggerPx tpTriggerPxType tpOrdPx slTriggerPx "
        "slTriggerPxType slOrdPx triggerPx triggerPxType ordPx advanceOrdType last actualSz "
        "actualPx notionalUsd tag actualSide triggerTime:ms reduceOnly failCode algoClOrdId "
        "reqId amendResult amendPxOnTriggerType attachAlgoOrds linkedOrd cTime:ms uTime:ms "
        "isTradeBorrowMode chaseType chaseVal maxChaseType maxChaseVal tradeQuoteCcy "
        "closeFraction quickMgnType",
        attachAlgoOrds=many(_ALGO_ATTACHED_ORDER),
        linkedOrd=one(_fields("ordId")),
    ),
    event_time="uTime",
)

TYPED_CHANNELS: Mapping[str, TypedChannel] = {
    "status": STATUS,
    "economic-calendar": ECONOMIC_CALENDAR,
    "tickers": TICKERS,
    "trades": TRADES,
    "trades-all": TRADES,
    **dict.fromkeys(
        ("books", "books5", "bbo-tbt", "books-l2-tbt", "books50-l2-tbt", "books-elp"), BOOKS
    ),
    "mark-price": MARK_PRICE,
    "index-tickers": INDEX_TICKERS,
    "funding-rate": FUNDING_RATE,
    "open-interest": OPEN_INTEREST,
    "price-limit": PRICE_LIMIT,
    "opt-summary": OPT_SUMMARY,
    "estimated-price": ESTIMATED_PRICE,
    "liquidation-orders": LIQUIDATION_ORDERS,
    "instruments": INSTRUMENTS,
    "account": ACCOUNT,
    "positions": POSITIONS,
    "balance_and_position": BALANCE_AND_POSITION,
    "orders": ORDERS,
    "fills": FILLS,
    "orders-algo": ORDERS_ALGO,
}
"""Channels named in full. Candle channels are a family each (below)."""

_BAR_CHANNEL = re.compile(r"(candle|mark-price-candle|index-candle)[0-9]+[smHDWMY](?:utc)?")
"""``candle1m``, ``mark-price-candle1Dutc``, ``index-candle30m``: the family, then the bar."""
BAR_FAMILIES: Mapping[str, TypedChannel] = {
    "candle": CANDLE,
    "mark-price-candle": MARK_PRICE_CANDLE,
    "index-candle": INDEX_CANDLE,
}

GENERIC_SCHEMA = "okx/channel"
GENERIC_PAYLOAD_TYPE = "exchange_bridge.okx.ChannelData"


def typed_channel(channel: str) -> TypedChannel | None:
    """The typed record of ``channel``; None for a channel carried generically."""
    typed = TYPED_CHANNELS.get(channel)
    if typed is None and (bar := _BAR_CHANNEL.fullmatch(channel)) is not None:
        typed = BAR_FAMILIES[bar[1]]
    return typed


def schema_of(channel: str) -> str:
    typed = typed_channel(channel)
    return typed.schema if typed else GENERIC_SCHEMA
