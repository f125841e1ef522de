"""Kraken payloads: what each channel's data becomes (one record per ticker, ohlc, spread and
book message, per trade row and per private entry), and the value conversions they share.

Decimal strings stay strings, exactly as sent (a JSON number is taken as its exact text);
Kraken's decimal-second timestamps become Unix microseconds computed from the text (never
through a float), with the text kept beside them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from bridge.exchanges import wire
from bridge.exchanges.wire import BadElement

_SECONDS = re.compile(r"([0-9]+)(?:\.([0-9]+))?")

PAYLOAD_NAMES = {
    "ticker": "Ticker",
    "ohlc": "Ohlc",
    "trade": "Trade",
    "spread": "Spread",
    "book": "Book",
    "openOrders": "OpenOrder",
    "ownTrades": "OwnTrade",
}


def payload_type(name: str) -> str:
    """The Avro name of a channel's payload: ``exchange_bridge.kraken.Ticker``."""
    return f"exchange_bridge.kraken.{PAYLOAD_NAMES[name]}"


# --- values ---------------------------------------------------------------------------------


def decimal(name: str, value: Any) -> str:
    """A decimal string kept exactly (a JSON number is taken as its exact text)."""
    if isinstance(value, str):
        return wire.text(value)
    raise BadElement(f"{name} is not a decimal string: {wire.text(value)[:40]!r}")


def integer(name: str, value: Any) -> int:
    """A JSON integer or a string of digits, within an Avro long."""
    number = wire.integer(name, value)
    if number is None:
        raise BadElement(f"{name} is not an integer: {wire.text(value)[:40]!r}")
    if not -wire.MAX_LONG <= number <= wire.MAX_LONG:
        raise BadElement(f"{name} is out of range: {number}")
    return number


def event_time_ms(time_us: int | None) -> int | None:
    """A payload time as the record's event time: None for a time of zero (Kraken sends
    ``0.000000`` where it has none; as an instant it would be 1970 and a 56-year lag)."""
    return time_us // 1000 if time_us else None


def timestamp(name: str, value: Any) -> tuple[int, str]:
    """Decimal seconds (``"1534614057.321597"``) -> (Unix microseconds, the text as sent).

    Integer arithmetic on the text, never a float: a float has ~16 significant digits and
    would lose the microseconds. Digits beyond the sixth decimal stay in the text only."""
    if not isinstance(value, str):
        raise BadElement(f"{name} is not a time in seconds: {wire.text(value)[:40]!r}")
    text = wire.text(value)
    match = _SECONDS.fullmatch(text)
    if match is None:
        raise BadElement(f"{name} is not a time in seconds: {text[:40]!r}")
    # More seconds than an Avro long of microseconds holds, before int() reads them.
    if len(match[1]) > wire.MAX_INTEGER_DIGITS:
        raise BadElement(f"{name} is out of range: {text[:40]!r}")
    fraction = (match[2] or "")[:6].ljust(6, "0")
    micros = int(match[1]) * 1_000_000 + int(fraction)
    if micros > wire.MAX_LONG:
        raise BadElement(f"{name} is out of range: {text[:40]!r}")
    return micros, text


def _optional_timestamp(name: str, value: Any) -> tuple[int | None, str | None]:
    if value is None:
        return None, None
    return timestamp(name, value)


def array(name: str, value: Any, min_length: int) -> list[Any]:
    if not isinstance(value, list) or len(value) < min_length:
        raise BadElement(f"{name} is not an array of at least {min_length} elements")
    return value


# --- payloads ----------------------------------------------------------------------------------

# Ticker: wire key -> record fields of its array elements, in order; "i" marks integers.
_TICKER: Mapping[str, tuple[tuple[str, str], ...]] = {
    "a": (("ask_price", "d"), ("ask_whole_lot_volume", "i"), ("ask_lot_volume", "d")),
    "b": (("bid_price", "d"), ("bid_whole_lot_volume", "i"), ("bid_lot_volume", "d")),
    "c": (("close_price", "d"), ("close_lot_volume", "d")),
    "v": (("volume_today", "d"), ("volume_24h", "d")),
    "p": (("vwap_today", "d"), ("vwap_24h", "d")),
    "t": (("trades_today", "i"), ("trades_24h", "i")),
    "l": (("low_today", "d"), ("low_24h", "d")),
    "h": (("high_today", "d"), ("high_24h", "d")),
    "o": (("open_today", "d"), ("open_24h", "d")),
}

