"""The OKEx v1 wire as the simulator writes and reads it: the documented constants and error
codes, channel names, the MD5 sign, raw-deflate compression, the documentation's lenient
single-quoted requests, and JSON with numbers written exactly.

These are written here independently of the adapter (:mod:`bridge.exchanges.okex_v1`) on
purpose, as an oracle: the simulator is the other side of the protocol, and sharing the
client's constants or code would let a mistake in them pass both sides.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final

__all__ = [
    "CANCEL_ORDER",
    "CHANNEL",
    "DEFAULT_SYMBOLS",
    "DEPTH_SIZES",
    "ERROR_MESSAGES",
    "KLINE_INTERVALS",
    "NOT_LOGGED_IN",
    "ORDER",
    "ORDERINFO",
    "TRADE_CHANNELS",
    "USERINFO",
    "Raw",
    "RequestError",
    "amount_text",
    "decimal",
    "deflate",
    "dumps",
    "md5_sign",
    "number",
    "parse_lenient",
]

# The pairs the documentation lists; any "base_quote" can be added with ``symbols=``.
DEFAULT_SYMBOLS: Final = (
    "ltc_btc",
    "eth_btc",
    "etc_btc",
    "bch_btc",
    "btc_usdt",
    "eth_usdt",
    "ltc_usdt",
    "etc_usdt",
    "bch_usdt",
    "etc_eth",
    "bt1_btc",
    "bt2_btc",
    "btg_btc",
    "qtum_btc",
    "hsr_btc",
    "neo_btc",
    "gas_btc",
    "qtum_usdt",
    "hsr_usdt",
    "neo_usdt",
    "gas_usdt",
)
KLINE_INTERVALS: Final = (
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
DEPTH_SIZES: Final = (5, 10, 20)

USERINFO: Final = "ok_spot_userinfo"
ORDERINFO: Final = "ok_spot_orderinfo"
ORDER: Final = "ok_spot_order"
CANCEL_ORDER: Final = "ok_spot_cancel_order"
TRADE_CHANNELS: Final = (USERINFO, ORDERINFO, ORDER, CANCEL_ORDER)

CHANNEL: Final = re.compile(
    r"ok_sub_spot_(?P<symbol>[a-z0-9]+_[a-z0-9]+)_"
    r"(?P<kind>ticker|depth|depth_(?:5|10|20)|deals|kline_[0-9a-z]+|order|balance)"
)
"""A subscription channel: its pair (``bch_btc``) and kind (``depth_5``, ``kline_1min``...)."""

# The documented codes and texts: an independent oracle, the adapter keeps its own table.
ERROR_MESSAGES: Final = {
    10000: "required parameter empty",
    10005: "api_key or sign invalid",
    10008: "parameter error",
    10009: "order does not exist",
    10010: "insufficient funds",
    10017: "websocket authorization error",
    20103: "event type error",
    20107: "JSON format error",
    20116: "param not match.",
}
# Subscribing _order / _balance without a login: the documents give no code; 10017 ("websocket
# authorization error") is the closest one listed.
NOT_LOGGED_IN: Final = 10017

_EIGHT = Decimal("0.00000001")


class RequestError(Exception):
    """A request the server answers with an error code (and the documented message)."""

    def __init__(self, code: int, message: str | None = None) -> None:
        self.code = code
        self.message = message or ERROR_MESSAGES.get(code, "error")
        super().__init__(self.message)


def md5_sign(parameters: Mapping[str, str], secret: str) -> str:
    """Every parameter but ``sign``, sorted by name, ``k=v`` joined by ``&``, then
    ``&secret_key=SECRET``; MD5, upper-case hex.

    An independent oracle, deliberately not imported from the adapter: the simulator is the
    other side of the protocol, and sharing the client's code would let a signing bug pass
    both."""
    pairs = "&".join(f"{k}={v}" for k, v in sorted(parameters.items()) if k != "sign")
    text = f"{pairs}&secret_key={secret}" if pairs else f"secret_key={secret}"
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest().upper()


def deflate(text: str | bytes) -> bytes:
    """Raw deflate (no zlib header or checksum), as the server compresses a frame."""
    data = text.encode() if isinstance(text, str) else text
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def parse_lenient(text: str) -> Any:
    """JSON, or the documentation's lenient form with single-quoted strings
    (``{'event':'addChannel','channel':'ok_sub_spot_X_ticker'}``). Raises ValueError."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    return json.loads(_single_to_double_quotes(text))


def _single_to_double_quotes(text: str) -> str:
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':  # a JSON string: copy it, escapes included
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif c == "'":
            j, chars = i + 1, []
            while j < n and text[j] != "'":
                if text[j] == "\\" and j + 1 < n:
                    chars.append("'" if text[j + 1] == "'" else text[j : j + 2])
                    j += 2
                else:
                    chars.append('\\"' if text[j] == '"' else text[j])
                    j += 1
            if j >= n:
                raise ValueError("unterminated single-quoted string")
            out.append('"' + "".join(chars) + '"')
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


class Raw(str):
    """Text written into JSON unquoted (a number in its exact form)."""

    __slots__ = ()


def number(value: Decimal | int) -> Raw:
    """A JSON number: integers as they are, decimals without exponent or trailing zeros."""
    if isinstance(value, int):
        return Raw(str(value))
    return Raw(format(value.normalize(), "f"))


def dumps(value: Any) -> str:
    """Compact JSON with numbers written from :func:`number` unchanged."""
    if isinstance(value, Raw):
        return str.__str__(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def amount_text(value: Decimal) -> str:
    """Amounts and prices as the documentation's pushes write them: eight decimals."""
    return f"{value.quantize(_EIGHT):f}"


def decimal(text: str) -> Decimal:
    """``text`` as a finite Decimal; ValueError otherwise."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not a number")
    return value
