"""``bridge rebuild``: typed records again, from the frames an ``<exchange>.raw`` topic kept.

After a schema upgrade or a parser fix, history is rewritten by replaying its frames through the
current adapters, codec and pipeline: the same code path as live ingestion (``adapter.receive`` →
:meth:`~bridge.runtime.pipeline.Pipeline.deliver`), fed with what the raw record says about each
frame (connection, connection id, receive time, sequence, instance) instead of a socket. Each
connection id gets a fresh adapter, told ``connection_made`` before its first frame, as the session
does; each configured connection gets the duplicate filter the session had, started afresh where a
bridge process started (a connection id ``<name>#1``).

What comes out, per frame, is what live ingestion wrote for it (the normalized records too, for
the connections the configuration has write them): same topics (under the target
prefix), keys, headers and values. Value bytes are identical when the schema version (and,
with a registry, its id) is the one live ingestion used; with a newer version they differ by
design. Not rebuilt: session markers for disconnects, resubscriptions and handovers (they come
from the socket, not from a frame; resync markers come from frames and are rebuilt) and the raw
topic itself. Re-running over the same range writes the same records again as new Kafka records:
compacted topics and consumers that deduplicate on key and value see no change, others see
duplicates (see docs/SCHEMAS.md).

Needs the bridge configuration the frames were received with: the adapters are built from its
connections' subscriptions (acks and errors are matched to requests by id). A range that starts
in the middle of a connection replays it without the state its earlier frames built; such
connections are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from bridge.avro.decode import WriterSchemas
from bridge.avro.formats import ConfluentEncoder
from bridge.avro.records import Codec
from bridge.avro.registration import register_all, written_topics
from bridge.avro.registry import RegistryClient
from bridge.errors import BridgeError, SchemaError
from bridge.exchanges import adapter_class
from bridge.exchanges.base import Adapter
from bridge.frame import ConnectionInfo, Frame
from bridge.metrics import Metrics
from bridge.normalize.normalizer import Normalizer
from bridge.runtime.pipeline import Pipeline, RecentPushes
from bridge.runtime.publisher import Publisher
from bridge.settings import ConnectionSettings, Settings, load_settings
from bridge.topics import with_prefix

log = logging.getLogger(__name__)

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass
class RebuildReport:
    frames: int = 0
    records: int = 0
    """Records written (handed to Kafka and acknowledged)."""
    undelivered: int = 0
    partial_connections: list[str] = field(default_factory=list)
    """Connection ids whose first frame in the range was not their first frame."""
    unknown_connections: set[str] = field(default_factory=set)
    """Connection names the configuration does not have: their frames were skipped."""
    undecodable: int = 0

    def summary(self) -> str:
        text = (
            f"rebuilt {self.frames} frame(s) into {self.records} record(s)"
            f"{f', {self.undelivered} undelivered' if self.undelivered else ''}"
        )
        if self.partial_connections:
            text += (
                f"; {len(self.partial_connections)} connection(s) started before the range "
                f"(replayed without their earlier state): {', '.join(self.partial_connections)}"
            )
        if self.unknown_connections:
            text += (
                f"; skipped unknown connection(s): {', '.join(sorted(self.unknown_connections))}"
            )
        if self.undecodable:
            text += f"; {self.undecodable} raw record(s) did not decode"
        return text


@dataclass(frozen=True, slots=True)
class RawRange:
    """Which raw records to replay, per partition: offsets ``[start_offset, end_offset)`` and/or
    Kafka record timestamps ``[since_ms, until_ms)``; unset bounds are the topic's ends."""

    since_ms: int | None = None
    until_ms: int | None = None
    start_offset: int | None = None
    end_offset: int | None = None


