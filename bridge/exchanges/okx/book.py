"""OKX order books: the typed record of a book element, the bridge's own copy of each book, and
the two checks OKX makes possible (its CRC32 checksum and the seqId/prevSeqId chain).

Channels and what is checked (docs/okx.md says the same for users):

- ``books``, ``books-l2-tbt``, ``books50-l2-tbt`` (and ``books-elp``): a snapshot, then updates
  (``action``). The bridge keeps each (channel, instId) book from the snapshot on, applies every
  update (a size of 0 deletes the level; sizes are absolute), and checks each message:

  * **sequence**: an update's ``prevSeqId`` equals the ``seqId`` of the message before it. That
    covers the keepalive (an empty update with ``seqId == prevSeqId``) and OKX's documented
    reset after maintenance (``seqId < prevSeqId``, its ``prevSeqId`` still the last ``seqId``);
  * **checksum**, when it is not 0: CRC32 (as a signed 32-bit integer) of the top 25 levels after
    the message, ``bid:size:ask:size:...`` interleaved, the longer side's remaining levels
    appended, prices and sizes as the exact text received. OKX sends 0 since 23 June 2026 and
    says it must no longer be used: 0 means "not provided".

  A failed check marks the record ``failed`` and asks for a resync; the book is then not checked
  again until a new snapshot replaces it.
- ``books5``, ``bbo-tbt``: every push is the whole book (5 levels, 1 level; no ``action``, no
  checksum, no ``prevSeqId``), so no push depends on another and nothing is carried over: the
  record says ``full_book``.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from bridge.exchanges import wire
from bridge.exchanges.book import Level, PriceBook
from bridge.exchanges.events import Verified
from bridge.exchanges.wire import BadElement

CHECKSUM_LEVELS: Final = 25
"""OKX's checksum covers the best 25 levels of each side."""

BOOK_DEPTHS: Final[Mapping[str, int | None]] = {
    "books": 400,
    "books-l2-tbt": 400,
    "books50-l2-tbt": 50,
    "books-elp": 400,
    "books5": 5,
    "bbo-tbt": 1,
}
"""The book channels with the book schema, and their documented depth: the bridge keeps no more
levels a side than that (OKX pushes a level again when it comes back within the depth)."""

_MAX_BOOKS: Final = 1024
"""Books one connection keeps at most (a server naming endless instruments cannot exhaust
memory); a book beyond it is carried unchecked."""


def book_checksum(bids: Sequence[Level], asks: Sequence[Level]) -> int:
    """OKX's book checksum of the given best-first levels (only the best 25 of each count):
    ``bid1px:bid1sz:ask1px:ask1sz:bid2px:...``, the longer side's remaining levels appended,
    CRC32 of the UTF-8 text as a signed 32-bit integer.

    The OKX simulator (``bridge/sandbox/okx``) computes the same checksum on purpose, as the other
    side of the protocol: an independent oracle, not a copy to share."""
    bids, asks = bids[:CHECKSUM_LEVELS], asks[:CHECKSUM_LEVELS]
    parts: list[str] = []
    for index in range(max(len(bids), len(asks))):
        if index < len(bids):
            parts += bids[index]
        if index < len(asks):
            parts += asks[index]
    crc = zlib.crc32(":".join(parts).encode())
    return crc - 0x1_0000_0000 if crc & 0x8000_0000 else crc


# --- the record ----------------------------------------------------------------------------------


@dataclass(slots=True)
class BookElement:
    """One pushed book element: its typed payload (``verified`` still to set) and what the
    checks need."""

    payload: dict[str, Any]
    asks: list[Level]
    bids: list[Level]
    checksum: int | None
    prev_seq_id: int | None
    seq_id: int | None


BookIdentity = tuple[str, str | None, int | None, int, int | None]
"""("book", action, prevSeqId, seqId, ts): see :func:`book_identity`."""

_KNOWN: Final = frozenset({"instId", "asks", "bids", "ts", "checksum", "prevSeqId", "seqId"})


