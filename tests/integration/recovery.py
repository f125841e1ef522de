"""Measuring how a connection recovers from a fault, for the tests that inject faults into the
simulators (test_reconnects.py, test_rate_limits.py, test_maintenance.py).

``measure_recovery`` reads the raw and channel topics back until the subscriptions are restored
after the fault and the new connection pushed, checks the markers (``disconnected`` with the
expected reason before ``resubscribed``/``reconnected``, or a ``handover`` and no gap), and
records the times from the fault: to the ``disconnected`` marker (detect), to the
``resubscribed`` or ``handover`` marker, and to the first push on the new connection. The
session ends with a table of every figure taken (conftest.py prints ``RESULTS``).

Timings: ``receive_time`` of the records in Kafka (raw topic for the first push, channel topic
for the markers) against the test's wall clock at the moment it injected the fault.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from bridge.avro.decode import TailedRecord
from bridge.runtime.app import Bridge
from tests.integration.exchanges import EXCHANGES, Exchange
from tests.integration.harness import Found, micros, payload_kind, read_topics, sample

RECONNECT = {"initial_seconds": 1.0, "max_seconds": 2.0, "healthy_after_seconds": 0.5}
"""The default initial backoff (1 s), a short cap, and a connection that lived 0.5 s counts as
healthy: every fault starts from the first backoff step, as after a long-lived connection."""
TOLERANCE = 0.015
"""Seconds: polling and scheduling slack on a timing assertion."""


@dataclass
class Recovery:
    exchange: str
    fault: str
    reason: str
    attempts: int
    detected_ms: float | None
    """Fault → ``disconnected`` marker (the bridge noticed); None for a handover."""
    resubscribed_ms: float
    """Fault → ``resubscribed`` (or ``handover``) marker: every subscription acked again."""
    first_push_ms: float
    """Fault → first push received on the new connection."""


RESULTS: list[Recovery] = []


def format_table(rows: list[Recovery]) -> str:
    floors = {e.name: e.floor for e in EXCHANGES}

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:8.0f}"

    lines = [
        f"{'exchange':8} {'fault':34} {'reason':20} {'att':>3} {'detect':>8} "
        f"{'resub':>8} {'1st push':>8}  floor",
    ]
    for r in rows:
        lines.append(
            f"{r.exchange:8} {r.fault:34} {r.reason:20} {r.attempts:3d} {ms(r.detected_ms):>8} "
            f"{ms(r.resubscribed_ms)} {ms(r.first_push_ms)}  {floors[r.exchange]:.2f} s"
        )
    return "\n".join(lines)


def attempts(bridge: Bridge, exchange: Exchange, connection: str) -> int:
    return int(
        sample(
            bridge,
            "bridge_connection_attempts_total",
            exchange=exchange.name,
            connection=connection,
        )
    )


def reconnects(bridge: Bridge, exchange: Exchange, connection: str, reason: str) -> int:
    return int(
        sample(
            bridge,
            "bridge_reconnects_total",
            exchange=exchange.name,
            connection=connection,
            reason=reason,
        )
    )


def free_port() -> int:
    """A loopback port nobody listens on (bound, then closed): connecting to it is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Handshakes:
    """Every WebSocket handshake a simulator saw (monotonic time); the next ``reject`` ones are
    answered HTTP 429, as a server enforcing a connection rate limit does."""

    times: list[float] = field(default_factory=list)
    reject: int = 0
    rejected: int = 0


def record_handshakes(sim: Any) -> Handshakes:
    """Instrument a simulator before start(): its handshake hook records, and may reject."""
    log = Handshakes()
    check_path = sim._check_path

    def check(connection: Any, request: Any) -> Any:
        log.times.append(time.monotonic())
        if log.reject > 0:
            log.reject -= 1
            log.rejected += 1
            return connection.respond(HTTPStatus.TOO_MANY_REQUESTS, "Too Many Requests\n")
        return check_path(connection, request)

    sim._check_path = check
    return log


def markers_after(records: list[TailedRecord], since_us: int) -> list[tuple[int, str, str]]:
    """(receive time, kind, reason) of the session markers written at or after ``since_us``."""
    found = []
    for r in records:
        if payload_kind(r) == "SessionMarker" and micros(r.value["receive_time"]) >= since_us:
            payload = r.value["payload"][1]
            found.append((micros(r.value["receive_time"]), payload["kind"], payload["reason"]))
    return sorted(found)


async def measure_recovery(
    bootstrap: str,
    prefix: str,
    *,
    exchange: Exchange,
    connection: str,
    channel_topic: str,
    fault: str,
    fault_us: int | None,
    reason: str,
    handover: bool = False,
) -> Recovery:
    """Read the raw and channel topics until the subscriptions are restored after the fault and
    the new connection pushed; check the markers; record and return the timings. ``fault_us``
    None: the fault is the server's own close, timed by the ``disconnected`` marker."""
    raw_topic = f"{exchange.group}.raw"
    topic = channel_topic
    resumed_kind = "handover" if handover else "resubscribed"

    def start_us(found: Found) -> int | None:
        if fault_us is not None:
            return fault_us
        gone = [t for t, kind, _ in markers_after(found[topic], 0) if kind == "disconnected"]
        return gone[0] if gone else None

    def first_new_push(found: Found, since: int) -> tuple[int, int] | None:
        """Receive time of the first push on a connection opened after the fault, and how many
        connection attempts it took (connection ids are ``<name>#<attempt>``)."""
        raw = [r.value for r in found[raw_topic] if r.value["connection"] == connection]
        before = [v for v in raw if micros(v["receive_time"]) < since]
        old = before[-1]["connection_id"] if before else None
        for v in raw:
            t = micros(v["receive_time"])
            if t >= since and v["connection_id"] != old and exchange.is_push(v["data"]):
                attempt = int(v["connection_id"].rsplit("#", 1)[1])
                return t, attempt - (int(old.rsplit("#", 1)[1]) if old else 0)
        return None

    def done(found: Found) -> bool:
        since = start_us(found)
        if since is None:
            return False
        kinds = [kind for _, kind, _ in markers_after(found[topic], since)]
        return resumed_kind in kinds and first_new_push(found, since) is not None

    found = await read_topics(bootstrap, prefix, [raw_topic, topic], done)
    since = start_us(found)
    assert since is not None
    markers = markers_after(found[topic], since)
    resumed = [t for t, kind, _ in markers if kind == resumed_kind]
    gone = [(t, why) for t, kind, why in markers if kind == "disconnected"]
    if handover:
        assert not gone, f"a handover must leave no gap: {markers}"
        detected_ms = None
    else:
        assert gone, f"no disconnected marker after the fault: {markers}"
        assert {why for _, why in gone} == {reason}, markers
        assert gone[0][0] <= resumed[0], markers  # the gap is marked before it is closed
        assert [why for _, kind, why in markers if kind == "resubscribed"][0] == "reconnected"
        detected_ms = (gone[0][0] - since) / 1000
    push = first_new_push(found, since)
    assert push is not None
    result = Recovery(
        exchange.name,
        fault,
        reason,
        push[1],
        detected_ms,
        (resumed[0] - since) / 1000,
        (push[0] - since) / 1000,
    )
    RESULTS.append(result)
    return result
