"""Exchange faults on all three exchanges (issue 6, item 3): abrupt disconnects, idle closes,
maintenance, rate limits and refused connections. Each test injects one fault into a simulator,
proves the subscriptions come back (``disconnected`` then ``resubscribed`` markers on the channel
topic, or ``handover``) and measures the time from the fault to the first push on the new
connection; the module prints a table of those figures at the end (``pytest -s``).

What the end-to-end tests already prove is not repeated here: OKX drop + 64008 notice markers and
no duplicates on ``okx.status`` (test_okx_end_to_end), OKX half-open silence, OKEx v1 book across
a drop (test_okex_v1_end_to_end), Kraken's single 5 s reconnect after a drop and maintenance
metrics without a close (test_kraken_end_to_end).

Timings: ``receive_time`` of the records in Kafka (raw topic for the first push, channel topic for
the markers) against the test's wall clock at the moment it injected the fault.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from bridge.avro.decode import TailedRecord
from bridge.avro.formats import decode_single_object
from bridge.avro.store import SchemaStore
from bridge.exchanges.kraken import KrakenAdapter
from bridge.exchanges.okex_v1 import OkexV1Adapter
from bridge.exchanges.okx import OkxAdapter
from bridge.retry import backoff_delays
from bridge.runtime.app import Bridge
from bridge.sandbox.kraken import KrakenSimulator
from bridge.sandbox.okex_v1 import PATH as OKEX_PATH
from bridge.sandbox.okex_v1 import OkexV1Simulator
from bridge.sandbox.okx import PUBLIC_PATH, OkxSimulator
from tests.integration.harness import (
    bridge_settings,
    payload_kind,
    running_bridge,
    unique_prefix,
    wait_until,
)

FLOOR = {
    "okx": OkxAdapter.min_connect_interval_seconds,
    "okex_v1": OkexV1Adapter.min_connect_interval_seconds,
    "kraken": KrakenAdapter.min_connect_interval_seconds,
}
GROUP = {"okx": "okx", "okex_v1": "okex", "kraken": "kraken"}
# The default initial backoff (1 s), a short cap, and a connection that lived 0.5 s counts as
# healthy: every fault starts from the first backoff step, as after a long-lived connection.
RECONNECT = {"initial_seconds": 1.0, "max_seconds": 2.0, "healthy_after_seconds": 0.5}
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
TOLERANCE = 0.015  # seconds: polling and scheduling slack on a timing assertion

OKX_TICKERS = [
    {"channel": "tickers", "instId": "BTC-USDT"},
    {"channel": "tickers", "instId": "ETH-USDT"},
]
OKEX_CHANNELS = [
    {"channel": "ok_sub_spot_bch_btc_depth"},
    {"channel": "ok_sub_spot_bch_btc_ticker"},
]
KRAKEN_CHANNELS = [{"name": "ticker", "pair": ["XBT/USD", "ETH/USD"]}]
KRAKEN_LABELS = {"exchange": "kraken", "connection": "kraken-public"}


# --- the recovery table ---------------------------------------------------------------------


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
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:8.0f}"

    lines = [
        f"{'exchange':8} {'fault':34} {'reason':20} {'att':>3} {'detect':>8} "
        f"{'resub':>8} {'1st push':>8}  floor",
    ]
    for r in rows:
        lines.append(
            f"{r.exchange:8} {r.fault:34} {r.reason:20} {r.attempts:3d} {ms(r.detected_ms):>8} "
            f"{ms(r.resubscribed_ms)} {ms(r.first_push_ms)}  {FLOOR[r.exchange]:.2f} s"
        )
    return "\n".join(lines)


@pytest.fixture(scope="module", autouse=True)
def recovery_table() -> Iterator[None]:
    yield
    if RESULTS:
        print("\n\nRecovery times (ms from the fault; reconnect initial 1 s, max 2 s):")
        print(format_table(RESULTS))


# --- helpers ----------------------------------------------------------------------------------


def now_us() -> int:
    return time.time_ns() // 1000


def micros(value: Any) -> int:
    if isinstance(value, dt.datetime):
        return (value - EPOCH) // dt.timedelta(microseconds=1)
    return int(value)


def metric(bridge: Bridge, name: str, **labels: str) -> float:
    return bridge.metrics.registry.get_sample_value(name, labels) or 0.0


def attempts(bridge: Bridge, exchange: str, connection: str) -> int:
    return int(
        metric(
            bridge,
            "bridge_connection_attempts_total",
            exchange=exchange,
            connection=connection,
        )
    )


def reconnects(bridge: Bridge, exchange: str, connection: str, reason: str) -> int:
    return int(
        metric(
            bridge,
            "bridge_reconnects_total",
            exchange=exchange,
            connection=connection,
            reason=reason,
        )
    )


def free_port() -> int:
    """A loopback port nobody listens on (bound, then closed): connecting to it is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def is_push(exchange: str, data: bytes) -> bool:
    """Whether a raw frame is a data push (not an ack, event, heartbeat or pong)."""
    try:
        message = json.loads(data)
    except ValueError:
        return False
    if exchange == "okx":
        return isinstance(message, dict) and "arg" in message and "data" in message
    if exchange == "kraken":
        return isinstance(message, list)
    return (
        isinstance(message, list)
        and bool(message)
        and isinstance(message[0], dict)
        and str(message[0].get("channel", "")).startswith("ok_sub_spot_")
    )


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


