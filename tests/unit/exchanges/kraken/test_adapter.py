"""Kraken WebSocket v1 adapter: requests, every form of subscriptionStatus, connection-level
messages and bad input; every documented message fed as text, no event loop and no network.

Example messages live in ``tests/fixtures/kraken/`` (see its README for where each comes from).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bridge.exchanges import adapter_class
from bridge.exchanges.events import (
    Event,
    ExchangeError,
    Heartbeat,
    Maintenance,
    Pong,
    Push,
    Subscribed,
    SubscribeFailed,
    Unrecognized,
)
from bridge.exchanges.kraken import (
    KrakenAdapter,
)
from tests.unit.exchanges.kraken.helpers import (
    SEED_CONN_ID,
    SEED_SUBSCRIPTIONS,
    TOKEN,
    connected,
    dest,
    fixture,
    make_adapter,
    only,
    public_adapter,
    sent,
)

# --- class, registry, purity ---------------------------------------------------------------------


def test_class_attributes() -> None:
    assert KrakenAdapter.exchange == "kraken"
    assert KrakenAdapter.topic_group == "kraken"
    # heartbeats arrive every second once subscribed; a ping only when quiet for longer
    assert KrakenAdapter.keepalive_seconds == 10.0
    # ~150 connects per 10 minutes, and no faster than every 5 s after maintenance
    assert KrakenAdapter.min_connect_interval_seconds == 5.0


def test_registry_loads_the_adapter() -> None:
    assert adapter_class("kraken") is KrakenAdapter


# --- outbound ------------------------------------------------------------------------------------


def test_connection_made_sends_one_request_per_configured_subscription() -> None:
    adapter = make_adapter(
        {"name": "ticker", "pair": ["XBT/USD", "ETH/USD"]},
        {"name": "book", "pair": ["XBT/USD", "XBT/EUR"], "depth": 10},
        {"name": "ohlc", "pair": ["XBT/EUR"], "interval": 5},
        {"name": "ownTrades", "snapshot": False},
        {"name": "openOrders", "ratecounter": True},
    )
    assert adapter.data_to_send() == []
    adapter.connection_made(1700000000.5)
    frames = adapter.data_to_send()
    assert frames[1] == (
        '{"event":"subscribe","reqid":2,"pair":["XBT/USD","XBT/EUR"],'
        '"subscription":{"name":"book","depth":10}}'
    )
    # the same request as PROTOCOLS.md's example, but for our reqid
    example = json.loads(fixture("subscribe-book-request.json"))
    assert json.loads(frames[1]) == {**example, "reqid": 2}
    assert [json.loads(f) for f in frames] == [
        {
            "event": "subscribe",
            "reqid": 1,
            "pair": ["XBT/USD", "ETH/USD"],
            "subscription": {"name": "ticker"},
        },
        {**example, "reqid": 2},
        {
            "event": "subscribe",
            "reqid": 3,
            "pair": ["XBT/EUR"],
            "subscription": {"name": "ohlc", "interval": 5},
        },
        {
            "event": "subscribe",
            "reqid": 4,
            "subscription": {"name": "ownTrades", "snapshot": False, "token": TOKEN},
        },
        {
            "event": "subscribe",
            "reqid": 5,
            "subscription": {"name": "openOrders", "ratecounter": True, "token": TOKEN},
        },
    ]
    assert adapter.data_to_send() == []
    assert not adapter.all_subscribed


def test_private_subscription_without_a_token_is_sent_for_kraken_to_refuse() -> None:
    adapter = make_adapter({"name": "ownTrades"}, credentials=None)
    adapter.connection_made(0.0)
    assert sent(adapter) == [
        {"event": "subscribe", "reqid": 1, "subscription": {"name": "ownTrades"}}
    ]


def test_ping_carries_a_fresh_reqid_and_pong_answers_it() -> None:
    adapter = connected({"name": "ticker", "pair": ["XBT/USD"]})
    assert adapter.ping() == '{"event":"ping","reqid":2}'
    assert adapter.ping() == '{"event":"ping","reqid":3}'
    # PROTOCOLS.md's example ping, and its pong
    assert json.loads(fixture("ping.json")) == {"event": "ping", "reqid": 42}
    assert adapter.receive(fixture("pong.json")) == [Pong(request_id="42")]
    assert adapter.receive('{"event":"pong"}') == [Pong()]


def test_a_new_connection_starts_over() -> None:
    adapter = connected({"name": "ticker", "pair": ["XBT/USD"]})
    adapter.receive(fixture("system-status-online.json"))
    adapter.receive(
        '{"channelID":1,"channelName":"ticker","event":"subscriptionStatus","pair":"XBT/USD",'
        '"reqid":1,"status":"subscribed","subscription":{"name":"ticker"}}'
    )
    assert adapter.all_subscribed
    adapter.connection_made(0.0)
    assert not adapter.all_subscribed
    assert sent(adapter)[0]["reqid"] == 1
    assert only(adapter.receive(fixture("heartbeat.json"))) == Heartbeat()  # no connection id yet


# --- the seed's four examples, byte for byte -----------------------------------------------------


def seed_adapter() -> KrakenAdapter:
    adapter = connected(*SEED_SUBSCRIPTIONS)
    assert only(adapter.receive(fixture("system-status-online.json"))) == Maintenance(
        status="online",
        active=False,
        attributes={"connectionID": SEED_CONN_ID, "version": "1.9.0"},
        exchange_conn_id=SEED_CONN_ID,
    )
    return adapter


def test_seed_subscribed_ticker() -> None:
    adapter = seed_adapter()
    assert adapter.receive(fixture("subscribed-ticker.json")) == [
        Subscribed(
            destination=dest("ticker", "XBT/EUR", channelID="10001"),
            op="subscribe",
            request_id=None,
            exchange_conn_id=SEED_CONN_ID,
        )
    ]


def test_seed_unsubscribed_ohlc() -> None:
    adapter = seed_adapter()
    assert adapter.receive(fixture("unsubscribed-ohlc.json")) == [
        Subscribed(
            destination=dest("ohlc", "XBT/EUR", channel="ohlc-5", interval="5", channelID="10001"),
            op="unsubscribe",
            request_id="42",
            exchange_conn_id=SEED_CONN_ID,
        )
    ]


def test_seed_subscribed_own_trades_has_no_channel_id() -> None:
    adapter = seed_adapter()
    assert adapter.receive(fixture("subscribed-owntrades.json")) == [
        Subscribed(
            destination=dest("ownTrades"),
            op="subscribe",
            request_id=None,
            exchange_conn_id=SEED_CONN_ID,
        )
    ]


def test_seed_error_book_depth() -> None:
    adapter = seed_adapter()
    assert adapter.receive(fixture("error-book-depth.json")) == [
        SubscribeFailed(
            destination=dest("book", "XBT/USD", channel="book-42", depth="42"),
            op="subscribe",
            code="depth_not_supported",
            message="Subscription depth not supported",
            request_id=None,
            exchange_conn_id=SEED_CONN_ID,
        )
    ]
    assert not adapter.all_subscribed


@pytest.mark.parametrize(
    "name",
    [
        "subscribed-ticker.json",
        "unsubscribed-ohlc.json",
        "subscribed-owntrades.json",
        "error-book-depth.json",
    ],
)
def test_seed_examples_that_answer_no_configured_subscription_go_to_events(name: str) -> None:
    adapter = connected({"name": "spread", "pair": ["ETH/USD"]})
    event = only(adapter.receive(fixture(name)))
    assert isinstance(event, ExchangeError)
    message = json.loads(fixture(name))
    if message["status"] == "error":
        assert (event.code, event.message) == ("depth_not_supported", message["errorMessage"])
    else:
        assert event.code == "unmatched_subscription"
        assert message["status"] in event.message
    assert event.request_id == (str(message["reqid"]) if "reqid" in message else None)


def test_seed_examples_make_every_configured_subscription_subscribed_or_failed() -> None:
    adapter = seed_adapter()
    adapter.receive(fixture("subscribed-ticker.json"))
    adapter.receive(fixture("subscribed-owntrades.json"))
    adapter.receive(
        '{"channelID":10001,"channelName":"ohlc-5","event":"subscriptionStatus",'
        '"pair":"XBT/EUR","reqid":2,"status":"subscribed",'
        '"subscription":{"interval":5,"name":"ohlc"}}'
    )
    adapter.receive(fixture("error-book-depth.json"))
    assert not adapter.all_subscribed  # the book failed
    adapter.receive(
        '{"channelID":7,"channelName":"book-42","event":"subscriptionStatus","pair":"XBT/USD",'
        '"status":"subscribed","subscription":{"depth":42,"name":"book"}}'
    )
    assert adapter.all_subscribed
    adapter.receive(fixture("unsubscribed-ohlc.json"))
    assert not adapter.all_subscribed


# --- every form of subscriptionStatus ------------------------------------------------------------


def test_one_request_many_pairs_acks_one_per_pair_through_the_alias() -> None:
    adapter = connected({"name": "book", "pair": ["BTC/USD", "ETH/USD", "XBT/EUR"], "depth": 10})
    events: list[Event] = []
    for n, pair in enumerate(["XBT/USD", "ETH/USD", "XBT/EUR"]):
        assert not adapter.all_subscribed
        events += adapter.receive(
            f'{{"channelID":{n},"channelName":"book-10","event":"subscriptionStatus",'
            f'"pair":"{pair}","reqid":1,"status":"subscribed",'
            '"subscription":{"depth":10,"name":"book"}}'
        )
    assert adapter.all_subscribed
    assert [(type(e), e.destination.key) for e in events if isinstance(e, Subscribed)] == [
        (Subscribed, "BTC/USD"),
        (Subscribed, "ETH/USD"),
        (Subscribed, "XBT/EUR"),
    ]
    assert all(e.request_id == "1" for e in events if isinstance(e, Subscribed))
    assert events[0].destination.arg == {  # type: ignore[attr-defined]
        "name": "book",
        "pair": "XBT/USD",
        "depth": "10",
        "channelID": "0",
    }


def test_subscribed_book_10() -> None:
    adapter = connected({"name": "book", "pair": ["XBT/USD"]})
    assert adapter.receive(fixture("subscribed-book-10.json")) == [
        Subscribed(
            destination=dest("book", "XBT/USD", channel="book-10", depth="10", channelID="336"),
            op="subscribe",
            request_id="1",
        )
    ]
    assert adapter.all_subscribed


def test_private_ack_records_maxratecount() -> None:
    adapter = connected({"name": "openOrders", "ratecounter": True})
    assert adapter.receive(fixture("subscribed-openorders-maxratecount.json")) == [
        Subscribed(
            destination=dest("openOrders", ratecounter="true", maxratecount="125"),
            op="subscribe",
            request_id="1",
        )
    ]
    assert adapter.all_subscribed


def test_an_echoed_token_never_reaches_a_record() -> None:
    adapter = connected({"name": "ownTrades"})
    event = only(
        adapter.receive(
            '{"channelName":"ownTrades","event":"subscriptionStatus","reqid":1,'
            f'"status":"subscribed","subscription":{{"name":"ownTrades","token":"{TOKEN}"}}}}'
        )
    )
    assert isinstance(event, Subscribed)
    assert TOKEN not in repr(event)


def test_error_with_reqid_answers_that_pair_of_the_request() -> None:
    adapter = connected({"name": "ticker", "pair": ["XBT/USD", "FOO/BAR"]})
    assert adapter.receive(
        '{"errorMessage":"Currency pair not supported FOO/BAR","event":"subscriptionStatus",'
        '"pair":"FOO/BAR","reqid":1,"status":"error","subscription":{"name":"ticker"}}'
    ) == [
        SubscribeFailed(
            destination=dest("ticker", "FOO/BAR"),
            op="subscribe",
            code="pair_not_supported",
            message="Currency pair not supported FOO/BAR",
            request_id="1",
        )
    ]


def test_a_pair_error_for_a_pair_the_configuration_cannot_hold_goes_to_events() -> None:
    # "XBTUSD" is refused by the configuration already; Kraken's answer to it is kept anyway
    adapter = connected({"name": "ticker", "pair": ["XBT/USD"]})
    assert adapter.receive(fixture("error-pair-format.json")) == [
        ExchangeError(code="pair_format", message="Currency pair not in ISO 4217-A3 format XBTUSD")
    ]


def test_error_without_a_pair_answers_every_pair_of_its_request() -> None:
    adapter = connected({"name": "ticker", "pair": ["XBT/USD", "ETH/USD"]})
    events = adapter.receive(
        '{"errorMessage":"EGeneral:Internal error","event":"subscriptionStatus","reqid":1,'
        '"status":"error","subscription":{"name":"ticker"}}'
    )
    assert [(type(e).__name__, e.destination.key, e.code) for e in events] == [  # type: ignore[attr-defined]
        ("SubscribeFailed", "XBT/USD", "EGeneral"),
        ("SubscribeFailed", "ETH/USD", "EGeneral"),
    ]


def test_ohlc_interval_error() -> None:
    adapter = connected({"name": "ohlc", "pair": ["XBT/EUR"], "interval": 7})
    event = only(adapter.receive(fixture("error-ohlc-interval.json")))
    assert event == SubscribeFailed(
        destination=dest("ohlc", "XBT/EUR", channel="ohlc-7", interval="7"),
        op="subscribe",
        code="interval_not_supported",
        message="Subscription ohlc interval not supported",
    )


def test_already_subscribed_is_an_error_record_but_counts_as_subscribed() -> None:
    adapter = connected({"name": "ticker", "pair": ["XBT/USD"]})
    event = only(adapter.receive(fixture("error-already-subscribed.json")))
    assert isinstance(event, SubscribeFailed) and event.code == "already_subscribed"
    assert adapter.all_subscribed


def test_unsubscribed_without_reqid_is_matched_by_channel_and_pair() -> None:
    adapter = connected({"name": "ticker", "pair": ["XBT/USD"]})
    adapter.receive(
        '{"channelID":1,"channelName":"ticker","event":"subscriptionStatus","pair":"XBT/USD",'
        '"reqid":1,"status":"subscribed","subscription":{"name":"ticker"}}'
    )
    event = only(
        adapter.receive(
            '{"channelID":1,"channelName":"ticker","event":"subscriptionStatus",'
            '"pair":"XBT/USD","status":"unsubscribed","subscription":{"name":"ticker"}}'
        )
    )
    assert isinstance(event, Subscribed) and event.op == "unsubscribe"
    assert not adapter.all_subscribed


def test_wildcard_unsubscribe_answers_every_configured_subscription() -> None:
    adapter = connected({"name": "ownTrades"}, {"name": "openOrders"})
    events = adapter.receive(
        '{"channelName":"*","event":"subscriptionStatus","status":"unsubscribed",'
        '"subscription":{"name":"*"}}'
    )
    assert [(e.destination.key, e.op) for e in events] == [  # type: ignore[attr-defined]
        ("ownTrades", "unsubscribe"),
        ("openOrders", "unsubscribe"),
    ]


def test_status_ok_acknowledges_its_request() -> None:
    adapter = connected({"name": "ownTrades"})
    event = only(
        adapter.receive(
            '{"channelName":"ownTrades","event":"subscriptionStatus","reqid":1,"status":"ok",'
            '"subscription":{"name":"ownTrades"}}'
        )
    )
    assert event == Subscribed(destination=dest("ownTrades"), op="subscribe", request_id="1")
    assert adapter.all_subscribed


def test_an_answer_for_another_depth_is_not_ours() -> None:
    adapter = connected({"name": "book", "pair": ["XBT/USD"], "depth": 25})
    event = only(
        adapter.receive(
            '{"channelID":1,"channelName":"book-10","event":"subscriptionStatus",'
            '"pair":"XBT/USD","status":"subscribed","subscription":{"depth":10,"name":"book"}}'
        )
    )
    assert isinstance(event, ExchangeError) and event.code == "unmatched_subscription"
    assert not adapter.all_subscribed


# --- connection-level messages -------------------------------------------------------------------


def test_system_status_keeps_a_connection_id_beyond_2_63_exactly() -> None:
    adapter = connected({"name": "ticker", "pair": ["XBT/USD"]})
    event = only(adapter.receive(fixture("system-status-maintenance.json")))
    assert event == Maintenance(
        status="maintenance",
        active=True,
        attributes={"connectionID": "18446744073709551615", "version": "1.9.0"},
        exchange_conn_id="18446744073709551615",
    )
    assert int(SEED_CONN_ID) > 2**63 and str(2**64 - 1) == "18446744073709551615"
    # every later event of the connection carries it
    assert only(adapter.receive(fixture("heartbeat.json"))) == Heartbeat(
        exchange_conn_id="18446744073709551615"
    )


@pytest.mark.parametrize(
    ("status", "active"),
    [
        ("online", False),
        ("maintenance", True),
        ("cancel_only", True),
        ("post_only", True),
        ("limit_only", True),
    ],
)
def test_system_status_forms(status: str, active: bool) -> None:
    adapter = connected({"name": "ticker", "pair": ["XBT/USD"]})
    text = fixture("system-status-online.json").replace('"online"', f'"{status}"')
    event = only(adapter.receive(text))
    assert isinstance(event, Maintenance)
    assert (event.status, event.active, event.exchange_conn_id) == (status, active, SEED_CONN_ID)


def test_heartbeat() -> None:
    adapter = connected({"name": "ticker", "pair": ["XBT/USD"]})
    assert adapter.receive(fixture("heartbeat.json")) == [Heartbeat()]


def test_bare_error() -> None:
    adapter = connected({"name": "ticker", "pair": ["XBT/USD"]})
    assert adapter.receive(fixture("error-malformed-request.json")) == [
        ExchangeError(code="malformed_request", message="Malformed request")
    ]
    assert adapter.receive(fixture("error-event-not-found.json")) == [
        ExchangeError(code="event_not_found", message="Event(s) not found", request_id="7")
    ]


def test_exceeded_msg_rate() -> None:
    adapter = connected({"name": "ticker", "pair": ["XBT/USD"]})
    assert adapter.receive(fixture("error-msg-rate.json")) == [
        ExchangeError(code="rate_limit", message="Exceeded msg rate")
    ]


# --- bad input never raises --------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xfe",
        "",
        "   ",
        "not json",
        '{"event":"heartbeat"',
        '{"event":"pong","reqid":NaN}',
        '"text"',
        "42",
        "null",
        "{}",
        '{"Error":5}',
        '{"event":"subscribe"}',
        '{"event":["heartbeat"]}',
        '{"event":"systemStatus"}',
        '{"event":"systemStatus","status":5}',
        '{"event":"subscriptionStatus","status":"pending"}',
        '{"event":"subscriptionStatus","status":"subscribed","subscription":[]}',
        '{"event":"subscriptionStatus","status":"subscribed","pair":["XBT/USD"]}',
        "[]",
        '[0,{},"ticker"]',
        '["0",{},"ticker","XBT/USD"]',
        '[true,{},"ticker","XBT/USD"]',
        '[0,{},"tickers","XBT/USD"]',
        '[0,[],"ticker","XBT/USD"]',
        '[0,{"a":"5525.4"},"ticker","XBT/USD"]',
        '[0,{"t":["many","few"]},"ticker","XBT/USD"]',
        '[0,{"a":[true,1,"1"]},"ticker","XBT/USD"]',
        '[0,{},{},"ticker","XBT/USD"]',
        '[0,[["5541.2","0.1","1534614057.3","s","l"]],"trade","XBT/USD"]',
        '[0,[["5541.2","0.1","yesterday","s","l",""]],"trade","XBT/USD"]',
        '[0,[["5541.2","0.1","-1534614057.3","s","l",""]],"trade","XBT/USD"]',
        '[0,[["5541.2","0.1","1e9","s","l",""]],"trade","XBT/USD"]',
        '[0,[["5541.2","0.1","99999999999999999999.1","s","l",""]],"trade","XBT/USD"]',
        '[0,{"price":"1"},"trade","XBT/USD"]',
        '[0,["1542057314.7","1542057360.4","1","1","1","1","1","1"],"ohlc-5","XBT/USD"]',
        '[0,["1542057314.7","1542057360.4","1","1","1","1","1","1","two"],"ohlc-5","XBT/USD"]',
        '[0,["5698.4","5700.0"],"spread","XBT/USD"]',
        '[0,["5698.4","5700.0",null],"spread","XBT/USD"]',
        '[0,[],"book-10","XBT/USD"]',
        '[0,{"as":[]},{"bs":[]},{"c":"1"},"book-10","XBT/USD"]',
        '[0,{"as":[],"a":[]},"book-10","XBT/USD"]',
        '[0,{"a":[["5541.3","1.0"]]},"book-10","XBT/USD"]',
        '[0,{"a":[["5,541.3","1.0","1534614248.1"]]},"book-10","XBT/USD"]',
        '[0,{"a":[["5541.3","-1.0","1534614248.1"]]},"book-10","XBT/USD"]',
        '[0,{"a":[["5541.3","1.0","1534614248.1","r","x"]]},"book-10","XBT/USD"]',
        '[0,{"a":{"5541.3":"1.0"}},"book-10","XBT/USD"]',
        '[[{"O1":{}}],"closedOrders",{"sequence":1}]',
        '[[{"O1":{}}],"openOrders",{"sequence":"one"}]',
        '[[["O1"]],"openOrders",{"sequence":1}]',
        '[[{"O1":"open"}],"openOrders",{"sequence":1}]',
        '[[{"O1":{"opentm":"soon"}}],"openOrders",{"sequence":1}]',
        '[[{"O1":{"descr":"sell"}}],"openOrders",{"sequence":1}]',
        '[[{"T1":{"time":[1]}}],"ownTrades",{"sequence":1}]',
        '[{"O1":{}},"openOrders",{"sequence":1}]',
        "[" * 100_000,
    ],
)
def test_malformed_input_is_unrecognized(data: str | bytes) -> None:
    adapter = public_adapter()
    events = adapter.receive(data)
    assert events, data
    assert all(isinstance(e, Unrecognized) and e.reason for e in events), events
    assert adapter.data_to_send() == []


@pytest.mark.parametrize(
    "name", ["book-update-both-sides-template.txt", "private-data-template.txt"]
)
def test_protocols_templates_are_not_json(name: str) -> None:
    """PROTOCOLS.md writes these two shapes with placeholders (``id``, ``…``, ``orderId``):
    the adapter must classify them as unrecognized, not crash."""
    event = only(public_adapter().receive(fixture(name)))
    assert isinstance(event, Unrecognized) and event.reason.startswith("not JSON")


def test_one_bad_trade_row_does_not_hide_the_message_from_dead_letters() -> None:
    events = public_adapter().receive(
        '[0,[["1.0","2.0","1534614057.1","b","m",""],["1.0"]],"trade","XBT/USD"]'
    )
    assert [type(e) for e in events] == [Unrecognized]


def test_one_bad_private_entry_leaves_its_siblings() -> None:
    events = connected({"name": "ownTrades"}).receive(
        '[[{"T1":{"time":"x"}},{"T2":{"price":"1.0"}}],"ownTrades",{"sequence":3}]'
    )
    assert [type(e) for e in events] == [Unrecognized, Push]


def test_an_internal_error_becomes_unrecognized(monkeypatch: pytest.MonkeyPatch) -> None:
    adapter = public_adapter()

    def boom(*args: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(adapter, "_on_object", boom)
    assert adapter.receive(fixture("heartbeat.json")) == [
        Unrecognized(reason="adapter error: RuntimeError: bug")
    ]
