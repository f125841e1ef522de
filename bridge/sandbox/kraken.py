"""A Kraken WebSocket v1 simulator on loopback, for tests and the demo.

One server serves the public endpoint on ``/`` (``wss://ws.kraken.com``) and the private one on
``/auth`` (``wss://ws-auth.kraken.com``); other paths get HTTP 404. What it reproduces:

* ``systemStatus`` with a ``connectionID`` (by default random and above 2**63) on connect, and
  to every connection on each scripted status change (``online``, ``maintenance``,
  ``cancel_only``, ``post_only``, ``limit_only``); public data pauses during ``maintenance``;
* subscribe / unsubscribe with ``reqid``: one ``subscriptionStatus`` per pair, ``BTC/USD``
  accepted and echoed as ``XBT/USD``, and the error texts of PROTOCOLS.md for a bad depth, a bad
  interval, a pair not in ``BASE/QUOTE`` form, an unknown pair and a repeated subscription,
  ``Event(s) not found`` and the bare ``Malformed request``;
* ``heartbeat`` about once per ``heartbeat_interval`` of silence, only while the connection has
  a subscription; ``ping`` / ``pong`` with ``reqid``;
* ticker, ohlc, trade, spread and book data for the subscribed pairs, each at its own rate
  (``data_rate``, or ``rates`` per channel); books are a snapshot then updates per subscribed
  depth, one- or two-sided, with deletes, republished levels (``"r"``) and correct checksums,
  until :meth:`KrakenSimulator.corrupt_next_checksum` asks for a wrong one;
* ``openOrders`` / ``ownTrades`` on ``/auth`` for a valid token only, with a snapshot and a
  per-connection ``sequence``;
* ``{"Error":"Exceeded msg rate"}`` beyond ``max_messages_per_second`` client messages;
* scripted disconnects (``drop_all``, ``close_connections``) and raw frames (``send_raw``).

Texts PROTOCOLS.md does not give are marked (unverified) where they are defined; they are class
attributes, so a test can change them.

Frames for one connection leave in the order they were produced (one writer per connection):
a book update never overtakes the snapshot it follows. Run ``python -m bridge.sandbox.kraken
--help`` for a standalone server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import re
import time
import zlib
from collections import deque
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from bridge.sandbox.server import SimulatorServer, run_standalone

__all__ = [
    "AUTH_PATH",
    "DEFAULT_PAIRS",
    "DEPTHS",
    "INTERVALS",
    "PUBLIC_PATH",
    "SYSTEM_STATUSES",
    "KrakenConnection",
    "KrakenSimulator",
    "KrakenStats",
    "book_checksum",
    "main",
]

logger = logging.getLogger(__name__)

# -- protocol constants ----------------------------------------------------------------------

PUBLIC_PATH: Final = "/"
AUTH_PATH: Final = "/auth"
_ENDPOINTS: Final = {PUBLIC_PATH: "public", AUTH_PATH: "auth"}

VERSION: Final = "1.9.0"
SYSTEM_STATUSES: Final = ("online", "maintenance", "cancel_only", "post_only", "limit_only")
PUBLIC_CHANNELS: Final = ("ticker", "ohlc", "trade", "spread", "book")
PRIVATE_CHANNELS: Final = ("openOrders", "ownTrades")
DEPTHS: Final = (10, 25, 100, 500, 1000)
INTERVALS: Final = (1, 5, 15, 30, 60, 240, 1440, 10080, 21600)
DEFAULT_PAIRS: Final = ("XBT/USD", "XBT/EUR", "ETH/USD", "ETH/XBT")
# Kraken's own codes for some currencies; subscriptions may use either, acks echo Kraken's.
ALIASES: Final = {"BTC": "XBT"}
_PAIR_FORMAT = re.compile(r"[A-Z0-9]{2,10}/[A-Z0-9]{2,10}")
RATE_ERROR: Final = '{"Error":"Exceeded msg rate"}'

# Levels each side of a fresh synthetic book; a depth beyond it sees the whole book.
_BOOK_LEVELS: Final = 40
_PRICE_DECIMALS: Final = 5
_VOLUME_DECIMALS: Final = 8


def _dumps(obj: Any) -> str:
    # Kraken's event messages come with sorted keys and compact separators (as in the seed).
    return json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _dumps_data(obj: Any) -> str:
    # Data arrays keep their payload's key order (e.g. "a" before "c").
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _now_text() -> str:
    """Now as Kraken writes times: decimal seconds with six digits."""
    ns = time.time_ns()
    return f"{ns // 1_000_000_000}.{ns // 1000 % 1_000_000:06d}"


def _fixed(units: int, decimals: int) -> str:
    scale = 10**decimals
    return f"{units // scale}.{units % scale:0{decimals}d}"


def _canonical(pair: str) -> str:
    return "/".join(ALIASES.get(part, part) for part in pair.split("/"))


def book_checksum(asks: Sequence[tuple[str, str]], bids: Sequence[tuple[str, str]]) -> str:
    """CRC32 of the best 10 asks then the best 10 bids, price and volume texts without ``.``
    and leading zeros. Written here independently of the adapter's copy on purpose: the
    simulator is the other side of the protocol, and sharing the client's code would let a
    checksum bug pass both."""
    text = "".join(
        price.replace(".", "").lstrip("0") + volume.replace(".", "").lstrip("0")
        for price, volume in [*asks[:10], *bids[:10]]
    )
    return str(zlib.crc32(text.encode()))


# -- state -------------------------------------------------------------------------------------


@dataclass
class KrakenStats:
    """Counters for tests. ``errors_sent`` maps an error message to how often it was sent;
    ``pushes_sent`` maps a channel name (``book``, ``ownTrades``…) to data messages sent."""

    connects_total: int = 0
    disconnects_total: int = 0
    subscribe_requests: int = 0
    unsubscribe_requests: int = 0
    acks_sent: int = 0
    errors_sent: dict[str, int] = field(default_factory=dict)
    pings: int = 0
    heartbeats_sent: int = 0
    pushes_sent: dict[str, int] = field(default_factory=dict)
    checksums_corrupted: int = 0
    rate_errors: int = 0
    status_changes: int = 0


@dataclass(frozen=True)
class _Subscription:
    name: str
    channel_name: str
    """``book-10``, ``ohlc-5``, ``ticker``, ``openOrders``…"""
    pair: str | None
    """Kraken's form (``XBT/USD``); None for private channels."""
    channel_id: int | None
    depth: int = 10
    interval: int = 1


