"""What one WebSocket connection is, and what a configured connection's records must say about
continuity: pure state, no sockets and no event loop (the session drives it).

A :class:`Link` moves through one explicit state; every transition is listed in
``_TRANSITIONS`` and made through :meth:`Link.move`, so an impossible move is a bug that shows,
not a flag left set::

    CONNECTING ──▶ OPEN ──▶ SUBSCRIBED
        │            │           │
        └────────────┴─────┬─────┘
                           ▼
                        CLOSING (an end reason is decided: silence, handover, shutdown…)
                           │
                           ▼
                        CLOSED  (from any state: the connection is gone)

:class:`SubscriptionProgress` counts a link's acknowledged and refused subscriptions for the
``bridge_subscriptions`` gauges; whether every subscription is acknowledged is the adapter's
call (it knows how its exchange echoes arguments). :class:`Continuity` decides which session
marker, if any, a configured connection owes its topics when a link is lost or subscribed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from bridge.exchanges.events import Destination, Event, Subscribed, SubscribeFailed


class LinkState(Enum):
    CONNECTING = "connecting"
    """Waiting for the connect limiter or the WebSocket handshake."""
    OPEN = "open"
    """Connected; login and subscriptions under way."""
    SUBSCRIBED = "subscribed"
    """Every configured subscription acknowledged on this connection."""
    CLOSING = "closing"
    """The bridge decided to end this connection (``end_reason`` says why)."""
    CLOSED = "closed"


_TRANSITIONS: dict[LinkState, frozenset[LinkState]] = {
    LinkState.CONNECTING: frozenset({LinkState.OPEN, LinkState.CLOSING, LinkState.CLOSED}),
    LinkState.OPEN: frozenset({LinkState.SUBSCRIBED, LinkState.CLOSING, LinkState.CLOSED}),
    LinkState.SUBSCRIBED: frozenset({LinkState.CLOSING, LinkState.CLOSED}),
    LinkState.CLOSING: frozenset({LinkState.CLOSED}),
    LinkState.CLOSED: frozenset(),
}


class LinkStateError(RuntimeError):
    """A transition the state table does not allow: a bug in the session."""


TopicKey = tuple[str, str]


@dataclass(slots=True)
class SubscriptionProgress:
    """Acknowledged and refused subscriptions of one link, by (topic, key) of their
    destination, counted against the configured ones."""

    configured: frozenset[TopicKey]
    acked: set[TopicKey] = field(default_factory=set)
    failed: set[TopicKey] = field(default_factory=set)

    @classmethod
    def of(cls, destinations: Iterable[Destination]) -> SubscriptionProgress:
        return cls(frozenset((d.topic, d.key) for d in destinations))

    def record(self, event: Event) -> bool:
        """Take a subscription event into account; False for any other event."""
        match event:
            case SubscribeFailed():
                self.failed.add((event.destination.topic, event.destination.key))
            case Subscribed(op="subscribe"):
                target = (event.destination.topic, event.destination.key)
                self.acked.add(target)
                self.failed.discard(target)
            case Subscribed():
                self.acked.discard((event.destination.topic, event.destination.key))
            case _:
                return False
        return True

    def counts(self) -> tuple[int, int, int]:
        """(pending, subscribed, failed) among the configured subscriptions."""
        subscribed = len(self.acked & self.configured)
        failed = len((self.failed - self.acked) & self.configured)
        return len(self.configured) - subscribed - failed, subscribed, failed


class Link:
    """One WebSocket connection's state, frame sequence and subscription progress."""

    def __init__(self, connection_id: str, destinations: Iterable[Destination]) -> None:
        self.connection_id = connection_id
        self.state = LinkState.CONNECTING
        self.end_reason: str | None = None
        """Why the bridge ended this link; None while it lives, or when the peer ended it."""
        self.sequence = 0
        """Frames received so far; the sequence number of the last one."""
        self.opened_at: float | None = None
        """Monotonic time the WebSocket opened; None when it never did."""
        self.last_received = 0.0
        """Monotonic time of the last frame (or of the open)."""
        self.listening_since: float | None = None
        """Monotonic time the session began waiting for the next frame; None while it is busy
        with the last one (handing its records to a publisher that may be full)."""
        self.progress = SubscriptionProgress.of(destinations)

    def move(self, to: LinkState) -> None:
        if to not in _TRANSITIONS[self.state]:
            raise LinkStateError(f"{self.connection_id}: {self.state.value} -> {to.value}")
        self.state = to

    def opened(self, now: float) -> None:
        self.move(LinkState.OPEN)
        self.opened_at = self.last_received = now

    def listen(self, now: float) -> None:
        """The session waits for the next frame."""
        self.listening_since = now

    def received(self, now: float) -> int:
        """A frame arrived: returns its sequence number (1 for the first)."""
        self.last_received = now
        self.listening_since = None
        self.sequence += 1
        return self.sequence

    def silence(self, now: float) -> float:
        """How long the peer has been silent while we listened. While the session is not
        reading (blocked by a full buffer: back-pressure), the silence is ours, not the
        peer's, and counts as none; once it listens again, silence counts from then."""
        if self.listening_since is None:
            return 0.0
        return now - max(self.last_received, self.listening_since)

    def end(self, reason: str) -> None:
        """The bridge decided to end this link. The first reason wins: a link that is already
        closing for a handover is not re-labelled by the shutdown that follows."""
        if self.state in (LinkState.CLOSING, LinkState.CLOSED):
            return
        self.end_reason = reason
        self.move(LinkState.CLOSING)

    @property
    def subscribed(self) -> bool:
        return self.state is LinkState.SUBSCRIBED

    @property
    def ever_opened(self) -> bool:
        return self.opened_at is not None

    def lived(self, now: float) -> float:
        """How long the connection was (or has been) open; 0 when it never opened."""
        return 0.0 if self.opened_at is None else now - self.opened_at


class Continuity:
    """Which session marker a configured connection owes its topics, across its links and its
    process.

    A process starts with a gap: nothing says what happened before it (another process, an
    outage, a deploy), so its first full subscription is marked ``first``: ``resubscribed``
    (reason ``started``) unless the caller knows better (in group mode, a connection taken
    over from another instance that still delivers is a ``handover``). A lost link opens a gap
    (``disconnected``) unless one is open already or the link never connected; a planned stop
    does too (reason ``shutdown``). The next link to be fully subscribed closes the gap
    (``resubscribed``). A replacement subscribed while the link it replaces still delivered
    leaves no gap (``handover``).
    """

    def __init__(self, first: tuple[str, str] = ("resubscribed", "started")) -> None:
        self.gap_open = True
        self._first: tuple[str, str] | None = first

    def lost(self, link: Link) -> bool:
        """``link`` ended without a subscribed successor (or the bridge is stopping): True when
        a ``disconnected`` marker is due."""
        if not link.ever_opened or self.gap_open:
            return False
        self.gap_open = True
        return True

    def subscribed(self, *, replacing: bool) -> tuple[str, str] | None:
        """A link became fully subscribed: the marker (kind, reason) due, if any.
        ``replacing``: the link took over from one that is still open (a handover)."""
        if self.gap_open:
            self.gap_open = False
            first, self._first = self._first, None
            return first or ("resubscribed", "reconnected")
        return ("handover", "replacement_subscribed") if replacing else None
