"""Kraken WebSocket v1 adapter (``wss://ws.kraken.com``, private ``wss://ws-auth.kraken.com``),
sans-I/O.

Outbound, per connection::

    connection_made(now_s)  one subscribe request per configured subscription (all its pairs in
                            one request; Kraken answers one subscriptionStatus per pair)
    ping()                  ``{"event":"ping","reqid":N}`` (the server answers ``pong``)
    after a book checksum mismatch: unsubscribe + subscribe of that pair's book

Inbound, :meth:`KrakenAdapter.receive` turns one frame into events:

    {"event":"systemStatus"}         -> Maintenance (active unless "online"; connectionID kept
                                        exactly as text, it can exceed 2**63)
    {"event":"subscriptionStatus"}   -> Subscribed / SubscribeFailed on the configured
                                        destination it answers; ExchangeError when it answers
                                        none
    {"event":"heartbeat"}            -> Heartbeat
    {"event":"pong"}                 -> Pong
    {"event":"error"}                -> ExchangeError
    {"Error":"Exceeded msg rate"}    -> ExchangeError(code "rate_limit")
    [channelID, payload…, channelName, pair]
                                     -> Push per ticker, ohlc, spread and book message and per
                                        trade row; ResyncRequired after a book checksum mismatch
    [[{id: {...}}, …], channelName, {"sequence": n}]
                                     -> Push per openOrders / ownTrades entry
    anything else                    -> Unrecognized

Kafka: topic ``kraken.<name>`` and schema ``kraken/<name>`` per channel name (``kraken.book``
whatever the depth), key = the pair as configured (the channel name for private channels).
Decimal strings stay strings; Kraken's decimal-second timestamps become Unix microseconds
computed from the text (never through a float), with the text kept beside them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any, ClassVar, Literal

from bridge.exchanges.base import Adapter, Credentials, OutboundFrame
from bridge.exchanges.events import (
    Destination,
    Event,
    ExchangeError,
    Heartbeat,
    Maintenance,
    Pong,
    Push,
    ResyncRequired,
    Subscribed,
    SubscribeFailed,
    Unrecognized,
)

PUBLIC_CHANNELS = ("ticker", "ohlc", "trade", "spread", "book")
PRIVATE_CHANNELS = ("openOrders", "ownTrades")
CHANNELS = PUBLIC_CHANNELS + PRIVATE_CHANNELS

DEFAULT_BOOK_DEPTH = 10
"""Kraken's book depth when a subscription names none."""
DEFAULT_OHLC_INTERVAL = 1
"""Kraken's ohlc interval (minutes) when a subscription names none."""
CHECKSUM_LEVELS = 10
"""The book checksum covers the best 10 asks, then the best 10 bids."""

RATE_LIMIT_CODE = "rate_limit"
RATE_LIMIT_RETRY_SECONDS = 1.0
"""How long to wait after ``Exceeded msg rate`` before resending unanswered subscriptions."""
"""Code of the ExchangeError for Kraken's non-standard ``{"Error":"Exceeded msg rate"}``."""
UNMATCHED_CODE = "unmatched_subscription"
"""Code of the ExchangeError for a subscriptionStatus that answers no configured subscription."""

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

# Kraken's error messages carry no code. These short, stable codes (the ``code`` metric label
# and SubscriptionEvent.code) name the documented texts; messages in Kraken's
# "ECategory:Text" style get their category; everything else is "other", so the label set
# stays bounded. The message itself is always recorded in full.
_ERROR_CODES: tuple[tuple[str, str], ...] = (
    ("subscription depth not supported", "depth_not_supported"),
    ("subscription ohlc interval not supported", "interval_not_supported"),
    ("currency pair not in iso 4217-a3 format", "pair_format"),
    ("currency pair not supported", "pair_not_supported"),
    ("already subscribed", "already_subscribed"),
    ("subscription not found", "subscription_not_found"),
    ("subscription name invalid", "name_invalid"),
    ("event(s) not found", "event_not_found"),
    ("malformed request", "malformed_request"),
    ("exceeded msg rate", RATE_LIMIT_CODE),
)
_ERROR_CATEGORY = re.compile(r"(E[A-Z][A-Za-z]{1,20}):")

_MAX_LONG = 2**63 - 1
_SECONDS = re.compile(r"([0-9]+)(?:\.([0-9]+))?")
_BOOK_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")

Op = Literal["subscribe", "unsubscribe"]


def error_code(message: str) -> str:
    """The short code recorded for a Kraken error message (see ``_ERROR_CODES``)."""
    folded = message.casefold()
    for prefix, code in _ERROR_CODES:
        if folded.startswith(prefix):
            return code
    match = _ERROR_CATEGORY.match(message)
    return match[1] if match else "other"


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


