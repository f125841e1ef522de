"""The publisher's own logic against a stand-in producer: the buffer and its two overflow
policies, resending failed sends, health and flush. (Against a real broker:
tests/integration/test_reliability.py.)"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError

from bridge.avro.records import OutRecord
from bridge.metrics import Metrics
from bridge.runtime.publisher import ProducerState, Publisher


class StandInProducer:
    """Takes sends and leaves their futures for the test to complete."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.sent: list[tuple[str, bytes]] = []
        self.futures: list[asyncio.Future[Any]] = []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(
        self, topic: str, value: bytes, key: bytes | None = None, headers: Any = None
    ) -> asyncio.Future[Any]:
        self.sent.append((topic, value))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.futures.append(future)
        return future

    def ack_all(self) -> None:
        for future in self.futures:
            if not future.done():
                future.set_result(None)


def record(n: int, topic: str = "okx.tickers") -> OutRecord:
    return OutRecord(topic, b"k", f"value-{n}".encode(), [])


async def started(**options: Any) -> tuple[Publisher, StandInProducer]:
    producers: list[StandInProducer] = []

    def factory(**kwargs: Any) -> StandInProducer:
        producers.append(StandInProducer(**kwargs))
        return producers[-1]

    publisher = Publisher(
        Metrics(), bootstrap_servers="127.0.0.1:9", producer_factory=factory, **options
    )
    await publisher.start()
    return publisher, producers[0]


async def test_the_producer_is_idempotent_with_acks_from_every_replica() -> None:
    publisher, producer = await started(topic_prefix="p.")
    assert producer.options["enable_idempotence"] is True
    assert producer.options["acks"] == "all"
    await publisher.send(record(1), 0)
    assert producer.sent == [("p.okx.tickers", b"value-1")]


async def test_block_waits_for_space_and_loses_nothing() -> None:
    publisher, producer = await started(buffer_max_records=2)
    assert await publisher.send(record(1), 0)
    assert await publisher.send(record(2), 0)
    third = asyncio.ensure_future(publisher.send(record(3), 0))
    await asyncio.sleep(0.05)
    assert not third.done() and publisher.buffered_records == 2  # the reader would wait here
    producer.futures[0].set_result(None)
    assert await asyncio.wait_for(third, 1)
    producer.ack_all()
    await asyncio.sleep(0)
    assert publisher.delivered == 3 and publisher.buffered_records == 0


async def test_drop_drops_and_counts_but_never_drops_markers() -> None:
    publisher, producer = await started(buffer_max_records=1, overflow="drop")
    assert await publisher.send(record(1), 0)
    assert not await publisher.send(record(2), 0)
    assert publisher.dropped == 1
    forced = asyncio.ensure_future(publisher.send(record(3), 0, force=True))
    await asyncio.sleep(0.05)
    assert not forced.done()  # a marker waits for space instead of being dropped
    producer.ack_all()
    assert await asyncio.wait_for(forced, 1)
    assert [value for _, value in producer.sent] == [b"value-1", b"value-3"]


async def test_a_failed_send_is_resent_and_delivered_once() -> None:
    publisher, producer = await started()
    await publisher.send(record(1), 0)
    producer.futures[0].set_exception(KafkaTimeoutError())
    await asyncio.sleep(0)
    assert publisher.state is ProducerState.FAILING and not publisher.healthy
    for _ in range(200):  # the resend comes after a jittered delay of at most 0.5 s
        if len(producer.sent) == 2:
            break
        await asyncio.sleep(0.01)
    assert [value for _, value in producer.sent] == [b"value-1", b"value-1"]
    producer.ack_all()
    await asyncio.sleep(0)
    assert publisher.state is ProducerState.CONNECTED
    assert publisher.delivered == 1 and publisher.buffered_records == 0


async def test_waiting_for_acks_too_long_is_unhealthy() -> None:
    publisher, producer = await started(stall_seconds=0.05)
    assert publisher.healthy
    await publisher.send(record(1), 0)
    await asyncio.sleep(0.1)
    assert not publisher.healthy  # a stalled broker shows long before a request times out
    producer.ack_all()
    await asyncio.sleep(0)
    assert publisher.healthy


async def test_flush_reports_what_is_still_unacknowledged() -> None:
    publisher, producer = await started()
    await publisher.send(record(1), 0)
    await publisher.send(record(2), 0)
    assert await publisher.flush(0.05) == 2
    producer.ack_all()
    assert await publisher.flush(1) == 0
    await publisher.stop()
    assert publisher.state is ProducerState.STOPPED


@pytest.mark.parametrize("policy", ["block", "drop"])
async def test_one_record_larger_than_the_byte_limit_still_goes(policy: str) -> None:
    publisher, producer = await started(buffer_max_bytes=4, overflow=policy)
    assert await publisher.send(record(1), 0)
    assert len(producer.sent) == 1
