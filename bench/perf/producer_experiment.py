"""The producer side alone: CPU per record of three ways to hand records to aiokafka.

``python -m bench.perf.producer_experiment --pools DIR --bootstrap HOST:PORT`` prints one JSON
line. The same pre-encoded records (OKX books: raw and typed record of each frame, two topics),
the same producer settings as the bridge (idempotent, acks=all, linger 5 ms, 1 MiB batches):

* ``publisher``: ``bridge.runtime.publisher.Publisher.send`` per record, as the bridge does (buffer
  accounting, per-record metrics with ``labels()``, one done-callback per record);
* ``aiokafka_send``: ``await AIOKafkaProducer.send()`` per record and nothing else: the floor
  of the per-record API (metadata wait, partitioner, accumulator, one future per record);
* ``send_batch``: ``create_batch()`` / ``append()`` / ``send_batch()`` per topic-partition, up to
  ``--batch`` records a batch: one future per batch, the records appended by aiokafka's
  C batch builder.

It is the evidence behind the producer-side recommendation in docs/PERFORMANCE.md; the bridge's
publisher is not changed by it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from bench.perf.frames import STREAMS, load, pool_path
from bench.perf.stages import encode_all
from bridge.avro.records import Codec, OutRecord
from bridge.metrics import Metrics
from bridge.runtime.publisher import Publisher

OPTIONS: dict[str, Any] = {
    "enable_idempotence": True,
    "acks": "all",
    "linger_ms": 5,
    "max_batch_size": 1048576,
}


def _records(pools: Path, frames: int) -> list[OutRecord]:
    batches = encode_all(load(pool_path(pools, "okx-books")), STREAMS["okx-books"], Codec())
    flat = [r for rs in batches for r in rs]
    return (flat * (2 * frames // len(flat) + 1))[: 2 * frames]


async def _publisher(bootstrap: str, prefix: str, records: list[OutRecord]) -> float:
    publisher = Publisher(Metrics(), bootstrap_servers=bootstrap, topic_prefix=prefix)
    await publisher.start()
    try:
        for record in records[:2]:  # topics created, metadata known
            await publisher.send(record, time.time_ns() // 1000)
        await publisher.flush(30)
        started = time.process_time()
        for record in records:
            await publisher.send(record, time.time_ns() // 1000)
        await publisher.flush(120)
        return time.process_time() - started
    finally:
        await publisher.stop()


async def _aiokafka_send(bootstrap: str, prefix: str, records: list[OutRecord]) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **OPTIONS)
    await producer.start()
    try:
        for record in records[:2]:
            await producer.send_and_wait(prefix + record.topic, record.value, key=record.key)
        started = time.process_time()
        futures = [
            await producer.send(prefix + r.topic, r.value, key=r.key, headers=r.headers)
            for r in records
        ]
        await asyncio.gather(*futures)
        return time.process_time() - started
    finally:
        await producer.stop()


async def _send_batch(bootstrap: str, prefix: str, records: list[OutRecord], size: int) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **OPTIONS)
    await producer.start()
    try:
        for record in records[:2]:
            await producer.send_and_wait(prefix + record.topic, record.value, key=record.key)
        started = time.process_time()
        futures = []
        pending: dict[str, list[OutRecord]] = defaultdict(list)

        async def flush(topic: str) -> None:
            batch = producer.create_batch()
            for r in pending.pop(topic):
                batch.append(key=r.key, value=r.value, timestamp=None, headers=r.headers)
            batch.close()
            # one partition per topic here, as in the sandbox; a real publisher would
            # partition by key with aiokafka's DefaultPartitioner, as send() does
            futures.append(await producer.send_batch(batch, prefix + topic, partition=0))

        for record in records:
            pending[record.topic].append(record)
            if len(pending[record.topic]) >= size:
                await flush(record.topic)
        for topic in list(pending):
            await flush(topic)
        await asyncio.gather(*futures)
        return time.process_time() - started
    finally:
        await producer.stop()


async def measure(bootstrap: str, pools: Path, frames: int, batch: int) -> dict[str, Any]:
    records = _records(pools, frames)
    n = len(records)
    result: dict[str, Any] = {"records": n}
    for name, body in (
        ("publisher", _publisher(bootstrap, f"pe{time.time_ns() % 10**8}a.", records)),
        ("aiokafka_send", _aiokafka_send(bootstrap, f"pe{time.time_ns() % 10**8}b.", records)),
        ("send_batch", _send_batch(bootstrap, f"pe{time.time_ns() % 10**8}c.", records, batch)),
    ):
        cpu = await body
        result[name] = {"cpu_us_per_record": 1e6 * cpu / n}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=Path, required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--frames", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.bootstrap, args.pools, args.frames, args.batch))))


if __name__ == "__main__":
    main()
