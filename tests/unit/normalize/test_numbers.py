"""Numbers: the exact text kept, its decimal(38, 18) beside it only when it fits exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fastavro._logical_writers_py import prepare_bytes_decimal

from bridge.normalize.numbers import PRECISION, SCALE, as_decimal, decimal_bytes, number


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42219.9", "42219.9"),
        ("1E-8", "0.00000001"),  # OKEx sends JSON numbers in exponent form
        ("0.00000812", "0.00000812"),
        ("-5", "-5"),
        ("0", "0"),
        ("0.100000000000000000000", "0.1"),  # trailing zeros beyond the scale lose nothing
        ("99999999999999999999.999999999999999999", "99999999999999999999.999999999999999999"),
    ],
)
def test_a_decimal_that_fits_is_the_same_value_at_scale_18(text: str, value: str) -> None:
    found = as_decimal(text)
    assert found == Decimal(value)
    assert found is not None and found.as_tuple().exponent == -18


@pytest.mark.parametrize(
    "text",
    [
        "1e-19",  # a digit beyond the scale: would be rounded
        "0.0000000000000000001",
        "100000000000000000000",  # 21 integer digits
        "1e999999999",
        "NaN",
        "Infinity",
        "1_000",
        " 1",
        "",
        "abc",
        None,
    ],
)
def test_a_value_that_does_not_fit_exactly_has_no_decimal(text: str | None) -> None:
    assert as_decimal(text) is None


def test_the_text_is_kept_as_sent() -> None:
    assert number("price", "1E-8") == {"price": "1E-8", "price_decimal": decimal_bytes("1E-8")}


@pytest.mark.parametrize(
    "text",
    [
        "42219.9",
        "1E-8",
        "0.00000812",
        "-5",
        "-0.5",
        "-0",
        "0",
        "127",
        "-128",
        "0.100000000000000000000",
        "99999999999999999999.999999999999999999",
        "-99999999999999999999.999999999999999999",
        "00042.10",
        "1e-19",
        "100000000000000000000",
        "NaN",
        "",
        None,
    ],
)
def test_the_bytes_are_what_avro_writes_for_the_decimal(text: str | None) -> None:
    value = as_decimal(text)
    schema = {"type": "bytes", "logicalType": "decimal", "precision": PRECISION, "scale": SCALE}
    expected = None if value is None else prepare_bytes_decimal(value, schema)
    assert decimal_bytes(text) == expected
