"""What one member holds, and what it must do next: pure state, no Kafka, no clock of its own.

The runner (:mod:`bridge.cluster.runner`) feeds a :class:`Holdings` three kinds of input and
carries out the actions it returns:

* an **assignment** from the group's leader: connections granted to this member are taken
  (:class:`Take`: start a session) or kept; connections granted elsewhere are *released*, but
  not at once: the member keeps each one open until its successor is subscribed
  (make-before-break, like the 64008 handover inside one process);
* a **control record** from the control topic: a successor's ``subscribed`` record for a
  connection being released, with a grant epoch at least the one the assignment named, ends
  the overlap (:class:`Release` with ``handed_over``);
* **time**: a release whose successor has not said ``subscribed`` within the handover timeout
  ends anyway (:class:`Release` without ``handed_over``: the session marks the gap, and a
  ``released`` record tells the next holder there is nothing to hand over).

Leaving the group (SIGTERM) turns every held connection into a release that waits for a grant
of a later epoch than any this member has seen, and announces each one (:class:`Announce`: a
``releasing`` record) before the member leaves, so that its successor knows the connection is
still held and takes it over without a gap.

How a taken connection starts (:class:`Start`) follows from what the group and the control
topic say about it: handed over by a live holder, lost with a holder that vanished without a
word (SIGKILL, node loss: the taker marks the gap the holder could not), or fresh.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from bridge.cluster.assignment import Assignment, Member
from bridge.cluster.protocol import ControlRecord, ControlState

__all__ = [
    "Announce",
    "ControlView",
    "Holdings",
    "Release",
    "Retake",
    "Start",
    "Take",
]


class Start(Enum):
    """How a session that takes a connection begins its topics' continuity."""

    FRESH = "fresh"
    """Nobody held it (first start, or its last holder closed it and marked the gap):
    ``resubscribed`` (reason ``started``) when subscribed, as any process start."""
    HANDOVER = "handover"
    """A live holder keeps it open until this one is subscribed: no gap, a ``handover``
    marker (reason ``taken_over``) where the new holder's records begin."""
    HOLDER_LOST = "holder_lost"
    """Its holder vanished without releasing it: a ``disconnected`` marker (reason
    ``holder_lost``) for the gap it could not mark, then ``resubscribed`` (reason
    ``holder_lost``)."""


@dataclass(frozen=True, slots=True)
class Take:
    """Start a session for ``connection``; write ``subscribed`` (``epoch``) once it is."""

    connection: str
    start: Start
    epoch: int


@dataclass(frozen=True, slots=True)
class Retake:
    """A connection being released is granted back: its session keeps running; write
    ``subscribed`` (``epoch``) once it is subscribed (at once if it is), so that whoever was
    taking it over lets it go."""

    connection: str
    epoch: int


@dataclass(frozen=True, slots=True)
class Release:
    """Stop ``connection``'s session. ``handed_over``: the successor is subscribed (the session
    marks the end of the overlap); otherwise the session marks a gap and a ``released`` record
    is written."""

    connection: str
    handed_over: bool


@dataclass(frozen=True, slots=True)
class Announce:
    """Write a ``releasing`` record for ``connection`` (before leaving the group)."""

    connection: str


Action = Take | Retake | Release | Announce


class ControlView:
    """The last control record of each connection of one group, and the highest epoch seen."""

    def __init__(self, group: str) -> None:
        self.group = group
        self.latest: dict[str, ControlRecord] = {}
        self.epoch = 0

    def add(self, record: ControlRecord) -> bool:
        """Take a record in; False when it belongs to another group."""
        if record.group != self.group:
            return False
        self.latest[record.connection] = record
        self.epoch = max(self.epoch, record.epoch)
        return True

    def start_for(
        self, connection: str, holder: str, *, stale_before_ms: int | None = None
    ) -> Start:
        """How ``holder`` starts ``connection`` when no live member hands it over.
        ``stale_before_ms``: a ``releasing`` record written before this (wall clock, ms) is from
        a holder that would have given up by now and written ``released``; as it did not, it
        died while handing over, and nobody marked its gap."""
        record = self.latest.get(connection)
        if record is None or record.holder == holder or record.state is ControlState.RELEASED:
            return Start.FRESH
        if record.state is ControlState.RELEASING and (
            stale_before_ms is None or record.time_ms >= stale_before_ms
        ):
            return Start.HANDOVER
        return Start.HOLDER_LOST

    def successor_subscribed(self, connection: str, holder: str, epoch: int) -> bool:
        """Whether another holder said ``subscribed`` for ``connection`` with a grant of at
        least ``epoch``."""
        record = self.latest.get(connection)
        return (
            record is not None
            and record.state is ControlState.SUBSCRIBED
            and record.holder != holder
            and record.epoch >= epoch
        )