@dataclass(eq=False)
class KrakenConnection:
    """What the simulator knows about one live WebSocket connection."""

    path: str
    connection_id: int
    websocket: ServerConnection | None = field(default=None, repr=False)
    subscriptions: dict[tuple[str, str | None], _Subscription] = field(default_factory=dict)
    """(channelName, pair) -> subscription."""
    sequences: dict[str, int] = field(default_factory=dict)
    """Private channel -> last ``sequence`` sent."""
    last_sent: float = field(default=0.0, repr=False)
    """Event-loop time of the last frame queued (heartbeats fill silences)."""
    received_at: deque[float] = field(default_factory=deque, repr=False)
    outbox: asyncio.Queue[str | bytes] = field(default_factory=asyncio.Queue, repr=False)

    @property
    def endpoint(self) -> str:
        """``public`` or ``auth``."""
        return _ENDPOINTS[self.path]

    def is_subscribed(self, name: str, pair: str | None = None) -> bool:
        """Subscribed to channel ``name`` (any depth/interval), for ``pair`` when given."""
        wanted = None if pair is None else _canonical(pair)
        return any(
            s.name == name and (wanted is None or s.pair == wanted)
            for s in self.subscriptions.values()
        )


@dataclass
class _Level:
    volume: int
    """In units of 10**-8."""
    timestamp: str


@dataclass
class _Market:
    """One pair's synthetic market: a book (price units of 10**-5) and running statistics."""

    tick: int
    asks: dict[int, _Level]
    bids: dict[int, _Level]
    last_price: int
    last_volume: int = 100_000_000
    volume_today: int = 0
    trades_today: int = 0
    candles: dict[int, dict[str, Any]] = field(default_factory=dict)

    def view(self, depth: int) -> tuple[list[tuple[int, _Level]], list[tuple[int, _Level]]]:
        """The best ``depth`` levels per side: asks lowest first, bids highest first."""
        asks = [(p, self.asks[p]) for p in sorted(self.asks)[:depth]]
        bids = [(p, self.bids[p]) for p in sorted(self.bids, reverse=True)[:depth]]
        return asks, bids


def _texts(levels: Iterable[tuple[int, _Level]]) -> list[tuple[str, str]]:
    return [(_fixed(p, _PRICE_DECIMALS), _fixed(lv.volume, _VOLUME_DECIMALS)) for p, lv in levels]


# -- the simulator ----------------------------------------------------------------------------


