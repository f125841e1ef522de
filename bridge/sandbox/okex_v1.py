"""A legacy OKEx v1 spot WebSocket simulator on loopback, for tests and the demo.

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
* market data per pair: ``_ticker``, ``_depth`` (the full book on subscribe, then only the
  changed levels: additions, edits, amount ``"0"`` deletions), ``_depth_5/10/20`` (the top of
  the book, in full, each time), ``_deals`` and ``_kline_<interval>``;
* an account per API key: the trade API over the socket (``ok_spot_userinfo``,
  ``ok_spot_orderinfo``, ``ok_spot_order``, ``ok_spot_cancel_order``, each signed), and for
  tests :meth:`OkexV1Simulator.place_order` / :meth:`~OkexV1Simulator.cancel_order`; an order
  produces ``_order`` and ``_balance`` pushes to the logged-in connections of that key (their
  ``type`` labels swapped, as the documentation prints them).

Tests script it (``update_book``, ``push_ticker``, ``push_deals``, ``push_kline``,
``place_order``, ``send_raw``, ``drop_all``, ``close_connections``...) and observe it
(``connections``, ``stats``, ``book``, ``wait_for_subscribers``). Run
``python -m bridge.sandbox.okex_v1 --help`` for a standalone server.

Protocol details the documents leave open, chosen here: a request that cannot be parsed is
answered 20107 without a ``channel``; ``_order`` / ``_balance`` without a login get 10017; each
request of a batch gets its own answer frame; a repeated ``addChannel`` is acked again and
receives the full book again (the first push after each subscription is the full book); the
server never closes an idle connection unless ``idle_timeout`` is set; ``orderinfo`` with
``order_id`` ``-1`` lists the pair's open orders (as the REST v1 API did).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import logging
import random
import re
import secrets
import time
import zlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from http import HTTPStatus
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from bridge.errors import SandboxError
from bridge.sandbox.server import SimulatorServer, run_standalone

__all__ = [
    "DEFAULT_SYMBOLS",
    "KLINE_INTERVALS",
    "PATH",
    "Compression",
    "OkexV1Account",
    "OkexV1Connection",
    "OkexV1Order",
    "OkexV1Simulator",
    "OkexV1Stats",
    "deflate",
    "main",
    "md5_sign",
    "parse_lenient",
]

logger = logging.getLogger(__name__)

PATH: Final = "/ws/v1"

# The pairs the documentation lists; any "base_quote" can be added with ``symbols=``.
DEFAULT_SYMBOLS: Final = (
    "ltc_btc",
    "eth_btc",
    "etc_btc",
    "bch_btc",
    "btc_usdt",
    "eth_usdt",
    "ltc_usdt",
    "etc_usdt",
    "bch_usdt",
    "etc_eth",
    "bt1_btc",
    "bt2_btc",
    "btg_btc",
    "qtum_btc",
    "hsr_btc",
    "neo_btc",
    "gas_btc",
    "qtum_usdt",
    "hsr_usdt",
    "neo_usdt",
    "gas_usdt",
)
KLINE_INTERVALS: Final = (
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
DEPTH_SIZES: Final = (5, 10, 20)

Compression = Literal["off", "request", "always"]
"""``off``: never compress; ``request``: compress what a request asked ``binary: 1`` for (the
answers to it and the pushes of that channel); ``always``: compress every frame."""

USERINFO: Final = "ok_spot_userinfo"
ORDERINFO: Final = "ok_spot_orderinfo"
ORDER: Final = "ok_spot_order"
CANCEL_ORDER: Final = "ok_spot_cancel_order"
TRADE_CHANNELS: Final = (USERINFO, ORDERINFO, ORDER, CANCEL_ORDER)

ERROR_MESSAGES: Final = {
    10000: "required parameter empty",
    10005: "api_key or sign invalid",
    10008: "parameter error",
    10009: "order does not exist",
    10010: "insufficient funds",
    10017: "websocket authorization error",
    20103: "event type error",
    20107: "JSON format error",
    20116: "param not match.",
}
# Subscribing _order / _balance without a login: the documents give no code; 10017 ("websocket
# authorization error") is the closest one listed.
NOT_LOGGED_IN: Final = 10017

_CHANNEL = re.compile(
    r"ok_sub_spot_(?P<symbol>[a-z0-9]+_[a-z0-9]+)_"
    r"(?P<kind>ticker|depth|depth_(?:5|10|20)|deals|kline_[0-9a-z]+|order|balance)"
)
_EIGHT = Decimal("0.00000001")


# -- wire helpers ---------------------------------------------------------------------------------


def md5_sign(parameters: Mapping[str, str], secret: str) -> str:
    """Every parameter but ``sign``, sorted by name, ``k=v`` joined by ``&``, then
    ``&secret_key=SECRET``; MD5, upper-case hex.

    Written here independently of the adapter's copy on purpose: the simulator is the other
    side of the protocol, and sharing the client's code would let a signing bug pass both."""
    pairs = "&".join(f"{k}={v}" for k, v in sorted(parameters.items()) if k != "sign")
    text = f"{pairs}&secret_key={secret}" if pairs else f"secret_key={secret}"
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest().upper()