@dataclass(slots=True)
class _Releasing:
    after: int
    """The successor's grant epoch is at least this."""
    deadline: float
    """Monotonic time after which the connection is closed without a successor."""


class Holdings:
    """One member's connections: held (granted to it) and releasing (granted elsewhere, still
    open until the successor is subscribed)."""

    def __init__(
        self, holder: str, connections: Iterable[str], view: ControlView, timeout: float
    ) -> None:
        self.holder = holder
        self.connections = frozenset(connections)
        self.view = view
        self.timeout = timeout
        self.held: dict[str, int] = {}
        """Connection -> the epoch it was granted in."""
        self.releasing: dict[str, _Releasing] = {}
        self.epoch = 0
        """The epoch of the last assignment."""
        self.members = 0
        """Members of the group in the last assignment (0: none received yet)."""
        self.left = False

    # -- what the member tells the group --------------------------------------------------------

    def report(self) -> Member:
        return Member(
            holder=self.holder,
            connections=self.connections,
            held=dict(self.held),
            releasing=frozenset(self.releasing),
            epoch=max(self.epoch, self.view.epoch),
        )

    # -- inputs ----------------------------------------------------------------------------------

    def assigned(
        self, assignment: Assignment, now: float, wall_ms: int | None = None
    ) -> list[Action]:
        """A new assignment from the leader (the control view caught up first). ``now``:
        monotonic seconds, for deadlines; ``wall_ms``: the wall clock, to tell a ``releasing``
        record of a holder that died while handing over (None: not judged)."""
        stale = None
        if wall_ms is not None:
            # the holder's deadline, and as much again for clocks that disagree
            stale = wall_ms - round(2 * self.timeout * 1000)
        if self.left:
            return []
        self.epoch = max(self.epoch, assignment.epoch)
        self.members = assignment.members
        actions: list[Action] = []
        for name, (epoch, previous) in sorted(assignment.grants.items()):
            if name not in self.connections:
                continue  # a leader with another configuration: never granted by this version
            if name in self.held:
                self.held[name] = epoch
            elif name in self.releasing:
                del self.releasing[name]
                self.held[name] = epoch
                actions.append(Retake(name, epoch))
            else:
                self.held[name] = epoch
                start = (
                    Start.HANDOVER
                    if previous
                    else self.view.start_for(name, self.holder, stale_before_ms=stale)
                )
                actions.append(Take(name, start, epoch))
        for name in sorted(set(self.held) - set(assignment.grants)):
            del self.held[name]
            after = assignment.successors.get(name, assignment.epoch)
            self.releasing[name] = _Releasing(after, now + self.timeout)
        return actions + self._handed_over()

    def observed(self, record: ControlRecord) -> list[Action]:
        """A control record arrived (the view holds it already)."""
        if record.group != self.view.group or record.connection not in self.releasing:
            return []
        return self._handed_over()

    def expired(self, now: float) -> list[Action]:
        """Releases whose successor did not say ``subscribed`` in time end here."""
        late = sorted(n for n, r in self.releasing.items() if r.deadline <= now)
        for name in late:
            del self.releasing[name]
        return [Release(name, handed_over=False) for name in late]

    def leave(self, now: float) -> list[Action]:
        """The member leaves the group: everything it holds waits for a successor granted after
        this member's last epoch, unless it was alone (then nobody will take over)."""
        self.left = True
        names = sorted(self.held)
        if self.members <= 1:
            everything = sorted({*names, *self.releasing})
            self.held.clear()
            self.releasing.clear()
            return [Release(name, handed_over=False) for name in everything]
        after = max(self.epoch, self.view.epoch) + 1
        for name in names:
            self.releasing[name] = _Releasing(after, now + self.timeout)
        self.held.clear()
        actions: list[Action] = [Announce(name) for name in names]
        return actions + self._handed_over()

    def stop_all(self) -> list[Action]:
        """The end: whatever is still held or releasing is closed without a successor."""
        everything = sorted({*self.held, *self.releasing})
        self.held.clear()
        self.releasing.clear()
        return [Release(name, handed_over=False) for name in everything]

    # -- queries ---------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        return min((r.deadline for r in self.releasing.values()), default=None)

    def _handed_over(self) -> list[Action]:
        done = sorted(
            name
            for name, release in self.releasing.items()
            if self.view.successor_subscribed(name, self.holder, release.after)
        )
        for name in done:
            del self.releasing[name]
        return [Release(name, handed_over=True) for name in done]