def micros(value: Any) -> int:
    """A decoded ``timestamp-micros`` back to the integer the codec wrote (exactly)."""
    if isinstance(value, int):
        return value
    return int((value - _EPOCH) // dt.timedelta(microseconds=1))


class _Replayer:
    """The session's part of ingestion, driven by raw records instead of a socket."""

    def __init__(self, connections: Mapping[str, ConnectionSettings], pipeline: Pipeline) -> None:
        self.connections = connections
        self.pipeline = pipeline
        self.report = RebuildReport()
        self._adapters: dict[str, Adapter] = {}
        self._recent: dict[str, RecentPushes] = {}

    async def replay(self, raw: Mapping[str, Any]) -> None:
        name = str(raw["connection"])
        settings = self.connections.get(name)
        if settings is None:
            if name not in self.report.unknown_connections:
                log.warning("raw frames of connection %r: not in the configuration; skipped", name)
            self.report.unknown_connections.add(name)
            return
        connection_id = str(raw["connection_id"])
        sequence = int(raw["sequence"])
        received_us = micros(raw["receive_time"])
        cls = adapter_class(str(raw["exchange"]))
        adapter = self._adapters.get(connection_id)
        if adapter is None or sequence == 1:
            if sequence == 1 and connection_id.endswith("#1"):
                self._recent[name] = RecentPushes()  # a bridge process started here
            elif sequence != 1:
                self.report.partial_connections.append(connection_id)
            adapter = self._adapters[connection_id] = cls(
                settings.subscriptions, settings.adapter_credentials()
            )
            adapter.connection_made(received_us / 1e6)
            adapter.data_to_send()
        data: str | bytes = raw["data"]
        if raw["frame_type"] == "text":
            data = bytes(raw["data"]).decode("utf-8")
        info = ConnectionInfo(
            str(raw["exchange"]), cls.topic_group, name, connection_id, str(raw["bridge_instance"])
        )
        frame = Frame(data, received_us, sequence)
        events = adapter.receive(data, received_us)
        adapter.data_to_send()  # what live ingestion sent back goes nowhere now
        recent = self._recent.setdefault(name, RecentPushes())
        await self.pipeline.deliver(info, frame, events, recent)
        self.report.frames += 1


async def rebuild(
    settings: Settings,
    raw_topic: str,
    *,
    target_prefix: str | None = None,
    selection: RawRange = RawRange(),
    flush_timeout: float = 30.0,
) -> RebuildReport:
    """Replay ``raw_topic`` (its full name, prefix included) into the typed topics under
    ``target_prefix`` (default: ``kafka.topic_prefix``, i.e. the live topics)."""
    kafka = settings.kafka
    prefix = kafka.topic_prefix if target_prefix is None else target_prefix
    registry_settings = settings.schema_registry
    registry = RegistryClient.from_settings(registry_settings) if registry_settings.url else None
    codec = Codec(
        deadletter_topic=settings.publisher.deadletter_topic,
        encoder=ConfluentEncoder() if registry is not None else None,
    )
    if registry is not None and isinstance(codec.encoder, ConfluentEncoder):
        codec.encoder.ids.update(
            await register_all(
                registry,
                written_topics(
                    settings.connections,
                    codec,
                    raw_topics=False,
                    normalized=settings.normalized_connections,
                ),
                topic_prefix=prefix,
                strategy=registry_settings.subject_name_strategy,
                check_compatibility=registry_settings.check_compatibility,
                auto_register=registry_settings.auto_register,
            )
        )
    metrics = Metrics()
    publisher = Publisher(
        metrics,
        bootstrap_servers=kafka.bootstrap_servers,
        topic_prefix=prefix,
        client_id=f"{kafka.client_id}-rebuild",
        producer_options={
            "linger_ms": kafka.linger_ms,
            "max_batch_size": kafka.max_batch_size,
            **kafka.client_options(),
        },
    )
    replayer = _Replayer(
        {c.name: c for c in settings.connections},
        Pipeline(
            codec,
            publisher,
            metrics,
            raw_topics=False,
            normalizer=Normalizer(settings.normalized_connections),
        ),
    )
    schemas = WriterSchemas(
        kafka.bootstrap_servers,
        schemas_topic=with_prefix(kafka.topic_prefix, registry_settings.schemas_topic),
        registry=registry,
        client_options=kafka.client_options(),
    )
    await publisher.start()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers,
        enable_auto_commit=False,
        **kafka.client_options(),
    )
    await consumer.start()
    try:
        bounds = await _bounds(consumer, raw_topic, selection)
        remaining = {tp for tp, (start, end) in bounds.items() if start < end}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, messages in batch.items():
                end = bounds[tp][1]
                for message in messages:
                    if message.offset >= end:
                        break
                    try:
                        _label, raw = await schemas.decode(message.value or b"")
                    except SchemaError as exc:
                        log.warning("%s@%d: %s", tp, message.offset, exc)
                        replayer.report.undecodable += 1
                        continue
                    await replayer.replay(raw)
            for tp in list(remaining):
                if await consumer.position(tp) >= bounds[tp][1]:
                    remaining.discard(tp)
        replayer.report.undelivered = await publisher.flush(flush_timeout)
        replayer.report.records = publisher.delivered
    finally:
        await consumer.stop()
        await publisher.stop()
    return replayer.report


async def _bounds(
    consumer: AIOKafkaConsumer, topic: str, selection: RawRange
) -> dict[TopicPartition, tuple[int, int]]:
    """Per partition, the offsets ``[start, end)`` to replay; seeks the consumer to start."""
    partitions = consumer.partitions_for_topic(topic)
    if partitions is None:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        raise BridgeError(f"raw topic {topic!r} does not exist")
    assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(assigned)
    first = await consumer.beginning_offsets(assigned)
    last = await consumer.end_offsets(assigned)  # a snapshot: the rebuild always ends
    bounds: dict[TopicPartition, tuple[int, int]] = {}
    for tp in assigned:
        start, end = first[tp], last[tp]
        if selection.start_offset is not None:
            start = max(start, selection.start_offset)
        if selection.end_offset is not None:
            end = min(end, selection.end_offset)
        bounds[tp] = (start, end)
    for bound, ms in ((0, selection.since_ms), (1, selection.until_ms)):
        if ms is None:
            continue
        found = await consumer.offsets_for_times({tp: ms for tp in assigned})
        for tp in assigned:
            at = found[tp].offset if found[tp] is not None else last[tp]
            start, end = bounds[tp]
            bounds[tp] = (max(start, at), end) if bound == 0 else (start, min(end, at))
    for tp, (start, _end) in bounds.items():
        consumer.seek(tp, start)
    return bounds


def parse_time(text: str) -> int:
    """``--since``/``--until``: Unix milliseconds, or ISO 8601 (UTC unless it says otherwise)."""
    if text.isdigit():
        return int(text)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a time: {text!r} (Unix milliseconds or ISO 8601)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def run(args: argparse.Namespace) -> int:
    """``bridge rebuild``: 0 when every record was written, 1 when some were not."""
    settings = load_settings(args.config)
    selection = RawRange(
        since_ms=parse_time(args.since) if args.since else None,
        until_ms=parse_time(args.until) if args.until else None,
        start_offset=args.start_offset,
        end_offset=args.end_offset,
    )
    report = asyncio.run(
        rebuild(settings, args.raw_topic, target_prefix=args.target_prefix, selection=selection)
    )
    print(report.summary())
    return 1 if report.undelivered else 0