async def read_topics(
    bootstrap: str,
    topics: list[str],
    until: Callable[[dict[str, list[TailedRecord]]], bool],
    timeout: float = 20.0,
) -> dict[str, list[TailedRecord]]:
    """Read ``topics`` from the beginning with one consumer until ``until(found)`` holds."""
    store = SchemaStore()
    found: dict[str, list[TailedRecord]] = {t: [] for t in topics}
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        metadata_max_age_ms=1000,
    )
    await consumer.start()
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        while not until(found):
            if asyncio.get_running_loop().time() > deadline:
                counts = {t: len(rs) for t, rs in found.items()}
                raise AssertionError(f"condition not met after {timeout} s; have {counts}")
            batches = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for messages in batches.values():
                for m in messages:
                    schema, value = decode_single_object(store, m.value or b"")
                    found[m.topic].append(
                        TailedRecord(
                            m.topic,
                            m.partition,
                            m.offset,
                            m.key.decode() if m.key else None,
                            f"{schema.id}.v{schema.version}",
                            value,
                        )
                    )
    finally:
        await consumer.stop()
    return found


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
    exchange: str,
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
    raw_topic = f"{prefix}{GROUP[exchange]}.raw"
    topic = prefix + channel_topic
    resumed_kind = "handover" if handover else "resubscribed"

    def start_us(found: dict[str, list[TailedRecord]]) -> int | None:
        if fault_us is not None:
            return fault_us
        gone = [t for t, kind, _ in markers_after(found[topic], 0) if kind == "disconnected"]
        return gone[0] if gone else None

    def first_new_push(found: dict[str, list[TailedRecord]], since: int) -> tuple[int, int] | None:
        """Receive time of the first push on a connection opened after the fault, and how many
        connection attempts it took (connection ids are ``<name>#<attempt>``)."""
        raw = [r.value for r in found[raw_topic] if r.value["connection"] == connection]
        before = [v for v in raw if micros(v["receive_time"]) < since]
        old = before[-1]["connection_id"] if before else None
        for v in raw:
            t = micros(v["receive_time"])
            if t >= since and v["connection_id"] != old and is_push(exchange, v["data"]):
                attempt = int(v["connection_id"].rsplit("#", 1)[1])
                return t, attempt - (int(old.rsplit("#", 1)[1]) if old else 0)
        return None

    def done(found: dict[str, list[TailedRecord]]) -> bool:
        since = start_us(found)
        if since is None:
            return False
        kinds = [kind for _, kind, _ in markers_after(found[topic], since)]
        return resumed_kind in kinds and first_new_push(found, since) is not None

    found = await read_topics(bootstrap, [raw_topic, topic], done)
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
        exchange,
        fault,
        reason,
        push[1],
        detected_ms,
        (resumed[0] - since) / 1000,
        (push[0] - since) / 1000,
    )
    RESULTS.append(result)
    return result


