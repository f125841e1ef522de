"""The Kraken v1 wire as the simulator writes and reads it: the documented constants, pair
names, channel names, and the two JSON forms (events with sorted keys, data arrays as built).

Written here independently of the adapter (:mod:`bridge.exchanges.kraken`) on purpose: the
simulator is the other side of the protocol, and sharing the client's constants would let a
mistake in them pass both sides.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "DEFAULT_PAIRS",
    "DEPTHS",
    "HEARTBEAT",
    "INTERVALS",
    "PAIR_FORMAT",
    "PRIVATE_CHANNELS",
    "PUBLIC_CHANNELS",
    "RATE_ERROR",
    "SYSTEM_STATUSES",
    "VERSION",
    "canonical",
    "channel_name",
    "dumps_data",
    "dumps_event",
    "subscription_status",
]

VERSION: Final = "1.9.0"
SYSTEM_STATUSES: Final = ("online", "maintenance", "cancel_only", "post_only", "limit_only")
PUBLIC_CHANNELS: Final = ("ticker", "ohlc", "trade", "spread", "book")
PRIVATE_CHANNELS: Final = ("openOrders", "ownTrades")
DEPTHS: Final = (10, 25, 100, 500, 1000)
INTERVALS: Final = (1, 5, 15, 30, 60, 240, 1440, 10080, 21600)
DEFAULT_PAIRS: Final = ("XBT/USD", "XBT/EUR", "ETH/USD", "ETH/XBT")
# Kraken's own codes for some currencies; subscriptions may use either, acks echo Kraken's.
_ALIASES: Final = {"BTC": "XBT"}
PAIR_FORMAT: Final = re.compile(r"[A-Z0-9]{2,10}/[A-Z0-9]{2,10}")
RATE_ERROR: Final = '{"Error":"Exceeded msg rate"}'
HEARTBEAT: Final = '{"event":"heartbeat"}'


def dumps_event(obj: Any) -> str:
    # Kraken's event messages come with sorted keys and compact separators (as in the seed).
    return json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def dumps_data(obj: Any) -> str:
    # Data arrays keep their payload's key order (e.g. "a" before "c").
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def canonical(pair: str) -> str:
    """``pair`` as Kraken echoes it (``BTC/USD`` -> ``XBT/USD``)."""
    return "/".join(_ALIASES.get(part, part) for part in pair.split("/"))


def channel_name(subscription: Mapping[str, Any]) -> str:
    """The ``channelName`` of a subscription: its name, with the depth (``book-10``) or the
    interval (``ohlc-5``) where it has one."""
    name = str(subscription["name"])
    if name == "book":
        return f"book-{subscription.get('depth', 10)}"
    if name == "ohlc":
        return f"ohlc-{subscription.get('interval', 1)}"
    return name


def subscription_status(
    status: str,
    subscription: Mapping[str, Any],
    *,
    reqid: int | None,
    pair: str | None = None,
    channel_name: str | None = None,
    channel_id: int | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """A ``subscriptionStatus`` event (``subscribed``, ``unsubscribed`` or ``error``), its
    fields absent where None; a private subscription's token is never echoed."""
    fields = {
        "event": "subscriptionStatus",
        "status": status,
        "subscription": {k: v for k, v in subscription.items() if k != "token"},
        "pair": pair,
        "reqid": reqid,
        "channelName": channel_name,
        "channelID": channel_id,
        "errorMessage": error,
    }
    return {k: v for k, v in fields.items() if v is not None}
