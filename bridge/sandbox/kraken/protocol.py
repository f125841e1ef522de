"""The server side of Kraken WebSockets v1 on loopback, for tests and the demo.

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
* ticker, ohlc, trade, spread and book data for the subscribed pairs, each a generator with
  its own rate (:mod:`bridge.sandbox.kraken.market`); books are a snapshot then updates per
  subscribed depth, one- or two-sided, with deletes, republished levels (``"r"``) and correct
  checksums, until :meth:`KrakenSimulator.corrupt_next_checksum` asks for a wrong one;
* ``openOrders`` / ``ownTrades`` on ``/auth`` for a valid token only, with a snapshot and a
  per-connection ``sequence``;
* ``{"Error":"Exceeded msg rate"}`` beyond ``max_messages_per_second`` client messages.

Texts PROTOCOLS.md does not give are marked (unverified) where they are defined; they are class
attributes, so a test can change them.

Frames for one connection leave in the order they were produced (one writer per connection):
a book update never overtakes the snapshot it follows.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import deque
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from bridge.sandbox.kraken.market import KrakenAccount, KrakenMarket
from bridge.sandbox.kraken.wire import (
    DEFAULT_PAIRS,
    DEPTHS,
    HEARTBEAT,
    INTERVALS,
    PAIR_FORMAT,
    PRIVATE_CHANNELS,
    PUBLIC_CHANNELS,
    RATE_ERROR,
    VERSION,
    canonical,
    channel_name,
    dumps_data,
    dumps_event,
    subscription_status,
)
from bridge.sandbox.server import BookLevels, SimConnection, SimulatorServer, SimulatorStats

logger = logging.getLogger(__name__)

PUBLIC_PATH: Final = "/"
AUTH_PATH: Final = "/auth"

# The system statuses the ``status`` generator cycles through.
_STATUS_CYCLE: Final = ("maintenance", "online", "post_only", "online", "cancel_only", "online")


# -- state -------------------------------------------------------------------------------------


@dataclass
class KrakenStats(SimulatorStats):
    """The shared counters (``errors_sent`` keyed by error message, ``pushes_sent`` by
    channel name: ``book``, ``ownTrades``…), and Kraken's own."""

    heartbeats_sent: int = 0
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


@dataclass(eq=False, kw_only=True)
class KrakenConnection(SimConnection):
    """What the simulator knows about one live Kraken connection."""

    connection_id: int
    """The ``connectionID`` of its ``systemStatus`` (``conn_id`` is its text)."""
    subscriptions: dict[tuple[str, str | None], _Subscription] = field(default_factory=dict)
    """(channelName, pair) -> subscription."""
    sequences: dict[str, int] = field(default_factory=dict)
    """Private channel -> last ``sequence`` sent."""
    last_sent: float = field(default=0.0, repr=False)
    """Event-loop time of the last frame queued (heartbeats fill silences)."""
    received_at: deque[float] = field(default_factory=deque, repr=False)
    outbox: asyncio.Queue[str | bytes] = field(default_factory=asyncio.Queue, repr=False)
    tasks: list[asyncio.Task[None]] = field(default_factory=list, repr=False)
    """Its writer and heartbeat tasks."""

    def is_subscribed(self, channel: str, **arg: str) -> bool:
        """Subscribed to channel ``name`` (any depth/interval), for ``pair=`` when given."""
        if set(arg) - {"pair"}:
            raise TypeError(f"a Kraken subscription has a pair, not {', '.join(arg)}")
        wanted = canonical(arg["pair"]) if "pair" in arg else None
        return any(
            s.name == channel and (wanted is None or s.pair == wanted)
            for s in self.subscriptions.values()
        )


# -- the simulator ----------------------------------------------------------------------------


