"""Group mode's metrics at start, before any assignment: what the alerts on the group read."""

from __future__ import annotations

import asyncio

from bridge.cluster.holdings import Start
from bridge.cluster.runner import ClusterRunner
from bridge.metrics import Metrics


class NoHost:
    def start_session(self, connection: str, start: Start) -> asyncio.Event:
        raise AssertionError("no session starts without an assignment")

    def first_subscribed(self, connection: str) -> asyncio.Event:
        raise AssertionError("no session starts without an assignment")

    async def stop_session(self, connection: str, *, handed_over: bool) -> None:
        raise AssertionError("no session starts without an assignment")


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


async def test_a_member_exports_its_configured_connections_and_holds_none_yet() -> None:
    """BridgeClusterConnectionsUnheld compares the configured count with the sum of held over
    the members: both must be there from the start, with the group label."""
    metrics = Metrics()
    ClusterRunner(
        NoHost(),
        metrics,
        connections=["okx-public", "okx-business", "kraken"],
        instance="bridge-0",
        group_id="md",
        topic="bridge.cluster",
        bootstrap_servers="127.0.0.1:9",
        client_id="test",
        client_options={},
        session_timeout_ms=6000,
        heartbeat_interval_ms=2000,
        handover_timeout_seconds=15,
    )
    assert value(metrics, "bridge_cluster_configured_connections", group="md") == 3
    assert value(metrics, "bridge_cluster_connections", group="md", state="held") == 0
    assert value(metrics, "bridge_cluster_member", group="md") == 0
    assert value(metrics, "bridge_cluster_rebalances_total", group="md") == 0
    for start in ("fresh", "handover", "holder_lost"):
        assert value(metrics, "bridge_cluster_takeovers_total", group="md", start=start) == 0
    for outcome in ("handed_over", "closed"):
        assert value(metrics, "bridge_cluster_releases_total", group="md", outcome=outcome) == 0
