"""Kraken WebSocket v1 adapter: every documented message, fed as text, no event loop and no
network.

Example messages live in ``tests/fixtures/kraken/`` (see its README for where each comes from).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from bridge.avro.formats import decode_single_object
from bridge.avro.records import Codec
from bridge.exchanges import adapter_class
from bridge.exchanges.base import Credentials
from bridge.exchanges.events import (
    Destination,
    Event,
    ExchangeError,
    Heartbeat,
    Maintenance,
    Pong,
    Push,
    ResyncRequired,
    Subscribed,
    SubscribeFailed,
    Unrecognized,
)
from bridge.exchanges.kraken import (
    KrakenAdapter,
    book_checksum,
    canonical_pair,
    channel_name,
    error_code,
)
from bridge.frame import ConnectionInfo, Frame
from bridge.settings import Settings
from tests.fixtures import load_fixture
from tests.unit.exchanges.schema_helpers import PayloadSchemas

REPO_ROOT = Path(__file__).resolve().parents[3]
TOKEN = "WW91ciBhdXRoZW50aWNhdGlvbiB0b2tlbiBnb2VzIGhlcmUu"
CREDENTIALS = Credentials(token=TOKEN)
SEED_CONN_ID = "14859574189081089471"  # PROTOCOLS.md's systemStatus: above 2**63

# The configuration the seed's four examples answer.
SEED_SUBSCRIPTIONS: list[dict[str, Any]] = [
    {"name": "ticker", "pair": ["XBT/EUR"]},
    {"name": "ohlc", "interval": 5, "pair": ["XBT/EUR"]},
    {"name": "ownTrades"},
    {"name": "book", "depth": 42, "pair": ["XBT/USD"]},
]


# --- helpers -------------------------------------------------------------------------------------


def fixture(name: str) -> str:
    return load_fixture("kraken", name)


def make_adapter(
    *subscriptions: dict[str, Any], credentials: Credentials | None = CREDENTIALS
) -> KrakenAdapter:
    return KrakenAdapter(list(subscriptions), credentials)


def sent(adapter: KrakenAdapter) -> list[Any]:
    """Frames queued since the last call, parsed."""
    return [json.loads(frame) for frame in adapter.data_to_send()]


def connected(*subscriptions: dict[str, Any]) -> KrakenAdapter:
    adapter = make_adapter(*subscriptions)
    adapter.connection_made(0.0)
    sent(adapter)
    return adapter


def dest(
    name: str,
    pair: str | None = None,
    *,
    key: str | None = None,
    channel: str | None = None,
    **arg: str,
) -> Destination:
    full_arg = {"name": name} if pair is None else {"name": name, "pair": canonical_pair(pair)}
    full_arg.update(arg)
    return Destination(
        topic=f"kraken.{name}",
        schema=f"kraken/{name}",
        key=key or pair or name,
        channel=channel or name,
        arg=full_arg,
    )


SCHEMAS = PayloadSchemas(
    "kraken",
    {
        "exchange_bridge.kraken.Ticker": "ticker.v1.avsc",
        "exchange_bridge.kraken.Ohlc": "ohlc.v1.avsc",
        "exchange_bridge.kraken.Trade": "trade.v1.avsc",
        "exchange_bridge.kraken.Spread": "spread.v1.avsc",
        "exchange_bridge.kraken.Book": "book.v1.avsc",
        "exchange_bridge.kraken.OpenOrder": "openOrders.v1.avsc",
        "exchange_bridge.kraken.OwnTrade": "ownTrades.v1.avsc",
    },
)


assert_valid = SCHEMAS.assert_valid
pushes = SCHEMAS.pushes


def only(events: list[Event]) -> Event:
    assert len(events) == 1, events
    return events[0]


def micros(text: str) -> int:
    """Decimal seconds -> microseconds, through the calendar (an independent computation)."""
    whole, _, fraction = text.partition(".")
    moment = dt.datetime.fromtimestamp(int(whole), dt.UTC) + dt.timedelta(
        microseconds=int((fraction + "000000")[:6])
    )
    return (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


# --- class, registry, purity ---------------------------------------------------------------------


def test_class_attributes() -> None:
    assert KrakenAdapter.exchange == "kraken"
    assert KrakenAdapter.topic_prefix == "kraken"
    # heartbeats arrive every second once subscribed; a ping only when quiet for longer
    assert KrakenAdapter.keepalive_seconds == 10.0
    # ~150 connects per 10 minutes, and no faster than every 5 s after maintenance
    assert KrakenAdapter.min_connect_interval_seconds == 5.0


def test_registry_loads_the_adapter() -> None:
    assert adapter_class("kraken") is KrakenAdapter


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
    assert adapter.destinations() == [
        dest("ticker", "BTC/USD"),  # key as configured; arg as Kraken echoes it (XBT/USD)
        dest("ticker", "ETH/USD"),
        dest("book", "XBT/EUR", channel="book-25", depth="25"),
        dest("book", "XBT/EUR", channel="book-10", depth="10"),
        dest("ohlc", "ETH/USD", channel="ohlc-5", interval="5"),
        dest("openOrders", ratecounter="true"),
        dest("ownTrades"),
    ]
    assert adapter.destinations()[0].arg["pair"] == "XBT/USD"
    assert all(TOKEN not in repr(d) for d in adapter.destinations())


def test_the_documented_configuration_is_valid() -> None:
    """The example in docs/kraken.md loads, and its token stays a secret."""
    text = (REPO_ROOT / "docs" / "kraken.md").read_text()
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    settings = Settings.from_mapping(yaml.safe_load(block), {"KRAKEN_WS_TOKEN": TOKEN})
    public, private = settings.connections
    assert (public.exchange, private.exchange) == ("kraken", "kraken")
    assert private.adapter_credentials() == CREDENTIALS
    assert TOKEN not in repr(settings)
    adapter = KrakenAdapter(public.subscriptions, public.adapter_credentials())
    assert [d.topic for d in adapter.destinations()] == [
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
    assert [d.key for d in adapter.destinations()] == ["XBT/USD", "ETH/USD"]
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


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("Subscription depth not supported", "depth_not_supported"),
        ("Subscription ohlc interval not supported", "interval_not_supported"),
        ("Currency pair not in ISO 4217-A3 format XBTUSD", "pair_format"),
        ("Currency pair not supported FOO/BAR", "pair_not_supported"),
        ("Already subscribed", "already_subscribed"),
        ("Subscription Not Found", "subscription_not_found"),
        ("Event(s) not found", "event_not_found"),
        ("Malformed request", "malformed_request"),
        ("Exceeded msg rate", "rate_limit"),
        ("ESession:Invalid session", "ESession"),
        ("EGeneral:Invalid arguments:token", "EGeneral"),
        ("Something new", "other"),
        ("", "other"),
    ],
)
def test_error_codes_are_short_and_bounded(message: str, code: str) -> None:
    assert error_code(message) == code


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


# --- public data -------------------------------------------------------------------------------


def public_adapter() -> KrakenAdapter:
    return connected(
        {"name": "ticker", "pair": ["BTC/USD"]},
        {"name": "ohlc", "pair": ["XBT/USD"], "interval": 5},
        {"name": "trade", "pair": ["XBT/USD"]},
        {"name": "spread", "pair": ["XBT/USD"]},
        {"name": "book", "pair": ["XBT/USD"]},
    )


def test_ticker() -> None:
    [push] = pushes(public_adapter().receive(fixture("ticker.json")))
    assert push.destination == dest("ticker", "BTC/USD")  # configured as BTC/USD
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
    assert first.destination == dest("trade", "XBT/USD")
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
    assert push.destination == dest("ohlc", "XBT/USD", channel="ohlc-5", interval="5")
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
        arg={"name": "ohlc", "pair": "XBT/USD", "interval": "5"},
    )


# --- books and checksums -----------------------------------------------------------------------


def book_adapter(depth: int | None = None, *pairs: str) -> KrakenAdapter:
    sub: dict[str, Any] = {"name": "book", "pair": list(pairs or ("XBT/USD",))}
    if depth is not None:
        sub["depth"] = depth
    return connected(sub)


def test_book_checksum_matches_krakens_published_example() -> None:
    update = json.loads(fixture("book-checksum-example-update.json"))
    assert update[2]["c"] == "974947235"  # the value in PROTOCOLS.md's template
    asks = [("0.05005", "0.00000500"), *[(f"0.050{n}", "0.00000500") for n in range(10, 55, 5)]]
    bids = [(f"0.0{n}", "0.00000500") for n in (5000, 4995, 4990, *range(4980, 4945, -5))]
    assert book_checksum(asks, bids) == "974947235"


def test_five_element_update_with_both_sides_on_krakens_example() -> None:
    adapter = book_adapter()
    [snapshot] = pushes(adapter.receive(fixture("book-checksum-example-snapshot.json")))
    assert snapshot.payload["snapshot"] is True and snapshot.payload["checksum"] is None
    [update] = pushes(adapter.receive(fixture("book-checksum-example-update.json")))
    assert update.payload == {
        "pair": "XBT/USD",
        "channel_id": 0,
        "snapshot": False,
        "asks": [
            {
                "price": "0.05005",
                "volume": "0.00000500",
                "timestamp": micros("1582905487.684110"),
                "timestamp_text": "1582905487.684110",
                "update_type": None,
            }
        ],
        "bids": [
            {
                "price": "0.05000",
                "volume": "0.00000500",
                "timestamp": micros("1582905487.439814"),
                "timestamp_text": "1582905487.439814",
                "update_type": None,
            }
        ],
        "checksum": "974947235",
        "extra": {},
    }
    assert update.event_time_ms == 1582905487684  # the latest level time
    assert adapter.data_to_send() == []


def test_book_snapshot_and_updates_pass_their_checksums() -> None:
    adapter = book_adapter()
    [snapshot] = pushes(adapter.receive(fixture("book-snapshot.json")))
    assert snapshot.destination == dest("book", "XBT/USD", channel="book-10", depth="10")
    assert snapshot.payload["snapshot"] is True
    assert len(snapshot.payload["asks"]) == len(snapshot.payload["bids"]) == 10
    assert snapshot.payload["asks"][0] == {
        "price": "5541.30000",
        "volume": "1.00000000",
        "timestamp": 1534614248123456,
        "timestamp_text": "1534614248.123456",
        "update_type": None,
    }
    # a better ask pushes the worst out of the depth: the checksum holds only if the local
    # book is truncated to 10 levels
    pushes(adapter.receive(fixture("book-update-ask.json")))
    [republish] = pushes(adapter.receive(fixture("book-update-bid-republish.json")))
    assert [lv["update_type"] for lv in republish.payload["bids"]] == [None, "r"]
    assert republish.payload["bids"][0]["volume"] == "0.00000000"  # a delete
    [both] = pushes(adapter.receive(fixture("book-update-both-sides.json")))
    assert len(both.payload["asks"]) == 1 and len(both.payload["bids"]) == 2
    assert adapter.data_to_send() == []


def test_the_local_book_keeps_the_subscribed_depth() -> None:
    """After book-update-ask, 5542.20 is the 11th ask: outside book-10, so Kraken sends nothing
    when it changes. Here it went away unseen; when 5541.30 is deleted, Kraken republishes
    5542.30 as the new 10th ask. Only a book truncated to 10 levels matches the checksum."""
    asks_after = [
        ("5541.25000", "0.75000000"),
        *[(f"{5541.4 + n * 0.1:.5f}", f"{1.25 + n * 0.25:.8f}") for n in range(8)],
        ("5542.30000", "3.50000000"),
    ]
    bids = [(f"{5541.2 - n * 0.1:.5f}", f"{0.5 + n * 0.125:.8f}") for n in range(10)]
    update = json.dumps(
        [
            0,
            {
                "a": [
                    ["5541.30000", "0.00000000", "1534614249.200000"],
                    ["5542.30000", "3.50000000", "1534614248.123466", "r"],
                ],
                "c": book_checksum(asks_after, bids),
            },
            "book-10",
            "XBT/USD",
        ],
        separators=(",", ":"),
    )
    for depth, outcome in ((10, [Push]), (25, [Push, ResyncRequired])):
        adapter = book_adapter(depth)
        snapshot_text = fixture("book-snapshot.json")
        rename = f"book-{depth}"
        pushes(adapter.receive(snapshot_text.replace("book-10", rename)))
        pushes(adapter.receive(fixture("book-update-ask.json").replace("book-10", rename)))
        events = adapter.receive(update.replace("book-10", rename))
        assert [type(e) for e in events] == outcome, depth


def test_checksum_mismatch_resubscribes_that_book_once() -> None:
    adapter = connected({"name": "book", "pair": ["BTC/USD", "ETH/USD"], "depth": 10})
    for fixture_name in ("book-snapshot.json", "book-update-ask.json"):
        pushes(adapter.receive(fixture(fixture_name)))
    eth = fixture("book-snapshot.json").replace("XBT/USD", "ETH/USD")
    pushes(adapter.receive(eth))

    events = adapter.receive(fixture("book-update-bad-checksum.json"))
    book_push, resync = events
    assert isinstance(book_push, Push)  # the message itself is still published
    assert_valid(book_push)
    assert resync == ResyncRequired(
        destination=dest("book", "BTC/USD", channel="book-10", depth="10"),
        reason="checksum_mismatch",
    )
    assert sent(adapter) == [
        {
            "event": "unsubscribe",
            "reqid": 2,
            "pair": ["BTC/USD"],
            "subscription": {"name": "book", "depth": 10},
        },
        {
            "event": "subscribe",
            "reqid": 3,
            "pair": ["BTC/USD"],
            "subscription": {"name": "book", "depth": 10},
        },
    ]
    # later messages of that book are published unchecked until the new snapshot
    assert [type(e) for e in adapter.receive(fixture("book-update-bad-checksum.json"))] == [Push]
    assert sent(adapter) == []
    # the other pair is unaffected
    eth_update = fixture("book-update-ask.json").replace("XBT/USD", "ETH/USD")
    assert [type(e) for e in adapter.receive(eth_update)] == [Push]

    # the resubscription: unsubscribe ack, subscribe ack, a new snapshot; checked again
    unsubscribed = only(
        adapter.receive(
            '{"channelID":1,"channelName":"book-10","event":"subscriptionStatus",'
            '"pair":"XBT/USD","reqid":2,"status":"unsubscribed",'
            '"subscription":{"depth":10,"name":"book"}}'
        )
    )
    assert isinstance(unsubscribed, Subscribed) and unsubscribed.op == "unsubscribe"
    assert unsubscribed.destination.key == "BTC/USD"
    subscribed = only(
        adapter.receive(
            '{"channelID":2,"channelName":"book-10","event":"subscriptionStatus",'
            '"pair":"XBT/USD","reqid":3,"status":"subscribed",'
            '"subscription":{"depth":10,"name":"book"}}'
        )
    )
    assert isinstance(subscribed, Subscribed) and subscribed.op == "subscribe"
    pushes(adapter.receive(fixture("book-snapshot.json")))
    pushes(adapter.receive(fixture("book-update-ask.json")))
    events = adapter.receive(fixture("book-update-bad-checksum.json"))
    assert [type(e) for e in events] == [Push, ResyncRequired]


def test_an_update_before_any_snapshot_is_not_checked() -> None:
    adapter = book_adapter()
    pushes(adapter.receive(fixture("book-update-bad-checksum.json")))
    assert sent(adapter) == []


def test_an_unconfigured_book_is_resubscribed_by_its_channel_name() -> None:
    adapter = connected({"name": "ticker", "pair": ["XBT/USD"]})
    pushes(adapter.receive(fixture("book-snapshot.json")))
    pushes(adapter.receive(fixture("book-update-ask.json")))
    events = adapter.receive(fixture("book-update-bad-checksum.json"))
    assert isinstance(events[1], ResyncRequired)
    assert [f["event"] for f in sent(adapter)] == ["unsubscribe", "subscribe"]


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
