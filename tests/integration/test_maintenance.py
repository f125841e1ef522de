"""Planned maintenance, the way each exchange shows it. No two exchanges do it alike, so each has
its own tests here: OKX announces a close (notice 64008) and the bridge hands over to a
replacement connection without a gap; Kraken sends ``systemStatus`` (a metric and records,
then possibly a close); an OKEx v1 server just goes away and comes back."""

from __future__ import annotations

import asyncio
import itertools
import json

from bridge.sandbox.okx import SEED_STATUS_FRAME
from tests.integration.exchanges import KRAKEN, OKEX_V1, OKX
from tests.integration.harness import (
    bridge_settings,
    markers,
    micros,
    ms,
    now_us,
    payload_kind,
    payloads,
    read_topic,
    running_bridge,
    sample,
    unique_prefix,
    wait_until,
)
from tests.integration.recovery import RECONNECT, measure_recovery, reconnects, record_handshakes

SEED_STATUS = json.loads(SEED_STATUS_FRAME)["data"][0]


# --- OKX: notice 64008, a handover --------------------------------------------------------------


async def test_okx_drop_and_notice_are_marked_and_no_change_is_written_twice(
    kafka_bootstrap: str,
) -> None:
    """A drop, then a 64008 notice (the server closes 1.5 s later): status changes pushed
    through both arrive once each, in order, and the markers say what happened."""
    prefix = unique_prefix()
    changes = [
        {**SEED_STATUS, "state": state, "ts": str(1700000000000 + n)}
        for n, state in enumerate(["scheduled", "ongoing", "pre_open", "completed"])
    ]
    async with OKX.simulator(notice_close_delay=1.5) as sim:
        settings = bridge_settings(
            kafka_bootstrap, prefix, [OKX.connection(sim, [{"channel": "status"}])]
        )
        async with running_bridge(settings) as bridge:
            session = bridge.sessions[0]
            await wait_until(lambda: session.subscribed, what="subscription")
            await sim.push_status(changes[0])
            await sim.drop_connections()  # abrupt: no close frame
            await wait_until(
                lambda: sim.stats.connects_total == 2 and session.subscribed, what="resubscribe"
            )
            await sim.push_status(changes[1])
            await sim.send_notice()  # 64008, then the server closes after 1.5 s
            await wait_until(lambda: sim.stats.connects_total == 3, what="replacement connection")
            await sim.push_status(changes[2])  # both connections are subscribed now
            await wait_until(lambda: len(sim.connections) == 1, what="old connection closed")
            await sim.push_status(changes[3])
            records = await read_topic(
                kafka_bootstrap,
                prefix + "okx.status",
                lambda rs: any(
                    p["state"] == "completed" and ms(p["ts"]) == 1700000000003
                    for p in payloads(rs, "Status")
                ),
            )
    pushed = [(p["state"], ms(p["ts"])) for p in payloads(records, "Status")]
    expected = [(SEED_STATUS["state"], int(SEED_STATUS["ts"]))] + [
        (c["state"], int(c["ts"])) for c in changes
    ]
    assert pushed == expected  # every change once, in order, none duplicated by the overlap
    found = markers(records)
    assert found[:2] == [("resubscribed", "started"), ("disconnected", "connection_lost")]
    assert ("resubscribed", "reconnected") in found
    assert ("handover", "replacement_subscribed") in found
    acks = payloads(records, "SubscriptionEvent")
    assert len(acks) == 3  # one per connection
    assert (
        len({r.value["connection_id"] for r in records if payload_kind(r) == "SubscriptionEvent"})
        == 3
    )


async def test_okx_maintenance_notice_hands_over_without_a_gap(kafka_bootstrap: str) -> None:
    """64008 on a streaming channel: the replacement subscribes while the old connection still
    delivers; the tickers stream has no gap as long as the 1/3 s a reconnect needs at least,
    and no copy."""
    prefix = unique_prefix()
    async with OKX.simulator(**OKX.streaming) as sim:
        conn = OKX.connection(sim, reconnect=RECONNECT)
        settings = bridge_settings(kafka_bootstrap, prefix, [conn])
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
                exchange=OKX,
                connection=conn["name"],
                channel_topic=OKX.stream_topic,
                fault="64008 notice, close after 1 s",
                fault_us=fault_us,
                reason="handover",
                handover=True,
            )
            assert reconnects(bridge, OKX, conn["name"], "handover") == 1
            end_us = now_us()
    records = await read_topic(
        kafka_bootstrap,
        prefix + OKX.stream_topic,
        lambda rs: any(micros(r.value["receive_time"]) >= end_us - 200_000 for r in rs),
    )
    pushes = [r for r in records if payload_kind(r) == "Ticker"]
    data = [json.dumps(r.value["payload"][1], sort_keys=True, default=str) for r in pushes]
    assert len(set(data)) == len(data), "a push both connections received was written twice"
    for inst in OKX.stream_keys:
        times = [micros(r.value["receive_time"]) for r in pushes if r.key == inst]
        window = [t for t in times if fault_us - 1_000_000 <= t <= end_us]
        longest = max(b - a for a, b in itertools.pairwise(window)) / 1e6
        # a reconnect would leave at least OKX's 1/3 s floor (plus connect and subscribe)
        assert longest < OKX.floor, f"{inst}: {longest:.3f} s without a push at the handover"


# --- Kraken: systemStatus -----------------------------------------------------------------------


