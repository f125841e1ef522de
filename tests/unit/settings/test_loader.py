"""The loader: the YAML file, ``${…}`` references, ``BRIDGE_…`` overrides, error messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bridge.errors import ConfigError
from bridge.exchanges.base import Credentials
from bridge.settings import Settings, load_settings
from tests.unit.settings.helpers import (
    API_KEY,
    EXAMPLES,
    FULL_YAML,
    PASSPHRASE,
    SECRET_KEY,
    SECRETS_ENV,
    assert_no_secret,
    config_error,
    connection,
    secret_connection,
    write,
)

# -- the file ----------------------------------------------------------------------------------


def test_empty_file_and_empty_sections_give_defaults(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, "# nothing yet\n"), environ={}) == Settings.from_mapping(
        {}, environ={}
    )
    s = load_settings(write(tmp_path, "kafka:\nmetrics:\n  port: 1\n"), environ={})
    assert s.kafka.bootstrap_servers == "localhost:9092" and s.metrics.port == 1


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


def test_every_relative_path_setting_is_relative_to_the_config_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        kafka: {security_protocol: SSL, ssl_ca_file: kafka/ca.pem}
        schema_registry: {url: "https://registry:8081", ca_file: /etc/registry.pem}
        connections:
          - {name: a, exchange: okx, url: "wss://h", subscriptions: [{channel: status}],
             tls: {ca_file: "${CA:-ca.pem}"}}
        """,
    )
    s = load_settings(path, environ={"BRIDGE_CONNECTIONS__0__TLS__CA_FILE": "env.pem"})
    assert s.kafka.ssl_ca_file == tmp_path / "kafka/ca.pem"
    assert s.schema_registry.ca_file == Path("/etc/registry.pem")  # absolute: as written
    # an override from the environment is taken as it is (relative to the working directory)
    assert s.connections[0].tls.ca_file == Path("env.pem")
    s = load_settings(path, environ={})
    assert s.connections[0].tls.ca_file == tmp_path / "ca.pem"  # after ${…} expansion
    unanchored = Settings.from_mapping({"kafka": {"ssl_ca_file": "kafka/ca.pem"}}, environ={})
    assert unanchored.kafka.ssl_ca_file == Path("kafka/ca.pem")


# -- ${…} references ---------------------------------------------------------------------------


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


# -- environment overrides ---------------------------------------------------------------------


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


# -- error messages ----------------------------------------------------------------------------


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


# -- examples ----------------------------------------------------------------------------------


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
