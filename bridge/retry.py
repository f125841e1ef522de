"""One backoff for everything the bridge retries: reconnects, Kafka sends, registry requests.

Pure: no clock and no event loop, so it is tested without either (as websockets tests its
backoff generator). Callers sleep; this module only says how long.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator


def backoff_delays(
    initial: float, maximum: float, *, floor: float = 0.0, rng: Callable[[], float] = random.random
) -> Iterator[float]:
    """Capped exponential backoff with full jitter above a floor: the n-th delay is uniform
    in [floor, floor + min(maximum, initial * 2**n)]. ``floor`` keeps a retry from beating a
    rate limit (an exchange's connects per second); the jitter above it keeps clients that
    failed together from retrying in lockstep."""
    for attempt in itertools.count():
        cap = min(maximum, initial * 2**attempt)
        yield floor + rng() * cap


class Backoff:
    """A :func:`backoff_delays` sequence that can start over: :meth:`next_delay` for each
    failure, :meth:`reset` after a success."""

    def __init__(
        self,
        initial: float,
        maximum: float,
        *,
        floor: float = 0.0,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._args = (initial, maximum)
        self._floor = floor
        self._rng = rng
        self._delays = backoff_delays(initial, maximum, floor=floor, rng=rng)
        self.failures = 0
        """Failures since the last reset."""

    def next_delay(self) -> float:
        self.failures += 1
        return next(self._delays)

    def reset(self) -> None:
        self.failures = 0
        self._delays = backoff_delays(*self._args, floor=self._floor, rng=self._rng)
