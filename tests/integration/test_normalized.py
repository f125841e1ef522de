"""The normalized topics end to end (three simulators → one bridge → Kafka → decoded): every
exchange's trades on ``normalized.trades`` in the order the exchanges sent them, per key; one
consumer, with one algorithm, rebuilding every exchange's books from ``normalized.book`` across a
dropped connection and a resync; and ``bridge rebuild`` writing the same normalized records
again from the raw frames."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

from bridge.avro.decode import TailedRecord
from bridge.commands.rebuild import rebuild
from bridge.settings import Settings
from tests.integration.exchanges import KRAKEN, OKEX_V1, OKX
from tests.integration.harness import (
    Found,
    bridge_settings,
    payload_kind,
    read_topics,
    running_bridge,
    unique_prefix,
    wait_until,
)

TRADE_SUBSCRIPTIONS = {
    "okx": [{"channel": "trades", "instId": "BTC-USDT"}],
    "kraken": [{"name": "trade", "pair": ["XBT/USD"]}],
    "okex_v1": [{"channel": "ok_sub_spot_bch_btc_deals"}],
}
RAW_TOPICS = ("okx.raw", "kraken.raw", "okex.raw")
TRADES_PER_EXCHANGE = 15
BREAKS = {"disconnected", "resync", "handover"}


@contextlib.asynccontextmanager
async def simulators(**options: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    """The three simulators, with ``options[exchange]`` as their arguments."""
    async with (
        OKX.simulator(**options.get("okx", {})) as okx,
        KRAKEN.simulator(**options.get("kraken", {})) as kraken,
        OKEX_V1.simulator(**options.get("okex_v1", {})) as okex,
    ):
        yield {"okx": okx, "kraken": kraken, "okex_v1": okex}


def normalized_settings(
    bootstrap: str, prefix: str, sims: dict[str, Any], subscriptions: dict[str, Any]
) -> Settings:
    """One connection per exchange, every one writing the normalized topics (the global
    switch)."""
    entries = {"okx": OKX, "kraken": KRAKEN, "okex_v1": OKEX_V1}
    connections = [
        entries[name].connection(sims[name], subs) for name, subs in subscriptions.items()
    ]
    return bridge_settings(bootstrap, prefix, connections, publisher={"normalized_topics": True})


# --- trades -----------------------------------------------------------------------------------


def trades_in_raw_frames(found: Found) -> tuple[dict[str, list[tuple[Any, ...]]], int]:
    """The trades each exchange sent, read from the raw frames with nothing but JSON: per
    normalized key, (trade id, price, amount, taker side) in the order received; and how many
    frames pushed trades."""
    trades: dict[str, list[tuple[Any, ...]]] = {}
    frames = 0
    for topic in RAW_TOPICS:
        for record in found[topic]:
            message = json.loads(bytes(record.value["data"]))
            rows: list[tuple[str, tuple[Any, ...]]] = []
            if topic == "okx.raw" and isinstance(message, dict) and "data" in message:
                if message.get("arg", {}).get("channel") == "trades":
                    for t in message["data"]:
                        rows.append(("okx:BTC-USDT", (t["tradeId"], t["px"], t["sz"], t["side"])))
            elif topic == "kraken.raw" and isinstance(message, list) and message[-2] == "trade":
                for price, volume, _time, side, *_ in message[1]:
                    row = (None, price, volume, {"b": "buy", "s": "sell"}[side])
                    rows.append(("kraken:BTC-USD", row))
            elif topic == "okex.raw" and isinstance(message, list):
                for element in message:
                    if str(element.get("channel", "")).endswith("_deals"):
                        for tid, price, amount, _time, kind in element["data"]:
                            row = (tid, price, amount, {"bid": "buy", "ask": "sell"}[kind])
                            rows.append(("okex_v1:BCH-BTC", row))
            frames += bool(rows)
            for key, row in rows:
                trades.setdefault(key, []).append(row)
    return trades, frames


def normalized_trades(records: list[TailedRecord]) -> dict[str, list[tuple[Any, ...]]]:
    trades: dict[str, list[tuple[Any, ...]]] = {}
    for record in records:
        if payload_kind(record) == "Trade":
            p = record.value["payload"][1]
            row = (p["trade_id"], p["price"], p["amount"], p["side"])
            trades.setdefault(record.key or "", []).append(row)
            # the decimal beside the text is the same number
            assert p["price_decimal"] == Decimal(p["price"])
            assert p["amount_decimal"] == Decimal(p["amount"])
    return trades


def trade_records(records: list[TailedRecord]) -> dict[str, list[dict[str, Any]]]:
    by_key: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        if payload_kind(record) == "Trade":
            by_key.setdefault(record.key or "", []).append(record.value)
    return by_key


async def test_every_exchanges_trades_in_order_on_one_topic_and_rebuilt_from_raw(
    kafka_bootstrap: str,
) -> None:
    prefix = unique_prefix()
    rates = {"okx": {"rates": {"trades": 20}}, "kraken": {"rates": {"trade": 20}}}
    async with simulators(**rates, okex_v1={"rates": {"deals": 20}}) as sims:
        settings = normalized_settings(kafka_bootstrap, prefix, sims, TRADE_SUBSCRIPTIONS)
        async with running_bridge(settings) as bridge:
            await wait_until(
                lambda: all(s.subscribed for s in bridge.sessions), what="subscriptions"
            )
            channels = {
                "okx": "trades",
                "kraken": "trade",
                "okex_v1": "ok_sub_spot_bch_btc_deals",
            }
            await wait_until(
                lambda: all(
                    sims[name].stats.pushes_sent.get(channel, 0) >= TRADES_PER_EXCHANGE
                    for name, channel in channels.items()
                ),
                timeout=30,
                what="trades from every simulator",
            )
            for sim in sims.values():
                await sim.pause_generators()
            sent = {
                name: sims[name].stats.pushes_sent[channel] for name, channel in channels.items()
            }
            raw = await read_topics(
                kafka_bootstrap,
                prefix,
                list(RAW_TOPICS),
                lambda f: trades_in_raw_frames(f)[1] >= sum(sent.values()),
            )
            expected, _ = trades_in_raw_frames(raw)
            found = await read_topics(
                kafka_bootstrap,
                prefix,
                ["normalized.trades"],
                lambda f: normalized_trades(f["normalized.trades"]) == expected,
            )

    assert set(expected) == {"okx:BTC-USDT", "kraken:BTC-USD", "okex_v1:BCH-BTC"}
    live = found["normalized.trades"]
    for key, rows in expected.items():
        assert len(rows) >= TRADES_PER_EXCHANGE, key
    assert {r.value["exchange"] for r in live if payload_kind(r) == "Trade"} == {
        "okx",
        "kraken",
        "okex_v1",
    }
    # one instrument's records on one partition: its order holds for every consumer
    for key in expected:
        assert len({r.partition for r in live if r.key == key}) == 1, key

    # the same raw frames, replayed, write the same normalized records (a new prefix)
    target = unique_prefix()
    for topic in RAW_TOPICS:
        report = await rebuild(settings, prefix + topic, target_prefix=target)
        assert report.undelivered == 0 and not report.partial_connections, report.summary()
    wanted = trade_records(live)
    rebuilt = await read_topics(
        kafka_bootstrap,
        target,
        ["normalized.trades"],
        lambda f: trade_records(f["normalized.trades"]) == wanted,
    )
    assert trade_records(rebuilt["normalized.trades"]) == wanted


# --- books ------------------------------------------------------------------------------------

BOOK_SUBSCRIPTIONS = {
    "okx": [{"channel": "books", "instId": "BTC-USDT"}],
    "kraken": [{"name": "book", "depth": 10, "pair": ["XBT/USD", "ETH/XBT"]}],
    "okex_v1": [{"channel": "ok_sub_spot_bch_btc_depth"}],
}
Levels = tuple[list[tuple[str, str]], list[tuple[str, str]]]


class NormalizedBooks:
    """The one algorithm every exchange's normalized.book takes: one book per key and channel;
    a snapshot replaces it; each level sets the amount at its price (0 removes it); each side
    then keeps its best ``depth`` levels; a disconnected, resync or handover marker on a key
    drops that key's books until their next snapshot."""

    def __init__(self) -> None:
        self.books: dict[tuple[str, str], tuple[dict[Decimal, tuple[str, str]], ...]] = {}
        self.verdicts: dict[str, list[str]] = {}

    def apply(self, record: TailedRecord) -> None:
        key, channel = record.key or "", record.value["channel"]
        kind = payload_kind(record)
        payload = record.value["payload"][1]
        if kind == "SessionMarker":
            if payload["kind"] in BREAKS:
                for book in [b for b in self.books if b[0] == key]:
                    del self.books[book]
            return
        if kind != "BookChange":
            return
        self.verdicts.setdefault(key, []).append(payload["verified"])
        if payload["snapshot"]:
            self.books[(key, channel)] = ({}, {})
        book = self.books.get((key, channel))
        if book is None:
            return  # an update before the snapshot that starts the book
        asks, bids = book
        for side, levels, best_first in (
            (asks, payload["asks"], False),
            (bids, payload["bids"], True),
        ):
            for level in levels:
                price = Decimal(level["price"])
                if Decimal(level["amount"]) == 0:
                    side.pop(price, None)
                else:
                    side[price] = (level["price"], level["amount"])
            if payload["depth"] is not None:
                for worse in sorted(side, reverse=best_first)[payload["depth"] :]:
                    del side[worse]

    def levels(self, key: str) -> Levels | None:
        books = [b for k, b in self.books.items() if k[0] == key]
        if not books:
            return None
        asks, bids = books[0]
        return (
            [asks[p] for p in sorted(asks)],
            [bids[p] for p in sorted(bids, reverse=True)],
        )


