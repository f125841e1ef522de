"""Kraken v1 in the exchange table: public channels (a checksummed book among them) on one
endpoint, private channels with a token on another; the seeds are the documentation's
subscription answers."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from bridge.runtime.app import Bridge
from bridge.sandbox.kraken import AUTH_PATH, PUBLIC_PATH, KrakenSimulator
from tests.fixtures import load_fixture
from tests.integration.exchanges.books import ConsumerBook, KrakenBook
from tests.integration.exchanges.entry import (
    MAX_FRAME_BYTES,
    TOKEN,
    Book,
    Exchange,
    Malformed,
    RefusedSubscription,
    Seeds,
    Seen,
    parse_json,
)
from tests.integration.harness import Found, payload_kind, payloads, wait_until

PUBLIC_ID = 14859574189081089471  # PROTOCOLS.md's connectionID: beyond 2**63
SEEDS_SENT = {  # fixture -> (topic, sent on the token connection)
    "subscribed-ticker.json": ("kraken.ticker", False),
    "unsubscribed-ohlc.json": ("kraken.ohlc", False),
    "error-book-depth.json": ("kraken.book", False),
    "subscribed-owntrades.json": ("kraken.ownTrades", True),
}
EXPECTED = {  # fixture -> (channel, arg, key), then the SubscriptionEvent
    "subscribed-ticker.json": (
        ("ticker", {"name": "ticker", "pair": "XBT/EUR", "channelID": "10001"}, "XBT/EUR"),
        ("subscribe", None, None, None),
    ),
    "unsubscribed-ohlc.json": (
        (
            "ohlc-5",
            {"name": "ohlc", "pair": "XBT/EUR", "interval": "5", "channelID": "10001"},
            "XBT/EUR",
        ),
        ("unsubscribe", "42", None, None),
    ),
    "error-book-depth.json": (
        ("book-42", {"name": "book", "pair": "XBT/USD", "depth": "42"}, "XBT/USD"),
        ("error", None, "depth_not_supported", "Subscription depth not supported"),
    ),
    "subscribed-owntrades.json": (
        ("ownTrades", {"name": "ownTrades"}, "ownTrades"),
        ("subscribe", None, None, None),
    ),
}


def _connections(kraken: Exchange, sim: Any) -> list[dict[str, Any]]:
    return [
        kraken.connection(
            sim,
            [
                {"name": "ticker", "pair": ["XBT/EUR"]},
                {"name": "ohlc", "interval": 5, "pair": ["XBT/EUR"]},
                {"name": "book", "depth": 42, "pair": ["XBT/USD"]},
            ],
        ),
        kraken.connection(
            sim,
            [{"name": "ownTrades"}],
            path=AUTH_PATH,
            name="kraken-auth",
            credentials={"token": TOKEN},
        ),
    ]


async def _ready(sim: Any, bridge: Bridge) -> None:
    # the depth is refused, so the public connection never counts as subscribed
    await sim.wait_for_subscribers("ohlc")
    await sim.wait_for_subscribers("ownTrades")
    await wait_until(
        lambda: sim.stats.errors_sent.get("Subscription depth not supported") == 1,
        what="the depth error",
    )


async def _send(sim: Any) -> None:
    for name, (_, auth) in SEEDS_SENT.items():
        await sim.send_raw(load_fixture("kraken", name), path=AUTH_PATH if auth else "/")


def _check(found: Found, seen: Seen) -> None:
    assert all(int(i) > 2**63 for i in seen.conn_ids.values())
    by_data = {r.value["data"]: r for r in found["kraken.raw"]}
    for name, (topic, auth) in SEEDS_SENT.items():
        raw_record = by_data[load_fixture("kraken", name).encode()]
        conn_id = raw_record.value["connection_id"]
        sequence = raw_record.value["sequence"]
        [record] = [
            r
            for r in found[topic]
            if r.value["connection_id"] == conn_id and r.value["sequence"] == sequence
        ]
        (channel, arg, key), (event, request_id, code, message) = EXPECTED[name]
        value = record.value
        assert record.key == key, name
        assert record.schema == f"kraken/{topic.removeprefix('kraken.')}.v1"
        assert (value["exchange"], value["channel"], value["arg"]) == ("kraken", channel, arg)
        assert value["receive_time"] == raw_record.value["receive_time"]
        assert value["event_time"] is None
        assert value["connection"] == ("kraken-auth" if auth else "kraken-public")
        assert conn_id.startswith(value["connection"] + "#")
        # the connectionID of the connection's systemStatus, every digit kept
        assert value["exchange_connection_id"] == seen.conn_ids[AUTH_PATH if auth else "/"]
        assert value["bridge_instance"] == "test"
        kind, payload = value["payload"]
        assert kind == "exchange_bridge.SubscriptionEvent"
        assert payload == {
            "event": event,
            "request_id": request_id,
            "code": code,
            "message": message,
        }, name

    # the simulator's own answers to the bridge's requests came first, with the bridge's reqids
    book_acks = payloads(found["kraken.book"], "SubscriptionEvent")
    assert book_acks[0] == {
        "event": "error",
        "request_id": "3",
        "code": "depth_not_supported",
        "message": "Subscription depth not supported",
    }
    # an invalid depth is an error record, not a reason to reconnect (checked for every
    # exchange: seen.connects)
    assert (
        'bridge_exchange_errors_total{code="depth_not_supported",exchange="kraken"} 2.0'
        in seen.metrics
    )
    assert (
        'bridge_subscriptions{connection="kraken-public",exchange="kraken",state="failed"} 1.0'
        in seen.metrics
    )


SEEDS = Seeds(
    simulator={"tls": True, "tokens": {TOKEN}, "first_connection_id": PUBLIC_ID},
    connections=_connections,
    ready=_ready,
    send=_send,
    raw_frames={("text", load_fixture("kraken", n).encode()) for n in SEEDS_SENT},
    topics=["kraken.raw", *sorted({t for t, _ in SEEDS_SENT.values()})],
    complete=lambda f: all(
        sum(payload_kind(r) == "SubscriptionEvent" for r in f[t]) >= 2
        for t, _ in SEEDS_SENT.values()
    ),
    check=_check,
)


def _marked_push(marker: str) -> str:
    frame = json.loads(load_fixture("kraken", "ticker.json"))
    frame[1]["c"] = [marker, "1.0"]
    return json.dumps(frame)


def _oversized() -> str:
    frame = json.loads(load_fixture("kraken", "ticker.json"))
    frame[1]["pad"] = "x" * (MAX_FRAME_BYTES + 1)
    return json.dumps(frame)


def _book(sim: KrakenSimulator) -> Callable[[int], Awaitable[None]]:
    """The simulator's own book generator: wait for so many more book pushes."""

    async def change(count: int) -> None:
        target = sim.stats.pushes_sent["book"] + count
        await wait_until(lambda: sim.stats.pushes_sent["book"] >= target, what="book pushes")

    return change


