"""The command line as a user runs it: exit codes and messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def bridge(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridge", *args], capture_output=True, text=True, timeout=60, env=env
    )


@pytest.mark.parametrize(
    ("yaml_text", "field"),
    [
        (
            "connections:\n"
            "  - {name: a, exchange: okx, url: 'http://x', subscriptions: [{channel: status}]}\n",
            "connections.0.url",
        ),
        ("metrics:\n  port: eighty\n", "metrics.port"),
        ("kafka:\n  bootstrap_server: x:9092\n", "kafka.bootstrap_server"),
        (
            "connections:\n"
            "  - {name: a, exchange: nope, url: 'ws://x', subscriptions: [{channel: s}]}\n",
            "connections.0.exchange",
        ),
    ],
)
def test_bad_config_exits_2_and_names_the_field(tmp_path: Path, yaml_text: str, field: str) -> None:
    config = tmp_path / "bridge.yaml"
    config.write_text(yaml_text)
    result = bridge("run", "--config", str(config))
    assert result.returncode == 2, result.stderr
    assert field in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    result = bridge("run", "--config", str(tmp_path / "absent.yaml"))
    assert result.returncode == 2
    assert "absent.yaml" in result.stderr


def test_check_prints_the_config_without_secrets(tmp_path: Path) -> None:
    config = tmp_path / "bridge.yaml"
    config.write_text(
        "connections:\n"
        "  - name: okx-business\n"
        "    exchange: okx\n"
        "    url: wss://ws.okx.com:8443/ws/v5/business\n"
        "    subscriptions: [{channel: economic-calendar}]\n"
        "    credentials: {api_key: '${K}', secret_key: '${S}', passphrase: '${P}'}\n"
    )
    env = {"PATH": "/usr/bin:/bin", "K": "key-AAA111", "S": "secret-BBB222", "P": "phrase-CCC333"}
    result = bridge("run", "--config", str(config), "--check", env={**env, "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "okx-business" in result.stdout
    for secret in env.values():
        if secret != "/usr/bin:/bin":
            assert secret not in result.stdout + result.stderr


def test_help_lists_the_commands() -> None:
    result = bridge("--help")
    assert result.returncode == 0
    for command in ("run", "demo", "tail"):
        assert command in result.stdout
