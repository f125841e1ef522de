"""Experiment: the bridge's publisher handing batches, not records, to aiokafka.

Not used by the bridge. ``bench.perf.bridge_runner`` swaps it in for ``bridge.runtime.publisher.
Publisher`` when its configuration says ``"publisher": "batching"`` (the scenarios named
``...-publisher-experiment``), to measure end to end what the producer-side recommendation in
docs/PERFORMANCE.md would give.

Everything but the hand-over is the bridge's own publisher (inherited): the buffer and its
overflow policy, metrics, retries, flush and stop. Only ``_produce`` differs: instead of one
``await producer.send()`` per record (a metadata wait, the partitioner, the accumulator and a
future per record), a record is appended to the open ``BatchBuilder`` of its topic-partition
(aiokafka's C record builder); the batch goes to ``send_batch()`` when it is full or
``linger_ms`` after its first record, and the one future of the batch settles every record of
it through the inherited per-record ``_on_done`` (so delivery metrics, the lag histogram and
the buffer release are exactly as today). Partitions are chosen as ``send()`` chooses them:
aiokafka's partitioner over the key.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiokafka.errors import KafkaError

from bridge.avro.records import OutRecord
from bridge.runtime.publisher import Publisher


@dataclass
class _OpenBatch:
    builder: Any
    records: list[tuple[OutRecord, int, int]] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


class BatchingPublisher(Publisher):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._linger_s = float(self.producer_options.get("linger_ms", 5)) / 1000
        # The lingering is ours; aiokafka would make every batch handed over linger again.
        self.producer_options = {**self.producer_options, "linger_ms": 0}
        self._open: dict[tuple[str, int], _OpenBatch] = {}
        self._partitions: dict[str, tuple[list[int], list[int]]] = {}
        self._keys: dict[tuple[str, bytes], tuple[str, int]] = {}
        # Per topic-partition, the hand-over in progress: aiokafka queues one batch per
        # partition; the next one keeps filling until that one is taken.
        self._sending: dict[tuple[str, int], asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # the loop keeps only weak references

    async def _produce(self, record: OutRecord, size: int, received_us: int) -> None:
        assert self._producer is not None, "Publisher.start() must run first"
        producer = self._producer
        topic = self.topic_prefix + record.topic
        try:
            partitions = self._partitions.get(topic)
            if partitions is None:
                known = sorted(await producer.partitions_for(topic))
                partitions = self._partitions[topic] = (known, known)
        except KafkaError as exc:
            self._failed(record, size, received_us, exc)
            return
        # aiokafka's partitioner hashes the key in Python (murmur2) on every send(); a key
        # (an instrument, a connection) always maps to the same partition, so remember it.
        key = self._keys.get((topic, record.key)) if record.key is not None else None
        if key is None:
            key = (topic, producer._partitioner(record.key, *partitions))
            if record.key is not None and len(self._keys) < 100_000:
                self._keys[(topic, record.key)] = key
        batch = self._open.get(key) or self._open_batch(key)
        while (
            batch.builder.append(
                key=record.key, value=record.value, timestamp=None, headers=record.headers
            )
            is None
        ):
            await self._hand_over(key)  # full: hand it over, start the next with this record
            batch = self._open.get(key) or self._open_batch(key)
        batch.records.append((record, size, received_us))

    def _open_batch(self, key: tuple[str, int]) -> _OpenBatch:
        assert self._producer is not None
        batch = self._open[key] = _OpenBatch(self._producer.create_batch())
        batch.timer = asyncio.get_running_loop().call_later(self._linger_s, self._lingered, key)
        return batch

    def _lingered(self, key: tuple[str, int]) -> None:
        batch = self._open.get(key)
        if batch is None:
            return
        if key in self._sending:  # the previous batch is not taken yet: keep filling
            batch.timer = asyncio.get_running_loop().call_later(0.001, self._lingered, key)
            return
        task = asyncio.get_running_loop().create_task(self._hand_over(key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _hand_over(self, key: tuple[str, int]) -> None:
        while (previous := self._sending.get(key)) is not None:
            if previous.done():
                # Awaiting a finished task does not yield: without this, the loop that would
                # run its done-callback never gets the chance, and this spins forever.
                del self._sending[key]
                break
            await asyncio.shield(previous)
        batch = self._open.pop(key, None)
        if batch is None:
            return
        if batch.timer is not None:
            batch.timer.cancel()
        task = asyncio.get_running_loop().create_task(self._send(key, batch))
        self._sending[key] = task
        task.add_done_callback(lambda done: self._sent(key, done))

    def _sent(self, key: tuple[str, int], task: asyncio.Task[None]) -> None:
        if self._sending.get(key) is task:
            del self._sending[key]

    async def _send(self, key: tuple[str, int], batch: _OpenBatch) -> None:
        assert self._producer is not None
        topic, partition = key
        batch.builder.close()
        records = batch.records
        try:
            future = await self._producer.send_batch(batch.builder, topic, partition=partition)
        except KafkaError as exc:
            for record, size, received_us in records:
                self._failed(record, size, received_us, exc)
            return

        def settle(done: asyncio.Future[Any]) -> None:
            for record, size, received_us in records:
                self._on_done(done, record, size, received_us)

        future.add_done_callback(settle)
