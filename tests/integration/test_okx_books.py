"""OKX order books end to end (simulator → bridge → Kafka → decoded): a broken book is
resynced once, for its instrument only, with a ``resync`` marker after the record that broke it;
a valid stream (keepalives, a sequence reset, checksum 0) never is; and a consumer of
``okx.books`` alone rebuilds the simulator's books."""

from __future__ import annotations

import zlib
from decimal import Decimal
from typing import Any

import pytest

from bridge.avro.decode import TailedRecord
from bridge.sandbox.okx import PUBLIC_PATH, OkxAccount, OkxSimulator
from tests.integration.harness import (
    bridge_settings,
    fast_reconnect,
    metric,
    payload_kind,
    read_topic,
    running_bridge,
    unique_prefix,
    wait_until,
)

KEY, SECRET, PASSPHRASE = "books-key", "books-Secret-9", "books-Pass-7"
BTC = {"channel": "books", "instId": "BTC-USDT"}
ETH = {"channel": "books", "instId": "ETH-USDT"}


def connection(sim: OkxSimulator, *args: dict[str, str], login: bool = False) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if login:
        extra["credentials"] = {"api_key": KEY, "secret_key": SECRET, "passphrase": PASSPHRASE}
    return {
        "name": "okx-books",
        "exchange": "okx",
        "url": sim.url(PUBLIC_PATH),
        "subscriptions": list(args),
        **extra,
        **fast_reconnect(),
    }


