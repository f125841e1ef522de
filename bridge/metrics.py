"""Every metric the bridge exports, defined in one place (:mod:`bridge.health` serves them).

Only the session and the publisher record metrics; adapters and the codec stay free of
prometheus-client. Label values are bounded by configuration (exchange, connection, channel,
topic) or by the exchange's code tables (code, reason): never an instrument or a connection id.
"""

from __future__ import annotations

import contextlib
from bisect import bisect_left
from collections.abc import Iterable, Sequence

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

SUBSCRIPTION_STATES = ("pending", "subscribed", "failed")

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
        # group mode (cluster.mode: group); no samples in static mode
        self.cluster_member = Gauge(
            "bridge_cluster_member",
            "1 while this instance is a member of its group with an assignment",
            ["group"],
            registry=r,
        )
        self.cluster_connections = Gauge(
            "bridge_cluster_connections",
            "Connections this instance holds: held (assigned to it), releasing (assigned "
            "elsewhere, open until the new holder is subscribed)",
            ["group", "state"],
            registry=r,
        )
        self.cluster_configured = Gauge(
            "bridge_cluster_configured_connections",
            "Enabled connections in this instance's configuration: the group holds each of "
            "them exactly once (alerts compare it with the sum of held over the members)",
            ["group"],
            registry=r,
        )
        self.cluster_epoch = Gauge(
            "bridge_cluster_epoch", "Epoch of the last assignment received", ["group"], registry=r
        )
        self.cluster_rebalances = Counter(
            "bridge_cluster_rebalances_total",
            "Assignments received from the group's leader (one per rebalance)",
            ["group"],
            registry=r,
        )
        self.cluster_takeovers = Counter(
            "bridge_cluster_takeovers_total",
            "Connections taken over, by how: fresh (nobody held it), handover (from a live "
            "holder, no gap), holder_lost (its holder vanished: a gap)",
            ["group", "start"],
            registry=r,
        )
        self.cluster_releases = Counter(
            "bridge_cluster_releases_total",
            "Connections given up: handed_over (closed once the new holder was subscribed), "
            "closed (no successor in time)",
            ["group", "outcome"],
            registry=r,
        )

    def init_connection(self, exchange: str, connection: str, channels: Iterable[str]) -> None:
        """Create every label set a connection will use, at zero, so rates work from the start."""
        self.frames_received.labels(exchange, connection)
        self.connection_attempts.labels(exchange, connection)
        self.connection_up.labels(exchange, connection).set(0)
        self.duplicates.labels(exchange, connection)
        for state in SUBSCRIPTION_STATES:
            self.subscriptions.labels(exchange, connection, state).set(0)
        self.exchange_maintenance.labels(exchange)  # at 0 when new; kept when already known
        for channel in channels:
            self.last_message.labels(exchange, connection, channel)

    def forget_connection(self, exchange: str, connection: str, channels: Iterable[str]) -> None:
        """Remove the gauges of a connection this instance no longer holds (group mode): it is
        up on another instance, and a 0 here would read as down. Counters stay: their history
        is still true."""
        for gauge, labels in (
            (self.connection_up, [(exchange, connection)]),
            (self.subscriptions, [(exchange, connection, s) for s in SUBSCRIPTION_STATES]),
            (self.last_message, [(exchange, connection, c) for c in channels]),
        ):
            for label_values in labels:
                with contextlib.suppress(KeyError):
                    gauge.remove(*label_values)

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


def observe_many(histogram: Histogram, amounts: Sequence[float]) -> None:
    """``histogram.observe(a)`` for every ``a`` in ``amounts``, counting a whole batch at once:
    the publisher settles records a batch at a time, and one observe per record (a lock and a
    bucket walk each) cost more than the rest of the acknowledgement. Uses the client's bucket
    values directly; tests/unit/test_metrics.py checks it against repeated observe()."""
    if not amounts:
        return
    bounds = histogram._upper_bounds
    counts = [0] * len(bounds)
    for amount in amounts:
        counts[bisect_left(bounds, amount)] += 1
    histogram._sum.inc(sum(amounts))
    for bucket, count in zip(histogram._buckets, counts, strict=True):
        if count:
            bucket.inc(count)
