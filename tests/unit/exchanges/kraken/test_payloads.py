"""Kraken public and private data: one record per ticker, ohlc, spread, trade row and private
entry, timestamps exact to the microsecond, every event through the codec.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bridge.avro.formats import decode_single_object
from bridge.avro.records import Codec
from bridge.exchanges.events import (
    Destination,
    Push,
    Subscribed,
    Unrecognized,
)
from bridge.frame import ConnectionInfo, Frame
from tests.unit.exchanges.kraken.helpers import (
    SEED_CONN_ID,
    SEED_SUBSCRIPTIONS,
    connected,
    dest,
    fixture,
    micros,
    public_adapter,
    pushes,
)

# --- public data -------------------------------------------------------------------------------


def test_ticker() -> None:
    [push] = pushes(public_adapter().receive(fixture("ticker.json")))
    # configured as BTC/USD; the channelID of the push in the arg, as its ack has it
    assert push.destination == dest("ticker", "BTC/USD", channelID="0")
    assert push.event_time_ms is None and push.identity is None
    assert push.payload == {
        "pair": "XBT/USD",
        "channel_id": 0,
        "ask_price": "5525.40000",
        "ask_whole_lot_volume": 1,
        "ask_lot_volume": "1.000",
        "bid_price": "5525.10000",
        "bid_whole_lot_volume": 1,
        "bid_lot_volume": "1.000",
        "close_price": "5525.10000",
        "close_lot_volume": "0.00398963",
        "volume_today": "2634.11501494",
        "volume_24h": "3591.17907851",
        "vwap_today": "5631.44067",
        "vwap_24h": "5653.78939",
        "trades_today": 11493,
        "trades_24h": 16267,
        "low_today": "5505.00000",
        "low_24h": "5505.00000",
        "high_today": "5783.00000",
        "high_24h": "5783.00000",
        "open_today": "5760.70000",
        "open_24h": "5763.40000",
        "extra": {},
    }


def test_ticker_keeps_what_the_schema_does_not_name() -> None:
    message = json.loads(fixture("ticker.json"))
    message[1]["a"].append("extra-element")
    message[1]["x"] = {"new": 1.50}
    del message[1]["o"]
    [push] = pushes(public_adapter().receive(json.dumps(message)))
    assert push.payload["extra"] == {"a[3]": "extra-element", "x": '{"new":1.5}'}
    assert push.payload["open_today"] is None and push.payload["open_24h"] is None


def test_trade_one_record_per_row() -> None:
    first, second = pushes(public_adapter().receive(fixture("trade.json")))
    assert first.destination == dest("trade", "XBT/USD", channelID="0")
    assert first.payload == {
        "pair": "XBT/USD",
        "channel_id": 0,
        "price": "5541.20000",
        "volume": "0.15850568",
        "time": 1534614057321597,
        "time_text": "1534614057.321597",
        "side": "s",
        "order_type": "l",
        "misc": "",
        "extra": [],
    }
    assert first.event_time_ms == 1534614057321
    assert second.payload["time"] == micros("1534614057.324998")
    assert (second.payload["price"], second.payload["side"]) == ("6060.00000", "b")


def test_ohlc() -> None:
    [push] = pushes(public_adapter().receive(fixture("ohlc.json")))
    assert push.destination == dest(
        "ohlc", "XBT/USD", channel="ohlc-5", interval="5", channelID="42"
    )
    assert push.payload == {
        "pair": "XBT/USD",
        "channel_id": 42,
        "time": micros("1542057314.748456"),
        "time_text": "1542057314.748456",
        "etime": micros("1542057360.435743"),
        "etime_text": "1542057360.435743",
        "open": "3586.70000",
        "high": "3586.70000",
        "low": "3586.60000",
        "close": "3586.60000",
        "vwap": "3586.68894",
        "volume": "0.03373000",
        "count": 2,
        "extra": [],
    }
    assert push.event_time_ms == 1542057314748


def test_spread_with_and_without_volumes() -> None:
    adapter = public_adapter()
    [push] = pushes(adapter.receive(fixture("spread.json")))
    assert push.payload == {
        "pair": "XBT/USD",
        "channel_id": 0,
        "bid": "5698.40000",
        "ask": "5700.00000",
        "time": 1542057299545897,
        "time_text": "1542057299.545897",
        "bid_volume": "1.01234567",
        "ask_volume": "0.98765432",
        "extra": [],
    }
    [old] = pushes(adapter.receive('[0,["5698.4","5700.0","1542057299.5"],"spread","XBT/USD"]'))
    assert (old.payload["bid_volume"], old.payload["time"]) == (None, 1542057299500000)


def test_a_time_of_zero_is_kept_as_sent_but_is_no_event_time() -> None:
    adapter = public_adapter()
    [push] = pushes(
        adapter.receive('[0,["5698.4","5700.0","0.000000","1","2"],"spread","XBT/USD"]')
    )
    assert (push.payload["time"], push.payload["time_text"]) == (0, "0.000000")
    assert push.event_time_ms is None  # not 1970, and no 56-year lag in the histogram


@pytest.mark.parametrize(
    ("text", "expected_us"),
    [
        ('"1534614057.321597"', 1534614057321597),
        ('"1534614057"', 1534614057000000),
        ('"1534614057.3"', 1534614057300000),
        ('"1534614057.1234569"', 1534614057123456),  # the 7th digit stays in the text only
        ("1534614057.321597", 1534614057321597),  # a JSON number: exact too, never a float
        ("1534614057", 1534614057000000),
        ('"9999999999.999999"', 9999999999999999),
    ],
)
def test_decimal_second_timestamps_to_micros_without_losing_digits(
    text: str, expected_us: int
) -> None:
    message = f'[0,[["1.0","2.0",{text},"b","m",""]],"trade","XBT/USD"]'
    [push] = pushes(public_adapter().receive(message))
    assert push.payload["time"] == expected_us
    assert push.payload["time_text"] == text.strip('"')


def test_timestamps_beyond_a_floats_precision_stay_exact() -> None:
    text = "9999999999.999999"  # 16 significant digits: a double cannot hold them all
    assert int(float(text) * 1e6) != 9999999999999999
    [push] = pushes(
        public_adapter().receive(f'[0,[["1.0","2.0","{text}","b","m",""]],"trade","XBT/USD"]')
    )
    assert push.payload["time"] == 9999999999999999


def test_data_for_a_subscription_not_configured_is_still_published() -> None:
    adapter = connected({"name": "ticker", "pair": ["XBT/USD"]})
    [push] = pushes(adapter.receive(fixture("ohlc.json")))
    assert push.destination == Destination(
        topic="kraken.ohlc",
        schema="kraken/ohlc",
        key="XBT/USD",
        channel="ohlc-5",
        arg={"name": "ohlc", "pair": "XBT/USD", "interval": "5", "channelID": "42"},
    )


# --- private data ------------------------------------------------------------------------------


def test_open_orders_snapshot_with_sequence() -> None:
    adapter = connected({"name": "openOrders"})
    [push] = pushes(adapter.receive(fixture("open-orders-snapshot.json")))
    assert push.destination == dest("openOrders")
    assert push.identity is None and push.event_time_ms is None
    assert push.payload == {
        "order_id": "OGTT3Y-C6I3P-XRI6HX",
        "sequence": 234,
        "refid": "OKIVMP-5GVZN-Z2D2UA",
        "userref": "0",
        "status": "open",
        "opentm": 0,
        "opentm_text": "0.000000",
        "starttm": 0,
        "starttm_text": "0.000000",
        "expiretm": 0,
        "expiretm_text": "0.000000",
        "lastupdated": None,
        "lastupdated_text": None,
        "descr": {
            "close": "",
            "leverage": "0:1",
            "order": "sell 10.00345345 XBT/EUR @ limit 34.50000 with 0:1 leverage",
            "ordertype": "limit",
            "pair": "XBT/EUR",
            "price": "34.50000",
            "price2": "0.00000",
            "type": "sell",
        },
        "vol": "10.00345345",
        "vol_exec": "0.00000000",
        "cost": "0.00000",
        "fee": "0.00000",
        "avg_price": "34.50000",
        "stopprice": "0.000000",
        "limitprice": "34.50000",
        "misc": "",
        "oflags": "fcib",
        "timeinforce": None,
        "cancel_reason": None,
        "ratecount": None,
        "extra": {},
    }


def test_open_orders_updates_name_only_what_changed() -> None:
    adapter = connected({"name": "openOrders"})
    closed, filled = pushes(adapter.receive(fixture("open-orders-update.json")))
    assert (closed.payload["order_id"], closed.payload["sequence"]) == ("OGTT3Y-C6I3P-XRI6HX", 235)
    assert closed.payload["status"] == "closed" and closed.payload["vol"] is None
    assert filled.payload["vol_exec"] == "10.00345345"
    assert filled.payload["lastupdated"] == 1560516023070651
    assert filled.event_time_ms == 1560516023070


def test_own_trades_with_sequence_and_identity() -> None:
    adapter = connected({"name": "ownTrades"})
    first, second = pushes(adapter.receive(fixture("own-trades.json")))
    assert first.destination == dest("ownTrades")
    assert first.payload == {
        "trade_id": "TDLH43-DVQXD-2KHVYY",
        "sequence": 2948,
        "ordertxid": "TDLH43-DVQXD-2KHVYY",
        "postxid": "OGTT3Y-C6I3P-XRI6HX",
        "pair": "XBT/EUR",
        "time": 1560516023070651,
        "time_text": "1560516023.070651",
        "type": "sell",
        "ordertype": "limit",
        "price": "100000.00000",
        "cost": "1000000.00000",
        "fee": "1600.00000",
        "vol": "1000000000.00000000",
        "margin": "0.00000",
        "userref": None,
        "extra": {},
    }
    assert first.event_time_ms == 1560516023070
    assert second.payload["trade_id"] == "TDLH43-DVQXD-2KHVYA"
    # the snapshot a reconnect repeats (with a new sequence) is recognised as the same trades
    again = json.loads(fixture("own-trades.json"))
    again[2]["sequence"] = 1
    repeated = pushes(connected({"name": "ownTrades"}).receive(json.dumps(again)))
    assert [p.identity for p in repeated] == [first.identity, second.identity]
    assert first.identity != second.identity


# --- the codec writes and reads every event the fixtures produce --------------------------------


FIXTURES_WITH_RECORDS = [
    "system-status-online.json",
    "subscribed-ticker.json",
    "unsubscribed-ohlc.json",
    "subscribed-owntrades.json",
    "error-book-depth.json",
    "error-malformed-request.json",
    "error-msg-rate.json",
    "ticker.json",
    "ohlc.json",
    "trade.json",
    "spread.json",
    "book-snapshot.json",
    "book-update-ask.json",
    "book-update-bid-republish.json",
    "book-update-both-sides.json",
    "open-orders-snapshot.json",
    "open-orders-update.json",
    "own-trades.json",
    "system-status-maintenance.json",
]


def test_every_event_encodes_and_decodes_with_the_kraken_schemas() -> None:
    codec = Codec()
    conn = ConnectionInfo("kraken", "kraken", "kraken-public", "kraken-public#1", "test")
    adapter = connected(
        *SEED_SUBSCRIPTIONS,
        {"name": "ticker", "pair": ["BTC/USD"]},
        {"name": "ohlc", "pair": ["XBT/USD"], "interval": 5},
        {"name": "trade", "pair": ["XBT/USD"]},
        {"name": "spread", "pair": ["XBT/USD"]},
        {"name": "book", "pair": ["XBT/USD"]},
        {"name": "openOrders"},
    )
    topics: set[str] = set()
    for sequence, name in enumerate(FIXTURES_WITH_RECORDS, start=1):
        frame = Frame(fixture(name), 1_700_000_000_000_000, sequence)
        for event in adapter.receive(frame.data):
            assert not isinstance(event, Unrecognized), (name, event)
            for record in codec.records_for(conn, frame, event):
                schema, value = decode_single_object(codec.store, record.value)
                topics.add(record.topic)
                assert schema.id == (
                    "kraken/events"
                    if record.topic == "kraken.events"
                    else f"kraken/{record.topic[7:]}"
                )
                assert value["exchange_connection_id"] == (
                    "18446744073709551615"
                    if name == "system-status-maintenance.json"
                    else SEED_CONN_ID
                )
                kind, payload = value["payload"]
                if isinstance(event, Push):
                    assert kind == event.payload_type
                    assert record.key == event.destination.key.encode()
                if kind == "exchange_bridge.ConnectionEvent" and payload["event"] == "systemStatus":
                    assert payload["attributes"]["connectionID"] == value["exchange_connection_id"]
    assert topics == {
        "kraken.events",
        "kraken.ticker",
        "kraken.ohlc",
        "kraken.trade",
        "kraken.spread",
        "kraken.book",
        "kraken.openOrders",
        "kraken.ownTrades",
    }


def test_decoded_timestamps_keep_every_microsecond() -> None:
    codec = Codec()
    conn = ConnectionInfo("kraken", "kraken", "k", "k#1", "test")
    frame = Frame(fixture("trade.json"), 1, 1)
    push = pushes(public_adapter().receive(frame.data))[0]
    [record] = codec.records_for(conn, frame, push)
    _, value = decode_single_object(codec.store, record.value)
    payload = value["payload"][1]
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    assert (payload["time"] - epoch) // dt.timedelta(microseconds=1) == 1534614057321597
    assert payload["time_text"] == "1534614057.321597"
    assert value["event_time"] == dt.datetime(2018, 8, 18, 17, 40, 57, 321000, tzinfo=dt.UTC)


# --- the arg of pushes and acks ----------------------------------------------------------------


def test_pushes_carry_the_arg_of_their_subscriptions_ack() -> None:
    """Ack and pushes of one subscription on one connection have the same arg: what was
    subscribed, plus what the ack echoed (channelID, and maxratecount for private channels).
    A new connection's ack brings the new channelID."""
    adapter = connected({"name": "ohlc", "pair": ["XBT/USD"], "interval": 5})
    ack = {
        "channelID": 42,
        "channelName": "ohlc-5",
        "event": "subscriptionStatus",
        "pair": "XBT/USD",
        "status": "subscribed",
        "subscription": {"interval": 5, "name": "ohlc"},
    }
    [subscribed] = adapter.receive(json.dumps(ack))
    assert isinstance(subscribed, Subscribed)
    [push] = pushes(adapter.receive(fixture("ohlc.json")))  # channelID 42
    assert push.destination.arg == subscribed.destination.arg
    assert push.destination.arg == {
        "name": "ohlc",
        "pair": "XBT/USD",
        "interval": "5",
        "channelID": "42",
    }

    adapter.connection_made(0.0)
    [subscribed] = adapter.receive(json.dumps({**ack, "channelID": 7}))
    frame = json.loads(fixture("ohlc.json"))
    [push] = pushes(adapter.receive(json.dumps([7, *frame[1:]])))
    assert push.destination.arg["channelID"] == subscribed.destination.arg["channelID"] == "7"


def test_private_pushes_carry_what_their_ack_echoed() -> None:
    adapter = connected({"name": "openOrders", "ratecounter": True})
    ack = {
        "channelName": "openOrders",
        "event": "subscriptionStatus",
        "status": "subscribed",
        "subscription": {"maxratecount": 125, "name": "openOrders"},
    }
    [subscribed] = adapter.receive(json.dumps(ack))
    [push] = pushes(adapter.receive(fixture("open-orders-snapshot.json")))
    assert push.destination.arg == subscribed.destination.arg
    assert push.destination.arg == {
        "name": "openOrders",
        "ratecounter": "true",
        "maxratecount": "125",
    }
