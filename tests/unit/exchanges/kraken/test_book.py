"""Kraken order books: the published checksum examples, the local book and a checksum mismatch
that resubscribes the book.
"""

from __future__ import annotations

import json
from typing import Any

from bridge.exchanges.events import (
    Push,
    ResyncRequired,
    Subscribed,
)
from bridge.exchanges.kraken import (
    KrakenAdapter,
    book_checksum,
)
from tests.unit.exchanges.kraken.helpers import (
    assert_valid,
    connected,
    dest,
    fixture,
    micros,
    only,
    pushes,
    sent,
)

# --- books and checksums -----------------------------------------------------------------------


def book_adapter(depth: int | None = None, *pairs: str) -> KrakenAdapter:
    sub: dict[str, Any] = {"name": "book", "pair": list(pairs or ("XBT/USD",))}
    if depth is not None:
        sub["depth"] = depth
    return connected(sub)


def test_book_checksum_matches_krakens_published_example() -> None:
    update = json.loads(fixture("book-checksum-example-update.json"))
    assert update[2]["c"] == "974947235"  # the value in PROTOCOLS.md's template
    asks = [("0.05005", "0.00000500"), *[(f"0.050{n}", "0.00000500") for n in range(10, 55, 5)]]
    bids = [(f"0.0{n}", "0.00000500") for n in (5000, 4995, 4990, *range(4980, 4945, -5))]
    assert book_checksum(asks, bids) == "974947235"


def test_five_element_update_with_both_sides_on_krakens_example() -> None:
    adapter = book_adapter()
    [snapshot] = pushes(adapter.receive(fixture("book-checksum-example-snapshot.json")))
    assert snapshot.payload["snapshot"] is True and snapshot.payload["checksum"] is None
    [update] = pushes(adapter.receive(fixture("book-checksum-example-update.json")))
    assert update.payload == {
        "pair": "XBT/USD",
        "channel_id": 0,
        "snapshot": False,
        "asks": [
            {
                "price": "0.05005",
                "volume": "0.00000500",
                "timestamp": micros("1582905487.684110"),
                "timestamp_text": "1582905487.684110",
                "update_type": None,
            }
        ],
        "bids": [
            {
                "price": "0.05000",
                "volume": "0.00000500",
                "timestamp": micros("1582905487.439814"),
                "timestamp_text": "1582905487.439814",
                "update_type": None,
            }
        ],
        "checksum": "974947235",
        "extra": {},
    }
    assert update.event_time_ms == 1582905487684  # the latest level time
    assert adapter.data_to_send() == []


def test_book_snapshot_and_updates_pass_their_checksums() -> None:
    adapter = book_adapter()
    [snapshot] = pushes(adapter.receive(fixture("book-snapshot.json")))
    assert snapshot.destination == dest(
        "book", "XBT/USD", channel="book-10", depth="10", channelID="0"
    )
    assert snapshot.payload["snapshot"] is True
    assert len(snapshot.payload["asks"]) == len(snapshot.payload["bids"]) == 10
    assert snapshot.payload["asks"][0] == {
        "price": "5541.30000",
        "volume": "1.00000000",
        "timestamp": 1534614248123456,
        "timestamp_text": "1534614248.123456",
        "update_type": None,
    }
    # a better ask pushes the worst out of the depth: the checksum holds only if the local
    # book is truncated to 10 levels
    pushes(adapter.receive(fixture("book-update-ask.json")))
    [republish] = pushes(adapter.receive(fixture("book-update-bid-republish.json")))
    assert [lv["update_type"] for lv in republish.payload["bids"]] == [None, "r"]
    assert republish.payload["bids"][0]["volume"] == "0.00000000"  # a delete
    [both] = pushes(adapter.receive(fixture("book-update-both-sides.json")))
    assert len(both.payload["asks"]) == 1 and len(both.payload["bids"]) == 2
    assert adapter.data_to_send() == []


