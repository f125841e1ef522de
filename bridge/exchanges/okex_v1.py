"""Legacy OKEx v1 spot WebSocket adapter (``wss://real.okex.com:10440/ws/v1``), sans-I/O.

Outbound, per connection (always strict JSON, though the documentation's examples use single
quotes)::

    connection_made(now_s)  with credentials: the login frame, then (once the login is
                            acknowledged) every configured request; without: the requests
    subscribe(subs)         addChannel: one object, or a JSON array (batch) for several
    unsubscribe(subs)       removeChannel, likewise
    ping()                  {"event":"ping"} (the server answers {"event":"pong"})

Configured subscriptions are ``{channel: ok_sub_spot_bch_btc_ticker}`` with optional
``parameters`` (sent as they are) and ``binary: 0|1`` (asks the server for compressed frames),
or one of the two read-only trade API requests ``ok_spot_userinfo`` / ``ok_spot_orderinfo``
(signed with the credentials, sent once per connection and again every ``interval_seconds``).
The bridge never sends ``ok_spot_order`` or ``ok_spot_cancel_order``.

Inbound, :meth:`OkexV1Adapter.receive` takes one frame: a text frame is JSON, a binary frame
is raw deflate (no zlib header) around JSON, decided per frame. The server sends arrays of
``{"channel": ..., "data": ...}`` objects (one event or more per element), or
``{"event":"pong"}``:

    {"event":"pong"}                              -> Pong
    channel addChannel / removeChannel            -> Subscribed (op subscribe / unsubscribe)
    channel login                                 -> LoginResult
    an error (result false, error_code) naming a
    channel we know                               -> SubscribeFailed on that channel
    an error naming none                          -> ExchangeError (goes to okex.events)
    ok_sub_spot_X_{ticker,depth,depth_Y,deals,
    kline_Y,order,balance}                        -> Push, one per logical item (ticker,
                                                     depth push, deal row, kline row, ...)
    ok_spot_userinfo / ok_spot_orderinfo          -> Push (+ Subscribed for the first answer
                                                     to a configured request on a connection)
    ok_spot_order / ok_spot_cancel_order          -> Push of a SpotOrderResult on okex.spot.order
    anything else                                 -> Unrecognized

Numbers keep the text the exchange sent (``json.loads`` with number hooks), so ``0.00001`` never
becomes ``1e-05`` and ``5814.850605790395`` stays exactly that.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, timezone
from enum import Enum
from typing import Any, ClassVar, Literal

from bridge.exchanges.base import Adapter, Credentials, OutboundFrame
from bridge.exchanges.events import (
    Destination,
    Event,
    ExchangeError,
    LoginResult,
    Pong,
    Push,
    Subscribed,
    SubscribeFailed,
    Unrecognized,
)

__all__ = [
    "DEPTH_SIZES",
    "KLINE_INTERVALS",
    "MAX_INFLATED_BYTES",
    "SHANGHAI",
    "ChannelInfo",
    "OkexV1Adapter",
    "deal_timestamp_ms",
    "destination_for",
    "inflate",
    "parse_channel",
    "sign",
]

TOPIC_PREFIX = "okex"
KLINE_INTERVALS = (
    "1min",
    "3min",
    "5min",
    "15min",
    "30min",
    "1hour",
    "2hour",
    "4hour",
    "6hour",
    "12hour",
    "day",
    "3day",
    "week",
)
DEPTH_SIZES = ("5", "10", "20")

# The exchange's wall clock for deals' "HH:MM:SS". China has had no daylight saving time since
# 1991, so a fixed offset is exact and needs no time zone database.
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")

MAX_INFLATED_BYTES = 16 * 1024 * 1024
"""A compressed frame that inflates to more than this is refused (a deflate bomb)."""

USERINFO = "ok_spot_userinfo"
ORDERINFO = "ok_spot_orderinfo"
ORDER = "ok_spot_order"
CANCEL_ORDER = "ok_spot_cancel_order"
_ORDER_CHANNELS = (ORDER, CANCEL_ORDER)

# Error codes that answer a login when they arrive without a channel while it is pending:
# 10002 authentication failure, 10005 api_key or sign invalid, 10017 websocket authorization
# error, 20102 invalid login.
_LOGIN_ERROR_CODES = frozenset({"10002", "10005", "10017", "20102"})

_SYMBOL = r"[a-z0-9]+_[a-z0-9]+"
_SYMBOL_RE = re.compile(_SYMBOL)
_CHANNEL_RE = re.compile(
    rf"ok_sub_spot_(?P<symbol>{_SYMBOL})_"
    r"(?P<kind>ticker|depth(?:_(?P<depth>[0-9]+))?|deals|kline_(?P<interval>[0-9a-z]+)|order|balance)"
)
_TIME_OF_DAY = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})")
_MAX_LONG = 2**63 - 1

# Envelope fields every response element may carry besides its data; not recorded as "extra"
# (binary only says whether the frame was compressed; the raw topic keeps the frame).
_ENVELOPE = frozenset(
    {"channel", "data", "binary", "result", "success", "errorcode", "error_code", "error_msg"}
)
_PRIVATE_ENVELOPE = ("base", "quote", "product", "type")

Op = Literal["subscribe", "unsubscribe"]


# --- numbers as text -----------------------------------------------------------------------------


class _Number(str):
    """A JSON number, kept as the exact text the exchange sent."""

    __slots__ = ()


def _reject_constant(name: str) -> Any:
    # json accepts NaN and Infinity, which are not JSON.
    raise ValueError(f"{name} is not JSON")


def _loads(text: str) -> Any:
    return json.loads(text, parse_int=_Number, parse_float=_Number, parse_constant=_reject_constant)


def _compact(value: Any) -> str:
    """Compact JSON text; numbers parsed by :func:`_loads` are written back unchanged."""
    if isinstance(value, _Number):
        return str.__str__(value)
    if isinstance(value, dict):
        items = (f"{_compact(str(k))}:{_compact(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_compact(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _text(value: Any) -> str:
    """A wire value as text: strings and numbers as sent, anything else as compact JSON."""
    if isinstance(value, str):
        return str.__str__(value)
    return _compact(value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, _Number):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# --- channels and destinations -------------------------------------------------------------------


class _Kind(Enum):
    TICKER = "ticker"
    DEPTH = "depth"  # incremental
    DEPTH_FULL = "depth-full"  # depth_5, depth_10, depth_20
    DEALS = "deals"
    KLINE = "kline"
    ORDER = "order"
    BALANCE = "balance"
    USERINFO = "userinfo"
    ORDERINFO = "orderinfo"
    ORDER_RESULT = "order-result"  # answers to ok_spot_order / ok_spot_cancel_order


_SCHEMAS = {
    _Kind.TICKER: "okex/spot-ticker",
    _Kind.DEPTH: "okex/spot-depth",
    _Kind.DEPTH_FULL: "okex/spot-depth",
    _Kind.DEALS: "okex/spot-deals",
    _Kind.KLINE: "okex/spot-kline",
    _Kind.ORDER: "okex/spot-order",
    _Kind.BALANCE: "okex/spot-balance",
    _Kind.USERINFO: "okex/spot-userinfo",
    _Kind.ORDERINFO: "okex/spot-orderinfo",
    _Kind.ORDER_RESULT: "okex/spot-order",
}

_NS = "exchange_bridge.okex"


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """What a channel name says: its kind, the pair and the topic it goes to."""

    channel: str
    kind: _Kind
    topic_kind: str
    """The ``<kind>`` of ``okex.spot.<kind>``: ticker, depth, depth-5, kline-1min, order..."""
    symbol: str | None = None
    interval: str | None = None
    depth: str | None = None

    @property
    def is_request(self) -> bool:
        """ok_spot_userinfo / ok_spot_orderinfo: requests answered once, not subscriptions."""
        return self.kind in (_Kind.USERINFO, _Kind.ORDERINFO)

    @property
    def is_private(self) -> bool:
        return self.kind in (_Kind.ORDER, _Kind.BALANCE) or self.is_request


def parse_channel(channel: str) -> ChannelInfo | None:
    """The channel's meaning, or None for a name this adapter does not know."""
    if channel == USERINFO:
        return ChannelInfo(channel, _Kind.USERINFO, "userinfo")
    if channel == ORDERINFO:
        return ChannelInfo(channel, _Kind.ORDERINFO, "orderinfo")
    if channel in _ORDER_CHANNELS:
        return ChannelInfo(channel, _Kind.ORDER_RESULT, "order")
    match = _CHANNEL_RE.fullmatch(channel)
    if match is None:
        return None
    symbol, kind = match["symbol"], match["kind"]
    if match["depth"] is not None:
        if match["depth"] not in DEPTH_SIZES:
            return None
        return ChannelInfo(
            channel, _Kind.DEPTH_FULL, f"depth-{match['depth']}", symbol, depth=match["depth"]
        )
    if match["interval"] is not None:
        if match["interval"] not in KLINE_INTERVALS:
            return None
        interval = match["interval"]
        return ChannelInfo(channel, _Kind.KLINE, f"kline-{interval}", symbol, interval=interval)
    return ChannelInfo(channel, _Kind(kind), kind, symbol)


