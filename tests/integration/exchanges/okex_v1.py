"""Legacy OKEx v1 spot in the exchange table: one endpoint, compressed and plain frames, a
login for the account channels; the seeds are every push and response example of the
documentation, sent as text and compressed."""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

from bridge.avro.decode import TailedRecord
from bridge.sandbox.okex_v1 import PATH, OkexV1Account, OkexV1Simulator, deflate
from tests.fixtures import load_fixture
from tests.integration.exchanges.books import OkexBook
from tests.integration.exchanges.entry import (
    KEY,
    MAX_FRAME_BYTES,
    SECRET,
    Book,
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

DEPTH_AND_TICKER = [
    {"channel": "ok_sub_spot_bch_btc_depth"},
    {"channel": "ok_sub_spot_bch_btc_ticker"},
]

LOGIN = Login(
    name="okex-spot",
    path=None,
    subscriptions=[
        {"channel": "ok_sub_spot_bch_btc_ticker"},
        {"channel": "ok_sub_spot_bch_btc_order"},
    ],
    credentials=lambda secret: {"api_key": KEY, "secret_key": secret},
    accounts=lambda: {
        KEY: OkexV1Account(secret=SECRET, free={"btc": Decimal("10"), "bch": Decimal("100")})
    },
    error={
        "event": "error",
        "code": "10005",
        "message": "api_key or sign invalid",
        "attributes": {"ok": "false"},
    },
)


SHANGHAI = timezone(timedelta(hours=8))
EVERY_CHANNEL: list[dict[str, Any]] = [
    {"channel": "ok_sub_spot_bch_btc_ticker"},
    {"channel": "ok_sub_spot_bch_btc_depth"},
    {"channel": "ok_sub_spot_bch_btc_depth_5", "binary": 1},
    {"channel": "ok_sub_spot_bch_btc_depth_10"},
    {"channel": "ok_sub_spot_bch_btc_depth_20"},
    {"channel": "ok_sub_spot_bch_btc_deals"},
    {"channel": "ok_sub_spot_bch_btc_kline_1min", "binary": 1},
    {"channel": "ok_sub_spot_bch_btc_order"},
    {"channel": "ok_sub_spot_bch_btc_balance"},
    {"channel": "ok_spot_userinfo"},
    {"channel": "ok_spot_orderinfo", "parameters": {"symbol": "bch_btc", "order_id": "-1"}},
]
SEEDS_SENT = {  # seed example -> the topic it must arrive on
    "ticker-push.json": "okex.spot.ticker",
    "depth-push.json": "okex.spot.depth",
    "depth-5-push.json": "okex.spot.depth-5",
    "deals-push.json": "okex.spot.deals",
    "kline-1min-push.json": "okex.spot.kline-1min",
    "order-push.json": "okex.spot.order",
    "balance-push.json": "okex.spot.balance",
    "userinfo-response.json": "okex.spot.userinfo",
    "orderinfo-response.json": "okex.spot.orderinfo",
    "order-response.json": "okex.spot.order",
    "cancel-order-response.json": "okex.spot.order",
    "login-response.json": "okex.events",
}
# filled by the simulator's own snapshots on subscribe
TOPICS_WITHOUT_SEEDS = ["okex.spot.depth-10", "okex.spot.depth-20"]


def _fixture(name: str) -> str:
    return load_fixture("okex_v1", name)


def at(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, UTC)


def deal_time(time_of_day: str, received: datetime) -> datetime:
    """Independent reading of the rule: the Shanghai receive date, one day back or forward when
    the result would be more than 12 h away from the receive time."""
    local = received.astimezone(SHANGHAI)
    h, m, s = (int(x) for x in time_of_day.split(":"))
    candidate = datetime.combine(local.date(), time(h, m, s), SHANGHAI)
    if candidate - received > timedelta(hours=12):
        candidate -= timedelta(days=1)
    elif received - candidate > timedelta(hours=12):
        candidate += timedelta(days=1)
    return candidate


SEED_BIDS = [
    {"price": "115", "amount": "1", "extra": {}},
    {"price": "114", "amount": "1", "extra": {}},
    {"price": "1E-8", "amount": "0.0008792", "extra": {}},
]
EXPECTED = {
    "SpotTicker": {
        "buy": "115",
        "high": "10000",
        "last": "111",
        "low": "0.00000001",
        "sell": "115",
        "change": "101",
        "vol": "185.03743858",
        "dayLow": "0.00000001",
        "dayHigh": "10000",
        "timestamp": at(1500444626000),
        "extra": {},
    },
    "SpotKline": {
        "time": at(1490337840000),
        "open": "995.37",
        "high": "996.75",
        "low": "995.36",
        "close": "996.75",
        "volume": "9.112",
        "extra": {},
    },
    "SpotOrder": {
        "base": "bch",
        "quote": "btc",
        "product": "spot",
        "type": "balance",
        "symbol": "bch_btc",
        "orderId": "6191",
        "tradeType": "buy",
        "status": "0",
        "createdDate": at(1504530228987),
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
    "SpotBalance": {
        "base": "bch",
        "quote": "btc",
        "product": "spot",
        "type": "order",
        "free": {"btc": "5814.850605790395"},
        "freezed": {"btc": "7341"},
        "extra": {},
    },
    "SpotUserInfo": {
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
    },
    "SpotOrderInfo": {
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
                "create_date": at(1504529828000),
                "orders_id": None,
                "extra": {},
            }
        ],
        "extra": {},
    },
}


