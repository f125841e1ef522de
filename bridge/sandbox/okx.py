"""A faithful OKX v5 WebSocket simulator on loopback, for tests and the demo.

One server instance serves ``/ws/v5/public``, ``/ws/v5/private`` and ``/ws/v5/business`` on one
port (query strings are ignored; other paths get HTTP 404). The path decides which channels a
connection may subscribe to, as on the real exchange:

    /ws/v5/public     status, and instrument channels (tickers, trades, books, books5, bbo-tbt,
                      candle*, ...) for the configured instruments
    /ws/v5/business   economic-calendar (login required, VIP level >= 1)
    /ws/v5/private    private channels (orders, account, ...) after login

What the simulator reproduces, and why it matters to a client:

* one ack (or one error) per subscribe/unsubscribe arg, with the request ``id`` echoed;
* errors never close the connection (60012, 60013, 60018, 60019, 60011, 64001, 64002, 64003);
* login with HMAC-SHA256 signatures, the 30 s timestamp window and the usual failure codes;
  a failed login leaves the connection open;
* the text ``ping`` / ``pong`` keepalive, and close code 4004 after ``idle_timeout`` seconds in
  which the client sent nothing and the server pushed nothing;
* the 64008 "service upgrade" notice followed by a close, abrupt TCP drops, raw frames.

Tests script it (``push_status``, ``push_calendar``, ``publish``, ``send_notice``, ``send_raw``,
``drop_all``...) and observe it (``connections``, ``stats``, ``wait_for_subscribers``).
Run ``python -m bridge.sandbox.okx --help`` for a standalone server.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import logging
import math
import random
import re
import secrets
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from bridge.sandbox.server import SimulatorServer, run_standalone

__all__ = [
    "BUSINESS_PATH",
    "CALENDAR_FIELDS",
    "DEFAULT_STATUS",
    "PRIVATE_PATH",
    "PUBLIC_PATH",
    "SEED_CALENDAR_FRAME",
    "SEED_STATUS_FRAME",
    "STATUS_FIELDS",
    "OkxAccount",
    "OkxConnection",
    "OkxSimulator",
    "OkxStats",
    "SubscriptionKey",
    "login_sign",
    "main",
    "script_calendar_events",
    "script_status_changes",
    "subscription_key",
]

logger = logging.getLogger(__name__)

# -- protocol constants ----------------------------------------------------------------------

PUBLIC_PATH: Final = "/ws/v5/public"
PRIVATE_PATH: Final = "/ws/v5/private"
BUSINESS_PATH: Final = "/ws/v5/business"
_ENDPOINTS: Final = {PUBLIC_PATH: "public", PRIVATE_PATH: "private", BUSINESS_PATH: "business"}

CLOSE_FRAME_TOO_LARGE: Final = 1009  # sent by websockets itself when max_message_size is exceeded
CLOSE_LOGIN_FAILED: Final = 4001
CLOSE_INVALID_REQUEST: Final = 4002
CLOSE_NO_DATA: Final = 4004
# The real server says "30s" whatever the timeout; clients may match the text, so keep it.
IDLE_CLOSE_REASON: Final = "No data received in 30s."
# After a 64008 notice the real server goes away; 1001 is the standard "going away" code.
NOTICE_CLOSE_CODE: Final = 1001
NOTICE_CLOSE_REASON: Final = "Service upgrade"

NOTICE_CODE: Final = "64008"
NOTICE_MSG: Final = "The connection will soon be closed for a service upgrade. Please reconnect."

STATUS_CHANNEL: Final = "status"
CALENDAR_CHANNEL: Final = "economic-calendar"
# Public channels keyed by instrument. Any channel starting with "candle" is one too.
INSTRUMENT_CHANNELS: Final = frozenset(
    {
        "tickers",
        "trades",
        "books",
        "books5",
        "bbo-tbt",
        "mark-price",
        "index-tickers",
        "funding-rate",
        "open-interest",
        "price-limit",
    }
)
PRIVATE_CHANNELS: Final = frozenset(
    {
        "account",
        "positions",
        "balance_and_position",
        "orders",
        "fills",
        "orders-algo",
        "algo-advance",
        "liquidation-warning",
        "account-greeks",
    }
)
DEFAULT_INSTRUMENTS: Final = frozenset({"BTC-USDT", "ETH-USDT"})

# The login signature covers timestamp + "GET" + this path.
LOGIN_SIGN_PATH: Final = "/users/self/verify"
LOGIN_WINDOW_SECONDS: Final = 30.0
_LOGIN_FIELDS: Final = ("apiKey", "passphrase", "timestamp", "sign")
_REQUEST_ID = re.compile(r"[A-Za-z0-9]{1,32}")

STATUS_FIELDS: Final = (
    "title",
    "state",
    "begin",
    "end",
    "preOpenBegin",
    "href",
    "serviceType",
    "system",
    "scheDesc",
    "maintType",
    "env",
    "ts",
)
CALENDAR_FIELDS: Final = (
    "calendarId",
    "date",
    "region",
    "category",
    "event",
    "refDate",
    "actual",
    "previous",
    "forecast",
    "importance",
    "prevInitial",
    "ccy",
    "unit",
    "ts",
)

# Frames captured from the real exchange; send them with send_raw() for byte-exact tests.
SEED_STATUS_FRAME: Final = (
    '{"arg":{"channel":"status"},"data":[{"begin":"1672823400000","end":"1672825980000",'
    '"href":"","preOpenBegin":"","scheDesc":"","serviceType":"0","state":"completed",'
    '"system":"unified","maintType":"1","env":"1",'
    '"title":"Trading account WebSocket system upgrade","ts":"1672826038470"}]}'
)
SEED_CALENDAR_FRAME: Final = (
    '{"arg":{"channel":"economic-calendar"},"data":[{"calendarId":"319275",'
    '"date":"1597026383085","region":"United States","category":"Manufacturing PMI",'
    '"event":"S&P Global Manufacturing PMI Final","refDate":"1597026383085","actual":"49.2",'
    '"previous":"47.3","forecast":"49.3","importance":"2","prevInitial":"","ccy":"","unit":"",'
    '"ts":"1698648096590"}]}'
)
# The status a fresh simulator reports on subscribe (the seed's element, key order kept, so
# pushing it reproduces SEED_STATUS_FRAME byte for byte).
DEFAULT_STATUS: Final[Mapping[str, Any]] = json.loads(SEED_STATUS_FRAME)["data"][0]

SubscriptionKey = tuple[tuple[str, str], ...]
"""A subscription arg in canonical form: its (field, value) pairs sorted by field."""


def subscription_key(arg: Mapping[str, str]) -> SubscriptionKey:
    """Canonical, hashable form of a subscription arg (field order does not matter)."""
    return tuple(sorted(arg.items()))


def login_sign(secret: str, timestamp: str) -> str:
    """The OKX WebSocket login signature: base64(HMAC-SHA256(secret, ts + "GET" + path)).

    Written here independently of the adapter's copy on purpose: the simulator is the other
    side of the protocol, and sharing the client's code would let a signing bug pass both."""
    message = f"{timestamp}GET{LOGIN_SIGN_PATH}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _dumps(obj: Any) -> str:
    # Compact separators like the real server, so scripted pushes can be byte-exact.
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _now_ms() -> str:
    return str(int(time.time() * 1000))


