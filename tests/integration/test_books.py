"""Order books: a consumer that reads a book topic alone holds the simulator's book, across a
dropped connection (on every exchange whose simulator shows its book: OKEx v1, Kraken), and a
Kraken book whose checksum fails is resubscribed alone.

The OKX simulator does not show its book, so OKX books are not compared here."""

from __future__ import annotations

from tests.integration.exchanges import KRAKEN, ConsumerBook, Exchange, exchanges_with
from tests.integration.harness import (
    Found,
    bridge_settings,
    markers_by_key,
    payload_kind,
    payloads,
    read_topic,
    read_topics,
    running_bridge,
    sample,
    unique_prefix,
    wait_until,
)

CHANGES = 25
"""Book changes before the drop, and again after it."""
MARKED_DROP = [
    ("resubscribed", "started"),
    ("disconnected", "connection_lost"),
    ("resubscribed", "reconnected"),
]


@exchanges_with("book")
async def test_a_book_rebuilt_from_its_topic_matches_the_simulator_across_a_drop(
    exchange: Exchange, kafka_bootstrap: str
) -> None:
    book = exchange.book
    assert book is not None
    prefix = unique_prefix()
    async with exchange.simulator(**book.simulator) as sim:
        change = book.start(sim)
        settings = bridge_settings(
            kafka_bootstrap, prefix, [exchange.connection(sim, book.subscriptions)]
        )
        async with running_bridge(settings) as bridge:
            session = bridge.sessions[0]
            await wait_until(lambda: session.subscribed, what="subscription")
            await change(CHANGES)
            await sim.drop_connections()  # abrupt: no close frame
            await wait_until(
                lambda: sim.stats.connects_total == 2 and session.subscribed,
                timeout=exchange.floor + 10,
                what="resubscribe",
            )
            await change(CHANGES)
            await sim.pause_generators()  # nothing more from here on
            expected = {key: book.expected(sim, key) for key in book.keys}

            def rebuilt(found: Found) -> dict[str, ConsumerBook]:
                books = {key: book.consumer() for key in book.keys}
                for record in found[book.topic]:
                    if payload_kind(record) == book.kind:
                        books[record.key or ""].apply(record)
                return books

            found = await read_topics(
                kafka_bootstrap,
                prefix,
                [book.topic, book.other_topic],
                lambda f: (
                    {key: b.levels() for key, b in rebuilt(f).items()} == expected
                    and bool(others := markers_by_key(f[book.other_topic]))
                    and all(len(markers) == len(MARKED_DROP) for markers in others.values())
                ),
            )

    books = rebuilt(found)
    for key in book.keys:
        assert books[key].levels() == expected[key], key
    records = found[book.topic]
    pushed = payloads(records, book.kind)
    book.check(books, pushed)
    if book.scripted:
        assert len(pushed) == 2 * CHANGES + 2  # every change once, and a snapshot per connection
    # every book is marked where the drop broke it, and again on the other channel
    assert markers_by_key(records) == dict.fromkeys(book.keys, MARKED_DROP)
    assert all(m == MARKED_DROP for m in markers_by_key(found[book.other_topic]).values())
    for key in book.keys:
        of_key = [r for r in records if r.key == key]
        kinds = [payload_kind(r) for r in of_key]
        assert kinds.count("SubscriptionEvent") == 2, key  # one per connection
        snapshots = [p for p in payloads(of_key, book.kind) if book.consumer.is_snapshot(p)]
        assert len(snapshots) == 2, key
        # the gap is marked between the last update of the first connection and the new ack
        gone = next(
            i
            for i, r in enumerate(of_key)
            if payload_kind(r) == "SessionMarker"
            and r.value["payload"][1]["kind"] == "disconnected"
        )
        assert kinds[gone + 1 :].count("SubscriptionEvent") == 1, key


async def test_a_corrupted_kraken_checksum_resubscribes_that_book_only(
    kafka_bootstrap: str,
) -> None:
    prefix = unique_prefix()
    async with KRAKEN.simulator(rates={"book": 30}) as sim:
        conn = KRAKEN.connection(
            sim, [{"name": "book", "depth": 10, "pair": ["BTC/USD", "ETH/USD"]}]
        )
        settings = bridge_settings(kafka_bootstrap, prefix, [conn])
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
            resyncs = sample(
                bridge,
                "bridge_resyncs_total",
                exchange=KRAKEN.name,
                connection=conn["name"],
                channel="book-10",
                reason="checksum_mismatch",
            )
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
    assert resyncs == 1
