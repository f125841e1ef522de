"""OKEx v1 adapter: every example of the seed document, as text and as raw deflate, fed to the
adapter directly (no event loop, no network).

Example messages live in ``tests/fixtures/okex_v1/`` (see its README for where each comes
from). The documentation writes requests in a lenient single-quoted form; those are read here
with ``ast.literal_eval`` (they are Python literals), independently of the simulator's parser.
"""

from __future__ import annotations

import ast
import hashlib
import json
import random
import zlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from bridge.exchanges import adapter_class
from bridge.exchanges.base import Credentials
from bridge.exchanges.events import (
    Destination,
    Event,
    ExchangeError,
    LoginResult,
    Pong,
    Push,
    Subscribed,
    SubscribeFailed,
    Unrecognized,
)
from bridge.exchanges.okex_v1 import (
    KLINE_INTERVALS,
    OkexV1Adapter,
    deal_timestamp_ms,
    destination_for,
    inflate,
    parse_channel,
    sign,
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


# --- helpers -------------------------------------------------------------------------------------


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


# --- class, registry, purity ---------------------------------------------------------------------


def test_class_attributes() -> None:
    assert OkexV1Adapter.exchange == "okex_v1"
    assert OkexV1Adapter.topic_group == "okex"
    # documented heartbeat: 30 s; ping earlier so a server idle close at 30 s never comes
    assert OkexV1Adapter.keepalive_seconds == 25.0


def test_registry_loads_the_adapter() -> None:
    assert adapter_class("okex_v1") is OkexV1Adapter


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


# --- outbound ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subscription", "name"),
    [
        (TICKER, "ticker-request.txt"),
        (DEPTH, "depth-request.txt"),
        (DEPTH5, "depth-5-request.txt"),
        (DEALS, "deals-request.txt"),
        (KLINE, "kline-1min-request.txt"),
    ],
)
def test_one_subscription_is_the_seed_request_in_strict_json(
    subscription: dict[str, str], name: str
) -> None:
    adapter = OkexV1Adapter([subscription])
    adapter.connection_made(NOW_S)
    [text] = adapter.data_to_send()
    assert isinstance(text, str) and "'" not in text
    assert json.loads(text) == doc_request(name)


def test_several_subscriptions_go_as_one_batch_like_the_seed_example() -> None:
    template = fixture("request-example-batch.txt")
    documented = ast.literal_eval(template.replace("_X_", "_bch_btc_"))
    adapter = OkexV1Adapter([TICKER, DEPTH, DEALS])
    adapter.connection_made(NOW_S)
    [text] = adapter.data_to_send()
    assert text == json.dumps(documented, separators=(",", ":"))


def test_single_request_example_of_the_seed() -> None:
    template = fixture("request-example-single.txt")
    adapter = OkexV1Adapter([TICKER])
    adapter.connection_made(NOW_S)
    assert sent(adapter) == [ast.literal_eval(template.replace("_X_", "_bch_btc_"))]


def test_parameters_and_binary_are_sent_as_configured() -> None:
    adapter = OkexV1Adapter([{**DEPTH5, "binary": 1, "parameters": {"b": "2", "a": 1}}])
    adapter.connection_made(NOW_S)
    assert adapter.data_to_send() == [
        '{"event":"addChannel","channel":"ok_sub_spot_bch_btc_depth_5",'
        '"parameters":{"b":"2","a":"1"},"binary":1}'
    ]


def test_nothing_is_sent_before_connection_made() -> None:
    adapter = OkexV1Adapter([TICKER, DEPTH])
    adapter.receive(fixture("add-channel-ack.json"))
    adapter.receive(fixture("remove-channel-ack.json"))
    assert adapter.data_to_send() == []
    assert not adapter.all_subscribed


def test_ping_is_the_documented_heartbeat() -> None:
    ping = OkexV1Adapter([]).ping()
    assert ping == fixture("ping.json") == '{"event":"ping"}'
    assert json.loads(ping) == doc_request("ping-request.txt")


def test_sign_worked_example() -> None:
    by_hand = hashlib.md5(f"api_key={API_KEY}&secret_key={SECRET}".encode()).hexdigest()
    assert by_hand == LOGIN_SIGN.lower()
    assert sign({"api_key": API_KEY}, SECRET) == LOGIN_SIGN
    # every parameter but sign, sorted by name
    parameters = {"symbol": "bch_btc", "sign": "ignored", "order_id": "-1", "api_key": API_KEY}
    assert sign(parameters, SECRET) == ORDERINFO_SIGN