def okx_connection(url: str, name: str = "okx-tickers", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "exchange": "okx",
        "url": url,
        "subscriptions": OKX_TICKERS,
        "reconnect": RECONNECT,
        **extra,
    }


def okex_connection(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "okex-spot",
        "exchange": "okex_v1",
        "url": url,
        "subscriptions": OKEX_CHANNELS,
        "reconnect": RECONNECT,
        **extra,
    }


def kraken_connection(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "kraken-public",
        "exchange": "kraken",
        "url": url,
        "subscriptions": KRAKEN_CHANNELS,
        "reconnect": RECONNECT,
        **extra,
    }


# --- backoff policy ---------------------------------------------------------------------------


def test_reconnect_delays_above_the_floor_are_jittered() -> None:
    for exchange in ("kraken", "okx"):
        firsts = [next(backoff_delays(1.0, 60.0, floor=FLOOR[exchange])) for _ in range(200)]
        at_floor = sum(d == FLOOR[exchange] for d in firsts)
        assert at_floor == 0, f"{exchange}: {at_floor} of 200 first delays exactly at the floor"


def test_one_connection_never_exceeds_the_exchange_connect_limits() -> None:
    """Even with no jitter at all (every delay at its floor) and the smallest backoff, one
    connection's attempts stay within OKX's 3 per second and Kraken's 150 per 10 minutes."""
    for exchange, window, limit in (("okx", 1.0, 3), ("kraken", 600.0, 150)):
        delays = backoff_delays(0.001, 0.001, floor=FLOOR[exchange], rng=lambda: 0.0)
        starts = list(itertools.takewhile(window.__gt__, itertools.accumulate(delays)))
        assert len(starts) + 1 <= limit, f"{exchange}: {len(starts) + 1} connects in {window} s"


# --- refused connections ----------------------------------------------------------------------


SIMULATORS: dict[str, tuple[Callable[[int], Any], str, Callable[..., dict[str, Any]], int]] = {
    # exchange: (simulator on a port, URL path, connection, refused attempts to observe)
    "okx": (
        lambda port: OkxSimulator(port=port, rates={"tickers": 20}),
        PUBLIC_PATH,
        okx_connection,
        6,
    ),
    "okex_v1": (
        lambda port: OkexV1Simulator(port=port, rate=20),
        OKEX_PATH,
        okex_connection,
        6,
    ),
    "kraken": (
        lambda port: KrakenSimulator(port=port, rate=20),
        "/",
        kraken_connection,
        2,
    ),
}