def deflate(text: str | bytes) -> bytes:
    """Raw deflate (no zlib header or checksum), as the server compresses a frame."""
    data = text.encode() if isinstance(text, str) else text
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def parse_lenient(text: str) -> Any:
    """JSON, or the documentation's lenient form with single-quoted strings
    (``{'event':'addChannel','channel':'ok_sub_spot_X_ticker'}``). Raises ValueError."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    return json.loads(_single_to_double_quotes(text))


def _single_to_double_quotes(text: str) -> str:
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':  # a JSON string: copy it, escapes included
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif c == "'":
            j, chars = i + 1, []
            while j < n and text[j] != "'":
                if text[j] == "\\" and j + 1 < n:
                    chars.append("'" if text[j + 1] == "'" else text[j : j + 2])
                    j += 2
                else:
                    chars.append('\\"' if text[j] == '"' else text[j])
                    j += 1
            if j >= n:
                raise ValueError("unterminated single-quoted string")
            out.append('"' + "".join(chars) + '"')
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


class _Raw(str):
    """Text written into JSON unquoted (a number in its exact form)."""

    __slots__ = ()


def _num(value: Decimal | int) -> _Raw:
    """A JSON number: integers as they are, decimals without exponent or trailing zeros."""
    if isinstance(value, int):
        return _Raw(str(value))
    text = format(value.normalize(), "f")
    return _Raw(text)


def _dumps(value: Any) -> str:
    """Compact JSON with numbers written from :func:`_num` unchanged."""
    if isinstance(value, _Raw):
        return str.__str__(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_dumps(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _amount(value: Decimal) -> str:
    """Amounts as the documentation's order pushes write them: eight decimals."""
    return f"{value.quantize(_EIGHT):f}"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not a number")
    return value


# -- state ----------------------------------------------------------------------------------------


@dataclass
class OkexV1Account:
    """An API key's secret and funds (currency -> amount; missing currencies are zero)."""

    secret: str
    free: dict[str, Decimal] = field(default_factory=dict)
    freezed: dict[str, Decimal] = field(default_factory=dict)


@dataclass
class OkexV1Order:
    order_id: int
    api_key: str
    symbol: str
    type: str
    """buy, sell, buy_market (``price`` is the quote amount to spend), sell_market."""
    price: Decimal
    amount: Decimal
    create_date: int
    status: int = 0
    """-1 cancelled, 0 unfilled, 1 partially filled, 2 filled."""
    deal_amount: Decimal = Decimal(0)

    @property
    def base(self) -> str:
        return self.symbol.split("_", 1)[0]

    @property
    def quote(self) -> str:
        return self.symbol.split("_", 1)[1]

    @property
    def frozen(self) -> tuple[str, Decimal]:
        """The currency and amount this order holds while open."""
        if self.type == "buy":
            return self.quote, self.price * self.amount
        if self.type == "buy_market":
            return self.quote, self.price
        return self.base, self.amount


@dataclass
class OkexV1Stats:
    """Counters for tests. ``errors_sent`` maps an error code (20116) to how often it was sent."""

    connects_total: int = 0
    disconnects_total: int = 0
    frames_received: int = 0
    requests: int = 0
    batches: int = 0
    lenient_requests: int = 0
    add_channel: int = 0
    remove_channel: int = 0
    acks_sent: int = 0
    errors_sent: dict[int, int] = field(default_factory=dict)
    logins_ok: int = 0
    logins_failed: int = 0
    pings: int = 0
    pushes_sent: int = 0
    compressed_frames: int = 0
    text_frames: int = 0
    orders_placed: int = 0
    orders_cancelled: int = 0
    idle_closes: int = 0


