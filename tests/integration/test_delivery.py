"""Delivery to Kafka: what the bridge promises when the broker goes away (``block`` loses
nothing and a blocked reader is not taken for silence, ``drop`` keeps reading and counts and
marks every drop, the order read holds on every topic, a missing broker is waited for), when
the broker refuses a record for good (its frame is dead-lettered, never retried forever), and
when it is told to stop (SIGTERM flushes and marks every topic, or reports what it could not
deliver). Most tests have a broker of their own (``fresh_kafka``) to stop and start; the
exchange is the OKX simulator streaming tickers."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bridge.avro.decode import TailedRecord
from bridge.runtime.app import Bridge
from bridge.sandbox.kafka import SandboxKafka
from bridge.sandbox.okx import OkxSimulator
from tests.integration.exchanges import OKX
from tests.integration.harness import (
    bridge_settings,
    payload_kind,
    payloads,
    read_topic,
    reconnect_reasons,
    running_bridge,
    sample,
    start_bridge,
    unique_prefix,
    wait_until,
)

TICKERS = [{"channel": "tickers", "instId": "BTC-USDT"}]


def ticker_push(marker: str, padding: int = 0) -> str:
    """A valid OKX tickers push whose ``last`` is ``marker``, padded to any size."""
    element = {"instId": "BTC-USDT", "last": marker, "ts": "1700000000000"}
    if padding:
        element["pad"] = "x" * padding
    return json.dumps(
        {"arg": {"channel": "tickers", "instId": "BTC-USDT"}, "data": [element]},
        separators=(",", ":"),
    )


def has_last(records: list[TailedRecord], marker: str) -> bool:
    return any(p["last"] == marker for p in payloads(records, "Ticker"))


def element_text(ticker: dict[str, Any]) -> str:
    """One typed ticker as text, to count distinct elements (each simulated push differs)."""
    return json.dumps(ticker, sort_keys=True, default=str)


def pushes_read(bridge: Bridge) -> float:
    [session] = bridge.sessions
    labels = {"exchange": OKX.name, "connection": session.name, "type": "Push"}
    return sample(bridge, "bridge_events_total", **labels)


READY_AGAIN_SECONDS = 180
"""How long a restarted broker may take to take records again: seconds on a quiet machine, far
more on a loaded one (the JVM starts, the producer's reconnect backs off)."""


async def count_tickers(bootstrap: str, topic: str, expected: int) -> list[str]:
    """Every ticker element in ``topic``, once ``expected`` of them are there."""
    records = await read_topic(
        bootstrap, topic, lambda rs: len(payloads(rs, "Ticker")) >= expected, timeout=120
    )
    return [element_text(p) for p in payloads(records, "Ticker")]


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
            session = bridge.sessions[0]
            await wait_until(lambda: session.subscribed, what="subscription")
            await asyncio.sleep(1)
            await asyncio.to_thread(fresh_kafka.stop_broker)
            read_before, pushed_before = session.frames, sim.stats.pushes_total
            await asyncio.sleep(6)
            # the sockets are read on while Kafka is away: the bridge's buffer binds, not the
            # Kafka client's
            read_during = session.frames - read_before
            pushed_during = sim.stats.pushes_total - pushed_before
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
        lambda rs: len(payloads(rs, "Ticker")) + dropped >= sent,
        timeout=60,
    )
    delivered = payloads(records, "Ticker")
    assert len(delivered) + dropped == sent  # every push either in Kafka or counted as dropped
    markers = [m for m in payloads(records, "SessionMarker") if m["kind"] == "dropped"]
    assert {m["reason"] for m in markers} == {"buffer_full"}
    marked = sum(int(m["detail"].split()[0]) for m in markers)
    assert marked == dropped  # the markers account for every dropped ticker
    assert read_during >= 0.8 * pushed_during, (
        f"the reader stalled: {read_during} frames read of {pushed_during} pushed"
    )
    print(
        f"\ndrop policy: {sent} frames, {dropped:.0f} dropped and marked ({len(markers)} markers); "
        f"{read_during} of {pushed_during} frames pushed during the outage read"
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


async def test_a_frame_the_broker_refuses_is_dead_lettered_and_the_stream_goes_on(
    kafka_bootstrap: str,
) -> None:
    """The operator let the bridge take 3 MiB frames and send 4 MiB records, but the broker
    keeps its default 1 MB limit: a 1.5 MB frame's records are refused for good. The frame is
    dead-lettered (cut until the broker takes it, with its size and SHA-256), counted, never
    retried forever; the next frame arrives in order; readiness returns; nothing is left."""
    prefix = unique_prefix()
    big = ticker_push("1111.1", padding=1_500_000)
    async with OKX.simulator(initial_status=None, max_message_size=4 * 2**20) as sim:
        settings = bridge_settings(
            kafka_bootstrap,
            prefix,
            [OKX.connection(sim, TICKERS, max_frame_bytes=3 * 2**20)],
            kafka={
                "bootstrap_servers": kafka_bootstrap,
                "topic_prefix": prefix,
                "linger_ms": 1,
                "max_request_size": 4 * 2**20,
            },
        )
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscription")
            await sim.send_raw(big)
            await sim.send_raw(ticker_push("2222.2"))
            tickers = await read_topic(
                kafka_bootstrap, prefix + "okx.tickers", lambda rs: has_last(rs, "2222.2")
            )
            letters = await read_topic(
                kafka_bootstrap,
                prefix + "bridge.deadletter",
                lambda rs: any(r.value["stage"] == "deliver" for r in rs),
                timeout=60,
            )
            await wait_until(
                lambda: bridge.readiness_problems() == [], timeout=60, what="readiness"
            )
            undelivered = await bridge.publisher.flush(20)
            given_up = sample(bridge, "bridge_records_undeliverable_total", topic="okx.tickers")
            dead = sample(bridge, "bridge_deadletter_total", reason="deliver")
            reasons = reconnect_reasons(bridge)

    assert undelivered == 0
    assert not has_last(tickers, "1111.1")  # refused, so not on its topic
    [letter] = [r.value for r in letters if r.value["stage"] == "deliver"]
    assert "MessageSizeTooLargeError" in letter["error"]
    assert f"frame of {len(big)} bytes cut to its first" in letter["error"]
    assert hashlib.sha256(big.encode()).hexdigest() in letter["error"]
    assert big.encode().startswith(letter["data"]) and len(letter["data"]) < len(big)
    assert given_up == 1 and dead == 1
    assert reasons == {}  # the connection was never dropped for it
    print(
        f"\nrefused frame: {len(big)} bytes; dead letter holds its first {len(letter['data'])} "
        f"bytes; producer replaced {sample(bridge, 'bridge_kafka_producer_resets_total'):.0f} "
        "time(s); the next frame delivered in order"
    )


async def test_order_holds_when_sends_time_out_during_an_outage(
    fresh_kafka: SandboxKafka,
) -> None:
    """A broker away four times longer than the request timeout: what failed is sent again
    before anything later on its partition (the publisher's lanes; the producer's own retries
    keep their order too). Every frame read is in Kafka, and the raw topic and the channel
    topic keep the order the frames were read in."""
    prefix = unique_prefix()
    async with OKX.simulator(rates={"tickers": 300}, initial_status=None) as sim:
        settings = bridge_settings(
            fresh_kafka.bootstrap_servers,
            prefix,
            [OKX.connection(sim, TICKERS)],
            kafka={
                "bootstrap_servers": fresh_kafka.bootstrap_servers,
                "topic_prefix": prefix,
                "linger_ms": 1,
                "request_timeout_ms": 2000,
            },
        )
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscription")
            await asyncio.sleep(1)
            await asyncio.to_thread(fresh_kafka.stop_broker)
            await asyncio.sleep(8)
            await asyncio.to_thread(fresh_kafka.start_broker)
            await wait_until(
                lambda: bridge.readiness_problems() == [], timeout=90, what="readiness"
            )
            await sim.pause_generators()
            sent = sim.stats.pushes_total
            await wait_until(lambda: pushes_read(bridge) >= sent, timeout=60, what="every push")
            assert await bridge.publisher.flush(60) == 0
            failed = sum(
                s.value
                for family in bridge.metrics.registry.collect()
                if family.name == "bridge_records_failed"
                for s in family.samples
                if s.name == "bridge_records_failed_total"
            )
    raw = await read_topic(
        fresh_kafka.bootstrap_servers,
        prefix + "okx.raw",
        lambda rs: len({(r.value["connection_id"], r.value["sequence"]) for r in rs}) >= sent,
        timeout=60,
    )
    tickers = await read_topic(
        fresh_kafka.bootstrap_servers,
        prefix + "okx.tickers",
        lambda rs: len(payloads(rs, "Ticker")) >= sent,
        timeout=60,
    )
    print(f"\n{failed:.0f} failed send attempt(s) during the outage, all sent again")
    for topic, records in (("okx.raw", raw), ("okx.tickers", tickers)):
        first_seen: list[tuple[str, int]] = []
        seen: set[tuple[str, int]] = set()
        frames = [r for r in records if "payload" not in r.value or payload_kind(r) == "Ticker"]
        for record in frames:
            at = (record.value["connection_id"], record.value["sequence"])
            if at not in seen:
                seen.add(at)
                first_seen.append(at)
        assert first_seen == sorted(first_seen), f"{topic}: out of the order read"
        repeats = len(frames) - len(seen)
        print(f"\n{topic}: {len(seen)} frames in order, {repeats} sent twice (at least once)")
    data = {element_text(p) for p in payloads(tickers, "Ticker")}
    assert len(data) == sent, f"{sent} pushed, {len(data)} distinct in Kafka"


async def test_a_reader_blocked_by_the_buffer_is_not_cut_off_as_silent(
    fresh_kafka: SandboxKafka,
) -> None:
    """Under ``block`` a full buffer stops the reader; the silence watchdog does not take that
    for a silent exchange (the connection stays up through an outage several idle timeouts
    long), and nothing is lost."""
    prefix = unique_prefix()
    async with OKX.simulator(rates={"tickers": 100}, initial_status=None) as sim:
        settings = bridge_settings(
            fresh_kafka.bootstrap_servers,
            prefix,
            [OKX.connection(sim, TICKERS, keepalive_seconds=0.5, idle_timeout_seconds=2)],
            publisher={"overflow": "block", "buffer_max_records": 50},
        )
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscription")
            await asyncio.sleep(1)
            await asyncio.to_thread(fresh_kafka.stop_broker)
            await asyncio.sleep(8)  # four idle timeouts
            await asyncio.to_thread(fresh_kafka.start_broker)
            await wait_until(lambda: bridge.readiness_problems() == [], timeout=90, what="recovery")
            await sim.pause_generators()
            sent = sim.stats.pushes_total
            await wait_until(lambda: pushes_read(bridge) >= sent, timeout=60, what="every push")
            assert await bridge.publisher.flush(60) == 0
            reasons = reconnect_reasons(bridge)
    assert "silence" not in reasons, reasons
    records = await read_topic(
        fresh_kafka.bootstrap_servers,
        prefix + "okx.tickers",
        lambda rs: len(payloads(rs, "Ticker")) >= sent,
        timeout=60,
    )
    assert len({element_text(p) for p in payloads(records, "Ticker")}) == sent
    print(f"\nblocked reader: {sent} pushes, all in Kafka; reconnects {reasons or 'none'}")


async def test_bridge_process_sigterm_marks_every_topic_and_an_outage_logs_little(
    fresh_kafka: SandboxKafka, tmp_path: Path
) -> None:
    """``bridge run`` as operators run it: through a 10 s broker outage the log gets a line
    per kind and interval (not one per failed attempt), and SIGTERM ends the process with 0
    after a ``disconnected`` (``shutdown``) marker on every subscribed topic."""
    prefix = unique_prefix()
    async with OKX.simulator(rates={"tickers": 50}, initial_status=None) as sim:
        config = {
            "instance": "test",
            "log_level": "INFO",
            "kafka": {"bootstrap_servers": fresh_kafka.bootstrap_servers, "topic_prefix": prefix},
            "metrics": {"host": "127.0.0.1", "port": 0},
            "connections": [
                OKX.connection(sim, [*TICKERS, {"channel": "tickers", "instId": "ETH-USDT"}])
            ],
        }
        config_file = tmp_path / "bridge.yaml"
        config_file.write_text(yaml.safe_dump(config))
        log_file = tmp_path / "bridge.log"
        with log_file.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "bridge", "run", "--config", str(config_file)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            await sim.wait_for_subscribers("tickers", timeout=30)
            await asyncio.sleep(2)
            await asyncio.to_thread(fresh_kafka.stop_broker)
            outage_from = len(log_file.read_bytes())
            started = time.monotonic()
            await asyncio.sleep(10)
            outage_log = log_file.read_bytes()[outage_from:].decode(errors="replace")
            outage_seconds = time.monotonic() - started
            await asyncio.to_thread(fresh_kafka.start_broker)
            await asyncio.sleep(5)
            process.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(process.wait, 60)
        finally:
            if process.poll() is None:
                process.kill()
    lines = [line for line in outage_log.splitlines() if " WARNING " in line or " ERROR " in line]
    assert code == 0, log_file.read_text(errors="replace")[-3000:]
    assert len(lines) / outage_seconds < 3, "\n".join(lines[:40])
    print(f"\n{len(lines)} warning/error lines in a {outage_seconds:.0f} s outage; exit {code}")
    records = await read_topic(
        fresh_kafka.bootstrap_servers,
        prefix + "okx.tickers",
        lambda rs: sum(m["kind"] == "disconnected" for m in payloads(rs, "SessionMarker")) >= 2,
        timeout=60,
    )
    last = {}
    for record in records:
        last[record.key] = record
    for key in ("BTC-USDT", "ETH-USDT"):
        marker = last[key].value["payload"]
        assert marker[0] == "exchange_bridge.SessionMarker"
        assert (marker[1]["kind"], marker[1]["reason"]) == ("disconnected", "shutdown")
