"""OKEx v1 channel names: kinds, topics, schemas, and the request signature."""

from __future__ import annotations

import hashlib

import pytest

from bridge.exchanges.okex_v1 import KLINE_INTERVALS, destination_for, parse_channel, sign
from tests.unit.exchanges.okex_v1.helpers import (
    API_KEY,
    LOGIN_SIGN,
    ORDERINFO_SIGN,
    SECRET,
)


def test_sign_worked_example() -> None:
    by_hand = hashlib.md5(f"api_key={API_KEY}&secret_key={SECRET}".encode()).hexdigest()
    assert by_hand == LOGIN_SIGN.lower()
    assert sign({"api_key": API_KEY}, SECRET) == LOGIN_SIGN
    # every parameter but sign, sorted by name
    parameters = {"symbol": "bch_btc", "sign": "ignored", "order_id": "-1", "api_key": API_KEY}
    assert sign(parameters, SECRET) == ORDERINFO_SIGN


@pytest.mark.parametrize(
    ("channel", "topic", "schema"),
    [
        ("ok_sub_spot_bch_btc_ticker", "okex.spot.ticker", "okex/spot-ticker"),
        ("ok_sub_spot_bch_btc_depth", "okex.spot.depth", "okex/spot-depth"),
        ("ok_sub_spot_bch_btc_depth_5", "okex.spot.depth-5", "okex/spot-depth"),
        ("ok_sub_spot_bch_btc_depth_10", "okex.spot.depth-10", "okex/spot-depth"),
        ("ok_sub_spot_bch_btc_depth_20", "okex.spot.depth-20", "okex/spot-depth"),
        ("ok_sub_spot_bch_btc_deals", "okex.spot.deals", "okex/spot-deals"),
        *(
            (f"ok_sub_spot_bch_btc_kline_{i}", f"okex.spot.kline-{i}", "okex/spot-kline")
            for i in KLINE_INTERVALS
        ),
        ("ok_sub_spot_bch_btc_order", "okex.spot.order", "okex/spot-order"),
        ("ok_sub_spot_bch_btc_balance", "okex.spot.balance", "okex/spot-balance"),
        ("ok_spot_userinfo", "okex.spot.userinfo", "okex/spot-userinfo"),
        ("ok_spot_orderinfo", "okex.spot.orderinfo", "okex/spot-orderinfo"),
        ("ok_spot_order", "okex.spot.order", "okex/spot-order"),
        ("ok_spot_cancel_order", "okex.spot.order", "okex/spot-order"),
    ],
)
def test_topics_and_schemas(channel: str, topic: str, schema: str) -> None:
    info = parse_channel(channel)
    assert info is not None
    destination = destination_for(info)
    assert (destination.topic, destination.schema, destination.channel) == (topic, schema, channel)
    assert destination.key == ("bch_btc" if "bch_btc" in channel else channel)


def test_every_kline_interval_of_the_seed() -> None:
    assert KLINE_INTERVALS == (
        "1min",
        "3min",
        "5min",
        "15min",
        "30min",
        "1hour",
        "2hour",
        "4hour",
        "6hour",
        "12hour",
        "day",
        "3day",
        "week",
    )