def destination_for(info: ChannelInfo, parameters: Mapping[str, str] | None = None) -> Destination:
    """Where records about one channel (and, for requests, one set of parameters) go."""
    arg = {"channel": info.channel}
    if info.symbol is not None:
        arg["symbol"] = info.symbol
    if info.interval is not None:
        arg["interval"] = info.interval
    if info.depth is not None:
        arg["depth"] = info.depth
    if info.is_request and parameters:
        arg.update((k, v) for k, v in parameters.items() if k not in ("api_key", "sign"))
    key = info.symbol or arg.get("symbol") or info.channel
    return Destination(
        topic=f"{TOPIC_PREFIX}.spot.{info.topic_kind}",
        schema=_SCHEMAS[info.kind],
        key=key,
        channel=info.channel,
        arg=arg,
    )


# --- signing -------------------------------------------------------------------------------------


def sign(parameters: Mapping[str, str], secret_key: str) -> str:
    """OKEx v1 request signature: every parameter but ``sign``, sorted by name, joined as
    ``k=v&...``, then ``&secret_key=SECRET``; MD5 as 32 upper-case hex digits. A login signs
    ``api_key=KEY&secret_key=SECRET``."""
    signed = [f"{name}={parameters[name]}" for name in sorted(parameters) if name != "sign"]
    signed.append(f"secret_key={secret_key}")
    text = "&".join(signed)
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest().upper()


# --- inbound helpers -----------------------------------------------------------------------------


class _BadElement(Exception):
    """One element (or row) cannot be typed; it becomes Unrecognized, its siblings still go."""


