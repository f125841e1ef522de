"""The publisher's own logic against a stand-in producer: lanes and order, batches, the buffer
and its two overflow policies, resending and giving up, health and flush. (Against a real
broker: tests/integration/test_reliability.py.)"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import (
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    OutOfOrderSequenceNumber,
)

from bridge.avro.records import OutRecord
from bridge.metrics import Metrics
from bridge.runtime.publisher import ProducerState, Publisher, retriable


class StandInBatch:
    def __init__(self, max_records: int) -> None:
        self.values: list[bytes] = []
        self.max_records = max_records

    def append(self, *, key: Any, value: bytes, timestamp: Any, headers: Any) -> object | None:
        if len(self.values) >= self.max_records:
            return None
        self.values.append(value)
        return object()


class StandInProducer:
    """Takes batches and leaves their futures for the test to complete. Two partitions per
    topic; the partitioner sends key b"odd" to partition 1, everything else to 0."""

    def __init__(self, *, batch_records: int = 100, **options: Any) -> None:
        self.options = options
        self.starts = 0
        self.batch_records = batch_records
        self.sent: list[tuple[str, int, list[bytes]]] = []
        self.futures: list[asyncio.Future[Any]] = []
        self.partitioned = 0

    async def start(self) -> None:
        self.starts += 1

    async def stop(self) -> None:
        return None

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1}

    def _partitioner(self, key: bytes, all_partitions: list[int], available: Any) -> int:
        self.partitioned += 1
        return 1 if key == b"odd" else 0

    def create_batch(self) -> StandInBatch:
        return StandInBatch(self.batch_records)

    async def send_batch(
        self, batch: StandInBatch, topic: str, *, partition: int
    ) -> asyncio.Future[Any]:
        self.sent.append((topic, partition, batch.values))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.futures.append(future)
        return future

    def values(self) -> list[bytes]:
        return [v for _, _, values in self.sent for v in values]

    async def settle(self, index: int = -1, exc: BaseException | None = None) -> None:
        """Complete one batch (by default the latest) and let the publisher react."""
        future = self.futures[index]
        if exc is None:
            future.set_result(None)
        else:
            future.set_exception(exc)
        for _ in range(5):
            await asyncio.sleep(0)

    async def settle_all(self) -> None:
        while any(not f.done() for f in self.futures):
            for future in self.futures:
                if not future.done():
                    future.set_result(None)
            for _ in range(5):
                await asyncio.sleep(0)


def record(n: int, topic: str = "okx.tickers", key: bytes = b"k") -> OutRecord:
    return OutRecord(topic, key, f"value-{n}".encode(), [])


async def started(batch_records: int = 100, **options: Any) -> tuple[Publisher, StandInProducer]:
    """A started publisher whose producers are all one stand-in (a replaced producer is the
    same object started again: ``starts`` counts them)."""
    producer = StandInProducer(batch_records=batch_records)

    def factory(**kwargs: Any) -> StandInProducer:
        producer.options = kwargs
        return producer

    publisher = Publisher(
        Metrics(), bootstrap_servers="127.0.0.1:9", producer_factory=factory, **options
    )
    await publisher.start()
    return publisher, producer


async def idle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_the_producer_is_idempotent_with_acks_from_every_replica() -> None:
    publisher, producer = await started(topic_prefix="p.")
    assert producer.options["enable_idempotence"] is True
    assert producer.options["acks"] == "all"
    await publisher.send(record(1), 0)
    await idle()
    assert producer.sent == [("p.okx.tickers", 0, [b"value-1"])]


async def test_records_wait_in_their_lane_while_a_batch_is_out_and_go_as_one_batch() -> None:
    publisher, producer = await started()
    await publisher.send(record(1), 0)
    await idle()  # the topic's partitions are learnt, the first batch goes out
    for n in range(2, 5):
        await publisher.send(record(n), 0)
    await idle()
    assert [values for *_, values in producer.sent] == [[b"value-1"]]  # one batch out at a time
    await producer.settle()
    assert [values for *_, values in producer.sent][1] == [b"value-2", b"value-3", b"value-4"]
    await producer.settle()
    assert publisher.delivered == 4 and publisher.buffered_records == 0


async def test_each_partition_has_its_own_lane_and_a_key_is_hashed_once() -> None:
    publisher, producer = await started()
    await publisher.send(record(1, key=b"even"), 0)
    await idle()
    await publisher.send(record(2, key=b"odd"), 0)
    await idle()
    await publisher.send(record(3, key=b"odd"), 0)
    await idle()
    sent = {(partition, tuple(values)) for _, partition, values in producer.sent}
    assert sent == {(0, (b"value-1",)), (1, (b"value-2",))}
    assert producer.partitioned == 2  # "odd" was hashed once and remembered


async def test_a_full_batch_leaves_the_rest_for_the_next() -> None:
    publisher, producer = await started(batch_records=2)
    await publisher.send(record(1), 0)
    await idle()
    for n in range(2, 6):
        await publisher.send(record(n), 0)
    await producer.settle_all()
    assert [values for *_, values in producer.sent] == [
        [b"value-1"],
        [b"value-2", b"value-3"],
        [b"value-4", b"value-5"],
    ]


async def test_a_failed_batch_is_resent_before_anything_after_it() -> None:
    publisher, producer = await started()
    await publisher.send(record(1), 0)
    await idle()
    await publisher.send(record(2), 0)  # waits in the lane behind the batch that is out
    await producer.settle(0, KafkaTimeoutError())
    assert publisher.state is ProducerState.FAILING and not publisher.healthy
    for _ in range(200):  # resent after a jittered delay of at most 0.5 s
        if len(producer.sent) == 2:
            break
        await asyncio.sleep(0.01)
    assert [values for *_, values in producer.sent] == [[b"value-1"], [b"value-1"]]
    await producer.settle_all()
    assert producer.values() == [b"value-1", b"value-1", b"value-2"]
    assert publisher.state is ProducerState.CONNECTED
    assert publisher.delivered == 2 and publisher.buffered_records == 0


async def test_a_record_kafka_refuses_for_good_is_given_up_alone() -> None:
    publisher, producer = await started()
    refused: list[tuple[bytes, object, str]] = []
    publisher.on_undeliverable = lambda rec, origin, why: refused.append((rec.value, origin, why))
    await publisher.send(record(1), 0)
    await idle()
    for n in (2, 3, 4):
        await publisher.send(record(n), 0, origin=f"frame-{n}")
    await producer.settle()
    # the batch 2-4 is refused as a whole; each record is then tried on its own, in order
    await producer.settle(-1, MessageSizeTooLargeError())
    await producer.settle(-1)  # value-2 alone
    await producer.settle(-1, MessageSizeTooLargeError())  # value-3 alone: refused
    await producer.settle(-1)  # value-4 alone
    assert [values for *_, values in producer.sent][2:] == [
        [b"value-2"],
        [b"value-3"],
        [b"value-4"],
    ]
    assert len(refused) == 1
    assert refused[0][:2] == (b"value-3", "frame-3")
    assert "MessageSizeTooLargeError" in refused[0][2]
    assert publisher.delivered == 3 and publisher.undeliverable == 1
    assert publisher.buffered_records == 0
    # each refusal spent sequence numbers: a new producer (id) each time
    assert producer.starts == 3


async def test_sequence_numbers_out_of_step_start_a_new_producer_and_the_batch_goes_again() -> None:
    publisher, producer = await started()
    await publisher.send(record(1), 0)
    await idle()
    await producer.settle(-1, OutOfOrderSequenceNumber())
    for _ in range(50):
        if len(producer.sent) == 2:
            break
        await asyncio.sleep(0.01)
    assert producer.starts == 2
    assert producer.values() == [b"value-1", b"value-1"]
    await producer.settle_all()
    assert publisher.delivered == 1 and publisher.undeliverable == 0


async def test_a_record_over_the_request_limit_is_never_sent() -> None:
    publisher, producer = await started(max_record_bytes=1000)
    refused: list[str] = []
    publisher.on_undeliverable = lambda rec, origin, why: refused.append(why)
    big = OutRecord("okx.raw", b"k", b"x" * 2000, [])
    assert await publisher.send(big, 0)
    await idle()
    assert producer.sent == [] and len(refused) == 1 and "max_record_bytes" in refused[0]
    assert publisher.buffered_records == 0


async def test_block_waits_for_space_and_loses_nothing() -> None:
    publisher, producer = await started(buffer_max_records=2)
    assert await publisher.send(record(1), 0)
    assert await publisher.send(record(2), 0)
    third = asyncio.ensure_future(publisher.send(record(3), 0))
    await asyncio.sleep(0.05)
    assert not third.done() and publisher.buffered_records == 2  # the reader would wait here
    await producer.settle(0)
    assert await asyncio.wait_for(third, 1)
    await producer.settle_all()
    assert publisher.delivered == 3 and publisher.buffered_records == 0


async def test_drop_keeps_accepting_without_waiting_and_never_drops_markers() -> None:
    publisher, producer = await started(buffer_max_records=1, overflow="drop")
    assert await publisher.send(record(1), 0)
    assert not await asyncio.wait_for(publisher.send(record(2), 0), 0.1)  # never waits
    assert publisher.dropped == 1
    forced = asyncio.ensure_future(publisher.send(record(3), 0, force=True))
    await asyncio.sleep(0.05)
    assert not forced.done()  # a marker waits for space instead of being dropped
    await producer.settle_all()
    assert await asyncio.wait_for(forced, 1)
    await producer.settle_all()
    assert producer.values() == [b"value-1", b"value-3"]


async def test_waiting_for_acks_too_long_is_unhealthy() -> None:
    publisher, producer = await started(stall_seconds=0.05)
    assert publisher.healthy
    await publisher.send(record(1), 0)
    await asyncio.sleep(0.1)
    assert not publisher.healthy  # a stalled broker shows long before a request times out
    await producer.settle_all()
    assert publisher.healthy


async def test_flush_reports_what_is_still_unacknowledged() -> None:
    publisher, producer = await started()
    await publisher.send(record(1), 0)
    await publisher.send(record(2), 0)
    assert await publisher.flush(0.05) == 2
    await producer.settle_all()
    assert await publisher.flush(1) == 0
    await publisher.stop()
    assert publisher.state is ProducerState.STOPPED


@pytest.mark.parametrize("policy", ["block", "drop"])
async def test_one_record_larger_than_the_byte_limit_still_goes(policy: str) -> None:
    publisher, producer = await started(buffer_max_bytes=4, overflow=policy)
    assert await publisher.send(record(1), 0)
    await idle()
    assert len(producer.sent) == 1


@pytest.mark.parametrize(
    ("exc", "again"),
    [
        (KafkaTimeoutError(), True),
        (NotLeaderForPartitionError(), True),
        (MessageSizeTooLargeError(), False),
        (RuntimeError("bug"), False),
    ],
)
def test_only_errors_a_retry_can_fix_are_retried(exc: BaseException, again: bool) -> None:
    assert retriable(exc) is again
