"""Every metric the bridge exports, defined in one place (:mod:`bridge.health` serves them).

Only the session and the publisher record metrics; adapters and the codec stay free of
prometheus-client. Label values are bounded by configuration (exchange, connection, channel,
topic) or by the exchange's code tables (code, reason): never an instrument or a connection id.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from bridge import __version__

# Exchange and delivery latencies span sub-millisecond to minutes (maintenance, outages).
DEADLETTER_STAGES = ("classify", "encode", "deliver")
"""Where a frame can fail: the adapter did not understand it, it did not fit its schema, or
Kafka refused one of its records for good (too large, invalid topic, not authorised)."""

LAG_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    300,
)


class Metrics:
    """The bridge's metrics, on a registry of their own (one per bridge, so a test process
    can run several)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        conn = ["exchange", "connection"]
        # not "instance": Prometheus sets that label on every scraped series itself
        self.info = Gauge(
            "bridge_info",
            "Build and instance information",
            ["version", "bridge_instance"],
            registry=r,
        )
        self.ready = Gauge(
            "bridge_ready",
            "1 when Kafka is reachable and every connection is subscribed",
            registry=r,
        )
        self.frames_received = Counter(
            "bridge_frames_received_total", "WebSocket frames received", conn, registry=r
        )
        self.bytes_received = Counter(
            "bridge_received_bytes_total", "WebSocket payload bytes received", conn, registry=r
        )
        self.events = Counter(
            "bridge_events_total",
            "Events classified from frames, by event type",
            [*conn, "type"],
            registry=r,
        )
        self.connection_attempts = Counter(
            "bridge_connection_attempts_total", "WebSocket connection attempts", conn, registry=r
        )
        self.reconnects = Counter(
            "bridge_reconnects_total",
            "Connections lost or replaced, by reason",
            [*conn, "reason"],
            registry=r,
        )
        self.connection_up = Gauge(
            "bridge_connection_up", "1 while the WebSocket connection is open", conn, registry=r
        )
        self.subscriptions = Gauge(
            "bridge_subscriptions",
            "Configured subscriptions by state (pending, subscribed, failed)",
            [*conn, "state"],
            registry=r,
        )
        self.exchange_errors = Counter(
            "bridge_exchange_errors_total",
            "Errors reported by the exchange, by code",
            ["exchange", "code"],
            registry=r,
        )
        self.exchange_maintenance = Gauge(
            "bridge_exchange_maintenance",
            "1 while the exchange announces maintenance",
            ["exchange"],
            registry=r,
        )
        self.last_message = Gauge(
            "bridge_last_message_timestamp_seconds",
            "Receive time of the last push per channel",
            [*conn, "channel"],
            registry=r,
        )
        self.event_lag = Histogram(
            "bridge_event_lag_seconds",
            "Receive time minus the exchange's event time",
            ["exchange", "channel"],
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.duplicates = Counter(
            "bridge_duplicates_dropped_total",
            "Pushes dropped because an overlapping connection already delivered them",
            conn,
            registry=r,
        )
        self.resyncs = Counter(
            "bridge_resyncs_total",
            "Channels resubscribed because their data was inconsistent",
            [*conn, "channel", "reason"],
            registry=r,
        )
        self.deadletters = Counter(
            "bridge_deadletter_total",
            "Frames written to the dead-letter topic, by failing stage",
            ["reason"],
            registry=r,
        )
        # publisher
        self.records_enqueued = Counter(
            "bridge_records_enqueued_total",
            "Records handed to the Kafka producer",
            ["topic"],
            registry=r,
        )
        self.records_delivered = Counter(
            "bridge_records_delivered_total", "Records acknowledged by Kafka", ["topic"], registry=r
        )
        self.records_failed = Counter(
            "bridge_records_failed_total",
            "Record send attempts that failed (the record is retried)",
            ["reason"],
            registry=r,
        )
        self.records_undeliverable = Counter(
            "bridge_records_undeliverable_total",
            "Records given up because Kafka refused them for good (too large, invalid topic, "
            "not authorised); their frames are dead-lettered",
            ["topic"],
            registry=r,
        )
        self.producer_resets = Counter(
            "bridge_kafka_producer_resets_total",
            "Kafka producers replaced because the broker no longer accepted their sequence "
            "numbers (after a batch it refused for good)",
            registry=r,
        )
        self.records_dropped = Counter(
            "bridge_records_dropped_total",
            "Records dropped by the drop overflow policy",
            ["topic"],
            registry=r,
        )
        self.delivery_lag = Histogram(
            "bridge_delivery_lag_seconds",
            "Kafka acknowledgement time minus frame receive time",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.buffer_records = Gauge(
            "bridge_buffer_records", "Records enqueued and not yet acknowledged", registry=r
        )
        self.buffer_max_records = Gauge(
            "bridge_buffer_max_records", "Capacity of the buffer in records", registry=r
        )
        self.buffer_max_bytes = Gauge(
            "bridge_buffer_max_bytes", "Capacity of the buffer in bytes", registry=r
        )
        self.buffer_bytes = Gauge(
            "bridge_buffer_bytes", "Bytes of records enqueued and not yet acknowledged", registry=r
        )
        self.kafka_up = Gauge(
            "bridge_kafka_up", "1 while the Kafka producer is connected", registry=r
        )

    def init_connection(self, exchange: str, connection: str, channels: Iterable[str]) -> None:
        """Create every label set a connection will use, at zero, so rates work from the start."""
        self.frames_received.labels(exchange, connection)
        self.connection_attempts.labels(exchange, connection)
        self.connection_up.labels(exchange, connection).set(0)
        self.duplicates.labels(exchange, connection)
        for state in ("pending", "subscribed", "failed"):
            self.subscriptions.labels(exchange, connection, state).set(0)
        self.exchange_maintenance.labels(exchange).set(0)
        for channel in channels:
            self.last_message.labels(exchange, connection, channel)

    def init_topics(self, topics: Iterable[str]) -> None:
        for topic in topics:
            self.records_enqueued.labels(topic)
            self.records_delivered.labels(topic)
            self.records_dropped.labels(topic)
            self.records_undeliverable.labels(topic)
        for stage in DEADLETTER_STAGES:
            self.deadletters.labels(stage)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def set_info(metrics: Metrics, instance: str) -> None:
    metrics.info.labels(__version__, instance).set(1)
