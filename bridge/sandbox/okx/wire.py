"""The OKX v5 wire as the simulator writes and reads it: channel names, event codes and texts,
the login signature, subscription args, and compact JSON.

Written here independently of the adapter (:mod:`bridge.exchanges.okx`) on purpose: the
simulator is the other side of the protocol, and sharing the client's code or constants would
let a mistake in them pass both sides.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "BUSINESS_INSTRUMENT_CHANNELS",
    "BUSINESS_PRIVATE_CHANNELS",
    "CALENDAR_CHANNEL",
    "CANDLE_CHANNEL",
    "CHANNEL_TIERS",
    "INSTRUMENT_CHANNELS",
    "NOTICE_CODE",
    "NOTICE_MSG",
    "PRIVATE_CHANNELS",
    "STATUS_CHANNEL",
    "TYPE_CHANNELS",
    "SubscriptionKey",
    "bar_ms",
    "dumps",
    "login_sign",
    "subscription_key",
    "timestamp_text",
    "wrong_url_message",
]

NOTICE_CODE: Final = "64008"
NOTICE_MSG: Final = "The connection will soon be closed for a service upgrade. Please reconnect."

STATUS_CHANNEL: Final = "status"
CALENDAR_CHANNEL: Final = "economic-calendar"
# Public channels keyed by instrument (instId), served on /ws/v5/public.
INSTRUMENT_CHANNELS: Final = frozenset(
    {
        "tickers",
        "trades",
        "books",
        "books5",
        "bbo-tbt",
        "books-l2-tbt",
        "books50-l2-tbt",
        "books-elp",
        "mark-price",
        "index-tickers",
        "funding-rate",
        "open-interest",
        "price-limit",
    }
)
# Public channels keyed by instrument but served on /ws/v5/business (no login), and the candle
# families: candle<bar>, mark-price-candle<bar>, index-candle<bar>.
BUSINESS_INSTRUMENT_CHANNELS: Final = frozenset({"trades-all"})
CANDLE_CHANNEL: Final = re.compile(
    r"(candle|mark-price-candle|index-candle)([0-9]+)([smHDWMY])(utc)?"
)
_BAR_UNIT_MS: Final = {
    "s": 1_000,
    "m": 60_000,
    "H": 3_600_000,
    "D": 86_400_000,
    "W": 7 * 86_400_000,
    "M": 30 * 86_400_000,  # a month as 30 days: the simulator's candles need no calendar
    "Y": 365 * 86_400_000,
}
# Public channels with other arguments (instType, instFamily), on /ws/v5/public: the argument
# they need (estimated-price also instFamily or instId).
TYPE_CHANNELS: Final = {
    "instruments": "instType",
    "liquidation-orders": "instType",
    "estimated-price": "instType",
    "opt-summary": "instFamily",
}
PRIVATE_CHANNELS: Final = frozenset(
    {
        "account",
        "positions",
        "balance_and_position",
        "orders",
        "fills",
        "algo-advance",
        "liquidation-warning",
        "account-greeks",
    }
)
# Private channels on /ws/v5/business (login required).
BUSINESS_PRIVATE_CHANNELS: Final = frozenset({"orders-algo"})
# Channels that need a login and a fee tier (VIP level; 64003 below it): fills, and the
# tick-by-tick books on /ws/v5/public (OKX's 2026 documentation: VIP4 for both books).
CHANNEL_TIERS: Final = {"fills": 4, "books-l2-tbt": 4, "books50-l2-tbt": 4}


def bar_ms(channel: str) -> int | None:
    """The bar of a candle channel in milliseconds (``candle5m``: 300000); None for others."""
    match = CANDLE_CHANNEL.fullmatch(channel)
    return None if match is None else int(match[2]) * _BAR_UNIT_MS[match[3]]


# The login signature covers timestamp + "GET" + this path.
LOGIN_SIGN_PATH: Final = "/users/self/verify"

SubscriptionKey = tuple[tuple[str, str], ...]
"""A subscription arg in canonical form: its (field, value) pairs sorted by field."""


def subscription_key(arg: Mapping[str, str]) -> SubscriptionKey:
    """Canonical, hashable form of a subscription arg (field order does not matter)."""
    return tuple(sorted(arg.items()))


def login_sign(secret: str, timestamp: str) -> str:
    """The OKX WebSocket login signature: base64(HMAC-SHA256(secret, ts + "GET" + path)).

    An independent oracle, deliberately not imported from the adapter
    (:mod:`bridge.exchanges.okx`): the simulator is the other side of the protocol, and
    sharing the client's code would let a signing bug pass both."""
    message = f"{timestamp}GET{LOGIN_SIGN_PATH}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def dumps(obj: Any) -> str:
    # Compact separators like the real server, so scripted pushes can be byte-exact.
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def timestamp_text(value: Any) -> str | None:
    """The login timestamp as the text that was signed, or None when it is not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        text = str(value)
    elif isinstance(value, str):
        text = value
    else:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return text if math.isfinite(number) else None


def wrong_url_message(arg: Mapping[str, str]) -> str:
    target = f"channel:{arg.get('channel', '')}"
    if "instId" in arg:
        target += f", instId:{arg['instId']}"
    return (
        f"Wrong URL or {target} doesn't exist. "
        "Please use the correct URL, channel and parameters referring to API document."
    )
