"""Delivery to Kafka: what the bridge promises when the broker goes away (``block`` loses
nothing, ``drop`` counts and marks every drop, a missing broker is waited for) and when it is
told to stop (SIGTERM flushes, or reports what it could not deliver). Each test has a broker of
its own (``fresh_kafka``) to stop and start; the exchange is the OKX simulator streaming
tickers."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from bridge.runtime.app import Bridge
from bridge.sandbox.kafka import SandboxKafka
from bridge.sandbox.okx import OkxSimulator
from tests.integration.exchanges import OKX
from tests.integration.harness import (
    bridge_settings,
    payloads,
    read_topic,
    running_bridge,
    sample,
    start_bridge,
    unique_prefix,
    wait_until,
)

READY_AGAIN_SECONDS = 180
"""How long a restarted broker may take to take records again: seconds on a quiet machine, far
more on a loaded one (the JVM starts, the producer's reconnect backs off)."""


async def count_tickers(bootstrap: str, topic: str, expected: int) -> list[str]:
    """Every ticker element in ``topic``, once ``expected`` of them are there."""
    records = await read_topic(
        bootstrap, topic, lambda rs: len(payloads(rs, "ChannelData")) >= expected, timeout=120
    )
    return [p["data"] for p in payloads(records, "ChannelData")]


async def read_every_push(bridge: Bridge, sent: int) -> None:
    """Wait until the bridge has read every push the simulator sent, then check it read no
    other frame than the two acks and the answers to its keepalive pings: pings go on while
    reading is blocked, so a long outage adds pongs, and only pushes are counted to wait."""
    [session] = bridge.sessions

    def events(kind: str) -> int:
        labels = {"exchange": OKX.name, "connection": session.name, "type": kind}
        return int(sample(bridge, "bridge_events_total", **labels))

    await wait_until(
        lambda: events("Push") >= sent, timeout=60, what="the bridge to read every push sent"
    )
    assert events("Push") == sent  # one ticker per frame
    assert session.frames == sent + 2 + events("Pong")


async def test_block_policy_loses_nothing_through_a_broker_outage(
    fresh_kafka: SandboxKafka,
) -> None:
    prefix = unique_prefix()
    async with OKX.simulator(rates={"tickers": 1000}, initial_status=None) as sim:
        settings = bridge_settings(
            fresh_kafka.bootstrap_servers,
            prefix,
            [OKX.connection(sim)],
            publisher={"overflow": "block", "buffer_max_records": 20_000},
        )
        async with running_bridge(settings) as bridge:
            publisher = bridge.publisher
            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscription")
            await asyncio.sleep(2)
            assert bridge.readiness_problems() == []
            await asyncio.to_thread(fresh_kafka.stop_broker)
            outage_started = time.monotonic()
            await wait_until(
                lambda: "kafka: not connected" in bridge.readiness_problems(),
                timeout=10,
                what="readiness to turn false",
            )
            peak = 0
            while time.monotonic() - outage_started < 10:
                peak = max(peak, publisher.buffered_records)
                await asyncio.sleep(0.1)
            assert peak > 1000  # the buffer rose while Kafka was away
            await asyncio.to_thread(fresh_kafka.start_broker)
            await wait_until(
                lambda: bridge.readiness_problems() == [],
                timeout=READY_AGAIN_SECONDS,
                what="readiness to return",
            )
            await asyncio.sleep(1)
            await sim.pause_generators()
            sent = sim.stats.pushes_total
            await read_every_push(bridge, sent)
        rate = sent / (time.monotonic() - outage_started + 3)
    data = await count_tickers(fresh_kafka.bootstrap_servers, prefix + "okx.tickers", sent)
    assert len(data) == sent, f"{sent} sent, {len(data)} in Kafka"
    assert len(set(data)) == len(data), "duplicates in Kafka"
    assert publisher.buffered_records == 0
    print(
        f"\nblock policy: {sent} frames at ~{rate:.0f}/s, peak buffer {peak} records, "
        f"0 lost, 0 duplicates"
    )


async def test_drop_policy_counts_every_drop_and_marks_the_gap(fresh_kafka: SandboxKafka) -> None:
    prefix = unique_prefix()
    async with OKX.simulator(rates={"tickers": 500}, initial_status=None) as sim:
        settings = bridge_settings(
            fresh_kafka.bootstrap_servers,
            prefix,
            [OKX.connection(sim)],
            publisher={"overflow": "drop", "buffer_max_records": 200},
        )
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscription")
            await asyncio.sleep(1)
            await asyncio.to_thread(fresh_kafka.stop_broker)
            await asyncio.sleep(6)
            await asyncio.to_thread(fresh_kafka.start_broker)
            await wait_until(
                lambda: bridge.readiness_problems() == [],
                timeout=READY_AGAIN_SECONDS,
                what="recovery",
            )
            await asyncio.sleep(2)  # records after the outage close each gap with a marker
            await sim.pause_generators()
            sent = sim.stats.pushes_total
            await read_every_push(bridge, sent)
        metrics = bridge.metrics.render().decode()
    dropped = float(
        re.search(r'bridge_records_dropped_total\{topic="okx.tickers"\} (\S+)', metrics)[1]
    )
    assert dropped > 0
    records = await read_topic(
        fresh_kafka.bootstrap_servers,
        prefix + "okx.tickers",
        lambda rs: len(payloads(rs, "ChannelData")) + dropped >= sent,
        timeout=60,
    )
    delivered = payloads(records, "ChannelData")
    assert len(delivered) + dropped == sent  # every push either in Kafka or counted as dropped
    markers = [m for m in payloads(records, "SessionMarker") if m["kind"] == "dropped"]
    assert {m["reason"] for m in markers} == {"buffer_full"}
    marked = sum(int(m["detail"].split()[0]) for m in markers)
    assert marked == dropped  # the markers account for every dropped ticker
    print(
        f"\ndrop policy: {sent} frames, {dropped:.0f} dropped and marked ({len(markers)} markers)"
    )


async def test_a_missing_broker_at_start_is_waited_for() -> None:
    kafka = SandboxKafka()
    await asyncio.to_thread(kafka.start)
    try:
        await asyncio.to_thread(kafka.stop_broker)
        async with OKX.simulator() as sim:
            settings = bridge_settings(
                kafka.bootstrap_servers,
                unique_prefix(),
                [OKX.connection(sim, [{"channel": "status"}], reconnect=None)],
            )
            async with running_bridge(settings) as bridge:
                await asyncio.sleep(3)
                assert "kafka: not connected" in bridge.readiness_problems()
                assert sim.stats.connects_total == 0  # no reading before Kafka can take records
                await asyncio.to_thread(kafka.start_broker)
                await wait_until(
                    lambda: bridge.readiness_problems() == [],
                    timeout=READY_AGAIN_SECONDS,
                    what="ready after the broker came",
                )
    finally:
        await asyncio.to_thread(kafka.stop)


def write_config(
    path: Path, bootstrap: str, prefix: str, sim: OkxSimulator, **extra: object
) -> Path:
    config = {
        "instance": "sigterm-test",
        "log_level": "INFO",
        "kafka": {"bootstrap_servers": bootstrap, "topic_prefix": prefix},
        "metrics": {"host": "127.0.0.1", "port": 0},
        "connections": [OKX.connection(sim, reconnect=None)],
        **extra,
    }
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(autouse=True)
async def no_bridge_left_behind() -> AsyncIterator[None]:
    yield
    while BridgeProcess.live:
        await BridgeProcess.live.pop().kill()


class BridgeProcess:
    """``bridge run`` as a subprocess whose log is read all the time: a pipe nobody drains
    fills up (aiokafka logs every failed reconnect) and blocks the process on its next log."""

    live: list[BridgeProcess] = []
    """Started and not yet reaped: killed after each test, so a failing test leaves none."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        BridgeProcess.live.append(self)
        self.lines: list[str] = []
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, config: Path) -> BridgeProcess:
        return cls(await start_bridge(config, stderr=asyncio.subprocess.PIPE))

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        while line := (await self.proc.stderr.readline()).decode():
            self.lines.append(line)
            self._changed.set()
        self._changed.set()

    async def wait_for_line(self, pattern: str, timeout: float) -> str:
        async def scan() -> str:
            seen = 0
            while True:
                for line in self.lines[seen:]:
                    if re.search(pattern, line):
                        return line
                seen = len(self.lines)
                if self._reader.done():
                    raise AssertionError(f"bridge exited without a line matching {pattern!r}")
                self._changed.clear()
                await self._changed.wait()

        try:
            return await asyncio.wait_for(scan(), timeout)
        except TimeoutError:
            tail = "".join(self.lines[-15:])
            raise AssertionError(
                f"no line matching {pattern!r} in {timeout} s; log ends:\n{tail}"
            ) from None

    async def wait(self, timeout: float) -> int:
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        await self._reader
        return code

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)


async def test_sigterm_flushes_every_frame_read_and_exits_0(
    fresh_kafka: SandboxKafka, tmp_path: Path
) -> None:
    prefix = unique_prefix()
    async with OKX.simulator(rates={"tickers": 300}, initial_status=None) as sim:
        config = write_config(tmp_path / "bridge.yaml", fresh_kafka.bootstrap_servers, prefix, sim)
        proc = await BridgeProcess.start(config)
        await proc.wait_for_line("all 2 subscriptions acknowledged", 60)
        await asyncio.sleep(3)
        proc.signal(signal.SIGTERM)
        line = await proc.wait_for_line(r"stopped reading: \d+ frame", 30)
        frames = int(re.search(r"stopped reading: (\d+) frame", line)[1])
        await proc.wait_for_line("record\\(s\\) delivered", 30)
        assert await proc.wait(30) == 0
    raw = await read_topic(
        fresh_kafka.bootstrap_servers, prefix + "okx.raw", lambda rs: len(rs) >= frames, timeout=30
    )
    assert len(raw) == frames  # every frame read before the signal, none after
    tickers = await count_tickers(fresh_kafka.bootstrap_servers, prefix + "okx.tickers", frames - 2)
    assert len(tickers) == frames - 2  # all frames but the two acks are ticker pushes


async def subscribed_then_kafka_away(
    kafka: SandboxKafka, tmp_path: Path, sim: OkxSimulator, flush_timeout: float
) -> BridgeProcess:
    """A ``bridge run`` process subscribed and streaming, then its broker stopped."""
    config = write_config(
        tmp_path / "bridge.yaml",
        kafka.bootstrap_servers,
        unique_prefix(),
        sim,
        shutdown={"flush_timeout_seconds": flush_timeout},
    )
    proc = await BridgeProcess.start(config)
    await proc.wait_for_line("all 2 subscriptions acknowledged", 60)
    await asyncio.to_thread(kafka.stop_broker)
    await asyncio.sleep(1)
    return proc


async def test_sigterm_with_kafka_away_ends_at_the_deadline_and_reports(
    fresh_kafka: SandboxKafka, tmp_path: Path
) -> None:
    async with OKX.simulator(rates={"tickers": 200}, initial_status=None) as sim:
        proc = await subscribed_then_kafka_away(fresh_kafka, tmp_path, sim, flush_timeout=2)
        started = time.monotonic()
        proc.signal(signal.SIGTERM)
        line = await proc.wait_for_line(r"not delivered within the 2 s flush deadline", 30)
        assert int(line.split("ERROR")[-1].split()[1]) > 0
        assert await proc.wait(30) == 1
        assert time.monotonic() - started < 10


async def test_a_second_sigterm_exits_at_once(fresh_kafka: SandboxKafka, tmp_path: Path) -> None:
    async with OKX.simulator(rates={"tickers": 200}, initial_status=None) as sim:
        proc = await subscribed_then_kafka_away(fresh_kafka, tmp_path, sim, flush_timeout=60)
        proc.signal(signal.SIGTERM)
        await proc.wait_for_line("shutting down", 10)
        started = time.monotonic()
        proc.signal(signal.SIGTERM)
        await proc.wait_for_line(r"second signal: exiting with \d+ record\(s\) undelivered", 10)
        assert await proc.wait(10) == 1
        assert time.monotonic() - started < 5