def seeds(records: list[TailedRecord], kind: str) -> list[dict[str, Any]]:
    return [p for p in payloads(records, kind) if p == EXPECTED[kind]]


def _connections(okex: Exchange, sim: Any) -> list[dict[str, Any]]:
    credentials = LOGIN.credentials(SECRET)
    return [okex.connection(sim, EVERY_CHANNEL, credentials=credentials)]


async def _send(sim: Any) -> None:
    for name in SEEDS_SENT:
        await sim.send_raw(_fixture(name))
        await sim.send_raw(deflate(_fixture(name)))


def _complete(found: Found) -> bool:
    order = found["okex.spot.order"]
    return (
        len(seeds(found["okex.spot.ticker"], "SpotTicker")) == 2
        and len(payloads(found["okex.spot.depth"], "SpotDepth")) == 3
        and len(payloads(found["okex.spot.depth-5"], "SpotDepth")) == 3
        and len(payloads(found["okex.spot.depth-10"], "SpotDepth")) == 1
        and len(payloads(found["okex.spot.depth-20"], "SpotDepth")) == 1
        and len(payloads(found["okex.spot.deals"], "SpotDeal")) == 2
        and len(seeds(found["okex.spot.kline-1min"], "SpotKline")) == 4
        and len(seeds(order, "SpotOrder")) == 2
        and len(payloads(order, "SpotOrderResult")) == 4
        and len(seeds(found["okex.spot.balance"], "SpotBalance")) == 2
        and len(seeds(found["okex.spot.userinfo"], "SpotUserInfo")) == 2
        and len(seeds(found["okex.spot.orderinfo"], "SpotOrderInfo")) == 2
        and len(payloads(found["okex.events"], "ConnectionEvent")) == 3
    )