@pytest.mark.parametrize("exchange", ["okx", "okex_v1", "kraken"])
async def test_refused_connections_back_off_then_subscribe(
    kafka_bootstrap: str, exchange: str
) -> None:
    """The exchange is down (nothing listens): attempts are spaced by capped, jittered backoff,
    never closer than the exchange's connect floor; once it listens the bridge subscribes."""
    make_sim, path, make_connection, refused = SIMULATORS[exchange]
    floor, cap = FLOOR[exchange], RECONNECT["max_seconds"]
    port = free_port()
    prefix = unique_prefix()
    conn = make_connection(f"ws://127.0.0.1:{port}{path}")
    name = conn["name"]
    settings = bridge_settings(kafka_bootstrap, prefix, [conn])
    times: list[float] = []  # every connection attempt, from the attempts counter

    async def watch(bridge: Bridge) -> None:
        seen = 0
        while True:
            count = attempts(bridge, exchange, name)
            times.extend([time.monotonic()] * (count - seen))
            seen = count
            await asyncio.sleep(0.002)

    async with running_bridge(settings) as bridge:
        session = bridge.sessions[0]
        watcher = asyncio.create_task(watch(bridge))
        try:
            await wait_until(lambda: len(times) >= refused, timeout=30, what="refused attempts")
            async with make_sim(port):
                up_us = now_us()
                await wait_until(lambda: session.subscribed, timeout=cap + floor + 5)
                subscribed_us = now_us()
                raw = f"{prefix}{GROUP[exchange]}.raw"
                found = await read_topics(
                    kafka_bootstrap,
                    [raw],
                    lambda f: any(is_push(exchange, r.value["data"]) for r in f[raw]),
                )
        finally:
            watcher.cancel()
        refused_count = reconnects(bridge, exchange, name, "connection_refused")
    gaps = [b - a for a, b in itertools.pairwise(times)]
    shown = ", ".join(f"{g:.3f}" for g in gaps)
    print(f"\n{exchange}: {refused_count} refused attempts, then connected; gaps (s): {shown}")
    assert refused_count >= refused and len(times) == refused_count + 1
    assert all(g >= floor - TOLERANCE for g in gaps), f"closer than the {floor:.3f} s floor"
    # the jitter is drawn above the floor (backoff_delays): floor + at most the cap
    assert all(g <= floor + cap + 0.1 for g in gaps), f"beyond the floor + the {cap} s cap"
    if floor < 1.0:  # OKX, OKEx v1: the cap (1, 2, 2… s) is above the floor, delays vary
        above = {round(g, 2) for g in gaps if g > floor + 0.02}
        assert len(above) >= 2, f"delays not jittered: {shown}"
    first_push = min(
        micros(r.value["receive_time"]) for r in found[raw] if is_push(exchange, r.value["data"])
    )
    RESULTS.append(
        Recovery(
            exchange,
            f"refused x{refused_count}; from listening",
            "connection_refused",
            refused_count + 1,
            None,
            (subscribed_us - up_us) / 1000,
            (first_push - up_us) / 1000,
        )
    )


# --- OKX ----------------------------------------------------------------------------------------


async def test_okx_abrupt_disconnects(kafka_bootstrap: str) -> None:
    prefix = unique_prefix()
    async with OkxSimulator(rates={"tickers": 20}, initial_status=None) as sim:
        settings = bridge_settings(kafka_bootstrap, prefix, [okx_connection(sim.url())])
        async with running_bridge(settings) as bridge:
            session = bridge.sessions[0]
            await wait_until(lambda: session.subscribed, what="subscription")
            for n in range(3):
                await asyncio.sleep(0.6)  # lives past healthy_after: backoff starts afresh
                fault_us = now_us()
                await sim.drop_connections()
                await measure_recovery(
                    kafka_bootstrap,
                    prefix,
                    exchange="okx",
                    connection="okx-tickers",
                    channel_topic="okx.tickers",
                    fault=f"abrupt TCP drop #{n + 1}",
                    fault_us=fault_us,
                    reason="connection_lost",
                )
            assert reconnects(bridge, "okx", "okx-tickers", "connection_lost") == 3
            assert len(sim.subscribers("tickers")) == 1


async def test_okx_idle_close_4004(kafka_bootstrap: str) -> None:
    """A quiet connection whose keepalive is slower than the server's idle timeout is closed
    with 4004; the bridge labels it ``idle``, reconnects and resubscribes."""
    prefix = unique_prefix()
    async with OkxSimulator(idle_timeout=1.0) as sim:
        conn = {
            "name": "okx-status",
            "exchange": "okx",
            "url": sim.url(),
            "subscriptions": [{"channel": "status"}],
            "reconnect": RECONNECT,
            "keepalive_seconds": 5,
            "idle_timeout_seconds": 10,
        }
        settings = bridge_settings(kafka_bootstrap, prefix, [conn])
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscription")
            await measure_recovery(
                kafka_bootstrap,
                prefix,
                exchange="okx",
                connection="okx-status",
                channel_topic="okx.status",
                fault="idle close (4004, server 1 s)",
                fault_us=None,
                reason="idle",
            )
            assert sim.stats.idle_closes >= 1
            assert reconnects(bridge, "okx", "okx-status", "idle") >= 1


