"""Wiring: settings in, sessions + pipeline + publisher + health server out.

Which connections this instance holds depends on ``cluster.mode``: in static mode its shard's
(``bridge.sharding``), all built at start; in group mode whatever the group assigns it, started
and stopped while it runs by :class:`~bridge.cluster.runner.ClusterRunner`, for which the
bridge is the :class:`~bridge.cluster.runner.Host`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import ssl
import time

from bridge.admin import ensure_compacted_topic
from bridge.avro.formats import ConfluentEncoder
from bridge.avro.records import Codec
from bridge.avro.registration import (
    register_all,
    schema_record,
    written_topics,
)
from bridge.avro.registry import RegistryClient
from bridge.cluster.holdings import Start
from bridge.cluster.runner import ClusterRunner
from bridge.exchanges import adapter_class
from bridge.exchanges.base import Adapter
from bridge.health import HealthServer
from bridge.metrics import Metrics, set_info
from bridge.normalize.normalizer import Normalizer, normalized_destinations
from bridge.runtime.link import Continuity
from bridge.runtime.pipeline import Pipeline
from bridge.runtime.publisher import Publisher
from bridge.runtime.session import ConnectLimiter, Session, SessionOptions
from bridge.settings import ConnectionSettings, Settings
from bridge.sharding import owned_connections
from bridge.topics import CLUSTER_TOPIC, group_topics, with_prefix

log = logging.getLogger(__name__)

# How a session's first full subscription is marked, by how it took its connection.
_FIRST_MARKER = {
    Start.FRESH: ("resubscribed", "started"),
    Start.HANDOVER: ("handover", "taken_over"),
    Start.HOLDER_LOST: ("resubscribed", "holder_lost"),
}


# The cyclic garbage collector's thresholds once the bridge runs (gen 0, 1, 2); see tune_gc().
GC_THRESHOLDS = (20_000, 50, 100)


def tune_gc() -> None:
    """Take what start-up built out of the garbage collector's sight, and collect less often.

    Measured under the OKX books firehose (bench/perf, load average 3.6-7, 2 cores): with the
    interpreter's defaults the collector took 12-18 % of the bridge's CPU, mostly full
    collections walking the ~56,000 objects start-up leaves (modules, parsed schemas, the
    settings) five times per 4 s window, each pausing every connection for 125-550 ms. Those
    objects live as long as the process, so they are frozen (gc.freeze); per-frame objects die
    by reference counting, so young collections run every 20,000 net allocations instead of
    700. With both the collector took 3.5-5 %, with no full collection in the window."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def ssl_context_for(conn: ConnectionSettings) -> ssl.SSLContext | None:
    if not conn.url.startswith("wss://"):
        return None
    context = ssl.create_default_context(cafile=conn.tls.ca_file)
    if not conn.tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class Bridge:
    def __init__(
        self, settings: Settings, *, metrics: Metrics | None = None, gc_tuning: bool = False
    ) -> None:
        """``gc_tuning``: :func:`tune_gc` once started (``bridge run``; it changes the whole
        process's collector, so a bridge embedded elsewhere, tests included, leaves it off)."""
        self.settings = settings
        self.gc_tuning = gc_tuning
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
            self.codec,
            self.publisher,
            self.metrics,
            raw_topics=settings.publisher.raw_topics,
            normalizer=Normalizer(settings.normalized_connections),
        )
        # one per exchange: its connection rate limit is per IP, whatever the connection
        self._limiters: dict[str, ConnectLimiter] = {}
        self._sessions: dict[str, Session] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._ended_frames = 0  # frames of sessions stopped at run time (group mode)
        self.cluster: ClusterRunner | None = None
        if settings.cluster.mode == "group":
            self.candidates = settings.enabled_connections
            self.cluster = self._cluster_runner()
        else:
            self.candidates = owned_connections(settings)
            for conn in self.candidates:
                self._sessions[conn.name] = self._session(conn)
        self.health = HealthServer(
            self.metrics, self.readiness_problems, settings.metrics.host, settings.metrics.port
        )
        set_info(self.metrics, settings.instance_name)
        self.metrics.ready.set_function(lambda: int(not self.readiness_problems()))
        self._init_metrics()

    @property
    def sessions(self) -> list[Session]:
        """The sessions this instance holds now (in group mode they come and go)."""
        return list(self._sessions.values())

    def _cluster_runner(self) -> ClusterRunner:
        kafka, cluster = self.settings.kafka, self.settings.cluster
        return ClusterRunner(
            self,
            self.metrics,
            connections=[c.name for c in self.candidates],
            instance=self.settings.instance_name,
            group_id=cluster.group_id,
            topic=with_prefix(kafka.topic_prefix, CLUSTER_TOPIC),
            bootstrap_servers=kafka.bootstrap_servers,
            client_id=kafka.client_id,
            client_options=kafka.client_options(),
            session_timeout_ms=cluster.session_timeout_ms,
            heartbeat_interval_ms=cluster.heartbeat_interval_ms,
            handover_timeout_seconds=cluster.handover_timeout_seconds,
        )

    def _session(self, conn: ConnectionSettings, start: Start = Start.FRESH) -> Session:
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
            continuity=Continuity(_FIRST_MARKER[start]),
            opening_gap="holder_lost" if start is Start.HOLDER_LOST else None,
        )

    # -- the Host of the cluster runner: sessions started and stopped at run time ---------------

    def start_session(self, connection: str, start: Start) -> asyncio.Event:
        session = self._session(self._candidate(connection), start)
        self._sessions[connection] = session
        self._init_connection_metrics(session)
        self._tasks[connection] = asyncio.get_running_loop().create_task(
            session.run(), name=f"session:{connection}"
        )
        return session.first_subscribed

    def first_subscribed(self, connection: str) -> asyncio.Event:
        return self._sessions[connection].first_subscribed

    async def stop_session(self, connection: str, *, handed_over: bool) -> None:
        session = self._sessions.get(connection)
        task = self._tasks.get(connection)
        if session is None:
            return
        await session.stop(handed_over=handed_over)
        if task is not None:
            # A session blocked by a full buffer finishes its frame first; not forever.
            _, pending = await asyncio.wait(
                {task}, timeout=self.settings.shutdown.flush_timeout_seconds
            )
            for late in pending:
                late.cancel()
        # Gone from this instance: its gauges would say "down" while another holds it.
        self._ended_frames += session.frames
        del self._sessions[connection]
        self._tasks.pop(connection, None)
        self.metrics.forget_connection(
            session.exchange, session.name, {d.channel for d in session.destinations}
        )

    def _candidate(self, name: str) -> ConnectionSettings:
        return next(c for c in self.candidates if c.name == name)

    def _limiter(self, cls: type[Adapter]) -> ConnectLimiter | None:
        if cls.connect_limit is None:
            return None
        if cls.exchange not in self._limiters:
            self._limiters[cls.exchange] = ConnectLimiter(*cls.connect_limit)
        return self._limiters[cls.exchange]

    def _init_metrics(self) -> None:
        topics = {self.settings.publisher.deadletter_topic}
        for conn in self.candidates:
            cls = adapter_class(conn.exchange)
            destinations = cls.destinations(conn.subscriptions)
            topics.update(d.topic for d in destinations)
            if self.settings.normalizes(conn):
                topics.update(d.topic for d in normalized_destinations(conn.exchange, destinations))
            topics.update(
                group_topics(cls.topic_group, raw_topics=self.settings.publisher.raw_topics)
            )
        self.metrics.init_topics(sorted(topics))
        # In group mode a connection's label sets appear where it is held, when it is taken.
        for session in self.sessions:
            self._init_connection_metrics(session)

    def _init_connection_metrics(self, session: Session) -> None:
        self.metrics.init_connection(
            session.exchange, session.name, {d.channel for d in session.destinations}
        )

    def readiness_problems(self) -> list[str]:
        problems = [] if self.publisher.healthy else ["kafka: not connected"]
        held = set(self._sessions)
        if self.cluster is not None:
            problems += self.cluster.problems()
            held = set(self.cluster.held) & set(self._sessions)
        problems += [
            f"connection {name}: not subscribed"
            for name in sorted(held)
            if not self._sessions[name].subscribed
        ]
        return problems

    async def _shut_down(self) -> int:
        """Stop reading, then wait for Kafka to acknowledge everything read, within the
        deadline. Returns how many records (at least) were not delivered."""
        deadline = self.settings.shutdown.flush_timeout_seconds
        ends_at = time.monotonic() + deadline
        tasks = list(self._tasks.values())
        for session in self.sessions:
            await session.stop()
        _, still_delivering = await asyncio.wait(tasks, timeout=deadline) if tasks else ((), ())
        frames = self._ended_frames + sum(s.frames for s in self.sessions)
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
            self.candidates,
            self.codec,
            raw_topics=self.settings.publisher.raw_topics,
            normalized=self.settings.normalized_connections,
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
            await ensure_compacted_topic(
                kafka.bootstrap_servers,
                with_prefix(kafka.topic_prefix, registry.schemas_topic),
                kafka.client_id,
                what="schemas topic",
                client_options=kafka.client_options(),
            )
            for schema in {s.fingerprint: s for s in topics.values()}.values():
                record = schema_record(registry.schemas_topic, schema)
                await self.publisher.send(record, time.time_ns() // 1000)

    async def run(self, stop: asyncio.Event) -> int:
        """Run until ``stop`` is set, then shut down gracefully. Returns the number of records
        that could not be delivered within the flush deadline."""
        await self.health.start()
        try:
            started = asyncio.ensure_future(self._start())
            await asyncio.wait(
                {started, asyncio.ensure_future(stop.wait())}, return_when=asyncio.FIRST_COMPLETED
            )
            if not started.done():
                started.cancel()
                return 0
            started.result()  # an incompatible schema ends the run here, before any session
            if self.gc_tuning:
                tune_gc()
            await stop.wait()
            if self.cluster is not None:
                # Hand every connection over to the other members first (make-before-break).
                await self.cluster.leave(self.settings.cluster.handover_timeout_seconds + 1)
                await self.cluster.stop()
            return await self._shut_down()
        finally:
            for task in self._tasks.values():
                task.cancel()
            if self.cluster is not None:
                with contextlib.suppress(Exception):
                    await self.cluster.stop()
            with contextlib.suppress(Exception):
                # what the flush could not deliver is reported already: do not wait for it
                await self.publisher.stop(timeout=1.0 if self.publisher.buffered_records else 5.0)
            await self.health.stop()

    async def _start(self) -> None:
        await self._prepare_schemas()
        if self.cluster is not None:
            await self.cluster.start()
            log.info(
                "bridge running in group %s: %d connection(s) configured, instance %s",
                self.settings.cluster.group_id,
                len(self.candidates),
                self.settings.instance_name,
            )
            return
        for name, session in self._sessions.items():
            self._tasks[name] = asyncio.create_task(session.run(), name=f"session:{name}")
        log.info(
            "bridge running: %d connection(s), instance %s",
            len(self._sessions),
            self.settings.instance_name,
        )
