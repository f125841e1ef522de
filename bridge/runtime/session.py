"""Sessions: one supervisor per configured connection, owning sockets, timers and backoff.

A session knows I/O and no exchange: it asks its adapter what to send and what each frame
means. Life of a session::

    connect ──▶ adapter.connection_made ──▶ send what the adapter queued (login, subscribe)
       ▲              │
       │         read frames: stamp (receive time, sequence) ─▶ adapter.receive ─▶ pipeline
       │              │        keepalive task: ping when quiet, close when silent too long
       │              ▼
       └── backoff ◀─ connection ends (close, error, silence, failed login)

On a reconnect-advised notice (OKX 64008) a replacement connection is opened and subscribed
while the old one still delivers; the old one is closed only once the new one is subscribed,
and pushes both connections received are published once (see ``RecentPushes``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import ssl
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from bridge.exchanges.base import Adapter
from bridge.exchanges.events import (
    Destination,
    Event,
    LoginResult,
    Notice,
    Subscribed,
    SubscribeFailed,
)
from bridge.frame import ConnectionInfo, Frame
from bridge.logs import wire_log
from bridge.metrics import Metrics
from bridge.retry import Backoff
from bridge.runtime.link import Continuity, Link, LinkState
from bridge.runtime.pipeline import Pipeline, RecentPushes

log = logging.getLogger(__name__)


def utf8_length(text: str) -> int:
    """Bytes of ``text`` in UTF-8 without encoding it (exchange frames are almost all ASCII)."""
    return len(text) if text.isascii() else len(text.encode())


# --- reconnection policy: pure, no clock --------------------------------------------------------


def should_retry(exc: BaseException) -> bool:
    """Whether a failed connection attempt is worth retrying. A URL that cannot be parsed never
    gets better; everything else (refused, reset, handshake rejected, TLS hiccups, timeouts) may."""
    return not isinstance(exc, InvalidURI)


def failure_reason(exc: BaseException) -> str:
    """A bounded metric label for a failed connection attempt."""
    match exc:
        case TimeoutError():
            return "connect_timeout"
        case ssl.SSLError():
            return "tls_error"
        case InvalidHandshake():
            return "handshake_rejected"
        case ConnectionRefusedError():
            return "connection_refused"
        case OSError():
            return "network_error"
    return "connect_error"


class ConnectLimiter:
    """At most ``count`` connection attempts to one exchange in any ``window`` seconds, across
    every session that holds it: exchanges limit connects per IP, not per connection
    (OKX 3 per second, Kraken about 150 per 10 minutes)."""

    def __init__(self, count: int, window: float) -> None:
        self.count = count
        self.window = window
        self._recent: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                while self._recent and now - self._recent[0] >= self.window:
                    self._recent.popleft()
                if len(self._recent) < self.count:
                    self._recent.append(now)
                    return
                await asyncio.sleep(self.window - (now - self._recent[0]))


# --- one WebSocket connection ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionOptions:
    url: str
    keepalive_seconds: float
    idle_timeout_seconds: float
    connect_timeout_seconds: float = 10.0
    reconnect_initial_seconds: float = 1.0
    reconnect_max_seconds: float = 60.0
    healthy_after_seconds: float = 30.0
    min_connect_interval_seconds: float = 0.0
    ssl_context: ssl.SSLContext | None = None
    connect_limiter: ConnectLimiter | None = None
    """Shared by every session to the same exchange: its connection rate limit is per IP."""
    max_frame_bytes: int = 4 * 1024 * 1024


OWN_CLOSE_REASONS = {1009: "frame_too_large", 1007: "invalid_utf8"}
"""Closes the bridge's WebSocket client sent itself: a frame over ``max_frame_bytes``, a text
frame that is not UTF-8 (RFC 6455 requires closing with 1007)."""


class _Connection:
    """The I/O side of one :class:`~bridge.runtime.link.Link`: its socket, task and adapter."""

    def __init__(self, info: ConnectionInfo, adapter: Adapter, link: Link) -> None:
        self.info = info
        self.adapter = adapter
        self.link = link
        self.ws: ClientConnection | None = None
        self.task: asyncio.Task[str] | None = None
        self.successor: _Connection | None = None
        self.subscribed = asyncio.Event()
        """Set when the link reaches SUBSCRIBED (what a handover waits for)."""
        self.reading = False
        """True while waiting for the next frame: a safe point to cancel (nothing half-done)."""

    @property
    def alive(self) -> bool:
        return self.task is not None and not self.task.done()

    def marker_frame(self) -> Frame:
        return Frame("", time.time_ns() // 1000, self.link.sequence)


class Session:
    def __init__(
        self,
        *,
        name: str,
        exchange: str,
        instance: str,
        adapter_factory: Callable[[], Adapter],
        destinations: Sequence[Destination],
        options: SessionOptions,
        pipeline: Pipeline,
        metrics: Metrics,
        continuity: Continuity | None = None,
        opening_gap: str | None = None,
    ) -> None:
        """``continuity``: how the first subscription is marked (default: a process start).
        ``opening_gap``: write a ``disconnected`` marker with this reason before connecting,
        for a gap that whoever held the connection before could not mark (group mode: a holder
        that vanished)."""
        self.name = name
        self.exchange = exchange
        self.instance = instance
        self.adapter_factory = adapter_factory
        self.options = options
        self.pipeline = pipeline
        self.metrics = metrics
        self.recent = RecentPushes()
        self.destinations = list(destinations)
        self.continuity = continuity or Continuity()
        self.opening_gap = opening_gap
        self._attempts = itertools.count(1)
        self._current: _Connection | None = None
        self._stopping = asyncio.Event()
        self._handed_over = False
        self.first_subscribed = asyncio.Event()
        """Set when a connection is first fully subscribed (group mode tells the connection's
        previous holder then)."""
        self.connects = 0
        self.frames = 0

    # -- public ----------------------------------------------------------------------------------

    @property
    def subscribed(self) -> bool:
        """The current connection is open and every subscription is acknowledged on it."""
        conn = self._current
        return conn is not None and conn.link.subscribed and conn.alive

    async def run(self) -> None:
        """Hold the connection until :meth:`stop`; reconnect whenever it ends."""
        opts = self.options
        backoff = Backoff(
            opts.reconnect_initial_seconds,
            opts.reconnect_max_seconds,
            floor=opts.min_connect_interval_seconds,
        )
        conn = self._spawn()
        if self.opening_gap is not None:
            await self.pipeline.markers(
                conn.info, conn.marker_frame(), self.destinations, "disconnected", self.opening_gap
            )
        while True:
            assert conn.task is not None
            await asyncio.wait({conn.task})
            reason = "shutdown" if conn.task.cancelled() else conn.task.result()
            if self._stopping.is_set():
                if conn.successor is not None and conn.successor.task is not None:
                    conn.successor.task.cancel()
                await self._stopped(conn)
                break
            self.metrics.reconnects.labels(self.exchange, self.name, reason).inc()
            successor = conn.successor
            if successor is not None and successor.alive:
                if not successor.subscribed.is_set():
                    await self._disconnected(conn, reason)
                conn = successor
                self._current = conn
                continue
            await self._disconnected(conn, reason)
            if conn.subscribed.is_set() and (
                conn.link.lived(time.monotonic()) >= opts.healthy_after_seconds
            ):
                backoff.reset()
            delay = backoff.next_delay()
            log.info("%s: connection ended (%s); reconnecting in %.2f s", self.name, reason, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            if self._stopping.is_set():
                break
            conn = self._spawn()

    async def stop(self, *, handed_over: bool = False) -> None:
        """Stop reading. A link waiting for a frame is cancelled at once; a link delivering a
        frame finishes that frame first (its records reach the publisher), then stops.
        ``handed_over``: another instance holds the connection now and is subscribed (group
        mode): where the stream ends is a ``handover`` marker (reason ``released``), the end of
        the overlap, not a gap. The first call decides."""
        if not self._stopping.is_set():
            self._handed_over = handed_over
        self._stopping.set()
        current = self._current
        for conn in (current, current.successor if current else None):
            if conn is None or conn.task is None:
                continue
            conn.link.end("shutdown")
            if conn.ws is None or conn.reading:
                conn.task.cancel()

    # -- supervision -----------------------------------------------------------------------------

    def _spawn(self) -> _Connection:
        attempt = next(self._attempts)
        adapter = self.adapter_factory()
        info = ConnectionInfo(
            self.exchange, adapter.topic_group, self.name, f"{self.name}#{attempt}", self.instance
        )
        conn = _Connection(info, adapter, Link(info.connection_id, self.destinations))
        conn.task = asyncio.get_running_loop().create_task(
            self._run_link(conn), name=info.connection_id
        )
        if self._current is None or not self._current.alive:
            self._current = conn
        return conn

    async def _stopped(self, conn: _Connection) -> None:
        if self._handed_over and not self.continuity.gap_open:
            self._set_subscription_gauges(len(self.destinations), 0, 0)
            await self.pipeline.markers(
                conn.info, conn.marker_frame(), self.destinations, "handover", "released"
            )
        else:
            await self._disconnected(conn, "shutdown")

    async def _disconnected(self, conn: _Connection, reason: str) -> None:
        self._set_subscription_gauges(len(self.destinations), 0, 0)
        if self.continuity.lost(conn.link):
            await self.pipeline.markers(
                conn.info, conn.marker_frame(), self.destinations, "disconnected", reason
            )

    async def _run_link(self, conn: _Connection) -> str:
        """Connect, then read until the connection ends. Returns the reason it ended."""
        try:
            return await self._connect_and_read(conn)
        finally:
            conn.link.move(LinkState.CLOSED)

    async def _connect_and_read(self, conn: _Connection) -> str:
        opts = self.options
        link = conn.link
        if opts.connect_limiter is not None:
            await opts.connect_limiter.wait()
        self.metrics.connection_attempts.labels(self.exchange, self.name).inc()
        try:
            ws = await connect(
                opts.url,
                ssl=opts.ssl_context,
                open_timeout=opts.connect_timeout_seconds,
                ping_interval=None,  # liveness is the adapter's application-level ping
                max_size=opts.max_frame_bytes,
                close_timeout=2,
                logger=wire_log,
            )
        except Exception as exc:  # noqa: BLE001 - every failure to connect becomes a reason
            if not should_retry(exc):
                raise
            log.warning("%s: connect to %s failed: %s", link.connection_id, opts.url, exc)
            return failure_reason(exc)
        conn.ws = ws
        link.opened(time.monotonic())
        self.connects += 1
        up = self.metrics.connection_up.labels(self.exchange, self.name)
        up.inc()
        self._set_subscription_gauges(len(self.destinations), 0, 0)
        log.info("%s: connected to %s", link.connection_id, opts.url)
        keepalive = asyncio.get_running_loop().create_task(self._keepalive(conn))
        try:
            conn.adapter.connection_made(time.time())
            await self._flush(conn)
            return await self._read(conn)
        except ConnectionClosed:
            return link.end_reason or "connection_lost"  # closed while sending
        except Exception:
            # Safety net: a bug must cost a reconnect, not the session.
            log.exception("%s: unexpected error; reconnecting", link.connection_id)
            return "internal_error"
        finally:
            keepalive.cancel()
            up.dec()
            await ws.close()

    async def _read(self, conn: _Connection) -> str:
        ws = conn.ws
        assert ws is not None
        link, adapter = conn.link, conn.adapter
        frames = self.metrics.frames_received.labels(self.exchange, self.name)
        received_bytes = self.metrics.bytes_received.labels(self.exchange, self.name)
        while not self._stopping.is_set():
            conn.reading = True
            link.listen(time.monotonic())
            try:
                data = await ws.recv()
            except ConnectionClosed as closed:
                if link.end_reason is not None:
                    return link.end_reason
                if closed.sent is not None and closed.sent.code in OWN_CLOSE_REASONS:
                    return OWN_CLOSE_REASONS[closed.sent.code]
                code = closed.rcvd.code if closed.rcvd is not None else None
                return adapter.close_reason(code)
            finally:
                conn.reading = False
            received_us = time.time_ns() // 1000  # before any parsing
            sequence = link.received(time.monotonic())
            self.frames += 1
            frames.inc()
            received_bytes.inc(len(data) if isinstance(data, bytes) else utf8_length(data))
            # recorded with credentials masked; classified as received
            frame = Frame(adapter.redact(data), received_us, sequence)
            events = adapter.receive(data, received_us)
            await self.pipeline.deliver(conn.info, frame, events, self.recent)
            await self._flush(conn)
            ended = await self._react(conn, events)
            if ended is not None:
                link.end(ended)
                await ws.close(1000)
                return ended
        return "shutdown"

    async def _react(self, conn: _Connection, events: list[Event]) -> str | None:
        """Session decisions driven by events. Returns a reason when the link must end."""
        for event in events:
            match event:
                case LoginResult(ok=False):
                    log.error(
                        "%s: login failed: %s %s",
                        conn.info.connection_id,
                        event.code,
                        event.message,
                    )
                    return "login_failed"
                case Subscribed() | SubscribeFailed():
                    conn.link.progress.record(event)
                    await self._update_subscriptions(conn)
                case Notice(reconnect_advised=True) if (
                    conn.successor is None and conn is self._current
                ):
                    log.info(
                        "%s: server announced a close (%s); opening a replacement",
                        conn.info.connection_id,
                        event.code,
                    )
                    conn.successor = self._spawn()
                    asyncio.get_running_loop().create_task(self._hand_over(conn, conn.successor))
        return None

    async def _hand_over(self, old: _Connection, new: _Connection) -> None:
        """Close ``old`` once ``new`` is subscribed (or give up when ``new`` ends first)."""
        assert new.task is not None
        waiter = asyncio.ensure_future(new.subscribed.wait())
        await asyncio.wait({waiter, new.task}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if new.link.subscribed and old.ws is not None:
            old.link.end("handover")
            await old.ws.close(1000, "replaced")

    async def _update_subscriptions(self, conn: _Connection) -> None:
        link = conn.link
        self._set_subscription_gauges(*link.progress.counts())
        if link.state is LinkState.OPEN and conn.adapter.all_subscribed:
            link.move(LinkState.SUBSCRIBED)
            conn.subscribed.set()
            log.info(
                "%s: all %d subscriptions acknowledged", link.connection_id, len(self.destinations)
            )
            marker = self.continuity.subscribed(replacing=conn is not self._current)
            if marker is not None:
                await self.pipeline.markers(
                    conn.info, conn.marker_frame(), self.destinations, *marker
                )
            self.first_subscribed.set()  # after the marker: it starts this holder's records

    def _set_subscription_gauges(self, pending: int, subscribed: int, failed: int) -> None:
        g = self.metrics.subscriptions
        g.labels(self.exchange, self.name, "pending").set(pending)
        g.labels(self.exchange, self.name, "subscribed").set(subscribed)
        g.labels(self.exchange, self.name, "failed").set(failed)

    async def _flush(self, conn: _Connection) -> None:
        assert conn.ws is not None
        for outbound in conn.adapter.data_to_send():
            await conn.ws.send(outbound)

    async def _keepalive(self, conn: _Connection) -> None:
        """Ping when the line has been quiet for keepalive_seconds; end the link when nothing at
        all arrived for idle_timeout_seconds (a silent, half-open connection)."""
        opts = self.options
        ws = conn.ws
        assert ws is not None
        link = conn.link
        tick = min(1.0, opts.keepalive_seconds / 4)
        last_ping = 0.0
        while True:
            await asyncio.sleep(tick)
            conn.adapter.tick(time.time())
            try:
                await self._flush(conn)
            except ConnectionClosed:
                return
            now = time.monotonic()
            silence = link.silence(now)
            if silence >= opts.idle_timeout_seconds:
                log.warning(
                    "%s: nothing received for %.1f s; reconnecting", link.connection_id, silence
                )
                link.end("silence")
                await ws.close(1000, "silence")
                return
            # Pings go on while reading is blocked: the exchange's idle rules still apply.
            quiet = now - link.last_received
            if quiet >= opts.keepalive_seconds and now - last_ping >= opts.keepalive_seconds:
                last_ping = now
                try:
                    await ws.send(conn.adapter.ping())
                except ConnectionClosed:
                    return
