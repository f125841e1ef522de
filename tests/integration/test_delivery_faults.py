"""Delivery under faults, against a real broker: a frame the broker refuses, sends that time out
during an outage, the drop policy with the broker away, a reader blocked by the buffer, a
credential an exchange echoes, a text frame that is not UTF-8.

What a user relies on in each: every frame read is delivered or dead-lettered (never retried
forever), the order read is the order on every topic, what is dropped is counted, and the
bridge recovers by itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from bridge.runtime.app import Bridge
from bridge.sandbox.kafka import SandboxKafka
from bridge.sandbox.okx import BUSINESS_PATH, PUBLIC_PATH, OkxAccount, OkxSimulator
from tests.integration.harness import (
    bridge_settings,
    fast_reconnect,
    payload_kind,
    payloads,
    read_topic,
    running_bridge,
    unique_prefix,
    wait_until,
)

TICKERS = [{"channel": "tickers", "instId": "BTC-USDT"}]


def connection(sim: OkxSimulator, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "okx-public",
        "exchange": "okx",
        "url": sim.url(PUBLIC_PATH),
        "subscriptions": TICKERS,
        **fast_reconnect(),
        **overrides,
    }


def metric(bridge: Bridge, name: str, **labels: str) -> float:
    return bridge.metrics.registry.get_sample_value(name, labels) or 0.0


def reconnect_reasons(bridge: Bridge) -> dict[str, float]:
    reasons: dict[str, float] = {}
    for family in bridge.metrics.registry.collect():
        if family.name == "bridge_reconnects":
            for sample in family.samples:
                if sample.name == "bridge_reconnects_total" and sample.value:
                    reasons[sample.labels["reason"]] = sample.value
    return reasons


def ticker_push(marker: str, padding: int = 0) -> str:
    element = {"instId": "BTC-USDT", "last": marker, "ts": "1700000000000"}
    if padding:
        element["pad"] = "x" * padding
    return json.dumps(
        {"arg": {"channel": "tickers", "instId": "BTC-USDT"}, "data": [element]},
        separators=(",", ":"),
    )


def is_push(record: Any) -> bool:
    return bool(payload_kind(record) == "ChannelData")


def has_last(records: list[Any], marker: str) -> bool:
    return any(f'"last":"{marker}"' in p["data"] for p in payloads(records, "ChannelData"))


async def test_a_frame_the_broker_refuses_is_dead_lettered_and_the_stream_goes_on(
    kafka_bootstrap: str,
) -> None:
    """The operator let the bridge take 3 MiB frames and send 4 MiB records, but the broker
    keeps its default 1 MB limit: a 1.5 MB frame's records are refused for good. The frame is
    dead-lettered (cut until the broker takes it, with its size and SHA-256), counted, never
    retried forever; the next frame arrives in order; readiness returns; nothing is left."""
    prefix = unique_prefix()
    big = ticker_push("1111.1", padding=1_500_000)
    async with OkxSimulator(initial_status=None, max_message_size=4 * 2**20) as sim:
        settings = bridge_settings(
            kafka_bootstrap,
            prefix,
            [connection(sim, max_frame_bytes=3 * 2**20)],
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
            given_up = metric(bridge, "bridge_records_undeliverable_total", topic="okx.tickers")
            dead = metric(bridge, "bridge_deadletter_total", reason="deliver")
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
        f"bytes; producer replaced {metric(bridge, 'bridge_kafka_producer_resets_total'):.0f} "
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
    async with OkxSimulator(rates={"tickers": 300}, initial_status=None) as sim:
        settings = bridge_settings(
            fresh_kafka.bootstrap_servers,
            prefix,
            [connection(sim)],
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
            await wait_until(
                lambda: (
                    metric(
                        bridge,
                        "bridge_events_total",
                        exchange="okx",
                        connection="okx-public",
                        type="Push",
                    )
                    >= sent
                ),
                timeout=60,
                what="every push read",
            )
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
        lambda rs: len(payloads(rs, "ChannelData")) >= sent,
        timeout=60,
    )
    print(f"\n{failed:.0f} failed send attempt(s) during the outage, all sent again")
    for topic, records in (("okx.raw", raw), ("okx.tickers", tickers)):
        first_seen: list[tuple[str, int]] = []
        seen: set[tuple[str, int]] = set()
        frames = [r for r in records if "payload" not in r.value or is_push(r)]
        for record in frames:
            at = (record.value["connection_id"], record.value["sequence"])
            if at not in seen:
                seen.add(at)
                first_seen.append(at)
        assert first_seen == sorted(first_seen), f"{topic}: out of the order read"
        repeats = len(frames) - len(seen)
        print(f"\n{topic}: {len(seen)} frames in order, {repeats} sent twice (at least once)")
    data = {p["data"] for p in payloads(tickers, "ChannelData")}
    assert len(data) == sent, f"{sent} pushed, {len(data)} distinct in Kafka"


async def test_the_drop_policy_keeps_reading_while_kafka_is_away(
    fresh_kafka: SandboxKafka,
) -> None:
    """Under ``drop`` the sockets are read on while Kafka is away (the bridge's buffer, not the
    Kafka client's, is the limit that binds): what does not fit is dropped and counted, and
    what reached Kafka plus what was dropped is every push."""
    prefix = unique_prefix()
    async with OkxSimulator(rates={"tickers": 300}, initial_status=None) as sim:
        settings = bridge_settings(
            fresh_kafka.bootstrap_servers,
            prefix,
            [connection(sim)],
            publisher={"overflow": "drop", "buffer_max_records": 200},
        )
        async with running_bridge(settings) as bridge:
            session = bridge.sessions[0]
            await wait_until(lambda: session.subscribed, what="subscription")
            await asyncio.sleep(1)
            await asyncio.to_thread(fresh_kafka.stop_broker)
            read_before, pushed_before = session.frames, sim.stats.pushes_total
            await asyncio.sleep(6)
            read_during = session.frames - read_before
            pushed_during = sim.stats.pushes_total - pushed_before
            await asyncio.to_thread(fresh_kafka.start_broker)
            await wait_until(lambda: bridge.readiness_problems() == [], timeout=90, what="recovery")
            await sim.pause_generators()
            sent = sim.stats.pushes_total
            await wait_until(
                lambda: (
                    metric(
                        bridge,
                        "bridge_events_total",
                        exchange="okx",
                        connection="okx-public",
                        type="Push",
                    )
                    >= sent
                ),
                timeout=60,
                what="every push read",
            )
            assert await bridge.publisher.flush(60) == 0
            dropped = metric(bridge, "bridge_records_dropped_total", topic="okx.tickers")
    assert read_during >= 0.8 * pushed_during, (
        f"the reader stalled: {read_during} frames read of {pushed_during} pushed"
    )
    assert dropped > 0
    records = await read_topic(
        fresh_kafka.bootstrap_servers,
        prefix + "okx.tickers",
        lambda rs: len(payloads(rs, "ChannelData")) + dropped >= sent,
        timeout=60,
    )
    assert len(payloads(records, "ChannelData")) + dropped == sent
    gaps = [m for m in payloads(records, "SessionMarker") if m["kind"] == "dropped"]
    assert gaps and sum(int(m["detail"].split()[0]) for m in gaps) == dropped
    print(
        f"\ndrop policy: {read_during} of {pushed_during} frames read during the 6 s outage; "
        f"{sent} pushed, {dropped:.0f} dropped, {sent - dropped:.0f} in Kafka, {len(gaps)} markers"
    )


async def test_a_reader_blocked_by_the_buffer_is_not_cut_off_as_silent(
    fresh_kafka: SandboxKafka,
) -> None:
    """Under ``block`` a full buffer stops the reader; the silence watchdog does not take that
    for a silent exchange (the connection stays up through an outage several idle timeouts
    long), and nothing is lost."""
    prefix = unique_prefix()
    async with OkxSimulator(rates={"tickers": 100}, initial_status=None) as sim:
        settings = bridge_settings(
            fresh_kafka.bootstrap_servers,
            prefix,
            [connection(sim, keepalive_seconds=0.5, idle_timeout_seconds=2)],
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
            await wait_until(
                lambda: (
                    metric(
                        bridge,
                        "bridge_events_total",
                        exchange="okx",
                        connection="okx-public",
                        type="Push",
                    )
                    >= sent
                ),
                timeout=60,
                what="every push read",
            )
            assert await bridge.publisher.flush(60) == 0
            reasons = reconnect_reasons(bridge)
    assert "silence" not in reasons, reasons
    records = await read_topic(
        fresh_kafka.bootstrap_servers,
        prefix + "okx.tickers",
        lambda rs: len(payloads(rs, "ChannelData")) >= sent,
        timeout=60,
    )
    assert len({p["data"] for p in payloads(records, "ChannelData")}) == sent
    print(f"\nblocked reader: {sent} pushes, all in Kafka; reconnects {reasons or 'none'}")


async def test_a_credential_an_exchange_echoes_reaches_no_record(kafka_bootstrap: str) -> None:
    """An OKX error that quotes the API key: the typed event on okx.events, the raw frame and
    any dead letter carry ``***`` where the key was."""
    prefix = unique_prefix()
    key, secret, passphrase = "echo-key-7f3a9c2e", "echo-secret-51d0b7aa", "echo-phrase-90c1"
    account = OkxAccount(secret=secret, passphrase=passphrase, vip_level=1)
    async with OkxSimulator(initial_status=None, accounts={key: account}) as sim:
        conn = {
            "name": "okx-business",
            "exchange": "okx",
            "url": sim.url(BUSINESS_PATH),
            "subscriptions": [{"channel": "economic-calendar"}],
            "credentials": {"api_key": key, "secret_key": secret, "passphrase": passphrase},
            **fast_reconnect(),
        }
        settings = bridge_settings(kafka_bootstrap, prefix, [conn])
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscription")
            await sim.send_raw(
                json.dumps(
                    {
                        "event": "error",
                        "code": "60005",
                        "msg": f"Invalid apiKey {key}",
                        "connId": "x1",
                    }
                )
            )
            events = await read_topic(
                kafka_bootstrap,
                prefix + "okx.events",
                lambda rs: any(p["code"] == "60005" for p in payloads(rs, "ConnectionEvent")),
            )
            raw = await read_topic(
                kafka_bootstrap,
                prefix + "okx.raw",
                lambda rs: any(b"60005" in r.value["data"] for r in rs),
            )
    [error] = [p for p in payloads(events, "ConnectionEvent") if p["code"] == "60005"]
    assert error["message"] == "Invalid apiKey ***"
    everything = repr([r.value for r in events + raw]).encode()
    for value in (key, secret, passphrase):
        assert value.encode() not in everything


async def test_a_text_frame_that_is_not_utf8_is_counted_as_such(kafka_bootstrap: str) -> None:
    """RFC 6455 has the client close with 1007; the reconnect says why (not
    ``connection_lost``), and the connection comes back."""
    prefix = unique_prefix()
    async with OkxSimulator(initial_status=None) as sim:
        settings = bridge_settings(kafka_bootstrap, prefix, [connection(sim)])
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscription")
            [conn] = sim.connections
            await conn.websocket.send(b'{"arg":"\xff\xfe"}', text=True)
            await wait_until(
                lambda: bridge.sessions[0].connects == 2 and bridge.sessions[0].subscribed,
                timeout=20,
                what="the connection to come back",
            )
            reasons = reconnect_reasons(bridge)
    assert reasons == {"invalid_utf8": 1.0}


async def test_bridge_process_sigterm_marks_every_topic_and_an_outage_logs_little(
    fresh_kafka: SandboxKafka, tmp_path: Path
) -> None:
    """``bridge run`` as operators run it: through a 10 s broker outage the log gets a line
    per kind and interval (not one per failed attempt), and SIGTERM ends the process with 0
    after a ``disconnected`` (``shutdown``) marker on every subscribed topic."""
    prefix = unique_prefix()
    async with OkxSimulator(rates={"tickers": 50}, initial_status=None) as sim:
        config = {
            "instance": "test",
            "log_level": "INFO",
            "kafka": {"bootstrap_servers": fresh_kafka.bootstrap_servers, "topic_prefix": prefix},
            "metrics": {"host": "127.0.0.1", "port": 0},
            "connections": [
                connection(
                    sim, subscriptions=[*TICKERS, {"channel": "tickers", "instId": "ETH-USDT"}]
                )
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
