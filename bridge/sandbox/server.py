"""What the exchange simulators (OKX, Kraken, OKEx v1) share: the life of a loopback server and
the one control API tests script them with.

Each simulator speaks its own protocol, but all three start, serve and stop the same way: a
``websockets`` server on ``host:port`` (port 0: any free port), optionally behind a throw-away
self-signed certificate (:mod:`bridge.sandbox.tls`), one handler per connection, background
tasks cancelled on stop, and tests waiting for a state change rather than sleeping. Tests
control every simulator with the same names for the same things:

========================================  ======================================================
``connections``, ``stats``                what is connected; counters of one shape
                                          (:class:`SimulatorStats`, extended per protocol)
``subscribers(channel, **arg)``           live connections subscribed to a channel
``wait_for_connections``,                 wait until so many are there (TimeoutError naming what
``wait_for_subscribers``                  was awaited)
``send_raw(frame, path=, conn_id=)``      a frame exactly as given (``bytes``: a binary frame)
``close_connections(code, reason, ...)``  a clean close with any code
``drop_connections(path=, conn_id=)``     an abrupt TCP loss: no close frame
``rates``, ``tick(*generators)``,         the periodic generators (market data, status
``pause_generators``,                     changes): pushes per second by name, one round now,
``resume_generators``                     stop and go again
``answer_pings``                          False plays a half-open line: pings go unanswered
``idle_timeout``                          seconds of silence before the server closes
========================================  ======================================================

A subclass names itself (``label``, ``tls_name``, its logger), its endpoints (``paths``), its
generators, and writes only its protocol: how a connection starts (:meth:`_connect`,
:meth:`_on_open`), what a client message means (:meth:`_on_message`) and what one round of a
generator sends (:meth:`_generate`). It calls :meth:`_notify_changed` whenever something a test
may wait for changes.

The end of the module is what every ``python -m bridge.sandbox.<exchange>`` shares: the
common options, logging, serving until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import shutil
import ssl
import tempfile
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Generic, NamedTuple, Self, TypeVar
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from bridge.errors import SandboxError
from bridge.sandbox.tls import client_ssl_context, make_self_signed, server_ssl_context

__all__ = [
    "BookLevels",
    "SimConnection",
    "SimulatorServer",
    "SimulatorStats",
    "run_standalone",
    "serve_until_interrupted",
    "standalone_parser",
]

# How often a generator whose rate is 0 looks again (tests may raise a rate at run time).
_IDLE_POLL_SECONDS = 0.2


@dataclass
class SimulatorStats:
    """Counters every simulator keeps, with the same meaning everywhere (a protocol adds its
    own in a subclass). ``errors_sent`` maps what names an error on the wire (an OKX or OKEx
    code as text, a Kraken error message) to how often it was sent; ``pushes_sent`` maps a
    channel name (the protocol's own: ``tickers``, ``book``, ``ok_sub_spot_bch_btc_depth``...)
    to the data messages sent on it. Frames sent with ``send_raw`` are not pushes."""

    connects_total: int = 0
    disconnects_total: int = 0
    frames_received: int = 0
    subscribe_requests: int = 0
    unsubscribe_requests: int = 0
    acks_sent: int = 0
    errors_sent: Counter[str] = field(default_factory=Counter)
    pushes_sent: Counter[str] = field(default_factory=Counter)
    pings: int = 0
    logins_ok: int = 0
    logins_failed: int = 0
    idle_closes: int = 0

    @property
    def pushes_total(self) -> int:
        """Data messages sent on every channel."""
        return sum(self.pushes_sent.values())


class BookLevels(NamedTuple):
    """One side per field, best level first, each level ``(price, size)`` as the wire writes
    them: what a client holding the book must have."""

    bids: list[tuple[str, str]]
    asks: list[tuple[str, str]]


@dataclass(eq=False, kw_only=True)
class SimConnection:
    """What every simulator knows about one live WebSocket connection; a protocol adds its
    own state (subscriptions, login) in a subclass."""

    conn_id: str
    """The simulator's id of the connection (what the exchange shows clients, as text)."""
    path: str
    endpoint: str
    """The name of the endpoint ``path`` serves (``public``, ``business``, ``auth``...)."""
    websocket: ServerConnection = field(repr=False)
    last_activity: float = field(default=0.0, repr=False)
    """Event-loop time of the last client frame (and, where the protocol says so, of the last
    frame sent): what the idle close measures."""

    def is_subscribed(self, channel: str, **arg: str) -> bool:
        """Subscribed to ``channel``, with an arg that has these fields when given."""
        raise NotImplementedError


ConnT = TypeVar("ConnT", bound=SimConnection)
StatsT = TypeVar("StatsT", bound=SimulatorStats)


class SimulatorServer(Generic[ConnT, StatsT]):
    """Base of the exchange simulators: TLS material, listening, one handler per connection,
    the idle close, the generators, ``async with``, waits, and the shared control API."""

    label: ClassVar[str]
    """How messages name the simulator, e.g. ``"OKX simulator"``."""
    paths: ClassVar[Mapping[str, str]]
    """The paths served (query strings ignored), each with its endpoint's name; any other
    path is refused with HTTP 404 during the handshake."""
    default_path: ClassVar[str]
    """The path ``url()`` gives when none is asked for."""
    tls_name: ClassVar[str]
    """Prefix of the temporary certificate directory and files, e.g. ``"okx-sim"``."""
    generators: ClassVar[tuple[str, ...]] = ()
    """Names of the periodic generators, the keys of ``rates``."""
    market_generators: ClassVar[tuple[str, ...]] = ()
    """The generators of market data: those the ``rate`` argument sets and ``tick()`` runs."""
    idle_close: ClassVar[tuple[int, str]] = (1000, "idle")
    """Close code and reason when ``idle_timeout`` expires."""
    sends_are_activity: ClassVar[bool] = False
    """Whether a frame sent, not only one received, restarts the idle timeout."""
    _log: ClassVar[logging.Logger] = logging.getLogger(__name__)

    def __init__(
        self,
        *,
        host: str,
        port: int,
        tls: bool,
        stats: StatsT,
        idle_timeout: float | None = None,
        max_message_size: int = 2**20,
        rate: float = 0.0,
        rates: Mapping[str, float] | None = None,
    ) -> None:
        unknown = set(rates or {}) - set(self.generators)
        if unknown:
            raise ValueError(
                f"{self.label} has no generator {', '.join(sorted(unknown))}; "
                f"it has {', '.join(self.generators)}"
            )
        self.host = host
        self.port = port
        self.tls = tls
        self.stats = stats
        self.idle_timeout = idle_timeout
        """Close a connection (``idle_close``) after so many seconds of silence; None: never."""
        self.max_message_size = max_message_size
        """Larger client frames close the connection with 1009, as websockets does."""
        self.rates: dict[str, float] = dict.fromkeys(self.generators, 0.0)
        """Generator name -> rounds per second (0: off); change it at run time at will."""
        self.rates.update(dict.fromkeys(self.market_generators, rate))
        self.rates.update(rates or {})
        self.answer_pings = True
        """False plays a half-open connection: the protocol's pings go unanswered."""

        self._connections: dict[str, ConnT] = {}
        self._changed = asyncio.Event()
        self._server: Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._paused = False
        self._generating = 0  # generator rounds under way
        self._tls_dir: Path | None = None
        self._server_ssl: ssl.SSLContext | None = None
        self._client_ssl: ssl.SSLContext | None = None
        self._ca_file: Path | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen (TLS if asked), start the generators; ``port`` becomes the one bound."""
        if self._server is not None:
            raise SandboxError(f"the {self.label} is already running")
        if self.tls:
            self._prepare_tls()
        try:
            self._server = await serve(
                self._serve,
                self.host,
                self.port,
                ssl=self._server_ssl,
                # Looked up now, not at class definition, so a test can wrap it.
                process_request=self._check_path,
                max_size=self.max_message_size,
                # Exchange clients keep the line alive with the protocol's own ping.
                ping_interval=None,
                close_timeout=2.0,
            )
        except OSError as exc:
            self._cleanup_tls()
            raise SandboxError(
                f"{self.label} cannot listen on {self.host}:{self.port}: {exc}"
            ) from exc
        self.port = self._server.sockets[0].getsockname()[1]
        for name in self.generators:
            self._spawn(self._run_generator(name))
        self._log.info("%s listening on %s", self.label, self.url())

    async def stop(self) -> None:
        server, self._server = self._server, None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if server is not None:
            server.close()  # closes live connections with 1001 going away
            await server.wait_closed()
            self._log.info("%s stopped", self.label)
        self._cleanup_tls()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def url(self, path: str | None = None) -> str:
        """``ws://127.0.0.1:PORT`` + ``path`` (default: the simulator's ``default_path``;
        ``wss://`` with TLS). Valid after start()."""
        if self._server is None:
            raise SandboxError(f"the {self.label} is not running; call start() first")
        scheme = "wss" if self.tls else "ws"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}{self.default_path if path is None else path}"

    @property
    def ssl_context_for_clients(self) -> ssl.SSLContext | None:
        """A client context trusting the simulator's self-signed certificate (TLS only)."""
        return self._client_ssl

    @property
    def ca_file(self) -> str | None:
        """PEM file of the self-signed certificate, for clients configured by file (TLS only)."""
        return None if self._ca_file is None else str(self._ca_file)

    def _prepare_tls(self) -> None:
        self._tls_dir = Path(tempfile.mkdtemp(prefix=f"{self.tls_name}-tls-"))
        hostnames = ["localhost", "127.0.0.1"]
        if self.host not in hostnames:
            hostnames.append(self.host)
        cert, key = make_self_signed(self._tls_dir, hostnames, name=self.tls_name)
        self._server_ssl = server_ssl_context(cert, key)
        self._client_ssl = client_ssl_context(cert)
        self._ca_file = cert

    def _cleanup_tls(self) -> None:
        if self._tls_dir is not None:
            shutil.rmtree(self._tls_dir, ignore_errors=True)
        self._tls_dir = self._ca_file = self._server_ssl = self._client_ssl = None

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``coro`` as a task that stop() cancels."""
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- observation -------------------------------------------------------------------------

    @property
    def connections(self) -> list[ConnT]:
        """Live connections, oldest first."""
        return list(self._connections.values())

    def subscribers(self, channel: str, **arg: str) -> list[ConnT]:
        """Live connections subscribed to ``channel`` (with an arg that has the given fields:
        ``instId=`` on OKX, ``pair=`` on Kraken)."""
        return [c for c in self._connections.values() if c.is_subscribed(channel, **arg)]

    async def wait_for_subscribers(
        self, channel: str, n: int = 1, *, timeout: float = 5.0, **arg: str
    ) -> None:
        """Wait until at least ``n`` live connections are subscribed to ``channel``."""
        await self._wait_for_count(
            lambda: len(self.subscribers(channel, **arg)),
            n,
            timeout,
            f"subscriber(s) to {channel!r}",
        )

    async def wait_for_connections(
        self, n: int = 1, *, path: str | None = None, timeout: float = 5.0
    ) -> None:
        """Wait until at least ``n`` connections (on ``path``, if given) are live."""
        await self._wait_for_count(
            lambda: len(self._targets(path, None)), n, timeout, "connection(s)"
        )

    # -- scripting: connections --------------------------------------------------------------

    async def send_raw(
        self, frame: str | bytes, *, path: str | None = None, conn_id: str | None = None
    ) -> None:
        """Send ``frame`` unchanged: ``str`` as a text frame, ``bytes`` as a binary frame.

        Goes to every live connection, or only those on ``path`` / with ``conn_id``."""
        await self._send_all(self._targets(path, conn_id), frame)

    async def close_connections(
        self,
        code: int = 1000,
        reason: str = "",
        *,
        path: str | None = None,
        conn_id: str | None = None,
    ) -> None:
        """Close connections cleanly with any close code and reason."""
        targets = self._targets(path, conn_id)
        await asyncio.gather(*(self._close(conn, code, reason) for conn in targets))

    async def drop_connections(
        self, *, path: str | None = None, conn_id: str | None = None
    ) -> None:
        """Abort connections' TCP transports: no close frame, like a network failure. Returns
        once the handlers have seen the loss, so ``connections`` no longer lists them."""
        dropped = self._targets(path, conn_id)
        for conn in dropped:
            conn.websocket.transport.abort()
        gone = {conn.conn_id for conn in dropped}
        await self._wait_until(
            lambda: gone.isdisjoint(self._connections),
            2.0,
            lambda: "dropped connections to go away",
        )

    def _targets(self, path: str | None, conn_id: str | None) -> list[ConnT]:
        return [
            c
            for c in self._connections.values()
            if (path is None or c.path == path) and (conn_id is None or c.conn_id == conn_id)
        ]

    # -- scripting: generators ---------------------------------------------------------------

    @property
    def paused(self) -> bool:
        """True between pause_generators() and resume_generators()."""
        return self._paused

    async def pause_generators(self, timeout: float = 5.0) -> None:
        """Stop the periodic generators (connections stay open, scripted sends still go).
        Returns once no generator round is under way, so a test can compare what was sent
        with what arrived."""
        self._paused = True
        await self._wait_until(
            lambda: self._generating == 0, timeout, lambda: "generator rounds to finish"
        )

    def resume_generators(self) -> None:
        self._paused = False

    async def tick(self, *generators: str) -> None:
        """One round of the given generators now (default: every market-data generator),
        whatever their rates and ``paused``."""
        for name in generators or self.market_generators:
            if name not in self.generators:
                raise ValueError(f"{self.label} has no generator {name!r}")
            await self._generate(name)
        await asyncio.sleep(0)

    async def _run_generator(self, name: str) -> None:
        while True:
            rate = self.rates.get(name, 0.0)
            await asyncio.sleep(1.0 / rate if rate > 0 else _IDLE_POLL_SECONDS)
            if rate <= 0 or self._paused or not self._may_generate(name):
                continue
            self._generating += 1
            try:
                await self._generate(name)
            finally:
                self._generating -= 1
                if self._paused:
                    self._notify_changed()

    def _may_generate(self, name: str) -> bool:
        """Whether the periodic generator ``name`` runs now (e.g. not during maintenance)."""
        return True

    async def _generate(self, name: str) -> None:
        """One round of generator ``name``: what it sends to its subscribers."""
        raise NotImplementedError

    # -- connection handling -----------------------------------------------------------------

    def _check_path(self, connection: ServerConnection, request: Request) -> Response | None:
        if (urlsplit(request.path).path or "/") not in self.paths:
            self._log.info("%s: rejecting unknown path %s", self.label, request.path)
            return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        return None

    def _new_conn_id(self) -> str:
        while True:
            conn_id = secrets.token_hex(4)
            if conn_id not in self._connections:
                return conn_id

    def _connect(self, websocket: ServerConnection, path: str) -> ConnT:
        """The state of a new connection on ``path`` (one of ``paths``)."""
        raise NotImplementedError

    async def _on_open(self, conn: ConnT) -> None:
        """What the server does once a connection is listed, before reading from it."""

    def _on_close(self, conn: ConnT) -> None:
        """What the server does when a connection ends, before it is unlisted."""

    async def _on_message(self, conn: ConnT, message: str | bytes) -> None:
        """Answer one client frame."""
        raise NotImplementedError

    async def _serve(self, websocket: ServerConnection) -> None:
        assert websocket.request is not None  # the handshake is complete
        loop = asyncio.get_running_loop()
        conn = self._connect(websocket, urlsplit(websocket.request.path).path or "/")
        conn.last_activity = loop.time()
        self._connections[conn.conn_id] = conn
        self.stats.connects_total += 1
        self._notify_changed()
        self._log.info("%s: connection %s opened on %s", self.label, conn.conn_id, conn.path)
        watchdog = None
        if self.idle_timeout is not None:
            watchdog = loop.create_task(self._idle_watchdog(conn, self.idle_timeout))
        try:
            await self._on_open(conn)
            async for message in websocket:
                conn.last_activity = loop.time()
                self.stats.frames_received += 1
                self._log.debug("%s: %s <- %r", self.label, conn.conn_id, message)
                await self._on_message(conn, message)
        except ConnectionClosed:
            pass  # abrupt loss: nothing to answer
        finally:
            if watchdog is not None:
                watchdog.cancel()  # not awaited: it may be the task closing this connection
            self._on_close(conn)
            del self._connections[conn.conn_id]
            self.stats.disconnects_total += 1
            self._notify_changed()
            self._log.info(
                "%s: connection %s closed (code %s)",
                self.label,
                conn.conn_id,
                websocket.close_code,
            )

    async def _idle_watchdog(self, conn: ConnT, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        while True:
            remaining = conn.last_activity + timeout - loop.time()
            if remaining <= 0:
                self.stats.idle_closes += 1
                self._log.info("%s: closing idle connection %s", self.label, conn.conn_id)
                await self._close(conn, *self.idle_close)
                return
            await asyncio.sleep(remaining)

    async def _close(self, conn: ConnT, code: int, reason: str) -> None:
        await conn.websocket.close(code, reason)

    # -- sending -----------------------------------------------------------------------------

    async def _send(self, conn: ConnT, frame: str | bytes) -> bool:
        """Send one frame; False when the connection is gone."""
        try:
            await conn.websocket.send(frame)
        except ConnectionClosed:
            return False
        if self.sends_are_activity:
            conn.last_activity = asyncio.get_running_loop().time()
        self._log.debug("%s: %s -> %r", self.label, conn.conn_id, frame)
        return True

    async def _send_all(
        self, targets: Iterable[ConnT], frame: str | bytes, *, push: str | None = None
    ) -> None:
        """Send ``frame`` to every target at once; ``push``: count it as a push on that
        channel for each connection it reached."""

        async def send_one(conn: ConnT) -> None:
            # counted as each send completes, so a cancelled broadcast still counts exactly
            if await self._send(conn, frame) and push is not None:
                self.stats.pushes_sent[push] += 1

        await asyncio.gather(*(send_one(conn) for conn in targets))

    # -- waiting -----------------------------------------------------------------------------

    async def _wait_until(
        self, predicate: Callable[[], bool], timeout: float, describe: Callable[[], str]
    ) -> None:
        """Return once ``predicate()`` holds, re-testing after each :meth:`_notify_changed`;
        after ``timeout`` seconds raise TimeoutError naming what was awaited (``describe()``)."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    # Take the event before testing, so a change in between is not missed.
                    changed = self._changed
                    if predicate():
                        return
                    await changed.wait()
        except TimeoutError:
            raise TimeoutError(f"{self.label}: timed out waiting for {describe()}") from None

    async def _wait_for_count(
        self, count: Callable[[], int], n: int, timeout: float, what: str
    ) -> None:
        """Wait until ``count() >= n``; a timeout names ``n``, ``what`` and the count reached."""
        await self._wait_until(lambda: count() >= n, timeout, lambda: f"{n} {what}; have {count()}")

    def _notify_changed(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


def standalone_parser(prog: str, description: str, *, port: int) -> argparse.ArgumentParser:
    """The command line of a simulator's ``python -m bridge.sandbox.<exchange>``, with the
    options every one has first: ``--host``, ``--port`` (default ``port``), ``--tls``."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--tls", action="store_true", help="serve wss with a self-signed cert")
    return parser


def run_standalone(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    serve: Callable[[argparse.Namespace], Coroutine[Any, Any, None]],
) -> int:
    """The end of every simulator's ``python -m bridge.sandbox.<exchange>``: a last option
    ``-v``, log to stderr, ``serve(options)`` until Ctrl-C, a start-up failure reported as an
    exit code instead of a traceback."""
    parser.add_argument("-v", "--verbose", action="store_true", help="log every frame")
    options = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if options.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        asyncio.run(serve(options))
    except KeyboardInterrupt:
        pass
    except SandboxError as exc:
        print(f"error: {exc}")
        return 1
    return 0


async def serve_until_interrupted(
    sim: SimulatorServer[Any, Any], addresses: Iterable[str], details: Iterable[str] = ()
) -> None:
    """Print where a started simulator listens (``addresses``), the certificate to trust,
    ``details`` (accounts, tokens...), and serve until cancelled by Ctrl-C."""
    for line in addresses:
        print(line)
    if sim.ca_file:
        print(f"  trust this certificate: {sim.ca_file}")
    for line in details:
        print(f"  {line}")
    print("Ctrl-C to stop.", flush=True)
    await asyncio.Event().wait()