@dataclass(eq=False)
class OkexV1Connection:
    """What the simulator knows about one live WebSocket connection."""

    conn_id: str
    logged_in: bool = False
    api_key: str | None = None
    subscriptions: dict[str, bool] = field(default_factory=dict)
    """Subscribed channel -> whether its pushes are compressed (``binary: 1`` was asked)."""
    websocket: ServerConnection | None = field(default=None, repr=False)
    last_activity: float = field(default=0.0, repr=False)


@dataclass
class _Book:
    """price text -> amount text, per side."""

    bids: dict[str, str] = field(default_factory=dict)
    asks: dict[str, str] = field(default_factory=dict)


class _RequestError(Exception):
    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(message or ERROR_MESSAGES.get(code, "error"))
        self.code = code
        self.message = message or ERROR_MESSAGES.get(code, "error")


# -- the simulator --------------------------------------------------------------------------------


class OkexV1Simulator(SimulatorServer):
    """OKEx v1 spot WebSocket server on loopback. Use ``async with OkexV1Simulator() as sim:``.

    ``accounts``: API key -> :class:`OkexV1Account`. ``idle_timeout``: close a connection
    (code 1000) after that many seconds without a frame from the client (None: never; the
    documents name no idle close, so it is off by default). ``market_rate``: pushes per second
    of synthetic market data on every subscribed market channel (0: only what tests script).
    """

    label = "OKEx v1 simulator"
    default_path = PATH
    tls_name = "okex-v1-sim"
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
        market_rate: float = 0.0,
        max_message_size: int = 2**20,
        seed: int = 0,
    ) -> None:
        if compression not in ("off", "request", "always"):
            raise ValueError(f"compression must be off, request or always, not {compression!r}")
        super().__init__(host=host, port=port, tls=tls)
        self.compression: Compression = compression
        self.accounts: dict[str, OkexV1Account] = dict(accounts or {})
        self.symbols: set[str] = set(DEFAULT_SYMBOLS if symbols is None else symbols)
        self.idle_timeout = idle_timeout
        self.market_rate = market_rate
        self.max_message_size = max_message_size
        self.answer_pings = True
        """Set to False to play a half-open connection: pings go unanswered."""
        self.stats = OkexV1Stats()
        self.orders: dict[int, OkexV1Order] = {}

        self._books: dict[str, _Book] = {}
        self._tickers: dict[str, dict[str, Any]] = {}
        self._next_order_id = 6191  # the documentation's order push shows orderId 6191
        self._connections: dict[str, OkexV1Connection] = {}
        self._random = random.Random(seed)
        self._next_tid = 1001

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        await self._listen(
            self._handle,
            process_request=self._check_path,
            max_size=self.max_message_size,
            ping_interval=None,  # clients keep the line alive with {"event":"ping"}
            close_timeout=2.0,
        )
        if self.market_rate > 0:
            self._spawn(self._market_loop())
        logger.info("OKEx v1 simulator listening on %s", self.url())

    # -- observation -----------------------------------------------------------------------------

    @property
    def connections(self) -> list[OkexV1Connection]:
        """Live connections, oldest first."""
        return list(self._connections.values())

    def subscribers(self, channel: str) -> list[OkexV1Connection]:
        """Live connections subscribed to ``channel`` (e.g. ``ok_sub_spot_bch_btc_depth``)."""
        return [c for c in self._connections.values() if channel in c.subscriptions]

    def book(self, symbol: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """The order book of ``symbol``: (bids best first, asks best first), [price, amount]."""
        book = self._books.get(symbol, _Book())
        return _sorted_side(book.bids, descending=True), _sorted_side(book.asks, descending=False)

    async def wait_for_subscribers(self, channel: str, n: int = 1, timeout: float = 5.0) -> None:
        """Wait until at least ``n`` live connections are subscribed to ``channel``."""
        await self._wait_for_count(
            lambda: len(self.subscribers(channel)), n, timeout, f"subscriber(s) to {channel!r}"
        )

    async def wait_for_connections(self, n: int = 1, timeout: float = 5.0) -> None:
        await self._wait_for_count(lambda: len(self._connections), n, timeout, "connection(s)")

    # -- scripting: market data ------------------------------------------------------------------

    def set_book(
        self, symbol: str, bids: Iterable[tuple[str, str]], asks: Iterable[tuple[str, str]]
    ) -> None:
        """Replace the book of ``symbol`` without pushing anything (new subscribers get it)."""
        self._books[symbol] = _Book(bids=dict(bids), asks=dict(asks))

    async def update_book(
        self,
        symbol: str,
        *,
        bids: Iterable[tuple[str, str]] = (),
        asks: Iterable[tuple[str, str]] = (),
        timestamp: int | None = None,
    ) -> None:
        """Apply level changes (a new price adds, a known price gets the new amount, amount
        ``"0"`` deletes) and push them: the changed levels to ``_depth`` subscribers, the new
        top of the book to ``_depth_5/10/20`` subscribers."""
        book = self._books.setdefault(symbol, _Book())
        bid_changes, ask_changes = list(bids), list(asks)
        for side, changes in ((book.bids, bid_changes), (book.asks, ask_changes)):
            for price, amount in changes:
                if _decimal(amount) == 0:
                    side.pop(_find_price(side, price), None)
                else:
                    side.pop(_find_price(side, price), None)
                    side[price] = amount
        ts = _now_ms() if timestamp is None else timestamp
        update = {
            "asks": [list(level) for level in ask_changes],
            "bids": [list(level) for level in bid_changes],
            "timestamp": _Raw(str(ts)),
        }
        await self._push(f"ok_sub_spot_{symbol}_depth", update)
        for size in DEPTH_SIZES:
            channel = f"ok_sub_spot_{symbol}_depth_{size}"
            if self.subscribers(channel):
                await self._push(channel, self._book_data(symbol, size, ts))

    async def push_ticker(self, symbol: str, ticker: Mapping[str, Any] | None = None) -> None:
        """Push a ticker (given fields, or a synthetic one) to ``_ticker`` subscribers; new
        subscribers receive the latest one."""
        data = dict(ticker) if ticker is not None else self._synthetic_ticker(symbol)
        self._tickers[symbol] = data
        await self._push(f"ok_sub_spot_{symbol}_ticker", data)

    async def push_deals(self, symbol: str, rows: Sequence[Sequence[str]] | None = None) -> None:
        """Push deals ``[tid, price, amount, "HH:MM:SS", "bid"|"ask"]`` (one synthetic deal
        at the current Asia/Shanghai time when ``rows`` is None)."""
        data = [list(r) for r in rows] if rows is not None else [self._synthetic_deal(symbol)]
        await self._push(f"ok_sub_spot_{symbol}_deals", data)

    async def push_kline(
        self, symbol: str, interval: str, rows: Sequence[Sequence[str]] | None = None
    ) -> None:
        """Push candles ``[ms, open, high, low, close, volume]`` (one synthetic candle for the
        current minute when ``rows`` is None)."""
        if interval not in KLINE_INTERVALS:
            raise ValueError(f"unknown kline interval {interval!r}")
        data = [list(r) for r in rows] if rows is not None else [self._synthetic_candle(symbol)]
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
        except _RequestError as exc:
            raise SandboxError(f"order refused: {exc.code} {exc.message}") from None

    async def cancel_order(self, api_key: str, order_id: int) -> None:
        """Cancel an open order: status -1, funds unfrozen, ``_order`` and ``_balance`` pushed."""
        try:
            await self._cancel(api_key, order_id)
        except _RequestError as exc:
            raise SandboxError(f"cancel refused: {exc.code} {exc.message}") from None

    async def _place(self, api_key: str, symbol: str, type: str, price: str, amount: str) -> int:
        account = self.accounts.get(api_key)
        if account is None:
            raise _RequestError(10005)
        if symbol not in self.symbols:
            raise _RequestError(20116)
        if type not in ("buy", "sell", "buy_market", "sell_market"):
            raise _RequestError(10008)
        try:
            price_d = _decimal(price) if type != "sell_market" else Decimal(0)
            amount_d = _decimal(amount) if type != "buy_market" else Decimal(0)
        except ValueError:
            raise _RequestError(10008) from None
        if price_d < 0 or amount_d < 0 or (price_d == 0 and type != "sell_market"):
            raise _RequestError(10008)
        order = OkexV1Order(
            self._next_order_id, api_key, symbol, type, price_d, amount_d, _now_ms()
        )
        currency, needed = order.frozen
        if account.free.get(currency, Decimal(0)) < needed:
            raise _RequestError(10010)
        account.free[currency] = account.free.get(currency, Decimal(0)) - needed
        account.freezed[currency] = account.freezed.get(currency, Decimal(0)) + needed
        self._next_order_id += 1
        self.orders[order.order_id] = order
        self.stats.orders_placed += 1
        await self._push_order_change(order, currency)
        return order.order_id

    async def _cancel(self, api_key: str, order_id: int) -> OkexV1Order:
        order = self.orders.get(order_id)
        if order is None or order.api_key != api_key or order.status not in (0, 1):
            raise _RequestError(10009)
        account = self.accounts[api_key]
        currency, held = order.frozen
        account.freezed[currency] = account.freezed.get(currency, Decimal(0)) - held
        account.free[currency] = account.free.get(currency, Decimal(0)) + held
        order.status = -1
        self.stats.orders_cancelled += 1
        await self._push_order_change(order, currency)
        return order

    async def _push_order_change(self, order: OkexV1Order, currency: str) -> None:
        account = self.accounts[order.api_key]
        envelope = {"base": order.base, "quote": order.quote, "product": "spot"}
        order_data = {
            "symbol": order.symbol,
            "tradeAmount": _amount(order.amount),
            "createdDate": str(order.create_date),
            "orderId": _num(order.order_id),
            "completedTradeAmount": _amount(order.deal_amount),
            "averagePrice": "0",
            "tradePrice": _amount(Decimal(0)),
            "tradeType": order.type,
            "status": _num(order.status),
            "tradeUnitPrice": _amount(order.price),
        }
        balance_data = {
            "info": {
                "free": {currency: _num(account.free.get(currency, Decimal(0)))},
                "freezed": {currency: _num(account.freezed.get(currency, Decimal(0)))},
            }
        }
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

    # -- scripting: connections ------------------------------------------------------------------

    async def send_raw(
        self, data: str | bytes, *, compress: bool = False, conn_id: str | None = None
    ) -> None:
        """Send ``data`` unchanged to every live connection (or the one with ``conn_id``):
        ``str`` as a text frame, ``bytes`` as a binary frame; ``compress``: raw deflate it and
        send a binary frame."""
        frame: str | bytes = deflate(data) if compress else data
        for conn in self._targets(conn_id):
            await self._send(conn, frame)

    async def close_connections(self, code: int = 1000, reason: str = "") -> None:
        """Close every connection cleanly with any close code."""
        await asyncio.gather(
            *(c.websocket.close(code, reason) for c in self.connections if c.websocket)
        )

    async def drop_all(self) -> None:
        """Abort every connection's TCP transport: no close frame, like a network failure."""
        dropped = {conn.conn_id for conn in self.connections}
        for conn in self.connections:
            if conn.websocket is not None:
                conn.websocket.transport.abort()
        await self._wait_until(
            lambda: dropped.isdisjoint(self._connections),
            2.0,
            lambda: "dropped connections to go away",
        )

    def _targets(self, conn_id: str | None) -> list[OkexV1Connection]:
        return [c for c in self.connections if conn_id is None or c.conn_id == conn_id]

    # -- connection handling ---------------------------------------------------------------------

    def _check_path(self, connection: ServerConnection, request: Request) -> Response | None:
        if urlsplit(request.path).path != PATH:
            logger.info("OKEx v1 simulator: rejecting unknown path %s", request.path)
            return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        return None

    async def _handle(self, websocket: ServerConnection) -> None:
        loop = asyncio.get_running_loop()
        conn_id = secrets.token_hex(4)
        conn = OkexV1Connection(conn_id, websocket=websocket, last_activity=loop.time())
        self._connections[conn_id] = conn
        self.stats.connects_total += 1
        self._notify_changed()
        logger.info("OKEx v1 simulator: connection %s opened", conn_id)
        watchdog = loop.create_task(self._idle_watchdog(conn)) if self.idle_timeout else None
        try:
            async for message in websocket:
                conn.last_activity = loop.time()
                self.stats.frames_received += 1
                await self._on_message(conn, message)
        except ConnectionClosed:
            pass
        finally:
            if watchdog is not None:
                watchdog.cancel()
            del self._connections[conn_id]
            self.stats.disconnects_total += 1
            self._notify_changed()
            logger.info(
                "OKEx v1 simulator: connection %s closed (code %s)", conn_id, websocket.close_code
            )

    async def _idle_watchdog(self, conn: OkexV1Connection) -> None:
        assert self.idle_timeout is not None
        loop = asyncio.get_running_loop()
        while True:
            remaining = conn.last_activity + self.idle_timeout - loop.time()
            if remaining <= 0:
                self.stats.idle_closes += 1
                if conn.websocket is not None:
                    await conn.websocket.close(1000, "idle")
                return
            await asyncio.sleep(remaining)

    # -- sending ---------------------------------------------------------------------------------

    def _compressed(self, asked: bool) -> bool:
        return self.compression == "always" or (self.compression == "request" and asked)

    async def _send(self, conn: OkexV1Connection, frame: str | bytes) -> bool:
        if conn.websocket is None:
            return False
        try:
            await conn.websocket.send(frame)
        except ConnectionClosed:
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
                element["binary"] = _num(int(compressed))
        text = _dumps(elements)
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
        self, conn: OkexV1Connection, channel: str | None, code: int, asked: bool
    ) -> None:
        await self._error_message(conn, channel, code, ERROR_MESSAGES[code], asked)

    async def _error_message(
        self, conn: OkexV1Connection, channel: str | None, code: int, message: str, asked: bool
    ) -> None:
        self.stats.errors_sent[code] = self.stats.errors_sent.get(code, 0) + 1
        data = {"result": False, "error_msg": message, "error_code": _num(code)}
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
            self.stats.pushes_sent += 1

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
                pong = '{"event":"pong"}'
                await self._send(conn, deflate(pong) if self._compressed(False) else pong)
            return
        asked = _asks_binary(request)
        channel = request.get("channel")
        if event == "login":
            await self._login(conn, request.get("parameters"), asked)
        elif event in ("addChannel", "removeChannel"):
            if event == "addChannel":
                self.stats.add_channel += 1
            else:
                self.stats.remove_channel += 1
            if not isinstance(channel, str) or not channel:
                await self._error(conn, None, 10000, asked)
            elif channel in TRADE_CHANNELS:
                if event == "removeChannel":  # requests, not subscriptions
                    await self._error(conn, channel, 20116, asked)
                    return
                parameters = request.get("parameters")
                await self._trade(conn, channel, parameters, asked)
            else:
                await self._channel(conn, event, channel, asked)
        else:
            await self._error(conn, channel if isinstance(channel, str) else None, 20103, asked)

    async def _login(self, conn: OkexV1Connection, parameters: Any, asked: bool) -> None:
        try:
            api_key = self._check_signed(parameters, ())[0]
        except _RequestError as exc:
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
            raise _RequestError(10000)
        text: dict[str, str] = {}
        for name, value in parameters.items():
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise _RequestError(10008)
            text[str(name)] = str(value)
        for name in ("api_key", "sign", *required):
            if not text.get(name):
                raise _RequestError(10000)
        account = self.accounts.get(text["api_key"])
        if account is None:
            raise _RequestError(10005)
        if not hmac.compare_digest(text["sign"], md5_sign(text, account.secret)):
            raise _RequestError(10005)
        return text["api_key"], text

    async def _channel(self, conn: OkexV1Connection, event: str, channel: str, asked: bool) -> None:
        match = _CHANNEL.fullmatch(channel)
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
        ts = _now_ms()
        if kind == "depth":
            await self._push_to(conn, channel, self._book_data(symbol, None, ts))
        elif kind.startswith("depth_"):
            await self._push_to(conn, channel, self._book_data(symbol, int(kind[6:]), ts))
        elif kind == "ticker" and symbol in self._tickers:
            await self._push_to(conn, channel, self._tickers[symbol])
        # deals, kline, order, balance: nothing until something happens.

    def _book_data(self, symbol: str, size: int | None, ts: int) -> dict[str, Any]:
        bids, asks = self.book(symbol)
        if size is not None:
            bids, asks = bids[:size], asks[:size]
        return {
            "asks": [list(level) for level in asks],
            "bids": [list(level) for level in bids],
            "timestamp": _Raw(str(ts)),
        }

    # -- trade API -------------------------------------------------------------------------------

    async def _trade(
        self, conn: OkexV1Connection, channel: str, parameters: Any, asked: bool
    ) -> None:
        required = {
            USERINFO: (),
            ORDERINFO: ("symbol", "order_id"),
            ORDER: ("symbol", "type"),
            CANCEL_ORDER: ("symbol", "order_id"),
        }[channel]
        try:
            api_key, params = self._check_signed(parameters, required)
            data = await self._trade_answer(channel, api_key, params)
        except _RequestError as exc:
            await self._error_message(conn, channel, exc.code, exc.message, asked)
            return
        await self._answer(conn, channel, data, asked)

    async def _trade_answer(
        self, channel: str, api_key: str, params: dict[str, str]
    ) -> dict[str, Any]:
        account = self.accounts[api_key]
        if channel == USERINFO:
            currencies = sorted(set(account.free) | set(account.freezed))
            funds = {
                "free": {c: _amount(account.free.get(c, Decimal(0))) for c in currencies},
                "freezed": {c: _amount(account.freezed.get(c, Decimal(0))) for c in currencies},
            }
            return {"result": True, "info": {"funds": funds}}
        if channel == ORDERINFO:
            return {"result": True, "orders": self._order_infos(api_key, params)}
        if channel == ORDER:
            order_id = await self._place(
                api_key,
                params["symbol"],
                params["type"],
                params.get("price", "0"),
                params.get("amount", "0"),
            )
            return {"result": True, "order_id": _num(order_id)}
        order_id_text = params["order_id"]
        if not order_id_text.isdigit():
            raise _RequestError(10009)
        order = self.orders.get(int(order_id_text))
        if order is None or order.symbol != params["symbol"]:
            raise _RequestError(10009)
        await self._cancel(api_key, order.order_id)
        return {"result": True, "order_id": order_id_text}

    def _order_infos(self, api_key: str, params: dict[str, str]) -> list[dict[str, Any]]:
        symbol, order_id = params["symbol"], params["order_id"]
        if order_id == "-1":  # every open order of the pair, as in the REST v1 API
            orders = [
                o
                for o in self.orders.values()
                if o.api_key == api_key and o.symbol == symbol and o.status in (0, 1)
            ]
        else:
            found = self.orders.get(int(order_id)) if order_id.isdigit() else None
            if found is None or found.api_key != api_key or found.symbol != symbol:
                raise _RequestError(10009)
            orders = [found]
        return [
            {
                "symbol": o.symbol,
                "amount": _amount(o.amount),
                "price": _amount(o.price),
                "avg_price": _num(0),
                "create_date": _num(o.create_date),
                "type": o.type,
                "deal_amount": _num(o.deal_amount),
                "order_id": _num(o.order_id),
                "status": _num(o.status),
            }
            for o in orders
        ]

    # -- synthetic market data -------------------------------------------------------------------

    def _mid(self, symbol: str) -> Decimal:
        bids, asks = self.book(symbol)
        if bids and asks:
            return (Decimal(bids[0][0]) + Decimal(asks[0][0])) / 2
        quote = symbol.split("_", 1)[1]
        return Decimal("60000") if quote == "usdt" else Decimal("0.05")

    def _price(self, value: Decimal) -> str:
        return f"{value.quantize(_EIGHT):f}"

    def _synthetic_ticker(self, symbol: str) -> dict[str, Any]:
        mid = self._mid(symbol)
        spread = mid * Decimal("0.0005")
        return {
            "high": self._price(mid * Decimal("1.02")),
            "vol": f"{self._random.uniform(100, 10000):.8f}",
            "last": self._price(mid),
            "low": self._price(mid * Decimal("0.98")),
            "buy": self._price(mid - spread),
            "change": self._price(mid * Decimal("0.001")),
            "sell": self._price(mid + spread),
            "dayLow": self._price(mid * Decimal("0.97")),
            "dayHigh": self._price(mid * Decimal("1.03")),
            "timestamp": _Raw(str(_now_ms())),
        }

    def _synthetic_deal(self, symbol: str) -> list[str]:
        tid, self._next_tid = self._next_tid, self._next_tid + 1
        # The exchange's wall clock: Asia/Shanghai, UTC+8 all year.
        shanghai = time.gmtime(time.time() + 8 * 3600)
        side = self._random.choice(("bid", "ask"))
        return [
            str(tid),
            self._price(self._mid(symbol)),
            f"{self._random.uniform(0.001, 2):.3f}",
            time.strftime("%H:%M:%S", shanghai),
            side,
        ]

    def _synthetic_candle(self, symbol: str) -> list[str]:
        mid = self._mid(symbol)
        minute = _now_ms() // 60_000 * 60_000
        return [
            str(minute),
            self._price(mid),
            self._price(mid * Decimal("1.001")),
            self._price(mid * Decimal("0.999")),
            self._price(mid),
            f"{self._random.uniform(1, 100):.3f}",
        ]

    def _random_book_change(self, symbol: str) -> tuple[list[tuple[str, str]], str]:
        """One random level change (add, edit or delete) on one side; returns it and the side."""
        book = self._books.setdefault(symbol, _Book())
        side_name = self._random.choice(("bids", "asks"))
        side = book.bids if side_name == "bids" else book.asks
        action = self._random.random()
        if side and action < 0.3:
            price = self._random.choice(list(side))
            return [(price, "0")], side_name
        if side and action < 0.6:
            price = self._random.choice(list(side))
        else:
            mid = self._mid(symbol)
            offset = mid * Decimal(self._random.randint(1, 40)) / 10_000
            price = self._price(mid - offset if side_name == "bids" else mid + offset)
        return [(price, f"{self._random.uniform(0.01, 10):.4f}")], side_name

    async def _market_loop(self) -> None:
        interval = 1.0 / self.market_rate
        while True:
            await asyncio.sleep(interval)
            channels = {c for conn in self.connections for c in conn.subscriptions}
            for channel in sorted(channels):
                match = _CHANNEL.fullmatch(channel)
                if match is None:
                    continue
                symbol, kind = match["symbol"], match["kind"]
                if kind == "ticker":
                    await self.push_ticker(symbol)
                elif kind == "deals":
                    await self.push_deals(symbol)
                elif kind.startswith("kline_"):
                    await self.push_kline(symbol, kind[len("kline_") :])
                elif kind == "depth" or (
                    kind.startswith("depth_")
                    and not self.subscribers(f"ok_sub_spot_{symbol}_depth")
                ):
                    change, side = self._random_book_change(symbol)
                    if side == "bids":
                        await self.update_book(symbol, bids=change)
                    else:
                        await self.update_book(symbol, asks=change)


