"""How fast the bridge may connect and subscribe: capped, jittered backoff above each exchange's
floor, the connect limits the exchanges document (OKX 3 per second, Kraken 150 per 10 minutes),
handshakes refused with HTTP 429, and Kraken's message-rate error on a subscribe burst."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from bridge.retry import backoff_delays
from bridge.runtime.app import Bridge
from tests.integration.exchanges import EXCHANGES, KRAKEN, OKX, Exchange, each_exchange
from tests.integration.harness import (
    bridge_settings,
    micros,
    now_us,
    read_topic,
    running_bridge,
    sample,
    unique_prefix,
    wait_until,
)
from tests.integration.recovery import (
    RECONNECT,
    RESULTS,
    TOLERANCE,
    Recovery,
    attempts,
    free_port,
    measure_recovery,
    reconnects,
    record_handshakes,
)

with_a_floor = pytest.mark.parametrize("exchange", [e for e in EXCHANGES if e.floor], ids=str)
with_a_connect_limit = pytest.mark.parametrize(
    "exchange", [e for e in EXCHANGES if e.connect_limit], ids=str
)


# --- the backoff policy, without a connection ---------------------------------------------------


@with_a_floor
def test_reconnect_delays_above_the_floor_are_jittered(exchange: Exchange) -> None:
    firsts = [next(backoff_delays(1.0, 60.0, floor=exchange.floor)) for _ in range(200)]
    at_floor = sum(d == exchange.floor for d in firsts)
    assert at_floor == 0, f"{at_floor} of 200 first delays exactly at the floor"


@with_a_connect_limit
def test_one_connection_never_exceeds_the_exchange_connect_limits(exchange: Exchange) -> None:
    """Even with no jitter at all (every delay at its floor) and the smallest backoff, one
    connection's attempts stay within the exchange's connect limit."""
    assert exchange.connect_limit is not None
    window, limit = exchange.connect_limit
    delays = backoff_delays(0.001, 0.001, floor=exchange.floor, rng=lambda: 0.0)
    starts = list(itertools.takewhile(window.__gt__, itertools.accumulate(delays)))
    assert len(starts) + 1 <= limit, f"{len(starts) + 1} connects in {window} s"


# --- refused connections ------------------------------------------------------------------------


@each_exchange
async def test_refused_connections_back_off_then_subscribe(
    exchange: Exchange, kafka_bootstrap: str
) -> None:
    """The exchange is down (nothing listens): attempts are spaced by capped, jittered backoff,
    never closer than the exchange's connect floor; once it listens the bridge subscribes."""
    floor, cap = exchange.floor, RECONNECT["max_seconds"]
    port = free_port()
    prefix = unique_prefix()
    conn = exchange.connection(f"ws://127.0.0.1:{port}{exchange.path}", reconnect=RECONNECT)
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
            await wait_until(
                lambda: len(times) >= exchange.refused_attempts,
                timeout=30,
                what="refused attempts",
            )
            async with exchange.simulator(port=port, **exchange.streaming):
                up_us = now_us()
                await wait_until(lambda: session.subscribed, timeout=cap + floor + 5)
                subscribed_us = now_us()
                raw = await read_topic(
                    kafka_bootstrap,
                    f"{prefix}{exchange.group}.raw",
                    lambda rs: any(exchange.is_push(r.value["data"]) for r in rs),
                )
        finally:
            watcher.cancel()
        refused_count = reconnects(bridge, exchange, name, "connection_refused")
    gaps = [b - a for a, b in itertools.pairwise(times)]
    shown = ", ".join(f"{g:.3f}" for g in gaps)
    print(f"\n{exchange}: {refused_count} refused attempts, then connected; gaps (s): {shown}")
    assert refused_count >= exchange.refused_attempts and len(times) == refused_count + 1
    assert all(g >= floor - TOLERANCE for g in gaps), f"closer than the {floor:.3f} s floor"
    # the jitter is drawn above the floor (backoff_delays): floor + at most the cap
    assert all(g <= floor + cap + 0.1 for g in gaps), f"beyond the floor + the {cap} s cap"
    if floor < 1.0:  # OKX, OKEx v1: the cap (1, 2, 2… s) is above the floor, delays vary
        above = {round(g, 2) for g in gaps if g > floor + 0.02}
        assert len(above) >= 2, f"delays not jittered: {shown}"
    first_push = min(
        micros(r.value["receive_time"]) for r in raw if exchange.is_push(r.value["data"])
    )
    RESULTS.append(
        Recovery(
            exchange.name,
            f"refused x{refused_count}; from listening",
            "connection_refused",
            refused_count + 1,
            None,
            (subscribed_us - up_us) / 1000,
            (first_push - up_us) / 1000,
        )
    )


# --- OKX: the connection rate limit --------------------------------------------------------------


async def test_okx_handshakes_rejected_429_are_retried_at_the_floor(kafka_bootstrap: str) -> None:
    """A connection rate limit: the next 3 handshakes get HTTP 429. Each retry waits at least
    OKX's 1/3 s; the 4th attempt subscribes."""
    prefix = unique_prefix()
    sim = OKX.simulator(**OKX.streaming)
    log = record_handshakes(sim)
    async with sim:
        conn = OKX.connection(sim, reconnect=RECONNECT)
        settings = bridge_settings(kafka_bootstrap, prefix, [conn])
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
                exchange=OKX,
                connection=conn["name"],
                channel_topic=OKX.stream_topic,
                fault="drop + 3 handshakes HTTP 429",
                fault_us=fault_us,
                reason="connection_lost",
            )
            assert reconnects(bridge, OKX, conn["name"], "handshake_rejected") == 3
    assert result.attempts == 4 and log.rejected == 3
    gaps = [b - a for a, b in itertools.pairwise(log.times[seen:])]
    assert len(gaps) == 3
    assert all(g >= OKX.floor - TOLERANCE for g in gaps), gaps


async def test_okx_connect_limit_holds_across_connections(kafka_bootstrap: str) -> None:
    prefix = unique_prefix()
    sim = OKX.simulator(rates={"tickers": 5}, initial_status=None)
    log = record_handshakes(sim)
    fast = {"initial_seconds": 0.2, "max_seconds": 1.0, "healthy_after_seconds": 0.5}
    async with sim:
        conns = [OKX.connection(sim, name=f"okx-{n}", reconnect=fast) for n in range(4)]
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


# --- Kraken: the message rate limit --------------------------------------------------------------


async def test_kraken_rate_limited_subscribe_is_retried(kafka_bootstrap: str) -> None:
    prefix = unique_prefix()
    async with KRAKEN.simulator(rate=5, max_messages_per_second=2) as sim:
        conn = KRAKEN.connection(
            sim,
            [
                {"name": "ticker", "pair": ["XBT/USD"]},
                {"name": "spread", "pair": ["XBT/USD"]},
                {"name": "trade", "pair": ["XBT/USD"]},
            ],
            reconnect=RECONNECT,
        )
        settings = bridge_settings(kafka_bootstrap, prefix, [conn])
        async with running_bridge(settings) as bridge:
            await wait_until(
                lambda: (
                    sample(
                        bridge,
                        "bridge_exchange_errors_total",
                        exchange=KRAKEN.name,
                        code="rate_limit",
                    )
                    == 1
                ),
                what="the rate-limit error counted",
            )
            assert sim.stats.rate_errors == 1
            await wait_until(
                lambda: bridge.sessions[0].subscribed, timeout=8, what="all 3 subscriptions"
            )
