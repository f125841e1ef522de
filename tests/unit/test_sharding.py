"""Sharding: deterministic, exactly even, and few connections moved by a configuration change."""

from __future__ import annotations

import random
import statistics
from collections import Counter
from typing import Any

import pytest

from bridge.settings import Settings
from bridge.sharding import (
    assign_shards,
    owned_connections,
    rendezvous_weight,
    shard_capacities,
)

Assignment = dict[str, int]


def loads(assignment: Assignment, count: int) -> list[int]:
    per_shard = Counter(assignment.values())
    return [per_shard[shard] for shard in range(count)]


def moved(before: Assignment, after: Assignment) -> int:
    """Connections present in both assignments whose shard changed."""
    return sum(1 for name, shard in before.items() if name in after and after[name] != shard)


def fewest_moves(before: Assignment, names: list[str], count: int) -> int:
    """The least number of connections any exactly even assignment of ``names`` over ``count``
    shards must move away from ``before``: each shard keeps at most its capacity of the
    connections it already has, and the larger capacities go to the shards holding more."""
    kept_before = [name for name in names if name in before]
    held = sorted(
        (sum(1 for name in kept_before if before[name] == shard) for shard in range(count)),
        reverse=True,
    )
    capacities = sorted(shard_capacities(len(names), count), reverse=True)
    return len(kept_before) - sum(min(h, c) for h, c in zip(held, capacities, strict=False))


def random_configs(seed: int, n: int = 300) -> list[tuple[list[str], int]]:
    rng = random.Random(seed)
    configs = []
    for _ in range(n):
        size = rng.randint(1, 60)
        names = list(dict.fromkeys(f"conn-{rng.randrange(10**6)}" for _ in range(size)))
        configs.append((names, rng.randint(2, 8)))
    return configs


# -- the function itself -----------------------------------------------------------------------


def test_rendezvous_weight_is_a_fixed_hash() -> None:
    # Changing the hash would reshuffle every deployed bridge: it must never change by accident.
    assert rendezvous_weight("okx-public", 0) == 0xE881865F651D450E
    assert rendezvous_weight("okx-public", 1) != rendezvous_weight("okx-public", 0)


def test_golden_assignment() -> None:
    # The same reasoning for the assignment: pods of different versions must agree during a
    # rolling update.
    names = ["okx-public", "okx-business", "kraken", "okex-spot", "okx-private"]
    assert assign_shards(names, 2) == {
        "kraken": 1,
        "okex-spot": 0,
        "okx-business": 0,
        "okx-private": 1,
        "okx-public": 0,
    }


@pytest.mark.parametrize(
    ("n", "count", "expected"),
    [(0, 1, [0]), (0, 3, [0, 0, 0]), (5, 1, [5]), (7, 3, [3, 2, 2]), (2, 4, [1, 1, 0, 0])],
)
def test_capacities(n: int, count: int, expected: list[int]) -> None:
    assert shard_capacities(n, count) == expected


def test_capacities_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        shard_capacities(3, 0)
    with pytest.raises(ValueError, match="negative"):
        shard_capacities(-1, 2)


def test_empty_and_single_shard() -> None:
    assert assign_shards([], 3) == {}
    assert assign_shards(["a", "b", "c"], 1) == {"a": 0, "b": 0, "c": 0}


def test_deterministic_and_independent_of_order() -> None:
    names = [f"conn-{i}" for i in range(25)]
    first = assign_shards(names, 4)
    assert assign_shards(list(reversed(names)), 4) == first
    assert assign_shards(random.Random(3).sample(names, len(names)), 4) == first
    assert assign_shards(names + names[:5], 4) == first  # duplicates count once


@pytest.mark.parametrize("count", range(1, 9))
@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 8, 13, 21, 34, 100])
def test_exactly_even(n: int, count: int) -> None:
    names = [f"c{i}" for i in range(n)]
    assignment = assign_shards(names, count)
    assert sorted(assignment) == sorted(names)
    assert all(0 <= shard < count for shard in assignment.values())
    assert loads(assignment, count) == shard_capacities(n, count)
    assert max(loads(assignment, count)) - min(loads(assignment, count)) <= 1


