"""Kraken subscriptions: validation, destinations (one per pair), channel and pair names."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from bridge.exchanges.kraken import (
    KrakenAdapter,
    canonical_pair,
    channel_name,
)
from bridge.settings import Settings
from tests.unit.exchanges.kraken.helpers import (
    CREDENTIALS,
    REPO_ROOT,
    TOKEN,
    dest,
    make_adapter,
    sent,
)

# --- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subscription",
    [
        {"name": "ticker", "pair": ["XBT/USD", "ETH/USD"]},
        {"name": "ticker", "pair": "XBT/USD"},
        {"name": "book", "pair": ["XBT/USD"], "depth": 100},
        {"name": "book", "pair": ["XBT/USD"], "depth": 42},  # Kraken decides; see below
        {"name": "ohlc", "pair": ["XBT/USD"], "interval": 5},
        {"name": "trade", "pair": ["BTC/USD"]},
        {"name": "spread", "pair": ["ETH/XBT"]},
        {"name": "openOrders"},
        {"name": "openOrders", "ratecounter": True},
        {"name": "ownTrades", "snapshot": False},
    ],
)
def test_validate_subscription_accepts(subscription: dict[str, Any]) -> None:
    KrakenAdapter.validate_subscription(subscription)


@pytest.mark.parametrize(
    ("subscription", "mentions"),
    [
        ({}, "'name'"),
        ({"name": "tickers", "pair": ["XBT/USD"]}, "'name'"),
        ({"name": "*"}, "'name'"),
        ({"name": "ticker"}, "'pair'"),
        ({"name": "ticker", "pair": []}, "'pair'"),
        ({"name": "ticker", "pair": [""]}, "'pair'"),
        ({"name": "ticker", "pair": [5]}, "'pair'"),
        ({"name": "ticker", "pair": ["XBTUSD"]}, "BASE/QUOTE"),
        ({"name": "ticker", "pair": ["BTC/USD", "XBT/USD"]}, "same pair"),
        ({"name": "book", "pair": ["XBT/USD"], "depth": 0}, "'depth'"),
        ({"name": "book", "pair": ["XBT/USD"], "depth": "10"}, "'depth'"),
        ({"name": "book", "pair": ["XBT/USD"], "depth": True}, "'depth'"),
        ({"name": "ohlc", "pair": ["XBT/USD"], "interval": -5}, "'interval'"),
        ({"name": "ticker", "pair": ["XBT/USD"], "depth": 10}, "unknown key"),
        ({"name": "ownTrades", "pair": ["XBT/USD"]}, "unknown key"),
        ({"name": "ownTrades", "snapshot": "yes"}, "'snapshot'"),
        ({"name": "ownTrades", "token": "secret-value"}, "credentials.token"),
    ],
)
def test_validate_subscription_rejects(subscription: dict[str, Any], mentions: str) -> None:
    with pytest.raises(ValueError, match=None) as info:
        KrakenAdapter.validate_subscription(subscription)
    assert mentions in str(info.value)
    assert "secret-value" not in str(info.value)


def test_validate_subscription_rejects_a_non_mapping() -> None:
    with pytest.raises(ValueError, match="mapping"):
        KrakenAdapter.validate_subscription(["ticker"])  # type: ignore[arg-type]


def test_destinations_one_per_pair_keyed_as_configured() -> None:
    adapter = make_adapter(
        {"name": "ticker", "pair": ["BTC/USD", "ETH/USD"]},
        {"name": "book", "pair": ["XBT/EUR"], "depth": 25},
        {"name": "book", "pair": ["XBT/EUR"]},
        {"name": "ohlc", "pair": ["ETH/USD"], "interval": 5},
        {"name": "openOrders", "ratecounter": True},
        {"name": "ownTrades"},
    )
    destinations = KrakenAdapter.destinations(adapter.subscriptions)
    assert destinations == [
        dest("ticker", "BTC/USD"),  # key as configured; arg as Kraken echoes it (XBT/USD)
        dest("ticker", "ETH/USD"),
        dest("book", "XBT/EUR", channel="book-25", depth="25"),
        dest("book", "XBT/EUR", channel="book-10", depth="10"),
        dest("ohlc", "ETH/USD", channel="ohlc-5", interval="5"),
        dest("openOrders", ratecounter="true"),
        dest("ownTrades"),
    ]
    assert destinations[0].arg["pair"] == "XBT/USD"
    assert all(TOKEN not in repr(d) for d in destinations)


def test_the_documented_configuration_is_valid() -> None:
    """The example in docs/kraken.md loads, and its token stays a secret."""
    text = (REPO_ROOT / "docs" / "kraken.md").read_text()
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    settings = Settings.from_mapping(yaml.safe_load(block), {"KRAKEN_WS_TOKEN": TOKEN})
    public, private = settings.connections
    assert (public.exchange, private.exchange) == ("kraken", "kraken")
    assert private.adapter_credentials() == CREDENTIALS
    assert TOKEN not in repr(settings)
    assert [d.topic for d in KrakenAdapter.destinations(public.subscriptions)] == [
        "kraken.ticker",
        "kraken.ticker",
        "kraken.book",
        "kraken.ohlc",
        "kraken.trade",
        "kraken.spread",
    ]


def test_a_pair_configured_twice_is_requested_once() -> None:
    adapter = make_adapter(
        {"name": "ticker", "pair": ["XBT/USD"]}, {"name": "ticker", "pair": ["BTC/USD", "ETH/USD"]}
    )
    destinations = KrakenAdapter.destinations(adapter.subscriptions)
    assert [d.key for d in destinations] == ["XBT/USD", "ETH/USD"]
    adapter.connection_made(0.0)
    assert [f["pair"] for f in sent(adapter)] == [["XBT/USD"], ["ETH/USD"]]


def test_helpers() -> None:
    assert canonical_pair("BTC/USD") == "XBT/USD"
    assert canonical_pair("ETH/BTC") == "ETH/XBT"
    assert canonical_pair("ETH/USD") == "ETH/USD"
    assert channel_name("book") == "book-10"
    assert channel_name("book", depth=25) == "book-25"
    assert channel_name("ohlc") == "ohlc-1"
    assert channel_name("ohlc", interval=5) == "ohlc-5"
    assert channel_name("ownTrades") == "ownTrades"
