"""Integration tests run against a real Kafka broker (bridge.sandbox.kafka).

One broker is started per test session (about 3 s once the jars are cached) and
shared by all tests that ask for the ``kafka`` / ``kafka_bootstrap`` fixtures; tests
that stop or kill the broker use ``fresh_kafka``, a broker of their own.

Every test under tests/integration/ is marked ``integration``, so
``pytest -m 'not integration'`` runs the unit tests alone.

Without java/mvn the broker tests are skipped, unless BRIDGE_REQUIRE_KAFKA=1 (set by
.ci/run), in which case they fail: CI must never pass by skipping them.

The session ends with the table of recovery times the fault tests measured (recovery.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from bridge.errors import MissingToolError
from bridge.sandbox.kafka import SandboxKafka
from bridge.sandbox.registry import SandboxRegistry
from tests.integration.recovery import RESULTS, format_table

_HERE = Path(__file__).resolve().parent


class Startable(Protocol):
    def start(self) -> None: ...


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.integration)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if RESULTS:
        terminalreporter.section("recovery times")
        terminalreporter.write_line(
            "ms from the fault; reconnect initial 1 s, max 2 s (tests/integration/recovery.py)"
        )
        terminalreporter.write_line(format_table(RESULTS))


def start_or_skip(server: Startable, what: str) -> None:
    """Start a sandbox server; skip the test if java/mvn are missing (fail under CI)."""
    try:
        server.start()
    except MissingToolError as exc:
        if os.environ.get("BRIDGE_REQUIRE_KAFKA") == "1":
            raise
        pytest.skip(f"sandbox {what} unavailable: {exc}")


def start_sandbox_kafka(**kwargs: Any) -> SandboxKafka:
    """Start a broker; skip the test if java/mvn are missing (fail under CI)."""
    kafka = SandboxKafka(**kwargs)
    start_or_skip(kafka, "Kafka")
    return kafka


@pytest.fixture(scope="session")
def kafka() -> Iterator[SandboxKafka]:
    """A running single-node broker shared by the whole session. Do not stop it."""
    broker = start_sandbox_kafka()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def kafka_bootstrap(kafka: SandboxKafka) -> str:
    """``"127.0.0.1:PORT"`` of the session broker."""
    return kafka.bootstrap_servers


@pytest.fixture(scope="module")
def registry() -> Iterator[SandboxRegistry]:
    """One Apicurio Registry for the test module (about 5 s to start), on HTTP and HTTPS."""
    server = SandboxRegistry(tls=True)
    start_or_skip(server, "registry")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_kafka() -> Iterator[SandboxKafka]:
    """A broker for this test alone (about 3 s): free to stop, kill and restart."""
    broker = start_sandbox_kafka()
    try:
        yield broker
    finally:
        broker.stop()