def test_login_frame_then_requests_after_the_login_answer() -> None:
    adapter = OkexV1Adapter(EVERYTHING, CREDENTIALS)
    adapter.connection_made(NOW_S)
    [login] = adapter.data_to_send()
    assert login == (
        f'{{"event":"login","parameters":{{"api_key":"{API_KEY}","sign":"{LOGIN_SIGN}"}}}}'
    )
    documented = json.loads(fixture("login-request.json"))
    assert list(json.loads(login)) == list(documented)
    assert list(json.loads(login)["parameters"]) == list(documented["parameters"])
    assert not adapter.all_subscribed

    assert adapter.receive(fixture("login-response.json")) == [LoginResult(ok=True)]
    [batch] = sent(adapter)
    assert [r["channel"] for r in batch] == [s["channel"] for s in EVERYTHING]
    market = batch[: len(MARKET) + 2]
    assert all(set(r) == {"event", "channel"} and r["event"] == "addChannel" for r in market)
    userinfo, orderinfo = batch[-2:]
    assert userinfo == {
        "event": "addChannel",
        "channel": "ok_spot_userinfo",
        "parameters": {"api_key": API_KEY, "sign": LOGIN_SIGN},
    }
    assert orderinfo == {
        "event": "addChannel",
        "channel": "ok_spot_orderinfo",
        "parameters": {
            "api_key": API_KEY,
            "sign": ORDERINFO_SIGN,
            "symbol": "bch_btc",
            "order_id": "-1",
        },
    }
    # the same layout as the documentation's requests
    assert list(userinfo["parameters"]) == list(doc_request("userinfo-request.txt")["parameters"])
    assert list(orderinfo["parameters"]) == list(doc_request("orderinfo-request.txt")["parameters"])


def test_login_failure_stops_the_connection_from_sending() -> None:
    adapter = OkexV1Adapter([TICKER], CREDENTIALS)
    adapter.connection_made(NOW_S)
    adapter.data_to_send()
    assert adapter.receive(fixture("login-error-10005.json")) == [
        LoginResult(ok=False, code="10005", message="api_key or sign invalid")
    ]
    assert adapter.data_to_send() == []
    assert not adapter.all_subscribed
    # a late OK does not resurrect it
    adapter.receive(fixture("login-response.json"))
    assert adapter.data_to_send() == []


def test_login_error_without_a_channel_answers_a_pending_login() -> None:
    adapter = OkexV1Adapter([TICKER], CREDENTIALS)
    adapter.connection_made(NOW_S)
    error = '[{"binary":0,"data":{"result":false,"error_code":10005}}]'
    assert adapter.receive(error) == [LoginResult(ok=False, code="10005", message="")]
    # without a pending login, the same frame is a connection-level error
    assert connected(TICKER).receive(error) == [ExchangeError(code="10005", message="")]


def test_empty_api_key_means_no_login() -> None:
    adapter = OkexV1Adapter([TICKER], Credentials())
    adapter.connection_made(NOW_S)
    assert sent(adapter) == [doc_request("ticker-request.txt")]


def test_requests_without_credentials_go_unsigned() -> None:
    adapter = OkexV1Adapter([USERINFO])
    adapter.connection_made(NOW_S)
    assert sent(adapter) == [{"event": "addChannel", "channel": "ok_spot_userinfo"}]


def test_credentials_do_not_show_in_repr() -> None:
    assert SECRET not in repr(OkexV1Adapter([], CREDENTIALS).credentials)


