"""OKEx v1 subscriptions: validation and destinations."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.exchanges.okex_v1 import (
    KLINE_INTERVALS,
    OkexV1Adapter,
)
from tests.unit.exchanges.okex_v1.helpers import (
    BALANCE_DEST,
    DEALS_DEST,
    DEPTH5_DEST,
    DEPTH_DEST,
    EVERYTHING,
    KLINE_DEST,
    ORDERINFO,
    ORDERINFO_DEST,
    ORDERS_DEST,
    TICKER,
    TICKER_DEST,
    USERINFO,
    USERINFO_DEST,
)

# --- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subscription",
    [
        *EVERYTHING,
        *({"channel": f"ok_sub_spot_ltc_usdt_kline_{i}"} for i in KLINE_INTERVALS),
        {"channel": "ok_sub_spot_bch_btc_depth_10"},
        {"channel": "ok_sub_spot_bch_btc_depth_20", "binary": 1},
        {"channel": "ok_sub_spot_qtum_usdt_ticker", "binary": 0, "parameters": {"x": 5}},
        {"channel": "ok_spot_userinfo", "interval_seconds": 30},
        {**ORDERINFO, "interval_seconds": 2.5},
    ],
)
def test_validate_subscription_accepts(subscription: dict[str, Any]) -> None:
    OkexV1Adapter.validate_subscription(subscription)


@pytest.mark.parametrize(
    ("subscription", "mentions"),
    [
        ({}, "channel"),
        ({"channel": ""}, "channel"),
        ({"channel": 5}, "channel"),
        ({"channel": "ok_sub_spot_X_ticker"}, "unknown OKEx v1 channel"),
        ({"channel": "ok_sub_spot_bch_btc_depth_7"}, "unknown OKEx v1 channel"),
        ({"channel": "ok_sub_spot_bch_btc_kline_2min"}, "3day"),
        ({"channel": "ok_sub_spot_bch_btc_trades"}, "unknown OKEx v1 channel"),
        ({"channel": "tickers"}, "unknown OKEx v1 channel"),
        ({"channel": "ok_spot_order"}, "never places"),
        ({"channel": "ok_spot_cancel_order"}, "never places"),
        ({**TICKER, "instId": "BTC-USDT"}, "instId"),
        ({**TICKER, "binary": 2}, "binary"),
        ({**TICKER, "binary": True}, "binary"),
        ({**TICKER, "parameters": ["a"]}, "mapping"),
        ({**TICKER, "parameters": {"a": None}}, "'a'"),
        ({**TICKER, "parameters": {"a": True}}, "'a'"),
        ({**USERINFO, "parameters": {"api_key": "k"}}, "credentials"),
        ({**USERINFO, "parameters": {"sign": "s"}}, "credentials"),
        ({**TICKER, "interval_seconds": 5}, "only for"),
        ({**USERINFO, "interval_seconds": 0}, "positive"),
        ({**USERINFO, "interval_seconds": "5"}, "positive"),
        ({"channel": "ok_spot_orderinfo"}, "symbol"),
        ({"channel": "ok_spot_orderinfo", "parameters": {"symbol": "bch_btc"}}, "order_id"),
        (
            {"channel": "ok_spot_orderinfo", "parameters": {"symbol": "BCH", "order_id": "1"}},
            "no pair",
        ),
    ],
)
def test_validate_subscription_rejects(subscription: dict[Any, Any], mentions: str) -> None:
    with pytest.raises(ValueError, match=mentions):
        OkexV1Adapter.validate_subscription(subscription)
    with pytest.raises(ValueError, match=mentions):
        OkexV1Adapter([subscription])


def test_validate_subscription_rejects_non_mapping() -> None:
    with pytest.raises(ValueError, match="mapping"):
        OkexV1Adapter.validate_subscription("ok_sub_spot_bch_btc_ticker")  # type: ignore[arg-type]


def test_destinations_in_configuration_order_without_duplicates() -> None:
    assert OkexV1Adapter.destinations([*EVERYTHING, dict(TICKER)]) == [
        TICKER_DEST,
        DEPTH_DEST,
        DEPTH5_DEST,
        DEALS_DEST,
        KLINE_DEST,
        ORDERS_DEST,
        BALANCE_DEST,
        USERINFO_DEST,
        ORDERINFO_DEST,
    ]
