"""Wiring: settings in, sessions + pipeline + publisher + health server out."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import ssl
from collections.abc import Sequence

from bridge.codec import Codec
from bridge.exchanges import adapter_class
from bridge.exchanges.base import Adapter
from bridge.metrics import HealthServer, Metrics, set_info
from bridge.pipeline import Pipeline
from bridge.publisher import Publisher
from bridge.session import Session, SessionOptions
from bridge.settings import ConnectionSettings, Settings

log = logging.getLogger(__name__)


def shard_of(connection_name: str, shard_count: int) -> int:
    """The shard that holds a connection: rendezvous (highest random weight) hashing, so every
    pod computes the same answer from the config alone, and changing the shard count moves
    only the connections whose winning shard changed."""

    def weight(shard: int) -> int:
        digest = hashlib.blake2b(f"{shard}:{connection_name}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big")

    return max(range(shard_count), key=weight)


def owned_connections(settings: Settings) -> list[ConnectionSettings]:
    shard = settings.shard
    return [
        c
        for c in settings.connections
        if c.enabled and shard_of(c.name, shard.count) == shard.index
    ]


def ssl_context_for(conn: ConnectionSettings) -> ssl.SSLContext | None:
    if not conn.url.startswith("wss://"):
        return None
    context = ssl.create_default_context(cafile=conn.tls.ca_file)
    if not conn.tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class Bridge:
    def __init__(self, settings: Settings, *, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        kafka = settings.kafka
        self.codec = Codec(deadletter_topic=settings.publisher.deadletter_topic)
        producer_options: dict[str, object] = {
            "linger_ms": kafka.linger_ms,
            "max_batch_size": kafka.max_batch_size,
            "request_timeout_ms": kafka.request_timeout_ms,
        }
        if kafka.compression_type:
            producer_options["compression_type"] = kafka.compression_type
        self.publisher = Publisher(
            self.metrics,
            bootstrap_servers=kafka.bootstrap_servers,
            topic_prefix=kafka.topic_prefix,
            client_id=kafka.client_id,
            buffer_max_records=settings.publisher.buffer_max_records,
            buffer_max_bytes=settings.publisher.buffer_max_bytes,
            overflow=settings.publisher.overflow,
            producer_options=producer_options,
        )
        self.pipeline = Pipeline(
            self.codec, self.publisher, self.metrics, raw_topics=settings.publisher.raw_topics
        )
        self.sessions = [self._session(conn) for conn in owned_connections(settings)]
        self.health = HealthServer(
            self.metrics, self.readiness_problems, settings.metrics.host, settings.metrics.port
        )
        set_info(self.metrics, settings.instance_name)
        self.metrics.ready.set_function(lambda: int(not self.readiness_problems()))
        self._init_metrics()

    def _session(self, conn: ConnectionSettings) -> Session:
        cls = adapter_class(conn.exchange)
        credentials = conn.adapter_credentials()
        subscriptions = conn.subscriptions

        def make_adapter() -> Adapter:
            return cls(subscriptions, credentials)

        options = SessionOptions(
            url=conn.url,
            keepalive_seconds=conn.keepalive_seconds or cls.keepalive_seconds,
            idle_timeout_seconds=conn.idle_timeout_seconds,
            connect_timeout_seconds=conn.connect_timeout_seconds,
            reconnect_initial_seconds=conn.reconnect.initial_seconds,
            reconnect_max_seconds=conn.reconnect.max_seconds,
            healthy_after_seconds=conn.reconnect.healthy_after_seconds,
            min_connect_interval_seconds=cls.min_connect_interval_seconds,
            ssl_context=ssl_context_for(conn),
            max_frame_bytes=conn.max_frame_bytes,
        )
        return Session(
            name=conn.name,
            exchange=conn.exchange,
            instance=self.settings.instance_name,
            adapter_factory=make_adapter,
            options=options,
            pipeline=self.pipeline,
            metrics=self.metrics,
        )

    def _init_metrics(self) -> None:
        topics = {self.settings.publisher.deadletter_topic}
        for session in self.sessions:
            self.metrics.init_connection(
                session.exchange, session.name, {d.channel for d in session.destinations}
            )
            topics.update(d.topic for d in session.destinations)
            group = adapter_class(session.exchange).topic_prefix
            topics.update(
                {f"{group}.events", f"{group}.raw"}
                if self.settings.publisher.raw_topics
                else {f"{group}.events"}
            )
        self.metrics.init_topics(sorted(topics))

    def readiness_problems(self) -> list[str]:
        problems = [] if self.publisher.healthy else ["kafka: not connected"]
        problems += [
            f"connection {s.name}: not subscribed" for s in self.sessions if not s.subscribed
        ]
        return problems

    async def run(self, stop: asyncio.Event) -> int:
        """Run until ``stop`` is set, then shut down gracefully. Returns the number of records
        that could not be delivered within the flush deadline."""
        await self.health.start()
        tasks: Sequence[asyncio.Task[None]] = []
        try:
            started = asyncio.ensure_future(self.publisher.start())
            await asyncio.wait(
                {started, asyncio.ensure_future(stop.wait())}, return_when=asyncio.FIRST_COMPLETED
            )
            if not started.done():
                started.cancel()
                return 0
            tasks = [asyncio.create_task(s.run(), name=f"session:{s.name}") for s in self.sessions]
            log.info(
                "bridge running: %d connection(s), instance %s",
                len(self.sessions),
                self.settings.instance_name,
            )
            await stop.wait()
            log.info("stopping: no more reads; flushing to Kafka")
            for session in self.sessions:
                await session.stop()
            await asyncio.gather(*tasks, return_exceptions=True)
            deadline = self.settings.shutdown.flush_timeout_seconds
            undelivered = await self.publisher.flush(deadline)
            if undelivered:
                log.error("%d record(s) not delivered within %.0f s", undelivered, deadline)
            else:
                log.info("all records delivered (%d)", self.publisher.delivered)
            return undelivered
        finally:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(Exception):
                await self.publisher.stop()
            await self.health.stop()