def _check(found: Found, seen: Seen) -> None:
    # every subscription was acknowledged on its own topic
    for topic in ("okex.spot.ticker", "okex.spot.depth-10", "okex.spot.userinfo"):
        [ack] = payloads(found[topic], "SubscriptionEvent")
        assert ack == {"event": "subscribe", "request_id": None, "code": None, "message": None}

    # metadata of a push
    [ticker, _] = [r for r in found["okex.spot.ticker"] if payload_kind(r) == "SpotTicker"]
    meta = ticker.value
    assert ticker.key == "bch_btc" and ticker.schema == "okex/spot-ticker.v1"
    assert (meta["exchange"], meta["channel"], meta["arg"]) == (
        "okex_v1",
        "ok_sub_spot_bch_btc_ticker",
        {"channel": "ok_sub_spot_bch_btc_ticker", "symbol": "bch_btc"},
    )
    assert meta["connection"] == "okex-spot" and meta["connection_id"] == "okex-spot#1"
    assert meta["exchange_connection_id"] is None and meta["bridge_instance"] == "test"
    assert ms(meta["event_time"]) == 1500444626000 and meta["sequence"] > 1
    assert isinstance(meta["receive_time"], datetime)

    # depth: the simulator's (empty) snapshot on subscribe, then the two seed pushes as updates
    depth = payloads(found["okex.spot.depth"], "SpotDepth")
    assert [d["action"] for d in depth] == ["snapshot", "update", "update"]
    assert depth[0]["asks"] == depth[0]["bids"] == []
    for update in depth[1:]:
        assert update == {
            "action": "update",
            "asks": [],
            "bids": SEED_BIDS,
            "timestamp": at(1504529236946),
            "extra": {},
        }
    full = payloads(found["okex.spot.depth-5"], "SpotDepth")[1:]
    assert (
        full
        == [
            {
                "action": "snapshot",
                "asks": [],
                "bids": SEED_BIDS,
                "timestamp": at(1504529432367),
                "extra": {},
            }
        ]
        * 2
    )

    # deals: the time of day kept, the full time derived from the receive date in Shanghai
    for record in (r for r in found["okex.spot.deals"] if payload_kind(r) == "SpotDeal"):
        deal = record.value["payload"][1]
        expected_time = deal_time("16:34:07", record.value["receive_time"])
        assert deal == {
            "tid": "1001",
            "price": "2463.86",
            "amount": "0.052",
            "time": "16:34:07",
            "type": "ask",
            "timestamp": expected_time,
            "extra": {},
        }
        assert record.value["event_time"] == expected_time

    # order and cancel answers
    results = payloads(found["okex.spot.order"], "SpotOrderResult")
    assert sorted((r["request"], r["order_id"]) for r in results) == [
        ("ok_spot_cancel_order", "125433027"),
        ("ok_spot_cancel_order", "125433027"),
        ("ok_spot_order", "6189"),
        ("ok_spot_order", "6189"),
    ]
    assert all(r["result"] is True and r["error_code"] is None for r in results)

    # login results (the bridge's own, then the two seed frames) on okex.events
    logins = payloads(found["okex.events"], "ConnectionEvent")
    assert all(e["event"] == "login" and e["attributes"] == {"ok": "true"} for e in logins)

    # the raw topic keeps text frames and compressed bytes alike (every seed frame of both:
    # checked for every exchange)
    assert {r.value["frame_type"] for r in found["okex.raw"]} == {"text", "binary"}


SEEDS = Seeds(
    simulator={"tls": True, "accounts": LOGIN.accounts()},
    connections=_connections,
    ready=all_subscribed,
    send=_send,
    raw_frames={("text", _fixture(n).encode()) for n in SEEDS_SENT}
    | {("binary", deflate(_fixture(n))) for n in SEEDS_SENT},
    topics=[*sorted(set(SEEDS_SENT.values())), *TOPICS_WITHOUT_SEEDS, "okex.raw"],
    complete=_complete,
    check=_check,
)


def _marked_push(marker: str) -> str:
    frame = json.loads(load_fixture("okex_v1", "ticker-push.json"))
    frame[0]["data"]["last"] = marker
    return json.dumps(frame)


def _oversized() -> str:
    frame = json.loads(load_fixture("okex_v1", "ticker-push.json"))
    frame[0]["data"]["pad"] = "x" * (MAX_FRAME_BYTES + 1)
    return json.dumps(frame)


def _is_push(data: bytes) -> bool:
    message = parse_json(data)
    return (
        isinstance(message, list)
        and bool(message)
        and isinstance(message[0], dict)
        and str(message[0].get("channel", "")).startswith("ok_sub_spot_")
    )


