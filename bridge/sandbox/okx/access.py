"""Who may log in, which OKX channel a connection may subscribe to, and the error OKX answers
when it may not.

What decides a login: the four fields, a timestamp within 30 s, a known API key, its passphrase
and the HMAC signature. What decides a subscription: the endpoint (``/ws/v5/public``,
``/business``, ``/private``), the arguments a channel needs, the configured instruments, and for
some channels a login and a fee tier.
"""

from __future__ import annotations

import hmac
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

from bridge.sandbox.okx.wire import (
    BUSINESS_INSTRUMENT_CHANNELS,
    BUSINESS_PRIVATE_CHANNELS,
    CALENDAR_CHANNEL,
    CHANNEL_TIERS,
    INSTRUMENT_CHANNELS,
    PRIVATE_CHANNELS,
    STATUS_CHANNEL,
    TYPE_CHANNELS,
    bar_ms,
    login_sign,
    timestamp_text,
    wrong_url_message,
)

ArgProblem = tuple[str, str]
"""(error code, message)"""

LOGIN_WINDOW_SECONDS: Final = 30.0
_LOGIN_FIELDS: Final = ("apiKey", "passphrase", "timestamp", "sign")


@dataclass
class OkxAccount:
    """An API key's credentials and the trading fee tier some channels require."""

    secret: str
    passphrase: str
    vip_level: int = 1


def login_problem(
    args: list[Any],
    *,
    logged_in: bool,
    accounts: Mapping[str, OkxAccount],
    now: float,
    refuse_all: bool = False,
) -> ArgProblem | None:
    """Why OKX refuses a login with ``args`` (the request's args), or None when it accepts it.
    ``refuse_all``: the test switch that makes every login fail as a valid one would not."""
    if logged_in:
        return (
            "60031",
            "The WebSocket endpoint does not allow multiple or repeated logins.",
        )
    if len(args) != 1 or not isinstance(args[0], dict):
        return INVALID_ARGS
    credentials: dict[str, Any] = args[0]
    for name in _LOGIN_FIELDS:
        if credentials.get(name) in (None, ""):
            return ("60027", f"Parameter {name} can not be empty.")
    if refuse_all:
        return ("60009", "Login failed.")
    timestamp = timestamp_text(credentials["timestamp"])
    if timestamp is None:
        return ("60004", "Invalid OK-ACCESS-TIMESTAMP")
    if abs(now - float(timestamp)) > LOGIN_WINDOW_SECONDS:
        return ("60006", "Timestamp request expired")
    account = accounts.get(credentials["apiKey"])
    if account is None:
        return ("60005", "Invalid OK-ACCESS-KEY")
    if credentials["passphrase"] != account.passphrase:
        return ("60024", "Wrong passphrase")
    sign = credentials["sign"]
    expected = login_sign(account.secret, timestamp)
    if not isinstance(sign, str) or not hmac.compare_digest(sign, expected):
        return ("60007", "Invalid sign")
    return None


INVALID_ARGS: Final = ("60013", "Invalid args")
PLEASE_LOG_IN: Final = ("60011", "Please log in")
FEE_TIER: Final = (
    "64003",
    "Your trading fee tier doesn't meet the requirement to access this channel",
)
MIGRATED: Final = (
    "64001",
    "This channel has been migrated to the '/business' URL. Please subscribe using the new URL.",
)
NOT_ON_BUSINESS: Final = (
    "64002",
    'This channel is not supported by "/business" URL. Please use "/private" '
    'URL(for private channels), or "/public" URL(for public channels).',
)


def arg_problem(
    arg: Any,
    *,
    endpoint: str,
    vip_level: int | None,
    instruments: Collection[str],
    subscribing: bool,
) -> ArgProblem | None:
    """Why ``arg`` cannot be (un)subscribed, or None when it can. ``vip_level``: the fee tier
    of the logged-in account, None without a login. Unsubscribing checks the channel and URL
    but not login or fee tier."""
    if not isinstance(arg, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in arg.items()
    ):
        return INVALID_ARGS
    channel = arg.get("channel", "")
    if not channel:
        return INVALID_ARGS
    wrong_url = ("60018", wrong_url_message(arg))

    if channel == CALENDAR_CHANNEL or channel in BUSINESS_PRIVATE_CHANNELS:
        if endpoint == "public":
            return MIGRATED
        if endpoint != "business":
            return wrong_url
        tier = 1 if channel == CALENDAR_CHANNEL else 0
        return _access(vip_level, tier) if subscribing else None

    if channel in BUSINESS_INSTRUMENT_CHANNELS or bar_ms(channel) is not None:
        # (unverified) that OKX answers these on /public with 64001, as for the calendar
        if endpoint == "public":
            return MIGRATED
        if endpoint != "business":
            return wrong_url
        return _instrument(arg, instruments, wrong_url)

    if channel == STATUS_CHANNEL or channel in INSTRUMENT_CHANNELS or channel in TYPE_CHANNELS:
        if endpoint == "business":
            return NOT_ON_BUSINESS
        if endpoint != "public":
            return wrong_url
        if channel in INSTRUMENT_CHANNELS:
            problem = _instrument(arg, instruments, wrong_url)
            if problem is None and subscribing and channel in CHANNEL_TIERS:
                problem = _access(vip_level, CHANNEL_TIERS[channel])
            return problem
        if channel in TYPE_CHANNELS:
            if TYPE_CHANNELS[channel] not in arg:
                return INVALID_ARGS
            if channel == "estimated-price" and not {"instFamily", "instId"} & set(arg):
                return INVALID_ARGS
        return None

    if channel in PRIVATE_CHANNELS:
        if endpoint != "private":
            return wrong_url
        return _access(vip_level, CHANNEL_TIERS.get(channel, 0)) if subscribing else None

    return wrong_url


def _instrument(
    arg: Mapping[str, str], instruments: Collection[str], wrong_url: ArgProblem
) -> ArgProblem | None:
    if "instId" not in arg:
        return INVALID_ARGS
    return None if arg["instId"] in instruments else wrong_url


def _access(vip_level: int | None, tier: int) -> ArgProblem | None:
    if vip_level is None:
        return PLEASE_LOG_IN
    return FEE_TIER if vip_level < tier else None
