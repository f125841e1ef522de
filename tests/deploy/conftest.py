"""Deployment tests: the Helm chart, the alert rules, the dashboard and the image, checked with
the real tools (helm, promtool, prometheus); see tests/deploy/tools.py for how a missing tool
is handled."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bridge.sandbox.kafka import SandboxKafka
from tests.integration.conftest import start_sandbox_kafka


@pytest.fixture(scope="package")
def deploy_kafka() -> Iterator[SandboxKafka]:
    """A broker for the tests that run bridge processes; stopped when tests/deploy is done so
    that it never overlaps the integration tests' broker."""
    broker = start_sandbox_kafka()
    try:
        yield broker
    finally:
        broker.stop()
