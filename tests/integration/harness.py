"""What the integration tests share apart from the exchange table (exchanges.py): run a bridge
in-process, read topics back decoded, read its metrics, and a few conversions."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from bridge.avro.decode import TailedRecord
from bridge.avro.formats import decode_single_object
from bridge.avro.store import SchemaStore
from bridge.runtime.app import Bridge
from bridge.settings import Settings

FAST_RECONNECT = {"initial_seconds": 0.2, "max_seconds": 1.0, "healthy_after_seconds": 2.0}
"""Reconnect settings of most tests: quick, so a lost connection costs little test time."""

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_STORE = SchemaStore()


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
    return {"reconnect": FAST_RECONNECT, **overrides}


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


def run_cli(
    *argv: str, env: Mapping[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``bridge ARGV`` in a child process, as a user runs it (its own event loop and signal
    handlers); ``env`` replaces the environment."""
    return subprocess.run(
        [sys.executable, "-m", "bridge", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


async def start_bridge(config: Any, **streams: Any) -> asyncio.subprocess.Process:
    """``bridge run --config CONFIG`` as a child process, its output unbuffered; ``streams``
    are ``stdout=``/``stderr=`` as for :func:`asyncio.create_subprocess_exec`."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bridge",
        "run",
        "--config",
        str(config),
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        **streams,
    )


async def wait_until(
    predicate: Callable[[], bool], timeout: float = 15.0, what: str = "condition"
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


# --- reading topics back ------------------------------------------------------------------------


Found = dict[str, list[TailedRecord]]
"""Records read per topic, the topic named without the test's prefix."""


async def read_topics(
    bootstrap: str,
    prefix: str,
    topics: list[str],
    until: Callable[[Found], bool],
    timeout: float = 20.0,
) -> Found:
    """Read ``topics`` (names without ``prefix``) from the beginning with one consumer until
    ``until(found)`` holds (checked once per fetched batch, so large topics stay cheap); fail
    after ``timeout`` naming what was read."""
    found: Found = {t: [] for t in topics}
    consumer = AIOKafkaConsumer(
        *(prefix + t for t in topics),
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        metadata_max_age_ms=1000,  # pick up topics the bridge creates after we start
    )
    await consumer.start()
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        while not until(found):
            if asyncio.get_running_loop().time() > deadline:
                last = [r for rs in found.values() for r in rs[-3:]]
                raise AssertionError(
                    f"condition not met after {timeout} s; records: "
                    f"{ {t: len(rs) for t, rs in found.items()} }; last: "
                    + "; ".join(str(r.value.get("payload"))[:200] for r in last)
                )
            batches = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for messages in batches.values():
                for m in messages:
                    schema, value = decode_single_object(_STORE, m.value or b"")
                    found[m.topic.removeprefix(prefix)].append(
                        TailedRecord(
                            m.topic,
                            m.partition,
                            m.offset,
                            m.key.decode() if m.key else None,
                            f"{schema.id}.v{schema.version}",
                            value,
                        )
                    )
    finally:
        await consumer.stop()
    return found


async def read_topic(
    bootstrap: str,
    topic: str,
    until: Callable[[list[TailedRecord]], bool],
    timeout: float = 20.0,
) -> list[TailedRecord]:
    """Read one topic (its full name) from the beginning until ``until(records)`` holds."""
    found = await read_topics(bootstrap, "", [topic], lambda f: until(f[topic]), timeout)
    return found[topic]


async def read_messages(bootstrap: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record the topic holds now, as stored (bytes), in offset order."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    messages: list[ConsumerRecord[bytes, bytes]] = []
    try:
        await consumer._client.force_metadata_update()
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            return messages
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                messages.extend(batch)
    finally:
        await consumer.stop()
    return sorted(messages, key=lambda m: (m.partition, m.offset))


# --- what a record holds ------------------------------------------------------------------------


def payload_kind(record: TailedRecord) -> str:
    return str(record.value["payload"][0]).rsplit(".", 1)[-1]


def payloads(records: list[TailedRecord], kind: str) -> list[dict[str, Any]]:
    return [r.value["payload"][1] for r in records if payload_kind(r) == kind]


def markers(records: list[TailedRecord]) -> list[tuple[str, str]]:
    """(kind, reason) of every session marker, in order."""
    return [(m["kind"], m["reason"]) for m in payloads(records, "SessionMarker")]


def markers_by_key(records: list[TailedRecord]) -> dict[str | None, list[tuple[str, str]]]:
    """(kind, reason) of the session markers of each record key, in order."""
    found: dict[str | None, list[tuple[str, str]]] = {}
    for r in records:
        if payload_kind(r) == "SessionMarker":
            marker = r.value["payload"][1]
            found.setdefault(r.key, []).append((marker["kind"], marker["reason"]))
    return found


def ms(value: Any) -> int:
    """A decoded timestamp-millis back to Unix milliseconds."""
    return round(float(value.timestamp()) * 1000)


def micros(value: Any) -> int:
    """A decoded timestamp (or a number of microseconds) as Unix microseconds, exactly."""
    if isinstance(value, dt.datetime):
        return int((value - EPOCH) // dt.timedelta(microseconds=1))
    return int(value)


def now_us() -> int:
    return time.time_ns() // 1000


# --- the bridge's metrics -----------------------------------------------------------------------


def sample(bridge: Bridge, name: str, **labels: str) -> float:
    """One sample of the bridge's metrics (0 when the series does not exist yet)."""
    return bridge.metrics.registry.get_sample_value(name, labels) or 0.0


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in a Prometheus text exposition (what /metrics serves), or
    None when the series is not there."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{{wanted}}} "):
            return float(line.rsplit(" ", 1)[1])
    return None


def reconnect_reasons(bridge: Bridge) -> dict[str, float]:
    """bridge_reconnects_total by reason, the reasons counted at least once."""
    return {
        s.labels["reason"]: s.value
        for metric in bridge.metrics.reconnects.collect()
        for s in metric.samples
        if s.name == "bridge_reconnects_total" and s.value
    }


def bridge_log(records: list[Any]) -> str:
    """The bridge's own log lines among captured ones: the simulators play the exchange and
    may see what the exchange sees, so their lines (and the websockets server's) are left out."""
    return "\n".join(
        r.getMessage()
        for r in records
        if not r.name.startswith(("bridge.sandbox", "websockets.server"))
    )
