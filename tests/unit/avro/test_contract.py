"""The topic contract (``bridge schemas list`` without a configuration) agrees with where the
adapters really send records, and covers every schema."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.avro.contract import contract_topics, family_of
from bridge.avro.store import SchemaStore
from bridge.exchanges import adapter_class, known_exchanges
from bridge.exchanges.okex_v1.channels import DEPTH_SIZES, KLINE_INTERVALS
from bridge.exchanges.okx.channels import TYPED_CHANNELS

STORE = SchemaStore()

# Configured subscriptions that reach every kind of topic each adapter writes.
SUBSCRIPTIONS: dict[str, list[dict[str, Any]]] = {
    "okx": [
        *({"channel": channel} for channel in TYPED_CHANNELS),
        {"channel": "tickers", "instId": "BTC-USDT"},
        {"channel": "books", "instId": "BTC-USDT"},
        {"channel": "candle1m", "instId": "BTC-USDT"},
        {"channel": "mark-price-candle1Dutc", "instId": "BTC-USDT"},
        {"channel": "index-candle30m", "instId": "BTC-USDT"},
        {"channel": "some-new-channel"},
        {"channel": "funding-rate", "instId": "BTC-USDT-SWAP"},
    ],
    "kraken": [
        {"name": "ticker", "pair": ["XBT/USD"]},
        {"name": "ohlc", "pair": ["XBT/USD"], "interval": 5},
        {"name": "trade", "pair": ["XBT/USD"]},
        {"name": "spread", "pair": ["XBT/USD"]},
        {"name": "book", "pair": ["XBT/USD"], "depth": 25},
        {"name": "openOrders"},
        {"name": "ownTrades"},
    ],
    "okex_v1": [
        {"channel": "ok_sub_spot_bch_btc_ticker"},
        {"channel": "ok_sub_spot_bch_btc_depth"},
        *({"channel": f"ok_sub_spot_bch_btc_depth_{n}"} for n in DEPTH_SIZES),
        {"channel": "ok_sub_spot_bch_btc_deals"},
        *({"channel": f"ok_sub_spot_bch_btc_kline_{i}"} for i in KLINE_INTERVALS),
        {"channel": "ok_sub_spot_bch_btc_order"},
        {"channel": "ok_sub_spot_bch_btc_balance"},
        {"channel": "ok_spot_userinfo"},
        {"channel": "ok_spot_orderinfo", "parameters": {"symbol": "bch_btc", "order_id": "-1"}},
    ],
}


def test_every_exchange_is_covered_here() -> None:
    assert set(SUBSCRIPTIONS) == set(known_exchanges())


@pytest.mark.parametrize("exchange", sorted(SUBSCRIPTIONS))
def test_each_destination_is_in_the_family_with_its_schema(exchange: str) -> None:
    cls = adapter_class(exchange)
    families = contract_topics()
    destinations = cls.destinations(SUBSCRIPTIONS[exchange])
    assert destinations
    for destination in destinations:
        family = family_of(families, destination.topic)
        assert family is not None, destination.topic
        assert family.schema == destination.schema, destination.topic
    # and each family of the adapter is reached by some configuration above
    reached = {family_of(families, d.topic) for d in destinations}
    assert set(cls.topic_families()) <= reached


def test_the_contract_names_every_schema_and_only_known_ones() -> None:
    named = {f.schema for f in contract_topics()} - {None}
    assert named == {s.id for s in STORE.all()}
    assert [f.name for f in contract_topics()].count("bridge.schemas") == 1
    assert "bridge.schemas" not in [f.name for f in contract_topics(schemas_topic=None)]
    assert not any(f.name.endswith(".raw") for f in contract_topics(raw_topics=False))


def test_exact_names_win_over_patterns() -> None:
    families = contract_topics(deadletter_topic="okx.dlq")
    assert family_of(families, "okx.events").schema == "okx/events"  # type: ignore[union-attr]
    assert family_of(families, "okx.raw").schema == "bridge/raw"  # type: ignore[union-attr]
    assert family_of(families, "okx.dlq").schema == "bridge/deadletter"  # type: ignore[union-attr]
    assert family_of(families, "okx.anything").schema == "okx/channel"  # type: ignore[union-attr]
    assert family_of(families, "kraken.unknown") is None