def _asks_binary(request: Mapping[str, Any]) -> bool:
    """Whether a request asks for compressed frames: ``binary`` 1 (number, text or true) beside
    the channel or inside ``parameters`` (the documents do not say where it goes)."""
    parameters = request.get("parameters")
    candidates = [request.get("binary")]
    if isinstance(parameters, dict):
        candidates.append(parameters.get("binary"))
    return any(value in (1, "1", True) for value in candidates)


def _find_price(side: Mapping[str, str], price: str) -> str:
    """The key under which ``price`` is stored (``"115"`` and ``"115.0"`` are one level)."""
    if price in side:
        return price
    wanted = _decimal(price)
    for known in side:
        if _decimal(known) == wanted:
            return known
    return price


def _sorted_side(levels: Mapping[str, str], *, descending: bool) -> list[tuple[str, str]]:
    return sorted(levels.items(), key=lambda item: _decimal(item[0]), reverse=descending)


# -- standalone entry point -----------------------------------------------------------------------


def _parse_account(text: str) -> tuple[str, OkexV1Account]:
    parts = text.split(":")
    if len(parts) != 2 or not all(parts):
        raise argparse.ArgumentTypeError("expected API_KEY:SECRET_KEY")
    funds = {"btc": Decimal("10"), "usdt": Decimal("100000"), "bch": Decimal("100")}
    return parts[0], OkexV1Account(secret=parts[1], free=funds)


