"""Kraken subscriptions: what a configured subscription may say, the channel and pair names
Kraken uses for it, where its records go, and the targets (one per pair) that Kraken
acknowledges one by one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from bridge.exchanges import wire
from bridge.exchanges.events import Destination
from bridge.exchanges.wire import MAX_INTEGER_DIGITS
from bridge.topics import channel_topic

TOPIC_GROUP = "kraken"

PUBLIC_CHANNELS = ("ticker", "ohlc", "trade", "spread", "book")
PRIVATE_CHANNELS = ("openOrders", "ownTrades")
CHANNELS = PUBLIC_CHANNELS + PRIVATE_CHANNELS

DEFAULT_BOOK_DEPTH = 10
"""Kraken's book depth when a subscription names none."""
DEFAULT_OHLC_INTERVAL = 1
"""Kraken's ohlc interval (minutes) when a subscription names none."""

# Kraken echoes some currencies under its own ISO-style code: a subscription to BTC/USD is
# acknowledged, and its data pushed, as XBT/USD. Acks and pushes are matched to the configured
# pair through this table (per currency, so ETH/BTC matches ETH/XBT too).
PAIR_ALIASES: Mapping[str, str] = {"BTC": "XBT"}

# Options a configured subscription may carry, per channel, besides name and pair.
_OPTIONS: Mapping[str, frozenset[str]] = {
    "book": frozenset({"depth"}),
    "ohlc": frozenset({"interval"}),
    "ticker": frozenset(),
    "trade": frozenset(),
    "spread": frozenset(),
    "openOrders": frozenset({"ratecounter"}),
    "ownTrades": frozenset({"snapshot"}),
}


def canonical_pair(pair: str) -> str:
    """The pair as Kraken echoes it: ``BTC/USD`` -> ``XBT/USD``."""
    return "/".join(PAIR_ALIASES.get(part, part) for part in pair.split("/"))


def channel_name(name: str, depth: int | None = None, interval: int | None = None) -> str:
    """Kraken's ``channelName``: ``book-10``, ``ohlc-5``; other channels as named."""
    if name == "book":
        return f"book-{depth or DEFAULT_BOOK_DEPTH}"
    if name == "ohlc":
        return f"ohlc-{interval or DEFAULT_OHLC_INTERVAL}"
    return name


def depth_of(channel: str) -> int:
    """The depth a ``book-<depth>`` channel name says (the default when it says none)."""
    parameter = channel.partition("-")[2]
    # int() is never asked to convert a long run of digits from the wire.
    if parameter.isascii() and parameter.isdigit() and len(parameter) <= MAX_INTEGER_DIGITS:
        return int(parameter)
    return DEFAULT_BOOK_DEPTH


@dataclass(frozen=True, slots=True)
class Subscription:
    """A validated configured subscription."""

    name: str
    pairs: tuple[str, ...]
    """As configured; empty for private channels."""
    depth: int | None = None
    interval: int | None = None
    flags: Mapping[str, bool] = field(default_factory=dict)
    """``snapshot`` / ``ratecounter`` when configured."""

    @property
    def private(self) -> bool:
        return self.name in PRIVATE_CHANNELS

    @property
    def channel(self) -> str:
        return channel_name(self.name, self.depth, self.interval)

    @property
    def book_depth(self) -> int:
        return self.depth or DEFAULT_BOOK_DEPTH


def _positive_int(where: str, key: str, value: Any) -> int:
    # bool is an int subclass; depth: true is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{where}: {key!r} must be a positive integer, got {value!r}")
    return value


