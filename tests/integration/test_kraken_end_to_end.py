"""Kraken v1 end to end: simulator → bridge → Avro on a real Kafka broker → decoded back."""

from __future__ import annotations

import datetime as dt
import logging
import time
import zlib
from decimal import Decimal
from typing import Any

import pytest

from bridge.avro.decode import TailedRecord
from bridge.sandbox.kraken import AUTH_PATH, KrakenSimulator
from tests.fixtures import load_fixture
from tests.integration.harness import (
    bridge_settings,
    fast_reconnect,
    payload_kind,
    payloads,
    read_topic,
    running_bridge,
    unique_prefix,
    wait_until,
)

TOKEN = "kraken-ws-token-Secret-42"
PUBLIC_ID = 14859574189081089471  # PROTOCOLS.md's connectionID: beyond 2**63
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def public(sim: KrakenSimulator, *subscriptions: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": "kraken-public",
        "exchange": "kraken",
        "url": sim.url(),
        "tls": {"ca_file": sim.ca_file} if sim.ca_file else {},
        "subscriptions": list(subscriptions),
        **fast_reconnect(**extra),
    }


def private(
    sim: KrakenSimulator,
    *subscriptions: dict[str, Any],
    token: str = TOKEN,
    name: str = "kraken-auth",
) -> dict[str, Any]:
    return {
        "name": name,
        "exchange": "kraken",
        "url": sim.url(AUTH_PATH),
        "credentials": {"token": token},
        "subscriptions": list(subscriptions),
        **fast_reconnect(),
    }


def micros(value: dt.datetime) -> int:
    return (value - EPOCH) // dt.timedelta(microseconds=1)


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in a Prometheus text exposition, or None."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{{wanted}}} "):
            return float(line.rsplit(" ", 1)[1])
    return None


def checksum(asks: list[tuple[str, str]], bids: list[tuple[str, str]]) -> str:
    text = "".join(
        p.replace(".", "").lstrip("0") + v.replace(".", "").lstrip("0")
        for p, v in asks[:10] + bids[:10]
    )
    return str(zlib.crc32(text.encode()))


