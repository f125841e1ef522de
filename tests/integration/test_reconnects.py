"""A connection lost or closed comes back, on every exchange: the gap is marked on the channel
topic (``disconnected`` with the reason, then ``resubscribed``/``reconnected``), the reason is
counted, the next attempt waits at least the exchange's floor, and keepalive pings and the
silence check keep a line honest. Each fault's recovery time goes into the session's recovery
table (recovery.py); docs/RELIABILITY.md lists the figures.

The faults that have one exchange only are elsewhere: maintenance (test_maintenance.py),
connection and message rate limits (test_rate_limits.py).
"""

from __future__ import annotations

import asyncio
import time

from tests.integration.exchanges import KRAKEN, Exchange, each_exchange, exchanges_with
from tests.integration.harness import (
    bridge_settings,
    markers_by_key,
    now_us,
    read_topic,
    running_bridge,
    sample,
    unique_prefix,
    wait_until,
)
from tests.integration.recovery import RECONNECT, measure_recovery, reconnects


@each_exchange
async def test_a_dropped_connection_is_marked_and_comes_back_no_sooner_than_the_floor(
    exchange: Exchange, kafka_bootstrap: str
) -> None:
    """Abrupt TCP drops (no close frame) of a streaming connection: each one is marked and
    measured, and the new connection is opened no sooner than the exchange's floor (Kraken's
    5 s wins over ``reconnect.initial_seconds``)."""
    prefix = unique_prefix()
    async with exchange.simulator(**exchange.streaming) as sim:
        conn = exchange.connection(sim, reconnect=RECONNECT)
        name = conn["name"]
        settings = bridge_settings(kafka_bootstrap, prefix, [conn])
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscription")
            waited = []
            for n in range(exchange.drops):
                await asyncio.sleep(0.6)  # lives past healthy_after: backoff starts afresh
                fault_us = now_us()
                await sim.drop_connections()
                dropped = time.monotonic()
                await wait_until(
                    lambda: sim.stats.connects_total == n + 2,  # noqa: B023 - awaited here
                    timeout=exchange.floor + 10,
                    what="reconnect",
                )
                waited.append(time.monotonic() - dropped)
                await measure_recovery(
                    kafka_bootstrap,
                    prefix,
                    exchange=exchange,
                    connection=name,
                    channel_topic=exchange.stream_topic,
                    fault=f"abrupt TCP drop #{n + 1}",
                    fault_us=fault_us,
                    reason="connection_lost",
                )
            assert reconnects(bridge, exchange, name, "connection_lost") == exchange.drops
            assert len(sim.subscribers(exchange.stream_channel)) == 1
            expected = [("resubscribed", "started")] + [
                ("disconnected", "connection_lost"),
                ("resubscribed", "reconnected"),
            ] * exchange.drops
            records = await read_topic(
                kafka_bootstrap,
                prefix + exchange.stream_topic,
                lambda rs: all(
                    len(markers_by_key(rs).get(key, [])) >= len(expected)
                    for key in exchange.stream_keys
                ),
            )
    assert markers_by_key(records) == dict.fromkeys(exchange.stream_keys, expected)
    assert all(exchange.floor <= w < exchange.floor + 3.0 for w in waited), waited


@exchanges_with("idle_close")
async def test_an_idle_close_is_labelled_and_the_connection_comes_back(
    exchange: Exchange, kafka_bootstrap: str
) -> None:
    """The server closes a line it finds quiet (OKX 4004 when the keepalive is slower than its
    idle timeout; the OKEx v1 simulator's idle timeout counts client frames only, and the
    bridge pings only when it receives nothing, so a streaming line is closed with 1000): the
    bridge labels the close, reconnects and resubscribes."""
    idle = exchange.idle_close
    assert idle is not None
    prefix = unique_prefix()
    async with exchange.simulator(**idle.simulator) as sim:
        conn = exchange.connection(sim, idle.subscriptions, reconnect=RECONNECT, **idle.connection)
        settings = bridge_settings(kafka_bootstrap, prefix, [conn])
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscription")
            await measure_recovery(
                kafka_bootstrap,
                prefix,
                exchange=exchange,
                connection=conn["name"],
                channel_topic=idle.topic,
                fault=idle.fault,
                fault_us=None,
                reason=idle.reason,
            )
            assert sim.stats.idle_closes >= 1
            assert reconnects(bridge, exchange, conn["name"], idle.reason) >= 1


@each_exchange
async def test_keepalive_pings_prevent_the_idle_close(
    exchange: Exchange, kafka_bootstrap: str
) -> None:
    """On a quiet line the bridge pings: the server's idle close (1 s here, where the exchange
    has one) never comes, nor the bridge's own (5 s: the pongs count as frames)."""
    idle_timeout = {"idle_timeout": 1.0} if exchange.idle_close else {}
    async with exchange.simulator(**exchange.quiet, **idle_timeout) as sim:
        conn = exchange.connection(
            sim, exchange.quiet_subscriptions, keepalive_seconds=0.3, idle_timeout_seconds=5
        )
        settings = bridge_settings(kafka_bootstrap, unique_prefix(), [conn])
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscription")
            await wait_until(lambda: sim.stats.pings >= 5, timeout=10, what="pings")
            assert sim.stats.idle_closes == 0 and sim.stats.connects_total == 1


@each_exchange
async def test_silence_without_pongs_triggers_a_reconnect(
    exchange: Exchange, kafka_bootstrap: str
) -> None:
    """A connection whose server stops answering (half-open) is replaced after idle_timeout."""
    async with exchange.simulator(**exchange.quiet) as sim:
        conn = exchange.connection(
            sim, exchange.quiet_subscriptions, keepalive_seconds=0.2, idle_timeout_seconds=0.8
        )
        settings = bridge_settings(kafka_bootstrap, unique_prefix(), [conn])
        sim.answer_pings = False
        async with running_bridge(settings) as bridge:
            await wait_until(
                lambda: sim.stats.connects_total >= 2,
                timeout=exchange.floor + 10,
                what="reconnect",
            )
            text = bridge.metrics.render().decode()
    assert 'reason="silence"' in text


async def test_readiness_turns_false_while_waiting_to_reconnect(kafka_bootstrap: str) -> None:
    """Kraken's 5 s floor leaves time to look: not ready while the session waits to reconnect."""
    async with KRAKEN.simulator(rate=5) as sim:
        conn = KRAKEN.connection(sim, reconnect=RECONNECT)
        settings = bridge_settings(kafka_bootstrap, unique_prefix(), [conn])
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscription")
            await sim.drop_connections()
            await wait_until(
                lambda: (
                    sample(
                        bridge,
                        "bridge_connection_up",
                        exchange=KRAKEN.name,
                        connection=conn["name"],
                    )
                    == 0
                ),
                what="connection down",
            )
            await asyncio.sleep(0.5)  # 4.5 s before Kraken's floor allows a new connection
            assert sim.stats.connects_total == 1
            assert bridge.readiness_problems() == [f"connection {conn['name']}: not subscribed"]