class KrakenSimulator(SimulatorServer):
    """Kraken v1 WebSocket server on loopback. Use ``async with KrakenSimulator(...) as sim:``.

    ``tokens``: the valid private-channel tokens. ``data_rate``: public data messages per second
    per channel and pair (0: only what is scripted, plus the book snapshot and first ticker on
    subscribe); ``rates`` overrides it per channel name. ``private_rate``: new orders and trades
    per second for private subscribers. ``max_messages_per_second``: client messages allowed in
    any one-second window before ``{"Error":"Exceeded msg rate"}`` (None: no limit).
    ``first_connection_id``: connection ids count up from it (default: random, above 2**63).
    """

    # Texts PROTOCOLS.md gives.
    DEPTH_ERROR = "Subscription depth not supported"
    INTERVAL_ERROR = "Subscription ohlc interval not supported"
    PAIR_FORMAT_ERROR = "Currency pair not in ISO 4217-A3 format {pair}"
    ALREADY_SUBSCRIBED = "Already subscribed"
    EVENT_NOT_FOUND = "Event(s) not found"
    MALFORMED = "Malformed request"
    # (unverified) texts, as the live service has been seen to answer.
    PAIR_UNKNOWN_ERROR = "Currency pair not supported {pair}"
    NOT_SUBSCRIBED = "Subscription Not Found"
    NAME_ERROR = "Subscription name invalid"
    TOKEN_ERROR = "ESession:Invalid session"
    PRIVATE_ON_PUBLIC_ERROR = "Private data and trading are unavailable without authentication"

    label = "Kraken simulator"
    default_path = PUBLIC_PATH
    tls_name = "kraken-sim"
    _log = logger

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = False,
        pairs: Collection[str] = DEFAULT_PAIRS,
        tokens: Collection[str] = (),
        status: str = "online",
        heartbeat_interval: float = 1.0,
        data_rate: float = 0.0,
        rates: Mapping[str, float] | None = None,
        private_rate: float = 0.0,
        max_messages_per_second: float | None = None,
        first_connection_id: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(host=host, port=port, tls=tls)
        self.pairs: set[str] = {_canonical(p) for p in pairs}
        self.tokens: set[str] = set(tokens)
        self.status = status
        self.heartbeat_interval = heartbeat_interval
        self.rates: dict[str, float] = {name: data_rate for name in PUBLIC_CHANNELS}
        self.rates.update(rates or {})
        self.private_rate = private_rate
        self.max_messages_per_second = max_messages_per_second
        self.paused = False
        """True: the rate loops generate nothing (scripted sends still go)."""
        self.stats = KrakenStats()

        self._random = random.Random(seed)
        self._next_connection_id = first_connection_id
        self._next_channel_id = 0
        self._connections: dict[int, KrakenConnection] = {}
        self._markets: dict[str, _Market] = {}
        self._corrupt: list[str | None] = []
        self._order_number = 0
        self._open_orders: dict[str, dict[str, Any]] = {}
        self._own_trades: list[dict[str, Any]] = []

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        await self._listen(
            self._handle,
            process_request=self._check_path,
            # Kraken clients keep the line alive with {"event":"ping"}; no protocol pings.
            ping_interval=None,
            close_timeout=2.0,
        )
        for name in PUBLIC_CHANNELS:
            self._spawn(self._rate_loop(name))
        self._spawn(self._private_loop())
        logger.info("Kraken simulator listening on %s", self.url())

    # -- observation ---------------------------------------------------------------------------

    @property
    def connections(self) -> list[KrakenConnection]:
        """Live connections, oldest first."""
        return list(self._connections.values())

    def subscribers(self, name: str, pair: str | None = None) -> list[KrakenConnection]:
        """Live connections subscribed to channel ``name`` (for ``pair`` when given)."""
        return [c for c in self._connections.values() if c.is_subscribed(name, pair)]

    async def wait_for_subscribers(
        self, name: str, n: int = 1, *, pair: str | None = None, timeout: float = 5.0
    ) -> None:
        """Wait until at least ``n`` live connections are subscribed to ``name`` (``pair``)."""
        await self._wait_for_count(
            lambda: len(self.subscribers(name, pair)), n, timeout, f"subscriber(s) to {name!r}"
        )

    async def wait_for_connections(self, n: int = 1, *, timeout: float = 5.0) -> None:
        await self._wait_for_count(lambda: len(self._connections), n, timeout, "connection(s)")

    def book(
        self, pair: str, depth: int = 10
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """The best ``depth`` (price, volume) texts per side, asks lowest first, bids highest
        first: what a client holding ``book-<depth>`` of ``pair`` must have."""
        asks, bids = self._market(_canonical(pair)).view(depth)
        return _texts(asks), _texts(bids)

    def checksum(self, pair: str) -> str:
        asks, bids = self.book(pair, 10)
        return book_checksum(asks, bids)

    # -- scripting -----------------------------------------------------------------------------

    async def set_status(self, status: str) -> None:
        """Change the system status and send ``systemStatus`` to every connection."""
        self.status = status
        self.stats.status_changes += 1
        for conn in self.connections:
            self._send_system_status(conn)
        await asyncio.sleep(0)

    def corrupt_next_checksum(self, pair: str | None = None) -> None:
        """The next book update (of ``pair``, or of any pair) carries a wrong checksum; the
        book data itself stays right. Call again for more."""
        self._corrupt.append(None if pair is None else _canonical(pair))

    async def tick(self, *channels: str) -> None:
        """Generate one round of data now for the given public channels (default: all), for
        every subscribed pair, whatever the rates and ``paused``."""
        for name in channels or PUBLIC_CHANNELS:
            self._generate(name)
        await asyncio.sleep(0)

    async def push_private(self, channel: str, entries: Sequence[Mapping[str, Any]]) -> None:
        """Send ``[entries, channel, {"sequence": n}]`` to every subscriber of ``channel``
        (``openOrders`` or ``ownTrades``), ``n`` counting per connection."""
        for conn in self.subscribers(channel):
            self._send_private(conn, channel, [dict(e) for e in entries])
        await asyncio.sleep(0)

    async def send_raw(
        self, text: str | bytes, *, path: str | None = None, connection_id: int | None = None
    ) -> None:
        """Send ``text`` unchanged (``str`` as a text frame, ``bytes`` as binary) to every live
        connection, or only those on ``path`` / with ``connection_id``."""
        for conn in self._targets(path, connection_id):
            self._send(conn, text)
        await asyncio.sleep(0)

    async def close_connections(
        self,
        code: int = 1000,
        reason: str = "",
        *,
        path: str | None = None,
        connection_id: int | None = None,
    ) -> None:
        """Close connections cleanly with any close code and reason."""
        targets = self._targets(path, connection_id)
        await asyncio.gather(*(c.websocket.close(code, reason) for c in targets if c.websocket))

    async def drop_all(self) -> None:
        """Abort every connection's TCP transport: no close frame, like a network failure."""
        dropped = set(self._connections)
        for conn in self.connections:
            if conn.websocket is not None:
                conn.websocket.transport.abort()
        await self._wait_until(
            lambda: dropped.isdisjoint(self._connections),
            2.0,
            lambda: "dropped connections to go away",
        )

    def _targets(self, path: str | None, connection_id: int | None) -> list[KrakenConnection]:
        return [
            c
            for c in self._connections.values()
            if (path is None or c.path == path)
            and (connection_id is None or c.connection_id == connection_id)
        ]

    # -- connection handling -------------------------------------------------------------------

    def _check_path(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path or PUBLIC_PATH
        if path not in _ENDPOINTS:
            logger.info("Kraken simulator: rejecting unknown path %s", request.path)
            return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        return None

    def _new_connection_id(self) -> int:
        if self._next_connection_id is None:
            return self._random.randrange(2**63, 2**64)
        connection_id = self._next_connection_id
        self._next_connection_id += 1
        return connection_id

    async def _handle(self, websocket: ServerConnection) -> None:
        assert websocket.request is not None  # the handshake is complete
        conn = KrakenConnection(
            path=urlsplit(websocket.request.path).path or PUBLIC_PATH,
            connection_id=self._new_connection_id(),
            websocket=websocket,
        )
        self._connections[conn.connection_id] = conn
        self.stats.connects_total += 1
        self._notify_changed()
        logger.info("Kraken simulator: connection %d opened on %s", conn.connection_id, conn.path)
        writer = self._spawn(self._writer(conn))
        heartbeats = self._spawn(self._heartbeats(conn))
        self._send_system_status(conn)
        try:
            async for message in websocket:
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                logger.debug("Kraken simulator: %d <- %s", conn.connection_id, text)
                self._on_text(conn, text)
        except ConnectionClosed:
            pass  # abrupt loss: nothing to answer
        finally:
            heartbeats.cancel()
            writer.cancel()
            del self._connections[conn.connection_id]
            self.stats.disconnects_total += 1
            self._notify_changed()
            logger.info(
                "Kraken simulator: connection %d closed (code %s)",
                conn.connection_id,
                websocket.close_code,
            )

    async def _writer(self, conn: KrakenConnection) -> None:
        assert conn.websocket is not None
        while True:
            frame = await conn.outbox.get()
            try:
                await conn.websocket.send(frame)
            except ConnectionClosed:
                return
            logger.debug("Kraken simulator: %d -> %s", conn.connection_id, frame)

    async def _heartbeats(self, conn: KrakenConnection) -> None:
        if self.heartbeat_interval <= 0:
            return
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.heartbeat_interval / 4)
            quiet = loop.time() - conn.last_sent
            if conn.subscriptions and quiet >= self.heartbeat_interval:
                self.stats.heartbeats_sent += 1
                self._send(conn, '{"event":"heartbeat"}')

    # -- sending (synchronous: frames are queued in order, one writer sends them) ---------------

    def _send(self, conn: KrakenConnection, frame: str | bytes) -> None:
        conn.outbox.put_nowait(frame)
        conn.last_sent = asyncio.get_running_loop().time()

    def _send_event(self, conn: KrakenConnection, message: Mapping[str, Any]) -> None:
        self._send(conn, _dumps(message))

    def _send_system_status(self, conn: KrakenConnection) -> None:
        self._send_event(
            conn,
            {
                "connectionID": conn.connection_id,
                "event": "systemStatus",
                "status": self.status,
                "version": VERSION,
            },
        )

    def _send_error(self, conn: KrakenConnection, text: str, reqid: int | None) -> None:
        """A bare ``{"errorMessage":…,"event":"error"}``."""
        self.stats.errors_sent[text] = self.stats.errors_sent.get(text, 0) + 1
        message: dict[str, Any] = {"errorMessage": text, "event": "error"}
        if reqid is not None:
            message["reqid"] = reqid
        self._send_event(conn, message)

    def _send_status(
        self,
        conn: KrakenConnection,
        status: str,
        subscription: Mapping[str, Any],
        *,
        reqid: int | None,
        pair: str | None = None,
        channel_name: str | None = None,
        channel_id: int | None = None,
        error: str | None = None,
    ) -> None:
        message: dict[str, Any] = {
            "event": "subscriptionStatus",
            "status": status,
            "subscription": {k: v for k, v in subscription.items() if k != "token"},
        }
        if pair is not None:
            message["pair"] = pair
        if reqid is not None:
            message["reqid"] = reqid
        if channel_name is not None:
            message["channelName"] = channel_name
        if channel_id is not None:
            message["channelID"] = channel_id
        if error is not None:
            message["errorMessage"] = error
            self.stats.errors_sent[error] = self.stats.errors_sent.get(error, 0) + 1
        else:
            self.stats.acks_sent += 1
        self._send_event(conn, message)

    def _count_push(self, name: str) -> None:
        self.stats.pushes_sent[name] = self.stats.pushes_sent.get(name, 0) + 1

    # -- requests ------------------------------------------------------------------------------

    def _over_rate(self, conn: KrakenConnection) -> bool:
        if self.max_messages_per_second is None:
            return False
        now = asyncio.get_running_loop().time()
        while conn.received_at and now - conn.received_at[0] >= 1.0:
            conn.received_at.popleft()
        if len(conn.received_at) >= self.max_messages_per_second:
            return True
        conn.received_at.append(now)
        return False

    def _on_text(self, conn: KrakenConnection, text: str) -> None:
        if self._over_rate(conn):
            self.stats.rate_errors += 1
            self._send(conn, RATE_ERROR)
            return
        try:
            request = json.loads(text)
        except ValueError:
            self._send_error(conn, self.MALFORMED, None)
            return
        if not isinstance(request, dict) or not isinstance(request.get("event"), str):
            self._send_error(conn, self.MALFORMED, None)
            return
        reqid = request.get("reqid")
        if reqid is not None and (isinstance(reqid, bool) or not isinstance(reqid, int)):
            self._send_error(conn, self.MALFORMED, None)
            return
        event = request["event"]
        if event == "ping":
            self.stats.pings += 1
            self._send_event(
                conn, {"event": "pong"} if reqid is None else {"event": "pong", "reqid": reqid}
            )
        elif event == "subscribe":
            self.stats.subscribe_requests += 1
            self._subscribe(conn, request, reqid)
        elif event == "unsubscribe":
            self.stats.unsubscribe_requests += 1
            self._unsubscribe(conn, request, reqid)
        else:
            self._send_error(conn, self.EVENT_NOT_FOUND, reqid)

    def _request_parts(
        self, conn: KrakenConnection, request: dict[str, Any], reqid: int | None
    ) -> tuple[dict[str, Any], list[str | None]] | None:
        """The request's subscription object and pairs (``[None]`` for private channels), or
        None after answering a request that is malformed as a whole."""
        subscription = request.get("subscription")
        if not isinstance(subscription, dict) or not isinstance(subscription.get("name"), str):
            self._send_error(conn, self.MALFORMED, reqid)
            return None
        if subscription["name"] in PRIVATE_CHANNELS:
            return subscription, [None]
        pairs = request.get("pair")
        if not isinstance(pairs, list) or not pairs or not all(isinstance(p, str) for p in pairs):
            self._send_error(conn, self.MALFORMED, reqid)
            return None
        return subscription, list(pairs)

    def _subscribe(
        self, conn: KrakenConnection, request: dict[str, Any], reqid: int | None
    ) -> None:
        parts = self._request_parts(conn, request, reqid)
        if parts is None:
            return
        subscription, pairs = parts
        name = subscription["name"]
        for pair in pairs:  # one answer per pair
            echoed = None if pair is None else _canonical(pair)
            problem = self._check(conn, subscription, pair)
            channel = self._channel_name(subscription)
            if problem is None and (channel, echoed) in conn.subscriptions:
                problem = self.ALREADY_SUBSCRIBED
            if problem is not None:
                self._send_status(
                    conn, "error", subscription, reqid=reqid, pair=echoed, error=problem
                )
                continue
            channel_id = None
            if echoed is not None:
                self._next_channel_id += 1
                channel_id = self._next_channel_id
            sub = _Subscription(
                name=name,
                channel_name=channel,
                pair=echoed,
                channel_id=channel_id,
                depth=subscription.get("depth", 10),
                interval=subscription.get("interval", 1),
            )
            ack = {
                k: v
                for k, v in subscription.items()
                if k not in ("token", "snapshot", "ratecounter")
            }
            if name == "book":
                ack["depth"] = sub.depth
            if name == "ohlc":
                ack["interval"] = sub.interval
            if name == "openOrders" and subscription.get("ratecounter") is True:
                ack["maxratecount"] = 125
            self._send_status(
                conn,
                "subscribed",
                ack,
                reqid=reqid,
                pair=echoed,
                channel_name=channel,
                channel_id=channel_id,
            )
            conn.subscriptions[(channel, echoed)] = sub
            self._initial_data(conn, sub, subscription)
        self._notify_changed()

    def _unsubscribe(
        self, conn: KrakenConnection, request: dict[str, Any], reqid: int | None
    ) -> None:
        parts = self._request_parts(conn, request, reqid)
        if parts is None:
            return
        subscription, pairs = parts
        for pair in pairs:
            echoed = None if pair is None else _canonical(pair)
            problem = self._check(conn, subscription, pair, subscribing=False)
            channel = self._channel_name(subscription)
            sub = conn.subscriptions.get((channel, echoed)) if problem is None else None
            if sub is None:
                self._send_status(
                    conn,
                    "error",
                    subscription,
                    reqid=reqid,
                    pair=echoed,
                    error=problem or self.NOT_SUBSCRIBED,
                )
                continue
            del conn.subscriptions[(channel, echoed)]
            self._send_status(
                conn,
                "unsubscribed",
                {k: v for k, v in subscription.items() if k != "token"},
                reqid=reqid,
                pair=echoed,
                channel_name=channel,
                channel_id=sub.channel_id,
            )
        self._notify_changed()

    @staticmethod
    def _channel_name(subscription: Mapping[str, Any]) -> str:
        name = str(subscription["name"])
        if name == "book":
            return f"book-{subscription.get('depth', 10)}"
        if name == "ohlc":
            return f"ohlc-{subscription.get('interval', 1)}"
        return name

    def _check(
        self,
        conn: KrakenConnection,
        subscription: Mapping[str, Any],
        pair: str | None,
        *,
        subscribing: bool = True,
    ) -> str | None:
        """Why this (subscription, pair) cannot be served, or None."""
        name = subscription["name"]
        if name in PRIVATE_CHANNELS:
            if conn.endpoint != "auth":
                return self.PRIVATE_ON_PUBLIC_ERROR
            if subscribing and subscription.get("token") not in self.tokens:
                return self.TOKEN_ERROR
            return None
        if name not in PUBLIC_CHANNELS:
            return self.NAME_ERROR
        assert pair is not None
        if not _PAIR_FORMAT.fullmatch(pair):
            return self.PAIR_FORMAT_ERROR.format(pair=pair)
        if _canonical(pair) not in self.pairs:
            return self.PAIR_UNKNOWN_ERROR.format(pair=pair)
        depth = subscription.get("depth", 10)
        if name == "book" and (isinstance(depth, bool) or depth not in DEPTHS):
            return self.DEPTH_ERROR
        interval = subscription.get("interval", 1)
        if name == "ohlc" and (isinstance(interval, bool) or interval not in INTERVALS):
            return self.INTERVAL_ERROR
        return None

    def _initial_data(
        self, conn: KrakenConnection, sub: _Subscription, subscription: Mapping[str, Any]
    ) -> None:
        """What a new subscription receives right after its ack."""
        if sub.name == "book" and sub.pair is not None:
            asks, bids = self._market(sub.pair).view(sub.depth)
            snapshot = {
                "as": [[*t, lv.timestamp] for t, (_, lv) in zip(_texts(asks), asks, strict=True)],
                "bs": [[*t, lv.timestamp] for t, (_, lv) in zip(_texts(bids), bids, strict=True)],
            }
            self._send(conn, _dumps_data([sub.channel_id, snapshot, sub.channel_name, sub.pair]))
            self._count_push("book")
        elif sub.name == "ticker" and sub.pair is not None:
            self._send_public(conn, sub, self._ticker(self._market(sub.pair)))
        elif sub.name == "openOrders":
            self._send_private(conn, "openOrders", [{k: v} for k, v in self._open_orders.items()])
        elif sub.name == "ownTrades" and subscription.get("snapshot", True) is not False:
            self._send_private(conn, "ownTrades", list(self._own_trades[-50:]))

    def _send_public(self, conn: KrakenConnection, sub: _Subscription, payload: Any) -> None:
        self._send(conn, _dumps_data([sub.channel_id, payload, sub.channel_name, sub.pair]))
        self._count_push(sub.name)

    def _send_private(
        self, conn: KrakenConnection, channel: str, entries: list[dict[str, Any]]
    ) -> None:
        sequence = conn.sequences.get(channel, 0) + 1
        conn.sequences[channel] = sequence
        self._send(conn, _dumps_data([entries, channel, {"sequence": sequence}]))
        self._count_push(channel)

    # -- synthetic market data -----------------------------------------------------------------

    def _market(self, pair: str) -> _Market:
        market = self._markets.get(pair)
        if market is None:
            base = {"XBT/USD": 60000.0, "XBT/EUR": 55000.0, "ETH/USD": 3000.0, "ETH/XBT": 0.05}
            mid = int(base.get(pair, 100.0) * 10**_PRICE_DECIMALS)
            tick = max(1, mid // 600_000)
            now = _now_text()
            market = _Market(tick=tick, asks={}, bids={}, last_price=mid)
            for level in range(1, _BOOK_LEVELS + 1):
                market.asks[mid + level * tick] = _Level(self._volume(), now)
                market.bids[mid - level * tick] = _Level(self._volume(), now)
            self._markets[pair] = market
        return market

    def _volume(self) -> int:
        return self._random.randint(1_000_000, 1_000_000_000)  # 0.01 to 10

    def _subscriptions(self, name: str) -> list[tuple[KrakenConnection, _Subscription]]:
        return [
            (conn, sub)
            for conn in self._connections.values()
            for sub in conn.subscriptions.values()
            if sub.name == name
        ]

    async def _rate_loop(self, name: str) -> None:
        while True:
            rate = self.rates.get(name, 0.0)
            await asyncio.sleep(1.0 / rate if rate > 0 else 0.2)
            if rate > 0 and not self.paused and self.status != "maintenance":
                self._generate(name)

    def _generate(self, name: str) -> None:
        subs = self._subscriptions(name)
        pairs = sorted({s.pair for _, s in subs if s.pair is not None})
        for pair in pairs:
            market = self._market(pair)
            targets = [(c, s) for c, s in subs if s.pair == pair]
            if name == "book":
                self._book_step(market, pair, targets)
                continue
            if name == "trade":
                payload: Any = self._trades(market)
            elif name == "ticker":
                payload = self._ticker(market)
            elif name == "spread":
                payload = self._spread(market)
            else:
                for conn, sub in targets:
                    self._send_public(conn, sub, self._candle(market, sub.interval))
                continue
            for conn, sub in targets:
                self._send_public(conn, sub, payload)

    def _book_step(
        self, market: _Market, pair: str, targets: list[tuple[KrakenConnection, _Subscription]]
    ) -> None:
        depths = sorted({s.depth for _, s in targets})
        before = {d: market.view(d) for d in depths}
        old_asks, old_bids = dict(market.asks), dict(market.bids)
        self._mutate(market)
        checksum = book_checksum(*_top_texts(market))
        updates: dict[int, tuple[list[list[str]], list[list[str]]]] = {}
        for depth in depths:
            new_asks, new_bids = market.view(depth)
            ask_changes = _diff(before[depth][0], new_asks, market.asks, old_asks)
            bid_changes = _diff(before[depth][1], new_bids, market.bids, old_bids)
            if ask_changes or bid_changes:
                updates[depth] = (ask_changes, bid_changes)
        # A change no subscriber can see sends nothing; a requested corruption waits for a
        # step that does send.
        if updates and self._corrupt and self._corrupt[0] in (None, pair):
            self._corrupt.pop(0)
            self.stats.checksums_corrupted += 1
            checksum = str((int(checksum) + 1) % 2**32)
        for depth, (ask_changes, bid_changes) in updates.items():
            parts: list[dict[str, Any]]
            if ask_changes and bid_changes:
                parts = [{"a": ask_changes}, {"b": bid_changes, "c": checksum}]
            elif ask_changes:
                parts = [{"a": ask_changes, "c": checksum}]
            else:
                parts = [{"b": bid_changes, "c": checksum}]
            for conn, sub in targets:
                if sub.depth == depth:
                    self._send(conn, _dumps_data([sub.channel_id, *parts, sub.channel_name, pair]))
                    self._count_push("book")

    def _mutate(self, market: _Market) -> None:
        """One change per chosen side: resize, delete (a new level refills the far end), or
        insert a new price near the top. Sometimes both sides change together."""
        sides = [self._random.choice(("a", "b"))]
        if self._random.random() < 0.3:
            sides = ["a", "b"]
        now = _now_text()
        for side in sides:
            levels = market.asks if side == "a" else market.bids
            ordered = sorted(levels, reverse=side == "b")
            direction = 1 if side == "a" else -1
            roll = self._random.random()
            if roll < 0.45:
                price = ordered[self._random.randrange(min(15, len(ordered)))]
                levels[price] = _Level(self._volume(), now)
            elif roll < 0.7 and len(levels) > 12:
                del levels[ordered[self._random.randrange(10)]]
                levels[ordered[-1] + direction * market.tick] = _Level(self._volume(), now)
            else:
                other_best = min(market.asks) if side == "b" else max(market.bids)
                price = ordered[0] + direction * market.tick * self._random.randint(-8, 3)
                if (price - other_best) * direction > 0 and price not in levels:
                    levels[price] = _Level(self._volume(), now)
                    # keep the book from growing without bound
                    if len(levels) > 2 * _BOOK_LEVELS:
                        del levels[max(levels) if side == "a" else min(levels)]
                else:
                    levels[ordered[0]] = _Level(self._volume(), now)
        market.last_price = (min(market.asks) + max(market.bids)) // 2

    def _trades(self, market: _Market) -> list[list[str]]:
        rows = []
        for _ in range(self._random.randint(1, 3)):
            buy = self._random.random() < 0.5
            price = min(market.asks) if buy else max(market.bids)
            volume = self._volume() // 10
            market.last_price, market.last_volume = price, volume
            market.volume_today += volume
            market.trades_today += 1
            for candle in market.candles.values():
                candle["high"] = max(candle["high"], price)
                candle["low"] = min(candle["low"], price)
                candle["close"] = price
                candle["volume"] += volume
                candle["count"] += 1
            rows.append(
                [
                    _fixed(price, _PRICE_DECIMALS),
                    _fixed(volume, _VOLUME_DECIMALS),
                    _now_text(),
                    "b" if buy else "s",
                    self._random.choice(("l", "m")),
                    "",
                ]
            )
        return rows

    def _ticker(self, market: _Market) -> dict[str, Any]:
        ask, bid = min(market.asks), max(market.bids)
        ask_volume, bid_volume = market.asks[ask].volume, market.bids[bid].volume

        def p(units: int) -> str:
            return _fixed(units, _PRICE_DECIMALS)

        def v(units: int) -> str:
            return _fixed(units, _VOLUME_DECIMALS)

        spread = market.tick * 200
        return {
            "a": [p(ask), ask_volume // 10**_VOLUME_DECIMALS, v(ask_volume)],
            "b": [p(bid), bid_volume // 10**_VOLUME_DECIMALS, v(bid_volume)],
            "c": [p(market.last_price), v(market.last_volume)],
            "v": [v(market.volume_today), v(market.volume_today + 10**10)],
            "p": [p(market.last_price), p(market.last_price)],
            "t": [market.trades_today, market.trades_today + 1000],
            "l": [p(market.last_price - spread), p(market.last_price - 2 * spread)],
            "h": [p(market.last_price + spread), p(market.last_price + 2 * spread)],
            "o": [p(market.last_price), p(market.last_price + market.tick)],
        }

    def _spread(self, market: _Market) -> list[str]:
        ask, bid = min(market.asks), max(market.bids)
        return [
            _fixed(bid, _PRICE_DECIMALS),
            _fixed(ask, _PRICE_DECIMALS),
            _now_text(),
            _fixed(market.bids[bid].volume, _VOLUME_DECIMALS),
            _fixed(market.asks[ask].volume, _VOLUME_DECIMALS),
        ]

    def _candle(self, market: _Market, interval: int) -> list[Any]:
        now = time.time()
        start = int(now) // (interval * 60) * (interval * 60)
        candle = market.candles.get(interval)
        if candle is None or candle["start"] != start:
            price = market.last_price
            candle = {"start": start, "open": price, "high": price, "low": price}
            candle.update(close=price, volume=0, count=0)
            market.candles[interval] = candle
        return [
            _now_text(),
            f"{start + interval * 60}.000000",
            _fixed(candle["open"], _PRICE_DECIMALS),
            _fixed(candle["high"], _PRICE_DECIMALS),
            _fixed(candle["low"], _PRICE_DECIMALS),
            _fixed(candle["close"], _PRICE_DECIMALS),
            _fixed(candle["close"], _PRICE_DECIMALS),
            _fixed(candle["volume"], _VOLUME_DECIMALS),
            candle["count"],
        ]

    # -- synthetic private data ----------------------------------------------------------------

    async def _private_loop(self) -> None:
        while True:
            rate = self.private_rate
            await asyncio.sleep(1.0 / rate if rate > 0 else 0.2)
            if rate > 0 and not self.paused:
                self.new_order_and_fill()

    def new_order_and_fill(self) -> None:
        """Open a new order, and fill and close the oldest one (with its trade): sends
        ``openOrders`` and ``ownTrades`` messages to their subscribers."""
        self._order_number += 1
        n = self._order_number
        order_id = f"O{n:05d}-SIMUL-ATEDXX"
        now = _now_text()
        order = {
            "avg_price": "0.00000",
            "cost": "0.00000",
            "descr": {
                "close": "",
                "leverage": "0:1",
                "order": f"buy 1.00000000 XBT/USD @ limit {60000 + n}.00000",
                "ordertype": "limit",
                "pair": "XBT/USD",
                "price": f"{60000 + n}.00000",
                "price2": "0.00000",
                "type": "buy",
            },
            "expiretm": "0.000000",
            "fee": "0.00000",
            "limitprice": "0.00000",
            "misc": "",
            "oflags": "fciq",
            "opentm": now,
            "refid": None,
            "starttm": "0.000000",
            "status": "open",
            "stopprice": "0.00000",
            "userref": 0,
            "vol": "1.00000000",
            "vol_exec": "0.00000000",
        }
        updates: list[dict[str, Any]] = [{order_id: order}]
        trades: list[dict[str, Any]] = []
        if len(self._open_orders) >= 2:
            closed_id, closed = next(iter(self._open_orders.items()))
            del self._open_orders[closed_id]
            price = closed["descr"]["price"]
            updates.append(
                {
                    closed_id: {
                        "status": "closed",
                        "vol_exec": "1.00000000",
                        "cost": price,
                        "fee": "0.10000",
                        "avg_price": price,
                        "lastupdated": now,
                    }
                }
            )
            trade = {
                f"T{n:05d}-SIMUL-ATEDXX": {
                    "cost": price,
                    "fee": "0.10000",
                    "margin": "0.00000",
                    "ordertxid": closed_id,
                    "ordertype": "limit",
                    "pair": "XBT/USD",
                    "postxid": f"P{n:05d}-SIMUL-ATEDXX",
                    "price": price,
                    "time": now,
                    "type": "buy",
                    "vol": "1.00000000",
                }
            }
            self._own_trades.append(trade)
            trades.append(trade)
        self._open_orders[order_id] = order
        for conn in self.subscribers("openOrders"):
            self._send_private(conn, "openOrders", updates)
        if trades:
            for conn in self.subscribers("ownTrades"):
                self._send_private(conn, "ownTrades", trades)


def _top_texts(market: _Market) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    asks, bids = market.view(10)
    return _texts(asks), _texts(bids)


def _diff(
    before: list[tuple[int, _Level]],
    after: list[tuple[int, _Level]],
    book: Mapping[int, _Level],
    old_book: Mapping[int, _Level],
) -> list[list[str]]:
    """The update a client holding ``before`` (one side, truncated to its depth) needs to hold
    ``after``: deletes (volume 0) for levels gone from the book, and every level of ``after``
    that is new or changed; a level that was in the book all along and only came back into the
    depth is marked ``"r"`` (republished). Levels pushed out by better ones need nothing: the
    client truncates to its depth."""
    changes: list[list[str]] = []
    seen = dict(before)
    for price, _ in before:
        if price not in book:
            changes.append(
                [_fixed(price, _PRICE_DECIMALS), _fixed(0, _VOLUME_DECIMALS), _now_text()]
            )
    for price, level in after:
        old = seen.get(price)
        if old is not None and old == level:
            continue
        row = [_fixed(price, _PRICE_DECIMALS), _fixed(level.volume, _VOLUME_DECIMALS)]
        row.append(level.timestamp)
        if old is None and old_book.get(price) == level:
            row.append("r")
        changes.append(row)
    return changes


# -- standalone entry point ------------------------------------------------------------------


async def script_status_changes(sim: KrakenSimulator, every: float) -> None:
    """Cycle the system status every ``every`` seconds: maintenance, then online, …"""
    cycle = ("maintenance", "online", "post_only", "online", "cancel_only", "online")
    step = 0
    while True:
        await asyncio.sleep(every)
        await sim.set_status(cycle[step % len(cycle)])
        step += 1


async def _serve_forever(options: argparse.Namespace) -> None:
    tokens = options.token or ["demo-token"]
    async with KrakenSimulator(
        host=options.host,
        port=options.port,
        tls=options.tls,
        tokens=tokens,
        heartbeat_interval=options.heartbeat_interval,
        data_rate=options.rate,
        private_rate=options.private_rate,
        max_messages_per_second=options.max_messages_per_second,
    ) as sim:
        print(f"Kraken simulator: public {sim.url(PUBLIC_PATH)}  private {sim.url(AUTH_PATH)}")
        if sim.ca_file:
            print(f"  trust this certificate: {sim.ca_file}")
        print(f"  pairs: {', '.join(sorted(sim.pairs))}; tokens: {', '.join(tokens)}")
        print("Ctrl-C to stop.", flush=True)
        async with asyncio.TaskGroup() as tasks:
            if options.status_every > 0:
                tasks.create_task(script_status_changes(sim, options.status_every))
            tasks.create_task(asyncio.Event().wait())  # run until cancelled by Ctrl-C


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bridge.sandbox.kraken",
        description="Kraken WebSocket v1 simulator (loopback).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--tls", action="store_true", help="serve wss with a self-signed cert")
    parser.add_argument(
        "--token", action="append", help="a valid private token (repeatable; default demo-token)"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=2.0,
        metavar="PER_SECOND",
        help="public data messages per second per channel and pair",
    )
    parser.add_argument("--private-rate", type=float, default=0.5, metavar="PER_SECOND")
    parser.add_argument("--heartbeat-interval", type=float, default=1.0, metavar="SECONDS")
    parser.add_argument("--max-messages-per-second", type=float, default=None, metavar="N")
    parser.add_argument(
        "--status-every",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="cycle the system status (maintenance, online, post_only, …)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every frame")
    options = parser.parse_args(argv)
    return run_standalone(_serve_forever(options), verbose=options.verbose)


if __name__ == "__main__":
    raise SystemExit(main())
