"""The session's hooks for group mode: how a taken-over connection's stream begins, and how a
handed-over one ends. Against the scripted loopback peer of test_session.py; no Kafka."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from websockets.asyncio.server import serve

from bridge.metrics import Metrics
from bridge.runtime.link import Continuity
from bridge.runtime.session import Session, SessionOptions
from tests.unit.runtime.test_session import Peer, RecordingPipeline, ToyAdapter, eventually


@contextlib.asynccontextmanager
async def session_with(**hooks: Any) -> AsyncIterator[tuple[Session, RecordingPipeline]]:
    peer = Peer()
    async with serve(peer.handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        pipeline = RecordingPipeline()
        session = Session(
            name="toy",
            exchange="toy",
            instance="test",
            adapter_factory=ToyAdapter,
            destinations=ToyAdapter.destinations([]),
            options=SessionOptions(
                url=f"ws://127.0.0.1:{port}", keepalive_seconds=0.2, idle_timeout_seconds=5.0
            ),
            pipeline=pipeline,  # type: ignore[arg-type]
            metrics=Metrics(),
            **hooks,
        )
        task = asyncio.create_task(session.run())
        try:
            yield session, pipeline
        finally:
            await session.stop()  # a no-op when the test stopped it already
            await asyncio.wait_for(task, 5)


async def test_a_connection_taken_over_from_a_live_holder_begins_with_a_handover() -> None:
    async with session_with(continuity=Continuity(("handover", "taken_over"))) as (s, pipeline):
        await asyncio.wait_for(s.first_subscribed.wait(), 5)
        # the marker is in the pipeline before the previous holder is told to close
        assert pipeline.markers_written == [("toy#1", "handover", "taken_over")]


async def test_a_connection_whose_holder_vanished_marks_the_gap_first() -> None:
    hooks: dict[str, Any] = {
        "continuity": Continuity(("resubscribed", "holder_lost")),
        "opening_gap": "holder_lost",
    }
    async with session_with(**hooks) as (session, pipeline):
        await eventually(lambda: len(pipeline.markers_written) == 2)
        assert pipeline.markers_written == [
            ("toy#1", "disconnected", "holder_lost"),
            ("toy#1", "resubscribed", "holder_lost"),
        ]
        assert session.first_subscribed.is_set()


async def test_a_handed_over_connection_ends_with_a_handover_marker_not_a_gap() -> None:
    async with session_with() as (session, pipeline):
        await asyncio.wait_for(session.first_subscribed.wait(), 5)
        await session.stop(handed_over=True)
    assert pipeline.markers_written == [
        ("toy#1", "resubscribed", "started"),
        ("toy#1", "handover", "released"),
    ]


async def test_a_stop_that_is_no_handover_still_marks_the_gap() -> None:
    async with session_with() as (session, pipeline):
        await asyncio.wait_for(session.first_subscribed.wait(), 5)
    assert pipeline.markers_written[-1] == ("toy#1", "disconnected", "shutdown")


def test_the_first_subscription_marker_is_the_callers() -> None:
    continuity = Continuity(("handover", "taken_over"))
    assert continuity.subscribed(replacing=False) == ("handover", "taken_over")
    assert continuity.subscribed(replacing=False) is None