def test_scheduled_requests_repeat_on_the_receive_clock() -> None:
    adapter = OkexV1Adapter([TICKER, {**USERINFO, "interval_seconds": 60}], CREDENTIALS)
    adapter.connection_made(NOW_S)
    adapter.data_to_send()
    t0 = 1_700_000_000_000_000
    adapter.receive(fixture("login-response.json"), t0)
    [batch] = sent(adapter)
    assert [r["channel"] for r in batch] == ["ok_sub_spot_bch_btc_ticker", "ok_spot_userinfo"]
    adapter.receive(fixture("pong.json"), t0 + 59_000_000)
    assert sent(adapter) == []
    adapter.receive(fixture("pong.json"), t0 + 60_000_000)
    assert [r["channel"] for r in sent(adapter)] == ["ok_spot_userinfo"]
    adapter.receive(fixture("pong.json"), t0 + 61_000_000)
    assert sent(adapter) == []
    adapter.receive(fixture("pong.json"), t0 + 125_000_000)  # late: once, not twice
    assert len(sent(adapter)) == 1
    # a frame without a receive time moves nothing
    adapter.receive(fixture("pong.json"))
    assert sent(adapter) == []


def test_unscheduled_requests_go_once_per_connection() -> None:
    adapter = connected(USERINFO)
    adapter.receive(fixture("pong.json"), 10**18)
    assert adapter.data_to_send() == []
    adapter.connection_made(NOW_S)
    assert len(adapter.data_to_send()) == 1


def test_configured_channels_go_in_one_batch_each_once() -> None:
    adapter = OkexV1Adapter([TICKER, DEPTH, DEALS, TICKER])  # TICKER twice: sent once
    adapter.connection_made(NOW_S)
    assert sent(adapter) == [
        [
            {"event": "addChannel", "channel": "ok_sub_spot_bch_btc_ticker"},
            {"event": "addChannel", "channel": "ok_sub_spot_bch_btc_depth"},
            {"event": "addChannel", "channel": "ok_sub_spot_bch_btc_deals"},
        ]
    ]
    adapter.receive(fixture("add-channel-ack.json"))
    assert not adapter.all_subscribed
    for kind in ("depth", "deals"):
        adapter.receive(fixture("add-channel-ack.json").replace("ticker", kind))
    assert adapter.all_subscribed
    # the server removes a configured channel (the bridge never asks for that)
    adapter.receive(fixture("remove-channel-ack.json"))
    assert sent(adapter) == []
    assert not adapter.all_subscribed


# --- inbound: acks, errors, login, heartbeat -----------------------------------------------------

COMPRESSED = pytest.mark.parametrize("compressed", [False, True], ids=["text", "deflate"])


@COMPRESSED
def test_add_and_remove_channel_acks(compressed: bool) -> None:
    adapter = connected(TICKER, DEPTH)
    events = adapter.receive(frame("add-channel-ack.json", compressed))
    assert events == [Subscribed(destination=TICKER_DEST, op="subscribe")]
    assert not adapter.all_subscribed
    adapter.receive(
        '[{"binary":0,"channel":"addChannel","data":{"result":true,'
        '"channel":"ok_sub_spot_bch_btc_depth"}}]'
    )
    assert adapter.all_subscribed
    events = adapter.receive(frame("remove-channel-ack.json", compressed))
    assert events == [Subscribed(destination=TICKER_DEST, op="unsubscribe")]
    assert not adapter.all_subscribed


@COMPRESSED
def test_bad_channel_is_an_ack_error_on_its_destination(compressed: bool) -> None:
    channel = "ok_sub_spot_xyz_btc_ticker"
    adapter = connected({"channel": channel}, TICKER)
    events = adapter.receive(frame("bad-channel-error.json", compressed))
    assert events == [
        SubscribeFailed(
            destination=dest(channel, "ticker", "spot-ticker", key="xyz_btc", symbol="xyz_btc"),
            op="subscribe",
            code="20116",
            message="param not match.",
        )
    ]
    adapter.receive(fixture("add-channel-ack.json"))  # the other subscription continues
    assert not adapter.all_subscribed


@COMPRESSED
def test_error_naming_no_known_channel_is_an_exchange_error(compressed: bool) -> None:
    adapter = connected(TICKER)
    assert adapter.receive(frame("bad-channel-error-template.json", compressed)) == [
        ExchangeError(code="20116", message="param not match.", request_id="<channel>")
    ]
    assert adapter.receive(frame("error-20107.json", compressed)) == [
        ExchangeError(code="20107", message="JSON format error")
    ]


@COMPRESSED
def test_return_data_format_example(compressed: bool) -> None:
    """The documentation's template: a channel named "channel" (unknown) with no error, and
    one with errorcode 1 beside data."""
    events = connected(TICKER).receive(frame("response-data-format.json", compressed))
    assert events == [
        Unrecognized(reason="[0] unknown channel 'channel'"),
        ExchangeError(code="1", message="", request_id="channel"),
    ]


