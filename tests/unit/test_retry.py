"""The one backoff: pure, no event loop."""

from __future__ import annotations

import itertools

from bridge.retry import Backoff, backoff_delays


def test_delays_grow_exponentially_up_to_the_cap_with_full_jitter() -> None:
    top = list(itertools.islice(backoff_delays(1.0, 30.0, rng=lambda: 1.0), 8))
    assert top == [1, 2, 4, 8, 16, 30, 30, 30]
    bottom = list(itertools.islice(backoff_delays(1.0, 30.0, rng=lambda: 0.0), 3))
    assert bottom == [0, 0, 0]
    half = list(itertools.islice(backoff_delays(1.0, 30.0, rng=lambda: 0.5), 3))
    assert half == [0.5, 1, 2]


def test_floor_keeps_reconnects_within_the_exchange_rate_limit() -> None:
    delays = list(itertools.islice(backoff_delays(1.0, 30.0, floor=0.34, rng=lambda: 0.0), 5))
    assert delays == [0.34] * 5


def test_real_jitter_stays_within_bounds() -> None:
    for n, delay in enumerate(itertools.islice(backoff_delays(0.5, 10.0), 50)):
        assert 0.0 <= delay <= min(10.0, 0.5 * 2**n)


def test_backoff_starts_over_after_a_reset() -> None:
    backoff = Backoff(1.0, 8.0, floor=0.5, rng=lambda: 1.0)
    assert [backoff.next_delay() for _ in range(5)] == [1.5, 2.5, 4.5, 8.5, 8.5]
    assert backoff.failures == 5
    backoff.reset()
    assert backoff.failures == 0
    assert backoff.next_delay() == 1.5
