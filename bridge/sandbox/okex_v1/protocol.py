"""The server side of legacy OKEx v1 spot WebSockets on loopback, for tests and the demo.

One path, ``/ws/v1`` (query strings ignored; other paths get HTTP 404). What it reproduces, as
the seed document and the project's protocol notes describe the real server:

* requests as strict JSON or in the documentation's lenient single-quoted form, one object or
  a JSON array of them (batch); each request is answered in its own frame;
* ``addChannel`` / ``removeChannel`` acks (``"channel":"addChannel"``, the subscribed channel in
  ``data``), and errors that keep the connection open: 20116 unknown channel or pair, 20107
  malformed JSON, 20103 unknown event, 10000 missing parameter, 10005 bad api_key or sign,
  10017 private channel without login, 10009 unknown order, 10010 insufficient funds;
* ``{"event":"ping"}`` answered with ``{"event":"pong"}``;
* compression as a switch (:data:`Compression`): ``off``, ``request`` (frames of a request or
  channel that asked ``binary: 1`` are raw deflate in binary frames) or ``always`` (every
  frame, pongs included); frames say ``"binary":0|1``;
* ``login`` with the MD5 sign (32 upper-case hex digits over ``api_key=KEY&secret_key=SECRET``);
* market data per pair (:mod:`bridge.sandbox.okex_v1.market`): ``_ticker``, ``_depth`` (the
  full book on subscribe, then only the changed levels: additions, edits, amount ``"0"``
  deletions), ``_depth_5/10/20`` (the top of the book, in full, each time), ``_deals`` and
  ``_kline_<interval>``;
* an account per API key (:mod:`bridge.sandbox.okex_v1.trading`): the trade API over the
  socket (``ok_spot_userinfo``, ``ok_spot_orderinfo``, ``ok_spot_order``,
  ``ok_spot_cancel_order``, each signed), and for tests :meth:`OkexV1Simulator.place_order` /
  :meth:`~OkexV1Simulator.cancel_order`; an order produces ``_order`` and ``_balance`` pushes
  to the logged-in connections of that key (their ``type`` labels swapped, as the
  documentation prints them).

Protocol details the documents leave open, chosen here: a request that cannot be parsed is
answered 20107 without a ``channel``; ``_order`` / ``_balance`` without a login get 10017; each
request of a batch gets its own answer frame; a repeated ``addChannel`` is acked again and
receives the full book again (the first push after each subscription is the full book); the
server never closes an idle connection unless ``idle_timeout`` is set; ``orderinfo`` with
``order_id`` ``-1`` lists the pair's open orders (as the REST v1 API did).
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from websockets.asyncio.server import ServerConnection

from bridge.errors import SandboxError
from bridge.sandbox.okex_v1.market import Level, OkexV1Market, now_ms
from bridge.sandbox.okex_v1.trading import OkexV1Account, OkexV1Order, Trading
from bridge.sandbox.okex_v1.wire import (
    CANCEL_ORDER,
    CHANNEL,
    DEFAULT_SYMBOLS,
    DEPTH_SIZES,
    ERROR_MESSAGES,
    KLINE_INTERVALS,
    NOT_LOGGED_IN,
    ORDER,
    ORDERINFO,
    TRADE_CHANNELS,
    USERINFO,
    RequestError,
    deflate,
    dumps,
    md5_sign,
    number,
    parse_lenient,
)
from bridge.sandbox.server import BookLevels, SimConnection, SimulatorServer, SimulatorStats

logger = logging.getLogger(__name__)

PATH: Final = "/ws/v1"

Compression = Literal["off", "request", "always"]
"""``off``: never compress; ``request``: compress what a request asked ``binary: 1`` for (the
answers to it and the pushes of that channel); ``always``: compress every frame."""

_PONG: Final = '{"event":"pong"}'
_REQUIRED: Final = {
    USERINFO: (),
    ORDERINFO: ("symbol", "order_id"),
    ORDER: ("symbol", "type"),
    CANCEL_ORDER: ("symbol", "order_id"),
}
"""Parameters each trade request needs besides ``api_key`` and ``sign``."""


@dataclass
class OkexV1Stats(SimulatorStats):
    """The shared counters (``errors_sent`` keyed by error code, ``pushes_sent`` by channel),
    and OKEx v1's own: requests (a batch counts each), batches, requests in the lenient
    single-quoted form, frames sent compressed or as text, orders."""

    requests: int = 0
    batches: int = 0
    lenient_requests: int = 0
    compressed_frames: int = 0
    text_frames: int = 0
    orders_placed: int = 0
    orders_cancelled: int = 0


@dataclass(eq=False, kw_only=True)
class OkexV1Connection(SimConnection):
    """What the simulator knows about one live OKEx v1 connection."""

    logged_in: bool = False
    api_key: str | None = None
    subscriptions: dict[str, bool] = field(default_factory=dict)
    """Subscribed channel -> whether its pushes are compressed (``binary: 1`` was asked)."""

    def is_subscribed(self, channel: str, **arg: str) -> bool:
        if arg:
            raise TypeError("an OKEx v1 channel names its pair and kind; there is no arg")
        return channel in self.subscriptions


class OkexV1Simulator(SimulatorServer[OkexV1Connection, OkexV1Stats]):
    """OKEx v1 spot WebSocket server on loopback. Use ``async with OkexV1Simulator() as sim:``.

    ``accounts``: API key -> :class:`OkexV1Account`. ``idle_timeout``: close a connection
    (code 1000) after that many seconds without a frame from the client (None: never; the
    documents name no idle close, so it is off by default). ``rate`` / ``rates``: pushes per
    second of synthetic market data on every subscribed channel of a kind (generators
    ``ticker``, ``depth``, ``deals``, ``kline``; 0: only what tests script).
    """

    label = "OKEx v1 simulator"
    paths = {PATH: "spot"}
    default_path = PATH
    tls_name = "okex-v1-sim"
    generators = ("ticker", "depth", "deals", "kline")
    market_generators = generators
    _log = logger

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = False,
        compression: Compression = "request",
        accounts: Mapping[str, OkexV1Account] | None = None,
        symbols: Collection[str] | None = None,
        idle_timeout: float | None = None,
        rate: float = 0.0,
        rates: Mapping[str, float] | None = None,
        max_message_size: int = 2**20,
        seed: int = 0,
    ) -> None:
        if compression not in ("off", "request", "always"):
            raise ValueError(f"compression must be off, request or always, not {compression!r}")
        super().__init__(
            host=host,
            port=port,
            tls=tls,
            stats=OkexV1Stats(),
            idle_timeout=idle_timeout,
            max_message_size=max_message_size,
            rate=rate,
            rates=rates,
        )
        self.compression: Compression = compression
        self.accounts: dict[str, OkexV1Account] = dict(accounts or {})
        self.symbols: set[str] = set(DEFAULT_SYMBOLS if symbols is None else symbols)
        self._market = OkexV1Market(seed)
        self._trading = Trading(self.accounts, self.symbols)

    # -- observation -----------------------------------------------------------------------------

    @property
    def orders(self) -> dict[int, OkexV1Order]:
        """Every order placed, by id."""
        return self._trading.orders

    def book(self, symbol: str) -> BookLevels:
        """The order book of ``symbol``, best levels first, (price, amount) texts."""
        return self._market.book(symbol)

    # -- scripting: market data ------------------------------------------------------------------

    def set_book(self, symbol: str, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Replace the book of ``symbol`` without pushing anything (new subscribers get it)."""
        self._market.set_book(symbol, bids, asks)

    async def update_book(
        self,
        symbol: str,
        *,
        bids: Iterable[Level] = (),
        asks: Iterable[Level] = (),
        timestamp: int | None = None,
    ) -> None:
        """Apply level changes (a new price adds, a known price gets the new amount, amount
        ``"0"`` deletes) and push them: the changed levels to ``_depth`` subscribers, the new
        top of the book to ``_depth_5/10/20`` subscribers."""
        bid_changes, ask_changes = list(bids), list(asks)
        self._market.apply(symbol, bids=bid_changes, asks=ask_changes)
        ts = now_ms() if timestamp is None else timestamp
        update = {
            "asks": [list(level) for level in ask_changes],
            "bids": [list(level) for level in bid_changes],
            "timestamp": number(ts),
        }
        await self._push(f"ok_sub_spot_{symbol}_depth", update)
        for size in DEPTH_SIZES:
            channel = f"ok_sub_spot_{symbol}_depth_{size}"
            if self.subscribers(channel):
                await self._push(channel, self._market.depth_data(symbol, size, ts))

    async def push_ticker(self, symbol: str, ticker: Mapping[str, Any] | None = None) -> None:
        """Push a ticker (given fields, or a synthetic one) to ``_ticker`` subscribers; new
        subscribers receive the latest one."""
        data = dict(ticker) if ticker is not None else self._market.ticker(symbol)
        self._market.tickers[symbol] = data
        await self._push(f"ok_sub_spot_{symbol}_ticker", data)

    async def push_deals(self, symbol: str, rows: Sequence[Sequence[str]] | None = None) -> None:
        """Push deals ``[tid, price, amount, "HH:MM:SS", "bid"|"ask"]`` (one synthetic deal
        at the current Asia/Shanghai time when ``rows`` is None)."""
        data = [list(r) for r in rows] if rows is not None else [self._market.deal(symbol)]
        await self._push(f"ok_sub_spot_{symbol}_deals", data)

    async def push_kline(
        self, symbol: str, interval: str, rows: Sequence[Sequence[str]] | None = None
    ) -> None:
        """Push candles ``[ms, open, high, low, close, volume]`` (one synthetic candle for the
        current minute when ``rows`` is None)."""
        if interval not in KLINE_INTERVALS:
            raise ValueError(f"unknown kline interval {interval!r}")
        data = [list(r) for r in rows] if rows is not None else [self._market.candle(symbol)]
        await self._push(f"ok_sub_spot_{symbol}_kline_{interval}", data)

    # -- scripting: accounts and orders ----------------------------------------------------------

    async def place_order(
        self, api_key: str, symbol: str, type: str, price: str, amount: str
    ) -> int:
        """Place an order for ``api_key`` (the trade API's ``ok_spot_order``), freeze its funds,
        push ``_order`` and ``_balance`` to that key's logged-in subscribers. Returns the id.
        Raises SandboxError for an unknown key or pair, bad numbers, or insufficient funds."""
        try:
            return await self._place(api_key, symbol, type, price, amount)
        except RequestError as exc:
            raise SandboxError(f"order refused: {exc.code} {exc.message}") from None

    async def cancel_order(self, api_key: str, order_id: int) -> None:
        """Cancel an open order: status -1, funds unfrozen, ``_order`` and ``_balance`` pushed."""
        try:
            await self._cancel(api_key, order_id)
        except RequestError as exc:
            raise SandboxError(f"cancel refused: {exc.code} {exc.message}") from None

    async def _place(self, api_key: str, symbol: str, type: str, price: str, amount: str) -> int:
        order = self._trading.place(api_key, symbol, type, price, amount)
        self.stats.orders_placed += 1
        await self._push_order_change(order)
        return order.order_id

    async def _cancel(self, api_key: str, order_id: int) -> None:
        order = self._trading.cancel(api_key, order_id)
        self.stats.orders_cancelled += 1
        await self._push_order_change(order)

    async def _push_order_change(self, order: OkexV1Order) -> None:
        order_data, balance_data = self._trading.order_push(order)
        envelope = {"base": order.base, "quote": order.quote, "product": "spot"}
        # The documentation labels the order push "balance" and the balance push "order".
        await self._push(
            f"ok_sub_spot_{order.symbol}_order",
            order_data,
            private_to=order.api_key,
            envelope={**envelope, "type": "balance"},
        )
        await self._push(
            f"ok_sub_spot_{order.symbol}_balance",
            balance_data,
            private_to=order.api_key,
            envelope={**envelope, "type": "order"},
        )

    # -- generators ------------------------------------------------------------------------------

    async def _generate(self, name: str) -> None:
        channels = {c for conn in self._connections.values() for c in conn.subscriptions}
        kinds = {
            (match["symbol"], match["kind"])
            for match in map(CHANNEL.fullmatch, channels)
            if match is not None
        }
        for symbol, kind in sorted(kinds):
            if name == "ticker" and kind == "ticker":
                await self.push_ticker(symbol)
            elif name == "deals" and kind == "deals":
                await self.push_deals(symbol)
            elif name == "kline" and kind.startswith("kline_"):
                await self.push_kline(symbol, kind[len("kline_") :])
        if name == "depth":
            # One change per pair, whichever depth channels (full or top-N) it is pushed on.
            for symbol in sorted({s for s, kind in kinds if kind.startswith("depth")}):
                side, change = self._market.random_change(symbol)
                if side == "bids":
                    await self.update_book(symbol, bids=change)
                else:
                    await self.update_book(symbol, asks=change)

    # -- connection handling ---------------------------------------------------------------------

    def _connect(self, websocket: ServerConnection, path: str) -> OkexV1Connection:
        return OkexV1Connection(
            conn_id=self._new_conn_id(), path=path, endpoint=self.paths[path], websocket=websocket
        )

    # -- sending ---------------------------------------------------------------------------------

    def _compressed(self, asked: bool) -> bool:
        return self.compression == "always" or (self.compression == "request" and asked)

    async def _send(self, conn: OkexV1Connection, frame: str | bytes) -> bool:
        if not await super()._send(conn, frame):
            return False
        if isinstance(frame, bytes):
            self.stats.compressed_frames += 1
        else:
            self.stats.text_frames += 1
        return True

    async def _send_elements(
        self, conn: OkexV1Connection, elements: list[dict[str, Any]], compressed: bool
    ) -> bool:
        """One response frame: the elements in an array, ``binary`` set to match."""
        for element in elements:
            if "binary" in element:
                element["binary"] = number(int(compressed))
        text = dumps(elements)
        return await self._send(conn, deflate(text) if compressed else text)

    async def _answer(
        self, conn: OkexV1Connection, channel: str | None, data: Mapping[str, Any], asked: bool
    ) -> None:
        element: dict[str, Any] = {"binary": 0}
        if channel is not None:
            element["channel"] = channel
        element["data"] = dict(data)
        await self._send_elements(conn, [element], self._compressed(asked))

    async def _error(
        self,
        conn: OkexV1Connection,
        channel: str | None,
        code: int,
        asked: bool,
        message: str | None = None,
    ) -> None:
        self.stats.errors_sent[str(code)] += 1
        data = {
            "result": False,
            "error_msg": message or ERROR_MESSAGES[code],
            "error_code": number(code),
        }
        await self._answer(conn, channel, data, asked)

    async def _push(
        self,
        channel: str,
        data: Any,
        *,
        private_to: str | None = None,
        envelope: Mapping[str, Any] | None = None,
    ) -> None:
        """Push ``data`` on ``channel`` to its subscribers (only those logged in with
        ``private_to`` for account channels)."""
        for conn in self.subscribers(channel):
            if private_to is not None and not (conn.logged_in and conn.api_key == private_to):
                continue
            await self._push_to(conn, channel, data, envelope)

    async def _push_to(
        self,
        conn: OkexV1Connection,
        channel: str,
        data: Any,
        envelope: Mapping[str, Any] | None = None,
    ) -> None:
        element: dict[str, Any] = {}
        if envelope is not None:
            # Account pushes list their fields alphabetically, as the documentation shows.
            fields = {**envelope, "binary": 0, "channel": channel, "data": data}
            element = {k: fields[k] for k in sorted(fields)}
        else:
            element = {"binary": 0, "channel": channel, "data": data}
        compressed = self._compressed(conn.subscriptions.get(channel, False))
        if await self._send_elements(conn, [element], compressed):
            self.stats.pushes_sent[channel] += 1

    # -- requests --------------------------------------------------------------------------------

    async def _on_message(self, conn: OkexV1Connection, message: str | bytes) -> None:
        if isinstance(message, bytes):
            try:
                message = message.decode("utf-8")
            except UnicodeDecodeError:
                await self._error(conn, None, 20107, False)
                return
        try:
            request = json.loads(message)
        except ValueError:
            try:
                request = parse_lenient(message)
            except ValueError:
                await self._error(conn, None, 20107, False)
                return
            self.stats.lenient_requests += 1
        if isinstance(request, list):
            self.stats.batches += 1
            if not request:
                await self._error(conn, None, 20107, False)
            for item in request:
                await self._on_request(conn, item)
        else:
            await self._on_request(conn, request)

    async def _on_request(self, conn: OkexV1Connection, request: Any) -> None:
        self.stats.requests += 1
        if not isinstance(request, dict):
            await self._error(conn, None, 20107, False)
            return
        event = request.get("event")
        if event == "ping":
            self.stats.pings += 1
            if self.answer_pings:
                await self._send(conn, deflate(_PONG) if self._compressed(False) else _PONG)
            return
        asked = _asks_binary(request)
        channel = request.get("channel")
        if event == "login":
            await self._login(conn, request.get("parameters"), asked)
        elif event in ("addChannel", "removeChannel"):
            if event == "addChannel":
                self.stats.subscribe_requests += 1
            else:
                self.stats.unsubscribe_requests += 1
            if not isinstance(channel, str) or not channel:
                await self._error(conn, None, 10000, asked)
            elif channel in TRADE_CHANNELS:
                if event == "removeChannel":  # requests, not subscriptions
                    await self._error(conn, channel, 20116, asked)
                    return
                await self._trade(conn, channel, request.get("parameters"), asked)
            else:
                await self._channel(conn, event, channel, asked)
        else:
            await self._error(conn, channel if isinstance(channel, str) else None, 20103, asked)

    async def _login(self, conn: OkexV1Connection, parameters: Any, asked: bool) -> None:
        try:
            api_key = self._check_signed(parameters, ())[0]
        except RequestError as exc:
            self.stats.logins_failed += 1
            logger.info("OKEx v1 simulator: login failed on %s (%s)", conn.conn_id, exc.code)
            await self._error(conn, "login", exc.code, asked)
            return
        conn.logged_in, conn.api_key = True, api_key
        self.stats.logins_ok += 1
        await self._answer(conn, "login", {"result": True}, asked)

    def _check_signed(self, parameters: Any, required: Sequence[str]) -> tuple[str, dict[str, str]]:
        """(api_key, parameters as text) when ``parameters`` are correctly signed."""
        if not isinstance(parameters, dict):
            raise RequestError(10000)
        text: dict[str, str] = {}
        for name, value in parameters.items():
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise RequestError(10008)
            text[str(name)] = str(value)
        for name in ("api_key", "sign", *required):
            if not text.get(name):
                raise RequestError(10000)
        account = self.accounts.get(text["api_key"])
        if account is None:
            raise RequestError(10005)
        if not hmac.compare_digest(text["sign"], md5_sign(text, account.secret)):
            raise RequestError(10005)
        return text["api_key"], text

    async def _channel(self, conn: OkexV1Connection, event: str, channel: str, asked: bool) -> None:
        match = CHANNEL.fullmatch(channel)
        kind = match["kind"] if match else ""
        valid = (
            match is not None
            and match["symbol"] in self.symbols
            and (not kind.startswith("kline_") or kind[len("kline_") :] in KLINE_INTERVALS)
        )
        if not valid:
            await self._error(conn, channel, 20116, asked)
            return
        if event == "removeChannel":
            conn.subscriptions.pop(channel, None)
            self._notify_changed()
            await self._ack(conn, "removeChannel", channel, asked)
            return
        if kind in ("order", "balance") and not conn.logged_in:
            await self._error(conn, channel, NOT_LOGGED_IN, asked)
            return
        conn.subscriptions[channel] = asked
        self._notify_changed()
        await self._ack(conn, "addChannel", channel, asked)
        assert match is not None
        await self._initial_push(conn, match["symbol"], kind, channel)

    async def _ack(self, conn: OkexV1Connection, op: str, channel: str, asked: bool) -> None:
        self.stats.acks_sent += 1
        await self._answer(conn, op, {"result": True, "channel": channel}, asked)

    async def _initial_push(
        self, conn: OkexV1Connection, symbol: str, kind: str, channel: str
    ) -> None:
        """What a subscription receives right after its ack (again on a repeated addChannel:
        the first push after each subscription is the full book)."""
        ts = now_ms()
        if kind == "depth":
            await self._push_to(conn, channel, self._market.depth_data(symbol, None, ts))
        elif kind.startswith("depth_"):
            size = int(kind[len("depth_") :])
            await self._push_to(conn, channel, self._market.depth_data(symbol, size, ts))
        elif kind == "ticker" and symbol in self._market.tickers:
            await self._push_to(conn, channel, self._market.tickers[symbol])
        # deals, kline, order, balance: nothing until something happens.

    async def _trade(
        self, conn: OkexV1Connection, channel: str, parameters: Any, asked: bool
    ) -> None:
        try:
            api_key, params = self._check_signed(parameters, _REQUIRED[channel])
            data = await self._trade_answer(channel, api_key, params)
        except RequestError as exc:
            await self._error(conn, channel, exc.code, asked, exc.message)
            return
        await self._answer(conn, channel, data, asked)

    async def _trade_answer(
        self, channel: str, api_key: str, params: dict[str, str]
    ) -> dict[str, Any]:
        if channel == USERINFO:
            return self._trading.userinfo(api_key)
        if channel == ORDERINFO:
            orders = self._trading.order_infos(api_key, params["symbol"], params["order_id"])
            return {"result": True, "orders": orders}
        if channel == ORDER:
            order_id = await self._place(
                api_key,
                params["symbol"],
                params["type"],
                params.get("price", "0"),
                params.get("amount", "0"),
            )
            return {"result": True, "order_id": number(order_id)}
        order = self._trading.find(api_key, params["symbol"], params["order_id"])
        await self._cancel(api_key, order.order_id)
        return {"result": True, "order_id": params["order_id"]}


def _asks_binary(request: Mapping[str, Any]) -> bool:
    """Whether a request asks for compressed frames: ``binary`` 1 (number, text or true) beside
    the channel or inside ``parameters`` (the documents do not say where it goes)."""
    parameters = request.get("parameters")
    candidates = [request.get("binary")]
    if isinstance(parameters, dict):
        candidates.append(parameters.get("binary"))
    return any(value in (1, "1", True) for value in candidates)
