"""Reconnection policy: pure functions, no event loop."""

from __future__ import annotations

import itertools
import ssl

import pytest
from websockets.exceptions import InvalidURI

from bridge.retry import backoff_delays
from bridge.session import failure_reason, should_retry


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


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (TimeoutError(), "connect_timeout"),
        (ConnectionRefusedError(), "connection_refused"),
        (ssl.SSLCertVerificationError(), "tls_error"),
        (OSError("unreachable"), "network_error"),
        (RuntimeError("?"), "connect_error"),
    ],
)
def test_failure_reasons_are_bounded_labels(exc: BaseException, reason: str) -> None:
    assert failure_reason(exc) == reason
    assert should_retry(exc)


def test_an_unparseable_url_is_not_retried() -> None:
    assert not should_retry(InvalidURI("nope", "bad"))


async def test_the_connect_limiter_spaces_attempts_across_sessions() -> None:
    """Sessions of one exchange share a limiter: of four attempts at once, three go at once
    and the fourth waits until the window has passed (the exchange's limit is per IP)."""
    import asyncio
    import time

    from bridge.session import ConnectLimiter

    limiter = ConnectLimiter(3, 0.2)
    starts: list[float] = []

    async def connect() -> None:
        await limiter.wait()
        starts.append(time.monotonic())

    await asyncio.gather(*(connect() for _ in range(4)))
    assert len(starts) == 4
    assert starts[2] - starts[0] < 0.05  # the first three at once
    assert starts[3] - starts[0] >= 0.195  # the fourth one window after the first