async def test_okx_maintenance_notice_hands_over_without_a_gap(kafka_bootstrap: str) -> None:
    """64008 on a streaming channel: the replacement subscribes while the old connection still
    delivers; the tickers stream has no gap as long as the 1/3 s a reconnect needs at least,
    and no copy."""
    prefix = unique_prefix()
    rate = 20
    async with OkxSimulator(rates={"tickers": rate}, initial_status=None) as sim:
        settings = bridge_settings(kafka_bootstrap, prefix, [okx_connection(sim.url())])
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscription")
            await asyncio.sleep(0.6)
            fault_us = now_us()
            await sim.send_notice(close_after=1.0)
            await wait_until(lambda: sim.stats.disconnects_total == 1, what="old connection closed")
            await asyncio.sleep(0.5)
            await measure_recovery(
                kafka_bootstrap,
                prefix,
                exchange="okx",
                connection="okx-tickers",
                channel_topic="okx.tickers",
                fault="64008 notice, close after 1 s",
                fault_us=fault_us,
                reason="handover",
                handover=True,
            )
            assert reconnects(bridge, "okx", "okx-tickers", "handover") == 1
            end_us = now_us()
    found = await read_topics(
        kafka_bootstrap,
        [prefix + "okx.tickers"],
        lambda f: any(
            micros(r.value["receive_time"]) >= end_us - 200_000 for r in f[prefix + "okx.tickers"]
        ),
    )
    pushes = [r for r in found[prefix + "okx.tickers"] if payload_kind(r) == "ChannelData"]
    data = [r.value["payload"][1]["data"] for r in pushes]
    assert len(set(data)) == len(data), "a push both connections received was written twice"
    for inst in ("BTC-USDT", "ETH-USDT"):
        times = [micros(r.value["receive_time"]) for r in pushes if r.key == inst]
        window = [t for t in times if fault_us - 1_000_000 <= t <= end_us]
        longest = max(b - a for a, b in itertools.pairwise(window)) / 1e6
        # a reconnect would leave at least OKX's 1/3 s floor (plus connect and subscribe)
        assert longest < FLOOR["okx"], f"{inst}: {longest:.3f} s without a push at the handover"


async def test_okx_handshakes_rejected_429_are_retried_at_the_floor(kafka_bootstrap: str) -> None:
    """A connection rate limit: the next 3 handshakes get HTTP 429. Each retry waits at least
    OKX's 1/3 s; the 4th attempt subscribes."""
    prefix = unique_prefix()
    sim = OkxSimulator(rates={"tickers": 20}, initial_status=None)
    log = record_handshakes(sim)
    async with sim:
        settings = bridge_settings(kafka_bootstrap, prefix, [okx_connection(sim.url())])
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscription")
            await asyncio.sleep(0.6)
            seen = len(log.times)
            log.reject = 3
            fault_us = now_us()
            await sim.drop_connections()
            result = await measure_recovery(
                kafka_bootstrap,
                prefix,
                exchange="okx",
                connection="okx-tickers",
                channel_topic="okx.tickers",
                fault="drop + 3 handshakes HTTP 429",
                fault_us=fault_us,
                reason="connection_lost",
            )
            assert reconnects(bridge, "okx", "okx-tickers", "handshake_rejected") == 3
    assert result.attempts == 4 and log.rejected == 3
    gaps = [b - a for a, b in itertools.pairwise(log.times[seen:])]
    assert len(gaps) == 3
    assert all(g >= FLOOR["okx"] - TOLERANCE for g in gaps), gaps


