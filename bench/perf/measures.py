"""What every measured client reports the same way: latency percentiles and its memory.

Shared by the bridge's runner and the cryptofeed client; kept apart from both so that a
client process imports nothing of the other's (its RSS is its own).
"""

from __future__ import annotations

from array import array


def percentiles(values: array[int], points: tuple[float, ...]) -> dict[str, float]:
    """Exact percentiles (nearest rank) in milliseconds, of latencies in microseconds."""
    if not values:
        return {}
    ordered = sorted(values)
    n = len(ordered)
    result = {}
    for p in points:
        rank = min(n - 1, max(0, int(round(p / 100 * n + 0.5)) - 1))
        result[f"p{p:g}"] = ordered[rank] / 1000
    result["max"] = ordered[-1] / 1000
    result["mean"] = sum(ordered) / n / 1000
    return result


def memory() -> dict[str, float]:
    """This process's peak and current resident set (``VmHWM``, ``VmRSS``), MiB."""
    found = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmHWM", "VmRSS"):
                found[name] = int(value.split()[0]) / 1024  # kB -> MiB
    return found