def _demo_book(sim: OkexV1Simulator, symbols: Iterable[str]) -> None:
    for symbol in symbols:
        mid = sim._mid(symbol)
        tick = mid / 10_000
        sim.set_book(
            symbol,
            bids=[(sim._price(mid - tick * i), "1.0000") for i in range(1, 11)],
            asks=[(sim._price(mid + tick * i), "1.0000") for i in range(1, 11)],
        )


async def _serve_forever(options: argparse.Namespace) -> None:
    accounts = dict(options.account or [_parse_account("demo-key:demo-secret")])
    async with OkexV1Simulator(
        host=options.host,
        port=options.port,
        tls=options.tls,
        compression=options.compression,
        accounts=accounts,
        market_rate=options.market_rate,
    ) as sim:
        _demo_book(sim, DEFAULT_SYMBOLS)
        print(f"OKEx v1 simulator: {sim.url()}  (compression: {sim.compression})")
        if sim.ca_file:
            print(f"  trust this certificate: {sim.ca_file}")
        for key, account in accounts.items():
            print(f"  account: api_key={key} secret_key={account.secret}")
        print("Ctrl-C to stop.", flush=True)
        await asyncio.Event().wait()  # run until cancelled by Ctrl-C


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bridge.sandbox.okex_v1",
        description="Legacy OKEx v1 spot WebSocket simulator (loopback).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=10440)
    parser.add_argument("--tls", action="store_true", help="serve wss with a self-signed cert")
    parser.add_argument(
        "--compression",
        choices=("off", "request", "always"),
        default="request",
        help="raw deflate frames: never, when a request asks binary:1, or always",
    )
    parser.add_argument(
        "--account",
        action="append",
        type=_parse_account,
        metavar="API_KEY:SECRET_KEY",
        help="an API account (repeatable; default demo-key:demo-secret)",
    )
    parser.add_argument(
        "--market-rate",
        type=float,
        default=2.0,
        metavar="PER_SECOND",
        help="synthetic pushes per second on every subscribed market channel (0: none)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every frame")
    options = parser.parse_args(argv)
    return run_standalone(_serve_forever(options), verbose=options.verbose)


if __name__ == "__main__":
    raise SystemExit(main())
