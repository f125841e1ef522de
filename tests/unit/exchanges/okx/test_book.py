"""OKX book integrity from text: the checksum (OKX's documented examples), the seqId/prevSeqId
chain (snapshot, update, keepalive, reset, gap), what each record says about it, and the resync
of the one arg whose book broke."""

from __future__ import annotations

import json
import zlib
from typing import Any

import pytest

from bridge.exchanges.events import Push, ResyncRequired, Subscribed, SubscribeFailed, Unrecognized
from bridge.exchanges.okx.book import book_checksum
from tests.unit.exchanges.okx.helpers import (
    BOOKS,
    BOOKS_DEST,
    connected,
    dest,
    fixture,
    pushes,
    sent,
)

ETH = {"channel": "books", "instId": "ETH-USDT"}
L2 = {"channel": "books-l2-tbt", "instId": "BTC-USDT"}


def crc(text: str) -> int:
    """CRC32 of a check string as a signed 32-bit integer, as OKX documents it."""
    value = zlib.crc32(text.encode())
    return value - 2**32 if value >= 2**31 else value


Rows = list[list[str]]


def frame(
    action: str | None,
    *,
    bids: Rows = (),  # type: ignore[assignment]
    asks: Rows = (),  # type: ignore[assignment]
    checksum: int | None = 0,
    prev: int | None = None,
    seq: int | None = None,
    arg: dict[str, str] = BOOKS,
    ts: str = "1597026383085",
) -> str:
    element: dict[str, Any] = {"asks": list(asks), "bids": list(bids), "ts": ts}
    if checksum is not None:
        element["checksum"] = checksum
    if prev is not None:
        element["prevSeqId"] = prev
    if seq is not None:
        element["seqId"] = seq
    message: dict[str, Any] = {"arg": arg}
    if action is not None:
        message["action"] = action
    message["data"] = [element]
    return json.dumps(message)


def verdicts(events: list[Any]) -> list[str]:
    return [e.payload["verified"] for e in events if isinstance(e, Push)]


def resyncs(events: list[Any]) -> list[ResyncRequired]:
    return [e for e in events if isinstance(e, ResyncRequired)]


# --- the checksum --------------------------------------------------------------------------------

# OKX's two documented examples: the levels, and the string the checksum is taken of.
DOC_BIDS = [["3366.1", "7", "0", "3"], ["3366", "6", "3", "4"]]
DOC_ASKS = [["3366.8", "9", "10", "3"], ["3368", "8", "3", "4"]]
DOC_STRING = "3366.1:7:3366.8:9:3366:6:3368:8"
DOC_BIDS_SHORT = [["3366.1", "7", "0", "3"]]
DOC_ASKS_LONG = [["3366.8", "9", "10", "3"], ["3368", "8", "3", "4"], ["3372", "8", "3", "4"]]
DOC_STRING_SHORT = "3366.1:7:3366.8:9:3368:8:3372:8"


def test_the_checksum_of_the_documented_examples() -> None:
    def pairs(rows: Rows) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in rows]

    assert book_checksum(pairs(DOC_BIDS), pairs(DOC_ASKS)) == crc(DOC_STRING)
    assert book_checksum(pairs(DOC_BIDS_SHORT), pairs(DOC_ASKS_LONG)) == crc(DOC_STRING_SHORT)
    assert book_checksum([], []) == crc("")


@pytest.mark.parametrize(
    ("bids", "asks", "string"),
    [(DOC_BIDS, DOC_ASKS, DOC_STRING), (DOC_BIDS_SHORT, DOC_ASKS_LONG, DOC_STRING_SHORT)],
)
def test_a_snapshot_with_the_documented_levels_verifies(
    bids: Rows, asks: Rows, string: str
) -> None:
    (push,) = pushes(
        connected(BOOKS).receive(frame("snapshot", bids=bids, asks=asks, checksum=crc(string)))
    )
    assert push.payload["verified"] == "verified"
    assert push.payload["checksum"] == crc(string)


