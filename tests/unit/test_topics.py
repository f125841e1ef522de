"""Topic names are built in one place; the Kafka prefix is applied separately."""

from __future__ import annotations

import pytest

from bridge import topics
from bridge.errors import SchemaError


def test_names_of_an_exchange_group() -> None:
    assert topics.channel_topic("okx", "tickers") == "okx.tickers"
    assert topics.events_topic("kraken") == "kraken.events"
    assert topics.raw_topic("okex") == "okex.raw"
    assert topics.events_schema("okx") == "okx/events"
    assert topics.group_topics("okx", raw_topics=True) == ["okx.events", "okx.raw"]
    assert topics.group_topics("okx", raw_topics=False) == ["okx.events"]


def test_the_kafka_prefix_is_prepended_to_the_whole_name() -> None:
    assert topics.with_prefix("prod.", "okx.tickers") == "prod.okx.tickers"
    assert topics.with_prefix("", "okx.tickers") == "okx.tickers"


@pytest.mark.parametrize("name", ["okx.books-l2-tbt", "okex.spot.kline-1min", "a_b", "x" * 200])
def test_legal_names_pass(name: str) -> None:
    topics.check_topic(name)


@pytest.mark.parametrize("name", ["", "okx.a b", "okx.ü", "okx/x", "x" * 201, ".", ".."])
def test_names_kafka_would_refuse_are_errors(name: str) -> None:
    with pytest.raises(SchemaError):
        topics.check_topic(name)