def inflate(data: bytes, limit: int = MAX_INFLATED_BYTES) -> bytes:
    """Inflate a raw deflate stream (no zlib header or checksum), as the server compresses
    frames. Raises ``zlib.error`` on bad data and ValueError past ``limit`` bytes."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    out = inflater.decompress(data, limit)
    if inflater.unconsumed_tail:
        raise ValueError(f"inflates to more than {limit} bytes")
    # The stream may end with a sync flush rather than a final block, as real servers did.
    return out + inflater.flush()


def _millis(name: str, value: Any) -> int | None:
    """A documented millisecond timestamp (number or digit string); missing or "" -> None."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not (value.isascii() and value.isdigit()):
        raise _BadElement(f"{name} is not a millisecond timestamp: {_text(value)[:80]!r}")
    millis = int(value)
    if millis > _MAX_LONG:
        raise _BadElement(f"{name} is out of range: {millis}")
    return millis


def _optional_scalar(name: str, value: Any) -> str | None:
    """A documented text field: strings and numbers as text, missing or null -> None."""
    if value is None:
        return None
    if isinstance(value, str):
        return _text(value)
    raise _BadElement(f"{name} is a JSON {_json_type(value)}, not a string or number")


def _scalar(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _BadElement(f"{name} is a JSON {_json_type(value)}, not a string or number")
    return _text(value)


def _optional_bool(name: str, value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    raise _BadElement(f"{name} is not a boolean: {_text(value)[:80]!r}")


def _object(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _BadElement(f"{name} is a JSON {_json_type(value)}, not an object")
    return value


def _optional_object(name: str, value: Any) -> dict[str, Any]:
    return {} if value is None else _object(name, value)


def _list(name: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _BadElement(f"{name} is a JSON {_json_type(value)}, not an array")
    return value


def _text_map(name: str, value: Any) -> dict[str, str]:
    """An object of currency -> amount, amounts as the exchange's text."""
    return {str(k): _scalar(f"{name}.{k}", v) for k, v in _optional_object(name, value).items()}


def _extras(
    values: Mapping[str, Any], known: Sequence[str] | frozenset[str], prefix: str = ""
) -> dict[str, str]:
    return {f"{prefix}{k}": _text(v) for k, v in values.items() if k not in known}


def _row_extras(row: Sequence[Any], documented: int) -> dict[str, str]:
    return {str(i): _text(v) for i, v in enumerate(row) if i >= documented}


def _row(name: str, value: Any, length: int) -> list[Any]:
    row = _list(name, value)
    if len(row) < length:
        raise _BadElement(f"{name} has {len(row)} columns, expected {length}")
    return row


def deal_timestamp_ms(time_of_day: str, received_us: int) -> int:
    """The full time of a deal whose time of day (Asia/Shanghai) is ``time_of_day``, received at
    ``received_us`` (Unix microseconds): on the receive date, or the day before when that time
    would be more than 12 h after the receive time (a deal just before midnight received just
    after), or the day after when it would be more than 12 h before it (an exchange clock a
    little ahead of ours across midnight)."""
    match = _TIME_OF_DAY.fullmatch(time_of_day)
    if match is None:
        raise ValueError(f"time {time_of_day!r} is not HH:MM:SS")
    hour, minute, second = (int(g) for g in match.groups())
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"time {time_of_day!r} is not a time of day")
    received = datetime.fromtimestamp(received_us // 1_000_000, UTC).replace(
        microsecond=received_us % 1_000_000
    )
    local_date = received.astimezone(SHANGHAI).date()
    candidate = datetime.combine(local_date, time(hour, minute, second), SHANGHAI)
    if candidate - received > timedelta(hours=12):
        candidate -= timedelta(days=1)
    elif received - candidate > timedelta(hours=12):
        candidate += timedelta(days=1)
    return int(candidate.timestamp()) * 1000


# --- payloads ------------------------------------------------------------------------------------


def _envelope_extras(element: Mapping[str, Any], known: Sequence[str] = ()) -> dict[str, str]:
    return {
        f"envelope.{k}": _text(v)
        for k, v in element.items()
        if k not in _ENVELOPE and k not in known
    }


_TICKER_FIELDS = ("buy", "high", "last", "low", "sell", "change", "vol", "dayLow", "dayHigh")


def _ticker(element: Mapping[str, Any]) -> dict[str, Any]:
    data = _object("data", element.get("data"))
    payload: dict[str, Any] = {n: _optional_scalar(n, data.get(n)) for n in _TICKER_FIELDS}
    payload["timestamp"] = _millis("timestamp", data.get("timestamp"))
    payload["extra"] = {
        **_extras(data, (*_TICKER_FIELDS, "timestamp")),
        **_envelope_extras(element),
    }
    return payload


def _levels(name: str, value: Any) -> list[dict[str, Any]]:
    levels = []
    for i, level in enumerate(_list(name, [] if value is None else value)):
        row = _row(f"{name}[{i}]", level, 2)
        levels.append(
            {
                "price": _scalar(f"{name}[{i}] price", row[0]),
                "amount": _scalar(f"{name}[{i}] amount", row[1]),
                "extra": _row_extras(row, 2),
            }
        )
    return levels


def _depth(element: Mapping[str, Any], action: str) -> dict[str, Any]:
    data = _object("data", element.get("data"))
    return {
        "action": action,
        "asks": _levels("asks", data.get("asks")),
        "bids": _levels("bids", data.get("bids")),
        "timestamp": _millis("timestamp", data.get("timestamp")),
        "extra": {
            **_extras(data, ("asks", "bids", "timestamp")),
            **_envelope_extras(element),
        },
    }


def _deal(row: list[Any], received_us: int | None) -> dict[str, Any]:
    time_of_day = _scalar("time", row[3])
    try:
        timestamp = None if received_us is None else deal_timestamp_ms(time_of_day, received_us)
    except ValueError as exc:
        raise _BadElement(str(exc)) from None
    return {
        "tid": _scalar("tid", row[0]),
        "price": _scalar("price", row[1]),
        "amount": _scalar("amount", row[2]),
        "time": time_of_day,
        "type": _scalar("type", row[4]),
        "timestamp": timestamp,
        "extra": _row_extras(row, 5),
    }


def _kline(row: list[Any]) -> dict[str, Any]:
    start = _millis("time", row[0])
    if start is None:
        raise _BadElement("time is empty")
    names = ("open", "high", "low", "close", "volume")
    return {
        "time": start,
        **{name: _scalar(name, row[i + 1]) for i, name in enumerate(names)},
        "extra": _row_extras(row, 6),
    }


_ORDER_TEXT_FIELDS = (
    "symbol",
    "orderId",
    "tradeType",
    "status",
)
_ORDER_AMOUNT_FIELDS = (
    "tradeAmount",
    "tradeUnitPrice",
    "completedTradeAmount",
    "tradePrice",
    "averagePrice",
    "unTrade",
    "sigTradeAmount",
    "sigTradePrice",
)


def _private_envelope(element: Mapping[str, Any]) -> dict[str, Any]:
    return {n: _optional_scalar(n, element.get(n)) for n in _PRIVATE_ENVELOPE}


def _order(element: Mapping[str, Any]) -> dict[str, Any]:
    data = _object("data", element.get("data"))
    payload = _private_envelope(element)
    payload.update((n, _optional_scalar(n, data.get(n))) for n in _ORDER_TEXT_FIELDS)
    payload["createdDate"] = _millis("createdDate", data.get("createdDate"))
    payload.update((n, _optional_scalar(n, data.get(n))) for n in _ORDER_AMOUNT_FIELDS)
    known = (*_ORDER_TEXT_FIELDS, "createdDate", *_ORDER_AMOUNT_FIELDS)
    payload["extra"] = {
        **_extras(data, known),
        **_envelope_extras(element, _PRIVATE_ENVELOPE),
    }
    return payload


def _balance(element: Mapping[str, Any]) -> dict[str, Any]:
    data = _object("data", element.get("data"))
    info = _optional_object("data.info", data.get("info"))
    payload = _private_envelope(element)
    payload["free"] = _text_map("free", info.get("free"))
    payload["freezed"] = _text_map("freezed", info.get("freezed"))
    payload["extra"] = {
        **_extras(data, ("info",)),
        **_extras(info, ("free", "freezed"), "info."),
        **_envelope_extras(element, _PRIVATE_ENVELOPE),
    }
    return payload


def _userinfo(element: Mapping[str, Any]) -> dict[str, Any]:
    data = _object("data", element.get("data"))
    info = _optional_object("data.info", data.get("info"))
    funds = _optional_object("data.info.funds", info.get("funds"))
    return {
        "result": _optional_bool("result", data.get("result")),
        "free": _text_map("free", funds.get("free")),
        "freezed": _text_map("freezed", funds.get("freezed")),
        "extra": {
            **_extras(data, ("result", "info")),
            **_extras(info, ("funds",), "info."),
            **_extras(funds, ("free", "freezed"), "info.funds."),
            **_envelope_extras(element),
        },
    }


_ORDERINFO_TEXT = ("order_id", "symbol", "type", "status", "price", "amount")
_ORDERINFO_AMOUNTS = ("avg_price", "deal_amount")


def _orderinfo_order(index: int, value: Any) -> dict[str, Any]:
    order = _object(f"orders[{index}]", value)
    payload: dict[str, Any] = {n: _optional_scalar(n, order.get(n)) for n in _ORDERINFO_TEXT}
    payload.update((n, _optional_scalar(n, order.get(n))) for n in _ORDERINFO_AMOUNTS)
    payload["create_date"] = _millis("create_date", order.get("create_date"))
    payload["orders_id"] = _optional_scalar("orders_id", order.get("orders_id"))
    known = (*_ORDERINFO_TEXT, *_ORDERINFO_AMOUNTS, "create_date", "orders_id")
    payload["extra"] = _extras(order, known)
    return payload


def _orderinfo(element: Mapping[str, Any]) -> dict[str, Any]:
    data = _object("data", element.get("data"))
    orders = _list("orders", data.get("orders", []))
    return {
        "result": _optional_bool("result", data.get("result")),
        "orders": [_orderinfo_order(i, o) for i, o in enumerate(orders)],
        "extra": {**_extras(data, ("result", "orders")), **_envelope_extras(element)},
    }


def _order_result(element: Mapping[str, Any], channel: str) -> dict[str, Any]:
    data = _optional_object("data", element.get("data"))
    code = _first_text(data.get("error_code"), element.get("errorcode"), element.get("error_code"))
    message = _first_text(data.get("error_msg"), element.get("error_msg"))
    result = data.get("result", element.get("result"))
    return {
        "request": channel,
        "result": _optional_bool("result", result),
        "order_id": _optional_scalar("order_id", data.get("order_id")),
        "error_code": code or None,
        "error_msg": message or None,
        "extra": {
            **_extras(data, ("result", "order_id", "error_code", "error_msg")),
            **_envelope_extras(element),
        },
    }


def _first_text(*values: Any) -> str:
    """The first value that is present and not empty, as text; "" when there is none."""
    for value in values:
        if value is not None and value != "":
            return _text(value)
    return ""


def _error_of(element: Mapping[str, Any]) -> tuple[str, str] | None:
    """(code, message) when the element reports a failure: ``result``/``success`` false, or an
    error code without ``result`` true. The code may sit in ``data`` (``error_code``) or beside
    it (``errorcode``), as the two documented layouts have it."""
    data = element.get("data")
    inner = data if isinstance(data, dict) else {}
    code = _first_text(inner.get("error_code"), element.get("errorcode"), element.get("error_code"))
    result = inner.get("result", element.get("result", element.get("success")))
    if result is False or (code and result is not True):
        message = _first_text(inner.get("error_msg"), element.get("error_msg"))
        return code, message
    return None


_PAYLOAD_TYPES = {
    _Kind.TICKER: f"{_NS}.SpotTicker",
    _Kind.DEPTH: f"{_NS}.SpotDepth",
    _Kind.DEPTH_FULL: f"{_NS}.SpotDepth",
    _Kind.DEALS: f"{_NS}.SpotDeal",
    _Kind.KLINE: f"{_NS}.SpotKline",
    _Kind.ORDER: f"{_NS}.SpotOrder",
    _Kind.BALANCE: f"{_NS}.SpotBalance",
    _Kind.USERINFO: f"{_NS}.SpotUserInfo",
    _Kind.ORDERINFO: f"{_NS}.SpotOrderInfo",
    _Kind.ORDER_RESULT: f"{_NS}.SpotOrderResult",
}


# --- configuration -------------------------------------------------------------------------------


_SUBSCRIPTION_KEYS = ("channel", "parameters", "binary", "interval_seconds")
_SECRET_PARAMETERS = ("api_key", "sign", "secret_key")


@dataclass(frozen=True, slots=True)
class _Subscription:
    info: ChannelInfo
    parameters: tuple[tuple[str, str], ...] = ()
    binary: int | None = None
    interval_seconds: float | None = None

    @property
    def key(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        return (self.info.channel, tuple(sorted(self.parameters)))

    @property
    def destination(self) -> Destination:
        return destination_for(self.info, dict(self.parameters))


def _normalize(subscription: Mapping[str, Any]) -> _Subscription:
    if not isinstance(subscription, Mapping):
        raise ValueError(
            f"OKEx v1 subscription must be a mapping, got {type(subscription).__name__}"
        )
    unknown = [k for k in subscription if k not in _SUBSCRIPTION_KEYS]
    if unknown:
        raise ValueError(
            f"OKEx v1 subscription has unknown key(s) {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(_SUBSCRIPTION_KEYS)})"
        )
    channel = subscription.get("channel")
    if not isinstance(channel, str) or not channel:
        raise ValueError("OKEx v1 subscription needs 'channel' as a non-empty string")
    if channel in _ORDER_CHANNELS:
        raise ValueError(f"{channel!r}: the bridge never places or cancels orders")
    info = parse_channel(channel)
    if info is None:
        raise ValueError(
            f"unknown OKEx v1 channel {channel!r}: expected ok_sub_spot_<base>_<quote>_<kind> "
            "with kind ticker, depth, depth_5, depth_10, depth_20, deals, order, balance or "
            f"kline_<interval> (interval one of {', '.join(KLINE_INTERVALS)}), "
            f"or {USERINFO} / {ORDERINFO}"
        )

    raw_parameters = subscription.get("parameters") or {}
    if not isinstance(raw_parameters, Mapping):
        raise ValueError(f"{channel}: 'parameters' must be a mapping")
    parameters: dict[str, str] = {}
    for name, value in raw_parameters.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"{channel}: parameter name {name!r} is not a string")
        if name in _SECRET_PARAMETERS:
            raise ValueError(
                f"{channel}: parameter {name!r} is not configured here; api_key and sign are "
                "made from the connection's credentials"
            )
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValueError(
                f"{channel}: parameter {name!r} must be a string or an integer, "
                f"got {type(value).__name__}"
            )
        parameters[name] = str(value)
    if info.kind is _Kind.ORDERINFO:
        for required in ("symbol", "order_id"):
            if required not in parameters:
                raise ValueError(f"{channel} needs parameters.{required}")
        if not _SYMBOL_RE.fullmatch(parameters["symbol"]):
            raise ValueError(f"{channel}: parameters.symbol {parameters['symbol']!r} is no pair")

    binary = subscription.get("binary")
    if binary is not None and (isinstance(binary, bool) or binary not in (0, 1)):
        raise ValueError(f"{channel}: 'binary' must be 0 or 1")

    interval = subscription.get("interval_seconds")
    if interval is not None:
        if not info.is_request:
            raise ValueError(
                f"{channel}: 'interval_seconds' is only for {USERINFO} and {ORDERINFO}"
            )
        if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
            raise ValueError(f"{channel}: 'interval_seconds' must be a positive number")
    return _Subscription(
        info,
        tuple(parameters.items()),  # as configured: sent in this order
        binary,
        None if interval is None else float(interval),
    )


# --- the adapter ---------------------------------------------------------------------------------


class _State(Enum):
    IDLE = "idle"  # no connection yet
    LOGGING_IN = "logging_in"  # login sent, no answer yet; requests wait
    READY = "ready"  # requests may be sent (logged in, or no login needed)
    LOGIN_FAILED = "login_failed"  # nothing more is sent on this connection


@dataclass(slots=True)
class _Schedule:
    subscription: _Subscription
    next_due_us: int | None = None


_SubKey = tuple[str, tuple[tuple[str, str], ...]]


@dataclass(slots=True)
class _Connection:
    """Per-connection state (a reconnect starts afresh)."""

    state: _State = _State.IDLE
    acked: set[_SubKey] = field(default_factory=set)
    # Channels whose next ok_sub_spot_X_depth push is the full book.
    depth_snapshot_due: set[str] = field(default_factory=set)
    # Requests sent and not answered yet, per channel, oldest first (answers come in order).
    pending: dict[str, deque[_Subscription]] = field(default_factory=dict)
    schedules: list[_Schedule] = field(default_factory=list)


_PENDING_LIMIT = 100
"""Unanswered requests remembered per channel; older ones are forgotten."""


class OkexV1Adapter(Adapter):
    exchange: ClassVar[str] = "okex_v1"
    topic_prefix: ClassVar[str] = TOPIC_PREFIX
    # The documented heartbeat is every 30 s; pinging at 25 s keeps the line busy before any
    # server idle close at 30 s.
    keepalive_seconds: ClassVar[float] = 25.0

    def __init__(
        self,
        subscriptions: Sequence[Mapping[str, Any]],
        credentials: Credentials | None = None,
    ) -> None:
        super().__init__(subscriptions, credentials)
        self._configured: list[_Subscription] = []
        self._add_configured([_normalize(s) for s in subscriptions])
        self.subscriptions = [self._as_config(s) for s in self._configured]
        self._conn = _Connection()

    @staticmethod
    def _as_config(sub: _Subscription) -> dict[str, Any]:
        config: dict[str, Any] = {"channel": sub.info.channel}
        if sub.parameters:
            config["parameters"] = dict(sub.parameters)
        if sub.binary is not None:
            config["binary"] = sub.binary
        if sub.interval_seconds is not None:
            config["interval_seconds"] = sub.interval_seconds
        return config

    def _add_configured(self, subs: Sequence[_Subscription]) -> list[_Subscription]:
        known = {s.key for s in self._configured}
        added = []
        for sub in subs:
            if sub.key not in known:
                known.add(sub.key)
                self._configured.append(sub)
                added.append(sub)
        return added

    # -- configuration ------------------------------------------------------------------------

    @classmethod
    def validate_subscription(cls, subscription: Mapping[str, Any]) -> None:
        _normalize(subscription)

    def destinations(self) -> list[Destination]:
        seen: set[tuple[str, str]] = set()
        out = []
        for sub in self._configured:
            destination = sub.destination
            if (destination.topic, destination.key) not in seen:
                seen.add((destination.topic, destination.key))
                out.append(destination)
        return out

    # -- outbound -------------------------------------------------------------------------------

    @property
    def _needs_login(self) -> bool:
        return self.credentials is not None and bool(self.credentials.api_key)

    def connection_made(self, now_s: float) -> None:
        self._conn = _Connection()
        self._outbound = []
        if self._needs_login:
            assert self.credentials is not None
            self._conn.state = _State.LOGGING_IN
            api_key = self.credentials.api_key
            login_sign = sign({"api_key": api_key}, self.credentials.secret_key)
            self._outbound.append(
                _compact({"event": "login", "parameters": {"api_key": api_key, "sign": login_sign}})
            )
        else:
            self._ready(int(now_s * 1_000_000))

    def _ready(self, now_us: int | None) -> None:
        self._conn.state = _State.READY
        self._conn.schedules = [
            _Schedule(s) for s in self._configured if s.interval_seconds is not None
        ]
        self._conn.depth_snapshot_due = {
            s.info.channel for s in self._configured if s.info.kind is _Kind.DEPTH
        }
        self._queue("addChannel", self._configured)
        self._reschedule(self._conn.schedules, now_us)

    def subscribe(self, subscriptions: Sequence[Mapping[str, Any]]) -> None:
        """Add subscriptions (they join the configured set and :attr:`all_subscribed`); sent
        now when the connection is ready, else with the others after login."""
        added = self._add_configured([_normalize(s) for s in subscriptions])
        self.subscriptions = [self._as_config(s) for s in self._configured]
        if self._conn.state is _State.READY and added:
            for sub in added:
                if sub.info.kind is _Kind.DEPTH:
                    self._conn.depth_snapshot_due.add(sub.info.channel)
                if sub.interval_seconds is not None:
                    self._conn.schedules.append(_Schedule(sub))
            self._queue("addChannel", added)

    def unsubscribe(self, subscriptions: Sequence[Mapping[str, Any]]) -> None:
        """removeChannel on this connection. The subscriptions stay configured (a new
        connection subscribes them again), so an acked removeChannel makes
        :attr:`all_subscribed` False. Requests (userinfo, orderinfo) stop being repeated."""
        subs = [_normalize(s) for s in subscriptions]
        if self._conn.state is not _State.READY:
            return
        removed = {s.key for s in subs}
        self._conn.schedules = [
            s for s in self._conn.schedules if s.subscription.key not in removed
        ]
        channels = [s for s in subs if not s.info.is_request]
        self._conn.acked.difference_update(s.key for s in subs if s.info.is_request)
        if channels:
            self._queue("removeChannel", channels)

    def ping(self) -> OutboundFrame:
        return '{"event":"ping"}'

    def _request(self, event: str, sub: _Subscription) -> dict[str, Any]:
        request: dict[str, Any] = {"event": event, "channel": sub.info.channel}
        parameters = dict(sub.parameters)
        if sub.info.is_request and self.credentials is not None and self.credentials.api_key:
            # Trade API requests carry their own signature (api_key and sign first, as the
            # documentation writes them); without credentials they go unsigned and the
            # exchange's error is recorded.
            api_key = self.credentials.api_key
            signature = sign({"api_key": api_key, **parameters}, self.credentials.secret_key)
            parameters = {"api_key": api_key, "sign": signature, **parameters}
        if parameters:
            request["parameters"] = parameters
        if sub.binary is not None:
            request["binary"] = sub.binary
        return request

    def _queue(self, event: str, subs: Sequence[_Subscription]) -> None:
        """One frame: a single request object, or a JSON array of them (batch)."""
        if not subs:
            return
        requests = [self._request(event, s) for s in subs]
        if event == "addChannel":
            for sub in subs:
                if sub.info.is_request:
                    self._remember_pending(sub)
        self._outbound.append(_compact(requests[0] if len(requests) == 1 else requests))

    def _remember_pending(self, sub: _Subscription) -> None:
        pending = self._conn.pending.setdefault(sub.info.channel, deque(maxlen=_PENDING_LIMIT))
        pending.append(sub)

    def _reschedule(self, schedules: Sequence[_Schedule], now_us: int | None) -> None:
        for schedule in schedules:
            interval = schedule.subscription.interval_seconds
            if now_us is not None and interval is not None:
                schedule.next_due_us = now_us + int(interval * 1_000_000)

    def _send_due_requests(self, now_us: int) -> None:
        """Repeat scheduled requests whose interval has passed. The adapter has no clock: the
        receive time of each frame is its "now", and on a quiet line the pong to each
        keepalive ping is a frame, so a request is late by at most one keepalive interval."""
        due = []
        for schedule in self._conn.schedules:
            if schedule.next_due_us is None:
                self._reschedule([schedule], now_us)  # the first send had no time
            elif schedule.next_due_us <= now_us:
                due.append(schedule)
        for schedule in due:
            self._queue("addChannel", [schedule.subscription])
        self._reschedule(due, now_us)

    # -- inbound --------------------------------------------------------------------------------

    def receive(self, data: str | bytes, received_us: int | None = None) -> list[Event]:
        try:
            events = self._receive(data, received_us)
            if received_us is not None and self._conn.state is _State.READY:
                self._send_due_requests(received_us)
            return events
        except Exception as exc:
            # Deliberate safety net: receive() must never raise, or a bug here would escape
            # into the session loop and drop the connection. The frame goes to the dead-letter
            # topic with this reason (exception type and text), so the bug stays visible.
            return [Unrecognized(reason=f"adapter error: {type(exc).__name__}: {exc}")]

    def _receive(self, data: str | bytes, received_us: int | None) -> list[Event]:
        if isinstance(data, bytes):
            try:
                raw = inflate(data)
            except (zlib.error, ValueError) as exc:
                return [Unrecognized(reason=f"binary frame is not raw deflate: {exc}")]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                return [Unrecognized(reason="inflated frame is not UTF-8")]
        else:
            text = data
        if not text.strip():
            return [Unrecognized(reason="empty frame")]
        try:
            message = _loads(text)
        except json.JSONDecodeError as exc:
            return [Unrecognized(reason=f"not JSON: {exc.msg} at char {exc.pos}")]
        except (ValueError, RecursionError) as exc:
            return [Unrecognized(reason=f"not JSON: {exc}")]

        if isinstance(message, dict):
            if "event" in message:
                return [self._on_event(message)]
            if "channel" in message or "data" in message:
                message = [message]  # one response element without its array
            else:
                return [Unrecognized(reason="object has neither event nor channel/data")]
        if not isinstance(message, list):
            return [Unrecognized(reason=f"JSON {_json_type(message)} is not an array")]
        if not message:
            return [Unrecognized(reason="empty array")]
        events: list[Event] = []
        for index, element in enumerate(message):
            events.extend(self._on_element(index, element, received_us))
        return events

    def _on_event(self, message: dict[str, Any]) -> Event:
        event = message["event"]
        if event == "pong":
            return Pong()
        return Unrecognized(reason=f"unknown event object {_text(event)[:80]!r}")

    def _on_element(self, index: int, element: Any, received_us: int | None) -> list[Event]:
        if not isinstance(element, dict):
            return [Unrecognized(reason=f"[{index}] is a JSON {_json_type(element)}")]
        channel = element.get("channel")
        error = _error_of(element)
        if channel in ("addChannel", "removeChannel"):
            op: Op = "subscribe" if channel == "addChannel" else "unsubscribe"
            return [self._on_ack(index, element, op, error)]
        if channel == "login":
            return [self._on_login(error)]
        if not isinstance(channel, str) or not channel:
            if error is not None:
                return [self._exchange_error(error, None)]
            return [Unrecognized(reason=f"[{index}] has no channel")]
        info = parse_channel(channel)
        if info is None:
            if error is not None:
                return [self._exchange_error(error, channel)]
            return [Unrecognized(reason=f"[{index}] unknown channel {channel[:80]!r}")]
        try:
            return self._on_channel(info, element, error, received_us)
        except _BadElement as exc:
            return [Unrecognized(reason=f"{channel}: {exc}")]

    def _exchange_error(self, error: tuple[str, str], channel: str | None) -> Event:
        code, message = error
        # Nothing but the login is sent while it waits, so a login error code that names no
        # channel in that window answers the login.
        if self._conn.state is _State.LOGGING_IN and code in _LOGIN_ERROR_CODES:
            self._conn.state = _State.LOGIN_FAILED
            return LoginResult(ok=False, code=code, message=message)
        # v1 requests carry no id: the channel is what identifies the request answered.
        return ExchangeError(code=code, message=message, request_id=channel)

    def _on_ack(
        self, index: int, element: dict[str, Any], op: Op, error: tuple[str, str] | None
    ) -> Event:
        data = element.get("data")
        target = data.get("channel") if isinstance(data, dict) else None
        info = parse_channel(target) if isinstance(target, str) and target else None
        if error is not None:
            if info is None:
                return self._exchange_error(error, target if isinstance(target, str) else None)
            code, message = error
            return SubscribeFailed(
                destination=self._destination(info), op=op, code=code, message=message
            )
        if info is None:
            shown = _text(target)[:80] if target is not None else "nothing"
            return Unrecognized(reason=f"[{index}] {op} ack names {shown}, not a known channel")
        matching = {s.key for s in self._configured if s.info.channel == info.channel}
        if op == "subscribe":
            self._conn.acked.update(matching)
            if info.kind is _Kind.DEPTH:
                self._conn.depth_snapshot_due.add(info.channel)
        else:
            self._conn.acked.difference_update(matching)
        return Subscribed(destination=self._destination(info), op=op)

    def _destination(self, info: ChannelInfo) -> Destination:
        """A channel's destination; for requests, that of the oldest unanswered request."""
        if info.is_request:
            pending = self._conn.pending.get(info.channel)
            if pending:
                return pending[0].destination
            configured = [s for s in self._configured if s.info.channel == info.channel]
            if len(configured) == 1:
                return configured[0].destination
        return destination_for(info)

    def _on_login(self, error: tuple[str, str] | None) -> Event:
        ok = error is None
        code, message = error if error is not None else ("", "")
        if self._conn.state is _State.LOGGING_IN:
            if ok:
                self._ready(None)
            else:
                self._conn.state = _State.LOGIN_FAILED
        return LoginResult(ok=ok, code=code, message=message)

    def _on_channel(
        self,
        info: ChannelInfo,
        element: dict[str, Any],
        error: tuple[str, str] | None,
        received_us: int | None,
    ) -> list[Event]:
        if info.kind is _Kind.ORDER_RESULT:
            # Answers to order / cancel requests are recorded as they are, failures included.
            return [self._push(destination_for(info), info, _order_result(element, info.channel))]
        if info.is_request:
            return self._on_request_answer(info, element, error)
        destination = destination_for(info)
        if error is not None:
            code, message = error
            return [
                SubscribeFailed(destination=destination, op="subscribe", code=code, message=message)
            ]
        match info.kind:
            case _Kind.TICKER:
                payload = _ticker(element)
                return [self._push(destination, info, payload, payload["timestamp"])]
            case _Kind.DEPTH | _Kind.DEPTH_FULL:
                return [self._on_depth(destination, info, element)]
            case _Kind.DEALS:
                return self._rows(destination, info, element, 5, lambda r: _deal(r, received_us))
            case _Kind.KLINE:
                return self._rows(destination, info, element, 6, _kline)
            case _Kind.ORDER:
                payload = _order(element)
                return [self._push(destination, info, payload, payload["createdDate"])]
            case _Kind.BALANCE:
                return [self._push(destination, info, _balance(element))]
        raise AssertionError(f"unhandled channel kind {info.kind}")  # pragma: no cover

    def _on_depth(
        self, destination: Destination, info: ChannelInfo, element: dict[str, Any]
    ) -> Event:
        if info.kind is _Kind.DEPTH_FULL:
            action = "snapshot"
        else:
            snapshot = info.channel in self._conn.depth_snapshot_due
            action = "snapshot" if snapshot else "update"
        payload = _depth(element, action)
        # Only a push that could be typed uses up the snapshot.
        self._conn.depth_snapshot_due.discard(info.channel)
        return self._push(destination, info, payload, payload["timestamp"])

    def _rows(
        self,
        destination: Destination,
        info: ChannelInfo,
        element: dict[str, Any],
        columns: int,
        build: Callable[[list[Any]], dict[str, Any]],
    ) -> list[Event]:
        rows = _list("data", element.get("data"))
        # Row records have no fields beside the row: unknown fields beside data go into each
        # row's extra, so nothing is lost.
        beside = _envelope_extras(element)
        events: list[Event] = []
        for i, value in enumerate(rows):
            try:
                payload = build(_row(f"data[{i}]", value, columns))
            except _BadElement as exc:
                events.append(Unrecognized(reason=f"{info.channel} data[{i}]: {exc}"))
                continue
            payload["extra"].update(beside)
            time_ms = payload.get("timestamp", payload.get("time"))
            events.append(self._push(destination, info, payload, time_ms))
        return events

    def _on_request_answer(
        self, info: ChannelInfo, element: dict[str, Any], error: tuple[str, str] | None
    ) -> list[Event]:
        pending = self._conn.pending.get(info.channel)
        request = pending.popleft() if pending else None
        destination = request.destination if request is not None else self._destination(info)
        if error is not None:
            code, message = error
            return [
                SubscribeFailed(destination=destination, op="subscribe", code=code, message=message)
            ]
        payload = _userinfo(element) if info.kind is _Kind.USERINFO else _orderinfo(element)
        events: list[Event] = []
        if request is not None and request.key not in self._conn.acked:
            # The first answer to a configured request on this connection is its ack.
            self._conn.acked.add(request.key)
            events.append(Subscribed(destination=destination, op="subscribe"))
        events.append(self._push(destination, info, payload))
        return events

    @staticmethod
    def _push(
        destination: Destination,
        info: ChannelInfo,
        payload: dict[str, Any],
        event_time_ms: int | None = None,
    ) -> Push:
        # No content identity: v1 has no overlapping connections (no handover notice), and
        # equal pushes are real (the seed's own kline example repeats a row), so none is
        # dropped as a copy.
        return Push(
            destination=destination,
            payload_type=_PAYLOAD_TYPES[info.kind],
            payload=payload,
            event_time_ms=event_time_ms,
        )

    # -- state ----------------------------------------------------------------------------------

    @property
    def all_subscribed(self) -> bool:
        return self._conn.state is _State.READY and all(
            s.key in self._conn.acked for s in self._configured
        )