def expected_books(sims: dict[str, Any]) -> dict[str, Levels]:
    okx, kraken, okex = sims["okx"], sims["kraken"], sims["okex_v1"]
    return {
        "okx:BTC-USDT": (okx.book("BTC-USDT").asks, okx.book("BTC-USDT").bids),
        "kraken:BTC-USD": (kraken.book("XBT/USD", 10).asks, kraken.book("XBT/USD", 10).bids),
        "kraken:ETH-BTC": (kraken.book("ETH/XBT", 10).asks, kraken.book("ETH/XBT", 10).bids),
        "okex_v1:BCH-BTC": (okex.book("bch_btc").asks, okex.book("bch_btc").bids),
    }


def rebuilt(found: Found) -> NormalizedBooks:
    books = NormalizedBooks()
    for record in found["normalized.book"]:
        books.apply(record)
    return books


async def test_one_consumer_rebuilds_every_exchanges_book_across_a_drop_and_a_resync(
    kafka_bootstrap: str,
) -> None:
    prefix = unique_prefix()
    options = {"okx": {"rates": {"books": 25}}, "kraken": {"rates": {"book": 40}}}
    async with simulators(**options) as sims:
        okex_change = OKEX_V1.book.start(sims["okex_v1"])  # type: ignore[union-attr]
        settings = normalized_settings(kafka_bootstrap, prefix, sims, BOOK_SUBSCRIPTIONS)
        async with running_bridge(settings) as bridge:
            sessions = bridge.sessions

            async def books_move() -> None:
                okx_target = sims["okx"].stats.pushes_sent.get("books", 0) + 15
                kraken_target = sims["kraken"].stats.pushes_sent.get("book", 0) + 15
                await okex_change(10)
                await wait_until(
                    lambda: (
                        sims["okx"].stats.pushes_sent["books"] >= okx_target
                        and sims["kraken"].stats.pushes_sent["book"] >= kraken_target
                    ),
                    what="book changes",
                )

            await wait_until(lambda: all(s.subscribed for s in sessions), what="subscriptions")
            await books_move()
            for sim in sims.values():
                await sim.drop_connections()  # abrupt: no close frame
            await wait_until(
                lambda: (
                    all(s.stats.connects_total == 2 for s in sims.values())
                    and all(s.subscribed for s in sessions)
                ),
                timeout=30,
                what="every connection back",
            )
            await books_move()
            sims["okx"].lose_next_update("BTC-USDT")
            sims["kraken"].corrupt_next_checksum("XBT/USD")
            await wait_until(
                lambda: (
                    sims["okx"].stats.unsubscribe_requests == 1
                    and sims["kraken"].stats.unsubscribe_requests == 1
                ),
                timeout=30,
                what="both resyncs",
            )
            await wait_until(lambda: all(s.subscribed for s in sessions), what="resubscribed")
            await books_move()
            for sim in sims.values():
                await sim.pause_generators()
            expected = expected_books(sims)
            found = await read_topics(
                kafka_bootstrap,
                prefix,
                ["normalized.book"],
                lambda f: all(rebuilt(f).levels(k) == v for k, v in expected.items()),
                timeout=30,
            )

    books = rebuilt(found)
    for key, levels in expected.items():
        assert books.levels(key) == levels, key
        assert levels[0] and levels[1], key  # a book with both sides, not an empty match
    records = found["normalized.book"]
    markers = {
        (r.key, r.value["payload"][1]["kind"], r.value["payload"][1]["reason"])
        for r in records
        if payload_kind(r) == "SessionMarker"
    }
    for key in expected:
        assert (key, "disconnected", "connection_lost") in markers, key
    assert ("okx:BTC-USDT", "resync", "sequence_gap") in markers
    assert ("kraken:BTC-USD", "resync", "checksum_mismatch") in markers
    # the record that broke each book says so, before its marker
    assert "failed" in books.verdicts["okx:BTC-USDT"]
    assert "failed" in books.verdicts["kraken:BTC-USD"]
    assert "failed" not in books.verdicts["kraken:ETH-BTC"]
    assert set(books.verdicts["okex_v1:BCH-BTC"]) == {"not_checked"}  # no checksum in v1
    assert "verified" in books.verdicts["kraken:ETH-BTC"]