def crc(bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> int:
    """OKX's checksum, as its documentation words it."""
    parts: list[str] = []
    for i in range(25):
        if i < len(bids):
            parts += bids[i]
        if i < len(asks):
            parts += asks[i]
    value = zlib.crc32(":".join(parts).encode())
    return value - 2**32 if value >= 2**31 else value


class ConsumerBook:
    """What a consumer of okx.books does: start at a snapshot record, apply update records
    (size 0 deletes), check each one's prevSeqId against the last seqId and a non-zero checksum
    against its own book; after a ``resync`` marker, wait for the next snapshot."""

    def __init__(self) -> None:
        self.bids: dict[Decimal, tuple[str, str]] = {}
        self.asks: dict[Decimal, tuple[str, str]] = {}
        self.seq_id: int | None = None
        self.started = False
        self.checked = 0
        self.broken: list[int] = []  # offsets of records that did not follow

    def apply(self, record: TailedRecord) -> None:
        if payload_kind(record) == "SessionMarker":
            if record.value["payload"][1]["kind"] == "resync":
                self.started = False
            return
        if payload_kind(record) != "Book":
            return
        book = record.value["payload"][1]
        if book["action"] == "snapshot":
            self.bids, self.asks, self.started = {}, {}, True
        elif not self.started:
            return
        elif book["prevSeqId"] != self.seq_id:
            self.broken.append(record.offset)
        for side, levels in ((self.bids, book["bids"]), (self.asks, book["asks"])):
            for level in levels:
                if Decimal(level["size"]) == 0:
                    side.pop(Decimal(level["price"]), None)
                else:
                    side[Decimal(level["price"])] = (level["price"], level["size"])
        self.seq_id = book["seqId"]
        if book["checksum"]:
            self.checked += 1
            if crc(*self.levels()) != book["checksum"]:
                self.broken.append(record.offset)

    def levels(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        return (
            [self.bids[k] for k in sorted(self.bids, reverse=True)],
            [self.asks[k] for k in sorted(self.asks)],
        )


def books_of(records: list[TailedRecord]) -> dict[str, ConsumerBook]:
    found: dict[str, ConsumerBook] = {}
    for record in records:
        found.setdefault(record.key or "", ConsumerBook()).apply(record)
    return found


def kinds(records: list[TailedRecord], key: str) -> list[str]:
    """Each record of ``key``: its payload, with the book's action and verdict or the marker
    (but the ``resubscribed`` marker, written when every arg of the connection is subscribed:
    before or after a book's snapshot)."""
    found = []
    for record in records:
        if record.key != key:
            continue
        payload = record.value["payload"][1]
        if payload_kind(record) == "SessionMarker" and payload["kind"] == "resubscribed":
            continue
        payload = record.value["payload"][1]
        kind = payload_kind(record)
        if kind == "Book":
            found.append(f"{payload['action']}:{payload['verified']}")
        elif kind == "SessionMarker":
            found.append(f"marker:{payload['kind']}:{payload['reason']}")
        else:
            found.append(f"{payload['event']}:{payload['request_id']}")
    return found


async def read_every_book(bootstrap: str, topic: str, sim: OkxSimulator) -> list[TailedRecord]:
    """Every record of ``topic`` once it holds a Book record for every push the simulator made
    on its channel (the generators paused)."""
    await sim.pause_generators()
    channel = topic.rsplit(".", 1)[1]
    sent = sim.stats.pushes_sent[channel]
    return await read_topic(
        bootstrap, topic, lambda rs: sum(payload_kind(r) == "Book" for r in rs) >= sent
    )


@pytest.mark.parametrize("checksums", [True, False], ids=["checksums", "checksum-0"])
async def test_a_lost_update_resyncs_that_instrument_once_and_consumers_rebuild_the_book(
    kafka_bootstrap: str, checksums: bool
) -> None:
    prefix = unique_prefix()
    async with OkxSimulator(rates={"books": 25}, book_checksums=checksums) as sim:
        settings = bridge_settings(kafka_bootstrap, prefix, [connection(sim, BTC, ETH)])
        async with running_bridge(settings) as bridge:
            session = bridge.sessions[0]
            await wait_until(lambda: session.subscribed, what="subscriptions")
            await wait_until(lambda: sim.stats.pushes_sent["books"] >= 20, what="updates")
            sim.lose_next_update("BTC-USDT")
            await wait_until(lambda: sim.stats.book_faults["lose"] == 1, what="the lost update")
            await wait_until(lambda: sim.stats.unsubscribe_requests == 1, what="the resync")
            await wait_until(
                lambda: session.subscribed and sim.stats.subscribe_requests == 2,
                what="the resubscription",
            )
            await wait_until(lambda: sim.stats.pushes_sent["books"] >= 80, what="more updates")
            records = await read_every_book(kafka_bootstrap, prefix + "okx.books", sim)
            metrics = bridge.metrics.render().decode()
            expected = {inst: sim.book(inst) for inst in ("BTC-USDT", "ETH-USDT")}
            stats = sim.stats

    btc = kinds(records, "BTC-USDT")
    assert btc.count("marker:resync:sequence_gap") == 1
    resync = btc.index("marker:resync:sequence_gap")
    assert btc[resync - 1] == "update:failed"  # the record that broke the book, then the marker
    assert btc[:2] == ["subscribe:1", "snapshot:verified"]
    assert btc[2 : resync - 1] == ["update:verified"] * (resync - 3)
    after = btc[resync + 1 :]
    # in flight before the unsubscribe: carried unchecked; then the new snapshot verifies on
    unsubscribed, subscribed = after.index("unsubscribe:2"), after.index("subscribe:3")
    assert set(after[:unsubscribed]) <= {"update:not_checked"}
    snapshot = after.index("snapshot:verified")
    assert unsubscribed < subscribed < snapshot
    assert set(after[snapshot + 1 :]) == {"update:verified"}

    eth = kinds(records, "ETH-USDT")
    assert not any(k.startswith("marker:resync") for k in eth)
    assert eth[:2] == ["subscribe:1", "snapshot:verified"]
    assert set(eth[2:]) == {"update:verified"}

    labels = {"exchange": "okx", "connection": "okx-books", "channel": "books"}
    assert metric(metrics, "bridge_resyncs_total", reason="sequence_gap", **labels) == 1
    assert (stats.unsubscribe_requests, stats.subscribe_requests, stats.connects_total) == (1, 2, 1)

    consumers = books_of(records)
    for inst, levels in expected.items():
        consumer = consumers[inst]
        assert consumer.levels() == (levels.bids, levels.asks), inst
        assert (consumer.checked > 0) == checksums
    # the consumer saw the gap too, only at the record the bridge marked failed
    failed = {
        r.offset
        for r in records
        if r.key == "BTC-USDT"
        and payload_kind(r) == "Book"
        and r.value["payload"][1]["verified"] == "failed"
    }
    assert len(failed) == 1 and set(consumers["BTC-USDT"].broken) == failed
    assert consumers["ETH-USDT"].broken == []


async def test_a_wrong_checksum_and_a_broken_sequence_resync_their_book_once_each(
    kafka_bootstrap: str,
) -> None:
    prefix = unique_prefix()
    async with OkxSimulator(rates={"books": 25}) as sim:
        settings = bridge_settings(kafka_bootstrap, prefix, [connection(sim, BTC, ETH)])
        async with running_bridge(settings) as bridge:
            session = bridge.sessions[0]
            await wait_until(lambda: session.subscribed, what="subscriptions")
            await wait_until(lambda: sim.stats.pushes_sent["books"] >= 10, what="updates")
            sim.corrupt_next_checksum("BTC-USDT")
            sim.break_next_sequence("ETH-USDT")
            await wait_until(lambda: sim.stats.unsubscribe_requests == 2, what="two resyncs")
            await wait_until(lambda: session.subscribed, what="the resubscriptions")
            await wait_until(lambda: sim.stats.pushes_sent["books"] >= 50, what="more updates")
            records = await read_every_book(kafka_bootstrap, prefix + "okx.books", sim)
            metrics = bridge.metrics.render().decode()
            expected = {inst: sim.book(inst) for inst in ("BTC-USDT", "ETH-USDT")}

    markers = [
        (r.key, r.value["payload"][1]["reason"])
        for r in records
        if payload_kind(r) == "SessionMarker" and r.value["payload"][1]["kind"] == "resync"
    ]
    assert sorted(markers) == [("BTC-USDT", "checksum_mismatch"), ("ETH-USDT", "sequence_gap")]
    labels = {"exchange": "okx", "connection": "okx-books", "channel": "books"}
    assert metric(metrics, "bridge_resyncs_total", reason="checksum_mismatch", **labels) == 1
    assert metric(metrics, "bridge_resyncs_total", reason="sequence_gap", **labels) == 1
    consumers = books_of(records)
    for inst, levels in expected.items():
        assert consumers[inst].levels() == (levels.bids, levels.asks), inst


async def run_a_valid_stream(
    bootstrap: str, prefix: str, args: list[dict[str, str]], *, checksums: bool
) -> str:
    """Books with keepalives and a sequence reset, until every frame is read: the metrics."""
    accounts = {KEY: OkxAccount(secret=SECRET, passphrase=PASSPHRASE, vip_level=4)}
    async with OkxSimulator(
        rates={"books": 30}, accounts=accounts, book_checksums=checksums
    ) as sim:
        settings = bridge_settings(bootstrap, prefix, [connection(sim, *args, login=True)])
        async with running_bridge(settings) as bridge:
            session = bridge.sessions[0]
            await wait_until(lambda: session.subscribed, what="subscriptions")
            await wait_until(lambda: sim.stats.pushes_sent["books"] >= 20, what="updates")
            sim.reset_next_sequence("BTC-USDT", "books")
            sim.reset_next_sequence("ETH-USDT", "books-l2-tbt")
            await wait_until(lambda: sim.stats.book_faults["reset_sequence"] == 2, what="resets")
            await sim.send_book_keepalive("BTC-USDT", "books")
            await sim.send_book_keepalive("BTC-USDT", "books50-l2-tbt")
            await wait_until(lambda: sim.stats.pushes_sent["books"] >= 60, what="updates")
            await sim.pause_generators()
            # every push, the five acks and the login answer
            await wait_until(
                lambda: session.frames >= sum(sim.stats.pushes_sent.values()) + 6,
                what="every frame read",
            )
            assert sim.stats.unsubscribe_requests == 0
            return bridge.metrics.render().decode()


async def test_valid_streams_never_resync(kafka_bootstrap: str) -> None:
    """Every book channel, with checksums and with checksum 0, through keepalives and OKX's
    documented sequence reset: every record verified (or a whole book), no resync."""
    prefix = unique_prefix()
    args = [
        BTC,
        {"channel": "books50-l2-tbt", "instId": "BTC-USDT"},
        {"channel": "books-l2-tbt", "instId": "ETH-USDT"},
        {"channel": "books5", "instId": "ETH-USDT"},
        {"channel": "bbo-tbt", "instId": "BTC-USDT"},
    ]
    for checksums in (True, False):
        metrics = await run_a_valid_stream(kafka_bootstrap, prefix, args, checksums=checksums)
        assert "bridge_resyncs_total{" not in metrics

    for channel, full in (
        ("books", False),
        ("books50-l2-tbt", False),
        ("books-l2-tbt", False),
        ("books5", True),
        ("bbo-tbt", True),
    ):
        records = await read_topic(
            kafka_bootstrap,
            prefix + f"okx.{channel}",
            lambda rs: sum(payload_kind(r) == "Book" for r in rs) >= 10,
        )
        books = [r.value["payload"][1] for r in records if payload_kind(r) == "Book"]
        verdicts = {b["verified"] for b in books}
        assert verdicts == ({"full_book"} if full else {"verified"}), channel
        for record in records:
            if payload_kind(record) == "Book":
                ts = record.value["payload"][1]["ts"]
                assert ts is not None and record.value["event_time"] == ts
        if not full:
            seq = [(b["prevSeqId"], b["seqId"]) for b in books]
            assert any(prev > cur for prev, cur in seq), f"{channel}: no reset seen"
