"""OKEx v1 payloads: what each channel's data becomes (a ticker, a depth push, each deal and
kline row, an order, a balance, the answers to requests), and the value conversions they share.

Numbers keep the text the exchange sent (:mod:`bridge.exchanges.wire`), so ``0.00001`` never
becomes ``1e-05`` and ``5814.850605790395`` stays exactly that.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, time, timedelta, timezone
from typing import Any

from bridge.exchanges import wire
from bridge.exchanges.okex_v1.channels import Kind
from bridge.exchanges.wire import BadElement

# The exchange's wall clock for deals' "HH:MM:SS". China has had no daylight saving time since
# 1991, so a fixed offset is exact and needs no time zone database.
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")

_TIME_OF_DAY = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})")

# Envelope fields every response element may carry besides its data; not recorded as "extra"
# (binary only says whether the frame was compressed; the raw topic keeps the frame).
_ENVELOPE = frozenset(
    {"channel", "data", "binary", "result", "success", "errorcode", "error_code", "error_msg"}
)
_PRIVATE_ENVELOPE = ("base", "quote", "product", "type")


def _optional_scalar(name: str, value: Any) -> str | None:
    """A documented text field: strings and numbers as text, missing or null -> None."""
    if value is None:
        return None
    if isinstance(value, str):
        return wire.text(value)
    raise BadElement(f"{name} is a JSON {wire.json_type(value)}, not a string or number")


def _scalar(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise BadElement(f"{name} is a JSON {wire.json_type(value)}, not a string or number")
    return wire.text(value)


def _optional_bool(name: str, value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    raise BadElement(f"{name} is not a boolean: {wire.text(value)[:80]!r}")


def _object(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadElement(f"{name} is a JSON {wire.json_type(value)}, not an object")
    return value


def _optional_object(name: str, value: Any) -> dict[str, Any]:
    return {} if value is None else _object(name, value)


def array(name: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise BadElement(f"{name} is a JSON {wire.json_type(value)}, not an array")
    return value


def _text_map(name: str, value: Any) -> dict[str, str]:
    """An object of currency -> amount, amounts as the exchange's text."""
    return {str(k): _scalar(f"{name}.{k}", v) for k, v in _optional_object(name, value).items()}


def _extras(
    values: Mapping[str, Any], known: Sequence[str] | frozenset[str], prefix: str = ""
) -> dict[str, str]:
    return {f"{prefix}{k}": wire.text(v) for k, v in values.items() if k not in known}


def _row_extras(row: Sequence[Any], documented: int) -> dict[str, str]:
    return {str(i): wire.text(v) for i, v in enumerate(row) if i >= documented}


def row_of(name: str, value: Any, length: int) -> list[Any]:
    row = array(name, value)
    if len(row) < length:
        raise BadElement(f"{name} has {len(row)} columns, expected {length}")
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


def envelope_extras(element: Mapping[str, Any], known: Sequence[str] = ()) -> dict[str, str]:
    return {
        f"envelope.{k}": wire.text(v)
        for k, v in element.items()
        if k not in _ENVELOPE and k not in known
    }


_TICKER_FIELDS = ("buy", "high", "last", "low", "sell", "change", "vol", "dayLow", "dayHigh")


def ticker_payload(element: Mapping[str, Any]) -> dict[str, Any]:
    data = _object("data", element.get("data"))
    payload: dict[str, Any] = {n: _optional_scalar(n, data.get(n)) for n in _TICKER_FIELDS}
    payload["timestamp"] = wire.millis("timestamp", data.get("timestamp"))
    payload["extra"] = {
        **_extras(data, (*_TICKER_FIELDS, "timestamp")),
        **envelope_extras(element),
    }
    return payload


def _levels(name: str, value: Any) -> list[dict[str, Any]]:
    levels = []
    for i, level in enumerate(array(name, [] if value is None else value)):
        row = row_of(f"{name}[{i}]", level, 2)
        levels.append(
            {
                "price": _scalar(f"{name}[{i}] price", row[0]),
                "amount": _scalar(f"{name}[{i}] amount", row[1]),
                "extra": _row_extras(row, 2),
            }
        )
    return levels


def depth_payload(element: Mapping[str, Any], action: str) -> dict[str, Any]:
    data = _object("data", element.get("data"))
    return {
        "action": action,
        "asks": _levels("asks", data.get("asks")),
        "bids": _levels("bids", data.get("bids")),
        "timestamp": wire.millis("timestamp", data.get("timestamp")),
        "extra": {
            **_extras(data, ("asks", "bids", "timestamp")),
            **envelope_extras(element),
        },
    }


