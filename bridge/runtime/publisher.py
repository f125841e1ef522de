"""Kafka publishing: one idempotent aiokafka producer (acks=all), a bounded buffer, and one
ordered lane per topic-partition.

:meth:`Publisher.send` accepts a record into the buffer and appends it to the lane of its
topic-partition (the partition of a key is computed once, with Kafka's own partitioner, and
remembered). Each lane hands its waiting records to the producer as one batch, waits for that
batch's acknowledgement, then sends the next: while one batch is out, the next one fills, so
batches grow with the load and the per-record work stays small. Nothing is written to a
partition after a record that is still being retried on it, so every topic keeps the order in
which records were read.

The buffer counts records from the moment they are accepted until Kafka acknowledges them (or
they are given up). It is the limit that binds: the producer never holds more than one batch per
partition. When it is full the overflow policy applies: ``block`` makes :meth:`Publisher.send`
wait (so the session stops reading its socket and TCP pushes back on the exchange), ``drop``
drops the record and counts it (markers and dead letters are never dropped).

A failed batch is classified (:func:`retriable`): errors a retry can fix (the broker away, a
leader moving, a timeout) resend the same records after a jittered delay that grows while
sends keep failing, until they are delivered or the bridge shuts down; errors no retry fixes
(a record too large for the broker, an invalid topic, no authorisation) give the record up:
it is counted and handed to ``on_undeliverable`` (the pipeline dead-letters its frame).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.conn import create_conn
from aiokafka.errors import (
    BrokerNotAvailableError,
    InvalidProducerEpoch,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    NodeNotReadyError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    SaslAuthenticationFailed,
    UnknownProducerId,
)

from bridge.avro.records import OutRecord
from bridge.errors import KafkaAccessError
from bridge.metrics import Metrics
from bridge.retry import Backoff
from bridge.runtime.buffer import Buffer, OverflowPolicy

log = logging.getLogger(__name__)

# A failed batch is resent after a jittered delay that grows while sends keep failing.
RESEND_INITIAL_SECONDS = 0.5
RESEND_MAX_SECONDS = 5.0
# How long one request for a topic's partitions may wait before it is asked again.
METADATA_WAIT_SECONDS = 5.0
# What a batch of one record adds to the record itself: the record batch header (61 bytes),
# the record's own framing and its headers are counted in the record's size.
BATCH_OVERHEAD_BYTES = 128
# Remembered key -> partition mappings, per publisher (instruments x topics; bounded anyway).
_MAX_REMEMBERED_KEYS = 100_000

# aiokafka marks its own timeout and a few connection errors as not retriable; for a producer
# that must survive a broker outage they are exactly the errors to retry.
_ALSO_RETRIABLE = (
    KafkaTimeoutError,
    KafkaConnectionError,
    NodeNotReadyError,
    BrokerNotAvailableError,
)

# The idempotent producer numbers each partition's batches; a batch refused or abandoned after
# it got its numbers leaves a gap the broker will not accept. Only a new producer id (a new
# producer) starts the numbers afresh.
_SEQUENCE_BROKEN = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    InvalidProducerEpoch,
    ProducerFenced,
)


def retriable(exc: BaseException) -> bool:
    """Whether resending can fix ``exc``: Kafka's own retriable errors (no leader, not enough
    replicas, request timed out…), and the producer's timeouts and connection errors. Anything
    else (message too large, invalid topic, authorisation, corrupt record, an unexpected
    exception) is not retried."""
    if isinstance(exc, _ALSO_RETRIABLE):
        return True
    return isinstance(exc, KafkaError) and bool(getattr(exc, "retriable", False))


class ProducerState(Enum):
    STOPPED = "stopped"
    """Not started yet, or stopped."""
    CONNECTED = "connected"
    """Started; the last batch did not fail."""
    FAILING = "failing"
    """Started; the last batch failed (it is being resent)."""
    CLOSING = "closing"
    """Shutting down: failed batches are no longer resent."""


@dataclass(slots=True)
class _Pending:
    """A record accepted into the buffer, waiting for its acknowledgement."""

    record: OutRecord
    size: int
    received_us: int
    origin: object | None
    """What the record was made from, for ``on_undeliverable`` (the pipeline's frame)."""


Undeliverable = Callable[[OutRecord, object | None, str], None]
"""Called with a record that is given up, what it was made from, and why."""


class _Lane:
    """The records of one topic-partition, in the order they were accepted."""

    __slots__ = ("partition", "queue", "task", "topic")

    def __init__(self, topic: str, partition: int) -> None:
        self.topic = topic
        self.partition = partition
        self.queue: deque[_Pending] = deque()
        self.task: asyncio.Task[None] | None = None


class Publisher:
    def __init__(
        self,
        metrics: Metrics,
        *,
        bootstrap_servers: str,
        topic_prefix: str = "",
        client_id: str = "exchange-bridge",
        buffer_max_records: int = 100_000,
        buffer_max_bytes: int = 64 * 1024 * 1024,
        overflow: OverflowPolicy = "block",
        max_record_bytes: int = 1024 * 1024,
        producer_options: dict[str, Any] | None = None,
        stall_seconds: float = 5.0,
        producer_factory: Callable[..., AIOKafkaProducer] = AIOKafkaProducer,
    ) -> None:
        """``max_record_bytes``: a larger record is not sent at all but given up at once (the
        producer's ``max_request_size``). ``producer_factory`` builds the Kafka producer
        (aiokafka's; unit tests pass a stand-in that records and completes batches by hand)."""
        self.metrics = metrics
        self.bootstrap_servers = bootstrap_servers
        self.topic_prefix = topic_prefix
        self.client_id = client_id
        self.buffer = Buffer(buffer_max_records, buffer_max_bytes)
        self.overflow = overflow
        self.max_record_bytes = max_record_bytes
        self.producer_options = producer_options or {}
        self.on_undeliverable: Undeliverable | None = None
        self.delivered = 0
        self.dropped = 0
        self.undeliverable = 0
        self.state = ProducerState.STOPPED
        self._space = asyncio.Event()
        self._empty = asyncio.Event()
        self._empty.set()
        self.stall_seconds = stall_seconds
        metrics.buffer_max_records.set(buffer_max_records)
        metrics.buffer_max_bytes.set(buffer_max_bytes)
        # Read at scrape time: setting gauges per record would cost more than the record.
        metrics.buffer_records.set_function(lambda: self.buffer.records)
        metrics.buffer_bytes.set_function(lambda: self.buffer.bytes)
        # Labelled children looked up once per topic: labels() costs more than inc().
        self._topic_counters: dict[str, tuple[Any, Any]] = {}
        self._producer_factory = producer_factory
        self._producer: AIOKafkaProducer | None = None
        self._last_progress = time.monotonic()
        self._resend_backoff = Backoff(RESEND_INITIAL_SECONDS, RESEND_MAX_SECONDS)
        # Replacing the producer (see _replace_producer): one at a time, counted by generation.
        self._replacing = asyncio.Lock()
        self._generation = 0
        self._closing_producers: set[asyncio.Task[None]] = set()
        # topic -> its partitions, once known; records of a topic not yet known wait, in
        # order, in _unrouted until its partitions are (see _route).
        self._partitions: dict[str, list[int]] = {}
        self._unrouted: dict[str, deque[_Pending]] = {}
        self._routing: dict[str, asyncio.Task[None]] = {}
        self._key_partitions: dict[tuple[str, bytes], int] = {}
        self._lanes: dict[tuple[str, int], _Lane] = {}

    @property
    def buffered_records(self) -> int:
        return self.buffer.records

    @property
    def buffered_bytes(self) -> int:
        return self.buffer.bytes

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self, *, retry_initial: float = 0.5, retry_max: float = 15.0) -> None:
        """Connect the producer, retrying with capped, jittered backoff while Kafka is away."""
        self._producer = await self._connected_producer(
            Backoff(retry_initial, retry_max), check_access=True
        )
        self.state = ProducerState.CONNECTED
        self._last_progress = time.monotonic()
        self.metrics.kafka_up.set_function(lambda: int(self.healthy))
        log.info("connected to Kafka at %s", self.bootstrap_servers)

    async def _connected_producer(
        self, backoff: Backoff, *, check_access: bool = False
    ) -> AIOKafkaProducer:
        while True:
            producer = self._producer_factory(
                bootstrap_servers=self.bootstrap_servers,
                client_id=self.client_id,
                enable_idempotence=True,
                acks="all",
                max_request_size=self.max_record_bytes,
                **self.producer_options,
            )
            try:
                if check_access:
                    await self._check_access()
                await producer.start()
            except KafkaAccessError:
                await producer.stop()
                raise
            except KafkaError as exc:
                await producer.stop()
                delay = backoff.next_delay()
                log.warning(
                    "Kafka at %s not reachable (%s); retrying in %.1f s",
                    self.bootstrap_servers,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            return producer

    async def _replace_producer(self, generation: int, why: BaseException) -> None:
        """A new producer (a new producer id, so sequence numbers start afresh on every
        partition), unless another lane replaced it since ``generation``. Batches still out on
        the old one settle as they will; those that fail are sent again on the new one."""
        async with self._replacing:
            if generation != self._generation:
                return
            old = self._producer
            self._producer = await self._connected_producer(
                Backoff(RESEND_INITIAL_SECONDS, RESEND_MAX_SECONDS)
            )
            self._generation += 1
            self.metrics.producer_resets.inc()
            log.warning(
                "Kafka producer replaced after %s: its sequence numbers no longer matched "
                "the broker's",
                type(why).__name__,
            )
            if old is not None:
                closing = asyncio.get_running_loop().create_task(self._close(old))
                self._closing_producers.add(closing)
                closing.add_done_callback(self._closing_producers.discard)

    async def _close(self, producer: AIOKafkaProducer, timeout: float = 30.0) -> None:
        try:
            await asyncio.wait_for(producer.stop(), timeout)
        except (TimeoutError, KafkaError):
            log.warning("a replaced Kafka producer did not close within %.0f s", timeout)

    async def _check_access(self) -> None:
        """Tell "Kafka is not up yet" (retry) from "Kafka refuses us" (stop). The producer
        reports both as "Unable to bootstrap"; one probe connection tells them apart."""
        options = self.producer_options
        protocol = options.get("security_protocol", "PLAINTEXT")
        if protocol == "PLAINTEXT":
            return
        for server in self.bootstrap_servers.split(","):
            host, _, port = server.strip().rpartition(":")
            try:
                conn = await create_conn(
                    host,
                    int(port),
                    client_id=self.client_id,
                    request_timeout_ms=10_000,
                    ssl_context=options.get("ssl_context"),
                    security_protocol=protocol,
                    sasl_mechanism=options.get("sasl_mechanism"),
                    sasl_plain_username=options.get("sasl_plain_username"),
                    sasl_plain_password=options.get("sasl_plain_password"),
                )
            except SaslAuthenticationFailed as exc:
                raise KafkaAccessError(
                    f"Kafka at {server} refused the SASL credentials "
                    f"(kafka.sasl_username, kafka.sasl_password): {exc}",
                    field="kafka.sasl_password",
                ) from None
            except ssl.SSLCertVerificationError as exc:
                raise KafkaAccessError(
                    f"Kafka at {server} presented a certificate that is not trusted "
                    f"({exc.verify_message}); set kafka.ssl_ca_file to its CA",
                    field="kafka.ssl_ca_file",
                ) from None
            except (OSError, KafkaError, TimeoutError):
                continue  # not reachable now: the caller retries
            conn.close()
            return

    async def flush(self, timeout: float) -> int:
        """Wait until every buffered record is acknowledged, at most ``timeout`` seconds.
        Returns the number of records still undelivered."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._empty.wait(), timeout)
        return self.buffered_records

    async def stop(self, timeout: float = 5.0) -> None:
        """Close the producer. Its own stop waits for every pending batch, forever when the
        broker is gone, so it gets ``timeout`` seconds; records still pending are abandoned
        (they were already reported as undelivered by :meth:`flush`)."""
        self.state = ProducerState.CLOSING
        for task in [
            *self._routing.values(),
            *(lane.task for lane in self._lanes.values()),
            *self._closing_producers,
        ]:
            if task is not None:
                task.cancel()
        if self._producer is not None:
            try:
                await asyncio.wait_for(self._producer.stop(), timeout)
            except TimeoutError:
                log.warning("Kafka producer did not close within %.0f s; abandoning it", timeout)
        self.state = ProducerState.STOPPED

    @property
    def healthy(self) -> bool:
        """Connected, the last batch did not fail, and Kafka is keeping up: records are not
        waiting for an acknowledgement for longer than ``stall_seconds``. (A broker outage
        shows as a stall long before the producer's own request timeout fails a batch.)"""
        stalled = (
            not self.buffer.empty and time.monotonic() - self._last_progress > self.stall_seconds
        )
        return self.state is ProducerState.CONNECTED and not stalled

    # -- accepting records -----------------------------------------------------------------------

    async def send(
        self,
        record: OutRecord,
        received_us: int,
        *,
        force: bool = False,
        origin: object | None = None,
    ) -> bool:
        """Accept one record for Kafka. Returns False only when the drop policy dropped it.
        ``force``: never drop (markers and dead letters: they are how losses are reported).
        ``origin``: what the record was made from, handed to ``on_undeliverable`` if Kafka
        cannot take the record."""
        size = len(record.value) + (len(record.key) if record.key else 0)
        if self.buffer.full(size):
            if self.overflow == "drop" and not force:
                self.dropped += 1
                self.metrics.records_dropped.labels(record.topic).inc()
                return False
            while self.buffer.full(size):
                self._space.clear()
                await self._space.wait()
        self._accept(_Pending(record, size, received_us, origin))
        return True

    def send_nowait(self, record: OutRecord, received_us: int, origin: object = None) -> None:
        """Accept a record whatever the buffer holds: a dead letter that takes the place of a
        record given up (its space was just released), written from inside the publisher."""
        size = len(record.value) + (len(record.key) if record.key else 0)
        self._accept(_Pending(record, size, received_us, origin))

    def _accept(self, pending: _Pending) -> None:
        record = pending.record
        self._counters(record.topic)[0].inc()
        if self.buffer.empty:
            self._last_progress = time.monotonic()  # the wait for an ack starts now
        self.buffer.reserve(pending.size)
        self._empty.clear()
        if pending.size + BATCH_OVERHEAD_BYTES > self.max_record_bytes:
            # The limit is on a whole request; a record this large could never be sent.
            self._give_up(pending, f"record of {pending.size} bytes is over max_record_bytes")
            return
        topic = self.topic_prefix + record.topic
        partitions = self._partitions.get(topic)
        if partitions is None:
            self._unrouted.setdefault(topic, deque()).append(pending)
            if topic not in self._routing:
                self._routing[topic] = asyncio.get_running_loop().create_task(self._route(topic))
            return
        self._lane_append(topic, partitions, pending)

    def _lane_append(self, topic: str, partitions: list[int], pending: _Pending) -> None:
        partition = self._partition_of(topic, partitions, pending.record.key)
        lane = self._lanes.get((topic, partition))
        if lane is None:
            lane = self._lanes[(topic, partition)] = _Lane(topic, partition)
        lane.queue.append(pending)
        if lane.task is None:
            lane.task = asyncio.get_running_loop().create_task(self._drain(lane))

    def _partition_of(self, topic: str, partitions: list[int], key: bytes | None) -> int:
        """Kafka's default partitioner (murmur2 of the key, as the Java client computes it),
        once per key: a key (an instrument, a connection) always maps to the same partition."""
        if key is None:
            return partitions[0]
        found = self._key_partitions.get((topic, key))
        if found is None:
            assert self._producer is not None
            found = self._producer._partitioner(key, partitions, partitions)
            if len(self._key_partitions) < _MAX_REMEMBERED_KEYS:
                self._key_partitions[(topic, key)] = found
        return found

    async def _route(self, topic: str) -> None:
        """Learn a topic's partitions (asking creates the topic where the broker allows it),
        then move its waiting records to their lanes, in order."""
        backoff = Backoff(RESEND_INITIAL_SECONDS, RESEND_MAX_SECONDS)
        while True:
            assert self._producer is not None
            generation = self._generation
            try:
                # Bounded, and asked of the current producer each time: a producer replaced
                # while it waits would never answer.
                partitions = sorted(
                    await asyncio.wait_for(
                        self._producer.partitions_for(topic), METADATA_WAIT_SECONDS
                    )
                )
                break
            except TimeoutError:
                if generation == self._generation:
                    await asyncio.sleep(backoff.next_delay())
                continue
            except KafkaError as exc:
                self.metrics.records_failed.labels(type(exc).__name__).inc()
                if not retriable(exc):
                    waiting = self._unrouted.pop(topic, deque())
                    del self._routing[topic]
                    for pending in waiting:
                        self._give_up(pending, f"{type(exc).__name__}: {exc}")
                    return
                await asyncio.sleep(backoff.next_delay())
        self._partitions[topic] = partitions
        del self._routing[topic]
        for pending in self._unrouted.pop(topic, deque()):
            self._lane_append(topic, partitions, pending)

    # -- delivering ------------------------------------------------------------------------------

    async def _drain(self, lane: _Lane) -> None:
        """Send the lane's records, one batch at a time, until the lane is empty."""
        try:
            while lane.queue:
                await self._deliver(lane, *self._take_batch(lane))
        finally:
            lane.task = None

    def _take_batch(self, lane: _Lane) -> tuple[list[_Pending], Any]:
        """The lane's first records, as many as one batch holds, and that batch."""
        assert self._producer is not None
        builder = self._producer.create_batch()
        taken: list[_Pending] = []
        while lane.queue:
            record = lane.queue[0].record
            if (
                builder.append(
                    key=record.key, value=record.value, timestamp=None, headers=record.headers
                )
                is None
            ):
                break  # full; the first record always fits an empty batch
            taken.append(lane.queue.popleft())
        return taken, builder

    def _build(self, batch: list[_Pending]) -> Any:
        assert self._producer is not None
        builder = self._producer.create_batch()
        for pending in batch:
            record = pending.record
            builder.append(
                key=record.key, value=record.value, timestamp=None, headers=record.headers
            )
        return builder

    async def _deliver(self, lane: _Lane, batch: list[_Pending], builder: Any = None) -> None:
        """Hand ``batch`` (already in ``builder``, if given) to the producer until Kafka takes it
        or gives a reason it never will. Nothing after it on this partition is sent meanwhile."""
        while True:
            generation = self._generation
            assert self._producer is not None
            try:
                future = await self._producer.send_batch(
                    builder or self._build(batch), lane.topic, partition=lane.partition
                )
                builder = None  # a batch handed over is spent: a resend builds a new one
                await future
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - every failure is classified below
                self.metrics.records_failed.labels(type(exc).__name__).inc(len(batch))
                builder = None
                if self.state is ProducerState.CLOSING:
                    return  # what is left is reported as undelivered by flush
                if generation != self._generation:
                    continue  # it went out on a producer replaced since: send it on the new one
                if isinstance(exc, _SEQUENCE_BROKEN):
                    await self._replace_producer(generation, exc)
                    continue
                if retriable(exc):
                    self.state = ProducerState.FAILING
                    delay = self._resend_backoff.next_delay()
                    log.warning(
                        "send of %d record(s) to %s[%d] failed (%s); resending in %.2f s",
                        len(batch),
                        lane.topic,
                        lane.partition,
                        type(exc).__name__,
                        delay,
                    )
                    await asyncio.sleep(delay)
                    continue
                # Refused for good. The batch's sequence numbers are spent all the same, so the
                # next batch to this partition would be out of order: start a new producer now.
                await self._replace_producer(generation, exc)
                if len(batch) > 1:
                    # One record may be what the broker refuses: send each on its own, in
                    # order, so only that one is given up.
                    for pending in batch:
                        await self._deliver(lane, [pending])
                    return
                self._give_up(batch[0], f"{type(exc).__name__}: {exc}")
                return
            self._settle(batch)
            return

    def _settle(self, batch: list[_Pending]) -> None:
        if self.state is ProducerState.FAILING:
            self.state = ProducerState.CONNECTED
            self._resend_backoff.reset()
        now = time.time()
        self._last_progress = time.monotonic()
        self.delivered += len(batch)
        delivered = self._counters(batch[0].record.topic)[1]
        lag = self.metrics.delivery_lag
        released = 0
        for pending in batch:
            lag.observe(max(0.0, now - pending.received_us / 1e6))
            released += pending.size
        delivered.inc(len(batch))
        self._release(len(batch), released)

    def _give_up(self, pending: _Pending, reason: str) -> None:
        """No retry can deliver this record: count it, let its maker dead-letter what it was
        made from, and free its place in the buffer."""
        record = pending.record
        self.undeliverable += 1
        self.metrics.records_undeliverable.labels(record.topic).inc()
        log.error("record for %s given up: %s", record.topic, reason)
        self._release(1, pending.size)
        if self.on_undeliverable is not None:
            self.on_undeliverable(record, pending.origin, reason)

    def _release(self, records: int, size: int) -> None:
        self.buffer.release(size, records)
        if self.buffer.empty:
            self._empty.set()
        self._space.set()

    def _counters(self, topic: str) -> tuple[Any, Any]:
        """(enqueued, delivered) counters of one topic."""
        counters = self._topic_counters.get(topic)
        if counters is None:
            counters = self._topic_counters[topic] = (
                self.metrics.records_enqueued.labels(topic),
                self.metrics.records_delivered.labels(topic),
            )
        return counters

    @property
    def full(self) -> bool:
        return self.buffer.full()
