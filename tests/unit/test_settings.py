"""Configuration: YAML, ${…} references, BRIDGE_ overrides, validation and error messages."""

from __future__ import annotations

import socket
import textwrap
from pathlib import Path
from typing import Any

import pytest

from bridge.errors import ConfigError
from bridge.exchanges import known_exchanges
from bridge.exchanges.base import Credentials
from bridge.settings import (
    ConnectionSettings,
    CredentialsSettings,
    Settings,
    load_settings,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

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


# -- defaults and the full example ---------------------------------------------------------------


def test_defaults() -> None:
    s = load_settings(environ={})
    assert s.instance is None
    assert s.log_level == "INFO"
    assert s.kafka.bootstrap_servers == "localhost:9092"
    assert s.kafka.topic_prefix == ""
    assert s.kafka.client_id == "exchange-bridge"
    assert (s.kafka.linger_ms, s.kafka.max_batch_size) == (5, 1048576)
    assert s.kafka.request_timeout_ms == 30000
    assert s.kafka.compression_type is None
    assert s.schema_registry.url is None
    assert (s.metrics.host, s.metrics.port) == ("0.0.0.0", 9464)
    assert s.publisher.buffer_max_records == 100000
    assert s.publisher.buffer_max_bytes == 67108864
    assert s.publisher.overflow == "block"
    assert s.publisher.raw_topics is True
    assert s.publisher.deadletter_topic == "bridge.deadletter"
    assert s.shutdown.flush_timeout_seconds == 10
    assert (s.shard.index, s.shard.count) == (0, 1)
    assert s.connections == []

    conn = Settings.from_mapping({"connections": [connection()]}, environ={}).connections[0]
    assert conn.enabled is True
    assert conn.credentials is None and conn.adapter_credentials() is None
    assert conn.keepalive_seconds is None
    assert (conn.idle_timeout_seconds, conn.connect_timeout_seconds) == (30, 10)
    assert conn.reconnect.model_dump() == {
        "initial_seconds": 1.0,
        "max_seconds": 60.0,
        "healthy_after_seconds": 30.0,
    }
    assert conn.tls.ca_file is None and conn.tls.verify is True


def test_instance_name_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (
        Settings.from_mapping({"instance": "b1"}, environ={"POD_NAME": "p"}).instance_name == "b1"
    )
    both = {"POD_NAME": "pod-3", "HOSTNAME": "host-3"}
    assert load_settings(environ=both).instance_name == "pod-3"
    assert load_settings(environ={"HOSTNAME": "host-3"}).instance_name == "host-3"
    monkeypatch.setattr(socket, "gethostname", lambda: "the-host")
    assert load_settings(environ={}).instance_name == "the-host"


def test_full_example_round_trip(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, FULL_YAML), environ=SECRETS_ENV)
    assert s.instance_name == "bridge-7"
    assert s.log_level == "DEBUG"
    assert s.kafka.bootstrap_servers == "kafka-1:9092,kafka-2:9092"
    assert s.kafka.topic_prefix == "prod."
    assert s.kafka.compression_type == "gzip"
    assert s.schema_registry.url == "http://registry:8081"
    assert (s.metrics.host, s.metrics.port) == ("127.0.0.1", 9000)
    assert s.publisher.overflow == "drop" and s.publisher.raw_topics is False
    assert s.shutdown.flush_timeout_seconds == 3.5
    assert (s.shard.index, s.shard.count) == (1, 3)

    public, business = s.connections
    assert public.subscriptions == [
        {"channel": "status"},
        {"channel": "tickers", "instId": "BTC-USDT"},
    ]
    assert public.keepalive_seconds == 15 and public.idle_timeout_seconds == 40
    assert public.reconnect.initial_seconds == 0.5 and public.reconnect.max_seconds == 30
    assert public.tls.ca_file == Path("/etc/ssl/sim.pem") and public.tls.verify is False
    assert business.enabled is False
    assert s.enabled_connections == [public]
    assert business.adapter_credentials() == Credentials(
        api_key=API_KEY, secret_key=SECRET_KEY, passphrase=PASSPHRASE, token=""
    )

    # Dumped (secrets masked, so without them) and built again: the same settings.
    dumped = s.model_dump(mode="json", exclude={"connections": {1: {"credentials"}}})
    again = Settings.from_mapping(dumped, environ={})
    assert again.model_dump(exclude={"connections": {1: {"credentials"}}}) == s.model_dump(
        exclude={"connections": {1: {"credentials"}}}
    )