def parse_subscription(subscription: Mapping[str, Any]) -> Subscription:
    if not isinstance(subscription, Mapping):
        raise ValueError(
            f"Kraken subscription must be a mapping, got {type(subscription).__name__}"
        )
    where = f"Kraken subscription {dict(subscription)!r}"
    name = subscription.get("name")
    if name not in CHANNELS:
        raise ValueError(f"{where}: 'name' must be one of {', '.join(CHANNELS)}")
    assert isinstance(name, str)
    if "token" in subscription:
        raise ValueError(
            f"Kraken subscription on {name!r}: the token is a secret; set it in the "
            "connection's credentials.token, not in the subscription"
        )
    allowed = _OPTIONS[name] | {"name"} | (set() if name in PRIVATE_CHANNELS else {"pair"})
    unknown = sorted(str(k) for k in subscription if k not in allowed)
    if unknown:
        raise ValueError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))} for {name!r} "
            f"(allowed: {', '.join(sorted(allowed))})"
        )

    pairs: tuple[str, ...] = ()
    if name in PUBLIC_CHANNELS:
        raw = subscription.get("pair")
        if isinstance(raw, str):
            raw = [raw]
        if (
            not isinstance(raw, list)
            or not raw
            or not all(isinstance(p, str) and p.strip() for p in raw)
        ):
            raise ValueError(f"{where}: 'pair' must be a non-empty list of pairs like XBT/USD")
        pairs = tuple(raw)
        seen: dict[str, str] = {}
        for pair in pairs:
            if "/" not in pair:
                raise ValueError(f"{where}: pair {pair!r} must be BASE/QUOTE, like XBT/USD")
            canonical = canonical_pair(pair)
            if canonical in seen:
                raise ValueError(
                    f"{where}: {seen[canonical]!r} and {pair!r} are the same pair on Kraken"
                )
            seen[canonical] = pair

    # Only the shape is checked: which depths and intervals exist is Kraken's to say (it has
    # added some over time), and its answer is recorded as an error on the channel's topic.
    depth = subscription.get("depth")
    interval = subscription.get("interval")
    flags: dict[str, bool] = {}
    for key in ("snapshot", "ratecounter"):
        if key in subscription:
            if not isinstance(subscription[key], bool):
                raise ValueError(f"{where}: {key!r} must be true or false")
            flags[key] = subscription[key]
    return Subscription(
        name=name,
        pairs=pairs,
        depth=None if depth is None else _positive_int(where, "depth", depth),
        interval=None if interval is None else _positive_int(where, "interval", interval),
        flags=flags,
    )


def schema_id(name: str) -> str:
    """The schema id of a channel's records: ``kraken/book``."""
    return f"{TOPIC_GROUP}/{name}"


def destination_for(sub: Subscription, pair: str | None) -> Destination:
    arg: dict[str, str] = {"name": sub.name}
    if pair is not None:
        arg["pair"] = canonical_pair(pair)
    if sub.name == "book":
        arg["depth"] = str(sub.book_depth)
    if sub.name == "ohlc":
        arg["interval"] = str(sub.interval or DEFAULT_OHLC_INTERVAL)
    for key, value in sub.flags.items():
        arg[key] = "true" if value else "false"
    return Destination(
        topic=channel_topic(TOPIC_GROUP, sub.name),
        schema=schema_id(sub.name),
        key=pair if pair is not None else sub.name,
        channel=sub.channel,
        arg=arg,
    )


class TargetState(Enum):
    PENDING = "pending"  # requested on this connection, no answer yet
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    FAILED = "failed"


@dataclass(slots=True, eq=False)
class Target:
    """One configured (subscription, pair): one destination, acknowledged on its own."""

    sub: Subscription
    pair: str | None
    """As configured; None for private channels."""
    destination: Destination
    state: TargetState = TargetState.PENDING
    echoed: dict[str, str] = field(default_factory=dict)
    """What this connection's subscriptionStatus added to the arg (:func:`echoed_arg`); the
    pushes of the subscription carry it too."""

    @property
    def match_key(self) -> tuple[str, str | None]:
        return self.sub.channel, None if self.pair is None else canonical_pair(self.pair)


def targets_of(
    subscriptions: Iterable[Subscription],
) -> tuple[list[Target], list[tuple[Subscription, list[Target]]]]:
    """One target per configured (subscription, pair), in configuration order (configured
    twice: the first one stands); and each subscription with the targets its request asks
    for."""
    targets: list[Target] = []
    seen: set[tuple[str, str | None]] = set()
    requests: list[tuple[Subscription, list[Target]]] = []
    for sub in subscriptions:
        requested = []
        for pair in sub.pairs or (None,):
            target = Target(sub, pair, destination_for(sub, pair))
            if target.match_key in seen:
                continue
            seen.add(target.match_key)
            targets.append(target)
            requested.append(target)
        if requested:
            requests.append((sub, requested))
    return targets, requests


def echoed_arg(message: Mapping[str, Any], subscription: Mapping[str, Any]) -> dict[str, str]:
    """What a subscriptionStatus adds to the destination's arg: channelID and subscription
    fields such as maxratecount. Never the token."""
    echoed: dict[str, str] = {}
    if message.get("channelID") is not None:
        echoed["channelID"] = wire.text(message["channelID"])
    for key, value in subscription.items():
        if key not in ("name", "token", "depth", "interval") and value is not None:
            echoed[str(key)] = wire.text(value)
    return echoed
