"""Kafka publishing: one idempotent aiokafka producer (acks=all) and a bounded buffer.

The buffer counts records from the moment they are handed to the producer until Kafka
acknowledges them. When it is full the overflow policy applies: ``block`` makes
:meth:`Publisher.send` wait (so the session stops reading its socket and TCP pushes back on the
exchange), ``drop`` drops the record and counts it. A send that fails is retried, after a
jittered delay that grows while sends keep failing, until it is delivered or the bridge shuts
down; the idempotent producer removes the duplicates its own retries could cause.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Callable
from enum import Enum
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaError, SaslAuthenticationFailed

from bridge.avro.records import OutRecord
from bridge.errors import KafkaAccessError
from bridge.metrics import Metrics
from bridge.retry import Backoff
from bridge.runtime.buffer import Buffer, OverflowPolicy

log = logging.getLogger(__name__)

# A failed send is resent after a jittered delay that grows while sends keep failing.
RESEND_INITIAL_SECONDS = 0.5
RESEND_MAX_SECONDS = 5.0


class ProducerState(Enum):
    STOPPED = "stopped"
    """Not started yet, or stopped."""
    CONNECTED = "connected"
    """Started; the last send attempt did not fail."""
    FAILING = "failing"
    """Started; the last send attempt failed (it is being retried)."""
    CLOSING = "closing"
    """Shutting down: failed sends are no longer retried."""


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
        producer_options: dict[str, Any] | None = None,
        stall_seconds: float = 5.0,
        producer_factory: Callable[..., AIOKafkaProducer] = AIOKafkaProducer,
    ) -> None:
        """``producer_factory`` builds the Kafka producer (aiokafka's; unit tests pass a stand-in
        that records and completes sends by hand)."""
        self.metrics = metrics
        self.bootstrap_servers = bootstrap_servers
        self.topic_prefix = topic_prefix
        self.client_id = client_id
        self.buffer = Buffer(buffer_max_records, buffer_max_bytes)
        self.overflow = overflow
        self.producer_options = producer_options or {}
        self.delivered = 0
        self.dropped = 0
        self.state = ProducerState.STOPPED
        self._space = asyncio.Event()
        self._empty = asyncio.Event()
        self._empty.set()
        self.stall_seconds = stall_seconds
        metrics.buffer_max_records.set(buffer_max_records)
        metrics.buffer_max_bytes.set(buffer_max_bytes)
        # Read at scrape time: setting gauges twice per record cost more than the record.
        metrics.buffer_records.set_function(lambda: self.buffer.records)
        metrics.buffer_bytes.set_function(lambda: self.buffer.bytes)
        # Labelled children looked up once per topic: labels() costs more than inc().
        self._topic_counters: dict[str, tuple[Any, Any]] = {}
        self._producer_factory = producer_factory
        self._producer: AIOKafkaProducer | None = None
        self._last_progress = time.monotonic()
        self._resend_backoff = Backoff(RESEND_INITIAL_SECONDS, RESEND_MAX_SECONDS)
        self._retries: set[asyncio.Task[None]] = set()

    @property
    def buffered_records(self) -> int:
        return self.buffer.records

    @property
    def buffered_bytes(self) -> int:
        return self.buffer.bytes

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self, *, retry_initial: float = 0.5, retry_max: float = 15.0) -> None:
        """Connect the producer, retrying with capped, jittered backoff while Kafka is away."""
        backoff = Backoff(retry_initial, retry_max)
        while True:
            producer = self._producer_factory(
                bootstrap_servers=self.bootstrap_servers,
                client_id=self.client_id,
                enable_idempotence=True,
                acks="all",
                **self.producer_options,
            )
            try:
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
            self._producer = producer
            self.state = ProducerState.CONNECTED
            self._last_progress = time.monotonic()
            self.metrics.kafka_up.set_function(lambda: int(self.healthy))
            log.info("connected to Kafka at %s", self.bootstrap_servers)
            return

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
        for task in list(self._retries):
            task.cancel()
        if self._producer is not None:
            try:
                await asyncio.wait_for(self._producer.stop(), timeout)
            except TimeoutError:
                log.warning("Kafka producer did not close within %.0f s; abandoning it", timeout)
        self.state = ProducerState.STOPPED

    @property
    def healthy(self) -> bool:
        """Connected, the last send attempt did not fail, and Kafka is keeping up: records are
        not waiting for an acknowledgement for longer than ``stall_seconds``. (A broker outage
        shows as a stall long before the producer's own request timeout fails a send.)"""
        stalled = (
            not self.buffer.empty and time.monotonic() - self._last_progress > self.stall_seconds
        )
        return self.state is ProducerState.CONNECTED and not stalled

    # -- sending ---------------------------------------------------------------------------------

    async def send(self, record: OutRecord, received_us: int, *, force: bool = False) -> bool:
        """Hand one record to Kafka. Returns False only when the drop policy dropped it.
        ``force``: never drop (markers and dead letters: they are how losses are reported)."""
        size = len(record.value) + (len(record.key) if record.key else 0)
        if self.buffer.full(size):
            if self.overflow == "drop" and not force:
                self.dropped += 1
                self.metrics.records_dropped.labels(record.topic).inc()
                return False
            while self.buffer.full(size):
                self._space.clear()
                await self._space.wait()
        self._reserve(size)
        self._counters(record.topic)[0].inc()
        await self._produce(record, size, received_us)
        return True

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

    def _reserve(self, size: int) -> None:
        if self.buffer.empty:
            self._last_progress = time.monotonic()  # the wait for an ack starts now
        self.buffer.reserve(size)
        self._empty.clear()

    def _release(self, size: int) -> None:
        self.buffer.release(size)
        if self.buffer.empty:
            self._empty.set()
        self._space.set()

    async def _produce(self, record: OutRecord, size: int, received_us: int) -> None:
        assert self._producer is not None, "Publisher.start() must run first"
        topic = self.topic_prefix + record.topic
        try:
            future = await self._producer.send(
                topic, record.value, key=record.key, headers=record.headers
            )
        except KafkaError as exc:
            self._failed(record, size, received_us, exc)
            return
        future.add_done_callback(lambda f: self._on_done(f, record, size, received_us))

    def _on_done(
        self, future: asyncio.Future[Any], record: OutRecord, size: int, received_us: int
    ) -> None:
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None:
            self._failed(record, size, received_us, exc)
            return
        if self.state is ProducerState.FAILING:
            self.state = ProducerState.CONNECTED
            self._resend_backoff.reset()
        self._last_progress = time.monotonic()
        self.delivered += 1
        self._counters(record.topic)[1].inc()
        self.metrics.delivery_lag.observe(max(0.0, time.time() - received_us / 1e6))
        self._release(size)

    def _failed(self, record: OutRecord, size: int, received_us: int, exc: BaseException) -> None:
        self.metrics.records_failed.labels(type(exc).__name__).inc()
        if self.state is not ProducerState.CONNECTED and self.state is not ProducerState.FAILING:
            return  # closing: what is still unsent is reported by flush
        self.state = ProducerState.FAILING
        delay = self._resend_backoff.next_delay()
        log.warning("send to %s failed (%s); retrying in %.2f s", record.topic, exc, delay)
        self._spawn(self._retry(record, size, received_us, delay))

    async def _retry(self, record: OutRecord, size: int, received_us: int, delay: float) -> None:
        await asyncio.sleep(delay)
        await self._produce(record, size, received_us)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._retries.add(task)
        task.add_done_callback(self._retries.discard)