def test_empty_file_and_empty_sections_give_defaults(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, "# nothing yet\n"), environ={}) == Settings.from_mapping(
        {}, environ={}
    )
    s = load_settings(write(tmp_path, "kafka:\nmetrics:\n  port: 1\n"), environ={})
    assert s.kafka.bootstrap_servers == "localhost:9092" and s.metrics.port == 1


# -- ${…} references -----------------------------------------------------------------------------


def test_env_interpolation_present_and_default(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        kafka:
          bootstrap_servers: "${KAFKA_HOST}:${KAFKA_PORT:-9092}"
          client_id: "${CLIENT_ID:-bridge}-$${literal}"
        schema_registry:
          url: "${REGISTRY_URL:-}"
        metrics:
          port: "${METRICS_PORT:-9464}"
        connections:
          - name: okx
            exchange: okx
            url: "${OKX_WS:-wss://ws.okx.com:8443}/ws/v5/public"
            subscriptions:
              - {channel: tickers, instId: "${INST:-BTC-USDT}"}
        """,
    )
    s = load_settings(path, environ={"KAFKA_HOST": "k1", "METRICS_PORT": "9100", "INST": ""})
    assert s.kafka.bootstrap_servers == "k1:9092"
    assert s.kafka.client_id == "bridge-${literal}"
    assert s.schema_registry.url is None  # "${X:-}" leaves an optional setting unset
    assert s.metrics.port == 9100
    assert s.connections[0].url == "wss://ws.okx.com:8443/ws/v5/public"
    assert s.connections[0].subscriptions == [{"channel": "tickers", "instId": "BTC-USDT"}]


def test_env_interpolation_missing_variable(tmp_path: Path) -> None:
    path = write(tmp_path, FULL_YAML)
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={"OKX_API_KEY": API_KEY, "OKX_PASSPHRASE": PASSPHRASE})
    assert info.value.field == "connections.1.credentials.secret_key"
    message = str(info.value)
    assert "connections.1.credentials.secret_key" in message
    assert "OKX_SECRET_KEY" in message and "not set" in message
    line = FULL_YAML.splitlines().index('      secret_key: "${OKX_SECRET_KEY}"') + 1
    assert f"{path}:{line}: " in message
    assert API_KEY not in message


def test_bad_reference_syntax() -> None:
    error = config_error({"instance": "${NOT VALID}"})
    assert error.field == "instance" and "${NAME:-default}" in str(error)
    assert config_error({"instance": "${UNCLOSED"}).field == "instance"


def test_file_secret(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "api_key").write_text(API_KEY + "\n")
    (tmp_path / "passphrase").write_text(PASSPHRASE)  # no trailing newline
    config = write(
        tmp_path,
        f"""\
        connections:
          - name: okx
            exchange: okx
            url: wss://ws.okx.com:8443/ws/v5/business
            subscriptions: [{{channel: economic-calendar}}]
            credentials:
              api_key: "${{file:secrets/api_key}}"
              passphrase: "${{file:{tmp_path / "passphrase"}}}"
        """,
    )
    creds = load_settings(config, environ={}).connections[0].adapter_credentials()
    assert creds == Credentials(api_key=API_KEY, passphrase=PASSPHRASE)

    with pytest.raises(ConfigError) as info:
        Settings.from_mapping(
            {"connections": [connection(credentials={"token": "${file:/nonexistent/token}"})]},
            environ={},
        )
    assert info.value.field == "connections.0.credentials.token"
    assert "/nonexistent/token" in str(info.value)


# -- environment overrides -------------------------------------------------------------------------


def test_env_override_beats_file(tmp_path: Path) -> None:
    path = write(tmp_path, FULL_YAML)
    environ = {
        **SECRETS_ENV,
        "BRIDGE_KAFKA__BOOTSTRAP_SERVERS": "override:9092",
        "BRIDGE_LOG_LEVEL": "warning",
        "BRIDGE_SCHEMA_REGISTRY__URL": "null",
        "BRIDGE_CONNECTIONS__0__URL": "wss://sim.local:8443/ws/v5/public",
        "bridge_metrics__port": "9999",  # case does not matter
    }
    s = load_settings(path, environ=environ)
    assert s.kafka.bootstrap_servers == "override:9092"
    assert s.kafka.client_id == "my-bridge"  # the rest of the file's kafka section stays
    assert s.log_level == "WARNING"
    assert s.schema_registry.url is None
    assert s.metrics.port == 9999
    assert s.connections[0].url == "wss://sim.local:8443/ws/v5/public"
    assert s.connections[0].name == "okx-public"
    assert len(s.connections) == 2

    assert load_settings(environ={"BRIDGE_KAFKA__LINGER_MS": "0"}).kafka.linger_ms == 0


def test_env_override_whole_list_as_json() -> None:
    environ = {
        "BRIDGE_CONNECTIONS": '[{"name": "x", "exchange": "okx", "url": "ws://h", '
        '"subscriptions": [{"channel": "status"}]}]'
    }
    s = Settings.from_mapping({"connections": [connection(), connection(name="b")]}, environ)
    assert [c.name for c in s.connections] == ["x"]

    error = config_error({}, {"BRIDGE_CONNECTIONS": "[{"})
    assert error.field == "connections" and "BRIDGE_CONNECTIONS" in str(error)
    error = config_error({"connections": [connection()]}, {"BRIDGE_CONNECTIONS__3__URL": "ws://h"})
    assert error.field == "connections.3"


def test_env_override_bad_port_names_field() -> None:
    error = config_error({}, {"BRIDGE_METRICS__PORT": "abc"})
    assert error.field == "metrics.port"
    assert str(error).startswith("metrics.port: ")
    assert "integer" in str(error) and "'abc'" in str(error)
    assert "BRIDGE_METRICS__PORT" in str(error)


def test_unrelated_environment_is_ignored() -> None:
    # e.g. Kubernetes service links for a service called "bridge"
    k8s = {"BRIDGE_PORT": "tcp://10.0.0.1:9464", "BRIDGE_SERVICE_HOST": "10.0.0.1"}
    assert load_settings(environ=k8s) == load_settings(environ={})


# -- validation ----------------------------------------------------------------------------------


def test_unknown_key_names_it(tmp_path: Path) -> None:
    path = write(tmp_path, "kafka:\n  linger_ms: 1\n  bootstrap_server: k:9092\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert info.value.field == "kafka.bootstrap_server"
    assert f"{path}:3: kafka.bootstrap_server: unknown setting" in str(info.value)
    assert "did you mean 'bootstrap_servers'" in str(info.value)

    assert config_error({"conections": []}).field == "conections"
    assert config_error({"connections": [connection(tsl={})]}).field == "connections.0.tsl"
    assert config_error({"_env_file": "x"}).field == "_env_file"
    error = config_error({"connections": [connection(reconnect={"max": 3})]})
    assert error.field == "connections.0.reconnect.max"
    # subscription mappings are the adapter's business: any key is fine here
    sub = {"channel": "tickers", "instId": "BTC-USDT", "extraParam": "1"}
    assert Settings.from_mapping({"connections": [connection(subscriptions=[sub])]}, {})


def test_bad_url_scheme() -> None:
    error = config_error({"connections": [connection(url="http://x")]})
    assert error.field == "connections.0.url"
    assert "connections.0.url: must start with ws:// or wss:// (got 'http://x')" in str(error)
    assert config_error({"connections": [connection(url="wss://")]}).field == "connections.0.url"


def test_connection_name_rules() -> None:
    for bad in ("OKX", "-okx", "okx public", "a" * 64, ""):
        assert config_error({"connections": [connection(name=bad)]}).field == "connections.0.name"
    Settings.from_mapping({"connections": [connection(name="a" * 63)]}, environ={})


def test_duplicate_connection_names() -> None:
    error = config_error({"connections": [connection(), connection(url="ws://other")]})
    assert error.field == "connections.1.name"
    assert "duplicate" in str(error) and "connections.0" in str(error)


def test_shard_index_must_be_below_count() -> None:
    error = config_error({"shard": {"index": 2, "count": 2}})
    assert error.field == "shard.index"
    assert "shard.count" in str(error)
    assert config_error({"shard": {"count": 0}}).field == "shard.count"
    assert config_error({"shard": {"index": -1}}).field == "shard.index"


def test_reconnect_and_keepalive_bounds() -> None:
    error = config_error(
        {"connections": [connection(reconnect={"initial_seconds": 5, "max_seconds": 2})]}
    )
    assert error.field == "connections.0.reconnect.max_seconds"
    error = config_error({"connections": [connection(reconnect={"initial_seconds": 0})]})
    assert error.field == "connections.0.reconnect.initial_seconds"
    error = config_error({"connections": [connection(keepalive_seconds=30)]})
    assert error.field == "connections.0.keepalive_seconds"


def test_bad_subscription_is_rejected_by_the_adapter() -> None:
    subs = [{"channel": "status"}, {"instId": "BTC-USDT"}]
    error = config_error({"connections": [connection(subscriptions=subs)]})
    assert error.field == "connections.0.subscriptions.1"
    assert "connections.0.subscriptions.1: " in str(error) and "channel" in str(error)

    error = config_error({"connections": [connection(subscriptions=[])]})
    assert error.field == "connections.0.subscriptions"


def test_unknown_exchange_lists_known_ones() -> None:
    error = config_error({"connections": [connection(exchange="binance")]})
    assert error.field == "connections.0.exchange"
    assert "'binance'" in str(error)
    for name in known_exchanges():
        assert name in str(error)


def test_several_errors_are_all_reported() -> None:
    error = config_error({"metrics": {"port": 70000}, "publisher": {"overflow": "spill"}})
    assert error.field == "metrics.port"
    assert "metrics.port" in str(error) and "publisher.overflow" in str(error)


def test_other_value_checks() -> None:
    assert config_error({"log_level": "LOUD"}).field == "log_level"
    assert config_error({"kafka": {"compression_type": "zstd"}}).field == "kafka.compression_type"
    assert config_error({"kafka": {"topic_prefix": "a b"}}).field == "kafka.topic_prefix"
    assert (
        config_error({"kafka": {"bootstrap_servers": "a:1,,b:2"}}).field
        == "kafka.bootstrap_servers"
    )
    assert (
        config_error({"schema_registry": {"url": "registry:8081"}}).field == "schema_registry.url"
    )
    assert (
        config_error({"publisher": {"deadletter_topic": ""}}).field == "publisher.deadletter_topic"
    )
    s = Settings.from_mapping({"kafka": {"bootstrap_servers": ["a:1", "b:2"]}}, environ={})
    assert s.kafka.bootstrap_servers == "a:1,b:2"


# -- secrets -------------------------------------------------------------------------------------


def secret_connection(**overrides: Any) -> dict[str, Any]:
    creds = {"api_key": API_KEY, "secret_key": SECRET_KEY, "passphrase": PASSPHRASE}
    return connection(credentials=creds, **overrides)


def assert_no_secret(text: str) -> None:
    for secret in (API_KEY, SECRET_KEY, PASSPHRASE):
        assert secret not in text


def test_secrets_never_shown() -> None:
    s = Settings.from_mapping({"connections": [secret_connection()]}, environ={})
    for text in (repr(s), str(s), str(s.model_dump()), s.model_dump_json(), repr(s.connections[0])):
        assert_no_secret(text)
    creds = s.connections[0].adapter_credentials()
    assert creds is not None and creds.secret_key == SECRET_KEY
    assert_no_secret(repr(creds))


def test_secrets_not_in_error_messages(tmp_path: Path) -> None:
    cases: list[dict[str, Any]] = [
        # another error in a connection that has credentials (the whole connection is the input)
        {"connections": [secret_connection(url="http://x")]},
        {"connections": [secret_connection(subscriptions=[{"instId": "x"}])]},
        {"connections": [secret_connection(), secret_connection(url="ws://h")]},
        # a typo inside credentials, and a typo of "credentials" itself
        {"connections": [connection(credentials={"api_kye": API_KEY})]},
        {"connections": [connection(credentails={"api_key": API_KEY, "secret_key": SECRET_KEY})]},
        # a secret of the wrong type
        {"connections": [connection(credentials={"passphrase": [PASSPHRASE]})]},
    ]
    for data in cases:
        assert_no_secret(str(config_error(data)))

    # a secret read from a file, put where it does not fit
    (tmp_path / "pp").write_text(PASSPHRASE)
    assert_no_secret(str(config_error({"metrics": {"port": f"${{file:{tmp_path / 'pp'}}}"}})))
    # an override from the environment
    environ = {"BRIDGE_CONNECTIONS__0__CREDENTIALS__SECRET_KEY": SECRET_KEY}
    error = config_error({"connections": [connection(credentials={"api_key": 5})]}, environ)
    assert error.field == "connections.0.credentials.api_key"
    assert_no_secret(str(error))
    # a YAML syntax error on the line of a secret
    path = write(tmp_path, f'connections:\n  - credentials:\n      api_key: "{API_KEY}\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert_no_secret(str(info.value))


def test_numeric_secret_must_be_quoted() -> None:
    error = config_error({"connections": [connection(credentials={"passphrase": 123456})]})
    assert error.field == "connections.0.credentials.passphrase"
    assert "quote" in str(error) and "123456" not in str(error)


def test_adapter_credentials_none_when_empty() -> None:
    conn = ConnectionSettings.model_validate(connection(credentials={"api_key": None, "token": ""}))
    assert conn.credentials == CredentialsSettings()
    assert conn.adapter_credentials() is None


# -- files ---------------------------------------------------------------------------------------


def test_bad_yaml_reports_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "kafka:\n  linger_ms: 1\n  client_id: [unclosed\nmetrics: {}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert str(info.value).startswith(f"{path}:4:8: invalid YAML: ")
    assert "started on line 3" in str(info.value)
    assert info.value.field is None

    path = write(tmp_path, "kafka:\n  linger_ms: 1\n\tclient_id: x\n")
    with pytest.raises(ConfigError, match=rf"{path}:3:"):
        load_settings(path, environ={})
    with pytest.raises(ConfigError, match="refers to itself"):
        load_settings(write(tmp_path, "connections: &c [*c]\n"), environ={})


def test_duplicate_yaml_key_reports_line(tmp_path: Path) -> None:
    path = write(tmp_path, "metrics:\n  port: 1\n  port: 2\n")
    with pytest.raises(ConfigError, match=rf"{path}:3:.*duplicate key 'port'"):
        load_settings(path, environ={})


def test_missing_or_bad_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file .*nope.yaml"):
        load_settings(tmp_path / "nope.yaml", environ={})
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_settings(write(tmp_path, "- a\n- b\n"), environ={})


def test_relative_ca_file_is_relative_to_the_config_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        connections:
          - {name: a, exchange: okx, url: "wss://h", subscriptions: [{channel: status}],
             tls: {ca_file: certs/ca.pem}}
        """,
    )
    assert load_settings(path, environ={}).connections[0].tls.ca_file == tmp_path / "certs/ca.pem"


