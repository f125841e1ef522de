"""OKX v5 adapter: requests, login, acks and errors, connection events and bad input; every
documented message fed as text, no event loop and no network.

Example messages live in ``tests/fixtures/okx/`` (see its README for where each comes from).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random

import pytest

from bridge.exchanges import adapter_class
from bridge.exchanges.base import Credentials
from bridge.exchanges.events import (
    ChannelConnCount,
    Destination,
    ExchangeError,
    LoginResult,
    Notice,
    Pong,
    Push,
    Subscribed,
    SubscribeFailed,
    Unrecognized,
)
from bridge.exchanges.okx import MAX_ARGS_BYTES, OkxAdapter, login_sign
from tests.unit.exchanges.okx.helpers import (
    BOOKS,
    BOOKS_DEST,
    CALENDAR,
    CALENDAR_DEST,
    CREDENTIALS,
    LOGIN_TIME,
    STATUS,
    STATUS_DEST,
    TICKERS,
    TICKERS_DEST,
    all_fixture_names,
    assert_valid,
    connect,
    connected,
    dest,
    fixture,
    fixture_json,
    logged_in,
    make_adapter,
    only,
    sent,
)

# --- class, registry, purity ---------------------------------------------------------------------


def test_class_attributes() -> None:
    assert OkxAdapter.exchange == "okx"
    assert OkxAdapter.topic_group == "okx"
    # OKX closes after 30 s without traffic; the keepalive must fire well before.
    assert OkxAdapter.keepalive_seconds == 20.0


def test_registry_loads_the_adapter() -> None:
    assert adapter_class("okx") is OkxAdapter


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
            {"channel": "orders", "instType": "ANY", "uid": "77982378738415879"},
            "okx/orders",
            key="ANY",
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


@pytest.mark.parametrize(
    "frame",
    [
        # an error that quotes the request, key and all
        '{"event":"error","code":"60005","msg":"Invalid apiKey key-123456789","connId":"a1"}',
        # a push whose element carries it (a typed channel and a generic one)
        '{"arg":{"channel":"status"},"data":[{"title":"key-123456789","ts":"1"}]}',
        '{"arg":{"channel":"account"},"data":[{"note":"phrase-123456789"}]}',
    ],
)
def test_an_echoed_credential_never_reaches_an_event(frame: str) -> None:
    creds = Credentials(
        api_key="key-123456789", secret_key="secret-123456789", passphrase="phrase-123456789"
    )
    adapter = OkxAdapter([{"channel": "status"}], creds)
    adapter.connection_made(0)
    events = adapter.receive(frame)
    assert events
    assert not any(isinstance(e, Unrecognized) for e in events)
    text = repr(events)
    assert "key-123456789" not in text and "phrase-123456789" not in text
    assert "***" in text
