"""The session's pure decisions (retry or not, failure labels) and the connect limiter."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import InvalidURI
from websockets.protocol import State

from bridge.exchanges.base import Adapter
from bridge.exchanges.events import (
    Destination,
    Event,
    Notice,
    Pong,
    Push,
    Subscribed,
    Unrecognized,
)
from bridge.frame import ConnectionInfo, Frame
from bridge.metrics import Metrics
from bridge.runtime.session import (
    ConnectLimiter,
    Session,
    SessionOptions,
    failure_reason,
    should_retry,
    utf8_length,
)


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (TimeoutError(), "connect_timeout"),
        (ConnectionRefusedError(), "connection_refused"),
        (ssl.SSLCertVerificationError(), "tls_error"),
        (OSError("unreachable"), "network_error"),
        (RuntimeError("?"), "connect_error"),
    ],
)
def test_failure_reasons_are_bounded_labels(exc: BaseException, reason: str) -> None:
    assert failure_reason(exc) == reason
    assert should_retry(exc)


def test_an_unparseable_url_is_not_retried() -> None:
    assert not should_retry(InvalidURI("nope", "bad"))


async def test_the_connect_limiter_spaces_attempts_across_sessions() -> None:
    """Sessions of one exchange share a limiter: of four attempts at once, three go at once
    and the fourth waits until the window has passed (the exchange's limit is per IP)."""
    limiter = ConnectLimiter(3, 0.2)
    starts: list[float] = []

    async def connect() -> None:
        await limiter.wait()
        starts.append(time.monotonic())

    await asyncio.gather(*(connect() for _ in range(4)))
    assert len(starts) == 4
    assert starts[2] - starts[0] < 0.05  # the first three at once
    assert starts[3] - starts[0] >= 0.195  # the fourth one window after the first


# --- the session against a loopback WebSocket peer -------------------------------------------
#
# A scripted peer (websockets' own server on 127.0.0.1) and a toy protocol stand in for an
# exchange, so what is tested here is the session's I/O alone: what it sends, how it stamps
# frames, when it reconnects and which markers it asks for. No Kafka: the pipeline only records.

TOY = Destination(topic="toy.ticks", schema="toy/ticks", key="k", channel="ticks", arg={})


class ToyAdapter(Adapter):
    """``sub`` on connect; the peer answers ``ack``; ``tick`` is a push; ``notice`` advises a
    reconnect; ``ping``/``pong`` keep the line alive."""

    exchange = "toy"
    topic_prefix = "toy"
    keepalive_seconds = 0.2

    def __init__(self) -> None:
        super().__init__([{"channel": "ticks"}])
        self._acked = False

    @classmethod
    def validate_subscription(cls, subscription: Mapping[str, Any]) -> None:
        return None

    def destinations(self) -> list[Destination]:
        return [TOY]

    def connection_made(self, now_s: float) -> None:
        self._outbound.append("sub")

    def receive(self, data: str | bytes, received_us: int | None = None) -> list[Event]:
        match data:
            case "ack":
                self._acked = True
                return [Subscribed(destination=TOY, op="subscribe")]
            case "tick":
                return [Push(destination=TOY, payload_type="toy.Tick", payload={})]
            case "notice":
                return [Notice(code="1", message="soon", reconnect_advised=True)]
            case "pong":
                return [Pong()]
        return [Unrecognized(reason="?")]

    def ping(self) -> str:
        return "ping"

    @property
    def all_subscribed(self) -> bool:
        return self._acked


@dataclass
class RecordingPipeline:
    frames: list[tuple[str, Frame, list[Event]]] = field(default_factory=list)
    markers_written: list[tuple[str, str, str]] = field(default_factory=list)

    async def deliver(
        self, conn: ConnectionInfo, frame: Frame, events: list[Event], recent: object
    ) -> None:
        self.frames.append((conn.connection_id, frame, events))

    async def markers(
        self,
        conn: ConnectionInfo,
        frame: Frame,
        destinations: list[Destination],
        kind: str,
        reason: str,
        detail: str | None = None,
    ) -> None:
        self.markers_written.append((conn.connection_id, kind, reason))


class Peer:
    """The exchange side: answers ``sub`` with ``ack`` and ``ping`` with ``pong``; what else
    each connection gets is scripted by the test (``on_subscribed``)."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.connections: list[ServerConnection] = []
        self.on_subscribed: Callable[[ServerConnection], Awaitable[None]] | None = None
        self.answer_pings = True

    async def handler(self, ws: ServerConnection) -> None:
        self.connections.append(ws)
        async for message in ws:
            assert isinstance(message, str)
            self.received.append(message)
            if message == "sub":
                await ws.send("ack")
                if self.on_subscribed is not None:
                    await self.on_subscribed(ws)
            elif message == "ping" and self.answer_pings:
                await ws.send("pong")


@contextlib.asynccontextmanager
async def toy_session(
    peer: Peer, **options: Any
) -> AsyncIterator[tuple[Session, RecordingPipeline]]:
    async with serve(peer.handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        pipeline = RecordingPipeline()
        settings = {
            "url": f"ws://127.0.0.1:{port}",
            "keepalive_seconds": 0.2,
            "idle_timeout_seconds": 5.0,
            "reconnect_initial_seconds": 0.01,
            "reconnect_max_seconds": 0.05,
            **options,
        }
        session = Session(
            name="toy",
            exchange="toy",
            instance="test",
            adapter_factory=ToyAdapter,
            options=SessionOptions(**settings),
            pipeline=pipeline,  # type: ignore[arg-type]
            metrics=Metrics(),
        )
        task = asyncio.create_task(session.run())
        try:
            yield session, pipeline
        finally:
            await session.stop()
            await asyncio.wait_for(task, 5)


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_frames_are_stamped_in_order_and_the_session_becomes_subscribed() -> None:
    peer = Peer()

    async def ticks(ws: ServerConnection) -> None:
        for _ in range(3):
            await ws.send("tick")

    peer.on_subscribed = ticks
    async with toy_session(peer) as (session, pipeline):
        await eventually(lambda: session.subscribed and len(pipeline.frames) == 4)
        assert peer.received[0] == "sub"
        assert [frame.sequence for _, frame, _ in pipeline.frames] == [1, 2, 3, 4]
        stamps = [frame.received_us for _, frame, _ in pipeline.frames]
        assert stamps == sorted(stamps)
        assert {cid for cid, _, _ in pipeline.frames} == {"toy#1"}
        # a fresh process says so: what came before it is unknown
        assert pipeline.markers_written == [("toy#1", "resubscribed", "started")]


async def test_a_lost_connection_is_marked_and_the_next_subscription_closes_the_gap() -> None:
    peer = Peer()
    async with toy_session(peer) as (session, pipeline):
        await eventually(lambda: session.subscribed)
        await peer.connections[0].close()
        await eventually(lambda: len(peer.connections) == 2 and session.subscribed)
        await eventually(lambda: len(pipeline.markers_written) == 3)
        assert pipeline.markers_written[1:] == [
            ("toy#1", "disconnected", "closed_normal"),
            ("toy#2", "resubscribed", "reconnected"),
        ]
        # the second connection's frames start again at 1
        assert [f.sequence for cid, f, _ in pipeline.frames if cid == "toy#2"][0] == 1


async def test_silence_ends_the_connection_and_pings_keep_a_quiet_one_alive() -> None:
    peer = Peer()
    async with toy_session(peer, idle_timeout_seconds=0.6) as (session, pipeline):
        await eventually(lambda: session.subscribed)
        await asyncio.sleep(1.0)  # quiet, but pongs answer the pings
        assert "ping" in peer.received and len(peer.connections) == 1
        peer.answer_pings = False  # now truly silent: the watchdog ends the link
        await eventually(lambda: len(peer.connections) == 2, timeout=5)
        assert ("toy#1", "disconnected", "silence") in pipeline.markers_written


async def test_a_reconnect_notice_opens_a_replacement_before_closing_the_old_one() -> None:
    peer = Peer()
    async with toy_session(peer) as (session, pipeline):
        await eventually(lambda: session.subscribed)
        await peer.connections[0].send("notice")
        await eventually(lambda: len(peer.connections) == 2)
        await eventually(lambda: len(pipeline.markers_written) == 2)
        # the old connection is closed by us, after the new one is subscribed: no gap
        assert pipeline.markers_written[1] == ("toy#2", "handover", "replacement_subscribed")
        await eventually(lambda: peer.connections[0].state is State.CLOSED)
        await eventually(lambda: session.subscribed)  # the replacement is now the current one


async def test_a_planned_stop_marks_where_the_stream_ends() -> None:
    peer = Peer()
    async with toy_session(peer) as (session, pipeline):
        await eventually(lambda: session.subscribed)
    assert pipeline.markers_written[-1] == ("toy#1", "disconnected", "shutdown")
    assert not session.subscribed


async def test_a_reader_blocked_by_a_full_buffer_is_not_taken_for_a_silent_peer() -> None:
    peer = Peer()
    peer.answer_pings = False

    async def one_tick(ws: ServerConnection) -> None:
        await ws.send("tick")

    peer.on_subscribed = one_tick
    async with toy_session(peer, idle_timeout_seconds=0.5) as (session, pipeline):
        release = asyncio.Event()
        deliver = pipeline.deliver

        async def blocked(conn: ConnectionInfo, frame: Frame, events: list[Event], r: object):
            await deliver(conn, frame, events, r)
            if any(isinstance(e, Push) for e in events):
                await release.wait()  # as a full buffer under the block policy would

        pipeline.deliver = blocked  # type: ignore[method-assign]
        await eventually(lambda: len(pipeline.frames) == 2)
        await asyncio.sleep(1.5)  # three idle timeouts while blocked: the link stays up
        assert len(peer.connections) == 1 and session.subscribed
        release.set()  # reading resumes; the peer is silent, so now the watchdog fires
        await eventually(lambda: len(peer.connections) == 2, timeout=3)


def test_received_bytes_are_utf8_bytes_not_characters() -> None:
    assert utf8_length('{"a":"b"}') == 9
    assert utf8_length('{"region":"中国"}') == len('{"region":"中国"}'.encode())