def deep_book(levels: int) -> tuple[Rows, Rows]:
    bids = [[f"{100 - i}.5", f"{i + 1}", "0", "1"] for i in range(levels)]
    asks = [[f"{101 + i}", f"0.{i + 1}", "0", "2"] for i in range(levels)]
    return bids, asks


def check_string(bids: Rows, asks: Rows) -> str:
    """The documented interleaving, written out for the test: bid, ask, bid, ask... of the best 25
    of each side, then the longer side's remaining levels."""
    parts: list[str] = []
    for i in range(25):
        if i < len(bids):
            parts += bids[i][:2]
        if i < len(asks):
            parts += asks[i][:2]
    return ":".join(parts)


def test_only_the_best_25_levels_count_and_the_longer_side_follows() -> None:
    bids, asks = deep_book(30)
    adapter = connected(BOOKS)
    events = adapter.receive(
        frame("snapshot", bids=bids, asks=asks, checksum=crc(check_string(bids, asks)))
    )
    assert verdicts(events) == ["verified"]

    # the 28th bid changes: the checksum does not
    same = crc(check_string(bids, asks))
    events = adapter.receive(frame("update", bids=[["72.5", "99", "0", "1"]], checksum=same))
    assert verdicts(events) == ["verified"]

    # a short bid side: the asks beyond it are appended in order
    deletes = [[b[0], "0", "0", "0"] for b in bids[1:]]
    short_bids = bids[:1]
    events = adapter.receive(
        frame("update", bids=deletes, checksum=crc(check_string(short_bids, asks)))
    )
    assert verdicts(events) == ["verified"]
    assert check_string(short_bids, asks).startswith("100.5:1:101:0.1:102:0.2:103:0.3")


def test_a_checksum_over_the_exact_texts() -> None:
    bids = [["3366.10", "7.0", "0", "3"]]
    asks = [["3366.8", "9", "0", "3"]]
    adapter = connected(BOOKS)
    good = crc("3366.10:7.0:3366.8:9")
    assert verdicts(adapter.receive(frame("snapshot", bids=bids, asks=asks, checksum=good))) == [
        "verified"
    ]
    # the same price in another text replaces the level and its text
    events = adapter.receive(
        frame("update", bids=[["3366.1", "7", "0", "3"]], checksum=crc("3366.1:7:3366.8:9"))
    )
    assert verdicts(events) == ["verified"]


def test_a_lost_update_that_changes_the_top_25_fails_the_checksum_and_resyncs() -> None:
    bids, asks = deep_book(30)
    adapter = connected(BOOKS, ETH)
    adapter.receive(frame("snapshot", bids=bids, asks=asks, checksum=crc(check_string(bids, asks))))
    adapter.receive(frame("snapshot", arg=ETH, bids=bids, asks=asks, checksum=0, seq=1, prev=-1))
    sent(adapter)
    # lost: bids[2] went to size 5. The next update (asks[0] to 7) checksums the real book.
    real_bids = [*bids[:2], [bids[2][0], "5", "0", "1"], *bids[3:]]
    real_asks = [[asks[0][0], "7", "0", "2"], *asks[1:]]
    events = adapter.receive(
        frame(
            "update",
            asks=[[asks[0][0], "7", "0", "2"]],
            checksum=crc(check_string(real_bids, real_asks)),
        )
    )
    assert verdicts(events) == ["failed"]
    assert resyncs(events) == [ResyncRequired(destination=BOOKS_DEST, reason="checksum_mismatch")]
    assert events[-1] == resyncs(events)[0]  # after the record it is about
    assert sent(adapter) == [
        {"id": "1513", "op": "unsubscribe", "args": [BOOKS]},
        {"id": "1514", "op": "subscribe", "args": [BOOKS]},
    ]
    # the other book on the connection is untouched
    assert verdicts(adapter.receive(frame("update", arg=ETH, prev=1, seq=2))) == ["verified"]


