"""The real thing on loopback: bridge processes (`python -m bridge run`) against the OKX
simulator and a sandbox Kafka broker.

* A real Prometheus scrapes a bridge; every dashboard query and every alert expression (from
  monitoring/alerts.yaml and from the chart's PrometheusRule) runs through Prometheus' HTTP API
  and returns series with the labels its legend or annotations use, and every metric name they
  mention is one the bridge exports.
  Group mode's series (``bridge_cluster_*``) exist only in group mode: the queries that use
  them are run against a group-mode bridge of their own, and against the static-mode bridge
  they must return nothing (so the split between the two cannot hide a query).
* N bridge processes with shard indexes 0..N-1 over one config hold every connection exactly
  once between them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bridge.sandbox.kafka import SandboxKafka
from bridge.sandbox.okx import BUSINESS_PATH, PUBLIC_PATH, OkxAccount
from bridge.sharding import assign_shards
from tests.deploy.running import (
    BridgeProcess,
    PrometheusServer,
    ThreadedSimulator,
    exported_names,
    samples,
    wait_for,
)
from tests.deploy.test_dockerfile import healthcheck_command
from tests.deploy.tools import CHART, MONITORING, helm_template, tool, which

KEY, SECRET, PASSPHRASE = "deploy-key", "deploy-secret", "deploy-pass"
RATE_INTERVAL = "10s"  # what Grafana's $__rate_interval is for a 1 s scrape interval, rounded up
TARGET_LABELS = {"namespace": "market-data", "pod": "md-exchange-bridge-0"}
# The target labels a query about a whole deployment or group (not one pod) may aggregate
# away, and only with an explicit ``without (...)``: those that tell the pods apart.
PER_POD_LABELS = {"instance", "pod"}


@pytest.fixture
def simulator() -> Iterator[ThreadedSimulator]:
    sim = ThreadedSimulator(
        accounts={KEY: OkxAccount(SECRET, PASSPHRASE, vip_level=1)},
        rates={"tickers": 10.0},
        idle_timeout=60.0,
    )
    try:
        yield sim
    finally:
        sim.stop()


def connection(name: str, url: str, *subscriptions: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "exchange": "okx",
        "url": url,
        "subscriptions": list(subscriptions),
        "reconnect": {"initial_seconds": 0.2, "max_seconds": 1.0, "healthy_after_seconds": 2.0},
        **extra,
    }


def base_config(kafka: SandboxKafka, connections: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "kafka": {
            "bootstrap_servers": kafka.bootstrap_servers,
            "topic_prefix": f"d{uuid.uuid4().hex[:8]}.",
            "linger_ms": 1,
        },
        "connections": connections,
    }


# -- Prometheus scrapes a running bridge ------------------------------------------------------


def split_top_level(expr: str, keywords: tuple[str, ...]) -> list[str]:
    """Split a PromQL expression at set operators outside parentheses, braces and quotes."""
    parts, depth, quote, start, i = [], 0, "", 0, 0
    while i < len(expr):
        ch = expr[i]
        if quote:
            quote = "" if ch == quote and expr[i - 1] != "\\" else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0:
            for keyword in keywords:
                if expr.startswith(keyword, i):
                    parts.append(expr[start:i])
                    start = i + len(keyword)
                    i = start - 1
                    break
        i += 1
    parts.append(expr[start:])
    return [p.strip() for p in parts]


def value_expression(expr: str) -> str:
    """What an alert compares: the first operand of its set operations, without the final
    comparison with a number. ``x > 600 unless on (c) (y == 0)`` -> ``x``. On a healthy bridge
    the alert itself is (rightly) empty; its value expression must not be."""
    flat = " ".join(expr.split())
    first = split_top_level(flat, (" unless ", " and ", " or "))[0]
    match = re.fullmatch(
        r"(.*\S)\s*(?:==|!=|>=|<=|>|<)\s*(?:bool\s+)?[-+]?[0-9.]+(?:e[-+]?\d+)?", first
    )
    return match.group(1) if match else first


def metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\b(bridge_[a-z0-9_]+)\b", expr))


def group_only(expr: str) -> bool:
    """Whether a query reads group mode's series, which a static-mode bridge does not have."""
    return any(name.startswith("bridge_cluster_") for name in metric_names(expr))


def aggregated_away(expr: str) -> set[str]:
    """The labels an expression drops with ``without (...)``."""
    dropped: set[str] = set()
    for labels in re.findall(r"\bwithout\s*\(([^)]*)\)", expr):
        dropped |= {label.strip() for label in labels.split(",") if label.strip()}
    return dropped


def check_metric_names(where: str, expr: str, exported: set[str]) -> None:
    unknown = metric_names(expr) - exported
    assert not unknown, f"{where} names metrics the bridge does not export: {sorted(unknown)}"


