"""SASL/SCRAM over TLS to a broker configured for it (certificate made by the fixture),
credentials from secret files; refusals are clear errors with exit code 2, not hangs."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bridge.sandbox.kafka import SandboxKafka
from bridge.sandbox.okx import PUBLIC_PATH, OkxSimulator
from bridge.settings import Settings
from tests.integration.conftest import start_sandbox_kafka
from tests.integration.harness import (
    payloads,
    read_topic,
    running_bridge,
    unique_prefix,
    wait_until,
)

USER, PASSWORD = "bridge", "Correct-Horse-9-Battery"


@pytest.fixture(scope="module")
def secure_kafka() -> Iterator[SandboxKafka]:
    broker = start_sandbox_kafka(scram_users={USER: PASSWORD})
    try:
        yield broker
    finally:
        broker.stop()


def secret_file(tmp_path: Path, value: str) -> Path:
    path = tmp_path / "kafka_password"
    path.write_text(value + "\n")
    path.chmod(0o600)
    return path


def config(
    kafka: SandboxKafka, password_file: Path, url: str, *, trust: bool = True
) -> dict[str, Any]:
    return {
        "instance": "secure",
        "kafka": {
            "bootstrap_servers": kafka.sasl_ssl_bootstrap_servers,
            "topic_prefix": unique_prefix(),
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": USER,
            "sasl_password": f"${{file:{password_file}}}",
            "ssl_ca_file": str(kafka.ca_file) if trust else None,
        },
        "metrics": {"host": "127.0.0.1", "port": 0},
        "connections": [
            {
                "name": "okx-public",
                "exchange": "okx",
                "url": url,
                "subscriptions": [{"channel": "status"}],
            }
        ],
    }


async def test_records_flow_over_sasl_scram_and_tls(
    secure_kafka: SandboxKafka, tmp_path: Path
) -> None:
    async with OkxSimulator() as sim:
        data = config(secure_kafka, secret_file(tmp_path, PASSWORD), sim.url(PUBLIC_PATH))
        settings = Settings.from_mapping(data)
        assert PASSWORD not in repr(settings) and PASSWORD not in settings.model_dump_json()
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.readiness_problems() == [], what="ready over SASL_SSL")
    prefix = data["kafka"]["topic_prefix"]
    # read back on the broker's plaintext listener: the same topics
    records = await read_topic(
        secure_kafka.bootstrap_servers,
        prefix + "okx.status",
        lambda rs: bool(payloads(rs, "Status")),
    )
    assert payloads(records, "Status")[0]["state"] == "completed"


def run_bridge(path: Path, data: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    path.write_text(yaml.safe_dump(data))
    return subprocess.run(
        [sys.executable, "-m", "bridge", "run", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_a_wrong_password_exits_2_with_a_clear_message(
    secure_kafka: SandboxKafka, tmp_path: Path
) -> None:
    wrong = "Wrong-Password-7-Staple"
    async with OkxSimulator() as sim:
        data = config(secure_kafka, secret_file(tmp_path, wrong), sim.url(PUBLIC_PATH))
        result = run_bridge(tmp_path / "bridge.yaml", data)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "refused the SASL credentials" in result.stderr
    assert "kafka.sasl_password" in result.stderr
    assert wrong not in result.stdout + result.stderr


async def test_an_untrusted_certificate_exits_2_with_a_clear_message(
    secure_kafka: SandboxKafka, tmp_path: Path
) -> None:
    async with OkxSimulator() as sim:
        data = config(
            secure_kafka, secret_file(tmp_path, PASSWORD), sim.url(PUBLIC_PATH), trust=False
        )
        result = run_bridge(tmp_path / "bridge.yaml", data)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "not trusted" in result.stderr and "kafka.ssl_ca_file" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr
