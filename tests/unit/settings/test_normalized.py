"""The normalized topics' switch: off by default, on globally, on or off per connection."""

from __future__ import annotations

import pytest

from bridge.settings import Settings
from tests.unit.settings.helpers import config_error, connection


def settings(**publisher: object) -> Settings:
    return Settings.from_mapping(
        {
            "publisher": publisher,
            "connections": [
                connection(name="plain"),
                connection(name="yes", normalized_topics=True),
                connection(name="no", normalized_topics=False),
            ],
        },
        environ={},
    )


def test_off_by_default() -> None:
    s = settings()
    assert s.publisher.normalized_topics is False
    assert s.connections[0].normalized_topics is None
    assert s.normalized_connections == {"yes"}


def test_on_globally_except_where_a_connection_says_otherwise() -> None:
    s = settings(normalized_topics=True)
    assert s.normalized_connections == {"plain", "yes"}
    assert [s.normalizes(c) for c in s.connections] == [True, True, False]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"publisher": {"normalized_topics": "sometimes"}}, "publisher.normalized_topics"),
        (
            {"connections": [connection(normalized_topics="sometimes")]},
            "connections.0.normalized_topics",
        ),
    ],
)
def test_a_bad_value_names_the_field(data: dict[str, object], field: str) -> None:
    assert config_error(data).field == field


def test_an_environment_override_turns_it_on() -> None:
    s = Settings.from_mapping(
        {"connections": [connection()]},
        environ={"BRIDGE_PUBLISHER__NORMALIZED_TOPICS": "true"},
    )
    assert s.normalized_connections == {"okx-public"}