def book_element(action: str | None, element: Any) -> BookElement:
    """The typed payload of one book element. BadElement when it is not a book."""
    if not isinstance(element, dict):
        raise BadElement(f"element is a JSON {wire.json_type(element)}, not an object")
    asks, ask_levels = _levels("asks", element.get("asks"))
    bids, bid_levels = _levels("bids", element.get("bids"))
    checksum = _long("checksum", element.get("checksum"))
    prev_seq_id = _long("prevSeqId", element.get("prevSeqId"))
    seq_id = _long("seqId", element.get("seqId"))
    payload = {
        "instId": wire.optional_text(element.get("instId")),
        "action": action,
        "asks": asks,
        "bids": bids,
        "ts": wire.millis("ts", element.get("ts")),
        "checksum": checksum,
        "prevSeqId": prev_seq_id,
        "seqId": seq_id,
        "verified": Verified.NOT_CHECKED.value,
        "extra": {k: wire.text(v) for k, v in element.items() if k not in _KNOWN},
    }
    return BookElement(payload, ask_levels, bid_levels, checksum, prev_seq_id, seq_id)


def book_identity(action: str | None, element: BookElement) -> BookIdentity | None:
    """The identity of a book push with a seqId (see :attr:`Push.identity`), None without.

    OKX: "The set of sequence ID received by users is the same if users are connecting to the
    same channel through multiple websocket connections", and each instId has its own: the
    message a seqId names is the same message on every connection. With the action, the
    previous seqId and the time, a keepalive (same seqIds again) stays a push of its own. Far
    cheaper than hashing the content, which books are the largest of."""
    if element.seq_id is None:
        return None
    return ("book", action, element.prev_seq_id, element.seq_id, element.payload["ts"])


def _levels(name: str, rows: Any) -> tuple[list[dict[str, Any]], list[Level]]:
    """The level records of one side, and its (price, size) texts for the book. A row is
    ``[price, size, deprecated, orders]``: 2 to 4 strings (or numbers, kept as their text).
    Whether price and size are numbers is the book's to check (:meth:`LocalBooks.check`)."""
    if rows is None:
        return [], []
    if type(rows) is not list:
        raise BadElement(f"{name} is a JSON {wire.json_type(rows)}, not an array")
    records: list[dict[str, Any]] = []
    levels: list[Level] = []
    # The per-level work of the busiest stream: the common row (four strings) costs no call.
    for row in rows:
        if type(row) is list and len(row) == 4:
            price, size, deprecated, orders = row
            if (
                type(price) is str
                and type(size) is str
                and type(deprecated) is str
                and type(orders) is str
            ):
                records.append(
                    {"price": price, "size": size, "deprecated": deprecated, "orders": orders}
                )
                levels.append((price, size))
                continue
        record = _level(name, rows.index(row), row)
        records.append(record)
        levels.append((record["price"], record["size"]))
    return records, levels


def _level(name: str, index: int, row: Any) -> dict[str, Any]:
    """A row that is not four strings: 2 to 4 strings or numbers."""
    if not isinstance(row, list) or not 2 <= len(row) <= 4:
        raise BadElement(f"{name}[{index}] is not an array of 2 to 4 elements")
    if not all(isinstance(value, str) for value in row):  # a wire.Number is a str
        raise BadElement(f"{name}[{index}] holds a value that is neither a string nor a number")
    texts = [str.__str__(value) for value in row]
    return {
        "price": texts[0],
        "size": texts[1],
        "deprecated": texts[2] if len(texts) > 2 else None,
        "orders": texts[3] if len(texts) > 3 else None,
    }


def _long(name: str, value: Any) -> int | None:
    """A JSON integer (or a string of digits) in the range of an Avro long; None when absent."""
    if value is None or value == "":
        return None
    number = wire.integer(name, value)
    if number is None or not -wire.MAX_LONG - 1 <= number <= wire.MAX_LONG:
        raise BadElement(f"{name} is not an integer: {wire.text(value)[:40]!r}")
    return number


# --- the books ------------------------------------------------------------------------------------


class _State(Enum):
    VERIFYING = "verifying"
    RESYNCING = "resyncing"  # a check failed; not checked again until the next snapshot