class KrakenSimulator(SimulatorServer[KrakenConnection, KrakenStats]):
    """Kraken v1 WebSocket server on loopback. Use ``async with KrakenSimulator(...) as sim:``.

    ``tokens``: the valid private-channel tokens. ``rate``: public data messages per second
    per channel and pair (0: only what is scripted, plus the book snapshot and first ticker on
    subscribe); ``rates`` sets one generator: a public channel name, ``private`` (new orders
    and trades per second for private subscribers) or ``status`` (status changes per second).
    ``max_messages_per_second``: client messages allowed in any one-second window before
    ``{"Error":"Exceeded msg rate"}`` (None: no limit). ``first_connection_id``: connection
    ids count up from it (default: random, above 2**63).
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
    paths = {PUBLIC_PATH: "public", AUTH_PATH: "auth"}
    default_path = PUBLIC_PATH
    tls_name = "kraken-sim"
    generators = (*PUBLIC_CHANNELS, "private", "status")
    market_generators = PUBLIC_CHANNELS
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
        rate: float = 0.0,
        rates: Mapping[str, float] | None = None,
        max_messages_per_second: float | None = None,
        first_connection_id: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(host=host, port=port, tls=tls, stats=KrakenStats(), rate=rate, rates=rates)
        self.pairs: set[str] = {canonical(p) for p in pairs}
        self.tokens: set[str] = set(tokens)
        self.status = status
        self.heartbeat_interval = heartbeat_interval
        self.max_messages_per_second = max_messages_per_second

        self._random = random.Random(seed)
        self._market = KrakenMarket(self._random)
        self._account = KrakenAccount()
        self._next_connection_id = first_connection_id
        self._next_channel_id = 0
        self._corrupt: list[str | None] = []
        self._status_step = 0

    # -- observation ---------------------------------------------------------------------------

    def book(self, pair: str, depth: int = 10) -> BookLevels:
        """The best ``depth`` (price, volume) texts per side: what a client holding
        ``book-<depth>`` of ``pair`` must have."""
        return self._market.book(canonical(pair), depth)

    def checksum(self, pair: str) -> str:
        return self._market.checksum(canonical(pair))

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
        self._corrupt.append(None if pair is None else canonical(pair))

    async def push_private(self, channel: str, entries: Sequence[Mapping[str, Any]]) -> None:
        """Send ``[entries, channel, {"sequence": n}]`` to every subscriber of ``channel``
        (``openOrders`` or ``ownTrades``), ``n`` counting per connection."""
        for conn in self.subscribers(channel):
            self._send_private(conn, channel, [dict(e) for e in entries])
        await asyncio.sleep(0)

    def new_order_and_fill(self) -> None:
        """Open a new order, and fill and close the oldest one (with its trade): sends
        ``openOrders`` and ``ownTrades`` messages to their subscribers."""
        updates, trades = self._account.new_order_and_fill()
        for conn in self.subscribers("openOrders"):
            self._send_private(conn, "openOrders", updates)
        if trades:
            for conn in self.subscribers("ownTrades"):
                self._send_private(conn, "ownTrades", trades)

    # -- generators ----------------------------------------------------------------------------

    def _may_generate(self, name: str) -> bool:
        return name not in PUBLIC_CHANNELS or self.status != "maintenance"

    async def _generate(self, name: str) -> None:
        if name == "private":
            self.new_order_and_fill()
        elif name == "status":
            self._status_step += 1
            await self.set_status(_STATUS_CYCLE[(self._status_step - 1) % len(_STATUS_CYCLE)])
        else:
            self._generate_public(name)

    def _generate_public(self, name: str) -> None:
        subs = [
            (conn, sub)
            for conn in self._connections.values()
            for sub in conn.subscriptions.values()
            if sub.name == name
        ]
        for pair in sorted({s.pair for _, s in subs if s.pair is not None}):
            targets = [(c, s) for c, s in subs if s.pair == pair]
            if name == "book":
                self._book_step(pair, targets)
                continue
            if name == "ohlc":  # each subscriber its own interval's candle
                for conn, sub in targets:
                    self._send_public(conn, sub, self._market.candle(pair, sub.interval))
                continue
            if name == "trade":
                payload: Any = self._market.trades(pair)
            elif name == "ticker":
                payload = self._market.ticker(pair)
            else:
                payload = self._market.spread(pair)
            for conn, sub in targets:
                self._send_public(conn, sub, payload)

    def _book_step(self, pair: str, targets: list[tuple[KrakenConnection, _Subscription]]) -> None:
        updates = self._market.book_step(pair, sorted({s.depth for _, s in targets}))
        checksum = self._market.checksum(pair)
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
                    self._queue(conn, dumps_data([sub.channel_id, *parts, sub.channel_name, pair]))
                    self.stats.pushes_sent["book"] += 1

    # -- connection handling -------------------------------------------------------------------

    def _connect(self, websocket: ServerConnection, path: str) -> KrakenConnection:
        if self._next_connection_id is None:
            connection_id = self._random.randrange(2**63, 2**64)
        else:
            connection_id = self._next_connection_id
            self._next_connection_id += 1
        return KrakenConnection(
            conn_id=str(connection_id),
            connection_id=connection_id,
            path=path,
            endpoint=self.paths[path],
            websocket=websocket,
        )

    async def _on_open(self, conn: KrakenConnection) -> None:
        conn.tasks += [self._spawn(self._writer(conn)), self._spawn(self._heartbeats(conn))]
        self._send_system_status(conn)

    def _on_close(self, conn: KrakenConnection) -> None:
        for task in conn.tasks:
            task.cancel()

    async def _writer(self, conn: KrakenConnection) -> None:
        while True:
            frame = await conn.outbox.get()
            try:
                await conn.websocket.send(frame)
            except ConnectionClosed:
                return
            logger.debug("Kraken simulator: %s -> %r", conn.conn_id, frame)

    async def _heartbeats(self, conn: KrakenConnection) -> None:
        if self.heartbeat_interval <= 0:
            return
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.heartbeat_interval / 4)
            quiet = loop.time() - conn.last_sent
            if conn.subscriptions and quiet >= self.heartbeat_interval:
                self.stats.heartbeats_sent += 1
                self._queue(conn, HEARTBEAT)

    # -- sending (synchronous: frames are queued in order, one writer sends them) ---------------

    def _queue(self, conn: KrakenConnection, frame: str | bytes) -> None:
        conn.outbox.put_nowait(frame)
        conn.last_sent = asyncio.get_running_loop().time()

    async def _send(self, conn: KrakenConnection, frame: str | bytes) -> bool:
        self._queue(conn, frame)
        return True

    def _send_event(self, conn: KrakenConnection, message: Mapping[str, Any]) -> None:
        self._queue(conn, dumps_event(message))

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
        self.stats.errors_sent[text] += 1
        message: dict[str, Any] = {"errorMessage": text, "event": "error"}
        if reqid is not None:
            message["reqid"] = reqid
        self._send_event(conn, message)

    def _send_status(
        self, conn: KrakenConnection, status: str, subscription: Mapping[str, Any], **fields: Any
    ) -> None:
        """A ``subscriptionStatus`` (see :func:`subscription_status`), counted as an ack or an
        error."""
        message = subscription_status(status, subscription, **fields)
        if "errorMessage" in message:
            self.stats.errors_sent[message["errorMessage"]] += 1
        else:
            self.stats.acks_sent += 1
        self._send_event(conn, message)

    def _send_public(self, conn: KrakenConnection, sub: _Subscription, payload: Any) -> None:
        self._queue(conn, dumps_data([sub.channel_id, payload, sub.channel_name, sub.pair]))
        self.stats.pushes_sent[sub.name] += 1

    def _send_private(
        self, conn: KrakenConnection, channel: str, entries: list[dict[str, Any]]
    ) -> None:
        sequence = conn.sequences.get(channel, 0) + 1
        conn.sequences[channel] = sequence
        self._queue(conn, dumps_data([entries, channel, {"sequence": sequence}]))
        self.stats.pushes_sent[channel] += 1

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

    async def _on_message(self, conn: KrakenConnection, message: str | bytes) -> None:
        text = message if isinstance(message, str) else message.decode("utf-8", "replace")
        if self._over_rate(conn):
            self.stats.rate_errors += 1
            self._queue(conn, RATE_ERROR)
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
            if self.answer_pings:
                pong = {"event": "pong"} if reqid is None else {"event": "pong", "reqid": reqid}
                self._send_event(conn, pong)
        elif event in ("subscribe", "unsubscribe"):
            if event == "subscribe":
                self.stats.subscribe_requests += 1
            else:
                self.stats.unsubscribe_requests += 1
            parts = self._request_parts(conn, request, reqid)
            if parts is None:
                return
            if event == "subscribe":
                self._subscribe(conn, *parts, reqid)
            else:
                self._unsubscribe(conn, *parts, reqid)
            self._notify_changed()
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
        self,
        conn: KrakenConnection,
        subscription: dict[str, Any],
        pairs: list[str | None],
        reqid: int | None,
    ) -> None:
        name = subscription["name"]
        for pair in pairs:  # one answer per pair
            echoed = None if pair is None else canonical(pair)
            problem = self._check(conn, subscription, pair)
            channel = channel_name(subscription)
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

    def _unsubscribe(
        self,
        conn: KrakenConnection,
        subscription: dict[str, Any],
        pairs: list[str | None],
        reqid: int | None,
    ) -> None:
        for pair in pairs:
            echoed = None if pair is None else canonical(pair)
            problem = self._check(conn, subscription, pair, subscribing=False)
            channel = channel_name(subscription)
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
        if not PAIR_FORMAT.fullmatch(pair):
            return self.PAIR_FORMAT_ERROR.format(pair=pair)
        if canonical(pair) not in self.pairs:
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
            snapshot = self._market.snapshot(sub.pair, sub.depth)
            self._queue(conn, dumps_data([sub.channel_id, snapshot, sub.channel_name, sub.pair]))
            self.stats.pushes_sent["book"] += 1
        elif sub.name == "ticker" and sub.pair is not None:
            self._send_public(conn, sub, self._market.ticker(sub.pair))
        elif sub.name == "openOrders":
            open_orders = [{k: v} for k, v in self._account.open_orders.items()]
            self._send_private(conn, "openOrders", open_orders)
        elif sub.name == "ownTrades" and subscription.get("snapshot", True) is not False:
            self._send_private(conn, "ownTrades", list(self._account.own_trades[-50:]))
