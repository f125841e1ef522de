"""Helpers for end-to-end tests: run a bridge in-process, read topics back decoded."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from bridge.app import Bridge
from bridge.settings import Settings
from bridge.tail import TailedRecord, tail


def unique_prefix() -> str:
    """A topic prefix of its own for each test, so tests sharing one broker never see each
    other's records."""
    return f"t{uuid.uuid4().hex[:10]}."


def bridge_settings(
    bootstrap: str, prefix: str, connections: list[dict[str, Any]], **extra: Any
) -> Settings:
    return Settings.from_mapping(
        {
            "instance": "test",
            "kafka": {"bootstrap_servers": bootstrap, "topic_prefix": prefix, "linger_ms": 1},
            "metrics": {"host": "127.0.0.1", "port": 0},
            "connections": connections,
            **extra,
        }
    )


def fast_reconnect(**overrides: Any) -> dict[str, Any]:
    return {
        "reconnect": {"initial_seconds": 0.2, "max_seconds": 1.0, "healthy_after_seconds": 2.0},
        **overrides,
    }


@contextlib.asynccontextmanager
async def running_bridge(settings: Settings) -> AsyncIterator[Bridge]:
    bridge = Bridge(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    try:
        yield bridge
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def wait_until(
    predicate: Callable[[], bool], timeout: float = 15.0, what: str = "condition"
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


async def read_topic(
    bootstrap: str,
    topic: str,
    until: Callable[[list[TailedRecord]], bool],
    timeout: float = 20.0,
) -> list[TailedRecord]:
    """Read ``topic`` from the beginning until ``until(records)`` holds; fail after ``timeout``."""
    records: list[TailedRecord] = []

    async def consume() -> None:
        async for record in tail(bootstrap, [topic], from_beginning=True):
            records.append(record)
            if until(records):
                return

    try:
        await asyncio.wait_for(consume(), timeout)
    except TimeoutError:
        raise AssertionError(
            f"{topic}: condition not met after {timeout} s; got {len(records)} record(s): "
            + "; ".join(str(r.value.get("payload")) for r in records[-10:])
        ) from None
    return records


def payload_kind(record: TailedRecord) -> str:
    return record.value["payload"][0].rsplit(".", 1)[-1]


def payloads(records: list[TailedRecord], kind: str) -> list[dict[str, Any]]:
    return [r.value["payload"][1] for r in records if payload_kind(r) == kind]


def ms(value: Any) -> int:
    """A decoded timestamp-millis back to Unix milliseconds."""
    return round(value.timestamp() * 1000)
