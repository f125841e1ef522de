"""The sandbox Kafka broker does what the demo and the other integration tests rely on."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bridge.errors import MissingToolError, SandboxError
from bridge.sandbox.kafka import SandboxKafka
from bridge.sandbox.kafka_jars import STAMP_FILE, ensure_classpath
from bridge.sandbox.processes import check_java

# --------------------------------------------------------------------- helpers


def _topic() -> str:
    return f"sandbox-test-{uuid.uuid4().hex[:12]}"


async def _produce(
    bootstrap: str, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]
) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        meta = await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()
    return int(meta.offset)


async def _consume_one(bootstrap: str, topic: str) -> Any:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        return await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


# ----------------------------------------------------------------- the broker


async def test_idempotent_acks_all_roundtrip(kafka_bootstrap: str) -> None:
    assert kafka_bootstrap.startswith("127.0.0.1:")
    topic = _topic()  # auto-created on first produce
    headers = [("schema-id", b"7"), ("source", b"okx")]

    offset = await _produce(kafka_bootstrap, topic, b"BTC-USDT", b"\x00avro-bytes\xff", headers)
    record = await _consume_one(kafka_bootstrap, topic)

    assert offset == 0
    assert record.key == b"BTC-USDT"
    assert record.value == b"\x00avro-bytes\xff"
    assert list(record.headers) == headers
    assert record.partition == 0  # num.partitions=1


def test_broker_logs_to_its_temp_dir(kafka: SandboxKafka) -> None:
    assert kafka.running
    assert kafka.log_path.parent == kafka.workdir
    assert kafka.workdir.name.startswith("bridge-kafka-")
    assert "Kafka Server started" in kafka.log_path.read_text()


async def test_stop_and_restart_keeps_port_and_data(fresh_kafka: SandboxKafka) -> None:
    k = fresh_kafka
    port, topic = k.port, _topic()
    await _produce(k.bootstrap_servers, topic, b"k1", b"before-outage", [("h", b"1")])

    k.stop_broker()
    assert not k.running
    assert not _port_open(port)
    assert k.data_dir.is_dir()

    k.start_broker()
    assert k.port == port
    assert k.bootstrap_servers == f"127.0.0.1:{port}"
    record = await _consume_one(k.bootstrap_servers, topic)
    assert (record.key, record.value, list(record.headers)) == (
        b"k1", b"before-outage", [("h", b"1")]
    )  # fmt: skip
    # and the restarted broker takes idempotent produce again
    assert await _produce(k.bootstrap_servers, topic, b"k2", b"after", []) == 1


async def test_kill_restart_then_stop_cleans_up(fresh_kafka: SandboxKafka) -> None:
    k = fresh_kafka
    topic = _topic()
    await _produce(k.bootstrap_servers, topic, b"k", b"survives-sigkill", [])
    pid = k.pid
    assert pid is not None

    k.kill()
    assert not k.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)

    k.start_broker()
    record = await _consume_one(k.bootstrap_servers, topic)
    assert record.value == b"survives-sigkill"

    # stop() ends the JVM for good and deletes the temp dir; it is idempotent.
    workdir, pid = k.workdir, k.pid
    assert pid is not None
    k.stop()
    assert not workdir.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(SandboxError):
        _ = k.bootstrap_servers
    k.stop()


# ------------------------------------------------------------ missing tools


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache / "exchange-bridge"


def test_missing_mvn_is_named(
    empty_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(MissingToolError) as err:
        ensure_classpath()
    assert "`mvn`" in str(err.value)
    assert "apt-get install maven" in str(err.value)
    assert not (empty_cache / "kafka-4.1.1" / "lib").exists()  # no half cache


def test_missing_java_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    broker = SandboxKafka()
    with pytest.raises(MissingToolError) as err:
        broker.start()
    assert "`java`" in str(err.value)
    assert "apt-get install openjdk-17-jre-headless" in str(err.value)
    assert not broker.running


def test_old_java_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "java"
    fake.write_text("#!/bin/sh\necho 'openjdk version \"11.0.22\" 2024-01-16' >&2\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(MissingToolError, match=r"Java 11; Kafka needs Java 17 or newer"):
        check_java()


# ------------------------------------------------------------------ jar cache


def test_jar_cache_is_reused(empty_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mvn_calls: list[list[str]] = []
    real_run = subprocess.run

    def spy(cmd: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(cmd, list) and Path(str(cmd[0])).name == "mvn":
            mvn_calls.append([str(c) for c in cmd])
        return real_run(cmd, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", spy)

    first = ensure_classpath("4.1.1")
    assert len(mvn_calls) == 1
    assert "-Dkafka.version=4.1.1" in mvn_calls[0]
    lib = empty_cache / "kafka-4.1.1" / "lib"
    names = {p.name for p in first}
    assert {"kafka_2.13-4.1.1.jar", "kafka-tools-4.1.1.jar", "log4j-slf4j-impl-2.24.3.jar"} <= names
    assert all(p.parent == lib for p in first)
    assert [p.name for p in (empty_cache / "kafka-4.1.1").iterdir()] == ["lib"]  # no leftovers

    second = ensure_classpath("4.1.1")
    assert second == first
    assert len(mvn_calls) == 1  # cached: mvn not run again

    # A cache resolved with another pom (the pom changed since) is resolved again.
    (lib / STAMP_FILE).write_text("stale\n")
    assert ensure_classpath("4.1.1") == first
    assert len(mvn_calls) == 2


def test_a_cluster_id_starting_with_a_dash_formats(monkeypatch: pytest.MonkeyPatch) -> None:
    """One random base64url cluster id in 64 starts with "-"; the storage tool must take it."""
    import bridge.sandbox.kafka as sandbox

    monkeypatch.setattr(sandbox.secrets, "token_bytes", lambda n: b"\xf8" + bytes(n - 1))
    broker = SandboxKafka()
    try:
        broker.start()
        assert broker.cluster_id.startswith("-")
        assert broker.running
    finally:
        broker.stop()