class ConsumerBook:
    """What a consumer of kraken.book does: start from a snapshot record, apply update records,
    keep the depth of the record's arg, and check each update's checksum."""

    def __init__(self) -> None:
        self.asks: dict[Decimal, tuple[str, str]] = {}
        self.bids: dict[Decimal, tuple[str, str]] = {}
        self.started = False
        self.verified = 0
        self.failed = 0

    def apply(self, record: TailedRecord) -> None:
        book = record.value["payload"][1]
        depth = int(record.value["arg"]["depth"])
        if book["snapshot"]:
            self.asks, self.bids, self.started = {}, {}, True
        elif not self.started:
            return
        for side, levels in ((self.asks, book["asks"]), (self.bids, book["bids"])):
            for level in levels:
                if Decimal(level["volume"]) == 0:
                    side.pop(Decimal(level["price"]), None)
                else:
                    side[Decimal(level["price"])] = (level["price"], level["volume"])
        for key in sorted(self.asks)[depth:]:
            del self.asks[key]
        for key in sorted(self.bids, reverse=True)[depth:]:
            del self.bids[key]
        if book["checksum"] is not None:
            ok = checksum(*self.levels()) == book["checksum"]
            self.verified += ok
            self.failed += not ok

    def levels(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        return (
            [self.asks[k] for k in sorted(self.asks)],
            [self.bids[k] for k in sorted(self.bids, reverse=True)],
        )


# --- the seed's four examples -------------------------------------------------------------


async def test_seed_examples_round_trip_with_every_field(kafka_bootstrap: str) -> None:
    prefix = unique_prefix()
    seeds = {
        "subscribed-ticker.json": ("kraken.ticker", False),
        "unsubscribed-ohlc.json": ("kraken.ohlc", False),
        "error-book-depth.json": ("kraken.book", False),
        "subscribed-owntrades.json": ("kraken.ownTrades", True),
    }
    async with KrakenSimulator(tokens={TOKEN}, first_connection_id=PUBLIC_ID) as sim:
        settings = bridge_settings(
            kafka_bootstrap,
            prefix,
            [
                public(
                    sim,
                    {"name": "ticker", "pair": ["XBT/EUR"]},
                    {"name": "ohlc", "interval": 5, "pair": ["XBT/EUR"]},
                    {"name": "book", "depth": 42, "pair": ["XBT/USD"]},
                ),
                private(sim, {"name": "ownTrades"}),
            ],
        )
        async with running_bridge(settings) as bridge:
            await sim.wait_for_subscribers("ohlc")
            await sim.wait_for_subscribers("ownTrades")
            await wait_until(
                lambda: sim.stats.errors_sent.get("Subscription depth not supported") == 1,
                what="the depth error",
            )
            for name, (_, auth) in seeds.items():
                await sim.send_raw(load_fixture("kraken", name), path=AUTH_PATH if auth else "/")
            texts = {load_fixture("kraken", name).encode() for name in seeds}
            raw = await read_topic(
                kafka_bootstrap,
                prefix + "kraken.raw",
                lambda rs: texts <= {r.value["data"] for r in rs},
            )
            typed = {
                topic: await read_topic(
                    kafka_bootstrap,
                    prefix + topic,
                    lambda rs: sum(payload_kind(r) == "SubscriptionEvent" for r in rs) >= 2,
                )
                for topic, _ in seeds.values()
            }
            metrics = bridge.metrics.render().decode()
            connects = sim.stats.connects_total
            exchange_ids = {c.path: str(c.connection_id) for c in sim.connections}

    assert all(int(i) > 2**63 for i in exchange_ids.values())
    by_data = {r.value["data"]: r for r in raw}
    expected_payloads = {
        "subscribed-ticker.json": ("subscribe", None, None, None),
        "unsubscribed-ohlc.json": ("unsubscribe", "42", None, None),
        "error-book-depth.json": (
            "error",
            None,
            "depth_not_supported",
            "Subscription depth not supported",
        ),
        "subscribed-owntrades.json": ("subscribe", None, None, None),
    }
    expected_meta = {
        "subscribed-ticker.json": (
            "ticker",
            {"name": "ticker", "pair": "XBT/EUR", "channelID": "10001"},
            "XBT/EUR",
        ),
        "unsubscribed-ohlc.json": (
            "ohlc-5",
            {"name": "ohlc", "pair": "XBT/EUR", "interval": "5", "channelID": "10001"},
            "XBT/EUR",
        ),
        "error-book-depth.json": (
            "book-42",
            {"name": "book", "pair": "XBT/USD", "depth": "42"},
            "XBT/USD",
        ),
        "subscribed-owntrades.json": ("ownTrades", {"name": "ownTrades"}, "ownTrades"),
    }
    for name, (topic, auth) in seeds.items():
        raw_record = by_data[load_fixture("kraken", name).encode()]
        conn_id = raw_record.value["connection_id"]
        sequence = raw_record.value["sequence"]
        [record] = [
            r
            for r in typed[topic]
            if r.value["connection_id"] == conn_id and r.value["sequence"] == sequence
        ]
        channel, arg, key = expected_meta[name]
        value = record.value
        assert record.key == key, name
        assert record.schema == f"kraken/{topic.removeprefix('kraken.')}.v1"
        assert (value["exchange"], value["channel"], value["arg"]) == ("kraken", channel, arg)
        assert value["receive_time"] == raw_record.value["receive_time"]
        assert value["event_time"] is None
        assert value["connection"] == ("kraken-auth" if auth else "kraken-public")
        assert conn_id.startswith(value["connection"] + "#")
        # the connectionID of the connection's systemStatus, every digit kept
        assert value["exchange_connection_id"] == exchange_ids[AUTH_PATH if auth else "/"]
        assert value["bridge_instance"] == "test"
        kind, payload = value["payload"]
        assert kind == "exchange_bridge.SubscriptionEvent"
        event, request_id, code, message = expected_payloads[name]
        assert payload == {
            "event": event,
            "request_id": request_id,
            "code": code,
            "message": message,
        }, name

    # the simulator's own answers to the bridge's requests came first, with the bridge's reqids
    book_acks = payloads(typed["kraken.book"], "SubscriptionEvent")
    assert book_acks[0] == {
        "event": "error",
        "request_id": "3",
        "code": "depth_not_supported",
        "message": "Subscription depth not supported",
    }
    # an invalid depth is an error record, not a reason to reconnect
    assert connects == 2
    assert (
        metric(
            metrics, "bridge_exchange_errors_total", exchange="kraken", code="depth_not_supported"
        )
        == 2
    )
    assert (
        metric(
            metrics,
            "bridge_subscriptions",
            exchange="kraken",
            connection="kraken-public",
            state="failed",
        )
        == 1
    )


# --- public channels ------------------------------------------------------------------------


async def test_public_channels_arrive_typed_and_a_consumer_rebuilds_the_book(
    kafka_bootstrap: str,
) -> None:
    prefix = unique_prefix()
    async with KrakenSimulator(tls=True, rate=20, rates={"book": 40}) as sim:
        settings = bridge_settings(
            kafka_bootstrap,
            prefix,
            [
                public(
                    sim,
                    {"name": "ticker", "pair": ["BTC/USD", "ETH/USD", "XBT/EUR"]},
                    {"name": "ohlc", "interval": 5, "pair": ["XBT/USD"]},
                    {"name": "trade", "pair": ["XBT/USD"]},
                    {"name": "spread", "pair": ["XBT/USD"]},
                    {"name": "book", "pair": ["XBT/USD", "ETH/XBT"]},
                )
            ],
        )
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscriptions")
            records = {
                name: await read_topic(
                    kafka_bootstrap,
                    prefix + f"kraken.{name}",
                    lambda rs, kind=kind: len(payloads(rs, kind)) >= 3,
                )
                for name, kind in [
                    ("ticker", "Ticker"),
                    ("ohlc", "Ohlc"),
                    ("trade", "Trade"),
                    ("spread", "Spread"),
                ]
            }
            await wait_until(lambda: sim.stats.pushes_sent.get("book", 0) >= 60, what="books")
            await sim.pause_generators()  # nothing more from here on
            sent = sim.stats.pushes_sent["book"]
            expected = {pair: sim.book(pair, 10) for pair in ("XBT/USD", "ETH/XBT")}
            book_records = await read_topic(
                kafka_bootstrap,
                prefix + "kraken.book",
                lambda rs: len(payloads(rs, "Book")) >= sent,
            )

    # three pairs in one request: three acks, keyed as configured
    tickers = records["ticker"]
    acks = [r for r in tickers if payload_kind(r) == "SubscriptionEvent"]
    assert sorted(r.key or "" for r in acks) == ["BTC/USD", "ETH/USD", "XBT/EUR"]
    assert {r.value["payload"][1]["request_id"] for r in acks} == {"1"}
    assert {r.value["arg"]["pair"] for r in acks} == {"XBT/USD", "ETH/USD", "XBT/EUR"}

    ticker = payloads(tickers, "Ticker")[0]
    for field in ("ask_price", "bid_price", "close_price", "volume_today", "vwap_24h", "open_24h"):
        assert isinstance(ticker[field], str) and Decimal(ticker[field]) >= 0, field
    for field in ("ask_whole_lot_volume", "trades_today", "trades_24h"):
        assert isinstance(ticker[field], int), field
    assert ticker["extra"] == {} and ticker["pair"] in ("XBT/USD", "ETH/USD", "XBT/EUR")

    [ohlc_record, *_] = [r for r in records["ohlc"] if payload_kind(r) == "Ohlc"]
    ohlc = ohlc_record.value["payload"][1]
    assert ohlc_record.value["channel"] == "ohlc-5" and ohlc_record.key == "XBT/USD"
    assert micros(ohlc["time"]) == int(Decimal(ohlc["time_text"]) * 1_000_000)
    assert micros(ohlc["etime"]) % 300_000_000 == 0 and isinstance(ohlc["count"], int)
    assert ohlc_record.value["event_time"] == ohlc["time"].replace(
        microsecond=ohlc["time"].microsecond // 1000 * 1000
    )

    for trade in payloads(records["trade"], "Trade"):
        assert micros(trade["time"]) == int(Decimal(trade["time_text"]) * 1_000_000)
        assert trade["side"] in ("b", "s") and Decimal(trade["price"]) > 0
    spread = payloads(records["spread"], "Spread")[0]
    assert Decimal(spread["bid"]) < Decimal(spread["ask"]) and spread["bid_volume"] is not None

    # a consumer of kraken.book alone rebuilds the simulator's books, checksums and all
    books: dict[str, ConsumerBook] = {}
    for record in book_records:
        if payload_kind(record) == "Book":
            books.setdefault(record.key or "", ConsumerBook()).apply(record)
    for pair, levels in expected.items():
        book = books[pair]
        assert book.failed == 0 and book.verified > 5, pair
        assert book.levels() == (levels.asks, levels.bids), pair
    both_sides = [
        p for p in payloads(book_records, "Book") if not p["snapshot"] and p["asks"] and p["bids"]
    ]
    assert both_sides, "no update touched both sides"


# --- checksum mismatch ----------------------------------------------------------------------


async def test_a_corrupted_checksum_resubscribes_that_book_only(kafka_bootstrap: str) -> None:
    prefix = unique_prefix()
    async with KrakenSimulator(rates={"book": 30}) as sim:
        settings = bridge_settings(
            kafka_bootstrap,
            prefix,
            [public(sim, {"name": "book", "depth": 10, "pair": ["BTC/USD", "ETH/USD"]})],
        )
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscriptions")
            await wait_until(lambda: sim.stats.pushes_sent.get("book", 0) >= 10, what="updates")
            sim.corrupt_next_checksum("XBT/USD")
            records = await read_topic(
                kafka_bootstrap,
                prefix + "kraken.book",
                lambda rs: (
                    sum(
                        r.key == "BTC/USD"
                        and payload_kind(r) == "Book"
                        and r.value["payload"][1]["snapshot"]
                        for r in rs
                    )
                    == 2
                ),
            )
            await wait_until(lambda: bridge.sessions[0].subscribed, what="resubscribed")
            metrics = bridge.metrics.render().decode()
            stats = sim.stats

    markers = [r for r in records if payload_kind(r) == "SessionMarker"]
    assert [
        (r.key, r.value["payload"][1]["kind"], r.value["payload"][1]["reason"]) for r in markers
    ] == [
        ("BTC/USD", "resubscribed", "started"),
        ("ETH/USD", "resubscribed", "started"),
        ("BTC/USD", "resync", "checksum_mismatch"),
    ]
    assert markers[-1].value["channel"] == "book-10"
    acks = [
        (r.key, r.value["payload"][1]["event"], r.value["payload"][1]["request_id"])
        for r in records
        if payload_kind(r) == "SubscriptionEvent"
    ]
    assert acks == [
        ("BTC/USD", "subscribe", "1"),
        ("ETH/USD", "subscribe", "1"),
        ("BTC/USD", "unsubscribe", "2"),
        ("BTC/USD", "subscribe", "3"),
    ]
    # the marker comes right after the update whose checksum failed, before the resubscription
    books = [r for r in records if r.key == "BTC/USD"]
    index = next(
        i
        for i, r in enumerate(books)
        if payload_kind(r) == "SessionMarker" and r.value["payload"][1]["kind"] == "resync"
    )
    assert payload_kind(books[index - 1]) == "Book"
    snapshots = [
        r.key for r in records if payload_kind(r) == "Book" and r.value["payload"][1]["snapshot"]
    ]
    assert sorted(snapshots) == ["BTC/USD", "BTC/USD", "ETH/USD"]
    assert (stats.checksums_corrupted, stats.unsubscribe_requests, stats.connects_total) == (
        1,
        1,
        1,
    )
    assert (
        metric(
            metrics,
            "bridge_resyncs_total",
            exchange="kraken",
            connection="kraken-public",
            channel="book-10",
            reason="checksum_mismatch",
        )
        == 1
    )


# --- maintenance, heartbeats ----------------------------------------------------------------


async def test_maintenance_shows_in_metrics_and_on_events_and_clears(kafka_bootstrap: str) -> None:
    prefix = unique_prefix()
    async with KrakenSimulator(heartbeat_interval=0.2, first_connection_id=2**64 - 1) as sim:
        settings = bridge_settings(
            kafka_bootstrap,
            prefix,
            [
                public(
                    sim,
                    {"name": "spread", "pair": ["XBT/USD"]},
                    keepalive_seconds=1.0,
                    idle_timeout_seconds=1.5,  # heartbeats alone keep the connection alive
                )
            ],
        )
        async with running_bridge(settings) as bridge:

            def maintenance() -> float | None:
                return metric(
                    bridge.metrics.render().decode(),
                    "bridge_exchange_maintenance",
                    exchange="kraken",
                )

            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscription")
            assert maintenance() == 0
            await sim.set_status("maintenance")
            await wait_until(lambda: maintenance() == 1, what="maintenance metric")
            await sim.set_status("post_only")
            await wait_until(lambda: sim.stats.heartbeats_sent >= 10, what="heartbeats")
            assert maintenance() == 1
            await sim.set_status("online")
            await wait_until(lambda: maintenance() == 0, what="maintenance cleared")
            events = await read_topic(
                kafka_bootstrap,
                prefix + "kraken.events",
                lambda rs: len(payloads(rs, "ConnectionEvent")) >= 4,
            )
            metrics = bridge.metrics.render().decode()
            assert bridge.sessions[0].subscribed
            connects = sim.stats.connects_total

    statuses = payloads(events, "ConnectionEvent")
    assert [(s["event"], s["attributes"]["status"]) for s in statuses] == [
        ("systemStatus", "online"),
        ("systemStatus", "maintenance"),
        ("systemStatus", "post_only"),
        ("systemStatus", "online"),
    ]
    for event in statuses:
        assert event["attributes"] == {
            "connectionID": "18446744073709551615",
            "version": "1.9.0",
            "status": event["attributes"]["status"],
        }
    assert {r.value["exchange_connection_id"] for r in events} == {"18446744073709551615"}
    assert {r.key for r in events} == {"events"}
    # the bridge kept its connection and subscription through maintenance; heartbeats were
    # counted (and kept the line alive) but not published
    assert connects == 1
    heartbeats = metric(
        metrics,
        "bridge_events_total",
        exchange="kraken",
        connection="kraken-public",
        type="Heartbeat",
    )
    assert heartbeats is not None and heartbeats >= 10


async def test_reconnects_no_faster_than_every_five_seconds(kafka_bootstrap: str) -> None:
    prefix = unique_prefix()
    async with KrakenSimulator() as sim:
        settings = bridge_settings(
            kafka_bootstrap, prefix, [public(sim, {"name": "ticker", "pair": ["XBT/USD"]})]
        )
        async with running_bridge(settings) as bridge:
            session = bridge.sessions[0]
            await wait_until(lambda: session.subscribed, what="subscription")
            await sim.drop_connections()
            dropped = time.monotonic()
            await wait_until(lambda: sim.stats.connects_total == 2, timeout=10, what="reconnect")
            waited = time.monotonic() - dropped
            await wait_until(lambda: session.subscribed, what="resubscription")
            records = await read_topic(
                kafka_bootstrap,
                prefix + "kraken.ticker",
                lambda rs: (
                    ("resubscribed", "reconnected")
                    in [(m["kind"], m["reason"]) for m in payloads(rs, "SessionMarker")]
                ),
            )
    # reconnect.initial_seconds is 0.2 here; Kraken's limit wins
    assert 5.0 <= waited < 8.0
    markers = [(m["kind"], m["reason"]) for m in payloads(records, "SessionMarker")]
    assert markers == [
        ("resubscribed", "started"),
        ("disconnected", "connection_lost"),
        ("resubscribed", "reconnected"),
    ]


# --- private channels -----------------------------------------------------------------------


async def test_private_channels_with_a_token(
    kafka_bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    prefix = unique_prefix()
    async with KrakenSimulator(tokens={TOKEN}) as sim:
        for _ in range(3):
            sim.new_order_and_fill()  # two open orders and one trade before we subscribe
        settings = bridge_settings(
            kafka_bootstrap,
            prefix,
            [
                private(sim, {"name": "openOrders", "ratecounter": True}, {"name": "ownTrades"}),
                private(sim, {"name": "ownTrades"}, token="not-the-token", name="kraken-bad"),
            ],
        )
        async with running_bridge(settings) as bridge:
            good = next(s for s in bridge.sessions if s.name == "kraken-auth")
            await wait_until(lambda: good.subscribed, what="private subscriptions")
            sim.new_order_and_fill()
            orders = await read_topic(
                kafka_bootstrap,
                prefix + "kraken.openOrders",
                lambda rs: sum(p["sequence"] == 2 for p in payloads(rs, "OpenOrder")) == 2,
            )
            trades = await read_topic(
                kafka_bootstrap,
                prefix + "kraken.ownTrades",
                lambda rs: (
                    any(p["sequence"] == 2 for p in payloads(rs, "OwnTrade"))
                    and any(p["event"] == "error" for p in payloads(rs, "SubscriptionEvent"))
                ),
            )
            raw = await read_topic(kafka_bootstrap, prefix + "kraken.raw", lambda rs: len(rs) >= 8)

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
    bridge_lines = "\n".join(
        r.getMessage()
        for r in caplog.records
        if not r.name.startswith(("bridge.sandbox", "websockets.server"))
    )
    assert "> TEXT" in bridge_lines
    assert TOKEN not in bridge_lines
    for record in [*orders, *trades, *raw]:
        assert TOKEN not in record.to_json()
