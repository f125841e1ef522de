"""The accounts behind the OKEx v1 trade API: funds frozen and released, refusals by code."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bridge.sandbox.okex_v1.trading import OkexV1Account, Trading
from bridge.sandbox.okex_v1.wire import RequestError, dumps


@pytest.fixture
def trading() -> Trading:
    accounts = {"key": OkexV1Account(secret="s", free={"btc": Decimal("1"), "bch": Decimal("5")})}
    return Trading(accounts, {"bch_btc"})


def test_an_order_freezes_its_funds_and_a_cancel_releases_them(trading: Trading) -> None:
    account = trading.accounts["key"]
    order = trading.place("key", "bch_btc", "buy", "0.05", "4")
    assert order.order_id == 6191 and order.is_open
    assert (account.free["btc"], account.freezed["btc"]) == (Decimal("0.80"), Decimal("0.20"))
    sell = trading.place("key", "bch_btc", "sell_market", "0", "2")
    assert (account.free["bch"], account.freezed["bch"]) == (Decimal("3"), Decimal("2"))
    assert sell.order_id == 6192

    trading.cancel("key", order.order_id)
    assert order.status == -1 and not order.is_open
    assert (account.free["btc"], account.freezed["btc"]) == (Decimal("1.00"), Decimal("0.00"))
    with pytest.raises(RequestError) as again:
        trading.cancel("key", order.order_id)
    assert again.value.code == 10009


@pytest.mark.parametrize(
    ("api_key", "symbol", "type", "price", "amount", "code"),
    [
        ("nobody", "bch_btc", "buy", "1", "1", 10005),
        ("key", "xyz_btc", "buy", "1", "1", 20116),
        ("key", "bch_btc", "fly", "1", "1", 10008),
        ("key", "bch_btc", "buy", "one", "1", 10008),
        ("key", "bch_btc", "buy", "0", "1", 10008),
        ("key", "bch_btc", "buy", "1", "-1", 10008),
        ("key", "bch_btc", "buy", "1", "2", 10010),
    ],
)
def test_refused_orders_name_the_documented_code(
    trading: Trading, api_key: str, symbol: str, type: str, price: str, amount: str, code: int
) -> None:
    with pytest.raises(RequestError) as refused:
        trading.place(api_key, symbol, type, price, amount)
    assert refused.value.code == code
    assert trading.orders == {}


def test_userinfo_and_orderinfo_answers(trading: Trading) -> None:
    order = trading.place("key", "bch_btc", "buy", "0.05", "4")
    assert trading.userinfo("key")["info"]["funds"] == {
        "free": {"bch": "5.00000000", "btc": "0.80000000"},
        "freezed": {"bch": "0.00000000", "btc": "0.20000000"},
    }
    [listed] = trading.order_infos("key", "bch_btc", "-1")
    assert dumps(listed) == (
        '{"symbol":"bch_btc","amount":"4.00000000","price":"0.05000000","avg_price":0,'
        f'"create_date":{order.create_date},"type":"buy","deal_amount":0,"order_id":6191,'
        '"status":0}'
    )
    assert trading.order_infos("key", "bch_btc", "6191") == [listed]
    for order_id in ("1", "x"):
        with pytest.raises(RequestError) as missing:
            trading.order_infos("key", "bch_btc", order_id)
        assert missing.value.code == 10009
    trading.cancel("key", order.order_id)
    assert trading.order_infos("key", "bch_btc", "-1") == []


def test_order_push_data_as_the_documentation_writes_it(trading: Trading) -> None:
    order = trading.place("key", "bch_btc", "buy", "0.05", "2")
    order_data, balance_data = trading.order_push(order)
    assert list(order_data) == [
        "symbol",
        "tradeAmount",
        "createdDate",
        "orderId",
        "completedTradeAmount",
        "averagePrice",
        "tradePrice",
        "tradeType",
        "status",
        "tradeUnitPrice",
    ]
    assert dumps(balance_data) == '{"info":{"free":{"btc":0.9},"freezed":{"btc":0.1}}}'
