"""Repeated warnings of the Kafka client and the publisher: one line per kind per interval."""

from __future__ import annotations

import logging

from bridge.logs import RepeatSummary


def record(name: str, msg: str, *args: object, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args or None, None)


def test_repeats_within_an_interval_are_counted_and_reported_with_the_next_line() -> None:
    now = [0.0]
    summary = RepeatSummary(interval=10.0, clock=lambda: now[0])
    template = "Unable connect to node with id %s: %s"
    assert summary.filter(record("aiokafka.conn", template, 1, "refused"))
    for second in range(1, 10):
        now[0] = float(second)
        assert not summary.filter(record("aiokafka.conn", template, 1, "refused"))
    now[0] = 10.5
    passed = record("aiokafka.conn", template, 1, "refused")
    assert summary.filter(passed)
    assert passed.getMessage() == (
        "Unable connect to node with id 1: refused [and 9 more like this in 10 s]"
    )
    now[0] = 21.0  # a quiet interval: the next line comes without a count
    quiet = record("aiokafka.conn", template, 1, "refused")
    assert summary.filter(quiet) and quiet.getMessage().endswith("refused")


def test_different_messages_and_other_loggers_are_not_held_back() -> None:
    summary = RepeatSummary(interval=10.0, clock=lambda: 0.0)
    assert summary.filter(record("aiokafka.conn", "a %s", 1))
    assert summary.filter(record("aiokafka.conn", "b %s", 1))
    assert summary.filter(record("bridge.runtime.publisher", "a %s", 1))
    for _ in range(3):  # the session's own lines, and information, always pass
        assert summary.filter(record("bridge.runtime.session", "x", level=logging.WARNING))
        assert summary.filter(record("aiokafka.conn", "a %s", 2, level=logging.INFO))


def test_a_message_with_a_literal_percent_sign_survives_the_count() -> None:
    now = [0.0]
    summary = RepeatSummary(interval=1.0, clock=lambda: now[0])
    summary.filter(record("aiokafka", "100% broken"))
    summary.filter(record("aiokafka", "100% broken"))
    now[0] = 2.0
    passed = record("aiokafka", "100% broken")
    assert summary.filter(passed)
    assert passed.getMessage() == "100% broken [and 1 more like this in 1 s]"