@COMPRESSED
def test_pong(compressed: bool) -> None:
    assert connected().receive(frame("pong.json", compressed)) == [Pong()]


@COMPRESSED
def test_login_response(compressed: bool) -> None:
    adapter = OkexV1Adapter([TICKER], CREDENTIALS)
    adapter.connection_made(NOW_S)
    adapter.data_to_send()
    assert adapter.receive(frame("login-response.json", compressed)) == [LoginResult(ok=True)]
    assert sent(adapter) == [doc_request("ticker-request.txt")]


def test_ack_error_inside_an_add_channel_answer() -> None:
    adapter = connected(TICKER)
    events = adapter.receive(
        '[{"channel":"addChannel","data":{"result":false,"channel":"ok_sub_spot_bch_btc_ticker",'
        '"error_code":20116,"error_msg":"param not match."}}]'
    )
    assert events == [
        SubscribeFailed(
            destination=TICKER_DEST, op="subscribe", code="20116", message="param not match."
        )
    ]


def test_private_channel_error_is_an_ack_error() -> None:
    events = connected(ORDERS).receive(
        '[{"binary":0,"channel":"ok_sub_spot_bch_btc_order",'
        '"data":{"result":false,"error_msg":"websocket authorization error","error_code":10017}}]'
    )
    assert events == [
        SubscribeFailed(
            destination=ORDERS_DEST,
            op="subscribe",
            code="10017",
            message="websocket authorization error",
        )
    ]


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


# --- malformed input -----------------------------------------------------------------------------


