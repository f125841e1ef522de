"""Shared by the settings tests: a full configuration, fake secrets, small builders."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from bridge.errors import ConfigError
from bridge.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

# Fake secrets: must never show up anywhere but in get_secret_value().
API_KEY = "ak-FAKE-0d5e7a11"
SECRET_KEY = "sk-FAKE-9f3b2c44"
PASSPHRASE = "pp-FAKE-71c0e8d2"

FULL_YAML = """\
instance: bridge-7
log_level: debug
kafka:
  bootstrap_servers: kafka-1:9092,kafka-2:9092
  topic_prefix: "prod."
  client_id: my-bridge
  linger_ms: 20
  max_batch_size: 2097152
  request_timeout_ms: 15000
  compression_type: gzip
schema_registry:
  url: http://registry:8081
metrics:
  host: 127.0.0.1
  port: 9000
publisher:
  buffer_max_records: 5000
  buffer_max_bytes: 1048576
  overflow: drop
  raw_topics: false
  deadletter_topic: my.deadletter
shutdown:
  flush_timeout_seconds: 3.5
shard:
  index: 1
  count: 3
connections:
  - name: okx-public
    exchange: okx
    url: wss://ws.okx.com:8443/ws/v5/public
    enabled: true
    subscriptions:
      - {channel: status}
      - {channel: tickers, instId: BTC-USDT}
    keepalive_seconds: 15
    idle_timeout_seconds: 40
    connect_timeout_seconds: 5
    reconnect:
      initial_seconds: 0.5
      max_seconds: 30
      healthy_after_seconds: 10
    tls:
      ca_file: /etc/ssl/sim.pem
      verify: false
  - name: okx-business
    exchange: okx
    url: wss://ws.okx.com:8443/ws/v5/business
    enabled: false
    subscriptions:
      - {channel: economic-calendar}
    credentials:
      api_key: "${OKX_API_KEY}"
      secret_key: "${OKX_SECRET_KEY}"
      passphrase: "${OKX_PASSPHRASE}"
      token: null
"""

SECRETS_ENV = {"OKX_API_KEY": API_KEY, "OKX_SECRET_KEY": SECRET_KEY, "OKX_PASSPHRASE": PASSPHRASE}


def write(tmp_path: Path, text: str, name: str = "bridge.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def connection(**overrides: Any) -> dict[str, Any]:
    conn: dict[str, Any] = {
        "name": "okx-public",
        "exchange": "okx",
        "url": "wss://ws.okx.com:8443/ws/v5/public",
        "subscriptions": [{"channel": "status"}],
    }
    conn.update(overrides)
    return conn


def config_error(data: dict[str, Any], environ: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        Settings.from_mapping(data, environ={} if environ is None else environ)
    return info.value


def secret_connection(**overrides: Any) -> dict[str, Any]:
    creds = {"api_key": API_KEY, "secret_key": SECRET_KEY, "passphrase": PASSPHRASE}
    return connection(credentials=creds, **overrides)


def assert_no_secret(text: str) -> None:
    for secret in (API_KEY, SECRET_KEY, PASSPHRASE):
        assert secret not in text
