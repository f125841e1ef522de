"""Metric definitions: every label set a user will query exists at zero from the start."""

from __future__ import annotations

from bridge.metrics import Metrics, observe_many


def test_failure_counters_exist_at_zero_so_the_first_event_shows_in_rate() -> None:
    metrics = Metrics()
    metrics.init_topics(["okx.status"])
    text = metrics.render().decode()
    assert 'bridge_deadletter_total{reason="classify"} 0.0' in text
    assert 'bridge_deadletter_total{reason="encode"} 0.0' in text
    assert 'bridge_records_dropped_total{topic="okx.status"} 0.0' in text
    assert 'bridge_records_delivered_total{topic="okx.status"} 0.0' in text


def test_observing_a_batch_at_once_equals_observing_each() -> None:
    amounts = [0.0, 0.0004, 0.0005, 0.0006, 0.003, 0.01, 0.5, 7.0, 299.0, 300.0, 301.0, 1e9]
    one_by_one, at_once = Metrics(), Metrics()
    for amount in amounts:
        one_by_one.delivery_lag.observe(amount)
    observe_many(at_once.delivery_lag, amounts)
    observe_many(at_once.delivery_lag, [])

    def lag_samples(metrics: Metrics) -> list[str]:
        text = metrics.render().decode()
        return [
            line
            for line in text.splitlines()
            if line.startswith("bridge_delivery_lag_seconds") and "_created" not in line
        ]

    assert lag_samples(at_once) == lag_samples(one_by_one)
    assert f"bridge_delivery_lag_seconds_count {float(len(amounts))}" in lag_samples(at_once)
