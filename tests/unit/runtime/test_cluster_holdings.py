"""One member's side of group mode (bridge/cluster/holdings.py): what it takes, how each taken
connection starts, when it lets a connection go. Pure: no Kafka, time passed in."""

from __future__ import annotations

from bridge.cluster.assignment import Assignment, assignments
from bridge.cluster.holdings import (
    Announce,
    ControlView,
    Holdings,
    Release,
    Retake,
    Start,
    Take,
)
from bridge.cluster.protocol import ControlRecord, ControlState

GROUP = "g"
TIMEOUT = 15.0


def holdings(holder: str = "a#1", names: tuple[str, ...] = ("x", "y")) -> Holdings:
    return Holdings(holder, names, ControlView(GROUP), TIMEOUT)


def record(
    connection: str, state: ControlState, holder: str, epoch: int, group: str = GROUP
) -> ControlRecord:
    return ControlRecord(group, connection, state, holder, holder.split("#")[0], epoch, 0)


def observe(h: Holdings, rec: ControlRecord) -> list[object]:
    h.view.add(rec)
    return list(h.observed(rec))


def test_a_first_assignment_takes_every_granted_connection_fresh() -> None:
    h = holdings()
    actions = h.assigned(Assignment(1, 1, {"x": (1, None), "y": (1, None)}), now=0)
    assert actions == [Take("x", Start.FRESH, 1), Take("y", Start.FRESH, 1)]
    assert h.held == {"x": 1, "y": 1}
    assert h.report().held == {"x": 1, "y": 1}


def test_a_connection_from_a_live_holder_is_a_handover() -> None:
    h = holdings()
    actions = h.assigned(Assignment(4, 2, {"x": (4, "b#2")}), now=0)
    assert actions == [Take("x", Start.HANDOVER, 4)]


def test_the_control_topic_says_how_a_connection_nobody_hands_over_starts() -> None:
    h = holdings(names=("x", "y", "z", "w"))
    h.view.add(record("x", ControlState.SUBSCRIBED, "dead#9", 3))  # holder vanished
    h.view.add(record("y", ControlState.RELEASING, "left#8", 3))  # holder left, still holds it
    h.view.add(record("z", ControlState.RELEASED, "gone#7", 3))  # closed and marked its gap
    grants = {n: (4, None) for n in ("x", "y", "z", "w")}
    actions = h.assigned(Assignment(4, 1, grants), now=0)
    assert actions == [
        Take("w", Start.FRESH, 4),
        Take("x", Start.HOLDER_LOST, 4),
        Take("y", Start.HANDOVER, 4),
        Take("z", Start.FRESH, 4),
    ]


def test_a_holder_that_died_while_handing_over_left_a_gap() -> None:
    """A ``releasing`` record from longer ago than its writer's deadline (twice, for clocks):
    its writer would have written ``released`` by then; it died instead."""
    h = holdings(names=("x", "y"))
    h.view.add(ControlRecord(GROUP, "x", ControlState.RELEASING, "old#1", "old", 3, 1_000_000))
    h.view.add(ControlRecord(GROUP, "y", ControlState.RELEASING, "old#1", "old", 3, 1_020_000))
    grants = {"x": (4, None), "y": (4, None)}
    wall_ms = 1_000_000 + 2 * round(TIMEOUT * 1000) + 1
    assert h.assigned(Assignment(4, 1, grants), now=0, wall_ms=wall_ms) == [
        Take("x", Start.HOLDER_LOST, 4),
        Take("y", Start.HANDOVER, 4),  # still within its writer's deadline
    ]


def test_a_lost_connection_stays_open_until_its_successor_is_subscribed() -> None:
    h = holdings()
    h.assigned(Assignment(1, 1, {"x": (1, None), "y": (1, None)}), now=0)
    actions = h.assigned(Assignment(2, 2, {"x": (1, None)}, successors={"y": 2}), now=10)
    assert actions == []  # nothing closes yet
    assert set(h.releasing) == {"y"} and h.held == {"x": 1}
    assert h.report().releasing == frozenset({"y"})
    # an old record of the successor (an earlier tenure) is not the one awaited
    assert observe(h, record("y", ControlState.SUBSCRIBED, "b#2", 1)) == []
    # nor another group's, nor our own
    assert observe(h, record("y", ControlState.SUBSCRIBED, "b#2", 2, group="other")) == []
    assert observe(h, record("y", ControlState.SUBSCRIBED, "a#1", 2)) == []
    assert observe(h, record("y", ControlState.SUBSCRIBED, "b#2", 2)) == [
        Release("y", handed_over=True)
    ]
    assert h.releasing == {}


def test_a_successor_subscribed_before_the_assignment_arrived_releases_at_once() -> None:
    h = holdings()
    h.assigned(Assignment(1, 1, {"x": (1, None), "y": (1, None)}), now=0)
    h.view.add(record("y", ControlState.SUBSCRIBED, "b#2", 2))
    actions = h.assigned(Assignment(2, 2, {"x": (1, None)}, successors={"y": 2}), now=10)
    assert actions == [Release("y", handed_over=True)]


