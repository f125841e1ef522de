"""The OKX simulator's books (bridge/sandbox/okx/books.py): snapshots and updates a client can
rebuild and check (checksums computed here from OKX's documented rule), the seqId chain, the
faults, and the channels that send the whole book."""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from bridge.sandbox.okx.books import OkxBooks

BTC = {"channel": "books", "instId": "BTC-USDT"}
BTC50 = {"channel": "books50-l2-tbt", "instId": "BTC-USDT"}
ETH = {"channel": "books", "instId": "ETH-USDT"}


def crc(bids: list[list[str]], asks: list[list[str]]) -> int:
    parts: list[str] = []
    for i in range(25):
        if i < len(bids):
            parts += bids[i][:2]
        if i < len(asks):
            parts += asks[i][:2]
    value = zlib.crc32(":".join(parts).encode())
    return value - 2**32 if value >= 2**31 else value


class Client:
    """A client's copy of one book, kept from the messages as OKX documents them."""

    def __init__(self, snapshot: dict[str, Any]) -> None:
        element = snapshot["data"][0]
        assert snapshot["action"] == "snapshot" and element["prevSeqId"] == -1
        self.bids = {Decimal(r[0]): r for r in element["bids"]}
        self.asks = {Decimal(r[0]): r for r in element["asks"]}
        self.seq_id = element["seqId"]
        assert element["checksum"] in (0, self.checksum())

    def rows(self) -> tuple[list[list[str]], list[list[str]]]:
        bids = [self.bids[p] for p in sorted(self.bids, reverse=True)]
        asks = [self.asks[p] for p in sorted(self.asks)]
        return bids, asks

    def checksum(self) -> int:
        return crc(*self.rows())

    def apply(self, update: dict[str, Any]) -> tuple[bool, bool]:
        """(the sequence followed, the checksum matched)"""
        element = update["data"][0]
        assert update["action"] == "update"
        follows = element["prevSeqId"] == self.seq_id
        for side, rows in ((self.bids, element["bids"]), (self.asks, element["asks"])):
            for row in rows:
                if row[1] == "0":
                    side.pop(Decimal(row[0]), None)  # (after a lost update it may be unknown)
                else:
                    side[Decimal(row[0])] = row
        self.seq_id = element["seqId"]
        return follows, element["checksum"] == self.checksum()

    def levels(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        bids, asks = self.rows()
        return [(r[0], r[1]) for r in bids], [(r[0], r[1]) for r in asks]


def updates(books: OkxBooks, arg: dict[str, str], n: int) -> Iterator[dict[str, Any]]:
    """The next ``n`` updates, each made when the one before has been used."""
    sent = 0
    while sent < n:
        books.step(arg["instId"])
        frame, fault = books.update(arg)
        assert fault is None
        if frame is not None:
            sent += 1
            yield frame


def test_a_client_rebuilds_and_verifies_every_message() -> None:
    books = OkxBooks(random.Random(3))
    client = Client(books.snapshot(BTC))
    bids, asks = client.rows()
    assert len(bids) == len(asks) == 60
    assert Decimal(bids[0][0]) < Decimal(asks[0][0])
    assert all(row[2] == "0" and row[3].isdigit() for row in bids + asks)
    seq_ids = [client.seq_id]
    for update in updates(books, BTC, 200):
        assert client.apply(update) == (True, True)
        seq_ids.append(client.seq_id)
        assert client.levels() == tuple(books.levels("BTC-USDT"))
    assert seq_ids == sorted(seq_ids) and len(set(seq_ids)) == len(seq_ids)
    assert books.checksum("BTC-USDT") == client.checksum()


def test_prices_are_written_as_okx_writes_them() -> None:
    books = OkxBooks(random.Random(1))
    element = books.snapshot(BTC)["data"][0]
    prices = [row[0] for row in element["asks"] + element["bids"]]
    assert "60000" in prices and "60000.1" in prices
    assert not any(p.endswith(("0", ".")) and "." in p for p in prices)
    eth = books.snapshot(ETH)["data"][0]
    assert {len(row[0].partition(".")[2]) for row in eth["bids"]} <= {0, 1, 2}


def test_a_shallower_channel_sees_its_depth_and_levels_leaving_it() -> None:
    books = OkxBooks(random.Random(7))
    client = Client(books.snapshot(BTC50))
    assert [len(side) for side in client.rows()] == [50, 50]
    left = 0
    for update in updates(books, BTC50, 150):
        element = update["data"][0]
        left += sum(row[1] == "0" for row in element["bids"] + element["asks"])
        assert client.apply(update) == (True, True)
        assert [len(side) for side in client.rows()] == [50, 50]
    assert left > 0
    assert client.levels() == tuple(books.levels("BTC-USDT", "books50-l2-tbt"))


def test_every_subscriber_shares_the_channel_sequence() -> None:
    books = OkxBooks(random.Random(2))
    first = Client(books.snapshot(BTC))
    for update in updates(books, BTC, 5):
        first.apply(update)
    second = Client(books.snapshot(BTC))  # a later subscriber: the same book, the same seqId
    assert second.seq_id == first.seq_id and second.levels() == first.levels()
    for update in updates(books, BTC, 5):
        assert first.apply(update) == second.apply(update) == (True, True)


def test_without_checksums_every_checksum_is_zero() -> None:
    books = OkxBooks(random.Random(4), checksums=False)
    assert books.snapshot(BTC)["data"][0]["checksum"] == 0
    assert {u["data"][0]["checksum"] for u in updates(books, BTC, 20)} == {0}


def next_update(books: OkxBooks, arg: dict[str, str]) -> tuple[dict[str, Any], Any]:
    while True:
        books.step(arg["instId"])
        frame, fault = books.update(arg)
        if frame is not None:
            return frame, fault


def test_a_lost_update_is_followed_by_the_next_one() -> None:
    books = OkxBooks(random.Random(5))
    client = Client(books.snapshot(BTC))
    books.add_fault("lose", "BTC-USDT", None)
    lost, fault = next_update(books, BTC)
    assert fault == "lose"
    after, fault = next_update(books, BTC)
    assert fault is None
    assert after["data"][0]["prevSeqId"] == lost["data"][0]["seqId"] != client.seq_id
    follows, _ = client.apply(after)
    assert not follows
    assert books.faults_applied["lose"] == 1


def test_a_lost_update_that_touches_the_top_25_shows_in_the_checksum() -> None:
    found = 0
    for seed in range(20):
        books = OkxBooks(random.Random(seed))
        client = Client(books.snapshot(BTC))
        books.add_fault("lose", None, "books")
        next_update(books, BTC)
        after, _ = next_update(books, BTC)
        _, matches = client.apply(after)
        found += not matches
    assert found > 10  # changes are near the top of the book


@pytest.mark.parametrize("inst_id", ["BTC-USDT", None])
def test_a_fault_waits_for_its_instrument(inst_id: str | None) -> None:
    books = OkxBooks(random.Random(6))
    Client(books.snapshot(ETH))
    Client(books.snapshot(BTC))
    books.add_fault("corrupt_checksum", inst_id, None)
    _, fault = next_update(books, BTC)
    assert fault == "corrupt_checksum"
    _, fault = next_update(books, ETH)
    assert fault is None


def test_a_corrupt_checksum_and_a_broken_sequence_leave_the_levels_right() -> None:
    books = OkxBooks(random.Random(8))
    client = Client(books.snapshot(BTC))
    books.add_fault("corrupt_checksum", None, None)
    update, _ = next_update(books, BTC)
    assert client.apply(update) == (True, False)
    assert update["data"][0]["checksum"] == client.checksum() + 1
    books.add_fault("break_sequence", None, None)
    update, _ = next_update(books, BTC)
    assert client.apply(update) == (False, True)
    assert client.levels() == tuple(books.levels("BTC-USDT"))


def test_a_sequence_reset_is_lower_and_still_follows() -> None:
    books = OkxBooks(random.Random(9))
    client = Client(books.snapshot(BTC))
    books.add_fault("reset_sequence", "BTC-USDT", "books")
    update, fault = next_update(books, BTC)
    element = update["data"][0]
    assert fault == "reset_sequence"
    assert element["seqId"] < element["prevSeqId"] == client.seq_id
    assert client.apply(update) == (True, True)
    for later in updates(books, BTC, 5):
        assert client.apply(later) == (True, True)


def test_a_keepalive_is_an_empty_update_on_the_last_seq_id() -> None:
    books = OkxBooks(random.Random(10))
    client = Client(books.snapshot(BTC))
    keepalive = books.keepalive(BTC)
    assert keepalive is not None
    element = keepalive["data"][0]
    assert (element["asks"], element["bids"]) == ([], [])
    assert element["seqId"] == element["prevSeqId"] == client.seq_id
    assert client.apply(keepalive) == (True, True)


@pytest.mark.parametrize(("channel", "depth"), [("books5", 5), ("bbo-tbt", 1)])
def test_whole_book_channels(channel: str, depth: int) -> None:
    books = OkxBooks(random.Random(11))
    arg = {"channel": channel, "instId": "BTC-USDT"}
    first = books.full(arg, changed_only=False)
    assert first is not None and "action" not in first
    (element,) = first["data"]
    assert len(element["asks"]) == len(element["bids"]) == depth
    assert "checksum" not in element and "prevSeqId" not in element
    assert isinstance(element["seqId"], int) and element["ts"].isdigit()
    assert ("instId" in element) == (channel == "books5")
    assert books.full(arg, changed_only=True) is None  # nothing changed
    sent = 0
    for _ in range(50):
        books.step("BTC-USDT")
        frame = books.full(arg, changed_only=True)
        if frame is not None:
            sent += 1
            levels = books.levels("BTC-USDT", channel)
            assert [(r[0], r[1]) for r in frame["data"][0]["bids"]] == levels.bids
    assert 0 < sent <= 50