def test_checksum_zero_means_not_provided() -> None:
    adapter = connected(BOOKS)
    events = adapter.receive(frame("snapshot", bids=DOC_BIDS, asks=DOC_ASKS, checksum=0))
    assert verdicts(events) == ["verified"]  # a snapshot is the whole book
    # no seqIds and no checksum: nothing to check an update against
    events = adapter.receive(frame("update", bids=[["3366", "0", "0", "0"]], checksum=0))
    assert verdicts(events) == ["not_checked"]
    assert resyncs(events) == [] and sent(adapter) == []


# --- the sequence --------------------------------------------------------------------------------


def test_the_documented_sequence_example_verifies_including_keepalive_and_reset() -> None:
    # OKX: snapshot prevSeqId -1 seqId 10; update 10 -> 15; no update 15 -> 15 (empty);
    # sequence reset 15 -> 3; update 3 -> 5.
    adapter = connected(BOOKS)
    found = []
    for action, prev, seq, bids in [
        ("snapshot", -1, 10, DOC_BIDS),
        ("update", 10, 15, [["3366", "8", "0", "2"]]),
        ("update", 15, 15, []),
        ("update", 15, 3, [["3365", "1", "0", "1"]]),
        ("update", 3, 5, [["3365", "0", "0", "0"]]),
    ]:
        events = adapter.receive(
            frame(action, bids=bids, asks=DOC_ASKS if prev == -1 else [], prev=prev, seq=seq)
        )
        assert resyncs(events) == []
        found += verdicts(events)
    assert found == ["verified"] * 5
    assert sent(adapter) == []


@pytest.mark.parametrize("channel", ["books", "books-l2-tbt", "books50-l2-tbt", "books-elp"])
def test_a_lost_update_breaks_the_sequence_whatever_the_levels(channel: str) -> None:
    arg = {"channel": channel, "instId": "BTC-USDT"}
    adapter = connected(arg)
    adapter.receive(frame("snapshot", arg=arg, bids=DOC_BIDS, asks=DOC_ASKS, prev=-1, seq=100))
    adapter.receive(frame("update", arg=arg, bids=[["3366", "1", "0", "1"]], prev=100, seq=101))
    sent(adapter)
    # 101 -> 102 was lost; it changed a level far below the top 25 for all we know
    events = adapter.receive(frame("update", arg=arg, prev=102, seq=103))
    assert verdicts(events) == ["failed"]
    destination = dest(arg, "okx/books", key="BTC-USDT")
    assert resyncs(events) == [ResyncRequired(destination=destination, reason="sequence_gap")]
    assert sent(adapter) == [
        {"id": "1513", "op": "unsubscribe", "args": [arg]},
        {"id": "1514", "op": "subscribe", "args": [arg]},
    ]


@pytest.mark.parametrize(
    ("prev", "seq"),
    [(99, 100), (100, 101), (50, 3), (102, 2), (-1, 102)],
    ids=["older", "repeated", "reset-from-elsewhere", "reset-after-a-gap", "snapshot-prev"],
)
def test_any_prev_seq_id_but_the_last_seq_id_is_a_gap(prev: int, seq: int) -> None:
    adapter = connected(BOOKS)
    adapter.receive(frame("snapshot", bids=DOC_BIDS, asks=DOC_ASKS, prev=-1, seq=100))
    adapter.receive(frame("update", prev=100, seq=101))
    events = adapter.receive(frame("update", prev=prev, seq=seq))
    assert verdicts(events) == ["failed"]
    assert [r.reason for r in resyncs(events)] == ["sequence_gap"]


