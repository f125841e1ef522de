"""OKEx v1 spot end to end: simulator → bridge → Avro on a real Kafka broker → decoded back.

Every push and response example of the seed document is sent by the simulator byte for byte,
once as a text frame and once raw-deflated in a binary frame, and must arrive on its topic with
every field's value and type.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

from bridge.avro.decode import TailedRecord, tail
from bridge.sandbox.okex_v1 import OkexV1Account, OkexV1Simulator, deflate
from tests.fixtures import load_fixture
from tests.integration.harness import (
    bridge_settings,
    fast_reconnect,
    ms,
    payload_kind,
    payloads,
    read_topic,
    running_bridge,
    unique_prefix,
    wait_until,
)

KEY, SECRET = "test-api-key", "s3cr3t-Value-XYZ"
SHANGHAI = timezone(timedelta(hours=8))

TICKER = {"channel": "ok_sub_spot_bch_btc_ticker"}
DEPTH = {"channel": "ok_sub_spot_bch_btc_depth"}
ORDERS = {"channel": "ok_sub_spot_bch_btc_order"}
BALANCE = {"channel": "ok_sub_spot_bch_btc_balance"}
EVERY_CHANNEL = [
    TICKER,
    DEPTH,
    {"channel": "ok_sub_spot_bch_btc_depth_5", "binary": 1},
    {"channel": "ok_sub_spot_bch_btc_depth_10"},
    {"channel": "ok_sub_spot_bch_btc_depth_20"},
    {"channel": "ok_sub_spot_bch_btc_deals"},
    {"channel": "ok_sub_spot_bch_btc_kline_1min", "binary": 1},
    ORDERS,
    BALANCE,
    {"channel": "ok_spot_userinfo"},
    {"channel": "ok_spot_orderinfo", "parameters": {"symbol": "bch_btc", "order_id": "-1"}},
]

# seed example -> the topic it must arrive on
SEED_FRAMES = {
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


def fixture(name: str) -> str:
    return load_fixture("okex_v1", name)


def accounts() -> dict[str, OkexV1Account]:
    funds = {"btc": Decimal("10"), "bch": Decimal("100")}
    return {KEY: OkexV1Account(secret=SECRET, free=funds)}


def connection(
    sim: OkexV1Simulator,
    subscriptions: list[dict[str, Any]],
    *,
    secret: str | None = SECRET,
    **extra: Any,
) -> dict[str, Any]:
    conn: dict[str, Any] = {
        "name": "okex-spot",
        "exchange": "okex_v1",
        "url": sim.url(),
        "subscriptions": subscriptions,
        **fast_reconnect(**extra),
    }
    if sim.ca_file:
        conn["tls"] = {"ca_file": sim.ca_file}
    if secret is not None:
        conn["credentials"] = {"api_key": KEY, "secret_key": secret}
    return conn


async def read_topics(
    bootstrap: str,
    prefix: str,
    topics: list[str],
    until: Callable[[dict[str, list[TailedRecord]]], bool],
    timeout: float = 20.0,
) -> dict[str, list[TailedRecord]]:
    """Read several topics (names without the prefix) with one consumer until ``until``."""
    found: dict[str, list[TailedRecord]] = {t: [] for t in topics}

    async def consume() -> None:
        async for record in tail(bootstrap, [prefix + t for t in topics], from_beginning=True):
            found[record.topic.removeprefix(prefix)].append(record)
            if until(found):
                return

    try:
        await asyncio.wait_for(consume(), timeout)
    except TimeoutError:
        counts = {t: len(rs) for t, rs in found.items()}
        raise AssertionError(f"condition not met after {timeout} s; records: {counts}") from None
    return found


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


async def test_every_seed_example_arrives_typed_text_and_compressed(kafka_bootstrap: str) -> None:
    prefix = unique_prefix()
    async with OkexV1Simulator(tls=True, accounts=accounts()) as sim:
        settings = bridge_settings(kafka_bootstrap, prefix, [connection(sim, EVERY_CHANNEL)])
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscriptions")
            for name in SEED_FRAMES:
                await sim.send_raw(fixture(name))
                await sim.send_raw(deflate(fixture(name)))
            raw_frames = {("text", fixture(n).encode()) for n in SEED_FRAMES} | {
                ("binary", deflate(fixture(n))) for n in SEED_FRAMES
            }

            def complete(found: dict[str, list[TailedRecord]]) -> bool:
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
                    and raw_frames
                    <= {(r.value["frame_type"], r.value["data"]) for r in found["okex.raw"]}
                )

            found = await read_topics(
                kafka_bootstrap,
                prefix,
                [*sorted(set(SEED_FRAMES.values())), *TOPICS_WITHOUT_SEEDS, "okex.raw"],
                complete,
            )
            assert sim.stats.connects_total == 1

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

    # the raw topic keeps every frame as received: text, and the compressed bytes (the read
    # above waited for all of them); the simulator's own frames are there too
    raw = found["okex.raw"]
    assert raw_frames <= {(r.value["frame_type"], r.value["data"]) for r in raw}
    assert {r.value["frame_type"] for r in raw} == {"text", "binary"}
    assert all(r.value["exchange"] == "okex_v1" for r in raw)


async def test_login_and_orders_produce_order_and_balance_records(kafka_bootstrap: str) -> None:
    prefix = unique_prefix()
    subscriptions = [ORDERS, BALANCE, {"channel": "ok_spot_userinfo", "interval_seconds": 0.5}]
    async with OkexV1Simulator(accounts=accounts(), compression="always") as sim:
        settings = bridge_settings(kafka_bootstrap, prefix, [connection(sim, subscriptions)])
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscriptions")
            order_id = await sim.place_order(KEY, "bch_btc", "buy", "0.05", "2")
            await sim.cancel_order(KEY, order_id)
            found = await read_topics(
                kafka_bootstrap,
                prefix,
                ["okex.spot.order", "okex.spot.balance", "okex.spot.userinfo", "okex.events"],
                lambda f: (
                    len(payloads(f["okex.spot.order"], "SpotOrder")) == 2
                    and len(payloads(f["okex.spot.balance"], "SpotBalance")) == 2
                    # the scheduled request repeats (frames arriving are the adapter's clock)
                    and len(payloads(f["okex.spot.userinfo"], "SpotUserInfo")) >= 2
                    and len(payloads(f["okex.events"], "ConnectionEvent")) == 1
                ),
            )
    placed, cancelled = payloads(found["okex.spot.order"], "SpotOrder")
    assert placed["orderId"] == cancelled["orderId"] == str(order_id)
    assert (placed["status"], cancelled["status"]) == ("0", "-1")
    assert placed["type"] == "balance" and placed["tradeType"] == "buy"
    assert (placed["tradeAmount"], placed["tradeUnitPrice"]) == ("2.00000000", "0.05000000")
    assert isinstance(placed["createdDate"], datetime)
    frozen, released = payloads(found["okex.spot.balance"], "SpotBalance")
    assert (frozen["free"], frozen["freezed"]) == ({"btc": "9.9"}, {"btc": "0.1"})
    assert (released["free"], released["freezed"]) == ({"btc": "10"}, {"btc": "0"})
    assert frozen["type"] == "order"
    first_info = payloads(found["okex.spot.userinfo"], "SpotUserInfo")[0]
    assert first_info["free"] == {"bch": "100.00000000", "btc": "10.00000000"}
    [login] = payloads(found["okex.events"], "ConnectionEvent")
    assert login["event"] == "login"


async def test_book_rebuilt_from_depth_records_matches_the_simulator_across_a_reconnect(
    kafka_bootstrap: str,
) -> None:
    prefix = unique_prefix()
    rng = random.Random(3)
    bids = [(f"0.0{500 - i}", "1") for i in range(10)]
    asks = [(f"0.0{510 + i}", "2") for i in range(10)]

    def changes() -> dict[str, list[tuple[str, str]]]:
        side = rng.choice(["bids", "asks"])
        current = sim.book("bch_btc")[0 if side == "bids" else 1]
        roll = rng.random()
        if current and roll < 0.35:  # delete
            return {side: [(rng.choice(current)[0], "0")]}
        if current and roll < 0.7:  # edit
            return {side: [(rng.choice(current)[0], f"{rng.uniform(0.1, 9):.4f}")]}
        base = 480 if side == "bids" else 511  # add a price the book does not have yet
        return {side: [(f"0.0{base + rng.randint(0, 30)}5", f"{rng.uniform(0.1, 9):.4f}")]}

    async with OkexV1Simulator(compression="always") as sim:
        sim.set_book("bch_btc", bids, asks)
        settings = bridge_settings(
            kafka_bootstrap, prefix, [connection(sim, [DEPTH, TICKER], secret=None)]
        )
        async with running_bridge(settings) as bridge:
            session = bridge.sessions[0]
            await wait_until(lambda: session.subscribed, what="subscription")
            for _ in range(25):
                await sim.update_book("bch_btc", **changes())
            await sim.drop_connections()  # abrupt: no close frame
            await wait_until(
                lambda: sim.stats.connects_total == 2 and session.subscribed, what="resubscribe"
            )
            for _ in range(25):
                await sim.update_book("bch_btc", **changes())
            final_bids, final_asks = sim.book("bch_btc")
            expected_updates = 50
            found = await read_topics(
                kafka_bootstrap,
                prefix,
                ["okex.spot.depth", "okex.spot.ticker"],
                lambda f: (
                    sum(
                        p["action"] == "update" for p in payloads(f["okex.spot.depth"], "SpotDepth")
                    )
                    == expected_updates
                    and len(payloads(f["okex.spot.ticker"], "SessionMarker")) == 3
                ),
            )

    book: dict[str, dict[Decimal, str]] = {"bids": {}, "asks": {}}
    for depth in payloads(found["okex.spot.depth"], "SpotDepth"):
        if depth["action"] == "snapshot":
            book = {"bids": {}, "asks": {}}
        for side in ("bids", "asks"):
            for level in depth[side]:
                price = Decimal(level["price"])
                if Decimal(level["amount"]) == 0:
                    book[side].pop(price, None)
                else:
                    book[side][price] = level["amount"]
    assert book["bids"] == {Decimal(p): a for p, a in final_bids}
    assert book["asks"] == {Decimal(p): a for p, a in final_asks}

    kinds = [payload_kind(r) for r in found["okex.spot.depth"]]
    actions = [p["action"] for p in payloads(found["okex.spot.depth"], "SpotDepth")]
    assert actions.count("snapshot") == 2  # one per connection
    markers = [
        (m["kind"], m["reason"]) for m in payloads(found["okex.spot.depth"], "SessionMarker")
    ]
    assert markers == [
        ("resubscribed", "started"),
        ("disconnected", "connection_lost"),
        ("resubscribed", "reconnected"),
    ]
    # the gap is marked between the last update of the first connection and the new snapshot
    first_marker = kinds.index("SessionMarker", kinds.index("SessionMarker") + 1)
    assert kinds[first_marker + 1 :].count("SubscriptionEvent") == 1
    assert [(m["kind"]) for m in payloads(found["okex.spot.ticker"], "SessionMarker")] == [
        "resubscribed",
        "disconnected",
        "resubscribed",
    ]
    assert len(payloads(found["okex.spot.depth"], "SubscriptionEvent")) == 2


async def test_malformed_frames_go_to_dead_letters_and_the_connection_stays_up(
    kafka_bootstrap: str,
) -> None:
    prefix = unique_prefix()
    bad_text = '[{"channel":"ok_sub_spot_bch_btc_ticker","data":{"timestamp":"soon"}}]'
    not_deflate = b"\x00\x01binary-garbage"
    bad_inside = deflate("{not json")
    async with OkexV1Simulator() as sim:
        settings = bridge_settings(
            kafka_bootstrap, prefix, [connection(sim, [TICKER], secret=None)]
        )
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscription")
            await sim.send_raw(bad_text)
            await sim.send_raw(not_deflate)
            await sim.send_raw(bad_inside)
            await sim.push_ticker("bch_btc", {"last": "42", "timestamp": "1500444626000"})
            found = await read_topics(
                kafka_bootstrap,
                prefix,
                ["bridge.deadletter", "okex.spot.ticker"],
                lambda f: (
                    len(f["bridge.deadletter"]) == 3
                    and any(
                        p["last"] == "42" for p in payloads(f["okex.spot.ticker"], "SpotTicker")
                    )
                ),
            )
            assert sim.stats.connects_total == 1
    dead = found["bridge.deadletter"]
    assert [r.value["data"] for r in dead] == [bad_text.encode(), not_deflate, bad_inside]
    assert [r.value["frame_type"] for r in dead] == ["text", "binary", "binary"]
    assert {r.value["stage"] for r in dead} == {"classify"}
    assert all(r.value["exchange"] == "okex_v1" and r.value["error"] for r in dead)
    assert "timestamp" in dead[0].value["error"] and "deflate" in dead[1].value["error"]


async def test_bad_sign_is_recorded_and_backs_off(kafka_bootstrap: str) -> None:
    prefix = unique_prefix()
    async with OkexV1Simulator(accounts=accounts()) as sim:
        settings = bridge_settings(
            kafka_bootstrap, prefix, [connection(sim, [TICKER, ORDERS], secret="wrong-secret")]
        )
        async with running_bridge(settings) as bridge:
            events = await read_topic(
                kafka_bootstrap,
                prefix + "okex.events",
                lambda rs: len(payloads(rs, "ConnectionEvent")) >= 2,
            )
            await wait_until(lambda: sim.stats.logins_failed >= 3, what="three login attempts")
            text = bridge.metrics.render().decode()
            attempts = sim.stats.connects_total
    failure = payloads(events, "ConnectionEvent")[0]
    assert (failure["event"], failure["code"]) == ("error", "10005")
    assert failure["message"] == "api_key or sign invalid"
    assert failure["attributes"] == {"ok": "false"}
    # backoff 0.2 s doubling to 1 s: a tight loop would make dozens of attempts by now
    assert 3 <= attempts <= 8
    assert sim.stats.subscribe_requests == 0  # nothing is subscribed without a login
    assert (
        'bridge_reconnects_total{connection="okex-spot",exchange="okex_v1",reason="login_failed"}'
        in text
    )
    assert 'bridge_exchange_errors_total{code="10005",exchange="okex_v1"}' in text
    assert SECRET not in text and "wrong-secret" not in text


async def test_bad_channel_is_an_ack_error_and_the_others_continue(kafka_bootstrap: str) -> None:
    prefix = unique_prefix()
    unknown_pair = {"channel": "ok_sub_spot_xyz_btc_ticker"}
    async with OkexV1Simulator() as sim:
        settings = bridge_settings(
            kafka_bootstrap, prefix, [connection(sim, [unknown_pair, TICKER], secret=None)]
        )
        async with running_bridge(settings) as bridge:
            await sim.wait_for_subscribers("ok_sub_spot_bch_btc_ticker")
            await sim.push_ticker("bch_btc", {"last": "7", "timestamp": "1500444626000"})
            records = await read_topic(
                kafka_bootstrap,
                prefix + "okex.spot.ticker",
                lambda rs: bool(payloads(rs, "SpotTicker")) and any(r.key == "xyz_btc" for r in rs),
            )
            text = bridge.metrics.render().decode()
            assert not bridge.sessions[0].subscribed
    [error] = [r for r in records if r.key == "xyz_btc"]
    assert error.value["payload"][1] == {
        "event": "error",
        "request_id": None,
        "code": "20116",
        "message": "param not match.",
    }
    assert error.value["channel"] == "ok_sub_spot_xyz_btc_ticker"
    [ack] = [r for r in records if r.key == "bch_btc" and payload_kind(r) == "SubscriptionEvent"]
    assert ack.value["payload"][1]["event"] == "subscribe"
    assert payloads(records, "SpotTicker")[0]["last"] == "7"
    assert 'bridge_subscriptions{connection="okex-spot",exchange="okex_v1",state="failed"} 1.0' in (
        text
    )
    assert sim.stats.errors_sent == {"20116": 1}
