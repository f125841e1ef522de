"""What the members of a group say to each other, as bytes: pure encoding, no Kafka.

Two channels, both plain JSON (UTF-8) so that an operator can read them with any Kafka tool:

* **the group protocol** (Kafka's JoinGroup and SyncGroup, run by aiokafka): each member's
  join carries a :class:`~bridge.cluster.assignment.Member` report in the consumer protocol's
  ``user_data``; the leader sends each member its :class:`Assignment` back the same way. The
  partitions of that protocol are not used: nobody is assigned any;
* **the control topic** (``bridge.cluster``, compacted, one partition, keyed by group and
  connection): :class:`ControlRecord`, what a holder says about one connection, read by every
  member. The last record per connection survives compaction, so a member that starts later
  still learns who held what.

Both carry a version (``v``): a decoder refuses what it does not know rather than guessing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from bridge.cluster.assignment import Assignment, Member

__all__ = [
    "PROTOCOL_NAME",
    "ControlRecord",
    "ControlState",
    "ProtocolError",
    "decode_assignment",
    "decode_control",
    "decode_member",
    "encode_assignment",
    "encode_control",
    "encode_member",
]

PROTOCOL_NAME = "exchange-bridge.v1"
"""The group's assignment protocol: Kafka lets members join only with a protocol they all
support, so a later format gets a new name and the members that know both pick the old one
until the last old member is gone."""
_VERSION = 1


class ProtocolError(ValueError):
    """Bytes that are not a report, assignment or control record of this version."""


def _load(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"{what}: not JSON ({exc})") from None
    if not isinstance(value, dict) or value.get("v") != _VERSION:
        raise ProtocolError(f"{what}: not version {_VERSION}")
    return value


def _dump(value: Mapping[str, Any]) -> bytes:
    return json.dumps({"v": _VERSION, **value}, separators=(",", ":"), sort_keys=True).encode()


# -- the group protocol -----------------------------------------------------------------------


def encode_member(member: Member) -> bytes:
    return _dump(
        {
            "holder": member.holder,
            "connections": sorted(member.connections),
            "held": dict(sorted(member.held.items())),
            "releasing": sorted(member.releasing),
            "epoch": member.epoch,
        }
    )


def decode_member(data: bytes) -> Member:
    value = _load(data, "member report")
    try:
        return Member(
            holder=str(value["holder"]),
            connections=frozenset(str(n) for n in value["connections"]),
            held={str(n): int(e) for n, e in value["held"].items()},
            releasing=frozenset(str(n) for n in value["releasing"]),
            epoch=int(value["epoch"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProtocolError(f"member report: {exc!r}") from None


def encode_assignment(assignment: Assignment) -> bytes:
    return _dump(
        {
            "epoch": assignment.epoch,
            "members": assignment.members,
            "grants": {n: list(g) for n, g in sorted(assignment.grants.items())},
            "successors": dict(sorted(assignment.successors.items())),
        }
    )


def decode_assignment(data: bytes) -> Assignment:
    value = _load(data, "assignment")
    try:
        grants: dict[str, tuple[int, str | None]] = {}
        for name, (epoch, previous) in value["grants"].items():
            grants[str(name)] = (int(epoch), None if previous is None else str(previous))
        return Assignment(
            epoch=int(value["epoch"]),
            members=int(value["members"]),
            grants=grants,
            successors={str(n): int(e) for n, e in value["successors"].items()},
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProtocolError(f"assignment: {exc!r}") from None


# -- the control topic ------------------------------------------------------------------------


class ControlState(Enum):
    SUBSCRIBED = "subscribed"
    """The holder's session is subscribed (written once per grant, when it first is)."""
    RELEASING = "releasing"
    """The holder is leaving the group and holds the connection until a successor is
    subscribed."""
    RELEASED = "released"
    """The holder closed the connection without a successor (and marked the gap itself)."""


@dataclass(frozen=True, slots=True)
class ControlRecord:
    group: str
    connection: str
    state: ControlState
    holder: str
    """Holder id: instance name and a per-process token."""
    instance: str
    """The holder's bridge instance (as in its records' ``bridge_instance``)."""
    epoch: int
    """SUBSCRIBED: the epoch the holder was granted the connection in; otherwise the highest
    epoch the holder had seen."""
    time_ms: int

    @property
    def key(self) -> bytes:
        """Compaction keeps the last record per group and connection."""
        return f"{self.group}/{self.connection}".encode()


def encode_control(record: ControlRecord) -> bytes:
    return _dump(
        {
            "group": record.group,
            "connection": record.connection,
            "state": record.state.value,
            "holder": record.holder,
            "instance": record.instance,
            "epoch": record.epoch,
            "time_ms": record.time_ms,
        }
    )


def decode_control(data: bytes) -> ControlRecord:
    value = _load(data, "control record")
    try:
        return ControlRecord(
            group=str(value["group"]),
            connection=str(value["connection"]),
            state=ControlState(value["state"]),
            holder=str(value["holder"]),
            instance=str(value["instance"]),
            epoch=int(value["epoch"]),
            time_ms=int(value["time_ms"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"control record: {exc!r}") from None
