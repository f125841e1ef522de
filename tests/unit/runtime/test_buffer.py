"""The publisher's buffer as accounting: limits, and the record that is larger than them."""

from __future__ import annotations

import pytest

from bridge.runtime.buffer import Buffer


def test_full_at_the_record_limit() -> None:
    buffer = Buffer(max_records=2, max_bytes=1000)
    assert not buffer.full(10)
    buffer.reserve(10)
    assert not buffer.full(10)
    buffer.reserve(10)
    assert buffer.full(0) and buffer.full(10)
    buffer.release(10)
    assert not buffer.full(10)
    assert (buffer.records, buffer.bytes) == (1, 10)


def test_full_when_the_next_record_would_pass_the_byte_limit() -> None:
    buffer = Buffer(max_records=100, max_bytes=100)
    buffer.reserve(60)
    assert not buffer.full(40)
    assert buffer.full(41)


def test_a_record_larger_than_the_byte_limit_passes_an_empty_buffer() -> None:
    buffer = Buffer(max_records=100, max_bytes=100)
    assert not buffer.full(1_000)  # else it could never be sent at all
    buffer.reserve(1_000)
    assert buffer.full(1)


def test_releasing_more_than_was_reserved_is_a_bug() -> None:
    buffer = Buffer(max_records=10, max_bytes=100)
    buffer.reserve(5)
    with pytest.raises(ValueError):
        buffer.release(6)
    buffer.release(5)
    assert buffer.empty
    with pytest.raises(ValueError):
        buffer.release(0)


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Buffer(max_records=0, max_bytes=1)
