"""An account's own orders, trades and balances arrive typed: OKEx v1 after a login (orders
placed and cancelled through its trade API), Kraken with a token per subscription (a refused
token is an error record, and the token is never logged or recorded). The two protocols share
no mechanism here, so each exchange has its own test."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

import pytest

from bridge.sandbox.kraken import AUTH_PATH
from tests.integration.exchanges import KEY, KRAKEN, OKEX_V1, OKEX_V1_LOGIN, SECRET, TOKEN
from tests.integration.harness import (
    bridge_log,
    bridge_settings,
    micros,
    payload_kind,
    payloads,
    read_topics,
    running_bridge,
    unique_prefix,
    wait_until,
)


async def test_okex_v1_login_and_orders_produce_order_and_balance_records(
    kafka_bootstrap: str,
) -> None:
    login = OKEX_V1_LOGIN
    prefix = unique_prefix()
    subscriptions: list[dict[str, Any]] = [
        {"channel": "ok_sub_spot_bch_btc_order"},
        {"channel": "ok_sub_spot_bch_btc_balance"},
        {"channel": "ok_spot_userinfo", "interval_seconds": 0.5},
    ]
    async with OKEX_V1.simulator(accounts=login.accounts(), compression="always") as sim:
        conn = OKEX_V1.connection(sim, subscriptions, credentials=login.credentials(SECRET))
        settings = bridge_settings(kafka_bootstrap, prefix, [conn])
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
    assert isinstance(placed["createdDate"], dt.datetime)
    frozen, released = payloads(found["okex.spot.balance"], "SpotBalance")
    assert (frozen["free"], frozen["freezed"]) == ({"btc": "9.9"}, {"btc": "0.1"})
    assert (released["free"], released["freezed"]) == ({"btc": "10"}, {"btc": "0"})
    assert frozen["type"] == "order"
    first_info = payloads(found["okex.spot.userinfo"], "SpotUserInfo")[0]
    assert first_info["free"] == {"bch": "100.00000000", "btc": "10.00000000"}
    [login_event] = payloads(found["okex.events"], "ConnectionEvent")
    assert login_event["event"] == "login"


async def test_kraken_private_channels_with_a_token(
    kafka_bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    prefix = unique_prefix()
    async with KRAKEN.simulator(tokens={TOKEN}) as sim:
        for _ in range(3):
            sim.new_order_and_fill()  # two open orders and one trade before we subscribe
        settings = bridge_settings(
            kafka_bootstrap,
            prefix,
            [
                KRAKEN.connection(
                    sim,
                    [{"name": "openOrders", "ratecounter": True}, {"name": "ownTrades"}],
                    path=AUTH_PATH,
                    name="kraken-auth",
                    credentials={"token": TOKEN},
                ),
                KRAKEN.connection(
                    sim,
                    [{"name": "ownTrades"}],
                    path=AUTH_PATH,
                    name="kraken-bad",
                    credentials={"token": "not-the-token"},
                ),
            ],
        )
        async with running_bridge(settings) as bridge:
            good = next(s for s in bridge.sessions if s.name == "kraken-auth")
            await wait_until(lambda: good.subscribed, what="private subscriptions")
            sim.new_order_and_fill()
            found = await read_topics(
                kafka_bootstrap,
                prefix,
                ["kraken.openOrders", "kraken.ownTrades", "kraken.raw"],
                lambda f: (
                    sum(p["sequence"] == 2 for p in payloads(f["kraken.openOrders"], "OpenOrder"))
                    == 2
                    and any(p["sequence"] == 2 for p in payloads(f["kraken.ownTrades"], "OwnTrade"))
                    and any(
                        p["event"] == "error"
                        for p in payloads(f["kraken.ownTrades"], "SubscriptionEvent")
                    )
                    and len(f["kraken.raw"]) >= 8
                ),
            )
    orders, trades = found["kraken.openOrders"], found["kraken.ownTrades"]

    [ack] = [r for r in orders if payload_kind(r) == "SubscriptionEvent"]
    assert ack.key == "openOrders"
    assert ack.value["arg"] == {"name": "openOrders", "ratecounter": "true", "maxratecount": "125"}
    order_records = payloads(orders, "OpenOrder")
    assert [(p["sequence"], p["status"]) for p in order_records] == [
        (1, "open"),
        (1, "open"),
        (2, "open"),
        (2, "closed"),
    ]
    snapshot = order_records[0]
    assert snapshot["order_id"].startswith("O") and snapshot["descr"]["pair"] == "XBT/USD"
    assert micros(snapshot["opentm"]) == int(Decimal(snapshot["opentm_text"]) * 1_000_000)
    assert order_records[3]["lastupdated"] is not None and order_records[3]["vol"] is None

    trade_records = [r for r in trades if payload_kind(r) == "OwnTrade"]
    assert [(r.value["payload"][1]["sequence"], r.value["connection"]) for r in trade_records] == [
        (1, "kraken-auth"),
        (2, "kraken-auth"),
    ]
    trade = trade_records[0].value["payload"][1]
    assert trade["trade_id"].startswith("T") and trade["ordertxid"].startswith("O")
    assert trade_records[0].value["event_time"] is not None
    [refused] = [
        r.value
        for r in trades
        if r.value["connection"] == "kraken-bad" and payload_kind(r) == "SubscriptionEvent"
    ]
    assert refused["payload"][1] == {
        "event": "error",
        "request_id": "1",
        "code": "ESession",
        "message": "ESession:Invalid session",
    }

    # the token is a secret: not in the bridge's logs, nor in any record
    lines = bridge_log(caplog.records)
    assert "> TEXT" in lines
    assert TOKEN not in lines
    for record in [*orders, *trades, *found["kraken.raw"]]:
        assert TOKEN not in record.to_json()
