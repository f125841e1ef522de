"""OKEx v1 subscriptions: what a configured subscription (a channel, or a read-only trade API
request) may say."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bridge.exchanges.events import Destination
from bridge.exchanges.okex_v1.channels import (
    KLINE_INTERVALS,
    ORDER_CHANNELS,
    ORDERINFO,
    SYMBOL_RE,
    USERINFO,
    ChannelInfo,
    Kind,
    destination_for,
    parse_channel,
)

_SUBSCRIPTION_KEYS = ("channel", "parameters", "binary", "interval_seconds")
_SECRET_PARAMETERS = ("api_key", "sign", "secret_key")

SubscriptionKey = tuple[str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True, slots=True)
class Subscription:
    info: ChannelInfo
    parameters: tuple[tuple[str, str], ...] = ()
    binary: int | None = None
    interval_seconds: float | None = None

    @property
    def key(self) -> SubscriptionKey:
        return (self.info.channel, tuple(sorted(self.parameters)))

    @property
    def destination(self) -> Destination:
        return destination_for(self.info, dict(self.parameters))


def normalize(subscription: Mapping[str, Any]) -> Subscription:
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
    if channel in ORDER_CHANNELS:
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
    if info.kind is Kind.ORDERINFO:
        for required in ("symbol", "order_id"):
            if required not in parameters:
                raise ValueError(f"{channel} needs parameters.{required}")
        if not SYMBOL_RE.fullmatch(parameters["symbol"]):
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
    return Subscription(
        info,
        tuple(parameters.items()),  # as configured: sent in this order
        binary,
        None if interval is None else float(interval),
    )


def configured(subscriptions: Sequence[Mapping[str, Any]]) -> list[Subscription]:
    """The configured subscriptions, validated, in configuration order, each once."""
    known: set[SubscriptionKey] = set()
    out = []
    for sub in map(normalize, subscriptions):
        if sub.key not in known:
            known.add(sub.key)
            out.append(sub)
    return out
