"""Membership of the Kafka consumer group: aiokafka's group coordinator with our assignor.

Kafka's group protocol does the hard parts: it elects a leader, notices a member that stops
heartbeating (its session timeout) or leaves (LeaveGroup, on a clean stop), and runs a
rebalance whenever the membership changes. A rebalance stops nothing here: connections stay
open through it, and only the assignment that comes out of it moves any.

The consumer subscribes to the control topic only because a consumer group needs a
subscription; the assignor gives nobody a partition of it (every member reads the control topic
whole, outside the group: :mod:`bridge.cluster.control`). What travels in the protocol is the
``user_data`` of the join (each member's report) and of the assignment (:mod:`.protocol`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import (
    ConsumerProtocolMemberAssignment,
    ConsumerProtocolMemberMetadata,
)
from aiokafka.errors import KafkaError

from bridge.cluster.assignment import Assignment, Member, assignments
from bridge.cluster.protocol import (
    PROTOCOL_NAME,
    ProtocolError,
    decode_assignment,
    decode_member,
    encode_assignment,
    encode_member,
)

log = logging.getLogger(__name__)


# aiokafka has no type information, so mypy sees its base class as Any. The coordinator calls
# exactly these four members, on the object given in partition_assignment_strategy (an
# instance here: the report is this member's own state).
class ConnectionAssignor(AbstractPartitionAssignor):  # type: ignore[misc]
    """Assigns connections, not partitions: ``report`` gives this member's join metadata,
    ``on_assigned`` receives what the leader decided for it."""

    name = PROTOCOL_NAME

    def __init__(
        self, report: Callable[[], Member], on_assigned: Callable[[Assignment], None]
    ) -> None:
        self.report = report
        self.on_assigned = on_assigned

    def metadata(self, topics: Iterable[str]) -> ConsumerProtocolMemberMetadata:
        return ConsumerProtocolMemberMetadata(0, sorted(topics), encode_member(self.report()))

    def assign(
        self, cluster: Any, members: Mapping[str, ConsumerProtocolMemberMetadata]
    ) -> dict[str, ConsumerProtocolMemberAssignment]:
        """On the leader: decode every report, decide, encode one assignment per member. A
        member whose report cannot be read (not a bridge of this version) gets nothing."""
        reports: dict[str, Member] = {}
        for member_id, metadata in members.items():
            try:
                reports[member_id] = decode_member(metadata.user_data)
            except ProtocolError as exc:
                log.warning("group member %s ignored: %s", member_id, exc)
        decided = assignments(reports)
        epoch = next(iter(decided.values())).epoch if decided else 0
        log.info(
            "assigning %d connection(s) to %d member(s), epoch %d",
            sum(len(a.grants) for a in decided.values()),
            len(reports),
            epoch,
        )
        empty = Assignment(epoch, len(reports))
        return {
            member_id: ConsumerProtocolMemberAssignment(
                0, [], encode_assignment(decided.get(member_id, empty))
            )
            for member_id in members
        }

    def on_assignment(self, assignment: ConsumerProtocolMemberAssignment) -> None:
        try:
            decoded = decode_assignment(assignment.user_data)
        except ProtocolError as exc:
            log.error("assignment ignored: %s", exc)
            return
        self.on_assigned(decoded)


class GroupMember:
    """One member of the group while :meth:`start`-ed: joins, heartbeats, rejoins on every
    rebalance; :meth:`leave` sends LeaveGroup so the others rebalance at once."""

    def __init__(
        self,
        assignor: ConnectionAssignor,
        *,
        bootstrap_servers: str,
        group_id: str,
        topic: str,
        client_id: str,
        session_timeout_ms: int,
        heartbeat_interval_ms: int,
        client_options: Mapping[str, Any],
    ) -> None:
        self.topic = topic
        self._options = {
            "bootstrap_servers": bootstrap_servers,
            "client_id": f"{client_id}-group",
            "group_id": group_id,
            "enable_auto_commit": False,
            "partition_assignment_strategy": (assignor,),
            "session_timeout_ms": session_timeout_ms,
            "heartbeat_interval_ms": heartbeat_interval_ms,
            **client_options,
        }
        self._consumer: AIOKafkaConsumer | None = None  # made in start(), in the running loop
        self._polling: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(**self._options)
        await self._consumer.start()
        self._consumer.subscribe([self.topic])
        self._polling = asyncio.get_running_loop().create_task(self._poll(), name="cluster-group")

    async def leave(self) -> None:
        """Leave the group (LeaveGroup: the others rebalance without waiting for a timeout)."""
        if self._polling is not None:
            self._polling.cancel()
            with contextlib.suppress(asyncio.CancelledError, KafkaError):
                await self._polling
            self._polling = None
        if self._consumer is not None:
            with contextlib.suppress(KafkaError):
                await self._consumer.stop()
            self._consumer = None

    async def _poll(self) -> None:
        """Keep the consumer active. aiokafka rejoins after a rebalance only while the
        application fetches (its max_poll_interval); there is never a record to fetch (no
        partition is assigned), so this waits a second at a time."""
        assert self._consumer is not None
        while True:
            try:
                await self._consumer.getmany(timeout_ms=1000)
            except KafkaError as exc:
                # e.g. the coordinator unreachable: the consumer retries on its own
                log.warning("consumer group: %s", exc)
                await asyncio.sleep(1)
