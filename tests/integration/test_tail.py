"""``bridge tail`` as a user runs it, against the sandbox broker (which auto-creates topics, as
Kafka does by default): one clear line and exit code 1 when Kafka is unreachable or a topic is
missing, no topic ever created, and each record's union branch named in its output."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bridge.avro.compat import sample_values
from bridge.avro.decode import tail
from bridge.avro.formats import encode_single_object
from bridge.avro.store import SchemaStore
from bridge.sandbox.processes import free_port
from tests.integration.harness import unique_prefix, wait_until

ROOT = Path(__file__).resolve().parents[2]
DEALS = SchemaStore().latest("okex/spot-deals")


async def run_tail(*argv: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """``python -m bridge tail ARGV`` in a child process, as a user's shell runs it."""
    # every warning shown, ResourceWarning ("Unclosed AIOKafkaConsumer") included
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "default"}

    def call() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bridge", "tail", *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=ROOT,
            check=False,
        )

    return await asyncio.to_thread(call)


async def existing_topics(bootstrap: str) -> set[str]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        return set(await consumer.topics())  # every topic's metadata: names none
    finally:
        await consumer.stop()


async def test_an_unreachable_broker_is_one_line_and_exit_code_1() -> None:
    port = free_port()  # nothing listens there
    result = await run_tail("okx.status", "-b", f"127.0.0.1:{port}")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"bridge: cannot reach Kafka at 127.0.0.1:{port}: no broker answered"
    ]


async def test_a_missing_topic_is_refused_and_not_created(kafka_bootstrap: str) -> None:
    prefix = unique_prefix()
    present, missing = prefix + "okx.status", prefix + "okx.nothing"
    await create_topic(kafka_bootstrap, present)
    result = await run_tail(present, missing, "-b", kafka_bootstrap, "--idle-timeout", "1")
    assert result.returncode == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"bridge: no topic {missing} on {kafka_bootstrap}")
    assert missing not in await existing_topics(kafka_bootstrap)


async def test_waiting_for_a_topic_creates_none_and_reads_it_once_it_exists(
    kafka_bootstrap: str,
) -> None:
    topic = unique_prefix() + "okex.spot.deals"
    deal = deals_sample()
    received = []

    async def read() -> None:
        async for record in tail(kafka_bootstrap, [topic], idle_timeout=None):
            received.append(record)
            return

    reader = asyncio.create_task(read())
    await asyncio.sleep(5)  # metadata refreshed about every 2 s meanwhile
    assert topic not in await existing_topics(kafka_bootstrap)
    assert not reader.done()
    await produce(kafka_bootstrap, topic, [deal])
    await asyncio.wait_for(reader, 60)
    (record,) = received
    assert record.value["payload"] == deal["payload"]


async def test_tail_prints_the_branch_of_a_payload_with_a_type_field(kafka_bootstrap: str) -> None:
    """OKEx deals carry the trade side in a field named ``type``: the branch name survives."""
    topic = unique_prefix() + "okex.spot.deals"
    deal = deals_sample()
    await produce(kafka_bootstrap, topic, [deal])
    result = await run_tail(topic, "-b", kafka_bootstrap, "--idle-timeout", "3")
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    printed = json.loads(line)
    assert printed["schema"] == "okex/spot-deals.v1"
    ((branch, fields),) = printed["value"]["payload"].items()
    assert branch == "exchange_bridge.okex.SpotDeal"
    assert fields["type"] == "ask"
    assert list(fields) == list(deal["payload"][1])  # type: ignore[index]
    assert "Unclosed" not in result.stderr and "Traceback" not in result.stderr


def deals_sample() -> dict[str, object]:
    """An okex.spot.deals value whose payload is a SpotDeal (its side in ``type``)."""
    sample = next(
        s for s in sample_values(DEALS.definition) if s["payload"][0].endswith(".SpotDeal")
    )
    name, fields = sample["payload"]
    return {**sample, "payload": (name, {**fields, "type": "ask"})}


async def create_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()


async def produce(bootstrap: str, topic: str, values: list[dict[str, object]]) -> None:
    """Write ``values`` to ``topic`` as the bridge writes okex.spot.deals (the producer's
    metadata request creates the topic, as it does for the bridge)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, encode_single_object(DEALS, value), key=b"k")
    finally:
        await producer.stop()


async def test_a_topic_appearing_later_does_not_replay_the_others(kafka_bootstrap: str) -> None:
    """Reading two topics, one of which appears while the other is being read: each record
    once (aiokafka starts every partition of a new assignment afresh; tail keeps the
    positions it reached)."""
    prefix = unique_prefix()
    first, later = prefix + "okex.spot.deals", prefix + "kraken-like.spot.deals"
    await produce(kafka_bootstrap, first, [deals_sample()] * 3)
    received = []

    async def read() -> None:
        async for record in tail(kafka_bootstrap, [first, later], idle_timeout=8):
            received.append((record.topic, record.offset))

    reader = asyncio.create_task(read())
    await wait_until(lambda: len(received) == 3, 60, "the first topic read")
    await produce(kafka_bootstrap, later, [deals_sample()] * 2)
    await produce(kafka_bootstrap, first, [deals_sample()])
    await asyncio.wait_for(reader, 90)
    assert sorted(received) == sorted(
        [(first, 0), (first, 1), (first, 2), (first, 3), (later, 0), (later, 1)]
    )
