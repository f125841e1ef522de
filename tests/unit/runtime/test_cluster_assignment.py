"""The group leader's assignment (bridge/cluster/assignment.py): complete, exclusive, balanced,
sticky with the fewest possible moves, deterministic. Pure: no Kafka."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Mapping

import pytest

from bridge.cluster.assignment import Member, assign, assignments, next_epoch

Holdings = dict[str, str]  # connection -> member id


def members_holding(
    holdings: Holdings, ids: list[str], names: list[str], epoch: int = 1
) -> dict[str, Member]:
    """Every member configured with ``names``, holding what ``holdings`` gives it."""
    return {
        m: Member(
            holder=f"{m}#t",
            connections=frozenset(names),
            held={n: epoch for n, h in holdings.items() if h == m},
            epoch=epoch,
        )
        for m in ids
    }


def run(members: Mapping[str, Member]) -> Holdings:
    grants = assign(members, next_epoch(members))
    return {name: grant.member for name, grant in grants.items()}


def moves(before: Holdings, after: Holdings, ids: list[str]) -> int:
    """Connections taken from a holder that is still a member (a connection whose holder left
    has to go somewhere: that is no move)."""
    return sum(1 for n, m in before.items() if m in ids and n in after and after[n] != m)


def fewest_moves(before: Holdings, ids: list[str], n: int) -> int:
    """The least any balanced assignment must move, found by trying every way to give the
    larger shares (n % len(ids) members get one more): each member keeps at most its share."""
    held = Counter(m for m in before.values() if m in ids)
    base, extra = divmod(n, len(ids))
    best = n
    for bigger in itertools.combinations(ids, extra):
        kept = sum(min(held[m], base + (m in bigger)) for m in ids)
        best = min(best, sum(held.values()) - kept)
    return best


def loads(holdings: Holdings, ids: list[str]) -> list[int]:
    per = Counter(holdings.values())
    return [per[m] for m in ids]


NAMES = [f"okx-{i}" for i in range(7)]


def test_a_first_assignment_spreads_every_connection_evenly() -> None:
    ids = ["a", "b", "c"]
    after = run(members_holding({}, ids, NAMES))
    assert sorted(after) == NAMES  # every connection, each to one member
    assert sorted(loads(after, ids)) == [2, 2, 3]


def test_an_unchanged_group_moves_nothing() -> None:
    ids = ["a", "b", "c"]
    first = run(members_holding({}, ids, NAMES))
    assert run(members_holding(first, ids, NAMES)) == first


def test_a_joining_member_takes_only_its_share() -> None:
    ids = ["a", "b"]
    before = run(members_holding({}, ids, NAMES))
    after = run(members_holding(before, [*ids, "c"], NAMES))
    assert sorted(loads(after, [*ids, "c"])) == [2, 2, 3]
    taken = {n for n, m in after.items() if m == "c"}
    assert len(taken) == 2
    # nothing else moved: each connection stayed, or went to the new member
    assert all(after[n] == before[n] for n in NAMES if n not in taken)


def test_a_leaving_member_moves_only_its_connections() -> None:
    ids = ["a", "b", "c"]
    before = run(members_holding({}, ids, NAMES))
    after = run(members_holding(before, ["a", "c"], NAMES))
    assert sorted(loads(after, ["a", "c"])) == [3, 4]
    assert all(after[n] == m for n, m in before.items() if m != "b")


def test_the_grant_says_who_hands_a_connection_over_and_keeps_old_epochs() -> None:
    ids = ["a", "b"]
    members = members_holding({n: "a" for n in NAMES}, ids, NAMES, epoch=4)
    grants = assign(members, 5)
    kept = {n: g for n, g in grants.items() if g.member == "a"}
    moved = {n: g for n, g in grants.items() if g.member == "b"}
    assert len(moved) == 3 and len(kept) == 4
    assert all(g.epoch == 4 and g.previous is None for g in kept.values())
    assert all(g.epoch == 5 and g.previous == "a#t" for g in moved.values())


def test_each_member_learns_its_successors_grant_epoch() -> None:
    ids = ["a", "b"]
    members = members_holding({n: "a" for n in NAMES}, ids, NAMES, epoch=4)
    out = assignments(members)
    assert out["a"].epoch == out["b"].epoch == 5
    assert out["a"].members == 2
    assert set(out["a"].successors) == set(out["b"].grants)
    assert set(out["a"].successors.values()) == {5}
    assert out["b"].successors == {}
    assert set(out["a"].grants) | set(out["b"].grants) == set(NAMES)


def test_the_later_grant_wins_when_two_members_claim_a_connection() -> None:
    names = ["x", "y"]
    members = {
        "a": Member("a#t", frozenset(names), held={"x": 3, "y": 3}, epoch=3),
        # b missed a generation and still believes in its old grant of x
        "b": Member("b#t", frozenset(names), held={"x": 2}, epoch=3),
    }
    grants = assign(members, 4)
    # a keeps x at its share (1): its grant is the later one; b takes y from a
    assert grants["x"].member == "a" and grants["x"].epoch == 3
    assert grants["y"].member == "b" and grants["y"].previous == "a#t"


def test_a_connection_being_handed_over_is_taken_back_rather_than_moved() -> None:
    """a gave x up to c, and c left before subscribing: a still holds x and gets it back."""
    names = ["x", "y"]
    members = {
        "a": Member("a#t", frozenset(names), releasing=frozenset({"x"}), epoch=7),
        "b": Member("b#t", frozenset(names), held={"y": 7}, epoch=7),
    }
    grants = assign(members, 8)
    assert grants["x"].member == "a" and grants["x"].previous is None
    assert grants["y"].member == "b"


def test_a_connection_handed_over_by_a_live_member_names_it() -> None:
    """b has room, and x is still held (released, not yet closed) by a: b takes it over from a."""
    names = ["x", "y", "z"]
    members = {
        "a": Member("a#t", frozenset(names), held={"y": 7, "z": 7}, releasing=frozenset({"x"})),
        "b": Member("b#t", frozenset(names)),
    }
    grants = assign(members, 8)
    assert grants["x"].member == "b" and grants["x"].previous == "a#t"


def test_a_connection_goes_only_to_members_that_have_it_configured() -> None:
    """During a rolling upgrade that adds ``new``, only the upgraded member can hold it."""
    old = frozenset(NAMES)
    members = {
        "a": Member("a#t", old),
        "b": Member("b#t", old | {"new"}),
        "c": Member("c#t", old),
    }
    after = {n: g.member for n, g in assign(members, 1).items()}
    assert after["new"] == "b"
    assert sorted(after) == sorted([*NAMES, "new"])
    assert sorted(loads(after, ["a", "b", "c"])) == [2, 3, 3]


def test_a_connection_nobody_has_configured_is_not_assigned() -> None:
    members = {"a": Member("a#t", frozenset({"x"}), held={"gone": 2, "x": 2})}
    assert set(assign(members, 3)) == {"x"}


def test_no_members_no_grants() -> None:
    assert assign({}, 1) == {}
    assert next_epoch({}) == 1


@pytest.mark.parametrize("seed", range(3))
def test_random_groups_are_complete_balanced_and_move_the_fewest(seed: int) -> None:
    """Random memberships and holdings (a previous assignment, then members joining, leaving,
    connections added or removed): every configured connection once, loads within one, and
    exactly the least number of moves any balanced assignment needs."""
    rng = random.Random(seed)
    for _ in range(300):
        names = [f"c{i}" for i in rng.sample(range(100), rng.randint(0, 40))]
        ids = sorted(rng.sample("abcdefghij", rng.randint(1, 7)))
        previous_ids = sorted(rng.sample("abcdefghij", rng.randint(1, 7)))
        before = {n: rng.choice(previous_ids) for n in names if rng.random() < 0.8}
        after = run(members_holding(before, ids, names))
        assert sorted(after) == sorted(names)
        per = loads(after, ids)
        assert max(per) - min(per) <= 1, per
        assert moves(before, after, ids) == fewest_moves(before, ids, len(names))


def test_the_assignment_does_not_depend_on_the_order_of_the_reports() -> None:
    rng = random.Random(7)
    ids = list("abcde")
    names = [f"{n}-{i}" for i in range(3) for n in NAMES]
    before = {n: rng.choice(ids) for n in names if rng.random() < 0.5}
    members = members_holding(before, ids, names)
    expected = assign(members, 9)
    for _ in range(5):
        shuffled = list(members.items())
        rng.shuffle(shuffled)
        assert assign(dict(shuffled), 9) == expected