def test_the_local_book_keeps_the_subscribed_depth() -> None:
    """After book-update-ask, 5542.20 is the 11th ask: outside book-10, so Kraken sends nothing
    when it changes. Here it went away unseen; when 5541.30 is deleted, Kraken republishes
    5542.30 as the new 10th ask. Only a book truncated to 10 levels matches the checksum."""
    asks_after = [
        ("5541.25000", "0.75000000"),
        *[(f"{5541.4 + n * 0.1:.5f}", f"{1.25 + n * 0.25:.8f}") for n in range(8)],
        ("5542.30000", "3.50000000"),
    ]
    bids = [(f"{5541.2 - n * 0.1:.5f}", f"{0.5 + n * 0.125:.8f}") for n in range(10)]
    update = json.dumps(
        [
            0,
            {
                "a": [
                    ["5541.30000", "0.00000000", "1534614249.200000"],
                    ["5542.30000", "3.50000000", "1534614248.123466", "r"],
                ],
                "c": book_checksum(asks_after, bids),
            },
            "book-10",
            "XBT/USD",
        ],
        separators=(",", ":"),
    )
    for depth, outcome in ((10, [Push]), (25, [Push, ResyncRequired])):
        adapter = book_adapter(depth)
        snapshot_text = fixture("book-snapshot.json")
        rename = f"book-{depth}"
        pushes(adapter.receive(snapshot_text.replace("book-10", rename)))
        pushes(adapter.receive(fixture("book-update-ask.json").replace("book-10", rename)))
        events = adapter.receive(update.replace("book-10", rename))
        assert [type(e) for e in events] == outcome, depth


def test_checksum_mismatch_resubscribes_that_book_once() -> None:
    adapter = connected({"name": "book", "pair": ["BTC/USD", "ETH/USD"], "depth": 10})
    for fixture_name in ("book-snapshot.json", "book-update-ask.json"):
        pushes(adapter.receive(fixture(fixture_name)))
    eth = fixture("book-snapshot.json").replace("XBT/USD", "ETH/USD")
    pushes(adapter.receive(eth))

    events = adapter.receive(fixture("book-update-bad-checksum.json"))
    book_push, resync = events
    assert isinstance(book_push, Push)  # the message itself is still published
    assert_valid(book_push)
    assert resync == ResyncRequired(
        destination=dest("book", "BTC/USD", channel="book-10", depth="10"),
        reason="checksum_mismatch",
    )
    assert sent(adapter) == [
        {
            "event": "unsubscribe",
            "reqid": 2,
            "pair": ["BTC/USD"],
            "subscription": {"name": "book", "depth": 10},
        },
        {
            "event": "subscribe",
            "reqid": 3,
            "pair": ["BTC/USD"],
            "subscription": {"name": "book", "depth": 10},
        },
    ]
    # later messages of that book are published unchecked until the new snapshot
    assert [type(e) for e in adapter.receive(fixture("book-update-bad-checksum.json"))] == [Push]
    assert sent(adapter) == []
    # the other pair is unaffected
    eth_update = fixture("book-update-ask.json").replace("XBT/USD", "ETH/USD")
    assert [type(e) for e in adapter.receive(eth_update)] == [Push]

    # the resubscription: unsubscribe ack, subscribe ack, a new snapshot; checked again
    unsubscribed = only(
        adapter.receive(
            '{"channelID":1,"channelName":"book-10","event":"subscriptionStatus",'
            '"pair":"XBT/USD","reqid":2,"status":"unsubscribed",'
            '"subscription":{"depth":10,"name":"book"}}'
        )
    )
    assert isinstance(unsubscribed, Subscribed) and unsubscribed.op == "unsubscribe"
    assert unsubscribed.destination.key == "BTC/USD"
    subscribed = only(
        adapter.receive(
            '{"channelID":2,"channelName":"book-10","event":"subscriptionStatus",'
            '"pair":"XBT/USD","reqid":3,"status":"subscribed",'
            '"subscription":{"depth":10,"name":"book"}}'
        )
    )
    assert isinstance(subscribed, Subscribed) and subscribed.op == "subscribe"
    pushes(adapter.receive(fixture("book-snapshot.json")))
    pushes(adapter.receive(fixture("book-update-ask.json")))
    events = adapter.receive(fixture("book-update-bad-checksum.json"))
    assert [type(e) for e in events] == [Push, ResyncRequired]


def test_an_update_before_any_snapshot_is_not_checked() -> None:
    adapter = book_adapter()
    pushes(adapter.receive(fixture("book-update-bad-checksum.json")))
    assert sent(adapter) == []


def test_an_unconfigured_book_is_resubscribed_by_its_channel_name() -> None:
    adapter = connected({"name": "ticker", "pair": ["XBT/USD"]})
    pushes(adapter.receive(fixture("book-snapshot.json")))
    pushes(adapter.receive(fixture("book-update-ask.json")))
    events = adapter.receive(fixture("book-update-bad-checksum.json"))
    assert isinstance(events[1], ResyncRequired)
    assert [f["event"] for f in sent(adapter)] == ["unsubscribe", "subscribe"]