def deal_payload(row: list[Any], received_us: int | None) -> dict[str, Any]:
    time_of_day = _scalar("time", row[3])
    try:
        timestamp = None if received_us is None else deal_timestamp_ms(time_of_day, received_us)
    except ValueError as exc:
        raise BadElement(str(exc)) from None
    return {
        "tid": _scalar("tid", row[0]),
        "price": _scalar("price", row[1]),
        "amount": _scalar("amount", row[2]),
        "time": time_of_day,
        "type": _scalar("type", row[4]),
        "timestamp": timestamp,
        "extra": _row_extras(row, 5),
    }


def kline_payload(row: list[Any]) -> dict[str, Any]:
    start = wire.millis("time", row[0])
    if start is None:
        raise BadElement("time is empty")
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


def order_payload(element: Mapping[str, Any]) -> dict[str, Any]:
    data = _object("data", element.get("data"))
    payload = _private_envelope(element)
    payload.update((n, _optional_scalar(n, data.get(n))) for n in _ORDER_TEXT_FIELDS)
    payload["createdDate"] = wire.millis("createdDate", data.get("createdDate"))
    payload.update((n, _optional_scalar(n, data.get(n))) for n in _ORDER_AMOUNT_FIELDS)
    known = (*_ORDER_TEXT_FIELDS, "createdDate", *_ORDER_AMOUNT_FIELDS)
    payload["extra"] = {
        **_extras(data, known),
        **envelope_extras(element, _PRIVATE_ENVELOPE),
    }
    return payload


def balance_payload(element: Mapping[str, Any]) -> dict[str, Any]:
    data = _object("data", element.get("data"))
    info = _optional_object("data.info", data.get("info"))
    payload = _private_envelope(element)
    payload["free"] = _text_map("free", info.get("free"))
    payload["freezed"] = _text_map("freezed", info.get("freezed"))
    payload["extra"] = {
        **_extras(data, ("info",)),
        **_extras(info, ("free", "freezed"), "info."),
        **envelope_extras(element, _PRIVATE_ENVELOPE),
    }
    return payload


def userinfo_payload(element: Mapping[str, Any]) -> dict[str, Any]:
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
            **envelope_extras(element),
        },
    }


_ORDERINFO_TEXT = ("order_id", "symbol", "type", "status", "price", "amount")
_ORDERINFO_AMOUNTS = ("avg_price", "deal_amount")


def _orderinfo_order(index: int, value: Any) -> dict[str, Any]:
    order = _object(f"orders[{index}]", value)
    payload: dict[str, Any] = {n: _optional_scalar(n, order.get(n)) for n in _ORDERINFO_TEXT}
    payload.update((n, _optional_scalar(n, order.get(n))) for n in _ORDERINFO_AMOUNTS)
    payload["create_date"] = wire.millis("create_date", order.get("create_date"))
    payload["orders_id"] = _optional_scalar("orders_id", order.get("orders_id"))
    known = (*_ORDERINFO_TEXT, *_ORDERINFO_AMOUNTS, "create_date", "orders_id")
    payload["extra"] = _extras(order, known)
    return payload


def orderinfo_payload(element: Mapping[str, Any]) -> dict[str, Any]:
    data = _object("data", element.get("data"))
    orders = array("orders", data.get("orders", []))
    return {
        "result": _optional_bool("result", data.get("result")),
        "orders": [_orderinfo_order(i, o) for i, o in enumerate(orders)],
        "extra": {**_extras(data, ("result", "orders")), **envelope_extras(element)},
    }


def order_result_payload(element: Mapping[str, Any], channel: str) -> dict[str, Any]:
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
            **envelope_extras(element),
        },
    }


def _first_text(*values: Any) -> str:
    """The first value that is present and not empty, as text; "" when there is none."""
    for value in values:
        if value is not None and value != "":
            return wire.text(value)
    return ""


def error_of(element: Mapping[str, Any]) -> tuple[str, str] | None:
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


_NS = "exchange_bridge.okex"
PAYLOAD_TYPES = {
    Kind.TICKER: f"{_NS}.SpotTicker",
    Kind.DEPTH: f"{_NS}.SpotDepth",
    Kind.DEPTH_FULL: f"{_NS}.SpotDepth",
    Kind.DEALS: f"{_NS}.SpotDeal",
    Kind.KLINE: f"{_NS}.SpotKline",
    Kind.ORDER: f"{_NS}.SpotOrder",
    Kind.BALANCE: f"{_NS}.SpotBalance",
    Kind.USERINFO: f"{_NS}.SpotUserInfo",
    Kind.ORDERINFO: f"{_NS}.SpotOrderInfo",
    Kind.ORDER_RESULT: f"{_NS}.SpotOrderResult",
}