# -- state -------------------------------------------------------------------------------------


@dataclass
class OkxAccount:
    """An API key's credentials and the trading fee tier some channels require."""

    secret: str
    passphrase: str
    vip_level: int = 1


@dataclass
class OkxStats:
    """Counters for tests. ``errors_sent`` maps an error code ("60018") to how often it was sent."""

    connects_total: int = 0
    disconnects_total: int = 0
    logins_ok: int = 0
    logins_failed: int = 0
    subscribe_requests: int = 0
    unsubscribe_requests: int = 0
    acks_sent: int = 0
    errors_sent: dict[str, int] = field(default_factory=dict)
    pings: int = 0
    pushes_sent: int = 0
    notices_sent: int = 0
    idle_closes: int = 0


@dataclass(eq=False)
class OkxConnection:
    """What the simulator knows about one live WebSocket connection."""

    path: str
    conn_id: str
    logged_in: bool = False
    api_key: str | None = None
    account: OkxAccount | None = None
    subscriptions: set[SubscriptionKey] = field(default_factory=set)
    websocket: ServerConnection | None = field(default=None, repr=False)
    last_activity: float = field(default=0.0, repr=False)
    """Event-loop time of the last frame received or sent (drives the 4004 idle close)."""

    @property
    def endpoint(self) -> str:
        """``public``, ``private`` or ``business``."""
        return _ENDPOINTS[self.path]

    @property
    def channels(self) -> set[str]:
        """Names of the channels this connection is subscribed to."""
        return {dict(key)["channel"] for key in self.subscriptions}

    def is_subscribed(self, channel: str, **fields: str) -> bool:
        return subscription_key({"channel": channel, **fields}) in self.subscriptions