def dashboard_queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(panel title, expr, legendFormat) for every target, nested rows included."""
    panels = list(dashboard["panels"])
    while panels:
        panel = panels.pop(0)
        panels.extend(panel.get("panels", []))
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"], target.get("legendFormat", "")


def substitute(expr: str, exchange: str = ".*", connection: str = ".*") -> str:
    return (
        expr.replace("$__rate_interval", RATE_INTERVAL)
        .replace("$exchange", exchange)
        .replace("$connection", connection)
    )


def test_metric_name_check_catches_a_metric_the_bridge_does_not_export() -> None:
    exported = {"bridge_frames_received_total", "bridge_ready"}
    check_metric_names("ok", "rate(bridge_frames_received_total[1m])", exported)
    with pytest.raises(AssertionError, match="bridge_frames_total"):
        check_metric_names("panel", "rate(bridge_frames_total[1m])", exported)


def test_group_only_and_aggregated_away() -> None:
    assert group_only('sum by (group) (bridge_cluster_connections{state="held"})')
    assert not group_only("count without (instance, pod) (bridge_connection_up) > 1")
    assert aggregated_away("max without (instance, pod) (a) - sum without (pod, state) (b)") == {
        "instance",
        "pod",
        "state",
    }
    assert aggregated_away("sum by (group) (a)") == set()


def test_value_expression() -> None:
    assert value_expression("bridge_ready == 0") == "bridge_ready"
    assert value_expression('a{c!~"x|y"} > 600\nunless on (c) (b == 0)') == 'a{c!~"x|y"}'
    assert value_expression("(a / 2 > b or b) > 0.8") == "(a / 2 > b or b)"


def test_prometheus_scrapes_dashboard_and_alert_queries(
    deploy_kafka: SandboxKafka, simulator: ThreadedSimulator, tmp_path: Path
) -> None:
    tool("prometheus")
    sim = simulator.sim
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for key, value in {"api-key": KEY, "secret-key": SECRET, "passphrase": PASSPHRASE}.items():
        (secrets / key).write_text(value + "\n")
    config = base_config(
        deploy_kafka,
        [
            connection(
                "okx-public",
                sim.url(PUBLIC_PATH),
                {"channel": "status"},
                {"channel": "tickers", "instId": "BTC-USDT"},
            ),
            connection(
                "okx-business",
                sim.url(BUSINESS_PATH),
                {"channel": "economic-calendar"},
                credentials={  # as the chart writes them
                    "api_key": f"${{file:{secrets}/api-key}}",
                    "secret_key": f"${{file:{secrets}/secret-key}}",
                    "passphrase": f"${{file:{secrets}/passphrase}}",
                },
            ),
        ],
    )
    rule_files = alert_rule_files(tmp_path)

    bridge = BridgeProcess(config, tmp_path, "bridge")
    prometheus: PrometheusServer | None = None
    try:
        bridge.wait_ready()
        prometheus = PrometheusServer(
            tmp_path, [f"127.0.0.1:{bridge.port}"], TARGET_LABELS, rule_files
        )
        # What the dashboard's panels show besides the steady flow: a reconnect, an exchange
        # error code and a dead letter.
        simulator.run(sim.drop_connections)
        simulator.run(lambda: sim.wait_for_subscribers("tickers", timeout=15))
        simulator.run(lambda: sim.wait_for_subscribers("economic-calendar", timeout=15))
        bridge.wait_ready()
        simulator.run(
            lambda: sim.send_raw(
                json.dumps({"event": "error", "code": "60012", "msg": "Invalid request"}),
                path=PUBLIC_PATH,
            )
        )
        simulator.run(lambda: sim.send_raw("not json at all", path=PUBLIC_PATH))
        wait_for(
            "the dead letter and the error code in /metrics",
            lambda: all(
                samples(bridge.metrics(), name)
                for name in ("bridge_deadletter_total", "bridge_exchange_errors_total")
            ),
            10,
        )
        exported = exported_names(bridge.metrics())

        def scraped_enough() -> bool:
            assert prometheus is not None
            bridge.wait_ready(5)  # keeps bridge_ready (set by /readyz) current
            found = prometheus.query("count_over_time(bridge_deadletter_total[1m])")
            return bool(found) and all(float(r["value"][1]) >= 5 for r in found)

        wait_for("five scrapes after the events", scraped_enough, 40, interval=0.5)

        checked = check_dashboard(
            prometheus, exported, {"okx-public", "okx-business"}, group_mode=False
        )
        assert checked >= 20
        check_alert_rules(prometheus, rule_files, exported, group_mode=False)
        check_healthcheck(bridge.port)
    finally:
        if prometheus is not None:
            prometheus.stop()
        bridge.stop()


def alert_rule_files(tmp_path: Path) -> list[Path]:
    rule_files = [MONITORING / "alerts.yaml"]
    if which("helm"):  # the chart's PrometheusRule with overrides and other thresholds too
        everything = CHART / "ci" / "everything-values.yaml"
        rule = next(d for d in helm_template(everything) if d["kind"] == "PrometheusRule")
        chart_rules = tmp_path / "chart-rules.yaml"
        chart_rules.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
        rule_files.append(chart_rules)
    return rule_files


def check_dashboard(
    prometheus: PrometheusServer, exported: set[str], connections: set[str], *, group_mode: bool
) -> int:
    """Runs the dashboard's queries that the bridge's mode has series for (group mode's own,
    or all the others) and returns how many; in static mode group mode's queries must be
    empty."""
    dashboard = json.loads((MONITORING / "dashboard.json").read_text())
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"

    # Variables: label_values(selector, label) must find values.
    values: dict[str, set[str]] = {}
    for name in ("exchange", "connection"):
        query = variables[name]["query"]["query"]
        check_metric_names(f"variable {name}", query, exported)
        match = re.fullmatch(r"label_values\((.*), (\w+)\)", query)
        assert match, query
        selector = substitute(match.group(1), exchange="okx")
        values[name] = {r["metric"][match.group(2)] for r in prometheus.query(selector)}
    assert values == {"exchange": {"okx"}, "connection": connections}

    count = 0
    for title, expr, legend in dashboard_queries(dashboard):
        check_metric_names(f"panel {title!r}", expr, exported)
        if group_only(expr) != group_mode:
            if not group_mode:
                assert not prometheus.query(substitute(expr)), f"{expr} is not group mode's"
            continue
        wanted = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", legend))
        for exchange, conn in ((".*", ".*"), ("okx", "okx-public")):
            result = prometheus.query(substitute(expr, exchange, conn))
            assert result, f"panel {title!r}: no series for {substitute(expr, exchange, conn)}"
            for series in result:
                missing = wanted - set(series["metric"])
                assert not missing, f"panel {title!r}: series {series['metric']} lacks {missing}"
                if "connection" in series["metric"] and conn != ".*":
                    assert series["metric"]["connection"] == conn
        count += 1
    return count


def check_alert_rules(
    prometheus: PrometheusServer, rule_files: list[Path], exported: set[str], *, group_mode: bool
) -> int:
    """As check_dashboard, for the alert expressions; returns how many were run."""
    count = 0
    for file in rule_files:
        groups = yaml.safe_load(file.read_text())["groups"]
        for rule in (r for g in groups for r in g["rules"]):
            where = f"{file.name}: {rule['alert']}"
            check_metric_names(where, rule["expr"], exported)
            prometheus.query(rule["expr"])  # valid and evaluates; empty while healthy
            value = value_expression(rule["expr"])
            if group_only(rule["expr"]) != group_mode:
                if not group_mode:
                    assert not prometheus.query(value), f"{where} is not group mode's"
                continue
            count += 1
            # a target label may be dropped only when it tells the pods apart
            dropped = aggregated_away(rule["expr"]) & set(TARGET_LABELS)
            assert dropped <= PER_POD_LABELS, f"{where} aggregates away {dropped}"
            result = prometheus.query(value)
            assert result, f"{where}: no series for {value}"
            text = " ".join(rule["annotations"].values())
            wanted = set(re.findall(r"\$labels\.(\w+)", text))
            for series in result:
                missing = wanted - set(series["metric"])
                assert not missing, f"{where}: {series['metric']} lacks {missing}"
                for label, value_ in TARGET_LABELS.items():
                    if label not in dropped:
                        assert series["metric"].get(label) == value_, f"{where} drops {label}"
                    else:
                        assert label not in series["metric"], f"{where} keeps {label}"

    rules = [r for g in prometheus.api("rules")["groups"] for r in g["rules"]]
    assert len(rules) == sum(
        len(g["rules"]) for f in rule_files for g in yaml.safe_load(f.read_text())["groups"]
    )
    bad = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    assert not bad, bad
    alerts = prometheus.api("alerts")["alerts"]
    firing = {(a["labels"]["alertname"], a["state"]) for a in alerts}
    broken = {"BridgeConnectionDown", "BridgeNotReady", "BridgeDeliveryLagHigh"}
    broken |= {"BridgeConnectionHeldTwice", "BridgeClusterConnectionsUnheld"}
    broken |= {"BridgeClusterRebalanceStorm", "BridgeClusterHolderLost"}
    broken |= {"BridgeClusterReleaseClosed"}
    # Nothing that means "broken" fires or is pending; in static mode the dead letter fires
    # BridgeDeadLetters for real.
    assert not {name for name, _ in firing} & broken, firing
    if not group_mode:
        assert ("BridgeDeadLetters", "firing") in firing
    return count


def check_healthcheck(port: int) -> None:
    """The Dockerfile's HEALTHCHECK command against the running bridge (and a dead port)."""
    command = healthcheck_command()
    assert command[0] == "python"
    env = {"BRIDGE_METRICS__PORT": str(port), "PATH": ""}
    ok = subprocess.run([sys.executable, *command[1:]], env=env, timeout=20, check=False)
    assert ok.returncode == 0
    env["BRIDGE_METRICS__PORT"] = "1"
    bad = subprocess.run(
        [sys.executable, *command[1:]], env=env, timeout=20, check=False, capture_output=True
    )
    assert bad.returncode != 0