def book_checksum(asks: Sequence[tuple[str, str]], bids: Sequence[tuple[str, str]]) -> str:
    """Kraken's book checksum: unsigned CRC32 of the best 10 asks (lowest first) then the best
    10 bids (highest first), each price and volume as sent with ``.`` and leading zeros
    removed, concatenated; as decimal text like the ``c`` field."""
    parts: list[str] = []
    for price, volume in [*asks[:CHECKSUM_LEVELS], *bids[:CHECKSUM_LEVELS]]:
        parts.append(price.replace(".", "").lstrip("0"))
        parts.append(volume.replace(".", "").lstrip("0"))
    return str(zlib.crc32("".join(parts).encode("ascii")))


# --- configuration --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Subscription:
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


def _parse_subscription(subscription: Mapping[str, Any]) -> _Subscription:
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
    return _Subscription(
        name=name,
        pairs=pairs,
        depth=None if depth is None else _positive_int(where, "depth", depth),
        interval=None if interval is None else _positive_int(where, "interval", interval),
        flags=flags,
    )


def _destination(sub: _Subscription, pair: str | None) -> Destination:
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
        topic=f"kraken.{sub.name}",
        schema=f"kraken/{sub.name}",
        key=pair if pair is not None else sub.name,
        channel=sub.channel,
        arg=arg,
    )


# --- values ---------------------------------------------------------------------------------


class _BadElement(Exception):
    """A data element cannot be typed; it becomes Unrecognized (its siblings still go)."""


def _compact(value: Any) -> str:
    """Compact JSON text; numbers parsed as Decimal are written back exactly as they were."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        items = (
            f"{json.dumps(str(k), ensure_ascii=False)}:{_compact(v)}" for k, v in value.items()
        )
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_compact(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _text(value: Any) -> str:
    """A wire value as text: strings as they are, anything else as compact JSON."""
    return value if isinstance(value, str) else _compact(value)


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _decimal(name: str, value: Any) -> str:
    """A decimal string kept exactly (a JSON number is taken as its exact text)."""
    if isinstance(value, str):
        return value
    if isinstance(value, Decimal) or (isinstance(value, int) and not isinstance(value, bool)):
        return str(value)
    raise _BadElement(f"{name} is not a decimal string: {_text(value)[:40]!r}")


def _integer(name: str, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        number = int(value)
    else:
        raise _BadElement(f"{name} is not an integer: {_text(value)[:40]!r}")
    if not -_MAX_LONG <= number <= _MAX_LONG:
        raise _BadElement(f"{name} is out of range: {number}")
    return number


def _timestamp(name: str, value: Any) -> tuple[int, str]:
    """Decimal seconds (``"1534614057.321597"``) -> (Unix microseconds, the text as sent).

    Integer arithmetic on the text, never a float: a float has ~16 significant digits and
    would lose the microseconds. Digits beyond the sixth decimal stay in the text only."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, Decimal) or (isinstance(value, int) and not isinstance(value, bool)):
        text = str(value)
    else:
        raise _BadElement(f"{name} is not a time in seconds: {_text(value)[:40]!r}")
    match = _SECONDS.fullmatch(text)
    if match is None:
        raise _BadElement(f"{name} is not a time in seconds: {text[:40]!r}")
    fraction = (match[2] or "")[:6].ljust(6, "0")
    micros = int(match[1]) * 1_000_000 + int(fraction)
    if micros > _MAX_LONG:
        raise _BadElement(f"{name} is out of range: {text[:40]!r}")
    return micros, text