def test_after_a_failure_nothing_is_checked_until_the_new_snapshot() -> None:
    adapter = connected(BOOKS)
    adapter.receive(frame("snapshot", bids=DOC_BIDS, asks=DOC_ASKS, prev=-1, seq=1))
    assert resyncs(adapter.receive(frame("update", prev=5, seq=6)))
    sent(adapter)
    # in flight before the unsubscribe took effect: carried, unchecked, no second resync
    events = adapter.receive(frame("update", prev=6, seq=7))
    assert verdicts(events) == ["not_checked"] and resyncs(events) == []
    events = adapter.receive(frame("update", prev=99, seq=100))
    assert verdicts(events) == ["not_checked"] and resyncs(events) == []
    assert sent(adapter) == []

    unsubscribed = adapter.receive(
        '{"id":"1513","event":"unsubscribe","arg":{"channel":"books","instId":"BTC-USDT"}}'
    )
    assert unsubscribed == [Subscribed(destination=BOOKS_DEST, op="unsubscribe", request_id="1513")]
    assert not adapter.all_subscribed
    subscribed = adapter.receive(
        '{"id":"1514","event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"}}'
    )
    assert subscribed == [Subscribed(destination=BOOKS_DEST, op="subscribe", request_id="1514")]
    assert adapter.all_subscribed
    events = adapter.receive(frame("snapshot", bids=DOC_BIDS, asks=DOC_ASKS, prev=-1, seq=500))
    assert verdicts(events) == ["verified"]
    assert verdicts(adapter.receive(frame("update", prev=500, seq=501))) == ["verified"]


def test_an_update_before_any_snapshot_is_not_checked_and_not_resynced() -> None:
    adapter = connected(BOOKS)
    events = adapter.receive(frame("update", bids=DOC_BIDS, prev=5, seq=6, checksum=12345))
    assert verdicts(events) == ["not_checked"]
    assert resyncs(events) == [] and sent(adapter) == []


def test_an_unsubscribe_forgets_the_book() -> None:
    adapter = connected(BOOKS)
    adapter.receive(frame("snapshot", bids=DOC_BIDS, asks=DOC_ASKS, prev=-1, seq=1))
    adapter.receive(
        '{"event":"unsubscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"c"}'
    )
    assert verdicts(adapter.receive(frame("update", prev=1, seq=2))) == ["not_checked"]


@pytest.mark.parametrize("channel", ["books5", "bbo-tbt"])
def test_channels_that_push_the_whole_book_are_never_resynced(channel: str) -> None:
    arg = {"channel": channel, "instId": "BCH-USDT-SWAP"}
    adapter = connected(arg)
    found = []
    for seq in (363996337, 1, 363996337, 363996337):  # seqIds that jump or repeat
        events = adapter.receive(
            frame(None, arg=arg, bids=DOC_BIDS, asks=DOC_ASKS, checksum=None, seq=seq)
        )
        assert resyncs(events) == []
        found += verdicts(events)
    assert found == ["full_book"] * 4
    assert sent(adapter) == []


def test_an_action_okx_does_not_document_is_carried_unchecked() -> None:
    adapter = connected(BOOKS)
    adapter.receive(frame("snapshot", bids=DOC_BIDS, asks=DOC_ASKS, prev=-1, seq=1))
    events = adapter.receive(frame("partial", prev=7, seq=8))
    assert verdicts(events) == ["not_checked"] and resyncs(events) == []
    assert verdicts(adapter.receive(frame("update", prev=1, seq=2))) == ["verified"]


def test_a_price_the_book_cannot_place_fails_it() -> None:
    adapter = connected(BOOKS)
    adapter.receive(frame("snapshot", bids=DOC_BIDS, asks=DOC_ASKS, prev=-1, seq=1))
    sent(adapter)
    events = adapter.receive(frame("update", bids=[["NaN", "1", "0", "1"]], prev=1, seq=2))
    (push,) = pushes([e for e in events if isinstance(e, Push)])
    assert push.payload["bids"] == [{"price": "NaN", "size": "1", "deprecated": "0", "orders": "1"}]
    assert push.payload["verified"] == "failed"
    assert resyncs(events) == [ResyncRequired(destination=BOOKS_DEST, reason="invalid_level")]


