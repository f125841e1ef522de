"""Group mode at run time: the group, the control topic and this instance's sessions, together.

One task takes the inputs in order (assignments from the group, records from the control
topic, the handover deadlines, the request to leave), asks :class:`~.holdings.Holdings` what
they mean, and carries the actions out on the :class:`Host` (the bridge, which owns the
sessions). Inputs are queued, never handled concurrently, so the holdings see one input at a
time.

How the two instances of a handover agree that the new holder is subscribed: the new holder
writes ``{connection, holder, epoch, state: subscribed}`` to the control topic once its session
is fully subscribed (``Session.first_subscribed``); ``epoch`` is the epoch of the assignment
that granted it the connection, which the leader also gave the old holder with its own
assignment (``successors``). The old holder follows the control topic and closes its
connection at the first ``subscribed`` record for it from another holder with at least that
epoch (or at the handover deadline). Epochs only grow (:mod:`.assignment`), so a record from an
earlier tenure can never be taken for the successor's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from aiokafka.errors import KafkaError

from bridge.admin import ensure_compacted_topic
from bridge.cluster.assignment import Assignment
from bridge.cluster.control import ControlChannel
from bridge.cluster.group import ConnectionAssignor, GroupMember
from bridge.cluster.holdings import (
    Action,
    Announce,
    ControlView,
    Holdings,
    Release,
    Retake,
    Start,
    Take,
)
from bridge.cluster.protocol import ControlRecord, ControlState
from bridge.metrics import Metrics
from bridge.retry import Backoff

log = logging.getLogger(__name__)

# How long leaving waits for its ``releasing`` records to be acknowledged, and an assignment
# waits for the control topic to be read to its end, while Kafka does not answer.
KAFKA_WAIT_SECONDS = 10.0


class Host(Protocol):
    """What the runner needs from the bridge: sessions started and stopped by name."""

    def start_session(self, connection: str, start: Start) -> asyncio.Event:
        """Start the connection's session; return its ``first_subscribed`` event."""

    def first_subscribed(self, connection: str) -> asyncio.Event:
        """The running session's ``first_subscribed`` event."""

    async def stop_session(self, connection: str, *, handed_over: bool) -> None:
        """Stop the connection's session and wait until it has ended."""


class _Leave:
    """The queued request to leave the group."""


_LEAVE = _Leave()


