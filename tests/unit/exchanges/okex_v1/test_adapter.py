"""OKEx v1 adapter: requests, login, acks and errors and malformed input; every example of the
seed document, as text and as raw deflate, fed to the adapter directly (no event loop, no
network).

Example messages live in ``tests/fixtures/okex_v1/`` (see its README for where each comes
from). The documentation writes requests in a lenient single-quoted form; those are read here
with ``ast.literal_eval`` (they are Python literals), independently of the simulator's parser.
"""

from __future__ import annotations

import ast
import json
import random
import zlib

import pytest

from bridge.exchanges import adapter_class
from bridge.exchanges.base import Credentials
from bridge.exchanges.events import (
    Event,
    ExchangeError,
    LoginResult,
    Pong,
    Subscribed,
    SubscribeFailed,
    Unrecognized,
)
from bridge.exchanges.okex_v1 import (
    OkexV1Adapter,
    inflate,
)
from tests.unit.exchanges.okex_v1.helpers import (
    API_KEY,
    BALANCE,
    COMPRESSED,
    CREDENTIALS,
    DEALS,
    DEPTH,
    DEPTH5,
    EVERYTHING,
    KLINE,
    LOGIN_SIGN,
    MARKET,
    NOW_S,
    ORDERINFO,
    ORDERINFO_SIGN,
    ORDERS,
    ORDERS_DEST,
    RECEIVED_US,
    SECRET,
    TICKER,
    TICKER_DEST,
    USERINFO,
    connected,
    dest,
    doc_request,
    fixture,
    frame,
    sent,
)

# --- class, registry, purity ---------------------------------------------------------------------


def test_class_attributes() -> None:
    assert OkexV1Adapter.exchange == "okex_v1"
    assert OkexV1Adapter.topic_group == "okex"
    # documented heartbeat: 30 s; ping earlier so a server idle close at 30 s never comes
    assert OkexV1Adapter.keepalive_seconds == 25.0


def test_registry_loads_the_adapter() -> None:
    assert adapter_class("okex_v1") is OkexV1Adapter


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


def test_scheduled_requests_repeat_on_the_session_tick_when_the_line_is_quiet() -> None:
    adapter = OkexV1Adapter([TICKER, {**USERINFO, "interval_seconds": 2}], CREDENTIALS)
    adapter.connection_made(NOW_S)
    adapter.data_to_send()  # the login
    adapter.tick(NOW_S)
    assert sent(adapter) == []  # nothing before the login is answered
    adapter.receive(fixture("login-response.json"))  # no receive time: the tick tells it
    sent(adapter)
    adapter.tick(NOW_S + 1)
    assert sent(adapter) == []
    adapter.tick(NOW_S + 3)
    assert [r["channel"] for r in sent(adapter)] == ["ok_spot_userinfo"]
    adapter.tick(NOW_S + 4)
    assert sent(adapter) == []
    adapter.tick(NOW_S + 5)
    assert [r["channel"] for r in sent(adapter)] == ["ok_spot_userinfo"]


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