# -- examples ------------------------------------------------------------------------------------


def test_okx_example_loads() -> None:
    s = load_settings(EXAMPLES / "okx.yaml", environ=SECRETS_ENV)
    by_name = {c.name: c for c in s.connections}
    public, business = by_name["okx-public"], by_name["okx-business"]
    assert public.url == "wss://ws.okx.com:8443/ws/v5/public"
    assert {"channel": "status"} in public.subscriptions
    assert {"channel": "tickers", "instId": "BTC-USDT"} in public.subscriptions
    assert public.adapter_credentials() is None
    assert business.url == "wss://ws.okx.com:8443/ws/v5/business"
    assert business.subscriptions == [{"channel": "economic-calendar"}]
    assert business.adapter_credentials() == Credentials(
        api_key=API_KEY, secret_key=SECRET_KEY, passphrase=PASSPHRASE
    )
    assert_no_secret(repr(s))


def test_okx_example_without_credentials_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="OKX_API_KEY") as info:
        load_settings(EXAMPLES / "okx.yaml", environ={})
    assert info.value.field is not None and ".credentials.api_key" in info.value.field


def test_idle_timeout_must_leave_room_for_the_adapters_own_keepalive() -> None:
    """OKEx v1 pings after 25 s of quiet: an idle timeout of 20 s would drop every quiet
    connection before its first ping."""
    connection = {
        "name": "okex",
        "exchange": "okex_v1",
        "url": "wss://real.okex.com:10440/ws/v1",
        "subscriptions": [{"channel": "ok_sub_spot_bch_btc_ticker"}],
        "idle_timeout_seconds": 20,
    }
    with pytest.raises(ConfigError) as error:
        Settings.from_mapping({"connections": [connection]})
    assert error.value.field == "connections.0.idle_timeout_seconds"
    assert "25" in str(error.value) and "okex_v1 default" in str(error.value)
