"""Logging set-up for the commands: one format on stderr, aiokafka's noise turned down, and
repeated warnings summarised.

During a broker outage the Kafka client logs every failed connection attempt (tens of lines a
second), and the publisher one line per failed batch and partition. :class:`RepeatSummary`
lets the first line of a kind through, counts the repeats, and adds the count to the first
line of the next interval: one line per kind per interval, with counts.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

SUMMARY_INTERVAL_SECONDS = 10.0
SUMMARISED_LOGGERS = ("aiokafka", "bridge.runtime.publisher")
"""Loggers (and their children) whose repeated warnings and errors are summarised."""


@dataclass(slots=True)
class _Window:
    started: float
    suppressed: int = 0


class RepeatSummary(logging.Filter):
    """Of the WARNING-or-worse records of :data:`SUMMARISED_LOGGERS` with the same logger and
    message template, one per ``interval`` passes; the rest are counted, and the count is added
    to the next one that passes. Other records pass untouched."""

    def __init__(
        self,
        interval: float = SUMMARY_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.interval = interval
        self.clock = clock
        self._windows: dict[tuple[str, str], _Window] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not record.name.startswith(SUMMARISED_LOGGERS):
            return True
        key = (record.name, str(record.msg))
        now = self.clock()
        window = self._windows.get(key)
        if window is not None and now - window.started < self.interval:
            window.suppressed += 1
            return False
        self._windows[key] = _Window(now)
        if window is not None and window.suppressed:
            text = record.getMessage()
            record.msg = f"{text} [and {window.suppressed} more like this in {self.interval:.0f} s]"
            record.args = None
        return True


class _RedactFrames(logging.Filter):
    """websockets logs every frame's content at DEBUG; ours carry logins and tokens. Keep the
    opcode and size, drop the content."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg in ("> %s", "< %s") and record.args:
            frame = record.args[0] if isinstance(record.args, tuple) else record.args
            opcode = getattr(getattr(frame, "opcode", None), "name", "FRAME")
            size = len(getattr(frame, "data", b""))
            record.msg, record.args = (
                "%s %s [%d bytes, content not logged]",
                (record.msg[0], opcode, size),
            )
        return True


wire_log = logging.getLogger("bridge.wire")
"""The logger the session hands websockets: frames are logged without their content."""
wire_log.addFilter(_RedactFrames())


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", stream=sys.stderr
    )
    summary = RepeatSummary()
    for handler in logging.getLogger().handlers:
        handler.addFilter(summary)
    # aiokafka is chatty at INFO about every metadata refresh, and logs "Topic X not found in
    # cluster metadata" at ERROR for every topic Kafka is about to auto-create.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, logging.getLevelName(level)))
    logging.getLogger("aiokafka.cluster").setLevel(logging.CRITICAL)


def quiet_kafka_clients() -> None:
    """Only aiokafka's critical lines: for a consumer that races the topics' creation on
    purpose (the demo), where its transient retries are noise."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