def test_prometheus_scrapes_group_mode_queries(
    deploy_kafka: SandboxKafka, simulator: ThreadedSimulator, tmp_path: Path
) -> None:
    """The dashboard's and the alerts' queries on group mode's series, against a bridge in
    group mode (alone in its group: it is the leader and holds both connections)."""
    tool("prometheus")
    sim = simulator.sim
    config = base_config(
        deploy_kafka,
        [
            connection(name, sim.url(PUBLIC_PATH), {"channel": "tickers", "instId": "BTC-USDT"})
            for name in ("okx-public", "okx-tickers")
        ],
    )
    config["cluster"] = {"mode": "group", "group_id": f"deploy-{uuid.uuid4().hex[:8]}"}
    rule_files = alert_rule_files(tmp_path)
    bridge = BridgeProcess(config, tmp_path, "group-bridge")
    prometheus: PrometheusServer | None = None
    try:
        bridge.wait_ready()
        prometheus = PrometheusServer(
            tmp_path, [f"127.0.0.1:{bridge.port}"], TARGET_LABELS, rule_files
        )
        exported = exported_names(bridge.metrics())
        held = samples(bridge.metrics(), "bridge_cluster_connections")
        assert ({"group": config["cluster"]["group_id"], "state": "held"}, 2.0) in held

        def scraped_enough() -> bool:
            assert prometheus is not None
            found = prometheus.query("count_over_time(bridge_cluster_rebalances_total[1m])")
            return bool(found) and all(float(r["value"][1]) >= 5 for r in found)

        wait_for("five scrapes of the group's series", scraped_enough, 40, interval=0.5)
        assert (
            check_dashboard(prometheus, exported, {"okx-public", "okx-tickers"}, group_mode=True)
            >= 8
        )
        # the group alerts, from the plain file and the chart's rules
        assert check_alert_rules(prometheus, rule_files, exported, group_mode=True) == 4 * len(
            rule_files
        )
        unheld = value_expression(
            next(
                r["expr"]
                for g in yaml.safe_load((MONITORING / "alerts.yaml").read_text())["groups"]
                for r in g["rules"]
                if r["alert"] == "BridgeClusterConnectionsUnheld"
            )
        )
        (result,) = prometheus.query(unheld)
        assert float(result["value"][1]) == 0  # both connections held, once
    finally:
        if prometheus is not None:
            prometheus.stop()
        bridge.stop()


