"""Wiring: settings in, sessions + pipeline + publisher + health server out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Sequence

from bridge.avro.formats import ConfluentEncoder
from bridge.avro.records import Codec
from bridge.avro.registration import (
    ensure_schemas_topic,
    register_all,
    schema_record,
    written_topics,
)
from bridge.avro.registry import RegistryClient
from bridge.exchanges import adapter_class
from bridge.exchanges.base import Adapter
from bridge.health import HealthServer
from bridge.metrics import Metrics, set_info
from bridge.runtime.pipeline import Pipeline
from bridge.runtime.publisher import Publisher
from bridge.runtime.session import ConnectLimiter, Session, SessionOptions
from bridge.settings import ConnectionSettings, Settings
from bridge.sharding import owned_connections
from bridge.topics import group_topics, with_prefix

log = logging.getLogger(__name__)


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
        # With a registry, the encoder's ids are filled at start by _prepare_schemas().
        self.codec = Codec(
            deadletter_topic=settings.publisher.deadletter_topic,
            encoder=ConfluentEncoder() if settings.schema_registry.url else None,
        )
        producer_options: dict[str, object] = {
            "linger_ms": kafka.linger_ms,
            "max_batch_size": kafka.max_batch_size,
            "request_timeout_ms": kafka.request_timeout_ms,
        }
        if kafka.compression_type:
            producer_options["compression_type"] = kafka.compression_type
        producer_options.update(kafka.client_options())
        self.publisher = Publisher(
            self.metrics,
            bootstrap_servers=kafka.bootstrap_servers,
            topic_prefix=kafka.topic_prefix,
            client_id=kafka.client_id,
            buffer_max_records=settings.publisher.buffer_max_records,
            buffer_max_bytes=settings.publisher.buffer_max_bytes,
            overflow=settings.publisher.overflow,
            max_record_bytes=kafka.max_request_size,
            producer_options=producer_options,
        )
        self.pipeline = Pipeline(
            self.codec, self.publisher, self.metrics, raw_topics=settings.publisher.raw_topics
        )
        # one per exchange: its connection rate limit is per IP, whatever the connection
        self._limiters: dict[str, ConnectLimiter] = {}
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
            connect_limiter=self._limiter(cls),
            ssl_context=ssl_context_for(conn),
            max_frame_bytes=conn.max_frame_bytes,
        )
        return Session(
            name=conn.name,
            exchange=conn.exchange,
            instance=self.settings.instance_name,
            adapter_factory=make_adapter,
            destinations=cls.destinations(subscriptions),
            options=options,
            pipeline=self.pipeline,
            metrics=self.metrics,
        )

    def _limiter(self, cls: type[Adapter]) -> ConnectLimiter | None:
        if cls.connect_limit is None:
            return None
        if cls.exchange not in self._limiters:
            self._limiters[cls.exchange] = ConnectLimiter(*cls.connect_limit)
        return self._limiters[cls.exchange]

    def _init_metrics(self) -> None:
        topics = {self.settings.publisher.deadletter_topic}
        for session in self.sessions:
            self.metrics.init_connection(
                session.exchange, session.name, {d.channel for d in session.destinations}
            )
            topics.update(d.topic for d in session.destinations)
            group = adapter_class(session.exchange).topic_group
            topics.update(group_topics(group, raw_topics=self.settings.publisher.raw_topics))
        self.metrics.init_topics(sorted(topics))

    def readiness_problems(self) -> list[str]:
        problems = [] if self.publisher.healthy else ["kafka: not connected"]
        problems += [
            f"connection {s.name}: not subscribed" for s in self.sessions if not s.subscribed
        ]
        return problems

    async def _shut_down(self, tasks: Sequence[asyncio.Task[None]]) -> int:
        """Stop reading, then wait for Kafka to acknowledge everything read, within the
        deadline. Returns how many records (at least) were not delivered."""
        deadline = self.settings.shutdown.flush_timeout_seconds
        ends_at = time.monotonic() + deadline
        for session in self.sessions:
            await session.stop()
        _, still_delivering = await asyncio.wait(tasks, timeout=deadline) if tasks else ((), ())
        frames = sum(s.frames for s in self.sessions)
        log.info(
            "stopped reading: %d frame(s) received; waiting for Kafka to acknowledge %d record(s)",
            frames,
            self.publisher.buffered_records,
        )
        undelivered = await self.publisher.flush(max(0.0, ends_at - time.monotonic()))
        # a session still blocked handing a frame to the publisher holds at least one record
        undelivered += len(still_delivering)
        if undelivered:
            log.error(
                "%d record(s) not delivered within the %.0f s flush deadline", undelivered, deadline
            )
        else:
            log.info("all %d record(s) delivered", self.publisher.delivered)
        return undelivered

    async def _prepare_schemas(self) -> None:
        """Make every schema the bridge writes findable by consumers, then start the publisher.

        With a registry: register (or look up) each topic's value schema and give the ids to
        the codec, refusing an incompatible schema (IncompatibleSchemaError, exit code 2) unless
        ``check_compatibility`` is off; an unreachable registry is retried until it answers.
        Without one: publish each schema to the compacted schemas topic, keyed by fingerprint.
        """
        registry = self.settings.schema_registry
        topics = written_topics(
            owned_connections(self.settings),
            self.codec,
            raw_topics=self.settings.publisher.raw_topics,
        )
        if isinstance(self.codec.encoder, ConfluentEncoder):
            ids = await register_all(
                RegistryClient.from_settings(registry, attempts=None),
                topics,
                topic_prefix=self.settings.kafka.topic_prefix,
                strategy=registry.subject_name_strategy,
                check_compatibility=registry.check_compatibility,
                auto_register=registry.auto_register,
            )
            self.codec.encoder.ids.update(ids)
            log.info("schema registry %s: %d topic schema(s) registered", registry.url, len(ids))
        await self.publisher.start()
        if not isinstance(self.codec.encoder, ConfluentEncoder):
            kafka = self.settings.kafka
            await ensure_schemas_topic(
                kafka.bootstrap_servers,
                with_prefix(kafka.topic_prefix, registry.schemas_topic),
                kafka.client_id,
                client_options=kafka.client_options(),
            )
            for schema in {s.fingerprint: s for s in topics.values()}.values():
                record = schema_record(registry.schemas_topic, schema)
                await self.publisher.send(record, time.time_ns() // 1000)

    async def run(self, stop: asyncio.Event) -> int:
        """Run until ``stop`` is set, then shut down gracefully. Returns the number of records
        that could not be delivered within the flush deadline."""
        await self.health.start()
        tasks: Sequence[asyncio.Task[None]] = []
        try:
            started = asyncio.ensure_future(self._prepare_schemas())
            await asyncio.wait(
                {started, asyncio.ensure_future(stop.wait())}, return_when=asyncio.FIRST_COMPLETED
            )
            if not started.done():
                started.cancel()
                return 0
            started.result()  # an incompatible schema ends the run here, before any session
            tasks = [asyncio.create_task(s.run(), name=f"session:{s.name}") for s in self.sessions]
            log.info(
                "bridge running: %d connection(s), instance %s",
                len(self.sessions),
                self.settings.instance_name,
            )
            await stop.wait()
            return await self._shut_down(tasks)
        finally:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(Exception):
                # what the flush could not deliver is reported already: do not wait for it
                await self.publisher.stop(timeout=1.0 if self.publisher.buffered_records else 5.0)
            await self.health.stop()