async def test_kraken_maintenance_shows_in_metrics_and_on_events_and_clears(
    kafka_bootstrap: str,
) -> None:
    prefix = unique_prefix()
    async with KRAKEN.simulator(heartbeat_interval=0.2, first_connection_id=2**64 - 1) as sim:
        conn = KRAKEN.connection(
            sim,
            [{"name": "spread", "pair": ["XBT/USD"]}],
            keepalive_seconds=1.0,
            idle_timeout_seconds=1.5,  # heartbeats alone keep the connection alive
        )
        settings = bridge_settings(kafka_bootstrap, prefix, [conn])
        async with running_bridge(settings) as bridge:

            def maintenance() -> float:
                return sample(bridge, "bridge_exchange_maintenance", exchange=KRAKEN.name)

            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscription")
            assert 'bridge_exchange_maintenance{exchange="kraken"} 0.0' in (
                bridge.metrics.render().decode()
            )
            await sim.set_status("maintenance")
            await wait_until(lambda: maintenance() == 1, what="maintenance metric")
            await sim.set_status("post_only")
            await wait_until(lambda: sim.stats.heartbeats_sent >= 10, what="heartbeats")
            assert maintenance() == 1
            await sim.set_status("online")
            await wait_until(lambda: maintenance() == 0, what="maintenance cleared")
            events = await read_topic(
                kafka_bootstrap,
                prefix + "kraken.events",
                lambda rs: len(payloads(rs, "ConnectionEvent")) >= 4,
            )
            heartbeats = sample(
                bridge,
                "bridge_events_total",
                exchange=KRAKEN.name,
                connection=conn["name"],
                type="Heartbeat",
            )
            assert bridge.sessions[0].subscribed
            connects = sim.stats.connects_total

    statuses = payloads(events, "ConnectionEvent")
    assert [(s["event"], s["attributes"]["status"]) for s in statuses] == [
        ("systemStatus", "online"),
        ("systemStatus", "maintenance"),
        ("systemStatus", "post_only"),
        ("systemStatus", "online"),
    ]
    for event in statuses:
        assert event["attributes"] == {
            "connectionID": "18446744073709551615",
            "version": "1.9.0",
            "status": event["attributes"]["status"],
        }
    assert {r.value["exchange_connection_id"] for r in events} == {"18446744073709551615"}
    assert {r.key for r in events} == {"events"}
    # the bridge kept its connection and subscription through maintenance; heartbeats were
    # counted (and kept the line alive) but not published
    assert connects == 1
    assert heartbeats >= 10


async def test_kraken_maintenance_close_resubscribes_and_data_resumes_once_online(
    kafka_bootstrap: str,
) -> None:
    """systemStatus maintenance, then the server closes (1001): the bridge waits Kraken's 5 s
    floor, resubscribes while maintenance lasts, and data resumes once online."""
    prefix = unique_prefix()
    async with KRAKEN.simulator(**KRAKEN.streaming) as sim:
        conn = KRAKEN.connection(sim, reconnect=RECONNECT)
        settings = bridge_settings(kafka_bootstrap, prefix, [conn])
        async with running_bridge(settings) as bridge:

            def maintenance() -> float:
                return sample(bridge, "bridge_exchange_maintenance", exchange=KRAKEN.name)

            session = bridge.sessions[0]
            await wait_until(lambda: session.subscribed, what="subscription")
            await asyncio.sleep(0.6)
            await sim.set_status("maintenance")
            await wait_until(lambda: maintenance() == 1, what="maintenance seen")
            fault_us = now_us()
            await sim.close_connections(1001, "maintenance")
            await wait_until(
                lambda: session.subscribed and sim.stats.connects_total == 2,
                timeout=KRAKEN.floor + 10,
                what="resubscribed",
            )
            resubscribed_us = now_us()
            await sim.set_status("online")
            await measure_recovery(
                kafka_bootstrap,
                prefix,
                exchange=KRAKEN,
                connection=conn["name"],
                channel_topic=KRAKEN.stream_topic,
                fault="maintenance status + close 1001",
                fault_us=fault_us,
                reason="closed_normal",
            )
            online_us = now_us()
            await wait_until(lambda: maintenance() == 0, what="maintenance cleared")
            found = await read_topic(
                kafka_bootstrap,
                prefix + KRAKEN.stream_topic,
                lambda rs: any(
                    payload_kind(r) == "Ticker" and micros(r.value["receive_time"]) > online_us
                    for r in rs
                ),
            )
    assert resubscribed_us - fault_us >= KRAKEN.floor * 1e6
    assert found


# --- OKEx v1: the server goes away ---------------------------------------------------------------


async def test_okex_v1_server_restart_and_rate_limited_handshakes(kafka_bootstrap: str) -> None:
    """Maintenance the way a v1 server shows it (the protocol has no notice): the server goes
    away (1001) and refuses connections for 2 s; once back, its first 2 handshakes get HTTP 429.
    Attempts keep the backoff; the bridge resubscribes."""
    prefix = unique_prefix()
    sim = OKEX_V1.simulator(**OKEX_V1.streaming)
    log = record_handshakes(sim)
    async with sim:
        conn = OKEX_V1.connection(sim, reconnect=RECONNECT)
        settings = bridge_settings(kafka_bootstrap, prefix, [conn])
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
                exchange=OKEX_V1,
                connection=conn["name"],
                channel_topic=OKEX_V1.stream_topic,
                fault="restart: 1001, down 2 s, 2x 429",
                fault_us=fault_us,
                reason="closed_normal",
            )
            assert reconnects(bridge, OKEX_V1, conn["name"], "connection_refused") >= 1
            assert reconnects(bridge, OKEX_V1, conn["name"], "handshake_rejected") == 2