def _book_check(books: dict[str, ConsumerBook], pushed: list[dict[str, Any]]) -> None:
    for pair, book in books.items():
        assert isinstance(book, KrakenBook)
        assert book.failed == 0 and book.verified > 5, pair
    both_sides = [p for p in pushed if not p["snapshot"] and p["asks"] and p["bids"]]
    assert both_sides, "no update touched both sides"


KRAKEN = Exchange(
    name="kraken",
    simulator=KrakenSimulator,
    path=PUBLIC_PATH,
    connection_name="kraken-public",
    is_push=lambda data: isinstance(parse_json(data), list),
    stream_subscriptions=[{"name": "ticker", "pair": ["XBT/USD", "ETH/USD"]}],
    stream_topic="kraken.ticker",
    stream_keys=("XBT/USD", "ETH/USD"),
    stream_channel="ticker",
    streaming={"rate": 20},
    drops=1,
    refused_attempts=2,
    quiet_subscriptions=[{"name": "ticker", "pair": ["XBT/USD"]}],
    quiet={"heartbeat_interval": 0},  # no heartbeats: the line is quiet
    bad_input_subscriptions=[
        {"name": "ticker", "pair": ["XBT/USD"]},
        {"name": "trade", "pair": ["XBT/USD"]},
        {"name": "spread", "pair": ["XBT/USD"]},
        {"name": "ohlc", "pair": ["XBT/USD"], "interval": 5},
    ],
    topic="kraken.ticker",
    marked_push=_marked_push,
    is_marked=lambda r, marker: (
        r.value["payload"][0].endswith("Ticker") and r.value["payload"][1]["close_price"] == marker
    ),
    base_frames=tuple(
        load_fixture("kraken", name) for name in ("ticker.json", "trade.json", "spread.json")
    )
    + (load_fixture("kraken", "ohlc.json"),),
    encode_failures=(r'[0,{"c":["5525.1","0.1"],"x":"\udc00"},"ticker","XBT/USD"]',),
    oversized=_oversized(),
    malformed=(
        Malformed('[0,{"c":"soon"},"ticker","XBT/USD"]', "text", "ticker c"),
        Malformed(b"\x00\x01binary-garbage", "binary", "not JSON"),
    ),
    refused_subscription=RefusedSubscription(
        refused={"name": "ticker", "pair": ["XYZ/USD"]},
        accepted={"name": "ticker", "pair": ["XBT/USD"]},
        key="XYZ/USD",
        channel="ticker",
        error={
            "event": "error",
            "request_id": "1",
            "code": "pair_not_supported",
            "message": "Currency pair not supported XYZ/USD",
        },
        errors_sent={"Currency pair not supported XYZ/USD": 1},
    ),
    connect_limit=(600.0, 150),
    book=Book(
        subscriptions=[
            {"name": "book", "pair": ["XBT/USD", "ETH/XBT"]},
            {"name": "ticker", "pair": ["XBT/USD"]},
        ],
        topic="kraken.book",
        other_topic="kraken.ticker",
        kind="Book",
        keys=("XBT/USD", "ETH/XBT"),
        simulator={"rates": {"book": 40}},
        consumer=KrakenBook,
        expected=lambda sim, key: (sim.book(key, 10).asks, sim.book(key, 10).bids),
        start=_book,
        check=_book_check,
    ),
    seeds=SEEDS,
)