def deflate_bytes(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


T = "ok_sub_spot_bch_btc_ticker"


@pytest.mark.parametrize(
    ("data", "mentions"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("{not json", "not JSON"),
        ("[1,", "not JSON"),
        ('{"event":"pong"', "not JSON"),
        ("[NaN]", "not JSON"),
        ("[" * 100_000 + "]" * 100_000, "not JSON"),
        ("42", "not an array"),
        ('"text"', "not an array"),
        ("[]", "empty array"),
        ("[1]", "JSON number"),
        ("[[]]", "JSON array"),
        ('{"hello":"world"}', "neither"),
        ('{"event":"ping"}', "unknown event"),
        ('[{"data":{}}]', "no channel"),
        ('[{"channel":"ok_sub_spot_bch_btc_trades","data":{}}]', "unknown channel"),
        ('[{"channel":"addChannel","data":{"result":true}}]', "not a known channel"),
        ('[{"channel":"addChannel","data":{"result":true,"channel":"x"}}]', "not a known"),
        (f'[{{"channel":"{T}","data":[]}}]', "not an object"),
        (f'[{{"channel":"{T}"}}]', "not an object"),
        (f'[{{"channel":"{T}","data":{{"timestamp":"soon"}}}}]', "timestamp"),
        (f'[{{"channel":"{T}","data":{{"timestamp":-1}}}}]', "timestamp"),
        (f'[{{"channel":"{T}","data":{{"timestamp":1.5}}}}]', "timestamp"),
        (f'[{{"channel":"{T}","data":{{"timestamp":99999999999999999999}}}}]', "range"),
        (f'[{{"channel":"{T}","data":{{"last":["1"]}}}}]', "last"),
        (f'[{{"channel":"{T}","data":{{"last":true}}}}]', "last"),
        ('[{"channel":"ok_sub_spot_bch_btc_depth","data":{"asks":{}}}]', "asks"),
        ('[{"channel":"ok_sub_spot_bch_btc_depth","data":{"asks":[["1"]]}}]', "columns"),
        ('[{"channel":"ok_sub_spot_bch_btc_depth","data":{"bids":[[["1"],"2"]]}}]', "price"),
        ('[{"channel":"ok_sub_spot_bch_btc_depth","data":{"bids":[[null,"2"]]}}]', "price"),
        ('[{"channel":"ok_sub_spot_bch_btc_depth","data":{"bids":["1,2"]}}]', "array"),
        ('[{"channel":"ok_sub_spot_bch_btc_deals","data":{}}]', "not an array"),
        ('[{"channel":"ok_sub_spot_bch_btc_deals","data":[["1","2","3","4"]]}]', "columns"),
        ('[{"channel":"ok_sub_spot_bch_btc_deals","data":[["1","2","3","9am","ask"]]}]', "9am"),
        ('[{"channel":"ok_sub_spot_bch_btc_deals","data":[["1","2","3",{},"ask"]]}]', "time"),
        (
            '[{"channel":"ok_sub_spot_bch_btc_kline_1min","data":[["x","1","1","1","1","1"]]}]',
            "time",
        ),
        (
            '[{"channel":"ok_sub_spot_bch_btc_kline_1min","data":[["","1","1","1","1","1"]]}]',
            "time",
        ),
        ('[{"channel":"ok_sub_spot_bch_btc_kline_1min","data":[[1,2]]}]', "columns"),
        ('[{"channel":"ok_sub_spot_bch_btc_order","data":{"createdDate":"today"}}]', "created"),
        ('[{"channel":"ok_sub_spot_bch_btc_order","base":{},"data":{}}]', "base"),
        ('[{"channel":"ok_sub_spot_bch_btc_balance","data":{"info":[]}}]', "info"),
        ('[{"channel":"ok_sub_spot_bch_btc_balance","data":{"info":{"free":[]}}}]', "free"),
        ('[{"channel":"ok_sub_spot_bch_btc_balance","data":{"info":{"free":{"b":{}}}}}]', "free"),
        ('[{"channel":"ok_spot_userinfo","data":{"result":"maybe"}}]', "result"),
        ('[{"channel":"ok_spot_userinfo","data":{"info":{"funds":3}}}]', "funds"),
        ('[{"channel":"ok_spot_orderinfo","data":{"orders":{}}}]', "orders"),
        ('[{"channel":"ok_spot_orderinfo","data":{"orders":[5]}}]', "orders[0]"),
        ('[{"channel":"ok_spot_order","data":{"order_id":[1]}}]', "order_id"),
        (b"\x00\x01binary-garbage", "raw deflate"),
        (deflate_bytes(b"\xff\xfe not utf-8"), "UTF-8"),
        (deflate_bytes(b"{not json"), "not JSON"),
        (deflate_bytes(b""), "empty"),
        (zlib.compress(b'{"event":"pong"}'), "raw deflate"),  # a zlib header is not raw deflate
    ],
)
def test_malformed_frames_are_unrecognized(data: str | bytes, mentions: str) -> None:
    adapter = connected(TICKER, DEPTH, DEALS, KLINE, ORDERS, BALANCE, USERINFO, ORDERINFO)
    events = adapter.receive(data, RECEIVED_US)
    assert len(events) == 1 and isinstance(events[0], Unrecognized), events
    assert mentions in events[0].reason


def test_a_deflate_bomb_is_refused() -> None:
    bomb = deflate_bytes(b" " * (17 * 1024 * 1024))
    assert len(bomb) < 100_000
    [event] = connected().receive(bomb)
    assert isinstance(event, Unrecognized) and "more than" in event.reason
    with pytest.raises(ValueError):
        inflate(bomb)


def test_a_sync_flushed_stream_inflates() -> None:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    data = compressor.compress(b'{"event":"pong"}') + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert connected().receive(data) == [Pong()]


def test_receive_never_raises_on_random_input() -> None:
    rng = random.Random(7)
    adapter = connected(*EVERYTHING)
    pieces = ['{"channel":"ok_sub_spot_bch_btc_', "depth", "deals", '"data":', "[", "]", "{", "}"]
    for _ in range(2000):
        if rng.random() < 0.5:
            data: str | bytes = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        else:
            data = bytes(rng.randrange(256) for _ in range(rng.randint(0, 40)))
        for event in adapter.receive(data, RECEIVED_US):
            assert isinstance(event, Event)


def test_an_adapter_bug_becomes_unrecognized(monkeypatch: pytest.MonkeyPatch) -> None:
    adapter = connected(TICKER)

    def boom(*args: object) -> list[Event]:
        raise RuntimeError("bug")

    monkeypatch.setattr(adapter, "classify", boom)
    assert adapter.receive(fixture("ticker-push.json")) == [
        Unrecognized(reason="adapter error: RuntimeError: bug")
    ]
