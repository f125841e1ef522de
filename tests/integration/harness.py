"""Helpers for end-to-end tests: run a bridge in-process, read topics back decoded."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer

from bridge.avro.decode import TailedRecord
from bridge.avro.formats import decode_single_object
from bridge.avro.store import SchemaStore
from bridge.runtime.app import Bridge
from bridge.settings import Settings


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
    """Read ``topic`` from the beginning until ``until(records)`` holds (checked once per fetched
    batch, so large topics stay cheap); fail after ``timeout``."""
    store = SchemaStore()
    records: list[TailedRecord] = []
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        metadata_max_age_ms=2000,
    )
    await consumer.start()
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        while not until(records):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(
                    f"{topic}: condition not met after {timeout} s; got {len(records)} record(s): "
                    + "; ".join(str(r.value.get("payload"))[:200] for r in records[-5:])
                )
            batches = await consumer.getmany(timeout_ms=300, max_records=10_000)
            for messages in batches.values():
                for m in messages:
                    schema, value = decode_single_object(store, m.value or b"")
                    key = m.key.decode() if m.key else None
                    records.append(
                        TailedRecord(
                            m.topic,
                            m.partition,
                            m.offset,
                            key,
                            f"{schema.id}.v{schema.version}",
                            value,
                        )
                    )
    finally:
        await consumer.stop()
    return records


def payload_kind(record: TailedRecord) -> str:
    return record.value["payload"][0].rsplit(".", 1)[-1]


def payloads(records: list[TailedRecord], kind: str) -> list[dict[str, Any]]:
    return [r.value["payload"][1] for r in records if payload_kind(r) == kind]


def ms(value: Any) -> int:
    """A decoded timestamp-millis back to Unix milliseconds."""
    return round(value.timestamp() * 1000)
