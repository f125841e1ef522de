"""OKX v5 in the exchange table: the public endpoint streams tickers, the business endpoint
(economic-calendar) needs a login; the seeds are the status change and calendar event of the
documentation."""

from __future__ import annotations

import json
from typing import Any

from bridge.runtime.app import Bridge
from bridge.sandbox.okx import (
    BUSINESS_PATH,
    PUBLIC_PATH,
    SEED_CALENDAR_FRAME,
    SEED_STATUS_FRAME,
    OkxAccount,
    OkxSimulator,
)
from tests.fixtures import load_fixture
from tests.integration.exchanges.entry import (
    KEY,
    MAX_FRAME_BYTES,
    PASSPHRASE,
    SECRET,
    Exchange,
    IdleClose,
    Login,
    Malformed,
    RefusedSubscription,
    Seeds,
    Seen,
    all_subscribed,
    parse_json,
)
from tests.integration.harness import Found, ms, payload_kind, payloads

LOGIN = Login(
    name="okx-business",
    path=BUSINESS_PATH,
    subscriptions=[{"channel": "economic-calendar"}],
    credentials=lambda secret: {
        "api_key": KEY,
        "secret_key": secret,
        "passphrase": PASSPHRASE,
    },
    accounts=lambda: {KEY: OkxAccount(secret=SECRET, passphrase=PASSPHRASE, vip_level=1)},
    error={"event": "error", "code": "60007"},
)


SEED_STATUS = json.loads(SEED_STATUS_FRAME)["data"][0]
SEED_CALENDAR = json.loads(SEED_CALENDAR_FRAME)["data"][0]


def _connections(okx: Exchange, sim: Any) -> list[dict[str, Any]]:
    login = LOGIN
    return [
        okx.connection(sim, [{"channel": "status"}]),
        okx.connection(
            sim,
            login.subscriptions,
            path=BUSINESS_PATH,
            name=login.name,
            credentials=login.credentials(SECRET),
        ),
    ]


async def _ready(sim: Any, bridge: Bridge) -> None:
    await all_subscribed(sim, bridge)
    assert bridge.readiness_problems() == []
    assert "bridge_ready 1.0" in bridge.metrics.render().decode()


def _check(found: Found, seen: Seen) -> None:
    status, calendar = found["okx.status"], found["okx.economic-calendar"]
    # subscription acks, one per arg, on the channel's topic
    [ack] = payloads(status, "SubscriptionEvent")
    assert ack["event"] == "subscribe" and ack["request_id"] and ack["code"] is None
    [calendar_ack] = payloads(calendar, "SubscriptionEvent")
    assert calendar_ack["event"] == "subscribe"

    # the seed's status push, every field with its type and value
    [push_record] = [r for r in status if payload_kind(r) == "Status"]
    meta = push_record.value
    assert (meta["exchange"], meta["channel"], meta["arg"]) == (
        "okx",
        "status",
        {"channel": "status"},
    )
    assert meta["connection"] == "okx-public" and meta["connection_id"].startswith("okx-public#")
    assert meta["exchange_connection_id"] is None  # pushes carry no connId; acks do
    assert meta["sequence"] >= 2 and meta["bridge_instance"] == "test"
    assert ms(meta["event_time"]) == 1672826038470
    assert push_record.key == "status"
    s = payloads(status, "Status")[0]
    assert ms(s["begin"]) == 1672823400000 and ms(s["end"]) == 1672825980000
    assert s["preOpenBegin"] is None and ms(s["ts"]) == 1672826038470
    for field in (
        "href",
        "scheDesc",
        "serviceType",
        "state",
        "system",
        "maintType",
        "env",
        "title",
    ):
        assert s[field] == SEED_STATUS[field], field
    assert s["extra"] == {}

    c = payloads(calendar, "EconomicCalendar")[0]
    for field in ("date", "refDate", "ts"):
        assert ms(c[field]) == int(SEED_CALENDAR[field]), field
    for field in (
        "calendarId",
        "region",
        "category",
        "event",
        "actual",
        "previous",
        "forecast",
        "importance",
        "prevInitial",
        "ccy",
        "unit",
    ):
        assert c[field] == SEED_CALENDAR[field], field

    # the login result is a connection event; raw frames are all text
    login = payloads(found["okx.events"], "ConnectionEvent")[0]
    assert (login["event"], login["code"]) == ("login", "0")
    assert all(r.value["frame_type"] == "text" for r in found["okx.raw"])