_ArgProblem = tuple[str, str]  # (error code, message)


@dataclass
class _Book:
    """A synthetic order book for the books generator: price -> (size, order count)."""

    bids: dict[float, tuple[str, str]]
    asks: dict[float, tuple[str, str]]
    seq_id: int
    tick: float


# -- the simulator ----------------------------------------------------------------------------


class OkxSimulator(SimulatorServer):
    """OKX v5 WebSocket server on loopback. Use ``async with OkxSimulator(...) as sim:``.

    ``clock`` is the server's wall clock (Unix seconds) for the login timestamp window;
    timeouts (idle close, notice delay) run on the event loop's monotonic clock.
    ``tickers_rate`` / ``books_rate`` (pushes per second, 0 = off) start synthetic market data
    for subscribed instruments, for the demo and benchmarks.
    """

    label = "OKX simulator"
    default_path = PUBLIC_PATH
    tls_name = "okx-sim"
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
        tickers_rate: float = 0.0,
        books_rate: float = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__(host=host, port=port, tls=tls)
        self.idle_timeout = idle_timeout
        self.notice_close_delay = notice_close_delay
        self.accounts: dict[str, OkxAccount] = dict(accounts or {})
        self.instruments: set[str] = set(
            DEFAULT_INSTRUMENTS if instruments is None else instruments
        )
        self.shuffle_error_keys = shuffle_error_keys
        self.clock = clock
        self.max_message_size = max_message_size
        self.tickers_rate = tickers_rate
        self.books_rate = books_rate
        self.reject_logins = False
        # Set to False to play a half-open connection: pings go unanswered, nothing arrives.
        self.answer_pings = True
        """When True every login attempt fails with the generic 60009 "Login failed."."""
        self.stats = OkxStats()

        self._latest_status: dict[str, Any] | None = (
            None if initial_status is None else self._complete(initial_status, STATUS_FIELDS)
        )
        self._latest_calendar: dict[str, Any] | None = None
        self._connections: dict[str, OkxConnection] = {}
        self._generators: list[asyncio.Task[None]] = []
        self._random = random.Random(seed)
        self._last_prices: dict[str, float] = {}
        self._books: dict[str, _Book] = {}

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        await self._listen(
            self._handle,
            process_request=self._check_path,
            max_size=self.max_message_size,
            # OKX clients keep the line alive with the text "ping"; no protocol pings.
            ping_interval=None,
            close_timeout=2.0,
        )
        if self.tickers_rate > 0:
            self._generators.append(self._spawn(self._tickers_loop()))
        if self.books_rate > 0:
            self._generators.append(self._spawn(self._books_loop()))
        logger.info("OKX simulator listening on %s", self.url())

    async def stop_generators(self) -> None:
        """Stop the synthetic tickers/books streams (connections stay open), so a test can
        compare what was sent with what arrived."""
        for task in self._generators:
            task.cancel()
        await asyncio.gather(*self._generators, return_exceptions=True)
        self._generators = []

    # -- observation ---------------------------------------------------------------------------

    @property
    def connections(self) -> list[OkxConnection]:
        """Live connections, oldest first."""
        return list(self._connections.values())

    @property
    def latest_status(self) -> dict[str, Any] | None:
        return self._latest_status

    def subscribers(self, channel: str) -> list[OkxConnection]:
        """Live connections subscribed to ``channel`` (any instrument)."""
        return [c for c in self._connections.values() if channel in c.channels]

    async def wait_for_subscribers(self, channel: str, n: int = 1, timeout: float = 5.0) -> None:
        """Wait until at least ``n`` live connections are subscribed to ``channel``."""
        await self._wait_for_count(
            lambda: len(self.subscribers(channel)), n, timeout, f"subscriber(s) to {channel!r}"
        )

    async def wait_for_connections(
        self, n: int = 1, *, path: str | None = None, timeout: float = 5.0
    ) -> None:
        """Wait until at least ``n`` connections (on ``path``, if given) are live."""
        await self._wait_for_count(
            lambda: len(self._targets(path, None)), n, timeout, "connection(s)"
        )

    # -- scripting -----------------------------------------------------------------------------

    async def push_status(self, change: Mapping[str, Any]) -> None:
        """Remember ``change`` as the latest status and push it to every status subscriber.

        Missing fields are added as "" (``ts`` as now) like the real server; the given keys
        keep their order, so a complete element is sent exactly as given.
        """
        element = self._complete(change, STATUS_FIELDS)
        self._latest_status = element
        await self._broadcast_data(STATUS_CHANNEL, {"channel": STATUS_CHANNEL}, [element])

    async def push_calendar(self, event: Mapping[str, Any]) -> None:
        """Push one economic-calendar event to every (logged-in) calendar subscriber."""
        element = self._complete(event, CALENDAR_FIELDS)
        self._latest_calendar = element
        await self._broadcast_data(CALENDAR_CHANNEL, {"channel": CALENDAR_CHANNEL}, [element])

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
        await self._send_all(targets, _dumps(frame), push=True)

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
            self._spawn(self._close_later(conn, delay, NOTICE_CLOSE_CODE, NOTICE_CLOSE_REASON))

    async def send_raw(
        self, text: str | bytes, *, path: str | None = None, conn_id: str | None = None
    ) -> None:
        """Send ``text`` unchanged: ``str`` as a text frame, ``bytes`` as a binary frame.

        Goes to every live connection, or only those on ``path`` / with ``conn_id``.
        """
        await self._send_all(self._targets(path, conn_id), text)

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

    async def close_connections(
        self,
        code: int = 1000,
        reason: str = "",
        *,
        path: str | None = None,
        conn_id: str | None = None,
    ) -> None:
        """Close connections cleanly with any close code (e.g. 4001, 4002) and reason."""
        targets = self._targets(path, conn_id)
        await asyncio.gather(*(self._close(conn, code, reason) for conn in targets))

    async def drop_all(self) -> None:
        """Abort every connection's TCP transport: no close frame, like a network failure."""
        dropped = {conn.conn_id for conn in self.connections}
        for conn in self.connections:
            if conn.websocket is not None:
                conn.websocket.transport.abort()
        # Return once the handlers have seen the loss, so `connections` no longer lists them.
        await self._wait_until(
            lambda: dropped.isdisjoint(self._connections),
            2.0,
            lambda: "dropped connections to go away",
        )

    def _targets(self, path: str | None, conn_id: str | None) -> list[OkxConnection]:
        return [
            c
            for c in self._connections.values()
            if (path is None or c.path == path) and (conn_id is None or c.conn_id == conn_id)
        ]

    @staticmethod
    def _complete(element: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
        completed = dict(element)
        for name in fields:
            completed.setdefault(name, _now_ms() if name == "ts" else "")
        return completed

    # -- connection handling -------------------------------------------------------------------

    def _check_path(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path not in _ENDPOINTS:
            logger.info("OKX simulator: rejecting unknown path %s", request.path)
            return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        return None

    def _new_conn_id(self) -> str:
        while True:
            conn_id = secrets.token_hex(4)
            if conn_id not in self._connections:
                return conn_id

    async def _handle(self, websocket: ServerConnection) -> None:
        assert websocket.request is not None  # the handshake is complete
        loop = asyncio.get_running_loop()
        conn = OkxConnection(
            path=urlsplit(websocket.request.path).path,
            conn_id=self._new_conn_id(),
            websocket=websocket,
            last_activity=loop.time(),
        )
        self._connections[conn.conn_id] = conn
        self.stats.connects_total += 1
        self._notify_changed()
        logger.info("OKX simulator: connection %s opened on %s", conn.conn_id, conn.path)
        watchdog = loop.create_task(self._idle_watchdog(conn))
        try:
            async for message in websocket:
                conn.last_activity = loop.time()
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                logger.debug("OKX simulator: %s <- %s", conn.conn_id, text)
                await self._on_text(conn, text)
        except ConnectionClosed:
            pass  # abrupt loss: nothing to answer
        finally:
            watchdog.cancel()  # not awaited: it may be the task closing this connection
            del self._connections[conn.conn_id]
            self.stats.disconnects_total += 1
            self._notify_changed()
            logger.info(
                "OKX simulator: connection %s closed (code %s)",
                conn.conn_id,
                websocket.close_code,
            )

    async def _idle_watchdog(self, conn: OkxConnection) -> None:
        loop = asyncio.get_running_loop()
        while True:
            remaining = conn.last_activity + self.idle_timeout - loop.time()
            if remaining <= 0:
                self.stats.idle_closes += 1
                logger.info("OKX simulator: closing idle connection %s", conn.conn_id)
                await self._close(conn, CLOSE_NO_DATA, IDLE_CLOSE_REASON)
                return
            await asyncio.sleep(remaining)

    async def _close_later(self, conn: OkxConnection, delay: float, code: int, reason: str) -> None:
        await asyncio.sleep(delay)
        await self._close(conn, code, reason)

    async def _close(self, conn: OkxConnection, code: int, reason: str) -> None:
        if conn.websocket is not None:
            await conn.websocket.close(code, reason)

    # -- sending -------------------------------------------------------------------------------

    async def _send(self, conn: OkxConnection, message: str | bytes) -> bool:
        """Send one frame; a push or answer counts as activity for the idle close."""
        if conn.websocket is None:
            return False
        try:
            await conn.websocket.send(message)
        except ConnectionClosed:
            return False
        conn.last_activity = asyncio.get_running_loop().time()
        logger.debug("OKX simulator: %s -> %s", conn.conn_id, message)
        return True

    async def _send_json(self, conn: OkxConnection, frame: Mapping[str, Any]) -> bool:
        return await self._send(conn, _dumps(frame))

    async def _send_all(
        self, targets: Iterable[OkxConnection], message: str | bytes, *, push: bool = False
    ) -> None:
        async def send_one(conn: OkxConnection) -> None:
            # counted as each send completes, so a cancelled broadcast still counts exactly
            if await self._send(conn, message) and push:
                self.stats.pushes_sent += 1

        await asyncio.gather(*(send_one(conn) for conn in targets))

    async def _broadcast_data(self, channel: str, arg: Mapping[str, str], data: list[Any]) -> None:
        frame = _dumps({"arg": dict(arg), "data": data})
        await self._send_all(self.subscribers(channel), frame, push=True)

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
        self.stats.errors_sent[code] = self.stats.errors_sent.get(code, 0) + 1
        await self._send_json(conn, frame)

    def _event(self, conn: OkxConnection, request_id: str | None, **fields: Any) -> dict[str, Any]:
        frame: dict[str, Any] = {} if request_id is None else {"id": request_id}
        frame.update(fields)
        frame["connId"] = conn.conn_id
        return frame

    # -- requests ------------------------------------------------------------------------------

    async def _on_text(self, conn: OkxConnection, text: str) -> None:
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
            shown = op if isinstance(op, str) else _dumps(op)
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
        problem = self._check_login(conn, args)
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

    def _check_login(self, conn: OkxConnection, args: list[Any]) -> _ArgProblem | None:
        if conn.logged_in:
            return (
                "60031",
                "The WebSocket endpoint does not allow multiple or repeated logins.",
            )
        if len(args) != 1 or not isinstance(args[0], dict):
            return ("60013", "Invalid args")
        credentials: dict[str, Any] = args[0]
        for name in _LOGIN_FIELDS:
            if credentials.get(name) in (None, ""):
                return ("60027", f"Parameter {name} can not be empty.")
        if self.reject_logins:
            return ("60009", "Login failed.")
        timestamp = _timestamp_text(credentials["timestamp"])
        if timestamp is None:
            return ("60004", "Invalid OK-ACCESS-TIMESTAMP")
        if abs(self.clock() - float(timestamp)) > LOGIN_WINDOW_SECONDS:
            return ("60006", "Timestamp request expired")
        account = self.accounts.get(credentials["apiKey"])
        if account is None:
            return ("60005", "Invalid OK-ACCESS-KEY")
        if credentials["passphrase"] != account.passphrase:
            return ("60024", "Wrong passphrase")
        sign = credentials["sign"]
        expected = login_sign(account.secret, timestamp)
        if not isinstance(sign, str) or not hmac.compare_digest(sign, expected):
            return ("60007", "Invalid sign")
        return None

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
            await self._initial_push(conn, arg)
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
        """Why ``arg`` cannot be (un)subscribed on this connection, or None when it can.

        Unsubscribing checks the channel and URL but not login or fee tier.
        """
        invalid_args = ("60013", "Invalid args")
        if not isinstance(arg, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in arg.items()
        ):
            return invalid_args
        channel = arg.get("channel", "")
        if not channel:
            return invalid_args
        endpoint = conn.endpoint
        wrong_url = ("60018", _wrong_url_message(arg))

        if channel == CALENDAR_CHANNEL:
            if endpoint == "public":
                return (
                    "64001",
                    "This channel has been migrated to the '/business' URL. "
                    "Please subscribe using the new URL.",
                )
            if endpoint != "business":
                return wrong_url
            if subscribing and not conn.logged_in:
                return ("60011", "Please log in")
            if subscribing and (conn.account is None or conn.account.vip_level < 1):
                return (
                    "64003",
                    "Your trading fee tier doesn't meet the requirement to access this channel",
                )
            return None

        is_instrument_channel = channel in INSTRUMENT_CHANNELS or channel.startswith("candle")
        if channel == STATUS_CHANNEL or is_instrument_channel:
            if endpoint == "business":
                return (
                    "64002",
                    'This channel is not supported by "/business" URL. Please use "/private" '
                    'URL(for private channels), or "/public" URL(for public channels).',
                )
            if endpoint != "public":
                return wrong_url
            if is_instrument_channel:
                if "instId" not in arg:
                    return invalid_args
                if arg["instId"] not in self.instruments:
                    return wrong_url
            return None

        if channel in PRIVATE_CHANNELS:
            if endpoint != "private":
                return wrong_url
            if subscribing and not conn.logged_in:
                return ("60011", "Please log in")
            return None

        return wrong_url

    async def _initial_push(self, conn: OkxConnection, arg: Mapping[str, str]) -> None:
        """What a new subscription receives right after its ack."""
        channel = arg["channel"]
        if channel == STATUS_CHANNEL and self._latest_status is not None:
            frame = {"arg": {"channel": STATUS_CHANNEL}, "data": [self._latest_status]}
            if await self._send_json(conn, frame):
                self.stats.pushes_sent += 1
        elif channel == "books" and self.books_rate > 0 and set(arg) == {"channel", "instId"}:
            book = self._book(arg["instId"])
            if await self._send_json(conn, self._book_frame(arg, book, snapshot=True)):
                self.stats.pushes_sent += 1
        # economic-calendar and everything else: nothing until scripted.

    # -- synthetic market data -----------------------------------------------------------------

    def _instrument_subscribers(self, channel: str) -> dict[str, list[OkxConnection]]:
        """instId -> connections subscribed to exactly {"channel": channel, "instId": instId}."""
        found: dict[str, list[OkxConnection]] = {}
        for inst_id in sorted(self.instruments):
            key = subscription_key({"channel": channel, "instId": inst_id})
            conns = [c for c in self._connections.values() if key in c.subscriptions]
            if conns:
                found[inst_id] = conns
        return found

    def _base_price(self, inst_id: str) -> float:
        base = inst_id.split("-", 1)[0]
        return {"BTC": 60000.0, "ETH": 3000.0}.get(base, 100.0)

    async def _tickers_loop(self) -> None:
        interval = 1.0 / self.tickers_rate
        while True:
            await asyncio.sleep(interval)
            for inst_id, conns in self._instrument_subscribers("tickers").items():
                arg = {"channel": "tickers", "instId": inst_id}
                frame = _dumps({"arg": arg, "data": [self._next_ticker(inst_id)]})
                await self._send_all(conns, frame, push=True)

    def _next_ticker(self, inst_id: str) -> dict[str, str]:
        base = self._base_price(inst_id)
        last = self._last_prices.get(inst_id, base) * (1 + self._random.gauss(0, 0.0005))
        self._last_prices[inst_id] = last
        spread = base * 0.0001
        if inst_id.endswith("-SWAP"):
            inst_type = "SWAP"
        elif inst_id.count("-") == 1:
            inst_type = "SPOT"
        else:
            inst_type = "FUTURES"

        def px(value: float) -> str:
            return f"{value:.2f}"

        def sz() -> str:
            return f"{self._random.uniform(0.001, 5):.4f}"

        return {
            "instType": inst_type,
            "instId": inst_id,
            "last": px(last),
            "lastSz": sz(),
            "askPx": px(last + spread),
            "askSz": sz(),
            "bidPx": px(last - spread),
            "bidSz": sz(),
            "open24h": px(base),
            "high24h": px(max(base, last) * 1.01),
            "low24h": px(min(base, last) * 0.99),
            "volCcy24h": f"{self._random.uniform(1e6, 1e8):.2f}",
            "vol24h": f"{self._random.uniform(1e3, 1e5):.4f}",
            "sodUtc0": px(base),
            "sodUtc8": px(base),
            "ts": _now_ms(),
        }

    def _book(self, inst_id: str) -> _Book:
        book = self._books.get(inst_id)
        if book is None:
            mid = self._base_price(inst_id)
            tick = mid * 0.0001
            book = _Book(bids={}, asks={}, seq_id=self._random.randint(1_000, 100_000), tick=tick)
            for level in range(1, 21):
                book.bids[round(mid - level * tick, 8)] = self._level()
                book.asks[round(mid + level * tick, 8)] = self._level()
            self._books[inst_id] = book
        return book

    def _level(self) -> tuple[str, str]:
        return f"{self._random.uniform(0.01, 10):.4f}", str(self._random.randint(1, 20))

    def _book_frame(
        self,
        arg: Mapping[str, str],
        book: _Book,
        *,
        snapshot: bool,
        changes: tuple[dict[float, tuple[str, str]], dict[float, tuple[str, str]]] | None = None,
        prev_seq_id: int = -1,
    ) -> dict[str, Any]:
        bids, asks = (book.bids, book.asks) if changes is None else changes

        def rows(levels: dict[float, tuple[str, str]], descending: bool) -> list[list[str]]:
            ordered = sorted(levels.items(), reverse=descending)
            return [[f"{price:.2f}", size, "0", orders] for price, (size, orders) in ordered]

        element = {
            "asks": rows(asks, descending=False),
            "bids": rows(bids, descending=True),
            "ts": _now_ms(),
            "checksum": 0,  # the simulator does not compute CRC32 checksums
            "prevSeqId": -1 if snapshot else prev_seq_id,
            "seqId": book.seq_id,
        }
        return {"arg": dict(arg), "action": "snapshot" if snapshot else "update", "data": [element]}

    def _mutate_book(
        self, book: _Book
    ) -> tuple[dict[float, tuple[str, str]], dict[float, tuple[str, str]]]:
        """Change one level per side (resize or replace); return the changed levels."""
        changes: list[dict[float, tuple[str, str]]] = []
        for side, direction in ((book.bids, -1), (book.asks, 1)):
            changed: dict[float, tuple[str, str]] = {}
            price = self._random.choice(list(side))
            if self._random.random() < 0.3 and len(side) > 1:
                del side[price]
                changed[price] = ("0", "0")  # size 0 deletes the level
                outermost = max(side) if direction > 0 else min(side)
                new_price = round(outermost + direction * book.tick, 8)
                side[new_price] = changed[new_price] = self._level()
            else:
                side[price] = changed[price] = self._level()
            changes.append(changed)
        return changes[0], changes[1]

    async def _books_loop(self) -> None:
        interval = 1.0 / self.books_rate
        while True:
            await asyncio.sleep(interval)
            for inst_id, conns in self._instrument_subscribers("books").items():
                book = self._book(inst_id)
                prev_seq_id = book.seq_id
                changes = self._mutate_book(book)
                book.seq_id += self._random.randint(1, 3)
                arg = {"channel": "books", "instId": inst_id}
                frame = self._book_frame(
                    arg, book, snapshot=False, changes=changes, prev_seq_id=prev_seq_id
                )
                await self._send_all(conns, _dumps(frame), push=True)


def _timestamp_text(value: Any) -> str | None:
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


def _wrong_url_message(arg: Mapping[str, str]) -> str:
    target = f"channel:{arg.get('channel', '')}"
    if "instId" in arg:
        target += f", instId:{arg['instId']}"
    return (
        f"Wrong URL or {target} doesn't exist. "
        "Please use the correct URL, channel and parameters referring to API document."
    )


# -- standalone entry point ------------------------------------------------------------------


def _parse_account(text: str) -> tuple[str, OkxAccount]:
    parts = text.split(":")
    if len(parts) not in (3, 4):
        raise argparse.ArgumentTypeError("expected KEY:SECRET:PASSPHRASE[:VIP]")
    vip = int(parts[3]) if len(parts) == 4 else 1
    return parts[0], OkxAccount(secret=parts[1], passphrase=parts[2], vip_level=vip)


async def script_status_changes(sim: OkxSimulator, every: float) -> None:
    """Push a maintenance status change every ``every`` seconds: scheduled, ongoing, completed."""
    states = ("scheduled", "ongoing", "completed")
    round_ = 0
    while True:
        await asyncio.sleep(every)
        now = int(time.time() * 1000)
        await sim.push_status(
            {
                "title": f"Demo system upgrade #{round_ // len(states) + 1}",
                "state": states[round_ % len(states)],
                "begin": str(now + 60_000),
                "end": str(now + 3_660_000),
                "serviceType": "0",
                "system": "unified",
                "maintType": "1",
                "env": "1",
                "ts": str(now),
            }
        )
        round_ += 1


async def script_calendar_events(sim: OkxSimulator, every: float) -> None:
    """Push a new economic-calendar event every ``every`` seconds."""
    calendar_id = 319275
    while True:
        await asyncio.sleep(every)
        now = str(int(time.time() * 1000))
        calendar_id += 1
        await sim.push_calendar(
            {
                "calendarId": str(calendar_id),
                "date": now,
                "region": "United States",
                "category": "Manufacturing PMI",
                "event": "S&P Global Manufacturing PMI Final",
                "refDate": now,
                "actual": "49.2",
                "previous": "47.3",
                "forecast": "49.3",
                "importance": "2",
                "ts": now,
            }
        )


async def _serve_forever(options: argparse.Namespace) -> None:
    accounts = dict(options.account or [_parse_account("demo-key:demo-secret:demo-pass:1")])
    async with OkxSimulator(
        host=options.host,
        port=options.port,
        tls=options.tls,
        idle_timeout=options.idle_timeout,
        accounts=accounts,
        tickers_rate=options.tickers_rate,
        books_rate=options.books_rate,
    ) as sim:
        for path in (PUBLIC_PATH, PRIVATE_PATH, BUSINESS_PATH):
            print(f"OKX simulator: {sim.url(path)}")
        if sim.ca_file:
            print(f"  trust this certificate: {sim.ca_file}")
        for key, account in accounts.items():
            print(
                f"  account: apiKey={key} secret={account.secret} "
                f"passphrase={account.passphrase} vip={account.vip_level}"
            )
        print("Ctrl-C to stop.", flush=True)
        async with asyncio.TaskGroup() as tasks:
            if options.status_every > 0:
                tasks.create_task(script_status_changes(sim, options.status_every))
            if options.calendar_every > 0:
                tasks.create_task(script_calendar_events(sim, options.calendar_every))
            tasks.create_task(asyncio.Event().wait())  # run until cancelled by Ctrl-C


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bridge.sandbox.okx", description="OKX v5 WebSocket simulator (loopback)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--tls", action="store_true", help="serve wss with a self-signed cert")
    parser.add_argument("--idle-timeout", type=float, default=30.0, metavar="SECONDS")
    parser.add_argument(
        "--account",
        action="append",
        type=_parse_account,
        metavar="KEY:SECRET:PASSPHRASE[:VIP]",
        help="an API account (repeatable; default demo-key:demo-secret:demo-pass:1)",
    )
    parser.add_argument(
        "--status-every", type=float, default=0.0, metavar="SECONDS", help="push status changes"
    )
    parser.add_argument(
        "--calendar-every", type=float, default=0.0, metavar="SECONDS", help="push calendar events"
    )
    parser.add_argument("--tickers-rate", type=float, default=0.0, metavar="PER_SECOND")
    parser.add_argument("--books-rate", type=float, default=0.0, metavar="PER_SECOND")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every frame")
    options = parser.parse_args(argv)
    return run_standalone(_serve_forever(options), verbose=options.verbose)


if __name__ == "__main__":
    raise SystemExit(main())
