"""Shared by the okex_v1 adapter tests: configurations, fixtures and small helpers."""

from __future__ import annotations

import ast
import json
import zlib
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from bridge.exchanges.base import Credentials
from bridge.exchanges.events import (
    Destination,
    Event,
    Push,
)
from bridge.exchanges.okex_v1 import (
    OkexV1Adapter,
)
from tests.fixtures import load_fixture
from tests.unit.exchanges.schema_helpers import PayloadSchemas

# The worked example of PROTOCOLS.md's rule, computed by hand with coreutils:
#   printf 'api_key=c821db84-6fbd-11e4-a9e3-c86000d26d7c&secret_key=12A3B4C5D6E7F8' | md5sum
#   -> ad5b81942eba882df437e3317bc7c5d8 (the sign is the upper-case form)
API_KEY = "c821db84-6fbd-11e4-a9e3-c86000d26d7c"
SECRET = "12A3B4C5D6E7F8"
LOGIN_SIGN = "AD5B81942EBA882DF437E3317BC7C5D8"
#   printf 'api_key=…&order_id=-1&symbol=bch_btc&secret_key=12A3B4C5D6E7F8' | md5sum
ORDERINFO_SIGN = "0341CE8D4D228DD2957C48E9517E937A"
CREDENTIALS = Credentials(api_key=API_KEY, secret_key=SECRET)

SHANGHAI = timezone(timedelta(hours=8))
# 2017-09-04 20:00:00 in Shanghai: a receive time the seed's deal (16:34:07) fits into.
RECEIVED_US = int(datetime(2017, 9, 4, 20, 0, 0, tzinfo=SHANGHAI).timestamp()) * 1_000_000
NOW_S = 1_504_526_400.0  # connection_made time (any)

TICKER = {"channel": "ok_sub_spot_bch_btc_ticker"}
DEPTH = {"channel": "ok_sub_spot_bch_btc_depth"}
DEPTH5 = {"channel": "ok_sub_spot_bch_btc_depth_5"}
DEALS = {"channel": "ok_sub_spot_bch_btc_deals"}
KLINE = {"channel": "ok_sub_spot_bch_btc_kline_1min"}
ORDERS = {"channel": "ok_sub_spot_bch_btc_order"}
BALANCE = {"channel": "ok_sub_spot_bch_btc_balance"}
USERINFO = {"channel": "ok_spot_userinfo"}
ORDERINFO = {"channel": "ok_spot_orderinfo", "parameters": {"symbol": "bch_btc", "order_id": "-1"}}
MARKET = [TICKER, DEPTH, DEPTH5, DEALS, KLINE]
EVERYTHING = [*MARKET, ORDERS, BALANCE, USERINFO, ORDERINFO]


def fixture(name: str) -> str:
    return load_fixture("okex_v1", name)


def doc_request(name: str) -> Any:
    """A request as the documentation writes it (single quotes), as a Python value."""
    return ast.literal_eval(fixture(name))


def deflate(text: str) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(text.encode()) + compressor.flush()


def frame(name: str, compressed: bool) -> str | bytes:
    text = fixture(name)
    return deflate(text) if compressed else text


def sent(adapter: OkexV1Adapter) -> list[Any]:
    return [json.loads(f) for f in adapter.data_to_send()]


def connected(*subs: dict[str, Any], credentials: Credentials | None = None) -> OkexV1Adapter:
    adapter = OkexV1Adapter(list(subs), credentials)
    adapter.connection_made(NOW_S)
    adapter.data_to_send()
    return adapter


def logged_in(*subs: dict[str, Any]) -> OkexV1Adapter:
    adapter = connected(*subs, credentials=CREDENTIALS)
    adapter.receive(fixture("login-response.json"))
    adapter.data_to_send()
    return adapter


def dest(channel: str, kind: str, schema: str, key: str = "bch_btc", **arg: str) -> Destination:
    return Destination(
        topic=f"okex.spot.{kind}",
        schema=f"okex/{schema}",
        key=key,
        channel=channel,
        arg={"channel": channel, **arg},
    )


TICKER_DEST = dest(TICKER["channel"], "ticker", "spot-ticker", symbol="bch_btc")
DEPTH_DEST = dest(DEPTH["channel"], "depth", "spot-depth", symbol="bch_btc")
DEPTH5_DEST = dest(DEPTH5["channel"], "depth-5", "spot-depth", symbol="bch_btc", depth="5")
DEALS_DEST = dest(DEALS["channel"], "deals", "spot-deals", symbol="bch_btc")
KLINE_DEST = dest(KLINE["channel"], "kline-1min", "spot-kline", symbol="bch_btc", interval="1min")
ORDERS_DEST = dest(ORDERS["channel"], "order", "spot-order", symbol="bch_btc")
BALANCE_DEST = dest(BALANCE["channel"], "balance", "spot-balance", symbol="bch_btc")
USERINFO_DEST = dest("ok_spot_userinfo", "userinfo", "spot-userinfo", key="ok_spot_userinfo")
ORDERINFO_DEST = dest(
    "ok_spot_orderinfo", "orderinfo", "spot-orderinfo", symbol="bch_btc", order_id="-1"
)

SCHEMAS = PayloadSchemas(
    "okex",
    {
        "exchange_bridge.okex.SpotTicker": "spot-ticker.v1.avsc",
        "exchange_bridge.okex.SpotDepth": "spot-depth.v1.avsc",
        "exchange_bridge.okex.SpotDeal": "spot-deals.v1.avsc",
        "exchange_bridge.okex.SpotKline": "spot-kline.v1.avsc",
        "exchange_bridge.okex.SpotOrder": "spot-order.v1.avsc",
        "exchange_bridge.okex.SpotOrderResult": "spot-order.v1.avsc",
        "exchange_bridge.okex.SpotBalance": "spot-balance.v1.avsc",
        "exchange_bridge.okex.SpotUserInfo": "spot-userinfo.v1.avsc",
        "exchange_bridge.okex.SpotOrderInfo": "spot-orderinfo.v1.avsc",
    },
)


assert_valid = SCHEMAS.assert_valid
pushes = SCHEMAS.pushes


def only_push(events: list[Event]) -> Push:
    [push] = pushes(events)
    return push


COMPRESSED = pytest.mark.parametrize("compressed", [False, True], ids=["text", "deflate"])
