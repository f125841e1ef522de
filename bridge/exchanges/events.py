"""Events: what an adapter makes of one inbound frame.

Every event is a small frozen value; callers dispatch on its type. Events that end up in Kafka
name their destination with a :class:`Destination`; connection-level events (login results,
notices, errors that belong to no channel) go to ``<exchange>.events``; :class:`Unrecognized`
goes to the dead-letter topic. :class:`Pong` and :class:`Heartbeat` are only counted.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Destination:
    """Where a channel's records go, and what they are keyed and described by."""

    topic: str
    """Topic name before the configured prefix, e.g. ``okx.status``."""
    schema: str
    """Schema id under ``schemas/``, e.g. ``okx/status``; the codec picks its latest version."""
    key: str
    """Kafka key: the instrument or pair, or the channel name where there is none."""
    channel: str
    """The channel as the exchange names it, e.g. ``status``, ``book-10``."""
    arg: Mapping[str, str]
    """The subscription argument as the exchange echoes it, values as strings."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base class. ``exchange_conn_id`` is set when the message names the exchange's
    connection id."""

    exchange_conn_id: str | None = None


class Verified(StrEnum):
    """What a book check made of one book message: the ``verified`` field of OKX's book records
    and of normalized book changes, and :attr:`Push.book_check` of Kraken's."""

    VERIFIED = "verified"
    """A snapshot (whose checksum matched, when it has one), or an update that the exchange's
    checks found consistent (its checksum; for OKX also its seqId chain), at least one checked."""
    FAILED = "failed"
    """The checksum or the sequence did not hold: a ``resync`` marker follows the record."""
    NOT_CHECKED = "not_checked"
    """Nothing to check against: an update before any snapshot on this connection, while a
    resync waits for its snapshot, or one with neither seqIds nor a checksum."""
    FULL_BOOK = "full_book"
    """A channel that pushes the whole book every time (OKX books5 and bbo-tbt, OKEx depth_N)."""


# --- channel events: recorded on the channel's topic -------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Push(Event):
    """One data element pushed on a subscribed channel."""

    destination: Destination
    payload_type: str
    """Full Avro name of the payload branch, e.g. ``exchange_bridge.okx.Status``."""
    payload: Mapping[str, Any]
    """Fields of that payload record, already typed for Avro (timestamps as int ms, …)."""
    event_time_ms: int | None = None
    """The exchange's own time for the element, when it has one."""
    identity: Hashable | None = None
    """Content identity: two pushes with the same destination and identity are the same data
    (used to drop the copies seen when two connections overlap during a handover, or that a
    new subscription repeats). Any hashable value: the session keeps only its hash."""
    book_check: Verified | None = None
    """For a book message whose record does not say it (Kraken's): what the adapter's book
    check made of it. None for anything else."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscribed(Event):
    """The exchange acknowledged a subscribe or unsubscribe for one argument."""

    destination: Destination
    op: str
    """``subscribe`` or ``unsubscribe``."""
    request_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscribeFailed(Event):
    """The exchange refused a subscription request for one argument."""

    destination: Destination
    op: str
    code: str
    message: str
    request_id: str | None = None


# --- connection events: recorded on <exchange>.events ------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginResult(Event):
    ok: bool
    code: str = ""
    message: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExchangeError(Event):
    """An error the exchange reported that cannot be tied to one subscription."""

    code: str
    message: str
    request_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice(Event):
    """A server notice. ``reconnect_advised``: the server will close this connection soon
    (OKX 64008), so the session should open a replacement first."""

    code: str
    message: str
    reconnect_advised: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelConnCount(Event):
    """OKX ``channel-conn-count`` (``error`` False) and ``channel-conn-count-error`` (True)."""

    channel: str
    conn_count: str
    error: bool = False
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Maintenance(Event):
    """The exchange announced a system status; ``active`` when trading is not fully online."""

    status: str
    active: bool
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ResyncRequired(Event):
    """The adapter found a channel's data inconsistent (e.g. a book checksum mismatch) and has
    queued frames to resubscribe it; what was published since the last good state is suspect."""

    destination: Destination
    reason: str


# --- events that are only counted ---------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Pong(Event):
    request_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat(Event):
    pass


# --- bad input ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Unrecognized(Event):
    """A frame that does not parse or matches no known message; it goes to the dead-letter topic."""

    reason: str
