"""The models: defaults, value checks, and secrets kept out of every representation.

Most checks go through :meth:`Settings.from_mapping` (what every caller uses), so they also pin
the message and ``field`` a user sees."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from pydantic import ValidationError

from bridge.errors import ConfigError
from bridge.exchanges import known_exchanges
from bridge.exchanges.base import Credentials
from bridge.settings import (
    ConnectionSettings,
    CredentialsSettings,
    KafkaSettings,
    Settings,
    load_settings,
)
from tests.unit.settings.helpers import (
    API_KEY,
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

# -- defaults and the full example -------------------------------------------------------------


def test_defaults() -> None:
    s = load_settings(environ={})
    assert s.instance is None
    assert s.log_level == "INFO"
    assert s.kafka.bootstrap_servers == "localhost:9092"
    assert s.kafka.topic_prefix == ""
    assert s.kafka.client_id == "exchange-bridge"
    assert (s.kafka.linger_ms, s.kafka.max_batch_size) == (5, 1048576)
    assert s.kafka.request_timeout_ms == 30000
    assert s.kafka.max_request_size == 1048576
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
    assert conn.max_frame_bytes == 1_000_000
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


# -- validation --------------------------------------------------------------------------------


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


def test_a_frame_the_bridge_accepts_must_fit_a_kafka_record() -> None:
    """Every frame read must be deliverable: a max_frame_bytes that the record limit cannot
    take is a configuration error naming the connection's field, and raising both works."""
    error = config_error({"connections": [connection(max_frame_bytes=4 * 1024 * 1024)]})
    assert error.field == "connections.0.max_frame_bytes"
    assert "kafka.max_request_size" in str(error) and "message.max.bytes" in str(error)
    big = Settings.from_mapping(
        {
            "kafka": {"max_request_size": 8 * 1024 * 1024},
            "connections": [connection(max_frame_bytes=4 * 1024 * 1024)],
        },
        environ={},
    )
    assert big.connections[0].max_frame_bytes == 4 * 1024 * 1024
    # the default frame limit fits the default record limit
    assert Settings.from_mapping({"connections": [connection()]}, environ={}).connections


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


# -- secrets -----------------------------------------------------------------------------------


def test_secrets_never_shown() -> None:
    s = Settings.from_mapping({"connections": [secret_connection()]}, environ={})
    for text in (repr(s), str(s), str(s.model_dump()), s.model_dump_json(), repr(s.connections[0])):
        assert_no_secret(text)
    creds = s.connections[0].adapter_credentials()
    assert creds is not None and creds.secret_key == SECRET_KEY
    assert_no_secret(repr(creds))


def test_numeric_secret_must_be_quoted() -> None:
    error = config_error({"connections": [connection(credentials={"passphrase": 123456})]})
    assert error.field == "connections.0.credentials.passphrase"
    assert "quote" in str(error) and "123456" not in str(error)


def test_adapter_credentials_none_when_empty() -> None:
    conn = ConnectionSettings.model_validate(connection(credentials={"api_key": None, "token": ""}))
    assert conn.credentials == CredentialsSettings()
    assert conn.adapter_credentials() is None


# -- building without the loader -------------------------------------------------------------------


def test_constructor_validates_only_what_it_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment is the loader's business: ``Settings(...)`` neither reads ``BRIDGE_…``
    variables nor expands references, whatever the shell it runs in."""
    monkeypatch.setenv("BRIDGE_KAFKA__LINGER_MS", "77")
    monkeypatch.setenv("BRIDGE_CONNECTIONS", "not json")
    assert Settings().kafka.linger_ms == 5
    assert Settings(kafka=KafkaSettings(client_id="${ID}")).kafka.client_id == "${ID}"
    assert Settings.from_mapping({}, {"BRIDGE_KAFKA__LINGER_MS": "77"}).kafka.linger_ms == 77
    assert load_settings(environ={"BRIDGE_KAFKA__LINGER_MS": "77"}).kafka.linger_ms == 77
    with pytest.raises(ValidationError):
        Settings(metrics={"port": 70000})