async def test_okx_connect_limit_holds_across_connections(kafka_bootstrap: str) -> None:
    prefix = unique_prefix()
    sim = OkxSimulator(rates={"tickers": 5}, initial_status=None)
    log = record_handshakes(sim)
    fast = {"initial_seconds": 0.2, "max_seconds": 1.0, "healthy_after_seconds": 0.5}
    async with sim:
        conns = [okx_connection(sim.url(), name=f"okx-{n}", reconnect=fast) for n in range(4)]
        settings = bridge_settings(kafka_bootstrap, prefix, conns)
        async with running_bridge(settings) as bridge:
            await wait_until(
                lambda: all(s.subscribed for s in bridge.sessions), what="4 subscriptions"
            )
            await asyncio.sleep(0.6)
            seen = len(log.times)
            await sim.drop_connections()
            await wait_until(
                lambda: all(s.subscribed for s in bridge.sessions) and len(log.times) >= seen + 4,
                what="4 reconnects",
            )
    connects = log.times[seen:]
    busiest = max(sum(1 for u in connects if t <= u < t + 1.0) for t in connects)
    print(f"\nokx: {busiest} connects within one second after a drop of 4 connections")
    assert busiest <= 3


# --- OKEx v1 ------------------------------------------------------------------------------------


async def test_okex_v1_abrupt_disconnects(kafka_bootstrap: str) -> None:
    prefix = unique_prefix()
    async with OkexV1Simulator(rate=20) as sim:
        settings = bridge_settings(kafka_bootstrap, prefix, [okex_connection(sim.url())])
        async with running_bridge(settings) as bridge:
            session = bridge.sessions[0]
            await wait_until(lambda: session.subscribed, what="subscription")
            for n in range(3):
                await asyncio.sleep(0.6)
                fault_us = now_us()
                await sim.drop_connections()
                await measure_recovery(
                    kafka_bootstrap,
                    prefix,
                    exchange="okex_v1",
                    connection="okex-spot",
                    channel_topic="okex.spot.depth",
                    fault=f"abrupt TCP drop #{n + 1}",
                    fault_us=fault_us,
                    reason="connection_lost",
                )
            assert len(sim.subscribers("ok_sub_spot_bch_btc_depth")) == 1


async def test_okex_v1_idle_close(kafka_bootstrap: str) -> None:
    """The OKEx v1 simulator's idle timeout counts only client frames; the bridge pings only
    when it receives nothing, so with data streaming it is closed (1000) after 1 s, then
    reconnects and resubscribes."""
    prefix = unique_prefix()
    async with OkexV1Simulator(rate=20, idle_timeout=1.0) as sim:
        settings = bridge_settings(kafka_bootstrap, prefix, [okex_connection(sim.url())])
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscription")
            await measure_recovery(
                kafka_bootstrap,
                prefix,
                exchange="okex_v1",
                connection="okex-spot",
                channel_topic="okex.spot.depth",
                fault="idle close (1000, server 1 s)",
                fault_us=None,
                reason="closed_normal",
            )
            assert sim.stats.idle_closes >= 1


async def test_okex_v1_server_restart_and_rate_limited_handshakes(kafka_bootstrap: str) -> None:
    """Maintenance the way a v1 server shows it (the protocol has no notice): the server goes
    away (1001) and refuses connections for 2 s; once back, its first 2 handshakes get HTTP 429.
    Attempts keep the backoff; the bridge resubscribes."""
    prefix = unique_prefix()
    sim = OkexV1Simulator(rate=20)
    log = record_handshakes(sim)
    async with sim:
        settings = bridge_settings(kafka_bootstrap, prefix, [okex_connection(sim.url())])
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscription")
            await asyncio.sleep(0.6)
            fault_us = now_us()
            await sim.stop()
            await asyncio.sleep(2.0)
            log.reject = 2
            await sim.start()
            await measure_recovery(
                kafka_bootstrap,
                prefix,
                exchange="okex_v1",
                connection="okex-spot",
                channel_topic="okex.spot.depth",
                fault="restart: 1001, down 2 s, 2x 429",
                fault_us=fault_us,
                reason="closed_normal",
            )
            assert reconnects(bridge, "okex_v1", "okex-spot", "connection_refused") >= 1
            assert reconnects(bridge, "okex_v1", "okex-spot", "handshake_rejected") == 2


