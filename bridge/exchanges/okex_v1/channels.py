"""OKEx v1 channels: what a channel name means, where its records go, and the request
signature."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from bridge.exchanges.events import Destination
from bridge.topics import TopicFamily, channel_topic, topic_family

TOPIC_GROUP = "okex"

# The documented kline intervals and depth sizes. The OKEx v1 simulator (bridge/sandbox) lists
# them again on purpose: it is the other side of the protocol, read from the same document, not
# a copy of this adapter.
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

USERINFO = "ok_spot_userinfo"
ORDERINFO = "ok_spot_orderinfo"
ORDER = "ok_spot_order"
CANCEL_ORDER = "ok_spot_cancel_order"
ORDER_CHANNELS = (ORDER, CANCEL_ORDER)

_SYMBOL = r"[a-z0-9]+_[a-z0-9]+"
SYMBOL_RE = re.compile(_SYMBOL)
_CHANNEL_RE = re.compile(
    rf"ok_sub_spot_(?P<symbol>{_SYMBOL})_"
    r"(?P<kind>ticker|depth(?:_(?P<depth>[0-9]+))?|deals|kline_(?P<interval>[0-9a-z]+)|order|balance)"
)


class Kind(Enum):
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


SCHEMAS = {
    Kind.TICKER: "okex/spot-ticker",
    Kind.DEPTH: "okex/spot-depth",
    Kind.DEPTH_FULL: "okex/spot-depth",
    Kind.DEALS: "okex/spot-deals",
    Kind.KLINE: "okex/spot-kline",
    Kind.ORDER: "okex/spot-order",
    Kind.BALANCE: "okex/spot-balance",
    Kind.USERINFO: "okex/spot-userinfo",
    Kind.ORDERINFO: "okex/spot-orderinfo",
    Kind.ORDER_RESULT: "okex/spot-order",
}


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """What a channel name says: its kind, the pair and the topic it goes to."""

    channel: str
    kind: Kind
    topic_kind: str
    """The ``<kind>`` of ``okex.spot.<kind>``: ticker, depth, depth-5, kline-1min, order..."""
    symbol: str | None = None
    interval: str | None = None
    depth: str | None = None

    @property
    def is_request(self) -> bool:
        """ok_spot_userinfo / ok_spot_orderinfo: requests answered once, not subscriptions."""
        return self.kind in (Kind.USERINFO, Kind.ORDERINFO)


def parse_channel(channel: str) -> ChannelInfo | None:
    """The channel's meaning, or None for a name this adapter does not know."""
    if channel == USERINFO:
        return ChannelInfo(channel, Kind.USERINFO, "userinfo")
    if channel == ORDERINFO:
        return ChannelInfo(channel, Kind.ORDERINFO, "orderinfo")
    if channel in ORDER_CHANNELS:
        return ChannelInfo(channel, Kind.ORDER_RESULT, "order")
    match = _CHANNEL_RE.fullmatch(channel)
    if match is None:
        return None
    symbol, kind = match["symbol"], match["kind"]
    if match["depth"] is not None:
        if match["depth"] not in DEPTH_SIZES:
            return None
        return ChannelInfo(
            channel, Kind.DEPTH_FULL, f"depth-{match['depth']}", symbol, depth=match["depth"]
        )
    if match["interval"] is not None:
        if match["interval"] not in KLINE_INTERVALS:
            return None
        interval = match["interval"]
        return ChannelInfo(channel, Kind.KLINE, f"kline-{interval}", symbol, interval=interval)
    return ChannelInfo(channel, Kind(kind), kind, symbol)


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
        topic=channel_topic(TOPIC_GROUP, f"spot.{info.topic_kind}"),
        schema=SCHEMAS[info.kind],
        key=key,
        channel=info.channel,
        arg=arg,
    )


def topic_families() -> list[TopicFamily]:
    """Every ``okex.spot.<kind>`` topic with its schema (what :func:`destination_for` builds)."""

    def spot(kind: str, schema_of: Kind, **choices: tuple[str, ...]) -> TopicFamily:
        return topic_family(
            channel_topic(TOPIC_GROUP, f"spot.{kind}"), SCHEMAS[schema_of], **choices
        )

    return [
        spot("ticker", Kind.TICKER),
        spot("depth", Kind.DEPTH),
        spot("depth-<size>", Kind.DEPTH_FULL, size=DEPTH_SIZES),
        spot("deals", Kind.DEALS),
        spot("kline-<interval>", Kind.KLINE, interval=KLINE_INTERVALS),
        spot("order", Kind.ORDER),
        spot("balance", Kind.BALANCE),
        spot("userinfo", Kind.USERINFO),
        spot("orderinfo", Kind.ORDERINFO),
    ]


# --- signing -------------------------------------------------------------------------------------


def sign(parameters: Mapping[str, str], secret_key: str) -> str:
    """OKEx v1 request signature: every parameter but ``sign``, sorted by name, joined as
    ``k=v&...``, then ``&secret_key=SECRET``; MD5 as 32 upper-case hex digits. A login signs
    ``api_key=KEY&secret_key=SECRET``.

    The OKEx v1 simulator (``bridge/sandbox``) checks the same signature on purpose, as the
    other side of the protocol: an independent oracle, not a copy to share."""
    signed = [f"{name}={parameters[name]}" for name in sorted(parameters) if name != "sign"]
    signed.append(f"secret_key={secret_key}")
    text = "&".join(signed)
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest().upper()
