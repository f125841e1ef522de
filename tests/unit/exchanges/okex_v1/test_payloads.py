"""OKEx v1 market and account data: one record per ticker, depth push, deal and kline row,
order, balance and request answer, numbers as the exchange's text.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bridge.exchanges.events import (
    Push,
    Subscribed,
    SubscribeFailed,
    Unrecognized,
)
from bridge.exchanges.okex_v1 import (
    deal_timestamp_ms,
)
from tests.unit.exchanges.okex_v1.helpers import (
    BALANCE,
    BALANCE_DEST,
    COMPRESSED,
    DEALS,
    DEALS_DEST,
    DEPTH,
    DEPTH5,
    DEPTH5_DEST,
    DEPTH_DEST,
    KLINE,
    KLINE_DEST,
    NOW_S,
    ORDERINFO,
    ORDERINFO_DEST,
    ORDERS,
    ORDERS_DEST,
    RECEIVED_US,
    SHANGHAI,
    TICKER,
    TICKER_DEST,
    USERINFO,
    USERINFO_DEST,
    assert_valid,
    connected,
    dest,
    fixture,
    frame,
    logged_in,
    only_push,
    pushes,
)

# --- inbound: market data ------------------------------------------------------------------------


@COMPRESSED
def test_ticker_push(compressed: bool) -> None:
    push = only_push(connected(TICKER).receive(frame("ticker-push.json", compressed)))
    assert push == Push(
        destination=TICKER_DEST,
        payload_type="exchange_bridge.okex.SpotTicker",
        payload={
            "buy": "115",
            "high": "10000",
            "last": "111",
            "low": "0.00000001",
            "sell": "115",
            "change": "101",
            "vol": "185.03743858",
            "dayLow": "0.00000001",
            "dayHigh": "10000",
            "timestamp": 1500444626000,
            "extra": {},
        },
        event_time_ms=1500444626000,
    )


SEED_BIDS = [
    {"price": "115", "amount": "1", "extra": {}},
    {"price": "114", "amount": "1", "extra": {}},
    {"price": "1E-8", "amount": "0.0008792", "extra": {}},
]


@COMPRESSED
def test_depth_first_push_is_the_snapshot_then_updates(compressed: bool) -> None:
    adapter = connected(DEPTH)
    first = only_push(adapter.receive(frame("depth-push.json", compressed)))
    assert first == Push(
        destination=DEPTH_DEST,
        payload_type="exchange_bridge.okex.SpotDepth",
        payload={
            "action": "snapshot",
            "asks": [],
            "bids": SEED_BIDS,
            "timestamp": 1504529236946,
            "extra": {},
        },
        event_time_ms=1504529236946,
    )
    second = only_push(adapter.receive(frame("depth-push.json", compressed)))
    assert second.payload == {**first.payload, "action": "update"}
    # a new subscription (ack) or a new connection starts with a full book again
    adapter.receive(
        '[{"binary":0,"channel":"addChannel","data":{"result":true,'
        '"channel":"ok_sub_spot_bch_btc_depth"}}]'
    )
    assert only_push(adapter.receive(fixture("depth-push.json"))).payload["action"] == "snapshot"
    adapter.connection_made(NOW_S)
    assert only_push(adapter.receive(fixture("depth-push.json"))).payload["action"] == "snapshot"
    assert only_push(adapter.receive(fixture("depth-push.json"))).payload["action"] == "update"


def test_a_bad_first_depth_push_does_not_use_up_the_snapshot() -> None:
    adapter = connected(DEPTH)
    bad = '[{"channel":"ok_sub_spot_bch_btc_depth","data":{"asks":[["1"]],"bids":[]}}]'
    [event] = adapter.receive(bad)
    assert isinstance(event, Unrecognized)
    assert only_push(adapter.receive(fixture("depth-push.json"))).payload["action"] == "snapshot"


@COMPRESSED
def test_depth_5_is_always_a_snapshot(compressed: bool) -> None:
    adapter = connected(DEPTH5)
    for _ in range(2):
        push = only_push(adapter.receive(frame("depth-5-push.json", compressed)))
        assert push == Push(
            destination=DEPTH5_DEST,
            payload_type="exchange_bridge.okex.SpotDepth",
            payload={
                "action": "snapshot",
                "asks": [],
                "bids": SEED_BIDS,
                "timestamp": 1504529432367,
                "extra": {},
            },
            event_time_ms=1504529432367,
        )


@COMPRESSED
def test_deals_push(compressed: bool) -> None:
    events = connected(DEALS).receive(frame("deals-push.json", compressed), RECEIVED_US)
    expected_ms = int(datetime(2017, 9, 4, 16, 34, 7, tzinfo=SHANGHAI).timestamp()) * 1000
    assert only_push(events) == Push(
        destination=DEALS_DEST,
        payload_type="exchange_bridge.okex.SpotDeal",
        payload={
            "tid": "1001",
            "price": "2463.86",
            "amount": "0.052",
            "time": "16:34:07",
            "type": "ask",
            "timestamp": expected_ms,
            "extra": {},
        },
        event_time_ms=expected_ms,
    )


def test_deals_without_a_receive_time_have_no_timestamp() -> None:
    push = only_push(connected(DEALS).receive(fixture("deals-push.json")))
    assert push.payload["timestamp"] is None and push.event_time_ms is None
    assert push.payload["time"] == "16:34:07"


def shanghai_us(*args: int) -> int:
    return int(datetime(*args, tzinfo=SHANGHAI).timestamp()) * 1_000_000  # type: ignore[misc]


def shanghai_ms(*args: int) -> int:
    return shanghai_us(*args) // 1000


@pytest.mark.parametrize(
    ("time_of_day", "received_us", "expected_ms"),
    [
        # the same day
        ("16:34:07", shanghai_us(2017, 9, 4, 16, 34, 8), shanghai_ms(2017, 9, 4, 16, 34, 7)),
        ("00:00:00", shanghai_us(2017, 9, 4, 11, 0, 0), shanghai_ms(2017, 9, 4, 0, 0, 0)),
        # a deal just before midnight received just after: the day before
        ("23:59:58", shanghai_us(2017, 9, 5, 0, 0, 1), shanghai_ms(2017, 9, 4, 23, 59, 58)),
        # exactly 12 h after the receive time is still the same day; one second more is not
        ("12:00:00", shanghai_us(2017, 9, 4, 0, 0, 0), shanghai_ms(2017, 9, 4, 12, 0, 0)),
        ("12:00:01", shanghai_us(2017, 9, 4, 0, 0, 0), shanghai_ms(2017, 9, 3, 12, 0, 1)),
        # an exchange clock a little ahead of ours across midnight: the day after
        ("00:00:02", shanghai_us(2017, 9, 4, 23, 59, 59), shanghai_ms(2017, 9, 5, 0, 0, 2)),
        # the receive date is Shanghai's, not UTC's (16:30 UTC is 00:30 the next day there)
        (
            "00:29:00",
            int(datetime(2017, 9, 4, 16, 30, tzinfo=UTC).timestamp()) * 1_000_000,
            shanghai_ms(2017, 9, 5, 0, 29, 0),
        ),
    ],
)
def test_deal_timestamp(time_of_day: str, received_us: int, expected_ms: int) -> None:
    assert deal_timestamp_ms(time_of_day, received_us) == expected_ms


@pytest.mark.parametrize("bad", ["24:00:00", "12:60:00", "12:00:60", "1:02:03", "12:00", ""])
def test_deal_timestamp_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        deal_timestamp_ms(bad, RECEIVED_US)


@COMPRESSED
def test_kline_push_one_record_per_row(compressed: bool) -> None:
    events = connected(KLINE).receive(frame("kline-1min-push.json", compressed))
    row = Push(
        destination=KLINE_DEST,
        payload_type="exchange_bridge.okex.SpotKline",
        payload={
            "time": 1490337840000,
            "open": "995.37",
            "high": "996.75",
            "low": "995.36",
            "close": "996.75",
            "volume": "9.112",
            "extra": {},
        },
        event_time_ms=1490337840000,
    )
    # the seed repeats the row; both are real pushes, so both are kept
    assert pushes(events) == [row, row]


def test_numbers_keep_their_text() -> None:
    frame_text = (
        '[{"channel":"ok_sub_spot_bch_btc_ticker","data":{"buy":0.00001,"sell":1e-05,'
        '"last":5814.850605790395,"low":"1E-8","high":10000,"vol":1.50,"timestamp":"1500444626000",'
        '"future":{"n":1.0,"list":[1e2,"x",true,null]}},"novel":0.10}]'
    )
    push = only_push(connected(TICKER).receive(frame_text))
    p = push.payload
    assert (p["buy"], p["sell"], p["last"], p["low"], p["high"], p["vol"]) == (
        "0.00001",
        "1e-05",
        "5814.850605790395",
        "1E-8",
        "10000",
        "1.50",
    )
    assert p["timestamp"] == 1500444626000
    assert p["extra"] == {
        "future": '{"n":1.0,"list":[1e2,"x",true,null]}',
        "envelope.novel": "0.10",
    }


def test_extra_columns_and_fields_are_kept() -> None:
    adapter = connected(DEPTH, DEALS, KLINE)
    depth = only_push(
        adapter.receive(
            '[{"channel":"ok_sub_spot_bch_btc_depth","data":{"asks":[["1","2","3",4]],'
            '"bids":[],"timestamp":1,"checksum":-5}}]'
        )
    )
    assert depth.payload["asks"] == [{"price": "1", "amount": "2", "extra": {"2": "3", "3": "4"}}]
    assert depth.payload["extra"] == {"checksum": "-5"}
    deal = only_push(
        adapter.receive(
            '[{"channel":"ok_sub_spot_bch_btc_deals","data":[["1","2","3","04:05:06","bid","x"]],'
            '"seq":7}]',
            RECEIVED_US,
        )
    )
    assert deal.payload["extra"] == {"5": "x", "envelope.seq": "7"}
    kline = only_push(
        adapter.receive(
            '[{"channel":"ok_sub_spot_bch_btc_kline_1min","data":[["1","2","3","4",'
            '"5","6",7,"8"]]}]'
        )
    )
    assert kline.payload["extra"] == {"6": "7", "7": "8"}


def test_several_elements_in_one_frame() -> None:
    adapter = connected(TICKER, DEALS)
    ticker = json.loads(fixture("ticker-push.json"))[0]
    deals = json.loads(fixture("deals-push.json"))[0]
    events = adapter.receive(json.dumps([ticker, deals, ticker]), RECEIVED_US)
    assert [e.destination.topic for e in pushes(events)] == [
        "okex.spot.ticker",
        "okex.spot.deals",
        "okex.spot.ticker",
    ]


def test_one_bad_row_does_not_lose_its_siblings() -> None:
    events = connected(DEALS).receive(
        '[{"channel":"ok_sub_spot_bch_btc_deals","data":[["1","2","3","25:00:00","ask"],'
        '["2","2","3","10:00:00","bid"]]}]',
        RECEIVED_US,
    )
    assert isinstance(events[0], Unrecognized) and "25:00:00" in events[0].reason
    assert isinstance(events[1], Push) and events[1].payload["tid"] == "2"


def test_a_single_object_without_its_array_is_accepted() -> None:
    ticker = json.loads(fixture("ticker-push.json"))[0]
    push = only_push(connected(TICKER).receive(json.dumps(ticker)))
    assert push.payload["last"] == "111"


# --- inbound: account data and trade API answers ------------------------------------------------


@COMPRESSED
def test_order_push(compressed: bool) -> None:
    push = only_push(logged_in(ORDERS).receive(frame("order-push.json", compressed)))
    assert push == Push(
        destination=ORDERS_DEST,
        payload_type="exchange_bridge.okex.SpotOrder",
        payload={
            "base": "bch",
            "quote": "btc",
            "product": "spot",
            "type": "balance",  # as printed in the documentation
            "symbol": "bch_btc",
            "orderId": "6191",
            "tradeType": "buy",
            "status": "0",
            "createdDate": 1504530228987,
            "tradeAmount": "1.00000000",
            "tradeUnitPrice": "113.00000000",
            "completedTradeAmount": "0.00000000",
            "tradePrice": "0.00000000",
            "averagePrice": "0",
            "unTrade": None,
            "sigTradeAmount": None,
            "sigTradePrice": None,
            "extra": {},
        },
        event_time_ms=1504530228987,
    )


@COMPRESSED
def test_balance_push(compressed: bool) -> None:
    push = only_push(logged_in(BALANCE).receive(frame("balance-push.json", compressed)))
    assert push == Push(
        destination=BALANCE_DEST,
        payload_type="exchange_bridge.okex.SpotBalance",
        payload={
            "base": "bch",
            "quote": "btc",
            "product": "spot",
            "type": "order",  # as printed in the documentation
            "free": {"btc": "5814.850605790395"},  # a JSON number, its text unchanged
            "freezed": {"btc": "7341"},
            "extra": {},
        },
    )


USERINFO_PAYLOAD = {
    "result": True,
    "free": {
        "btc": "5927.8506057903954517",
        "bch": "49982.615135298639",
        "bcs": "60000",
        "etc": "40000",
        "eth": "30000",
        "ltc": "20001.09989",
    },
    "freezed": {"btc": "7228", "bch": "0", "bcs": "0", "etc": "0", "eth": "0", "ltc": "0"},
    "extra": {},
}


@COMPRESSED
def test_userinfo_answer_first_acks_then_records(compressed: bool) -> None:
    adapter = logged_in(TICKER, USERINFO)
    adapter.receive(fixture("add-channel-ack.json"))
    assert not adapter.all_subscribed
    events = adapter.receive(frame("userinfo-response.json", compressed))
    push = Push(
        destination=USERINFO_DEST,
        payload_type="exchange_bridge.okex.SpotUserInfo",
        payload=USERINFO_PAYLOAD,
    )
    assert events == [Subscribed(destination=USERINFO_DEST, op="subscribe"), push]
    assert_valid(push)
    assert adapter.all_subscribed
    # a later answer (a repeated or unsolicited request) is only recorded
    assert adapter.receive(frame("userinfo-response.json", compressed)) == [push]


@COMPRESSED
def test_orderinfo_answer(compressed: bool) -> None:
    adapter = logged_in(ORDERINFO)
    events = adapter.receive(frame("orderinfo-response.json", compressed))
    push = Push(
        destination=ORDERINFO_DEST,
        payload_type="exchange_bridge.okex.SpotOrderInfo",
        payload={
            "result": True,
            "orders": [
                {
                    "order_id": "6189",
                    "symbol": "bch_btc",
                    "type": "buy",
                    "status": "-1",
                    "price": "1.00000000",
                    "amount": "0.10000000",
                    "avg_price": "0",
                    "deal_amount": "0",
                    "create_date": 1504529828000,
                    "orders_id": None,
                    "extra": {},
                }
            ],
            "extra": {},
        },
    )
    assert events == [Subscribed(destination=ORDERINFO_DEST, op="subscribe"), push]
    assert_valid(push)
    assert adapter.all_subscribed


def test_request_error_is_an_ack_error_on_the_request_destination() -> None:
    adapter = logged_in(ORDERINFO)
    events = adapter.receive(
        '[{"binary":0,"channel":"ok_spot_orderinfo","data":{"result":false,'
        '"error_msg":"order does not exist","error_code":10009}}]'
    )
    assert events == [
        SubscribeFailed(
            destination=ORDERINFO_DEST, op="subscribe", code="10009", message="order does not exist"
        )
    ]
    assert not adapter.all_subscribed


def test_answers_are_matched_to_requests_in_order() -> None:
    first = {"channel": "ok_spot_orderinfo", "parameters": {"symbol": "ltc_btc", "order_id": "1"}}
    adapter = logged_in(first, ORDERINFO)
    answer = fixture("orderinfo-response.json")
    [ack1, push1] = adapter.receive(answer)
    [ack2, push2] = adapter.receive(answer)
    assert isinstance(push1, Push) and push1.destination.key == "ltc_btc"
    assert isinstance(push2, Push) and push2.destination == ORDERINFO_DEST
    assert adapter.all_subscribed


@COMPRESSED
@pytest.mark.parametrize(
    ("name", "channel", "order_id"),
    [
        ("order-response.json", "ok_spot_order", "6189"),
        ("cancel-order-response.json", "ok_spot_cancel_order", "125433027"),
    ],
)
def test_order_and_cancel_answers_are_recorded(
    compressed: bool, name: str, channel: str, order_id: str
) -> None:
    push = only_push(logged_in(TICKER).receive(frame(name, compressed)))
    assert push == Push(
        destination=dest(channel, "order", "spot-order", key=channel),
        payload_type="exchange_bridge.okex.SpotOrderResult",
        payload={
            "request": channel,
            "result": True,
            "order_id": order_id,
            "error_code": None,
            "error_msg": None,
            "extra": {},
        },
    )


def test_failed_order_answer_is_recorded_with_its_code() -> None:
    push = only_push(
        connected().receive(
            '[{"binary":0,"channel":"ok_spot_order","data":{"result":false,'
            '"error_msg":"insufficient funds","error_code":10010}}]'
        )
    )
    assert push.payload["result"] is False
    assert (push.payload["error_code"], push.payload["error_msg"]) == (
        "10010",
        "insufficient funds",
    )
