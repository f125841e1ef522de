"""The server side of OKX v5 WebSockets on loopback, for tests and the demo.

One server instance serves ``/ws/v5/public``, ``/ws/v5/private`` and ``/ws/v5/business`` on one
port (query strings are ignored; other paths get HTTP 404). The path decides which channels a
connection may subscribe to, as on the real exchange:

    /ws/v5/public     status; tickers, trades, the book channels (books, books5, bbo-tbt,
                      books-l2-tbt and books50-l2-tbt after a login at VIP4, books-elp),
                      mark-price, index-tickers, funding-rate, open-interest, price-limit for the
                      configured instruments; instruments, liquidation-orders, estimated-price
                      (instType), opt-summary (instFamily)
    /ws/v5/business   trades-all and the candle families (candle<bar>, mark-price-candle<bar>,
                      index-candle<bar>); after a login: economic-calendar (VIP1), orders-algo
    /ws/v5/private    after a login: account, positions, balance_and_position, orders, fills
                      (VIP4)

What the simulator reproduces, and why it matters to a client:

* one ack (or one error) per subscribe/unsubscribe arg, with the request ``id`` echoed;
* errors never close the connection (60012, 60013, 60018, 60019, 60011, 64001, 64002, 64003);
* login with HMAC-SHA256 signatures, the 30 s timestamp window and the usual failure codes;
  a failed login leaves the connection open;
* the text ``ping`` / ``pong`` keepalive, and close code 4004 after ``idle_timeout`` seconds in
  which the client sent nothing and the server pushed nothing;
* the 64008 "service upgrade" notice followed by a close.

Subscribing sends what OKX sends first: the latest status, a book's snapshot (books5, bbo-tbt:
the whole book), the instruments of the type, the account, positions and balances; the other
channels wait for data. Private pushes name the account's ``uid`` in their arg.

Besides the control API every simulator has (:mod:`bridge.sandbox.server`), tests script it
with ``push_status``, ``push_calendar``, ``publish``, ``send_notice`` and
``send_channel_conn_count``, and the books (:mod:`bridge.sandbox.okx.books`) with
``lose_next_update``, ``corrupt_next_checksum``, ``break_next_sequence``,
``reset_next_sequence`` and ``send_book_keepalive``; ``book()`` is what a client holding a book
must have. Generators (``rates``), for what is subscribed: ``tickers``, ``trades`` (and
trades-all), ``books`` (every book channel), ``candles`` (every candle family), ``market``
(mark-price, index-tickers, funding-rate, open-interest, price-limit, opt-summary,
estimated-price, liquidation-orders, instruments), ``private`` (orders and what a fill changes,
:mod:`bridge.sandbox.okx.account`), ``status`` and ``economic-calendar``
(:mod:`bridge.sandbox.okx.market`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from websockets.asyncio.server import ServerConnection

from bridge.sandbox.okx.access import ArgProblem as _ArgProblem
from bridge.sandbox.okx.access import OkxAccount, arg_problem, login_problem
from bridge.sandbox.okx.account import PrivatePush, SimAccount
from bridge.sandbox.okx.books import BOOK_CHANNELS, FULL_DEPTHS, Fault, OkxBooks
from bridge.sandbox.okx.market import (
    CALENDAR_FIELDS,
    DEFAULT_STATUS,
    STATUS_FIELDS,
    OkxMarket,
    complete,
)
from bridge.sandbox.okx.wire import (
    CALENDAR_CHANNEL,
    NOTICE_CODE,
    NOTICE_MSG,
    STATUS_CHANNEL,
    SubscriptionKey,
    bar_ms,
    dumps,
    subscription_key,
)
from bridge.sandbox.server import BookLevels, SimConnection, SimulatorServer, SimulatorStats

logger = logging.getLogger(__name__)

PUBLIC_PATH: Final = "/ws/v5/public"
PRIVATE_PATH: Final = "/ws/v5/private"
BUSINESS_PATH: Final = "/ws/v5/business"

CLOSE_NO_DATA: Final = 4004
# The real server says "30s" whatever the timeout; clients may match the text, so keep it.
IDLE_CLOSE_REASON: Final = "No data received in 30s."
# After a 64008 notice the real server goes away; 1001 is the standard "going away" code.
NOTICE_CLOSE_CODE: Final = 1001
NOTICE_CLOSE_REASON: Final = "Service upgrade"

DEFAULT_INSTRUMENTS: Final = frozenset({"BTC-USDT", "ETH-USDT"})
_REQUEST_ID = re.compile(r"[A-Za-z0-9]{1,32}")

# The channels each market data generator feeds (books and private have their own rounds).
_GENERATED: Final[Mapping[str, Callable[[str], bool]]] = {
    "tickers": {"tickers"}.__contains__,
    "trades": {"trades", "trades-all"}.__contains__,
    "candles": lambda channel: bar_ms(channel) is not None,
    "market": {
        "mark-price",
        "index-tickers",
        "funding-rate",
        "open-interest",
        "price-limit",
        "opt-summary",
        "estimated-price",
        "liquidation-orders",
        "instruments",
    }.__contains__,
}


# -- state -------------------------------------------------------------------------------------


@dataclass
class OkxStats(SimulatorStats):
    """The shared counters (``errors_sent`` keyed by OKX code, ``pushes_sent`` by channel),
    the 64008 notices, and the book faults made (``lose``, ``corrupt_checksum``,
    ``break_sequence``, ``reset_sequence``: each once per update it applied to)."""

    notices_sent: int = 0
    book_faults: Counter[str] = field(default_factory=Counter)


@dataclass(eq=False, kw_only=True)
class OkxConnection(SimConnection):
    """What the simulator knows about one live OKX connection."""

    logged_in: bool = False
    api_key: str | None = None
    account: OkxAccount | None = None
    subscriptions: set[SubscriptionKey] = field(default_factory=set)

    def is_subscribed(self, channel: str, **arg: str) -> bool:
        """Subscribed to ``channel`` with an arg holding the given fields (``instId=``...)."""
        wanted = {"channel": channel, **arg}
        return any(wanted.items() <= dict(key).items() for key in self.subscriptions)


# -- the simulator ----------------------------------------------------------------------------


class OkxSimulator(SimulatorServer[OkxConnection, OkxStats]):
    """OKX v5 WebSocket server on loopback. Use ``async with OkxSimulator(...) as sim:``.

    ``clock`` is the server's wall clock (Unix seconds) for the login timestamp window;
    timeouts (idle close, notice delay) run on the event loop's monotonic clock.
    ``rate`` / ``rates``: rounds per second of the generators (0 = off): the market data ones
    (``tickers``, ``trades``, ``books``, ``candles``, ``market``, which ``rate`` sets) push to
    what is subscribed, ``private`` makes the account trade, ``status`` and
    ``economic-calendar`` push a new status change or calendar event each round.
    ``book_checksums``: False sends checksum 0 in every book message, as OKX does since June
    2026 (clients then have the seqId chain only).
    """

    label = "OKX simulator"
    paths = {PUBLIC_PATH: "public", PRIVATE_PATH: "private", BUSINESS_PATH: "business"}
    default_path = PUBLIC_PATH
    tls_name = "okx-sim"
    generators = (
        "tickers",
        "trades",
        "books",
        "candles",
        "market",
        "private",
        STATUS_CHANNEL,
        CALENDAR_CHANNEL,
    )
    market_generators = ("tickers", "trades", "books", "candles", "market")
    idle_close = (CLOSE_NO_DATA, IDLE_CLOSE_REASON)
    sends_are_activity = True  # "no data received or pushed": pushes keep a line open
    _log = logger

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = False,
        idle_timeout: float = 30.0,
        notice_close_delay: float = 1.0,
        accounts: Mapping[str, OkxAccount] | None = None,
        instruments: Collection[str] | None = None,
        shuffle_error_keys: bool = False,
        clock: Callable[[], float] = time.time,
        initial_status: Mapping[str, Any] | None = DEFAULT_STATUS,
        max_message_size: int = 2**20,
        rate: float = 0.0,
        rates: Mapping[str, float] | None = None,
        seed: int = 0,
        book_checksums: bool = True,
    ) -> None:
        super().__init__(
            host=host,
            port=port,
            tls=tls,
            stats=OkxStats(),
            idle_timeout=idle_timeout,
            max_message_size=max_message_size,
            rate=rate,
            rates=rates,
        )
        self.notice_close_delay = notice_close_delay
        self.accounts: dict[str, OkxAccount] = dict(accounts or {})
        self.instruments: set[str] = set(
            DEFAULT_INSTRUMENTS if instruments is None else instruments
        )
        self.shuffle_error_keys = shuffle_error_keys
        self.clock = clock
        self.reject_logins = False
        """When True every login attempt fails with the generic 60009 "Login failed."."""

        self._latest_status: dict[str, Any] | None = (
            None if initial_status is None else complete(initial_status, STATUS_FIELDS)
        )
        self._market = OkxMarket(seed)
        rng = random.Random(seed + 1)
        self._books = OkxBooks(rng, checksums=book_checksums)
        self._account = SimAccount(rng)

    # -- observation ---------------------------------------------------------------------------

    def book(self, inst_id: str, channel: str = "books") -> BookLevels:
        """The (price, size) texts of ``channel``'s book of ``inst_id``, best first: what a
        client holding that book must have (the last message sent, or lost, included)."""
        return self._books.levels(inst_id, channel)

    def checksum(self, inst_id: str, channel: str = "books") -> int:
        """OKX's checksum of that book (computed whether or not the messages carry it)."""
        return self._books.checksum(inst_id, channel)

    # -- scripting: books ----------------------------------------------------------------------

    def lose_next_update(self, inst_id: str | None = None, channel: str | None = None) -> None:
        """The next update of ``inst_id``'s book (any instrument when None) on ``channel`` (any
        incremental book channel when None) is sent to nobody; the one after it follows it all
        the same (its prevSeqId, and the levels it did not repeat). Call again for more."""
        self._books.add_fault("lose", inst_id, channel)

    def corrupt_next_checksum(self, inst_id: str | None = None, channel: str | None = None) -> None:
        """The next such update carries a checksum one off (non-zero, so a client checks it);
        its levels stay right."""
        self._books.add_fault("corrupt_checksum", inst_id, channel)

    def break_next_sequence(self, inst_id: str | None = None, channel: str | None = None) -> None:
        """The next such update's prevSeqId is not the seqId of the message before it."""
        self._books.add_fault("break_sequence", inst_id, channel)

    def reset_next_sequence(self, inst_id: str | None = None, channel: str | None = None) -> None:
        """The next such update restarts the sequence lower, as OKX documents after maintenance:
        its seqId is below its prevSeqId, which still follows. Not a fault for a client."""
        self._books.add_fault("reset_sequence", inst_id, channel)

    async def send_book_keepalive(self, inst_id: str, channel: str = "books") -> None:
        """OKX's message after about 60 s without a change: an empty update whose seqId and
        prevSeqId are both the last seqId."""
        arg = {"channel": channel, "instId": inst_id}
        frame = self._books.keepalive(arg)
        if frame is not None:
            await self._send_all(self._arg_subscribers(arg), dumps(frame), push=channel)

    # -- scripting -----------------------------------------------------------------------------

    async def push_status(self, change: Mapping[str, Any]) -> None:
        """Remember ``change`` as the latest status and push it to every status subscriber.

        Missing fields are added as "" (``ts`` as now) like the real server; the given keys
        keep their order, so a complete element is sent exactly as given.
        """
        element = complete(change, STATUS_FIELDS)
        self._latest_status = element
        await self._broadcast_data(STATUS_CHANNEL, [element])

    async def push_calendar(self, event: Mapping[str, Any]) -> None:
        """Push one economic-calendar event to every (logged-in) calendar subscriber."""
        await self._broadcast_data(CALENDAR_CHANNEL, [complete(event, CALENDAR_FIELDS)])

    async def publish(
        self, arg: Mapping[str, str], data: Sequence[Any], action: str | None = None
    ) -> None:
        """Push ``{"arg": arg, ["action": action,] "data": data}`` to the subscribers of ``arg``."""
        key = subscription_key(arg)
        frame: dict[str, Any] = {"arg": dict(arg)}
        if action is not None:
            frame["action"] = action
        frame["data"] = list(data)
        targets = [c for c in self._connections.values() if key in c.subscriptions]
        await self._send_all(targets, dumps(frame), push=arg.get("channel", ""))

    async def send_notice(
        self,
        close_after: float | None = None,
        *,
        path: str | None = None,
        conn_id: str | None = None,
    ) -> None:
        """Send the 64008 service-upgrade notice, then close each notified connection later.

        Returns once the notices are sent; the closes (code 1001) happen ``close_after``
        seconds later (default ``notice_close_delay``). Connections opened after the notice
        are left alone, as they would be on the upgraded server.
        """
        delay = self.notice_close_delay if close_after is None else close_after
        targets = self._targets(path, conn_id)
        await asyncio.gather(
            *(
                self._send_json(
                    conn,
                    {
                        "event": "notice",
                        "code": NOTICE_CODE,
                        "msg": NOTICE_MSG,
                        "connId": conn.conn_id,
                    },
                )
                for conn in targets
            )
        )
        self.stats.notices_sent += len(targets)
        for conn in targets:
            self._spawn(self._close_later(conn, delay))

    async def send_channel_conn_count(
        self,
        channel: str = "orders",
        count: str = "2",
        error: bool = False,
        *,
        path: str | None = None,
        conn_id: str | None = None,
    ) -> None:
        """Send a ``channel-conn-count`` (or ``channel-conn-count-error``) event."""
        event = "channel-conn-count-error" if error else "channel-conn-count"
        for conn in self._targets(path, conn_id):
            await self._send_json(
                conn,
                {"event": event, "channel": channel, "connCount": count, "connId": conn.conn_id},
            )

    async def _close_later(self, conn: OkxConnection, delay: float) -> None:
        await asyncio.sleep(delay)
        await self._close(conn, NOTICE_CLOSE_CODE, NOTICE_CLOSE_REASON)

    # -- generators ----------------------------------------------------------------------------

    async def _generate(self, name: str) -> None:
        if name == STATUS_CHANNEL:
            await self.push_status(self._market.next_status_change())
        elif name == CALENDAR_CHANNEL:
            await self.push_calendar(self._market.next_calendar_event())
        elif name == "books":
            await self._books_round()
        elif name == "private":
            for push in self._account.step():
                await self._send_private(push)
        else:
            for key, conns in self._subscribed_args(_GENERATED[name]).items():
                arg = dict(key)
                for frame in self._market.frames(arg, self.instruments):
                    await self._send_all(conns, dumps(frame), push=arg["channel"])

    async def _books_round(self) -> None:
        """Every subscribed book: its instrument's book changes, and each channel of it sends
        what it shows of the change (an update, or the whole book for books5 and bbo-tbt)."""
        subscribed = self._subscribed_args(BOOK_CHANNELS)
        for inst_id in sorted({dict(key)["instId"] for key in subscribed}):
            self._books.step(inst_id)
        for key, conns in subscribed.items():
            arg = dict(key)
            channel = arg["channel"]
            fault: Fault | None = None
            if channel in FULL_DEPTHS:
                frame = self._books.full(arg, changed_only=True)
            else:
                frame, fault = self._books.update(arg)
            if fault is not None:
                self.stats.book_faults[fault] += 1
            if frame is not None and fault != "lose":
                await self._send_all(conns, dumps(frame), push=channel)

    def _subscribed_args(
        self, channels: Callable[[str], bool] | Collection[str]
    ) -> dict[SubscriptionKey, list[OkxConnection]]:
        """Every arg subscribed on one of ``channels`` (a collection, or a test of the name),
        with the connections subscribed to it, in a stable order."""
        wanted = channels if callable(channels) else channels.__contains__
        found: dict[SubscriptionKey, list[OkxConnection]] = {}
        for conn in self._connections.values():
            for key in conn.subscriptions:
                if wanted(dict(key)["channel"]):
                    found.setdefault(key, []).append(conn)
        return dict(sorted(found.items()))

    def _arg_subscribers(self, arg: Mapping[str, str]) -> list[OkxConnection]:
        key = subscription_key(arg)
        return [c for c in self._connections.values() if key in c.subscriptions]

    async def _send_private(self, push: PrivatePush) -> None:
        """A private push to each subscriber whose arg selects its elements, its arg naming
        the account's uid as OKX's private pushes do."""
        for key, conns in self._subscribed_args({push.channel}).items():
            arg = dict(key)
            data = [e for e in push.data if self._account.matches(push.channel, arg, e)]
            if data:
                frame = {"arg": {**arg, "uid": self._account.uid}, **push.fields, "data": data}
                await self._send_all(conns, dumps(frame), push=push.channel)

    # -- sending -------------------------------------------------------------------------------

    async def _send_json(self, conn: OkxConnection, frame: Mapping[str, Any]) -> bool:
        return await self._send(conn, dumps(frame))

    async def _broadcast_data(self, channel: str, data: list[Any]) -> None:
        frame = dumps({"arg": {"channel": channel}, "data": data})
        await self._send_all(self.subscribers(channel), frame, push=channel)

    async def _send_error(
        self, conn: OkxConnection, code: str, msg: str, request_id: str | None
    ) -> None:
        frame: dict[str, Any]
        if self.shuffle_error_keys:
            frame = {"event": "error", "msg": msg, "code": code, "connId": conn.conn_id}
            if request_id is not None:
                frame["id"] = request_id
        else:
            frame = {} if request_id is None else {"id": request_id}
            frame.update(event="error", code=code, msg=msg, connId=conn.conn_id)
        self.stats.errors_sent[code] += 1
        await self._send_json(conn, frame)

    def _event(self, conn: OkxConnection, request_id: str | None, **fields: Any) -> dict[str, Any]:
        frame: dict[str, Any] = {} if request_id is None else {"id": request_id}
        frame.update(fields)
        frame["connId"] = conn.conn_id
        return frame

    # -- requests ------------------------------------------------------------------------------

    def _connect(self, websocket: ServerConnection, path: str) -> OkxConnection:
        return OkxConnection(
            conn_id=self._new_conn_id(), path=path, endpoint=self.paths[path], websocket=websocket
        )

    async def _on_message(self, conn: OkxConnection, message: str | bytes) -> None:
        text = message if isinstance(message, str) else message.decode("utf-8", "replace")
        if text == "ping":
            self.stats.pings += 1
            if self.answer_pings:
                await self._send(conn, "pong")
            return
        invalid_request = ("60012", f"Invalid request: {text}")
        try:
            request = json.loads(text)
        except ValueError:
            await self._send_error(conn, *invalid_request, None)
            return
        if not isinstance(request, dict):
            await self._send_error(conn, *invalid_request, None)
            return
        request_id = request.get("id")
        if request_id is not None and not (
            isinstance(request_id, str) and _REQUEST_ID.fullmatch(request_id)
        ):
            await self._send_error(conn, *invalid_request, None)
            return
        if "op" not in request or "args" not in request:
            await self._send_error(conn, *invalid_request, request_id)
            return
        op, args = request["op"], request["args"]
        if op not in ("subscribe", "unsubscribe", "login"):
            shown = op if isinstance(op, str) else dumps(op)
            await self._send_error(conn, "60019", f"Invalid op: {shown}", request_id)
            return
        if not isinstance(args, list) or not args:
            await self._send_error(conn, "60013", "Invalid args", request_id)
            return
        if op == "login":
            await self._login(conn, args, request_id)
        elif op == "subscribe":
            await self._subscribe(conn, args, request_id)
        else:
            await self._unsubscribe(conn, args, request_id)

    async def _login(self, conn: OkxConnection, args: list[Any], request_id: str | None) -> None:
        problem = login_problem(
            args,
            logged_in=conn.logged_in,
            accounts=self.accounts,
            now=self.clock(),
            refuse_all=self.reject_logins,
        )
        if problem is not None:
            self.stats.logins_failed += 1
            logger.info("OKX simulator: login failed on %s: %s", conn.conn_id, problem[1])
            # The real server keeps the connection open after a failed login.
            await self._send_error(conn, *problem, request_id)
            return
        credentials = args[0]
        conn.logged_in = True
        conn.api_key = credentials["apiKey"]
        conn.account = self.accounts[credentials["apiKey"]]
        self.stats.logins_ok += 1
        await self._send_json(conn, self._event(conn, request_id, event="login", code="0", msg=""))

    async def _subscribe(
        self, conn: OkxConnection, args: list[Any], request_id: str | None
    ) -> None:
        self.stats.subscribe_requests += 1
        for arg in args:  # one answer per arg, ack or error
            problem = self._check_arg(conn, arg, subscribing=True)
            if problem is not None:
                await self._send_error(conn, *problem, request_id)
                continue
            key = subscription_key(arg)
            already = key in conn.subscriptions
            acked = await self._send_json(
                conn, self._event(conn, request_id, event="subscribe", arg=arg)
            )
            if not acked:
                return
            self.stats.acks_sent += 1
            if already:
                continue  # re-acked, but no second snapshot or initial push
            conn.subscriptions.add(key)
            # Made now, before anything awaits: no generator round can send this subscription
            # an update that its snapshot would then contradict.
            for frame in self._initial_frames(arg):
                if await self._send_json(conn, frame):
                    self.stats.pushes_sent[arg["channel"]] += 1
            self._notify_changed()

    async def _unsubscribe(
        self, conn: OkxConnection, args: list[Any], request_id: str | None
    ) -> None:
        self.stats.unsubscribe_requests += 1
        for arg in args:
            problem = self._check_arg(conn, arg, subscribing=False)
            if problem is not None:
                await self._send_error(conn, *problem, request_id)
                continue
            conn.subscriptions.discard(subscription_key(arg))
            self._notify_changed()
            if await self._send_json(
                conn, self._event(conn, request_id, event="unsubscribe", arg=arg)
            ):
                self.stats.acks_sent += 1

    def _check_arg(self, conn: OkxConnection, arg: Any, *, subscribing: bool) -> _ArgProblem | None:
        """Why ``arg`` cannot be (un)subscribed on this connection, or None when it can
        (:func:`~bridge.sandbox.okx.access.arg_problem`)."""
        vip_level = None if conn.account is None else conn.account.vip_level
        return arg_problem(
            arg,
            endpoint=conn.endpoint,
            vip_level=vip_level if conn.logged_in else None,
            instruments=self.instruments,
            subscribing=subscribing,
        )

    def _initial_frames(self, arg: Mapping[str, str]) -> list[dict[str, Any]]:
        """What a new subscription receives right after its ack, as OKX sends it: the latest
        status, a book's snapshot (or whole book), the instrument list, the account's
        snapshots. Everything else waits for data."""
        channel = arg["channel"]
        if channel == STATUS_CHANNEL:
            if self._latest_status is None:
                return []
            return [{"arg": {"channel": STATUS_CHANNEL}, "data": [self._latest_status]}]
        if channel in BOOK_CHANNELS:
            if channel in FULL_DEPTHS:
                return [self._books.full(arg, changed_only=False) or {}]
            return [self._books.snapshot(arg)]
        if channel == "instruments":  # the whole list
            return [
                {
                    "arg": dict(arg),
                    "data": self._market.instruments(arg["instType"], self.instruments),
                }
            ]
        if channel in ("account", "positions", "balance_and_position"):
            push = getattr(self._account, channel)()
            return [{"arg": {**arg, "uid": self._account.uid}, **push.fields, "data": push.data}]
        return []
