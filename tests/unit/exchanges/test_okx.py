"""OKX v5 adapter: every documented message, fed as text, no event loop and no network.

Example messages live in ``tests/fixtures/okx/`` (see its README for where each comes from).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
from typing import Any

import pytest

from bridge.exchanges import adapter_class
from bridge.exchanges.base import Credentials
from bridge.exchanges.events import (
    ChannelConnCount,
    Destination,
    Event,
    ExchangeError,
    LoginResult,
    Notice,
    Pong,
    Push,
    Subscribed,
    SubscribeFailed,
    Unrecognized,
)
from bridge.exchanges.okx import MAX_ARGS_BYTES, OkxAdapter, destination_for, login_sign
from tests.fixtures import FIXTURES_DIR, load_fixture
from tests.unit.exchanges.schema_helpers import PayloadSchemas

STATUS = {"channel": "status"}
CALENDAR = {"channel": "economic-calendar"}
TICKERS = {"channel": "tickers", "instId": "BTC-USDT"}
BOOKS = {"channel": "books", "instId": "BTC-USDT"}

CREDENTIALS = Credentials(api_key="key", secret_key="secret", passphrase="pass")
LOGIN_TIME = 1538054050.75  # the documentation's timestamp, plus a fraction to be dropped


# --- helpers -------------------------------------------------------------------------------------


def fixture(name: str) -> str:
    return load_fixture("okx", name)


def fixture_json(name: str) -> Any:
    return json.loads(fixture(name))


def make_adapter(
    *subscriptions: dict[str, Any],
    credentials: Credentials | None = None,
    first_request_id: int = 1512,
) -> OkxAdapter:
    return OkxAdapter(
        list(subscriptions), credentials=credentials, first_request_id=first_request_id
    )


def sent(adapter: OkxAdapter) -> list[Any]:
    """Frames queued since the last call, parsed."""
    return [json.loads(frame) for frame in adapter.data_to_send()]


def connect(adapter: OkxAdapter, now_s: float = LOGIN_TIME) -> list[Any]:
    adapter.connection_made(now_s)
    return sent(adapter)


def connected(*subscriptions: dict[str, Any], first_request_id: int = 1512) -> OkxAdapter:
    adapter = make_adapter(*subscriptions, first_request_id=first_request_id)
    connect(adapter)
    return adapter


def logged_in(*subscriptions: dict[str, Any]) -> OkxAdapter:
    adapter = make_adapter(*subscriptions, credentials=CREDENTIALS)
    connect(adapter)
    adapter.receive(fixture("login-ok.json"))
    sent(adapter)
    return adapter


def dest(arg: dict[str, str], schema: str = "okx/channel", key: str | None = None) -> Destination:
    channel = arg["channel"]
    return Destination(
        topic=f"okx.{channel}", schema=schema, key=key or channel, channel=channel, arg=arg
    )


STATUS_DEST = dest(STATUS, "okx/status")
CALENDAR_DEST = dest(CALENDAR, "okx/economic-calendar")
TICKERS_DEST = dest(TICKERS, key="BTC-USDT")
BOOKS_DEST = dest(BOOKS, key="BTC-USDT")


SCHEMAS = PayloadSchemas(
    "okx",
    {
        "exchange_bridge.okx.Status": "status.v1.avsc",
        "exchange_bridge.okx.EconomicCalendar": "economic-calendar.v2.avsc",
        "exchange_bridge.okx.ChannelData": "channel.v1.avsc",
    },
)


assert_valid = SCHEMAS.assert_valid
pushes = SCHEMAS.pushes


def only(events: list[Event]) -> Event:
    assert len(events) == 1, events
    return events[0]


# --- class, registry, purity ---------------------------------------------------------------------


def test_class_attributes() -> None:
    assert OkxAdapter.exchange == "okx"
    assert OkxAdapter.topic_group == "okx"
    # OKX closes after 30 s without traffic; the keepalive must fire well before.
    assert OkxAdapter.keepalive_seconds == 20.0


def test_registry_loads_the_adapter() -> None:
    assert adapter_class("okx") is OkxAdapter


# --- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subscription",
    [
        STATUS,
        CALENDAR,
        TICKERS,
        {"channel": "candle1m", "instId": "BTC-USDT"},
        {"channel": "books5", "instId": "BTC-USDT", "extra": 5},
    ],
)
def test_validate_subscription_accepts(subscription: dict[str, Any]) -> None:
    OkxAdapter.validate_subscription(subscription)


@pytest.mark.parametrize(
    ("subscription", "mentions"),
    [
        ({}, "channel"),
        ({"instId": "BTC-USDT"}, "channel"),
        ({"channel": ""}, "channel"),
        ({"channel": 5}, "channel"),
        ({"channel": None}, "channel"),
        ({"channel": "tickers", "instId": None}, "instId"),
        ({"channel": "tickers", "instId": 1.5}, "instId"),
        ({"channel": "tickers", "instId": ["BTC-USDT"]}, "instId"),
        ({"channel": "tickers", "instId": {"a": "b"}}, "instId"),
        ({"channel": "tickers", "flag": True}, "flag"),
        ({"channel": "tickers", 5: "x"}, "5"),
        ({"channel": "tickers", "instId": "X" * MAX_ARGS_BYTES}, "64 KB"),
    ],
)
def test_validate_subscription_rejects(subscription: dict[Any, Any], mentions: str) -> None:
    with pytest.raises(ValueError, match=mentions):
        OkxAdapter.validate_subscription(subscription)
    with pytest.raises(ValueError, match=mentions):
        OkxAdapter([subscription])


def test_validate_subscription_rejects_non_mapping() -> None:
    with pytest.raises(ValueError, match="mapping"):
        OkxAdapter.validate_subscription("status")  # type: ignore[arg-type]


def test_destinations_in_configuration_order_without_duplicates() -> None:
    subscriptions = [STATUS, CALENDAR, TICKERS, dict(STATUS)]
    assert OkxAdapter.destinations(subscriptions) == [STATUS_DEST, CALENDAR_DEST, TICKERS_DEST]


def test_integer_values_become_strings() -> None:
    subscription = {"channel": "books", "instId": "BTC-USDT", "sz": 5}
    adapter = connected(subscription)
    (destination,) = OkxAdapter.destinations([subscription])
    assert destination.arg == {"channel": "books", "instId": "BTC-USDT", "sz": "5"}
    (request,) = sent_after(adapter)
    assert request["args"] == [{"channel": "books", "instId": "BTC-USDT", "sz": "5"}]


def sent_after(adapter: OkxAdapter) -> list[Any]:
    adapter.connection_made(LOGIN_TIME)
    return sent(adapter)


@pytest.mark.parametrize(
    ("arg", "key"),
    [
        ({"channel": "tickers", "instId": "BTC-USDT"}, "BTC-USDT"),
        ({"channel": "opt-summary", "instFamily": "BTC-USD"}, "BTC-USD"),
        ({"channel": "estimated-price", "instType": "FUTURES", "uly": "BTC-USD"}, "BTC-USD"),
        ({"channel": "instruments", "instType": "SPOT"}, "SPOT"),
        ({"channel": "account", "ccy": "BTC"}, "BTC"),
        ({"channel": "tickers", "instId": "", "instType": "SPOT"}, "SPOT"),
        ({"channel": "status"}, "status"),
        ({"channel": "some-future-channel", "whatever": "x"}, "some-future-channel"),
    ],
)
def test_destination_key(arg: dict[str, str], key: str) -> None:
    destination = destination_for(arg)
    assert destination.key == key
    assert destination.topic == f"okx.{arg['channel']}"
    assert destination.channel == arg["channel"]
    assert destination.arg == arg


@pytest.mark.parametrize(
    ("channel", "schema"),
    [
        ("status", "okx/status"),
        ("economic-calendar", "okx/economic-calendar"),
        ("tickers", "okx/channel"),
        ("books", "okx/channel"),
        ("candle1m", "okx/channel"),
        ("never-heard-of-it", "okx/channel"),
    ],
)
def test_destination_schema(channel: str, schema: str) -> None:
    assert destination_for({"channel": channel}).schema == schema


# --- outbound: subscribe -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["status-subscribe-request.json", "status-subscribe-request.zh.json"]
)
def test_subscribe_request_is_the_status_seed_example(name: str) -> None:
    adapter = make_adapter(STATUS)
    assert connect(adapter) == [fixture_json(name)]


def test_subscribe_request_is_the_protocol_notes_example_byte_for_byte() -> None:
    adapter = make_adapter(TICKERS)
    adapter.connection_made(LOGIN_TIME)
    assert adapter.data_to_send() == [fixture("tickers-subscribe-request.json")]


def test_request_ids_count_per_connection_from_one_by_default() -> None:
    args = [{"channel": "books", "instId": f"INSTRUMENT-{i:05d}-USDT-SWAP"} for i in range(2000)]
    adapter = OkxAdapter(args)
    requests = connect(adapter)
    assert len(requests) > 1
    assert [r["id"] for r in requests] == [str(1 + i) for i in range(len(requests))]
    # a new connection starts counting again and forgets what the old one had queued
    adapter.connection_made(LOGIN_TIME)
    assert connect(adapter) == requests


def test_all_configured_args_go_in_one_request() -> None:
    adapter = make_adapter(STATUS, TICKERS, BOOKS)
    assert connect(adapter) == [{"id": "1512", "op": "subscribe", "args": [STATUS, TICKERS, BOOKS]}]


def test_nothing_configured_sends_nothing_and_counts_as_subscribed() -> None:
    adapter = make_adapter()
    assert not adapter.all_subscribed  # not connected yet
    assert connect(adapter) == []
    assert adapter.all_subscribed


def test_nothing_is_sent_before_connection_made() -> None:
    adapter = make_adapter(STATUS, TICKERS)
    adapter.receive(fixture("status-subscribe-ok.json"))
    adapter.receive(fixture("tickers-subscribe-ok.json"))
    adapter.receive(fixture("tickers-unsubscribe-ok.json"))
    assert adapter.data_to_send() == []
    assert not adapter.all_subscribed


def test_ping_is_the_text_ping() -> None:
    assert make_adapter().ping() == fixture("ping.txt") == "ping"


def test_batching_keeps_every_request_under_64_kb_with_2000_args() -> None:
    args = [
        {"channel": "books", "instId": f"INSTRUMENT-{i:05d}-USDT-SWAP", "instType": "SWAP"}
        for i in range(2000)
    ]
    adapter = make_adapter(*args)
    requests = connect(adapter)

    assert len(requests) > 1
    sizes = [len(json.dumps(r["args"], separators=(",", ":")).encode()) for r in requests]
    assert all(size < MAX_ARGS_BYTES for size in sizes)
    assert [arg for r in requests for arg in r["args"]] == args  # each once, in order
    assert [r["id"] for r in requests] == [str(1512 + i) for i in range(len(requests))]
    assert all(r["op"] == "subscribe" for r in requests)
    # as few requests as possible: no request could have taken the next one's first arg
    for size, following in zip(sizes, requests[1:], strict=False):
        first = len(json.dumps(following["args"][0], separators=(",", ":")).encode())
        assert size + 1 + first >= MAX_ARGS_BYTES

    # acks and errors are attributed to the right request
    second = requests[1]
    error = {"id": second["id"], "event": "error", "code": "60014", "msg": "Requests too frequent"}
    failed = adapter.receive(json.dumps(error))
    assert [e.destination.arg for e in failed if isinstance(e, SubscribeFailed)] == second["args"]
    assert len(failed) == len(second["args"])


# --- outbound: login -----------------------------------------------------------------------------


def test_login_sign_known_vector() -> None:
    by_hand = base64.b64encode(
        hmac.new(b"secret", b"1538054050GET/users/self/verify", hashlib.sha256).digest()
    ).decode()
    assert login_sign("secret", "1538054050") == by_hand
    assert by_hand == "Gj2hQIVKFcXbiwCak8SmVOu5mxPCizWDdmUAhbx8Z+s="


def test_login_frame_has_the_documented_shape() -> None:
    adapter = make_adapter(CALENDAR, credentials=CREDENTIALS)
    (login,) = connect(adapter, now_s=LOGIN_TIME)
    assert login == {
        "op": "login",
        "args": [
            {
                "apiKey": "key",
                "passphrase": "pass",
                "timestamp": "1538054050",
                "sign": "Gj2hQIVKFcXbiwCak8SmVOu5mxPCizWDdmUAhbx8Z+s=",
            }
        ],
    }
    documented = fixture_json("login-request.json")
    assert list(login) == list(documented)
    assert list(login["args"][0]) == list(documented["args"][0])
    assert login["args"][0]["timestamp"] == documented["args"][0]["timestamp"]


def test_subscribe_waits_for_login_then_matches_the_calendar_seed() -> None:
    adapter = make_adapter(CALENDAR, TICKERS, credentials=CREDENTIALS)
    connect(adapter)  # the login only: subscriptions wait for its answer
    assert sent(adapter) == []
    assert not adapter.all_subscribed

    events = adapter.receive(fixture("login-ok.json"))
    assert events == [LoginResult(ok=True, code="0", message="", exchange_conn_id="…")]
    (request,) = sent(adapter)
    seed = fixture_json("economic-calendar-subscribe-request.json")
    assert request == {**seed, "args": [CALENDAR, TICKERS]}

    only_calendar = make_adapter(CALENDAR, credentials=CREDENTIALS)
    connect(only_calendar)
    only_calendar.receive(fixture("login-ok.json"))
    assert sent(only_calendar) == [seed]


def test_empty_api_key_means_no_login() -> None:
    adapter = make_adapter(STATUS, credentials=Credentials())
    assert connect(adapter) == [fixture_json("status-subscribe-request.json")]


def test_credentials_do_not_show_in_repr() -> None:
    assert "secret" not in repr(make_adapter(credentials=CREDENTIALS).credentials)


LOGIN_ERRORS = [
    ("login-error-60009.json", "60009", "Login failed.", "…"),
    ("error-60005.json", "60005", "Invalid apiKey", "a4d3ae55"),
    ("error-60006.json", "60006", "Timestamp request expired", "a4d3ae55"),
    ("error-60007.json", "60007", "Invalid sign", "a4d3ae55"),
    ("error-60024.json", "60024", "Wrong passphrase", "a4d3ae55"),
    (
        "error-60031.json",
        "60031",
        "The WebSocket endpoint does not allow multiple or repeated logins.",
        "a4d3ae55",
    ),
]


@pytest.mark.parametrize(("name", "code", "message", "conn_id"), LOGIN_ERRORS)
def test_login_failure(name: str, code: str, message: str, conn_id: str) -> None:
    adapter = make_adapter(CALENDAR, credentials=CREDENTIALS)
    connect(adapter)
    events = adapter.receive(fixture(name))
    assert events == [LoginResult(ok=False, code=code, message=message, exchange_conn_id=conn_id)]
    assert sent(adapter) == []
    assert not adapter.all_subscribed
    # the login is answered: a later error is not a login result
    assert adapter.receive(fixture(name)) == [
        ExchangeError(code=code, message=message, request_id=None, exchange_conn_id=conn_id)
    ]
    # a late login OK does not resurrect the connection
    adapter.receive(fixture("login-ok.json"))
    assert sent(adapter) == []


@pytest.mark.parametrize(("name", "code", "message", "conn_id"), LOGIN_ERRORS)
def test_login_codes_without_a_pending_login_are_exchange_errors(
    name: str, code: str, message: str, conn_id: str
) -> None:
    for adapter in (connected(STATUS), logged_in(CALENDAR)):
        assert adapter.receive(fixture(name)) == [
            ExchangeError(code=code, message=message, request_id=None, exchange_conn_id=conn_id)
        ]


def test_non_login_error_while_login_pending_is_an_exchange_error() -> None:
    adapter = make_adapter(CALENDAR, credentials=CREDENTIALS)
    connect(adapter)
    events = adapter.receive('{"event":"error","code":"64003","msg":"fee tier"}')
    assert events == [ExchangeError(code="64003", message="fee tier")]
    adapter.receive(fixture("login-ok.json"))  # still waiting for the login answer
    assert len(sent(adapter)) == 1


# --- inbound: acks and errors ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["status-subscribe-ok.json", "status-subscribe-ok.zh.json"])
def test_status_subscribe_ack(name: str) -> None:
    adapter = connected(STATUS)
    assert not adapter.all_subscribed
    events = adapter.receive(fixture(name))
    assert events == [
        Subscribed(
            destination=STATUS_DEST, op="subscribe", request_id="1512", exchange_conn_id="a4d3ae55"
        )
    ]
    assert adapter.all_subscribed


def test_calendar_subscribe_ack() -> None:
    adapter = logged_in(CALENDAR)
    events = adapter.receive(fixture("economic-calendar-subscribe-ok.json"))
    assert events == [
        Subscribed(
            destination=CALENDAR_DEST,
            op="subscribe",
            request_id="1512",
            exchange_conn_id="a4d3ae55",
        )
    ]
    assert adapter.all_subscribed


def test_tickers_subscribe_ack() -> None:
    adapter = connected(TICKERS)
    events = adapter.receive(fixture("tickers-subscribe-ok.json"))
    assert events == [
        Subscribed(
            destination=TICKERS_DEST, op="subscribe", request_id="1512", exchange_conn_id="…"
        )
    ]
    assert adapter.all_subscribed


@pytest.mark.parametrize(
    ("name", "arg", "destination"),
    [
        ("status-subscribe-error.json", STATUS, STATUS_DEST),
        ("status-subscribe-error.zh.json", STATUS, STATUS_DEST),
        ("economic-calendar-subscribe-error.json", CALENDAR, CALENDAR_DEST),
    ],
)
def test_seed_subscribe_failure(name: str, arg: dict[str, str], destination: Destination) -> None:
    documented = fixture_json(name)
    adapter = connected(arg)
    events = adapter.receive(fixture(name))
    assert events == [
        SubscribeFailed(
            destination=destination,
            op="subscribe",
            code="60012",
            message=documented["msg"],
            request_id="1512",
            exchange_conn_id="a4d3ae55",
        )
    ]
    assert events[0].message.startswith('Invalid request: {"op": "subscribe", "argss":')  # type: ignore[attr-defined]
    assert not adapter.all_subscribed
    # the request is settled: the same error again names no pending request
    assert adapter.receive(fixture(name)) == [
        ExchangeError(
            code="60012", message=documented["msg"], request_id="1512", exchange_conn_id="a4d3ae55"
        )
    ]


SUBSCRIBE_ERRORS = [
    "error-60011.json",
    "error-60013.json",
    "error-60014.json",
    "error-60018.json",
    "error-60019.json",
    "error-64001.json",
    "error-64003.json",
]


@pytest.mark.parametrize("name", SUBSCRIBE_ERRORS)
def test_subscribe_errors_fail_each_arg_of_the_request(name: str) -> None:
    documented = fixture_json(name)
    adapter = connected(TICKERS, BOOKS)
    events = adapter.receive(fixture(name))
    assert events == [
        SubscribeFailed(
            destination=destination,
            op="subscribe",
            code=documented["code"],
            message=documented["msg"],
            request_id="1512",
            exchange_conn_id="a4d3ae55",
        )
        for destination in (TICKERS_DEST, BOOKS_DEST)
    ]
    assert not adapter.all_subscribed


@pytest.mark.parametrize("name", SUBSCRIBE_ERRORS)
def test_errors_naming_no_pending_request_are_exchange_errors(name: str) -> None:
    documented = fixture_json(name)
    adapter = connected(TICKERS, first_request_id=1)  # its request is "1", not "1512"
    assert adapter.receive(fixture(name)) == [
        ExchangeError(
            code=documented["code"],
            message=documented["msg"],
            request_id="1512",
            exchange_conn_id="a4d3ae55",
        )
    ]


def test_error_without_id_is_an_exchange_error() -> None:
    adapter = connected(TICKERS)
    assert adapter.receive(fixture("error-60012.json")) == [
        ExchangeError(
            code="60012",
            message="Illegal request: hello",
            request_id=None,
            exchange_conn_id="a4d3ae55",
        )
    ]


def test_error_names_the_request_it_answers() -> None:
    adapter = make_adapter(STATUS, credentials=CREDENTIALS)
    connect(adapter)
    adapter.receive(fixture("login-ok.json"))
    (request,) = sent(adapter)
    assert request == {"id": "1512", "op": "subscribe", "args": [STATUS]}
    events = adapter.receive('{"event":"error","id":"1512","code":"60013","msg":"Invalid args"}')
    assert events == [
        SubscribeFailed(
            destination=STATUS_DEST,
            op="subscribe",
            code="60013",
            message="Invalid args",
            request_id="1512",
        )
    ]


def test_error_after_partial_acks_fails_only_the_unacked_args() -> None:
    adapter = connected(TICKERS, BOOKS)
    adapter.receive(fixture("tickers-subscribe-ok.json"))
    events = adapter.receive(fixture("error-60014.json"))
    assert [e.destination for e in events if isinstance(e, SubscribeFailed)] == [BOOKS_DEST]


def test_all_subscribed_transitions() -> None:
    adapter = connected(STATUS, TICKERS)
    assert not adapter.all_subscribed
    adapter.receive(fixture("status-subscribe-ok.json"))
    assert not adapter.all_subscribed
    adapter.receive(fixture("tickers-subscribe-ok.json"))
    assert adapter.all_subscribed
    # a duplicate ack changes nothing
    adapter.receive(fixture("tickers-subscribe-ok.json"))
    assert adapter.all_subscribed

    # the server says a configured arg is unsubscribed (the bridge never asks for that)
    events = adapter.receive(fixture("tickers-unsubscribe-ok.json"))
    assert events == [
        Subscribed(
            destination=TICKERS_DEST, op="unsubscribe", request_id="1513", exchange_conn_id="…"
        )
    ]
    assert not adapter.all_subscribed
    assert sent(adapter) == []
    assert adapter.subscriptions == [STATUS, TICKERS]  # still configured

    adapter.receive(fixture("tickers-subscribe-ok.json"))
    assert adapter.all_subscribed

    # a new connection starts with nothing acknowledged
    connect(adapter)
    assert not adapter.all_subscribed


def test_every_configured_arg_is_a_destination_acknowledged_on_its_own() -> None:
    adapter = make_adapter(STATUS, {"channel": "books", "instId": "BTC-USDT"})
    assert connect(adapter) == [{"id": "1512", "op": "subscribe", "args": [STATUS, BOOKS]}]
    assert OkxAdapter.destinations(adapter.subscriptions) == [STATUS_DEST, BOOKS_DEST]
    adapter.receive(fixture("status-subscribe-ok.json"))
    assert not adapter.all_subscribed
    adapter.receive(
        '{"id":"1512","event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"}}'
    )
    assert adapter.all_subscribed


def test_configured_args_are_validated() -> None:
    with pytest.raises(ValueError, match="channel"):
        make_adapter(STATUS, {"instId": "BTC-USDT"})
    with pytest.raises(ValueError, match="channel"):
        OkxAdapter.destinations([{"channel": ""}])


def test_ack_echoing_extra_fields_counts_for_the_configured_arg() -> None:
    orders = {"channel": "orders", "instType": "ANY"}
    adapter = connected(orders)
    events = adapter.receive(
        '{"event":"subscribe","arg":{"channel":"orders","instType":"ANY","uid":"77982378738415879"},"connId":"c1"}'
    )
    assert only(events) == Subscribed(
        destination=dest(
            {"channel": "orders", "instType": "ANY", "uid": "77982378738415879"}, key="ANY"
        ),
        op="subscribe",
        request_id=None,
        exchange_conn_id="c1",
    )
    assert adapter.all_subscribed


def test_ack_of_an_unconfigured_arg_is_reported_but_does_not_count() -> None:
    adapter = connected(STATUS)
    events = adapter.receive(fixture("tickers-subscribe-ok.json"))
    assert events == [
        Subscribed(
            destination=TICKERS_DEST, op="subscribe", request_id="1512", exchange_conn_id="…"
        )
    ]
    assert not adapter.all_subscribed


# --- inbound: connection events ------------------------------------------------------------------


def test_pong() -> None:
    adapter = connected(STATUS)
    assert adapter.receive(fixture("pong.txt")) == [Pong()]
    assert adapter.receive(b"pong") == [Pong()]


def test_notice_64008_advises_reconnect() -> None:
    assert connected(STATUS).receive(fixture("notice-64008.json")) == [
        Notice(
            code="64008",
            message="The connection will soon be closed for a service upgrade. Please reconnect.",
            reconnect_advised=True,
            exchange_conn_id="…",
        )
    ]


def test_other_notice_does_not_advise_reconnect() -> None:
    events = connected().receive('{"event":"notice","code":"64009","msg":"x","connId":"c"}')
    assert events == [
        Notice(code="64009", message="x", reconnect_advised=False, exchange_conn_id="c")
    ]


def test_channel_conn_count() -> None:
    assert connected().receive(fixture("channel-conn-count.json")) == [
        ChannelConnCount(channel="orders", conn_count="2", error=False, exchange_conn_id="…")
    ]


def test_channel_conn_count_error() -> None:
    assert connected().receive(fixture("channel-conn-count-error.json")) == [
        ChannelConnCount(channel="orders", conn_count="3", error=True, exchange_conn_id="a4d3ae55")
    ]


def test_channel_conn_count_keeps_other_fields_as_strings() -> None:
    frame = {
        "event": "channel-conn-count",
        "channel": "orders",
        "connCount": 2,
        "connId": "c",
        "uid": 123,
        "note": "n",
        "more": {"a": [1, True]},
    }
    assert connected().receive(json.dumps(frame)) == [
        ChannelConnCount(
            channel="orders",
            conn_count="2",
            attributes={"uid": "123", "note": "n", "more": '{"a":[1,true]}'},
            exchange_conn_id="c",
        )
    ]


# --- inbound: pushes -----------------------------------------------------------------------------


def test_status_push() -> None:
    (push,) = pushes(connected(STATUS).receive(fixture("status-push.json")))
    assert push.destination == STATUS_DEST
    assert push.payload_type == "exchange_bridge.okx.Status"
    assert push.payload == {
        "title": "Trading account WebSocket system upgrade",
        "state": "completed",
        "begin": 1672823400000,
        "end": 1672825980000,
        "preOpenBegin": None,
        "href": "",
        "serviceType": "0",
        "system": "unified",
        "scheDesc": "",
        "maintType": "1",
        "env": "1",
        "ts": 1672826038470,
        "extra": {},
    }
    assert push.payload["begin"] == 1672823400000
    assert push.payload["href"] == ""
    assert push.payload["preOpenBegin"] is None
    assert push.event_time_ms == 1672826038470
    assert push.exchange_conn_id is None
    assert isinstance(push.identity, str) and push.identity


def test_economic_calendar_push() -> None:
    (push,) = pushes(logged_in(CALENDAR).receive(fixture("economic-calendar-push.json")))
    assert push.destination == CALENDAR_DEST
    assert push.payload_type == "exchange_bridge.okx.EconomicCalendar"
    assert push.payload == {
        "calendarId": "319275",
        "date": 1597026383085,
        "region": "United States",
        "category": "Manufacturing PMI",
        "event": "S&P Global Manufacturing PMI Final",
        "refDate": 1597026383085,
        "actual": "49.2",
        "previous": "47.3",
        "forecast": "49.3",
        "importance": "2",
        "prevInitial": "",
        "ccy": "",
        "unit": "",
        "ts": 1698648096590,
        "dateSpan": None,
        "extra": {},
    }
    assert push.payload["importance"] == "2"
    assert push.event_time_ms == 1698648096590


def test_typed_push_missing_fields_are_none_and_unknown_fields_go_to_extra() -> None:
    element = {
        "state": "ongoing",
        "begin": 1672823400000,  # a number is accepted as well as digits
        "end": None,
        "serviceType": 5,  # not text: kept as its JSON text
        "newField": "new",
        "nested": {"a": [1, "ü"]},
        "count": 3,
        "flag": False,
        "nothing": None,
    }
    frame = {"arg": STATUS, "data": [element]}
    (push,) = pushes(connected(STATUS).receive(json.dumps(frame)))
    assert push.payload == {
        "title": None,
        "state": "ongoing",
        "begin": 1672823400000,
        "end": None,
        "preOpenBegin": None,
        "href": None,
        "serviceType": "5",
        "system": None,
        "scheDesc": None,
        "maintType": None,
        "env": None,
        "ts": None,
        "extra": {
            "newField": "new",
            "nested": '{"a":[1,"ü"]}',
            "count": "3",
            "flag": "false",
            "nothing": "null",
        },
    }
    assert push.event_time_ms is None


@pytest.mark.parametrize(
    ("channel", "field", "value"),
    [
        ("status", "begin", "abc"),
        ("status", "end", "1672825980000.5"),
        ("status", "ts", "-1"),
        ("status", "preOpenBegin", " 1"),
        ("status", "begin", True),
        ("status", "begin", 1.5),
        ("status", "ts", "99999999999999999999"),
        ("economic-calendar", "date", "2023-01-01"),
        ("economic-calendar", "refDate", "１２３"),  # full-width digits are not ASCII digits
        ("economic-calendar", "ts", ["1"]),
    ],
)
def test_bad_timestamp_makes_that_element_unrecognized(
    channel: str, field: str, value: Any
) -> None:
    good = {"title": "fine", "ts": "1672826038470"}
    bad = {"title": "bad", field: value}
    frame = {"arg": {"channel": channel}, "data": [good, bad, good], "connId": "c"}
    events = connected().receive(json.dumps(frame, ensure_ascii=False))
    assert [type(e) for e in events] == [Push, Unrecognized, Push]
    assert_valid(events[0])  # type: ignore[arg-type]
    unrecognized = events[1]
    assert isinstance(unrecognized, Unrecognized)
    assert field in unrecognized.reason and "data[1]" in unrecognized.reason
    assert unrecognized.exchange_conn_id == "c"


def test_status_begin_abc_reason_names_field_and_value() -> None:
    frame = '{"arg":{"channel":"status"},"data":[{"begin":"abc"}]}'
    event = only(connected(STATUS).receive(frame))
    assert isinstance(event, Unrecognized)
    assert "begin" in event.reason and "abc" in event.reason


def test_typed_push_element_that_is_not_an_object() -> None:
    events = connected().receive('{"arg":{"channel":"status"},"data":[["x"]]}')
    assert isinstance(only(events), Unrecognized)
    assert "not an object" in events[0].reason  # type: ignore[attr-defined]


def test_tickers_push_goes_the_generic_way() -> None:
    element = fixture_json("tickers-push.json")["data"][0]
    (push,) = pushes(connected(TICKERS).receive(fixture("tickers-push.json")))
    assert push.destination == TICKERS_DEST
    assert push.payload_type == "exchange_bridge.okx.ChannelData"
    assert push.payload == {"action": None, "data": json.dumps(element, separators=(",", ":"))}
    assert push.event_time_ms == 1597026383085


@pytest.mark.parametrize(
    ("name", "action", "prev_seq_id", "seq_id", "ts"),
    [
        ("books-snapshot.json", "snapshot", -1, 123456, 1597026383085),
        ("books-update.json", "update", 123456, 123457, 1597026383185),
        ("books-update-idle.json", "update", 123457, 123457, 1597026413185),
    ],
)
def test_books_push(name: str, action: str, prev_seq_id: int, seq_id: int, ts: int) -> None:
    (push,) = pushes(connected(BOOKS).receive(fixture(name)))
    assert push.destination == BOOKS_DEST
    assert push.payload["action"] == action
    data = json.loads(push.payload["data"])
    assert data == fixture_json(name)["data"][0]
    assert (data["prevSeqId"], data["seqId"], data["checksum"]) == (prev_seq_id, seq_id, 0)
    assert push.event_time_ms == ts


def test_book_update_sequence_is_carried_in_order() -> None:
    adapter = connected(BOOKS)
    seq = []
    for name in ("books-snapshot.json", "books-update.json", "books-update-idle.json"):
        (push,) = pushes(adapter.receive(fixture(name)))
        data = json.loads(push.payload["data"])
        seq.append((data["prevSeqId"], data["seqId"]))
    assert seq[0][0] == -1
    assert seq[1][0] == seq[0][1]
    assert seq[2][0] == seq[2][1] == seq[1][1]


def test_any_channel_works_including_array_elements() -> None:
    candle = ["1597026383085", "8533.02", "8553.74", "8527.17", "8548.26", "45247", "529.58", "0"]
    frame = {"arg": {"channel": "candle1m", "instId": "BTC-USDT"}, "data": [candle]}
    (push,) = pushes(connected().receive(json.dumps(frame)))
    assert push.destination == dest({"channel": "candle1m", "instId": "BTC-USDT"}, key="BTC-USDT")
    assert push.payload == {"action": None, "data": json.dumps(candle, separators=(",", ":"))}
    assert push.event_time_ms is None

    other = {"arg": {"channel": "brand-new", "n": 1}, "data": [{"x": "ü", "ts": 5}], "connId": "c"}
    (push,) = pushes(connected().receive(json.dumps(other, ensure_ascii=False)))
    assert push.destination == dest({"channel": "brand-new", "n": "1"})
    assert push.payload["data"] == '{"x":"ü","ts":5}'  # not escaped
    assert push.event_time_ms == 5
    assert push.exchange_conn_id == "c"


def test_generic_push_with_a_bad_ts_is_still_carried() -> None:
    frame = '{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"ts":"soon"}]}'
    (push,) = pushes(connected().receive(frame))
    assert push.event_time_ms is None


def test_push_with_several_elements_gives_one_push_each() -> None:
    frame = {"arg": TICKERS, "data": [{"last": "1", "ts": "1"}, {"last": "2", "ts": "2"}]}
    events = pushes(connected(TICKERS).receive(json.dumps(frame)))
    assert [p.event_time_ms for p in events] == [1, 2]


def test_push_with_empty_data_gives_nothing() -> None:
    assert (
        connected(TICKERS).receive('{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[]}')
        == []
    )


def test_push_on_binary_frame_with_utf8_json() -> None:
    (push,) = pushes(connected(STATUS).receive(fixture("status-push.json").encode()))
    assert push.payload["state"] == "completed"


def test_identity_is_content_based() -> None:
    old, new = connected(BOOKS), connected(BOOKS)
    (a,) = old.receive(fixture("books-update.json"))
    (b,) = new.receive(fixture("books-update.json"))
    assert isinstance(a, Push) and isinstance(b, Push)
    assert a.identity == b.identity

    element = fixture_json("books-update.json")["data"][0]
    reordered = dict(reversed(list(element.items())))
    (c,) = new.receive(json.dumps({"arg": BOOKS, "action": "update", "data": [reordered]}))
    assert isinstance(c, Push) and c.identity == a.identity

    (d,) = new.receive(json.dumps({"arg": BOOKS, "action": "snapshot", "data": [element]}))
    assert isinstance(d, Push) and d.identity != a.identity
    (e,) = new.receive(
        json.dumps({"arg": BOOKS, "action": "update", "data": [{**element, "seqId": 9}]})
    )
    assert isinstance(e, Push) and e.identity != a.identity

    (s1,) = connected(STATUS).receive(fixture("status-push.json"))
    (s2,) = connected(STATUS).receive(fixture("status-push.json"))
    assert isinstance(s1, Push) and isinstance(s2, Push) and s1.identity == s2.identity


# --- bad input -----------------------------------------------------------------------------------


MALFORMED: list[str | bytes] = [
    "",
    "   ",
    "{",
    "[]",
    "null",
    "42",
    '"pong"',
    "ping",
    "PONG",
    "NaN",
    '{"a":Infinity}',
    b"\xff",
    b"\xc3\x28",
    b'{"event"',
    "[" * 100_000,
    '{"event":"weird"}',
    '{"event":null}',
    '{"event":{"a":1}}',
    '{"foo":1}',
    '{"arg":{"channel":"status"},"data":"x"}',
    '{"arg":{"channel":"status"},"data":{"begin":"1"}}',
    '{"arg":{"channel":"status"}}',
    '{"data":[{}]}',
    '{"arg":{},"data":[]}',
    '{"arg":{"channel":""},"data":[]}',
    '{"arg":{"channel":5},"data":[]}',
    '{"arg":"status","data":[]}',
    '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":5,"data":[{}]}',
    '{"arg":{"channel":"status"},"data":[{"begin":"abc"}]}',
    '{"event":"subscribe"}',
    '{"event":"unsubscribe","arg":{"instId":"BTC-USDT"}}',
    '{"event":"subscribe","arg":[]}',
]


@pytest.mark.parametrize("frame", MALFORMED, ids=lambda f: repr(f)[:40])
def test_malformed_input_is_unrecognized(frame: str | bytes) -> None:
    adapter = connected(STATUS)
    event = only(adapter.receive(frame))
    assert isinstance(event, Unrecognized)
    assert event.reason and not event.reason.startswith("adapter error")
    assert len(event.reason) < 200
    assert not adapter.all_subscribed
    assert adapter.data_to_send() == []


@pytest.mark.parametrize(
    "name", ["economic-calendar-subscribe-request.zh.json", "subscribe-ok-template.txt"]
)
def test_documented_messages_that_are_not_json(name: str) -> None:
    event = only(connected(STATUS).receive(fixture(name)))
    assert isinstance(event, Unrecognized)
    assert event.reason.startswith("not JSON")


def test_unrecognized_keeps_the_conn_id() -> None:
    event = only(connected().receive('{"event":"weird","connId":"a4d3ae55"}'))
    assert event == Unrecognized(reason="unknown event 'weird'", exchange_conn_id="a4d3ae55")


def test_reasons_are_specific() -> None:
    adapter = connected()
    reasons = {
        frame: only(adapter.receive(frame)).reason  # type: ignore[attr-defined]
        for frame in ("", "{", "[]", "null", '{"arg":{"channel":"status"},"data":"x"}')
    }
    assert reasons[""] == "empty frame"
    assert reasons["{"].startswith("not JSON")
    assert reasons["[]"] == "JSON array is not an object"
    assert reasons["null"] == "JSON null is not an object"
    assert reasons['{"arg":{"channel":"status"},"data":"x"}'] == (
        "push data is a JSON string, not an array"
    )
    assert only(adapter.receive(b"\xff")).reason == "binary frame is not UTF-8"  # type: ignore[attr-defined]


def all_fixture_names() -> list[str]:
    return sorted(p.name for p in (FIXTURES_DIR / "okx").iterdir() if p.suffix in (".json", ".txt"))


def test_receive_never_raises_on_mangled_fixtures() -> None:
    rng = random.Random(20260115)
    for name in all_fixture_names():
        text = fixture(name)
        for _ in range(200):
            chars = list(text)
            for _ in range(rng.randint(1, 4)):
                position = rng.randrange(len(chars))
                chars[position] = rng.choice('{}[]",:0a\\ ')
            mangled = "".join(chars)
            for adapter in (connected(STATUS, TICKERS), make_adapter(credentials=CREDENTIALS)):
                for event in adapter.receive(mangled):
                    assert not (
                        isinstance(event, Unrecognized) and event.reason.startswith("adapter error")
                    ), (name, mangled, event)
                    if isinstance(event, Push):
                        assert_valid(event)


# --- schemas -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", all_fixture_names())
def test_every_push_from_every_fixture_fits_its_schema(name: str) -> None:
    for adapter in (connected(STATUS, TICKERS, BOOKS), logged_in(CALENDAR)):
        for event in adapter.receive(fixture(name)):
            assert not (
                isinstance(event, Unrecognized) and event.reason.startswith("adapter error")
            )
            if isinstance(event, Push):
                assert_valid(event)
                assert (
                    event.destination.schema
                    == {
                        "exchange_bridge.okx.Status": "okx/status",
                        "exchange_bridge.okx.EconomicCalendar": "okx/economic-calendar",
                        "exchange_bridge.okx.ChannelData": "okx/channel",
                    }[event.payload_type]
                )


def test_fixtures_that_push_produce_pushes() -> None:
    names = [n for n in all_fixture_names() if "push" in n or n.startswith("books-")]
    assert len(names) == 6
    for name in names:
        assert pushes(logged_in(STATUS, CALENDAR).receive(fixture(name)))


# --- close codes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (4001, "login_failed"),
        (4002, "invalid_request"),
        (4003, "subscription_limit"),
        (4004, "idle"),
        (4005, "buffer_full"),
        (4006, "abnormal"),
        (4007, "api_key_changed"),
        (4008, "too_many_channels"),
        (4009, "too_many_channels"),
        (1009, "frame_too_large"),
        (1000, "closed_normal"),
        (1001, "closed_normal"),
        (1006, "close_1006"),
        (None, "connection_lost"),
    ],
)
def test_close_reason(code: int | None, reason: str) -> None:
    assert make_adapter().close_reason(code) == reason


def test_redact_masks_every_credential_an_exchange_might_echo() -> None:
    creds = Credentials(
        api_key="key-123456789", secret_key="secret-123456789", passphrase="phrase-123456789"
    )
    adapter = OkxAdapter([{"channel": "status"}], creds)
    echoed = '{"apiKey":"key-123456789","x":"phrase-123456789"}'
    assert adapter.redact(echoed) == '{"apiKey":"***","x":"***"}'
    assert adapter.redact(echoed.encode()) == b'{"apiKey":"***","x":"***"}'
    assert OkxAdapter([{"channel": "status"}]).redact(echoed) == echoed


def test_economic_calendar_date_span_is_a_typed_field_from_v2() -> None:
    adapter = OkxAdapter([{"channel": "economic-calendar"}])
    frame = json.dumps(
        {
            "arg": {"channel": "economic-calendar"},
            "data": [{"calendarId": "1", "date": "1597026383085", "dateSpan": "1"}],
        }
    )
    [push] = [e for e in adapter.receive(frame) if isinstance(e, Push)]
    assert push.payload["dateSpan"] == "1"
    assert push.payload["extra"] == {}