# Private entries: field -> kind ("t" text, "s" decimal-seconds timestamp, "m" map).
OPEN_ORDER: Mapping[str, str] = {
    "refid": "t",
    "userref": "t",
    "status": "t",
    "opentm": "s",
    "starttm": "s",
    "expiretm": "s",
    "lastupdated": "s",
    "descr": "m",
    "vol": "t",
    "vol_exec": "t",
    "cost": "t",
    "fee": "t",
    "avg_price": "t",
    "stopprice": "t",
    "limitprice": "t",
    "misc": "t",
    "oflags": "t",
    "timeinforce": "t",
    "cancel_reason": "t",
    "ratecount": "t",
}
OWN_TRADE: Mapping[str, str] = {
    "ordertxid": "t",
    "postxid": "t",
    "pair": "t",
    "time": "s",
    "type": "t",
    "ordertype": "t",
    "price": "t",
    "cost": "t",
    "fee": "t",
    "vol": "t",
    "margin": "t",
    "userref": "t",
}


def ticker_payload(element: Any) -> dict[str, Any]:
    if not isinstance(element, dict):
        raise BadElement(f"ticker payload is a JSON {wire.json_type(element)}, not an object")
    payload: dict[str, Any] = {}
    extra: dict[str, str] = {}
    for key, fields in _TICKER.items():
        value = element.get(key)
        if value is None:
            payload.update(dict.fromkeys((f for f, _ in fields), None))
            continue
        values = array(f"ticker {key}", value, len(fields))
        for (name, kind), item in zip(fields, values, strict=False):
            payload[name] = integer(name, item) if kind == "i" else decimal(name, item)
        for index, item in enumerate(values[len(fields) :], start=len(fields)):
            extra[f"{key}[{index}]"] = wire.text(item)
    extra.update({k: wire.text(v) for k, v in element.items() if k not in _TICKER})
    payload["extra"] = extra
    return payload


def trade_payload(row: Any) -> tuple[dict[str, Any], int | None]:
    row = array("trade row", row, 6)
    time_us, time_text = timestamp("time", row[2])
    payload = {
        "price": decimal("price", row[0]),
        "volume": decimal("volume", row[1]),
        "time": time_us,
        "time_text": time_text,
        "side": wire.text(row[3]),
        "order_type": wire.text(row[4]),
        "misc": wire.text(row[5]),
        "extra": wire.texts(row[6:]),
    }
    return payload, event_time_ms(time_us)


def ohlc_payload(element: Any) -> tuple[dict[str, Any], int | None]:
    values = array("ohlc payload", element, 9)
    time_us, time_text = timestamp("time", values[0])
    etime_us, etime_text = timestamp("etime", values[1])
    payload = {
        "time": time_us,
        "time_text": time_text,
        "etime": etime_us,
        "etime_text": etime_text,
        "open": decimal("open", values[2]),
        "high": decimal("high", values[3]),
        "low": decimal("low", values[4]),
        "close": decimal("close", values[5]),
        "vwap": decimal("vwap", values[6]),
        "volume": decimal("volume", values[7]),
        "count": integer("count", values[8]),
        "extra": wire.texts(values[9:]),
    }
    return payload, event_time_ms(time_us)


def spread_payload(element: Any) -> tuple[dict[str, Any], int | None]:
    # bidVolume and askVolume were added to the spread array later; older feeds send three.
    values = array("spread payload", element, 3)
    time_us, time_text = timestamp("time", values[2])
    payload = {
        "bid": decimal("bid", values[0]),
        "ask": decimal("ask", values[1]),
        "time": time_us,
        "time_text": time_text,
        "bid_volume": decimal("bid_volume", values[3]) if len(values) > 3 else None,
        "ask_volume": decimal("ask_volume", values[4]) if len(values) > 4 else None,
        "extra": wire.texts(values[5:]),
    }
    return payload, event_time_ms(time_us)


def private_payload(
    kinds: Mapping[str, str], id_field: str, entry_id: str, sequence: int | None, fields: Any
) -> dict[str, Any]:
    if not isinstance(fields, dict):
        raise BadElement(f"{entry_id}: fields are a JSON {wire.json_type(fields)}, not an object")
    payload: dict[str, Any] = {id_field: entry_id, "sequence": sequence}
    for name, kind in kinds.items():
        value = fields.get(name)
        if kind == "s":
            payload[name], payload[f"{name}_text"] = _optional_timestamp(name, value)
        elif kind == "m":
            if value is not None and not isinstance(value, dict):
                raise BadElement(f"{name} is a JSON {wire.json_type(value)}, not an object")
            payload[name] = None if value is None else {k: wire.text(v) for k, v in value.items()}
        else:
            payload[name] = wire.optional_text(value)
    payload["extra"] = {k: wire.text(v) for k, v in fields.items() if k not in kinds}
    return payload


def identity(entry_id: str, fields: Any) -> str:
    """Content identity of a private entry (see :attr:`Push.identity`): the id and the fields
    with their keys sorted."""
    if isinstance(fields, dict):
        fields = {k: fields[k] for k in sorted(fields)}
    text = f"{entry_id}\n{wire.compact(fields)}"
    # surrogatepass: a lone surrogate from a JSON escape still has an identity
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
