"""The server side of OKX v5 WebSockets on loopback, for tests and the demo.

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
* the 64008 "service upgrade" notice followed by a close.

Besides the control API every simulator has (:mod:`bridge.sandbox.server`), tests script it
with ``push_status``, ``push_calendar``, ``publish``, ``send_notice`` and
``send_channel_conn_count``. Generators (``rates``): ``tickers`` and ``books`` for subscribed
instruments, ``status`` and ``economic-calendar`` (:mod:`bridge.sandbox.okx.market`).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from websockets.asyncio.server import ServerConnection

from bridge.sandbox.okx.market import (
    CALENDAR_FIELDS,
    DEFAULT_STATUS,
    STATUS_FIELDS,
    OkxMarket,
    complete,
)
from bridge.sandbox.okx.wire import (
    CALENDAR_CHANNEL,
    INSTRUMENT_CHANNELS,
    NOTICE_CODE,
    NOTICE_MSG,
    PRIVATE_CHANNELS,
    STATUS_CHANNEL,
    SubscriptionKey,
    dumps,
    login_sign,
    subscription_key,
    timestamp_text,
    wrong_url_message,
)
from bridge.sandbox.server import SimConnection, SimulatorServer, SimulatorStats

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
LOGIN_WINDOW_SECONDS: Final = 30.0
_LOGIN_FIELDS: Final = ("apiKey", "passphrase", "timestamp", "sign")
_REQUEST_ID = re.compile(r"[A-Za-z0-9]{1,32}")


# -- state -------------------------------------------------------------------------------------


@dataclass
class OkxAccount:
    """An API key's credentials and the trading fee tier some channels require."""

    secret: str
    passphrase: str
    vip_level: int = 1


@dataclass
class OkxStats(SimulatorStats):
    """The shared counters (``errors_sent`` keyed by OKX code, ``pushes_sent`` by channel),
    and the 64008 notices."""

    notices_sent: int = 0


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


_ArgProblem = tuple[str, str]  # (error code, message)


# -- the simulator ----------------------------------------------------------------------------


class OkxSimulator(SimulatorServer[OkxConnection, OkxStats]):
    """OKX v5 WebSocket server on loopback. Use ``async with OkxSimulator(...) as sim:``.

    ``clock`` is the server's wall clock (Unix seconds) for the login timestamp window;
    timeouts (idle close, notice delay) run on the event loop's monotonic clock.
    ``rate`` / ``rates``: rounds per second of the generators (0 = off): ``tickers`` and
    ``books`` (the market data ``rate`` sets) push to subscribed instruments, ``status`` and
    ``economic-calendar`` push a new status change or calendar event each round.
    """

    label = "OKX simulator"
    paths = {PUBLIC_PATH: "public", PRIVATE_PATH: "private", BUSINESS_PATH: "business"}
    default_path = PUBLIC_PATH
    tls_name = "okx-sim"
    generators = ("tickers", "books", STATUS_CHANNEL, CALENDAR_CHANNEL)
    market_generators = ("tickers", "books")
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
        else:
            for inst_id, conns in self._instrument_subscribers(name).items():
                arg = {"channel": name, "instId": inst_id}
                if name == "tickers":
                    frame = {"arg": arg, "data": [self._market.ticker(inst_id)]}
                else:
                    frame = self._market.book_update(arg)
                await self._send_all(conns, dumps(frame), push=name)

    def _instrument_subscribers(self, channel: str) -> dict[str, list[OkxConnection]]:
        """instId -> connections subscribed to exactly {"channel": channel, "instId": instId}."""
        found: dict[str, list[OkxConnection]] = {}
        for inst_id in sorted(self.instruments):
            key = subscription_key({"channel": channel, "instId": inst_id})
            conns = [c for c in self._connections.values() if key in c.subscriptions]
            if conns:
                found[inst_id] = conns
        return found

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
        timestamp = timestamp_text(credentials["timestamp"])
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
        wrong_url = ("60018", wrong_url_message(arg))

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
        frame: dict[str, Any] | None = None
        if channel == STATUS_CHANNEL and self._latest_status is not None:
            frame = {"arg": {"channel": STATUS_CHANNEL}, "data": [self._latest_status]}
        elif channel == "books" and self.rates["books"] > 0 and set(arg) == {"channel", "instId"}:
            frame = self._market.book_snapshot(arg)
        # economic-calendar and everything else: nothing until scripted.
        if frame is not None and await self._send_json(conn, frame):
            self.stats.pushes_sent[channel] += 1
