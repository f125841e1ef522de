"""Metric definitions: every label set a user will query exists at zero from the start."""

from __future__ import annotations

from bridge.metrics import Metrics


def test_failure_counters_exist_at_zero_so_the_first_event_shows_in_rate() -> None:
    metrics = Metrics()
    metrics.init_topics(["okx.status"])
    text = metrics.render().decode()
    assert 'bridge_deadletter_total{reason="classify"} 0.0' in text
    assert 'bridge_deadletter_total{reason="encode"} 0.0' in text
    assert 'bridge_records_dropped_total{topic="okx.status"} 0.0' in text
    assert 'bridge_records_delivered_total{topic="okx.status"} 0.0' in text