class ClusterRunner:
    def __init__(
        self,
        host: Host,
        metrics: Metrics,
        *,
        connections: Iterable[str],
        instance: str,
        group_id: str,
        topic: str,
        bootstrap_servers: str,
        client_id: str,
        client_options: Mapping[str, Any],
        session_timeout_ms: int,
        heartbeat_interval_ms: int,
        handover_timeout_seconds: float,
    ) -> None:
        self.host = host
        self.metrics = metrics
        self.group_id = group_id
        self.instance = instance
        # Unique per process: an instance name may be reused (a restarted pod, a StatefulSet).
        self.holder = f"{instance}#{secrets.token_hex(4)}"
        self.view = ControlView(group_id)
        self.holdings = Holdings(self.holder, connections, self.view, handover_timeout_seconds)
        self._inputs: asyncio.Queue[Assignment | ControlRecord | _Leave] = asyncio.Queue()
        self._bootstrap = (bootstrap_servers, topic, client_id, dict(client_options))
        self.control = ControlChannel(
            self.view,
            bootstrap_servers=bootstrap_servers,
            topic=topic,
            client_id=client_id,
            client_options=client_options,
            on_record=self._inputs.put_nowait,
        )
        self.member = GroupMember(
            ConnectionAssignor(self.holdings.report, self._inputs.put_nowait),
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            topic=topic,
            client_id=client_id,
            session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=heartbeat_interval_ms,
            client_options=client_options,
        )
        self._loop: asyncio.Task[None] | None = None
        self._confirming: dict[str, asyncio.Task[None]] = {}
        self._stopping: set[asyncio.Task[None]] = set()
        self._left = asyncio.Event()
        self._init_metrics()

    # -- life ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Read the control topic to its end, then join the group; retried while Kafka does
        not answer (the publisher reached it a moment ago, so it rarely has to be)."""
        bootstrap, topic, client_id, options = self._bootstrap
        backoff = Backoff(0.5, 15.0)
        while True:
            try:
                await ensure_compacted_topic(
                    bootstrap,
                    topic,
                    client_id,
                    what="cluster control topic",
                    client_options=options,
                )
                await self.control.start()
                await self.member.start()
                break
            except KafkaError as exc:
                await self.control.stop()
                await self.member.leave()
                delay = backoff.next_delay()
                log.warning(
                    "cannot join group %s (%s); retrying in %.1f s", self.group_id, exc, delay
                )
                await asyncio.sleep(delay)
        self._loop = asyncio.get_running_loop().create_task(self._run(), name="cluster")
        log.info("joining group %s as %s (control topic %s)", self.group_id, self.holder, topic)

    async def leave(self, timeout: float) -> None:
        """Leave the group and hand every connection over, within ``timeout`` seconds (a
        connection whose successor is not subscribed by its handover deadline is closed
        anyway, and so is everything still open when ``timeout`` runs out)."""
        self._inputs.put_nowait(_LEAVE)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._left.wait(), timeout)

    async def stop(self) -> None:
        """Close whatever is still open (without a successor) and the Kafka clients."""
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        for action in self.holdings.stop_all():
            await self._do(action)
        if self._stopping:
            await asyncio.wait(self._stopping, timeout=KAFKA_WAIT_SECONDS)
        for task in self._confirming.values():
            task.cancel()
        await self.member.leave()
        await self.control.stop()

    # -- state for readiness and metrics ---------------------------------------------------------

    @property
    def is_member(self) -> bool:
        """An assignment has been received and the instance has not left."""
        return self.holdings.members > 0 and not self.holdings.left

    def problems(self) -> list[str]:
        if self.holdings.left:
            return [f"cluster: leaving group {self.group_id}"]
        if not self.is_member:
            return [f"cluster: waiting for an assignment from group {self.group_id}"]
        return []

    @property
    def held(self) -> list[str]:
        return sorted(self.holdings.held)

    def _init_metrics(self) -> None:
        m, group = self.metrics, self.group_id
        m.cluster_member.labels(group).set_function(lambda: int(self.is_member))
        m.cluster_configured.labels(group).set(len(self.holdings.connections))
        m.cluster_connections.labels(group, "held").set_function(lambda: len(self.holdings.held))
        m.cluster_connections.labels(group, "releasing").set_function(
            lambda: len(self.holdings.releasing)
        )
        m.cluster_epoch.labels(group).set_function(lambda: self.holdings.epoch)
        self._rebalances = m.cluster_rebalances.labels(group)
        self._takeovers = {start: m.cluster_takeovers.labels(group, start.value) for start in Start}
        self._releases = {
            outcome: m.cluster_releases.labels(group, outcome)
            for outcome in ("handed_over", "closed")
        }

    # -- the loop --------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            deadline = self.holdings.next_deadline()
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            item: Assignment | ControlRecord | _Leave | None = None
            with contextlib.suppress(TimeoutError):
                item = await asyncio.wait_for(self._inputs.get(), timeout)
            try:
                actions = await self._handle(item)
                actions += self.holdings.expired(time.monotonic())
                for action in actions:
                    await self._do(action)
                if self.holdings.left and not self.holdings.releasing:
                    if self._stopping:
                        await asyncio.wait(self._stopping)
                    self._left.set()
            except Exception:
                # Safety net: a bug must not leave the connections unattended; the next input
                # is handled as usual.
                log.exception("cluster: handling %s failed", type(item).__name__)

    async def _handle(self, item: Assignment | ControlRecord | _Leave | None) -> list[Action]:
        now = time.monotonic()
        match item:
            case Assignment():
                await self._catch_up()
                self._rebalances.inc()
                actions = self.holdings.assigned(item, now, time.time_ns() // 1_000_000)
                log.info(
                    "assignment epoch %d (%d member(s)): holding %s; releasing %s",
                    item.epoch,
                    item.members,
                    ", ".join(sorted(self.holdings.held)) or "nothing",
                    ", ".join(sorted(self.holdings.releasing)) or "nothing",
                )
                return actions
            case ControlRecord():
                return self.holdings.observed(item)
            case _Leave():
                actions = self.holdings.leave(now)
                announces = [a for a in actions if isinstance(a, Announce)]
                if announces:
                    # In Kafka before LeaveGroup: the next holder must read them first.
                    writes = [self.control.write(self._record(a.connection)) for a in announces]
                    try:
                        await asyncio.wait_for(asyncio.gather(*writes), KAFKA_WAIT_SECONDS)
                    except TimeoutError:
                        log.warning("releasing records not acknowledged; leaving anyway")
                await self.member.leave()
                log.info(
                    "left group %s; handing over %s",
                    self.group_id,
                    ", ".join(sorted(self.holdings.releasing)) or "nothing",
                )
                return [a for a in actions if not isinstance(a, Announce)]
        return []

    async def _catch_up(self) -> None:
        """Read the control topic to its end before deciding how to take a connection: a
        holder that left wrote its ``releasing`` records just before."""
        try:
            await asyncio.wait_for(self.control.caught_up(), KAFKA_WAIT_SECONDS)
        except (TimeoutError, KafkaError) as exc:
            log.warning("control topic not read to its end (%s); deciding with what is read", exc)

    async def _do(self, action: Action) -> None:
        match action:
            case Take(connection, start, epoch):
                self._takeovers[start].inc()
                log.info("%s: taking over (%s, epoch %d)", connection, start.value, epoch)
                event = self.host.start_session(connection, start)
                self._confirm(connection, event, epoch)
            case Retake(connection, epoch):
                log.info("%s: granted back (epoch %d); keeping it", connection, epoch)
                self._confirm(connection, self.host.first_subscribed(connection), epoch)
            case Release(connection, handed_over):
                task = self._confirming.pop(connection, None)
                if task is not None:
                    task.cancel()
                outcome = "handed_over" if handed_over else "closed"
                self._releases[outcome].inc()
                log.info(
                    "%s: %s",
                    connection,
                    "the new holder is subscribed; closing"
                    if handed_over
                    else "closing without a successor",
                )
                stopping = asyncio.get_running_loop().create_task(
                    self._release(connection, handed_over)
                )
                self._stopping.add(stopping)
                stopping.add_done_callback(self._stopping.discard)
            case Announce(connection):
                await self.control.write(self._record(connection))

    def _confirm(self, connection: str, subscribed: asyncio.Event, epoch: int) -> None:
        """Once the session is subscribed, say so on the control topic."""

        async def confirm() -> None:
            await subscribed.wait()
            record = self._record(connection, ControlState.SUBSCRIBED, epoch)
            await self.control.write(record)
            log.info("%s: subscribed (epoch %d); the previous holder may close", connection, epoch)

        previous = self._confirming.pop(connection, None)
        if previous is not None:
            previous.cancel()
        self._confirming[connection] = asyncio.get_running_loop().create_task(confirm())

    async def _release(self, connection: str, handed_over: bool) -> None:
        await self.host.stop_session(connection, handed_over=handed_over)
        if not handed_over:
            with contextlib.suppress(TimeoutError):
                record = self._record(connection, ControlState.RELEASED)
                await asyncio.wait_for(self.control.write(record), KAFKA_WAIT_SECONDS)

    def _record(
        self, connection: str, state: ControlState = ControlState.RELEASING, epoch: int = 0
    ) -> ControlRecord:
        return ControlRecord(
            group=self.group_id,
            connection=connection,
            state=state,
            holder=self.holder,
            instance=self.instance,
            epoch=epoch or max(self.holdings.epoch, self.view.epoch),
            time_ms=time.time_ns() // 1_000_000,
        )
