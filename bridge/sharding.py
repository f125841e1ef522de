"""Which shard (bridge instance) holds which connection.

Every instance computes the whole assignment from the configuration alone (the connection names
and ``shard.count``) and keeps the connections assigned to its ``shard.index``; instances never
talk to each other. In Kubernetes the index is the StatefulSet ordinal and the count is the
replica count (see the Helm chart).

The assignment is

* **deterministic**: a pure function of the set of enabled connection names and the count (the
  order of the connections in the file does not matter);
* **even**: shard ``i`` holds ``n // count + (1 if i < n % count else 0)`` connections, so the
  loads differ by at most one;
* **stable**: a configuration change moves few connections. Every (connection, shard) pair has a
  rendezvous weight (a hash of both), and the assignment is the *stable matching* of connections
  to shard slots under those weights: no connection would rather be on another shard where it
  outweighs one of that shard's connections. Pure rendezvous hashing (each connection on its
  heaviest shard) never moves a connection needlessly but is uneven for the small numbers of
  connections a bridge holds; the stable matching keeps the connections that rank a shard highest
  on it, so adding or removing a connection or a shard moves only a short chain of connections
  (``tests/unit/test_sharding.py`` measures it against the least possible number of moves).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bridge.settings import ConnectionSettings, Settings

__all__ = ["assign_shards", "owned_connections", "rendezvous_weight", "shard_capacities"]


def rendezvous_weight(connection_name: str, shard: int) -> int:
    """The rendezvous (highest random weight) score of a connection on a shard: 64 bits of
    BLAKE2b over ``"<shard>:<name>"``, the same on every platform and Python version."""
    digest = hashlib.blake2b(f"{shard}:{connection_name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def shard_capacities(connection_count: int, shard_count: int) -> list[int]:
    """How many connections each shard holds: ``n // count``, plus one for the first
    ``n % count`` shards."""
    if shard_count < 1:
        raise ValueError(f"shard count must be at least 1; got {shard_count}")
    if connection_count < 0:
        raise ValueError(f"connection count must not be negative; got {connection_count}")
    base, extra = divmod(connection_count, shard_count)
    return [base + (1 if shard < extra else 0) for shard in range(shard_count)]


def assign_shards(connection_names: Iterable[str], shard_count: int) -> dict[str, int]:
    """Map each connection name to its shard in ``range(shard_count)``; see the module docstring.

    Greedy in descending weight over all (connection, shard) pairs: a pair is taken when the
    connection has no shard yet and the shard has room. With one preference order shared by both
    sides (the weight), this yields the unique stable matching. Ties (a 64-bit collision) are
    broken by name, then shard. Cost: ``O(n * count * log(n * count))``.
    """
    names = sorted(set(connection_names))
    room = shard_capacities(len(names), shard_count)
    pairs = sorted(
        (
            (rendezvous_weight(name, shard), name, shard)
            for name in names
            for shard in range(shard_count)
        ),
        reverse=True,
    )
    assignment: dict[str, int] = {}
    for _, name, shard in pairs:
        if name not in assignment and room[shard] > 0:
            assignment[name] = shard
            room[shard] -= 1
            if len(assignment) == len(names):
                break
    return assignment


def owned_connections(settings: Settings) -> list[ConnectionSettings]:
    """The enabled connections that ``settings.shard.index`` holds, in configuration order.
    Disabled connections take no share."""
    enabled = settings.enabled_connections
    assignment = assign_shards((c.name for c in enabled), settings.shard.count)
    return [c for c in enabled if assignment[c.name] == settings.shard.index]
