"""The alert rules: promtool check rules, promtool test rules (monitoring/alerts.test.yaml fires
each alert on synthetic series and keeps it quiet on healthy ones), and the promises around them:
each required alert exists, has a summary, is tested both ways and has a runbook section."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.deploy.tools import MONITORING, REPO, run, tool

REQUIRED_ALERTS = {
    "BridgeConnectionDown": "connection down",
    "BridgeReconnectStorm": "reconnect storm",
    "BridgeDeliveryLagHigh": "delivery lag p99 high",
    "BridgeDeadLetters": "dead-letter rate above zero",
    "BridgeBufferNearFull": "buffer near full",
    "BridgeSubscriptionSilent": "a subscription with no message for too long",
    "BridgeExchangeMaintenance": "exchange in maintenance",
    "BridgeNotReady": "bridge not ready",
    "BridgeConnectionHeldTwice": "a connection open on two pods",
    "BridgeClusterConnectionsUnheld": "group mode: a connection held by no member",
    "BridgeClusterRebalanceStorm": "group mode: rebalances above N per 10 minutes",
    "BridgeClusterHolderLost": "group mode: a member vanished, its connections had a gap",
    "BridgeClusterReleaseClosed": "group mode: a planned move that was not gap-free",
}


def alert_rules() -> list[dict[str, Any]]:
    rules = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    return [rule for group in rules["groups"] for rule in group["rules"]]


def test_promtool_check_rules() -> None:
    out = run(tool("promtool"), "check", "rules", str(MONITORING / "alerts.yaml")).stdout
    assert f"SUCCESS: {len(REQUIRED_ALERTS)} rules found" in out


def test_promtool_unit_tests() -> None:
    result = run(tool("promtool"), "test", "rules", str(MONITORING / "alerts.test.yaml"))
    assert "SUCCESS" in result.stdout


def test_every_required_alert_is_there_with_a_summary() -> None:
    rules = alert_rules()
    assert [r["alert"] for r in rules] == list(REQUIRED_ALERTS)
    for rule in rules:
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
        assert rule["annotations"]["summary"]
        anchor = rule["alert"].lower()
        assert f"docs/OPERATIONS.md#{anchor}" in rule["annotations"]["description"]


def test_every_alert_is_tested_firing_and_quiet() -> None:
    tests = yaml.safe_load((MONITORING / "alerts.test.yaml").read_text())
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in tests["tests"]:
        for check in case["alert_rule_test"]:
            (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert fired == set(REQUIRED_ALERTS)
    assert quiet == set(REQUIRED_ALERTS)


def test_every_alert_has_a_runbook_section() -> None:
    """docs/OPERATIONS.md has a heading per alert (GitHub's anchor is the lower-cased name)
    that says what it means and what to do."""
    doc = (REPO / "docs" / "OPERATIONS.md").read_text()
    headings = re.findall(r"^### (\w+)$", doc, re.MULTILINE)
    for alert in REQUIRED_ALERTS:
        assert alert in headings, f"docs/OPERATIONS.md has no '### {alert}' section"
        section = doc.split(f"### {alert}\n", 1)[1].split("\n### ", 1)[0]
        assert "**Meaning**" in section and "**Action**" in section, alert