def test_one_resync_for_a_push_of_several_broken_elements() -> None:
    adapter = connected(BOOKS)
    adapter.receive(frame("snapshot", bids=DOC_BIDS, asks=DOC_ASKS, prev=-1, seq=1))
    sent(adapter)
    message = json.loads(frame("update", prev=3, seq=4))
    message["data"].append({**message["data"][0], "prevSeqId": 9, "seqId": 10})
    events = adapter.receive(json.dumps(message))
    assert verdicts(events) == ["failed", "not_checked"]
    assert len(resyncs(events)) == 1
    assert len(sent(adapter)) == 2


def test_the_resync_resubscribes_the_configured_arg() -> None:
    configured = {"channel": "books-l2-tbt", "instId": "BTC-USDT"}
    adapter = connected(configured)
    echoed = {**configured, "uid": "77982378738415879"}  # an echo with more than was sent
    adapter.receive(frame("snapshot", arg=echoed, bids=DOC_BIDS, asks=DOC_ASKS, prev=-1, seq=1))
    sent(adapter)
    events = adapter.receive(frame("update", arg=echoed, prev=2, seq=3))
    assert resyncs(events)[0].destination.arg == echoed
    assert sent(adapter) == [
        {"id": "1513", "op": "unsubscribe", "args": [configured]},
        {"id": "1514", "op": "subscribe", "args": [configured]},
    ]


def test_errors_answering_the_resync_requests_fail_their_arg() -> None:
    adapter = connected(L2)
    adapter.receive(frame("snapshot", arg=L2, bids=DOC_BIDS, asks=DOC_ASKS, prev=-1, seq=1))
    adapter.receive(frame("update", arg=L2, prev=2, seq=3))
    sent(adapter)
    l2 = dest(L2, "okx/books", key="BTC-USDT")
    events = adapter.receive(
        '{"id":"1513","event":"error","code":"60012","msg":"Invalid request","connId":"c"}'
    )
    assert events == [
        SubscribeFailed(
            destination=l2,
            op="unsubscribe",
            code="60012",
            message="Invalid request",
            request_id="1513",
            exchange_conn_id="c",
        )
    ]
    events = adapter.receive(
        '{"id":"1514","event":"error","code":"64003","msg":"Your trading fee tier doesn\'t meet'
        ' the requirement to access this channel","connId":"c"}'
    )
    assert isinstance(events[0], SubscribeFailed) and events[0].op == "subscribe"


def test_the_documented_books_example_does_not_verify() -> None:
    """OKX's own example snapshot prints a checksum (-855196043) that is not the CRC32 of its
    levels: the bridge says so, and resyncs."""
    adapter = connected(BOOKS)
    events = adapter.receive(fixture("doc-books-push.json"))
    assert verdicts(events) == ["failed"]
    assert resyncs(events) == [ResyncRequired(destination=BOOKS_DEST, reason="checksum_mismatch")]
    # the update that follows it in the documentation: nothing to check it against
    events = adapter.receive(fixture("doc-books-update-push.json"))
    assert verdicts(events) == ["not_checked"] and resyncs(events) == []


def test_a_malformed_level_dead_letters_the_element() -> None:
    events = connected(BOOKS).receive(
        '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":'
        '[{"asks":[["1"]],"bids":[],"ts":"1"},{"asks":[],"bids":[],"ts":"2","checksum":"x"}]}'
    )
    assert [type(e) for e in events] == [Unrecognized, Unrecognized]
    assert events[0].reason == "books data[0]: asks[0] is not an array of 2 to 4 elements"  # type: ignore[attr-defined]
    assert events[1].reason == "books data[1]: checksum is not an integer: 'x'"  # type: ignore[attr-defined]
