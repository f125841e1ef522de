"""Which member of the group holds which connection: the leader's decision, pure.

In group mode the leader of the Kafka consumer group (whichever instance the broker elects)
runs :func:`assign` over what every member told the group when it joined (:class:`Member`):
the connections it has configured, those it holds and since which epoch, and those it still
holds while handing them over. The result is one :class:`Grant` per connection. It is

* **complete and exclusive**: every connection that some member has configured is granted to
  exactly one member that has it configured (during a rolling upgrade that adds or removes a
  connection, members with different configurations coexist; a connection goes only to members
  that know it);
* **balanced**: when every member has the same connections, the loads differ by at most one
  (``bridge.sharding.shard_capacities`` over the members in id order, the larger shares going
  to the members that already hold the most);
* **sticky, with the fewest moves**: a member keeps the connections it holds up to its share,
  so a joining member takes only its share and a leaving member's connections are the only ones
  that move; no balanced assignment moves fewer (``tests/unit/runtime/test_cluster_assignment.py``
  checks this against the least possible number on random groups);
* **deterministic**: a function of the members' reports alone, whatever their order.

A member reports the connections it holds with the epoch it was granted them; when two members
claim one connection (a member that missed a generation and still believes in an old grant),
the later grant wins. The epoch of a new assignment is one more than any epoch a member has
seen, so every grant of a connection carries a larger epoch than the one before it: that is how
an instance that gives a connection up recognises its successor's ``subscribed`` record on the
control topic (see :mod:`bridge.cluster.holdings`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bridge.sharding import shard_capacities

__all__ = ["Assignment", "Grant", "Member", "assign", "assignments", "next_epoch"]


@dataclass(frozen=True, slots=True)
class Member:
    """What one member reported when it joined the group."""

    holder: str
    """The member's holder id (instance name and a per-process token): unique per process."""
    connections: frozenset[str]
    """Enabled connections in its configuration: the ones it can hold."""
    held: Mapping[str, int] = field(default_factory=dict)
    """Connection -> epoch it was granted in, for every connection its last assignment gave it."""
    releasing: frozenset[str] = frozenset()
    """Connections it lost in an earlier assignment and still holds until the new holder is
    subscribed."""
    epoch: int = 0
    """The highest epoch it has seen (in an assignment or on the control topic)."""


@dataclass(frozen=True, slots=True)
class Assignment:
    """What the leader tells one member."""

    epoch: int
    """This assignment's epoch (one more than any the group had seen)."""
    members: int
    """How many members the group has in this generation."""
    grants: Mapping[str, tuple[int, str | None]] = field(default_factory=dict)
    """The connections the member holds: name -> (grant epoch, holder id of the live member
    that hands it over, or None)."""
    successors: Mapping[str, int] = field(default_factory=dict)
    """Connections the member held (or was handing over) that another member now holds:
    name -> that member's grant epoch. The member keeps each until a ``subscribed`` record
    with at least that epoch says the new holder is subscribed."""


@dataclass(frozen=True, slots=True)
class Grant:
    """One connection's holder in an assignment."""

    member: str
    """Member id of the holder."""
    epoch: int
    """When the holder was granted it: kept from an earlier assignment, or this one's."""
    previous: str | None = None
    """Holder id of a live member that holds it now and will hand it over (None: nobody in the
    group holds it: a first start, or its holder left or died)."""


def next_epoch(members: Mapping[str, Member]) -> int:
    """The epoch of the assignment that follows what ``members`` have seen."""
    return max((m.epoch for m in members.values()), default=0) + 1


def assign(members: Mapping[str, Member], epoch: int) -> dict[str, Grant]:
    """Grant every connection some member can hold to one member; see the module docstring.

    ``members`` maps member ids (the group's, unique in a generation) to their reports;
    ``epoch`` is the new assignment's (:func:`next_epoch`).
    """
    ids = sorted(members)
    names = sorted({name for m in ids for name in members[m].connections})
    owner = _current_owners(members, ids)

    # What each member can keep: the connections it holds and still has configured.
    keeps: dict[str, list[str]] = {m: [] for m in ids}
    for name, (member, _) in sorted(owner.items()):
        keeps[member].append(name)
    # Shares: the larger ones to the members holding the most (fewest moves), then by id.
    by_holding = sorted(ids, key=lambda m: (-len(keeps[m]), m))
    share = dict(zip(by_holding, shard_capacities(len(names), max(1, len(ids))), strict=False))

    grants: dict[str, Grant] = {}
    load = dict.fromkeys(ids, 0)
    for member in ids:
        for name in keeps[member][: share[member]]:
            grants[name] = Grant(member, owner[name][1])
            load[member] += 1

    releasing = {name: m for m in ids for name in sorted(members[m].releasing) if name not in owner}
    for name in names:
        if name in grants:
            continue
        able = [m for m in ids if name in members[m].connections]
        with_room = [m for m in able if load[m] < share[m]]
        # A member still handing it over takes it back when it has room (nothing moves);
        # else the least loaded. A connection only some members know may exceed a share.
        member = min(with_room or able, key=lambda m: (m != releasing.get(name), load[m], m))
        load[member] += 1
        held_by, granted = owner.get(name, (None, 0))
        if held_by == member:  # only it can hold it: it keeps it beyond its share
            grants[name] = Grant(member, granted)
            continue
        holder = held_by or releasing.get(name)
        previous = members[holder].holder if holder is not None and holder != member else None
        grants[name] = Grant(member, epoch, previous)
    return grants


def _current_owners(members: Mapping[str, Member], ids: list[str]) -> dict[str, tuple[str, int]]:
    """Connection -> (member id, grant epoch) of its holder: the latest grant among the members
    that claim it and have it configured (ties, which a correct group never produces: the
    smaller member id)."""
    owner: dict[str, tuple[str, int]] = {}
    for member in ids:
        report = members[member]
        for name, granted in report.held.items():
            if name not in report.connections:
                continue
            current = owner.get(name)
            if current is None or granted > current[1]:
                owner[name] = (member, granted)
    return owner


def assignments(members: Mapping[str, Member]) -> dict[str, Assignment]:
    """The leader's answer to a join: each member's :class:`Assignment` (member id -> it)."""
    epoch = next_epoch(members)
    grants = assign(members, epoch)
    held: dict[str, dict[str, tuple[int, str | None]]] = {m: {} for m in members}
    for name, grant in grants.items():
        held[grant.member][name] = (grant.epoch, grant.previous)
    out = {}
    for member, report in members.items():
        successors = {
            name: other.epoch
            for name in sorted(set(report.held) | report.releasing)
            if (other := grants.get(name)) is not None and other.member != member
        }
        out[member] = Assignment(epoch, len(members), held[member], successors)
    return out