SEEDS = Seeds(
    simulator={"tls": True, "accounts": LOGIN.accounts()},
    connections=_connections,
    ready=_ready,
    send=lambda sim: sim.push_calendar(SEED_CALENDAR),  # the status is pushed on subscribe
    raw_frames={("text", SEED_STATUS_FRAME.encode()), ("text", SEED_CALENDAR_FRAME.encode())},
    topics=["okx.status", "okx.economic-calendar", "okx.events", "okx.raw"],
    complete=lambda f: (
        bool(payloads(f["okx.status"], "Status"))
        and bool(payloads(f["okx.economic-calendar"], "EconomicCalendar"))
        and bool(payloads(f["okx.events"], "ConnectionEvent"))
    ),
    check=_check,
)


def _marked_push(marker: str) -> str:
    frame = json.loads(load_fixture("okx", "tickers-push.json"))
    frame["data"][0]["last"] = marker
    return json.dumps(frame)


def _oversized() -> str:
    frame = json.loads(load_fixture("okx", "tickers-push.json"))
    frame["data"][0]["pad"] = "x" * (MAX_FRAME_BYTES + 1)
    return json.dumps(frame)


def _is_push(data: bytes) -> bool:
    message = parse_json(data)
    return isinstance(message, dict) and "arg" in message and "data" in message


OKX = Exchange(
    name="okx",
    simulator=OkxSimulator,
    path=PUBLIC_PATH,
    connection_name="okx-public",
    is_push=_is_push,
    stream_subscriptions=[
        {"channel": "tickers", "instId": "BTC-USDT"},
        {"channel": "tickers", "instId": "ETH-USDT"},
    ],
    stream_topic="okx.tickers",
    stream_keys=("BTC-USDT", "ETH-USDT"),
    stream_channel="tickers",
    streaming={"rates": {"tickers": 20}, "initial_status": None},
    drops=3,
    refused_attempts=6,
    quiet_subscriptions=[{"channel": "status"}],
    quiet={"initial_status": None},
    bad_input_subscriptions=[{"channel": "status"}, {"channel": "tickers", "instId": "BTC-USDT"}],
    topic="okx.tickers",
    marked_push=_marked_push,
    is_marked=lambda r, marker: (
        r.value["payload"][0] == "exchange_bridge.okx.Ticker"
        and r.value["payload"][1]["last"] == marker
    ),
    base_frames=(
        load_fixture("okx", "tickers-push.json"),
        load_fixture("okx", "status-push.json"),
    ),
    encode_failures=(r'{"event":"error","code":"60012","msg":"Illegal request \ud800"}',),
    oversized=_oversized(),
    malformed=(
        Malformed('{"arg":{"channel":"status"},"data":[{"begin":"not-a-time"', "text"),
        Malformed(b"\x00\x01binary-garbage", "binary"),
    ),
    refused_subscription=RefusedSubscription(
        refused={"channel": "tickers", "instId": "XYZ-USDT"},
        accepted={"channel": "tickers", "instId": "BTC-USDT"},
        key="XYZ-USDT",
        channel="tickers",
        error={
            "event": "error",
            "request_id": "1",
            "code": "60018",
            "message": "Wrong URL or channel:tickers, instId:XYZ-USDT doesn't exist. Please use "
            "the correct URL, channel and parameters referring to API document.",
        },
        errors_sent={"60018": 1},
        # Both args go in one request; OKX's error names the request, not the arg, so the
        # adapter reports it for every arg still unanswered. The simulator then acks the
        # valid one.
        accepted_events=("error", "subscribe"),
    ),
    connect_limit=(1.0, 3),
    idle_close=IdleClose(
        simulator={"idle_timeout": 1.0},
        subscriptions=[{"channel": "status"}],
        # a keepalive slower than the server's idle timeout
        connection={"keepalive_seconds": 5, "idle_timeout_seconds": 10},
        topic="okx.status",
        reason="idle",
        fault="idle close (4004, server 1 s)",
    ),
    login=LOGIN,
    seeds=SEEDS,
)
