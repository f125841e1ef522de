"""OKX subscription arguments: what a configuration may hold, and where each arg's records go."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.exchanges.okx import MAX_ARGS_BYTES, OkxAdapter, destination_for
from tests.unit.exchanges.okx.helpers import (
    CALENDAR,
    CALENDAR_DEST,
    LOGIN_TIME,
    STATUS,
    STATUS_DEST,
    TICKERS,
    TICKERS_DEST,
    connected,
    sent,
)

# --- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subscription",
    [
        STATUS,
        CALENDAR,
        TICKERS,
        {"channel": "candle1m", "instId": "BTC-USDT"},
        {"channel": "books5", "instId": "BTC-USDT", "extra": 5},
    ],
)
def test_validate_subscription_accepts(subscription: dict[str, Any]) -> None:
    OkxAdapter.validate_subscription(subscription)


@pytest.mark.parametrize(
    ("subscription", "mentions"),
    [
        ({}, "channel"),
        ({"instId": "BTC-USDT"}, "channel"),
        ({"channel": ""}, "channel"),
        ({"channel": 5}, "channel"),
        ({"channel": None}, "channel"),
        ({"channel": "tickers", "instId": None}, "instId"),
        ({"channel": "tickers", "instId": 1.5}, "instId"),
        ({"channel": "tickers", "instId": ["BTC-USDT"]}, "instId"),
        ({"channel": "tickers", "instId": {"a": "b"}}, "instId"),
        ({"channel": "tickers", "flag": True}, "flag"),
        ({"channel": "tickers", 5: "x"}, "5"),
        ({"channel": "tickers", "instId": "X" * MAX_ARGS_BYTES}, "64 KB"),
    ],
)
def test_validate_subscription_rejects(subscription: dict[Any, Any], mentions: str) -> None:
    with pytest.raises(ValueError, match=mentions):
        OkxAdapter.validate_subscription(subscription)
    with pytest.raises(ValueError, match=mentions):
        OkxAdapter([subscription])


def test_validate_subscription_rejects_non_mapping() -> None:
    with pytest.raises(ValueError, match="mapping"):
        OkxAdapter.validate_subscription("status")  # type: ignore[arg-type]


def test_destinations_in_configuration_order_without_duplicates() -> None:
    subscriptions = [STATUS, CALENDAR, TICKERS, dict(STATUS)]
    assert OkxAdapter.destinations(subscriptions) == [STATUS_DEST, CALENDAR_DEST, TICKERS_DEST]


def test_integer_values_become_strings() -> None:
    subscription = {"channel": "books", "instId": "BTC-USDT", "sz": 5}
    adapter = connected(subscription)
    (destination,) = OkxAdapter.destinations([subscription])
    assert destination.arg == {"channel": "books", "instId": "BTC-USDT", "sz": "5"}
    (request,) = sent_after(adapter)
    assert request["args"] == [{"channel": "books", "instId": "BTC-USDT", "sz": "5"}]


def sent_after(adapter: OkxAdapter) -> list[Any]:
    adapter.connection_made(LOGIN_TIME)
    return sent(adapter)


@pytest.mark.parametrize(
    ("arg", "key"),
    [
        ({"channel": "tickers", "instId": "BTC-USDT"}, "BTC-USDT"),
        ({"channel": "opt-summary", "instFamily": "BTC-USD"}, "BTC-USD"),
        ({"channel": "estimated-price", "instType": "FUTURES", "uly": "BTC-USD"}, "BTC-USD"),
        ({"channel": "instruments", "instType": "SPOT"}, "SPOT"),
        ({"channel": "account", "ccy": "BTC"}, "BTC"),
        ({"channel": "tickers", "instId": "", "instType": "SPOT"}, "SPOT"),
        ({"channel": "status"}, "status"),
        ({"channel": "some-future-channel", "whatever": "x"}, "some-future-channel"),
    ],
)
def test_destination_key(arg: dict[str, str], key: str) -> None:
    destination = destination_for(arg)
    assert destination.key == key
    assert destination.topic == f"okx.{arg['channel']}"
    assert destination.channel == arg["channel"]
    assert destination.arg == arg


@pytest.mark.parametrize(
    ("channel", "schema"),
    [
        ("status", "okx/status"),
        ("economic-calendar", "okx/economic-calendar"),
        ("tickers", "okx/tickers"),
        ("trades", "okx/trades"),
        ("trades-all", "okx/trades"),
        ("books", "okx/books"),
        ("books5", "okx/books"),
        ("bbo-tbt", "okx/books"),
        ("books-l2-tbt", "okx/books"),
        ("books50-l2-tbt", "okx/books"),
        ("books-elp", "okx/books"),
        ("candle1m", "okx/candle"),
        ("candle1s", "okx/candle"),
        ("candle1Dutc", "okx/candle"),
        ("candle3M", "okx/candle"),
        ("mark-price-candle1H", "okx/mark-price-candle"),
        ("index-candle30m", "okx/index-candle"),
        ("mark-price", "okx/mark-price"),
        ("index-tickers", "okx/index-tickers"),
        ("funding-rate", "okx/funding-rate"),
        ("open-interest", "okx/open-interest"),
        ("price-limit", "okx/price-limit"),
        ("opt-summary", "okx/opt-summary"),
        ("estimated-price", "okx/estimated-price"),
        ("liquidation-orders", "okx/liquidation-orders"),
        ("instruments", "okx/instruments"),
        ("account", "okx/account"),
        ("positions", "okx/positions"),
        ("balance_and_position", "okx/balance_and_position"),
        ("orders", "okx/orders"),
        ("fills", "okx/fills"),
        ("orders-algo", "okx/orders-algo"),
        # not typed: the element's exact text
        ("never-heard-of-it", "okx/channel"),
        ("candle", "okx/channel"),
        ("candle1x", "okx/channel"),
        ("xcandle1m", "okx/channel"),
        ("books-rpi", "okx/channel"),
        ("sprd-tickers", "okx/channel"),
    ],
)
def test_destination_schema(channel: str, schema: str) -> None:
    assert destination_for({"channel": channel}).schema == schema