def _book(sim: OkexV1Simulator) -> Callable[[int], Awaitable[None]]:
    """Ten levels a side to start from, then scripted, seeded changes: deletes, edits and new
    prices, on both sides."""
    sim.set_book(
        "bch_btc",
        [(f"0.0{500 - i}", "1") for i in range(10)],
        [(f"0.0{510 + i}", "2") for i in range(10)],
    )
    rng = random.Random(3)

    async def change(count: int) -> None:
        for _ in range(count):
            side = rng.choice(["bids", "asks"])
            current = sim.book("bch_btc")[0 if side == "bids" else 1]
            roll = rng.random()
            if current and roll < 0.35:  # delete
                levels = [(rng.choice(current)[0], "0")]
            elif current and roll < 0.7:  # edit
                levels = [(rng.choice(current)[0], f"{rng.uniform(0.1, 9):.4f}")]
            else:  # add a price the book does not have yet
                base = 480 if side == "bids" else 511
                levels = [(f"0.0{base + rng.randint(0, 30)}5", f"{rng.uniform(0.1, 9):.4f}")]
            if side == "bids":
                await sim.update_book("bch_btc", bids=levels)
            else:
                await sim.update_book("bch_btc", asks=levels)

    return change


OKEX_V1 = Exchange(
    name="okex_v1",
    simulator=OkexV1Simulator,
    path=PATH,
    connection_name="okex-spot",
    is_push=_is_push,
    stream_subscriptions=DEPTH_AND_TICKER,
    stream_topic="okex.spot.depth",
    stream_keys=("bch_btc",),
    stream_channel="ok_sub_spot_bch_btc_depth",
    streaming={"rate": 20},
    drops=3,
    refused_attempts=6,
    quiet_subscriptions=[{"channel": "ok_sub_spot_bch_btc_ticker"}],
    quiet={},
    bad_input_subscriptions=[
        {"channel": "ok_sub_spot_bch_btc_ticker"},
        {"channel": "ok_sub_spot_bch_btc_depth_5"},
        {"channel": "ok_sub_spot_bch_btc_deals"},
        {"channel": "ok_sub_spot_bch_btc_kline_1min"},
    ],
    topic="okex.spot.ticker",
    marked_push=_marked_push,
    is_marked=lambda r, marker: (
        r.value["payload"][0].endswith("SpotTicker") and r.value["payload"][1]["last"] == marker
    ),
    base_frames=tuple(
        load_fixture("okex_v1", name)
        for name in (
            "ticker-push.json",
            "depth-5-push.json",
            "deals-push.json",
            "kline-1min-push.json",
        )
    ),
    encode_failures=(
        r'[{"channel":"ok_sub_spot_bch_btc_ticker","data":{"last":"\ud800","timestamp":"1"}}]',
    ),
    oversized=_oversized(),
    malformed=(
        Malformed(
            '[{"channel":"ok_sub_spot_bch_btc_ticker","data":{"timestamp":"soon"}}]',
            "text",
            "timestamp",
        ),
        Malformed(b"\x00\x01binary-garbage", "binary", "deflate"),
        Malformed(deflate("{not json"), "binary"),
    ),
    refused_subscription=RefusedSubscription(
        refused={"channel": "ok_sub_spot_xyz_btc_ticker"},
        accepted={"channel": "ok_sub_spot_bch_btc_ticker"},
        key="xyz_btc",
        channel="ok_sub_spot_xyz_btc_ticker",
        error={
            "event": "error",
            "request_id": None,
            "code": "20116",
            "message": "param not match.",
        },
        errors_sent={"20116": 1},
    ),
    binary_is_deflate=True,
    idle_close=IdleClose(
        # counts client frames only: with data streaming the bridge does not ping
        simulator={"rate": 20, "idle_timeout": 1.0},
        subscriptions=DEPTH_AND_TICKER,
        topic="okex.spot.depth",
        reason="closed_normal",
        fault="idle close (1000, server 1 s)",
    ),
    login=LOGIN,
    book=Book(
        subscriptions=DEPTH_AND_TICKER,
        topic="okex.spot.depth",
        other_topic="okex.spot.ticker",
        kind="SpotDepth",
        keys=("bch_btc",),
        simulator={"compression": "always"},
        consumer=OkexBook,
        expected=lambda sim, key: (sim.book(key).asks, sim.book(key).bids),
        start=_book,
        scripted=True,
    ),
    seeds=SEEDS,
)
