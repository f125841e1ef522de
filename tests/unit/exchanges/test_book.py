"""The price-level book the Kraken and OKX adapters keep (bridge/exchanges/book.py): order,
deletes, the exact texts, and exact ordering whatever the prices."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from bridge.exchanges.book import FLOAT_EXACT_CHARS, BookSide, PriceBook


def test_asks_lowest_first_bids_highest_first() -> None:
    book = PriceBook()
    book.asks.set_levels([("101", "1"), ("100.5", "2"), ("102", "3")])
    book.bids.set_levels([("99", "1"), ("99.5", "2"), ("98", "3")])
    assert book.asks.best(10) == [("100.5", "2"), ("101", "1"), ("102", "3")]
    assert book.bids.best(2) == [("99.5", "2"), ("99", "1")]
    assert len(book.asks) == 3 and len(book.bids) == 3


@pytest.mark.parametrize("zero", ["0", "0.0", "0.00000000", ".0", "0."])
def test_a_zero_size_deletes_the_level(zero: str) -> None:
    side = BookSide(highest_first=False)
    side.set_levels([("1", "5"), ("2", "6")])
    side.set("1", zero)
    assert side.best(5) == [("2", "6")]
    side.set("3", zero)  # deleting a level that is not there changes nothing
    assert side.best(5) == [("2", "6")]


def test_the_same_price_in_another_text_is_the_same_level_and_takes_the_new_text() -> None:
    side = BookSide(highest_first=True)
    side.set_levels([("8477", "1"), ("8476.5", "2")])
    side.set("8477.0", "3")
    assert side.best(5) == [("8477.0", "3"), ("8476.5", "2")]
    side.set("8477.00", "0")
    assert side.best(5) == [("8476.5", "2")]


def test_sizes_keep_their_text() -> None:
    side = BookSide(highest_first=False)
    side.set("0.10", "0.00001000")
    assert side.best(1) == [("0.10", "0.00001000")]


def test_truncate_keeps_the_best_levels() -> None:
    book = PriceBook()
    book.asks.set_levels([(str(p), "1") for p in range(10, 20)])
    book.bids.set_levels([(str(p), "1") for p in range(10)])
    book.asks.truncate(3)
    book.bids.truncate(3)
    assert [p for p, _ in book.asks.best(10)] == ["10", "11", "12"]
    assert [p for p, _ in book.bids.best(10)] == ["9", "8", "7"]
    book.asks.set("10", "0")
    assert [p for p, _ in book.asks.best(10)] == ["11", "12"]


def test_prices_that_a_float_cannot_tell_apart_are_ordered_exactly() -> None:
    # More than 15 significant digits: as floats these are all 0.1.
    low, high = "0.100000000000000001", "0.10000000000000001"
    assert float(low) == float(high) == 0.1 and len(high) > FLOAT_EXACT_CHARS
    side = BookSide(highest_first=True)
    side.set_levels([("0.1", "1"), ("0.2", "2")])
    side.set_levels([(high, "3"), (low, "4")])
    assert side.best(10) == [("0.2", "2"), (high, "3"), (low, "4"), ("0.1", "1")]
    side.set("0.100000000000000010", "0")  # the same number as `high`, in more digits
    assert side.best(10) == [("0.2", "2"), (low, "4"), ("0.1", "1")]


def test_many_random_prices_come_out_in_decimal_order() -> None:
    rng = random.Random(5)
    side = BookSide(highest_first=False)
    expected: dict[Decimal, tuple[str, str]] = {}
    for _ in range(3000):
        digits = rng.randint(1, 15)
        text = str(rng.randrange(10**digits))
        if rng.random() < 0.7:
            point = rng.randint(0, len(text) - 1)
            text = text[:point] + "." + text[point:] if point else "0." + text
        size = rng.choice(["0", "1", "2.5"])
        side.set(text, size)
        if size == "0":
            expected.pop(Decimal(text), None)
        else:
            expected[Decimal(text)] = (text, size)
    assert side.best(len(expected)) == [expected[k] for k in sorted(expected)]


@pytest.mark.parametrize("price", ["abc", "", "nan", "inf", "-inf", "1e999", "NaN" + "0" * 20])
def test_a_price_that_is_not_a_finite_number_is_refused(price: str) -> None:
    side = BookSide(highest_first=False)
    side.set("1", "1")
    with pytest.raises(ValueError):
        side.set_levels([("2", "1"), (price, "1")])
    assert side.best(5) == [("1", "1"), ("2", "1")]  # the levels before it are applied