# -- shard processes --------------------------------------------------------------------------


def test_shard_processes_hold_every_connection_once(
    deploy_kafka: SandboxKafka, simulator: ThreadedSimulator, tmp_path: Path
) -> None:
    sim = simulator.sim
    count = 3
    names = [f"okx-{i}" for i in range(7)]
    connections = [connection(n, sim.url(PUBLIC_PATH), {"channel": "status"}) for n in names]
    connections.append(  # disabled: no shard holds it
        connection("okx-off", sim.url(PUBLIC_PATH), {"channel": "status"}, enabled=False)
    )
    config = base_config(deploy_kafka, connections)
    bridges = [
        BridgeProcess({**config, "shard": {"index": i, "count": count}}, tmp_path, f"shard-{i}")
        for i in range(count)
    ]
    try:
        for bridge in bridges:
            bridge.wait_ready()
        held: list[set[str]] = []
        for bridge in bridges:
            up = samples(bridge.metrics(), "bridge_connection_up")
            assert all(value == 1 for _, value in up), up
            held.append({labels["connection"] for labels, _ in up})
        assert sorted(len(h) for h in held) == [2, 2, 3], (
            f"uneven split {held}: does bridge/app.py take owned_connections from bridge.sharding?"
        )
        assert set().union(*held) == set(names)
        assert sum(len(h) for h in held) == len(names)  # nobody twice
        expected = assign_shards(names, count)
        for index, connections_held in enumerate(held):
            assert connections_held == {n for n in names if expected[n] == index}
        # and the exchange sees exactly one WebSocket per configured connection
        wait_for("7 connections at the simulator", lambda: len(sim.connections) == 7, 10)
    finally:
        for bridge in bridges:
            bridge.stop()