def test_a_release_without_a_subscribed_successor_ends_at_the_deadline() -> None:
    h = holdings()
    h.assigned(Assignment(1, 1, {"x": (1, None), "y": (1, None)}), now=0)
    h.assigned(Assignment(2, 2, {"x": (1, None)}, successors={"y": 2}), now=10)
    assert h.next_deadline() == 10 + TIMEOUT
    assert h.expired(10 + TIMEOUT - 0.1) == []
    assert h.expired(10 + TIMEOUT) == [Release("y", handed_over=False)]
    assert h.next_deadline() is None


def test_a_connection_granted_back_while_being_released_is_kept() -> None:
    h = holdings()
    h.assigned(Assignment(1, 1, {"x": (1, None), "y": (1, None)}), now=0)
    h.assigned(Assignment(2, 2, {"x": (1, None)}, successors={"y": 2}), now=1)
    actions = h.assigned(Assignment(3, 1, {"x": (1, None), "y": (3, None)}), now=2)
    assert actions == [Retake("y", 3)]  # its session never stopped; say subscribed again
    assert h.held == {"x": 1, "y": 3} and h.releasing == {}


def test_leaving_announces_every_connection_and_waits_for_a_later_grant() -> None:
    h = holdings()
    h.assigned(Assignment(5, 3, {"x": (2, None), "y": (5, None)}), now=0)
    actions = h.leave(now=100)
    assert actions == [Announce("x"), Announce("y")]
    assert h.left and h.held == {}
    assert h.next_deadline() == 100 + TIMEOUT
    # a subscribed record of this very epoch is from before: not a successor's
    assert observe(h, record("x", ControlState.SUBSCRIBED, "b#2", 5)) == []
    assert observe(h, record("x", ControlState.SUBSCRIBED, "b#2", 6)) == [
        Release("x", handed_over=True)
    ]
    # assignments after leaving change nothing
    assert h.assigned(Assignment(6, 2, {"y": (6, None)}), now=101) == []


def test_leaving_alone_closes_everything_at_once() -> None:
    h = holdings()
    h.assigned(Assignment(1, 1, {"x": (1, None), "y": (1, None)}), now=0)
    assert h.leave(now=5) == [Release("x", handed_over=False), Release("y", handed_over=False)]


def test_a_connection_this_member_has_not_configured_is_never_taken() -> None:
    h = holdings(names=("x",))
    assert h.assigned(Assignment(1, 1, {"x": (1, None), "other": (1, None)}), now=0) == [
        Take("x", Start.FRESH, 1)
    ]


def test_the_reported_epoch_covers_what_the_control_topic_showed() -> None:
    h = holdings()
    h.view.add(record("x", ControlState.SUBSCRIBED, "old#1", 41))
    assert h.report().epoch == 41  # the next assignment's epoch will be above any record's


def test_a_rebalance_round_trip_through_the_leader() -> None:
    """Two members as the leader sees them: the second joins, takes one connection from the
    first as a handover, and the first lets it go when the second says subscribed."""
    a, b = holdings("a#1"), holdings("b#2")
    first = assignments({"m-a": a.report()})
    a.assigned(first["m-a"], now=0)
    second = assignments({"m-a": a.report(), "m-b": b.report()})
    assert a.assigned(second["m-a"], now=1) == []
    (take,) = b.assigned(second["m-b"], now=1)
    assert isinstance(take, Take) and take.start is Start.HANDOVER
    subscribed = record(take.connection, ControlState.SUBSCRIBED, "b#2", take.epoch)
    assert observe(a, subscribed) == [Release(take.connection, handed_over=True)]
    assert set(a.held) | set(b.held) == {"x", "y"} and not set(a.held) & set(b.held)


def test_a_member_that_was_expelled_gives_its_connection_up_to_the_one_holding_it_now() -> None:
    """a lost contact with the group (its heartbeats did not arrive), b took x over at epoch 5
    and said subscribed; when a is back its old grant loses and it lets x go at once."""
    a, b = holdings("a#1", names=("x",)), holdings("b#2", names=("x",))
    a.assigned(Assignment(3, 2, {"x": (3, None)}), now=0)
    b.assigned(Assignment(5, 1, {"x": (5, None)}), now=1)
    subscribed = record("x", ControlState.SUBSCRIBED, "b#2", 5)
    a.view.add(subscribed)
    b.view.add(subscribed)
    decided = assignments({"m-a": a.report(), "m-b": b.report()})
    assert decided["m-b"].grants == {"x": (5, None)}  # b keeps it: the later grant
    assert a.assigned(decided["m-a"], now=2) == [Release("x", handed_over=True)]
    assert b.assigned(decided["m-b"], now=2) == []