def _optional_timestamp(name: str, value: Any) -> tuple[int | None, str | None]:
    if value is None:
        return None, None
    return _timestamp(name, value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _reject_constant(name: str) -> Any:
    # json accepts NaN and Infinity, which are not JSON.
    raise ValueError(f"{name} is not JSON")


def _list(name: str, value: Any, min_length: int) -> list[Any]:
    if not isinstance(value, list) or len(value) < min_length:
        raise _BadElement(f"{name} is not an array of at least {min_length} elements")
    return value


def _extra_items(values: Sequence[Any]) -> list[str]:
    """Array elements beyond those the schema names, as text (kept, not dropped)."""
    return [_text(v) for v in values]


# --- typed payloads ------------------------------------------------------------------------------

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
_OPEN_ORDER: Mapping[str, str] = {
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
_OWN_TRADE: Mapping[str, str] = {
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


def _ticker_payload(element: Any) -> dict[str, Any]:
    if not isinstance(element, dict):
        raise _BadElement(f"ticker payload is a JSON {_json_type(element)}, not an object")
    payload: dict[str, Any] = {}
    extra: dict[str, str] = {}
    for key, fields in _TICKER.items():
        value = element.get(key)
        if value is None:
            payload.update(dict.fromkeys((f for f, _ in fields), None))
            continue
        values = _list(f"ticker {key}", value, len(fields))
        for (name, kind), item in zip(fields, values, strict=False):
            payload[name] = _integer(name, item) if kind == "i" else _decimal(name, item)
        for index, item in enumerate(values[len(fields) :], start=len(fields)):
            extra[f"{key}[{index}]"] = _text(item)
    extra.update({k: _text(v) for k, v in element.items() if k not in _TICKER})
    payload["extra"] = extra
    return payload


def _trade_payload(row: Any) -> tuple[dict[str, Any], int]:
    row = _list("trade row", row, 6)
    time_us, time_text = _timestamp("time", row[2])
    payload = {
        "price": _decimal("price", row[0]),
        "volume": _decimal("volume", row[1]),
        "time": time_us,
        "time_text": time_text,
        "side": _text(row[3]),
        "order_type": _text(row[4]),
        "misc": _text(row[5]),
        "extra": _extra_items(row[6:]),
    }
    return payload, time_us // 1000


def _ohlc_payload(element: Any) -> tuple[dict[str, Any], int]:
    values = _list("ohlc payload", element, 9)
    time_us, time_text = _timestamp("time", values[0])
    etime_us, etime_text = _timestamp("etime", values[1])
    payload = {
        "time": time_us,
        "time_text": time_text,
        "etime": etime_us,
        "etime_text": etime_text,
        "open": _decimal("open", values[2]),
        "high": _decimal("high", values[3]),
        "low": _decimal("low", values[4]),
        "close": _decimal("close", values[5]),
        "vwap": _decimal("vwap", values[6]),
        "volume": _decimal("volume", values[7]),
        "count": _integer("count", values[8]),
        "extra": _extra_items(values[9:]),
    }
    return payload, time_us // 1000


def _spread_payload(element: Any) -> tuple[dict[str, Any], int]:
    # bidVolume and askVolume were added to the spread array later; older feeds send three.
    values = _list("spread payload", element, 3)
    time_us, time_text = _timestamp("time", values[2])
    payload = {
        "bid": _decimal("bid", values[0]),
        "ask": _decimal("ask", values[1]),
        "time": time_us,
        "time_text": time_text,
        "bid_volume": _decimal("bid_volume", values[3]) if len(values) > 3 else None,
        "ask_volume": _decimal("ask_volume", values[4]) if len(values) > 4 else None,
        "extra": _extra_items(values[5:]),
    }
    return payload, time_us // 1000


def _private_payload(
    kinds: Mapping[str, str], id_field: str, entry_id: str, sequence: int | None, fields: Any
) -> dict[str, Any]:
    if not isinstance(fields, dict):
        raise _BadElement(f"{entry_id}: fields are a JSON {_json_type(fields)}, not an object")
    payload: dict[str, Any] = {id_field: entry_id, "sequence": sequence}
    for name, kind in kinds.items():
        value = fields.get(name)
        if kind == "s":
            payload[name], payload[f"{name}_text"] = _optional_timestamp(name, value)
        elif kind == "m":
            if value is not None and not isinstance(value, dict):
                raise _BadElement(f"{name} is a JSON {_json_type(value)}, not an object")
            payload[name] = None if value is None else {k: _text(v) for k, v in value.items()}
        else:
            payload[name] = _optional_text(value)
    payload["extra"] = {k: _text(v) for k, v in fields.items() if k not in kinds}
    return payload


# --- order books --------------------------------------------------------------------------------


class _BookState(Enum):
    VERIFYING = "verifying"  # the local book follows the exchange's; checksums are checked
    RESYNCING = "resyncing"  # a checksum failed; resubscribed, waiting for the new snapshot


@dataclass(slots=True)
class _LocalBook:
    """One pair's book as the exchange sent it: price -> (price text, volume text)."""

    depth: int
    asks: dict[Decimal, tuple[str, str]] = field(default_factory=dict)
    bids: dict[Decimal, tuple[str, str]] = field(default_factory=dict)
    state: _BookState = _BookState.VERIFYING

    def apply(self, side: str, levels: Iterable[Mapping[str, Any]]) -> None:
        book = self.asks if side == "a" else self.bids
        for level in levels:
            price, volume = level["price"], level["volume"]
            key = Decimal(price)
            if Decimal(volume) == 0:
                book.pop(key, None)
            else:
                book[key] = (price, volume)

    def truncate(self) -> None:
        """Keep the subscribed depth: Kraken sends no deletes for levels pushed out of it."""
        for book, best_first in ((self.asks, False), (self.bids, True)):
            if len(book) > self.depth:
                for key in sorted(book, reverse=best_first)[self.depth :]:
                    del book[key]

    def checksum(self) -> str:
        asks = [self.asks[k] for k in sorted(self.asks)[:CHECKSUM_LEVELS]]
        bids = [self.bids[k] for k in sorted(self.bids, reverse=True)[:CHECKSUM_LEVELS]]
        return book_checksum(asks, bids)


def _book_levels(name: str, value: Any) -> list[dict[str, Any]]:
    rows = _list(name, value, 0)
    levels: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        row = _list(f"{name}[{index}]", row, 3)
        price = _decimal("price", row[0])
        volume = _decimal("volume", row[1])
        if not _BOOK_NUMBER.fullmatch(price) or not _BOOK_NUMBER.fullmatch(volume):
            raise _BadElement(f"{name}[{index}]: price and volume must be decimal numbers")
        time_us, time_text = _timestamp("timestamp", row[2])
        if len(row) > 4:
            raise _BadElement(f"{name}[{index}] has {len(row)} elements; at most 4 are known")
        levels.append(
            {
                "price": price,
                "volume": volume,
                "timestamp": time_us,
                "timestamp_text": time_text,
                "update_type": _text(row[3]) if len(row) > 3 else None,
            }
        )
    return levels


# --- the adapter ---------------------------------------------------------------------------------


class _TargetState(Enum):
    PENDING = "pending"  # requested on this connection, no answer yet
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    FAILED = "failed"


@dataclass(slots=True, eq=False)
class _Target:
    """One configured (subscription, pair): one destination, acknowledged on its own."""

    sub: _Subscription
    pair: str | None
    """As configured; None for private channels."""
    destination: Destination
    state: _TargetState = _TargetState.PENDING

    @property
    def match_key(self) -> tuple[str, str | None]:
        return self.sub.channel, None if self.pair is None else canonical_pair(self.pair)


@dataclass(slots=True)
class _Request:
    op: Op
    targets: list[_Target]
    """Those not yet answered."""


class KrakenAdapter(Adapter):
    exchange: ClassVar[str] = "kraken"
    topic_prefix: ClassVar[str] = "kraken"
    keepalive_seconds: ClassVar[float] = 10.0
    """Once subscribed Kraken sends a heartbeat every second, so a ping goes out only on a
    connection without subscriptions (or one gone quiet)."""
    # Kraken bans an IP for 10 minutes after about 150 connects in a rolling 10 minutes
    # (one per 4 s on average), and asks clients to wait at least 5 s before reconnecting
    # after maintenance. One connect per 5 s satisfies both.
    min_connect_interval_seconds: ClassVar[float] = 5.0
    # about 150 connects per rolling 10 minutes per IP before a 10 minute ban
    connect_limit = (150, 600.0)

    def __init__(
        self,
        subscriptions: Sequence[Mapping[str, Any]],
        credentials: Credentials | None = None,
        *,
        first_request_id: int = 1,
    ) -> None:
        """``first_request_id``: the ``reqid`` of the first request on each connection (then
        +1 for every request and ping)."""
        super().__init__(subscriptions, credentials)
        if first_request_id < 0:
            raise ValueError("first_request_id must not be negative")
        self._first_request_id = first_request_id
        self._targets: list[_Target] = []
        self._by_key: dict[tuple[str, str | None], _Target] = {}
        self._requests_of: list[tuple[_Subscription, list[_Target]]] = []
        for sub in (_parse_subscription(s) for s in subscriptions):
            targets = []
            for pair in sub.pairs or (None,):
                target = _Target(sub, pair, _destination(sub, pair))
                if target.match_key in self._by_key:
                    continue  # configured twice: the first one stands
                self._by_key[target.match_key] = target
                self._targets.append(target)
                targets.append(target)
            if targets:
                self._requests_of.append((sub, targets))
        self._reset_connection()

    def _reset_connection(self) -> None:
        self._next_request_id = self._first_request_id
        self._requests: dict[int, _Request] = {}
        self._books: dict[tuple[str, str | None], _LocalBook] = {}
        self._conn_id: str | None = None
        self._outbound = []
        self._rate_limited = False
        self._retry_at: float | None = None
        for target in self._targets:
            target.state = _TargetState.PENDING

    # -- configuration --------------------------------------------------------------------------

    @classmethod
    def validate_subscription(cls, subscription: Mapping[str, Any]) -> None:
        _parse_subscription(subscription)

    def destinations(self) -> list[Destination]:
        return [t.destination for t in self._targets]

    # -- outbound -------------------------------------------------------------------------------

    def connection_made(self, now_s: float) -> None:
        self._reset_connection()
        for sub, targets in self._requests_of:
            self._queue_request("subscribe", sub, targets)

    def ping(self) -> OutboundFrame:
        return _compact({"event": "ping", "reqid": self._take_request_id()})

    def tick(self, now_s: float) -> None:
        """After a message-rate error, wait RATE_LIMIT_RETRY_SECONDS, then subscribe again
        what is still pending (Kraken refused it without saying which request it was)."""
        if not self._rate_limited:
            return
        if self._retry_at is None:
            self._retry_at = now_s + RATE_LIMIT_RETRY_SECONDS
            return
        if now_s < self._retry_at:
            return
        self._rate_limited, self._retry_at = False, None
        for sub, targets in self._requests_of:
            pending = [t for t in targets if t.state is _TargetState.PENDING]
            if pending:
                self._queue_request("subscribe", sub, pending)

    def _take_request_id(self) -> int:
        request_id = self._next_request_id
        self._next_request_id += 1
        return request_id

    def _queue_request(self, op: Op, sub: _Subscription, targets: list[_Target]) -> None:
        request_id = self._take_request_id()
        self._requests[request_id] = _Request(op, list(targets))
        subscription: dict[str, Any] = {"name": sub.name}
        if sub.depth is not None:
            subscription["depth"] = sub.depth
        if sub.interval is not None:
            subscription["interval"] = sub.interval
        subscription.update(sub.flags)
        if sub.private and self.credentials is not None and self.credentials.token:
            subscription["token"] = self.credentials.token
        frame: dict[str, Any] = {"event": op, "reqid": request_id}
        pairs = [t.pair for t in targets if t.pair is not None]
        if pairs:
            frame["pair"] = pairs
        frame["subscription"] = subscription
        self._outbound.append(_compact(frame))

    # -- inbound --------------------------------------------------------------------------------

    def receive(self, data: str | bytes, received_us: int | None = None) -> list[Event]:
        try:
            return self._receive(data)
        except Exception as exc:
            # Deliberate safety net: receive() must never raise, or a bug here would escape
            # into the session loop and drop the connection. The frame goes to the dead-letter
            # topic with this reason (exception type and text), so the bug stays visible.
            return [
                Unrecognized(
                    reason=f"adapter error: {type(exc).__name__}: {exc}",
                    exchange_conn_id=self._conn_id,
                )
            ]

    def _unrecognized(self, reason: str) -> list[Event]:
        return [Unrecognized(reason=reason, exchange_conn_id=self._conn_id)]

    def _receive(self, data: str | bytes) -> list[Event]:
        if isinstance(data, bytes):
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                return self._unrecognized("binary frame is not UTF-8")
        else:
            text = data
        if not text.strip():
            return self._unrecognized("empty frame")
        try:
            # Decimal: a JSON number with a fraction keeps its exact digits.
            message = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
        except json.JSONDecodeError as exc:
            return self._unrecognized(f"not JSON: {exc.msg} at char {exc.pos}")
        except (ValueError, RecursionError) as exc:
            return self._unrecognized(f"not JSON: {exc}")
        if isinstance(message, dict):
            return self._on_object(message)
        if isinstance(message, list):
            return self._on_array(message)
        return self._unrecognized(f"JSON {_json_type(message)} is neither an object nor an array")

    def _on_object(self, message: dict[str, Any]) -> list[Event]:
        conn_id = self._conn_id
        if "event" not in message:
            if isinstance(message.get("Error"), str):
                # {"Error":"Exceeded msg rate"}: Kraken's one message outside the event scheme.
                # It names no request: what is still unanswered a moment later is resent.
                text = message["Error"]
                if error_code(text) == RATE_LIMIT_CODE:
                    self._rate_limited = True
                return [
                    ExchangeError(code=error_code(text), message=text, exchange_conn_id=conn_id)
                ]
            return self._unrecognized("object has no event")
        event = message["event"]
        request_id = _request_id(message.get("reqid"))
        if event == "heartbeat":
            return [Heartbeat(exchange_conn_id=conn_id)]
        if event == "pong":
            return [Pong(request_id=request_id, exchange_conn_id=conn_id)]
        if event == "systemStatus":
            return self._on_system_status(message)
        if event == "subscriptionStatus":
            return self._on_subscription_status(message, request_id)
        if event == "error":
            text = _text(message.get("errorMessage", ""))
            return [
                ExchangeError(
                    code=error_code(text),
                    message=text,
                    request_id=request_id,
                    exchange_conn_id=conn_id,
                )
            ]
        return self._unrecognized(f"unknown event {_text(event)[:80]!r}")

    def _on_system_status(self, message: dict[str, Any]) -> list[Event]:
        status = message.get("status")
        if not isinstance(status, str) or not status:
            return self._unrecognized("systemStatus without a status string")
        conn_id = message.get("connectionID")
        if conn_id is not None:
            if not isinstance(conn_id, int) or isinstance(conn_id, bool) or conn_id < 0:
                return self._unrecognized("systemStatus connectionID is not an unsigned integer")
            # json parses integers exactly, at any size: str() keeps every digit.
            self._conn_id = str(conn_id)
        attributes = {k: _text(v) for k, v in message.items() if k not in ("event", "status")}
        return [
            Maintenance(
                status=status,
                active=status != "online",
                attributes=attributes,
                exchange_conn_id=self._conn_id,
            )
        ]

    # -- subscriptionStatus --------------------------------------------------------------------

    def _on_subscription_status(
        self, message: dict[str, Any], request_id: str | None
    ) -> list[Event]:
        conn_id = self._conn_id
        status = message.get("status")
        if status not in ("subscribed", "unsubscribed", "ok", "error"):
            return self._unrecognized(f"subscriptionStatus with status {_text(status)[:40]!r}")
        subscription = message.get("subscription")
        if subscription is None:
            subscription = {}
        if not isinstance(subscription, dict):
            return self._unrecognized("subscriptionStatus subscription is not an object")
        channel = message.get("channelName")
        name = subscription.get("name")
        if not isinstance(channel, str):
            channel = None
            if isinstance(name, str):
                depth, interval = subscription.get("depth"), subscription.get("interval")
                channel = channel_name(
                    name,
                    depth if isinstance(depth, int) else None,
                    interval if isinstance(interval, int) else None,
                )
        if name is None and channel is not None:
            name = channel.split("-", 1)[0]
        pair = message.get("pair")
        if pair is not None and not isinstance(pair, str):
            return self._unrecognized("subscriptionStatus pair is not a string")

        reqid = message.get("reqid")
        request_key = reqid if isinstance(reqid, int) and not isinstance(reqid, bool) else None
        request = None if request_key is None else self._requests.get(request_key)
        targets = self._answered_targets(request, channel, name, pair)
        op: Op = request.op if request is not None else "subscribe"
        if status == "subscribed":
            op = "subscribe"
        elif status == "unsubscribed":
            op = "unsubscribe"
        error_message = _text(message.get("errorMessage", "")) if status == "error" else ""
        code = error_code(error_message) if status == "error" else ""

        if not targets:
            described = f"{channel or name or '?'} {pair or ''}".strip()
            return [
                ExchangeError(
                    code=code or UNMATCHED_CODE,
                    message=error_message
                    or f"subscriptionStatus {status} for {described} answers no configured "
                    "subscription",
                    request_id=request_id,
                    exchange_conn_id=conn_id,
                )
            ]

        if request is not None and request_key is not None:
            request.targets = [t for t in request.targets if t not in targets]
            if not request.targets:
                del self._requests[request_key]

        echoed = _echoed_arg(message, subscription)
        events: list[Event] = []
        for target in targets:
            destination = dataclasses.replace(
                target.destination, arg={**target.destination.arg, **echoed}
            )
            if status == "error":
                # "Already subscribed" means the subscription is live on this connection.
                if op == "subscribe" and code == "already_subscribed":
                    target.state = _TargetState.SUBSCRIBED
                elif target.state is not _TargetState.SUBSCRIBED:
                    target.state = _TargetState.FAILED
                events.append(
                    SubscribeFailed(
                        destination=destination,
                        op=op,
                        code=code,
                        message=error_message,
                        request_id=request_id,
                        exchange_conn_id=conn_id,
                    )
                )
                continue
            target.state = (
                _TargetState.SUBSCRIBED if op == "subscribe" else _TargetState.UNSUBSCRIBED
            )
            if op == "unsubscribe":
                self._books.pop(target.match_key, None)  # the next subscribe sends a snapshot
            events.append(
                Subscribed(
                    destination=destination,
                    op=op,
                    request_id=request_id,
                    exchange_conn_id=conn_id,
                )
            )
        return events

    def _answered_targets(
        self, request: _Request | None, channel: str | None, name: Any, pair: str | None
    ) -> list[_Target]:
        """The configured targets a subscriptionStatus answers."""
        canonical = None if pair is None else canonical_pair(pair)

        def pair_matches(target: _Target) -> bool:
            return pair is None or target.match_key[1] == canonical

        if request is not None:
            # Our own request (by reqid): an answer without a pair answers every pair in it.
            return [t for t in request.targets if pair_matches(t)]
        if name == "*":
            return [t for t in self._targets if pair_matches(t)]
        if channel is None:
            return []
        target = self._by_key.get((channel, canonical))
        return [] if target is None else [target]

    # -- data arrays ---------------------------------------------------------------------------

    def _on_array(self, message: list[Any]) -> list[Event]:
        if (
            len(message) == 3
            and isinstance(message[0], list)
            and isinstance(message[1], str)
            and isinstance(message[2], dict)
        ):
            return self._on_private(message[0], message[1], message[2])
        if len(message) >= 4 and isinstance(message[-1], str) and isinstance(message[-2], str):
            channel_id = message[0]
            if isinstance(channel_id, bool) or not isinstance(channel_id, int):
                return self._unrecognized("public data without an integer channelID")
            if not 0 <= channel_id < 2**63:  # recorded as an Avro long
                return self._unrecognized(f"channelID {channel_id} is out of range")
            return self._on_public(channel_id, message[1:-2], message[-2], message[-1])
        return self._unrecognized(
            "array is neither [channelID, payload, channelName, pair] nor "
            "[[entries], channelName, {sequence}]"
        )

    def _public_destination(self, channel: str, pair: str) -> tuple[Destination, _Target | None]:
        target = self._by_key.get((channel, canonical_pair(pair)))
        if target is not None:
            return target.destination, target
        # Data for a subscription not configured here (made by hand, or answered late): it is
        # still published, keyed by the pair as the exchange wrote it.
        name, _, parameter = channel.partition("-")
        arg = {"name": name, "pair": pair}
        if parameter:
            arg["depth" if name == "book" else "interval"] = parameter
        destination = Destination(
            topic=f"kraken.{name}", schema=f"kraken/{name}", key=pair, channel=channel, arg=arg
        )
        return destination, None

    def _on_public(
        self, channel_id: int, payloads: list[Any], channel: str, pair: str
    ) -> list[Event]:
        name = channel.partition("-")[0]
        if name not in PUBLIC_CHANNELS:
            return self._unrecognized(f"unknown public channel {channel[:40]!r}")
        destination, target = self._public_destination(channel, pair)
        if name == "book":
            return self._on_book(destination, target, channel_id, payloads, channel, pair)
        if len(payloads) != 1:
            return self._unrecognized(f"{channel} data has {len(payloads)} payloads, not 1")
        element = payloads[0]
        common = {"pair": pair, "channel_id": channel_id}
        typed: list[tuple[dict[str, Any], int | None]]
        try:
            if name == "trade":
                rows = _list("trade payload", element, 0)
                typed = [_trade_payload(row) for row in rows]
            elif name == "ticker":
                typed = [(_ticker_payload(element), None)]
            elif name == "ohlc":
                typed = [_ohlc_payload(element)]
            else:
                typed = [_spread_payload(element)]
        except _BadElement as exc:
            return self._unrecognized(f"{channel} {pair}: {exc}")
        payload_type = f"exchange_bridge.kraken.{_PAYLOAD_NAMES[name]}"
        return [
            Push(
                destination=destination,
                payload_type=payload_type,
                payload={**common, **payload},
                event_time_ms=event_time_ms,
                exchange_conn_id=self._conn_id,
            )
            for payload, event_time_ms in typed
        ]

    def _on_book(
        self,
        destination: Destination,
        target: _Target | None,
        channel_id: int,
        payloads: list[Any],
        channel: str,
        pair: str,
    ) -> list[Event]:
        if not 1 <= len(payloads) <= 2 or not all(isinstance(p, dict) for p in payloads):
            return self._unrecognized(f"{channel} {pair}: book data must be one or two objects")
        keys = set().union(*(p.keys() for p in payloads))
        snapshot = bool(keys & {"as", "bs"})
        sides = ("as", "bs") if snapshot else ("a", "b")
        if snapshot and keys & {"a", "b"}:
            return self._unrecognized(f"{channel} {pair}: book snapshot mixed with updates")
        checksum: str | None = None
        asks: list[dict[str, Any]] = []
        bids: list[dict[str, Any]] = []
        extra: dict[str, str] = {}
        # Levels in message order: Kraken's updates of one price must be applied in order.
        ordered: list[tuple[str, list[dict[str, Any]]]] = []
        try:
            for part in payloads:
                for key, value in part.items():
                    if key in sides:
                        levels = _book_levels(f"{channel} {key}", value)
                        (asks if key == sides[0] else bids).extend(levels)
                        ordered.append(("a" if key == sides[0] else "b", levels))
                    elif key == "c":
                        checksum = _decimal("c", value)
                    else:
                        extra[key] = _text(value)
        except _BadElement as exc:
            return self._unrecognized(f"{channel} {pair}: {exc}")
        times = [level["timestamp"] for level in (*asks, *bids)]
        push = Push(
            destination=destination,
            payload_type="exchange_bridge.kraken.Book",
            payload={
                "pair": pair,
                "channel_id": channel_id,
                "snapshot": snapshot,
                "asks": asks,
                "bids": bids,
                "checksum": checksum,
                "extra": extra,
            },
            event_time_ms=max(times) // 1000 if times else None,
            exchange_conn_id=self._conn_id,
        )
        events: list[Event] = [push]
        if self._update_book(target, channel, pair, snapshot, ordered, checksum):
            events.append(
                ResyncRequired(
                    destination=destination,
                    reason="checksum_mismatch",
                    exchange_conn_id=self._conn_id,
                )
            )
        return events

    def _update_book(
        self,
        target: _Target | None,
        channel: str,
        pair: str,
        snapshot: bool,
        ordered: list[tuple[str, list[dict[str, Any]]]],
        checksum: str | None,
    ) -> bool:
        """Apply a book message to the local copy; True when its checksum failed (the
        resubscribe frames are then queued)."""
        key: tuple[str, str | None] = (channel, canonical_pair(pair))
        if snapshot:
            depth = target.sub.book_depth if target is not None else _depth_of(channel)
            book = self._books[key] = _LocalBook(depth)
        else:
            found = self._books.get(key)
            if found is None:
                return False  # no snapshot on this connection yet: nothing to check against
            book = found
        for side, levels in ordered:
            book.apply(side, levels)
        book.truncate()
        if checksum is None or book.state is not _BookState.VERIFYING:
            return False
        if book.checksum() == checksum:
            return False
        book.state = _BookState.RESYNCING
        self._queue_resubscribe(target, channel, pair)
        return True

    def _queue_resubscribe(self, target: _Target | None, channel: str, pair: str) -> None:
        if target is not None:
            sub, targets = target.sub, [target]
        else:
            sub = _Subscription(name="book", pairs=(pair,), depth=_depth_of(channel))
            targets = [_Target(sub, pair, _destination(sub, pair))]
        self._queue_request("unsubscribe", sub, targets)
        self._queue_request("subscribe", sub, targets)

    # -- private data --------------------------------------------------------------------------

    def _on_private(self, entries: list[Any], channel: str, meta: dict[str, Any]) -> list[Event]:
        if channel not in PRIVATE_CHANNELS:
            return self._unrecognized(f"unknown private channel {channel[:40]!r}")
        sequence_value = meta.get("sequence")
        try:
            sequence = None if sequence_value is None else _integer("sequence", sequence_value)
        except _BadElement as exc:
            return self._unrecognized(f"{channel}: {exc}")
        target = self._by_key.get((channel, None))
        destination = (
            target.destination
            if target is not None
            else _destination(_Subscription(name=channel, pairs=()), None)
        )
        own_trades = channel == "ownTrades"
        kinds, id_field = (_OWN_TRADE, "trade_id") if own_trades else (_OPEN_ORDER, "order_id")
        payload_type = f"exchange_bridge.kraken.{_PAYLOAD_NAMES[channel]}"
        events: list[Event] = []
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict) or not entry:
                events += self._unrecognized(f"{channel}[{index}] is not an object of entries")
                continue
            for entry_id, fields in entry.items():
                try:
                    payload = _private_payload(kinds, id_field, entry_id, sequence, fields)
                except _BadElement as exc:
                    events += self._unrecognized(f"{channel}[{index}]: {exc}")
                    continue
                time_us = payload.get("time") if own_trades else payload.get("lastupdated")
                events.append(
                    Push(
                        destination=destination,
                        payload_type=payload_type,
                        payload=payload,
                        event_time_ms=None if time_us is None else time_us // 1000,
                        # ownTrades re-sends recent trades (snapshot) on every subscribe, so a
                        # reconnect repeats them: the trade id and content identify a copy.
                        # Other channels have no identity: equal content is new data there.
                        identity=_identity(entry_id, fields) if own_trades else None,
                        exchange_conn_id=self._conn_id,
                    )
                )
        return events

    # -- state ----------------------------------------------------------------------------------

    @property
    def all_subscribed(self) -> bool:
        return all(t.state is _TargetState.SUBSCRIBED for t in self._targets)


_PAYLOAD_NAMES = {
    "ticker": "Ticker",
    "ohlc": "Ohlc",
    "trade": "Trade",
    "spread": "Spread",
    "book": "Book",
    "openOrders": "OpenOrder",
    "ownTrades": "OwnTrade",
}


def _depth_of(channel: str) -> int:
    parameter = channel.partition("-")[2]
    return int(parameter) if parameter.isascii() and parameter.isdigit() else DEFAULT_BOOK_DEPTH


def _request_id(value: Any) -> str | None:
    """``reqid`` as text; None when absent. Kraken's are integers."""
    return None if value is None else _text(value)


def _echoed_arg(message: Mapping[str, Any], subscription: Mapping[str, Any]) -> dict[str, str]:
    """What a subscriptionStatus adds to the destination's arg: channelID and subscription
    fields such as maxratecount. Never the token."""
    echoed: dict[str, str] = {}
    if message.get("channelID") is not None:
        echoed["channelID"] = _text(message["channelID"])
    for key, value in subscription.items():
        if key not in ("name", "token", "depth", "interval") and value is not None:
            echoed[str(key)] = _text(value)
    return echoed


def _identity(entry_id: str, fields: Any) -> str:
    text = f"{entry_id}\n{_compact_sorted(fields)}"
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _compact_sorted(value: Any) -> str:
    if isinstance(value, dict):
        return _compact({k: value[k] for k in sorted(value)})
    return _compact(value)