@dataclass(slots=True)
class LocalBook:
    """The bridge's copy of one (channel, instId) book since its last snapshot."""

    depth: int | None
    book: PriceBook
    seq_id: int | None = None
    state: _State = _State.VERIFYING

    def apply(self, element: BookElement) -> bool:
        """Apply the element's levels; False when a price is not a decimal number (the bridge
        cannot place it, so its copy of the book is no longer the exchange's)."""
        asks, bids = self.book.asks, self.book.bids
        try:
            asks.set_levels(element.asks)
            bids.set_levels(element.bids)
        except ValueError:
            return False
        if self.depth is not None:
            asks.truncate(self.depth)
            bids.truncate(self.depth)
        return True

    def checksum(self) -> int:
        return book_checksum(
            self.book.bids.best(CHECKSUM_LEVELS), self.book.asks.best(CHECKSUM_LEVELS)
        )

    def levels(self) -> tuple[list[Level], list[Level]]:
        """(bids, asks), best first: the whole book as the bridge holds it."""
        return self.book.bids.best(len(self.book.bids)), self.book.asks.best(len(self.book.asks))


BookKey = tuple[str, str]
"""(channel, instId)"""


class LocalBooks:
    """Every book of one connection, and the check of each element pushed on them."""

    def __init__(self) -> None:
        self._books: dict[BookKey, LocalBook] = {}

    def get(self, key: BookKey) -> LocalBook | None:
        return self._books.get(key)

    def forget(self, key: BookKey) -> None:
        """The subscription ended (unsubscribed): the next snapshot starts the book again."""
        self._books.pop(key, None)

    def clear(self) -> None:
        self._books.clear()

    def check(self, key: BookKey, action: str | None, element: BookElement) -> str | None:
        """Apply ``element`` to its book and set its payload's ``verified``. Returns why the book
        is broken (``checksum_mismatch``, ``sequence_gap``, ``invalid_level``) when this element
        broke it, else None. Only ``snapshot`` and ``update`` carry over between pushes; a push
        without an action (books5, bbo-tbt) is the whole book; an action OKX does not document
        is not checked."""
        if action == "snapshot":
            return self._on_snapshot(key, element)
        if action == "update":
            return self._on_update(key, element)
        if action is None:
            element.payload["verified"] = Verified.FULL_BOOK.value
        return None

    def _on_snapshot(self, key: BookKey, element: BookElement) -> str | None:
        book = self._snapshot(key)
        if book is None:
            return None
        if not book.apply(element):
            return self._result(book, element, "invalid_level", checked=True)
        book.seq_id = element.seq_id
        # A snapshot is the whole book: it is right unless its own checksum says otherwise.
        return self._result(book, element, self._checksum_failure(book, element), checked=True)

    def _on_update(self, key: BookKey, element: BookElement) -> str | None:
        book = self._books.get(key)
        if book is None or book.state is _State.RESYNCING:
            return None  # nothing to check against
        checked = False
        if element.prev_seq_id is not None and book.seq_id is not None:
            checked = True
            if element.prev_seq_id != book.seq_id:
                return self._result(book, element, "sequence_gap", checked=True)
        if not book.apply(element):
            return self._result(book, element, "invalid_level", checked=True)
        if element.seq_id is not None:
            book.seq_id = element.seq_id
        failure = None
        if element.checksum:
            checked = True
            failure = self._checksum_failure(book, element)
        return self._result(book, element, failure, checked=checked)

    def _snapshot(self, key: BookKey) -> LocalBook | None:
        if key not in self._books and len(self._books) >= _MAX_BOOKS:
            return None
        book = self._books[key] = LocalBook(BOOK_DEPTHS.get(key[0]), PriceBook())
        return book

    @staticmethod
    def _checksum_failure(book: LocalBook, element: BookElement) -> str | None:
        if element.checksum and book.checksum() != element.checksum:
            return "checksum_mismatch"
        return None

    @staticmethod
    def _result(
        book: LocalBook, element: BookElement, failure: str | None, *, checked: bool
    ) -> str | None:
        if failure is not None:
            book.state = _State.RESYNCING
            element.payload["verified"] = Verified.FAILED.value
        elif checked:
            element.payload["verified"] = Verified.VERIFIED.value
        return failure