# --- Kraken -------------------------------------------------------------------------------------


async def test_kraken_abrupt_disconnect_and_maintenance_close(kafka_bootstrap: str) -> None:
    """Two faults on one connection, each costing Kraken's 5 s floor: an abrupt drop, then
    maintenance (systemStatus maintenance, server closes 1001; the bridge resubscribes while
    maintenance lasts and data resumes once online)."""
    prefix = unique_prefix()
    async with KrakenSimulator(rate=20) as sim:
        settings = bridge_settings(kafka_bootstrap, prefix, [kraken_connection(sim.url())])
        async with running_bridge(settings) as bridge:
            session = bridge.sessions[0]
            await wait_until(lambda: session.subscribed, what="subscription")
            fault_us = now_us()
            await sim.drop_connections()
            await measure_recovery(
                kafka_bootstrap,
                prefix,
                exchange="kraken",
                connection="kraken-public",
                channel_topic="kraken.ticker",
                fault="abrupt TCP drop",
                fault_us=fault_us,
                reason="connection_lost",
            )
            await asyncio.sleep(0.6)
            await sim.set_status("maintenance")
            await wait_until(
                lambda: metric(bridge, "bridge_exchange_maintenance", exchange="kraken") == 1,
                what="maintenance seen",
            )
            fault_us = now_us()
            await sim.close_connections(1001, "maintenance")
            await wait_until(lambda: session.subscribed and sim.stats.connects_total == 3)
            resubscribed_us = now_us()
            await sim.set_status("online")
            await measure_recovery(
                kafka_bootstrap,
                prefix,
                exchange="kraken",
                connection="kraken-public",
                channel_topic="kraken.ticker",
                fault="maintenance status + close 1001",
                fault_us=fault_us,
                reason="closed_normal",
            )
            online_us = now_us()
            await wait_until(
                lambda: metric(bridge, "bridge_exchange_maintenance", exchange="kraken") == 0
            )
            found = await read_topics(
                kafka_bootstrap,
                [prefix + "kraken.ticker"],
                lambda f: any(
                    payload_kind(r) == "Ticker" and micros(r.value["receive_time"]) > online_us
                    for r in f[prefix + "kraken.ticker"]
                ),
            )
    assert resubscribed_us - fault_us >= FLOOR["kraken"] * 1e6
    assert found


async def test_readiness_turns_false_while_waiting_to_reconnect(kafka_bootstrap: str) -> None:
    async with KrakenSimulator(rate=5) as sim:
        settings = bridge_settings(kafka_bootstrap, unique_prefix(), [kraken_connection(sim.url())])
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscription")
            await sim.drop_connections()
            await wait_until(
                lambda: metric(bridge, "bridge_connection_up", **KRAKEN_LABELS) == 0,
                what="connection down",
            )
            await asyncio.sleep(0.5)  # 4.5 s before Kraken's floor allows a new connection
            assert sim.stats.connects_total == 1
            assert bridge.readiness_problems() == ["connection kraken-public: not subscribed"]


async def test_kraken_rate_limited_subscribe_is_retried(kafka_bootstrap: str) -> None:
    prefix = unique_prefix()
    async with KrakenSimulator(rate=5, max_messages_per_second=2) as sim:
        conn = kraken_connection(
            sim.url(),
            subscriptions=[
                {"name": "ticker", "pair": ["XBT/USD"]},
                {"name": "spread", "pair": ["XBT/USD"]},
                {"name": "trade", "pair": ["XBT/USD"]},
            ],
        )
        settings = bridge_settings(kafka_bootstrap, prefix, [conn])
        async with running_bridge(settings) as bridge:
            await wait_until(
                lambda: (
                    metric(
                        bridge, "bridge_exchange_errors_total", exchange="kraken", code="rate_limit"
                    )
                    == 1
                ),
                what="the rate-limit error counted",
            )
            assert sim.stats.rate_errors == 1
            await wait_until(
                lambda: bridge.sessions[0].subscribed, timeout=8, what="all 3 subscriptions"
            )