@pytest.mark.parametrize(
    ("names", "count"),
    random_configs(11, 60),
    ids=lambda v: f"{v}-shards" if isinstance(v, int) else f"{len(v)}-connections",
)
def test_stable_no_connection_would_rather_move(names: list[str], count: int) -> None:
    """No blocking pair: if a connection weighs more on another shard than on its own, every
    connection on that shard weighs more there still. This property defines the assignment
    uniquely, so any implementation that keeps it gives every pod the same answer."""
    assignment = assign_shards(names, count)
    by_shard: dict[int, list[str]] = {s: [] for s in range(count)}
    for name, shard in assignment.items():
        by_shard[shard].append(name)
    for name, shard in assignment.items():
        mine = rendezvous_weight(name, shard)
        for other in range(count):
            theirs = rendezvous_weight(name, other)
            if other == shard or theirs < mine:
                continue
            if not by_shard[other]:  # a shard with no room (fewer connections than shards)
                assert shard_capacities(len(names), count)[other] == 0
                continue
            weakest = min(rendezvous_weight(n, other) for n in by_shard[other])
            assert weakest > theirs, f"{name} would displace a connection on shard {other}"


# -- configuration changes -------------------------------------------------------------------


def test_adding_or_removing_a_connection_moves_few_others() -> None:
    """Keeping the split exactly even sometimes forces a move; the least possible is 0 moves of
    other connections when one is added and at most 1 when one is removed. Over 300 random
    configurations (1-60 connections, 2-8 shards) the stable matching moves at most 4 others
    and about 1 on average."""
    added: list[int] = []
    removed: list[int] = []
    rng = random.Random(5)
    for names, count in random_configs(7):
        before = assign_shards(names, count)
        grown = [*names, f"new-{rng.randrange(10**6)}"]
        added.append(moved(before, assign_shards(grown, count)))
        victim = rng.choice(names)
        shrunk = [n for n in names if n != victim]
        moves = moved(before, assign_shards(shrunk, count))
        assert moves <= fewest_moves(before, shrunk, count) + 4
        removed.append(moves)
    assert max(added) <= 4 and statistics.mean(added) <= 1.5
    assert max(removed) <= 5 and statistics.mean(removed) <= 1.5


def test_changing_the_shard_count_moves_close_to_the_minimum() -> None:
    """Going from k to k+1 shards must move at least the new shard's share; the stable matching
    moves within a few connections of the least possible, where a round-robin split over the
    sorted names moves most of them."""
    ours = least = round_robin = total = 0
    for names, count in random_configs(9):
        for before_count, after_count in ((count, count + 1), (count + 1, count)):
            before = assign_shards(names, before_count)
            after = assign_shards(names, after_count)
            minimum = fewest_moves(before, names, after_count)
            moves = moved(before, after)
            assert minimum <= moves <= minimum + 8
            ours += moves
            least += minimum
            ordered = sorted(names)
            round_robin += sum(
                1 for i, _ in enumerate(ordered) if i % before_count != i % after_count
            )
            total += len(names)
    assert ours <= 1.4 * least
    assert ours * 3 < round_robin
    assert least < total


def test_round_trip_of_shard_count_restores_the_assignment() -> None:
    names = [f"conn-{i}" for i in range(30)]
    assert assign_shards(names, 3) == assign_shards(list(assign_shards(names, 4)), 3)


# -- settings ------------------------------------------------------------------------------------


def settings_with(names: list[str], index: int, count: int, **extra: Any) -> Settings:
    connections = [
        {
            "name": name,
            "exchange": "okx",
            "url": "wss://ws.okx.com:8443/ws/v5/public",
            "subscriptions": [{"channel": "status"}],
            **extra.get(name, {}),
        }
        for name in names
    ]
    return Settings.from_mapping(
        {"shard": {"index": index, "count": count}, "connections": connections}, environ={}
    )


@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_every_enabled_connection_is_owned_exactly_once(count: int) -> None:
    names = [f"okx-{i}" for i in range(11)]
    disabled = {"okx-3": {"enabled": False}, "okx-7": {"enabled": False}}
    owners: Counter[str] = Counter()
    for index in range(count):
        owned = owned_connections(settings_with(names, index, count, **disabled))
        owned_names = [c.name for c in owned]
        assert owned_names == [n for n in names if n in owned_names]  # configuration order
        owners.update(owned_names)
    assert set(owners) == set(names) - set(disabled)
    assert set(owners.values()) == {1}


def test_disabled_connections_take_no_share() -> None:
    names = [f"okx-{i}" for i in range(6)]
    disabled = {n: {"enabled": False} for n in names[:3]}
    sizes = [len(owned_connections(settings_with(names, i, 3, **disabled))) for i in range(3)]
    assert sizes == [1, 1, 1]
