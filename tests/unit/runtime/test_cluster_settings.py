"""The ``cluster`` section of the configuration: static by default, group mode's settings and
their checks (what the broker and aiokafka would refuse later is refused at start)."""

from __future__ import annotations

from bridge.settings import Settings
from tests.unit.settings.helpers import config_error, connection


def test_static_is_the_default_and_group_mode_has_documented_defaults() -> None:
    settings = Settings.from_mapping({}, environ={})
    assert settings.cluster.mode == "static"
    group = Settings.from_mapping({"cluster": {"mode": "group"}}, environ={}).cluster
    assert group.group_id == "exchange-bridge"
    assert (group.session_timeout_ms, group.heartbeat_interval_ms) == (6000, 2000)
    assert group.handover_timeout_seconds == 15.0


def test_group_mode_from_the_environment() -> None:
    env = {"BRIDGE_CLUSTER__MODE": "group", "BRIDGE_CLUSTER__GROUP_ID": "md-bridges"}
    settings = Settings.from_mapping({"connections": [connection()]}, environ=env)
    assert (settings.cluster.mode, settings.cluster.group_id) == ("group", "md-bridges")


def test_the_heartbeat_must_fit_three_times_in_the_session_timeout() -> None:
    error = config_error({"cluster": {"session_timeout_ms": 6000, "heartbeat_interval_ms": 2500}})
    assert error.field == "cluster.heartbeat_interval_ms"
    assert "a third of session_timeout_ms (6000)" in str(error)


def test_shards_do_not_mix_with_group_mode() -> None:
    error = config_error({"cluster": {"mode": "group"}, "shard": {"count": 3}})
    assert error.field == "shard.count"
    assert "group mode" in str(error)


def test_wrong_values_name_the_field() -> None:
    assert config_error({"cluster": {"mode": "swarm"}}).field == "cluster.mode"
    assert config_error({"cluster": {"group_id": ""}}).field == "cluster.group_id"
    assert config_error({"cluster": {"session_timeout_ms": 10}}).field == (
        "cluster.session_timeout_ms"
    )
    assert config_error({"cluster": {"handover_timeout_seconds": 0}}).field == (
        "cluster.handover_timeout_seconds"
    )
    assert config_error({"cluster": {"leader": "me"}}).field == "cluster.leader"
