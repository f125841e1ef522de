"""A price-level order book kept in order, for the adapters that check an exchange's book
(Kraken's and OKX's checksums): no exchange knowledge here, only levels.

Each side maps a price to the (price, size) texts last sent for it, exactly as sent (the
checksums cover those texts), with the prices kept sorted best first: a change costs a binary
search and a list insert or delete, and the best N levels are a slice, so checking a book of 400
levels a side never sorts it.

Prices are ordered exactly, as the numbers they write. The sort keys are floats, which Python
makes, compares and hashes several times faster than Decimals (a level costs a key, a binary
search and a dict lookup: this is the per-level work of every book update), and exact here:
IEEE doubles hold 15 significant decimal digits, so two prices of at most 15 characters (hence
digits) and of different value never share a float (the rounding is one to one and keeps their
order), and two of equal value (``"8477"`` and ``"8477.0"``) always do. A side switches to
Decimal keys for good the first time a longer price arrives. The key only orders: the level
holds the text as sent, which a later text for the same price replaces. A size is zero when its
number is (a float is exact about zero).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation

Level = tuple[str, str]
"""(price, size) as sent."""

FLOAT_EXACT_CHARS = 15
"""The longest price whose float key is exact (15 digits, or fewer and a point)."""


def _decimal(price: str) -> Decimal:
    """A price as a finite Decimal; ValueError (as float gives) for anything else."""
    try:
        value = Decimal(price)
    except InvalidOperation:
        raise ValueError(f"price {price[:40]!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"price {price[:40]!r} is not a finite number")
    return value


class BookSide:
    """One side of a book (asks: lowest price first; bids: highest first)."""

    __slots__ = ("_key", "_keys", "_levels", "_sign")

    def __init__(self, *, highest_first: bool) -> None:
        # Sort keys, best first: the price, negated for bids.
        self._sign = -1 if highest_first else 1
        self._key: Callable[[str], float | Decimal] = float
        self._keys: list[float | Decimal] = []
        self._levels: dict[float | Decimal, Level] = {}

    def set(self, price: str, size: str) -> None:
        """The level at ``price`` now holds ``size`` (a zero size removes it)."""
        self.set_levels(((price, size),))

    def set_levels(self, levels: Iterable[Level]) -> None:
        """:meth:`set` for each (price, size) in order, in one call per message. ValueError for
        a price or size that is not a finite number (the levels before it are applied)."""
        keys, table, sign, to_key = self._keys, self._levels, self._sign, self._key
        for price, size in levels:
            if len(price) > FLOAT_EXACT_CHARS and to_key is not _decimal:
                to_key = self._use_decimal_keys()
            key: float | Decimal
            if to_key is float:
                key = float(price) * sign
                if key - key != 0:  # inf - inf and nan - nan are nan: not a price
                    raise ValueError(f"price {price[:40]!r} is not a finite number")
            else:
                key = _decimal(price) * sign
            if size == "0" or float(size) == 0:
                if table.pop(key, None) is not None:
                    del keys[bisect_left(keys, key)]
                continue
            if key not in table:
                keys.insert(bisect_left(keys, key), key)
            table[key] = (price, size)

    def _use_decimal_keys(self) -> Callable[[str], Decimal]:
        """Key the side by Decimal from now on (in place: set_levels holds these objects)."""
        self._key = _decimal
        held = [self._levels[key] for key in self._keys]
        self._keys[:] = [_decimal(price) * self._sign for price, _ in held]
        self._levels.clear()
        self._levels.update(zip(self._keys, held, strict=True))
        return _decimal

    def best(self, n: int) -> list[Level]:
        """The best ``n`` levels (fewer when the side is shorter), best first."""
        levels = self._levels
        return [levels[key] for key in self._keys[:n]]

    def truncate(self, depth: int) -> None:
        """Keep the best ``depth`` levels (for books the exchange keeps at a fixed depth without
        sending deletes for levels pushed out of it)."""
        if len(self._keys) > depth:
            for key in self._keys[depth:]:
                del self._levels[key]
            del self._keys[depth:]

    def clear(self) -> None:
        self._keys.clear()
        self._levels.clear()

    def __len__(self) -> int:
        return len(self._keys)


class PriceBook:
    """Both sides of one instrument's book."""

    __slots__ = ("asks", "bids")

    def __init__(self) -> None:
        self.asks = BookSide(highest_first=False)
        self.bids = BookSide(highest_first=True)

    def clear(self) -> None:
        self.asks.clear()
        self.bids.clear()
