"""The session's delivery half: from a stamped frame and its events to records in the publisher.

Exchange-agnostic: the adapter has already classified the frame; the codec knows the record
layout; the normalizer (for the connections that enable the normalized topics) knows which
pushes feed them; this module decides what gets published where (raw copy, typed and
normalized records, dead letters), drops copies of pushes that overlapping connections both
received, and records the record-level metrics.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from bridge.avro.records import Codec, OutRecord
from bridge.exchanges.events import (
    Destination,
    Event,
    ExchangeError,
    LoginResult,
    Maintenance,
    Push,
    ResyncRequired,
    Subscribed,
    SubscribeFailed,
    Unrecognized,
)
from bridge.frame import ConnectionInfo, Frame
from bridge.metrics import Metrics
from bridge.normalize.normalizer import Normalizer
from bridge.runtime.publisher import Publisher

log = logging.getLogger(__name__)

# A dead letter holds its frame plus the envelope and an error text: this much of the record
# limit is left for them when a frame that Kafka refused is cut to fit.
DEADLETTER_HEADROOM_BYTES = 16 * 1024
# A dead letter refused for its size is cut further, but never below this much of the frame.
DEADLETTER_FLOOR_BYTES = 4 * 1024


class RecentPushes:
    """Remembers the identities of the last ``size`` pushes of one configured connection, so a
    push that a second, overlapping connection (handover) or a resubscribe snapshot repeats is
    published once. Stores 64-bit hashes, not the pushes."""

    def __init__(self, size: int = 10_000) -> None:
        self._order: deque[int] = deque()
        self._seen: set[int] = set()
        self._size = size

    def first_time(self, destination: Destination, identity: Hashable) -> bool:
        digest = hash((destination.topic, destination.key, identity))
        if digest in self._seen:
            return False
        self._seen.add(digest)
        self._order.append(digest)
        if len(self._order) > self._size:
            self._seen.discard(self._order.popleft())
        return True


class Pipeline:
    def __init__(
        self,
        codec: Codec,
        publisher: Publisher,
        metrics: Metrics,
        *,
        raw_topics: bool = True,
        normalizer: Normalizer | None = None,
    ) -> None:
        self.codec = codec
        self.publisher = publisher
        self.metrics = metrics
        self.raw_topics = raw_topics
        self.normalizer = normalizer or Normalizer()
        # Under the drop policy: (topic, key) -> (destination, records dropped since the last
        # record that got through). The next record that gets through is preceded by a marker.
        self._gaps: dict[tuple[str, str], tuple[Destination, int]] = {}
        # Labelled metric children, looked up once: labels() costs more than the increment,
        # and it ran for every event. The label sets are few (connections x channels x types).
        self._event_counters: dict[tuple[str, str, str], Any] = {}
        self._push_metrics: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        # Frames already dead-lettered because Kafka refused one of their records.
        self._given_up: deque[tuple[str, int]] = deque(maxlen=1024)
        publisher.on_undeliverable = self._undeliverable

    async def deliver(
        self, conn: ConnectionInfo, frame: Frame, events: list[Event], recent: RecentPushes
    ) -> None:
        origin = _Origin(conn, frame)
        if self.raw_topics:
            await self._send(self.codec.raw_record(conn, frame), origin)
        normalizing = self.normalizer.enabled(conn.connection)
        for event in events:
            labels = (conn.exchange, conn.connection, type(event).__name__)
            counter = self._event_counters.get(labels)
            if counter is None:
                counter = self._event_counters[labels] = self.metrics.events.labels(*labels)
            counter.inc()
            match event:
                case Unrecognized():
                    await self.dead_letter(conn, frame, "classify", event.reason)
                    continue
                case Push():
                    if event.identity is not None and not recent.first_time(
                        event.destination, event.identity
                    ):
                        self.metrics.duplicates.labels(conn.exchange, conn.connection).inc()
                        continue
                    self._observe_push(conn, frame, event)
                case SubscribeFailed() | ExchangeError() | LoginResult(ok=False):
                    self.metrics.exchange_errors.labels(
                        conn.exchange, event.code or "unknown"
                    ).inc()
                case Maintenance():
                    self.metrics.exchange_maintenance.labels(conn.exchange).set(int(event.active))
                case ResyncRequired():
                    channel = event.destination.channel
                    self.metrics.resyncs.labels(
                        conn.exchange, conn.connection, channel, event.reason
                    ).inc()
                    await self.markers(conn, frame, [event.destination], "resync", event.reason)
                    continue
            if not await self._publish(origin, event):
                continue
            if not normalizing:
                continue
            # The normalized records of the event follow its own, on their own topics.
            match event:
                case Push():
                    for normalized in self.normalizer.pushes(conn, event):
                        await self._publish(origin, normalized)
                case Subscribed() | SubscribeFailed():
                    for target in self.normalizer.destinations(conn, [event.destination]):
                        await self._publish(origin, dataclasses.replace(event, destination=target))

    async def _publish(self, origin: _Origin, event: Event) -> bool:
        """Encode and send the records of one event; False when it could not be encoded (the
        frame is then dead-lettered)."""
        conn, frame = origin.conn, origin.frame
        try:
            records = self.codec.records_for(conn, frame, event)
        except Exception as exc:  # noqa: BLE001
            # Safety net: fastavro raises ValueError, TypeError, OverflowError,
            # UnicodeEncodeError… for values that do not fit; whatever it is, the frame is
            # dead-lettered and the connection lives on.
            log.debug("encoding %s failed", type(event).__name__, exc_info=True)
            await self.dead_letter(conn, frame, "encode", f"{type(event).__name__}: {exc}")
            return False
        destination = (
            event.destination if isinstance(event, Push | Subscribed | SubscribeFailed) else None
        )
        for record in records:
            if destination is None:
                await self._send(record, origin)
            else:
                await self._send_channel(origin, destination, record)
        return True

    async def _send_channel(
        self, origin: _Origin, destination: Destination, record: OutRecord
    ) -> None:
        """Send a channel record; under the drop policy, remember a gap and mark where it ends."""
        conn, frame = origin.conn, origin.frame
        gap_key = (destination.topic, destination.key)
        gap = self._gaps.get(gap_key)
        if gap is not None and not self.publisher.full:
            del self._gaps[gap_key]
            detail = f"{gap[1]} record(s) dropped while the Kafka buffer was full"
            marker = self.codec.session_marker(
                conn, frame, destination, "dropped", "buffer_full", detail
            )
            await self.publisher.send(marker, frame.received_us, force=True)
        if not await self._send(record, origin):
            _, dropped = self._gaps.get(gap_key, (destination, 0))
            self._gaps[gap_key] = (destination, dropped + 1)

    async def markers(
        self,
        conn: ConnectionInfo,
        frame: Frame,
        destinations: list[Destination],
        kind: str,
        reason: str,
        detail: str | None = None,
    ) -> None:
        """A session marker on every destination's topic (once per topic and key), and on the
        normalized topics those destinations feed when the connection writes them."""
        seen: set[tuple[str, str]] = set()
        for destination in [*destinations, *self.normalizer.destinations(conn, destinations)]:
            if (destination.topic, destination.key) in seen:
                continue
            seen.add((destination.topic, destination.key))
            marker = self.codec.session_marker(conn, frame, destination, kind, reason, detail)
            await self.publisher.send(marker, frame.received_us, force=True)

    async def dead_letter(self, conn: ConnectionInfo, frame: Frame, stage: str, error: str) -> None:
        self.metrics.deadletters.labels(stage).inc()
        log.warning(
            "%s: frame %d to dead letters (%s): %s",
            conn.connection_id,
            frame.sequence,
            stage,
            error,
        )
        record = self.codec.deadletter_record(conn, frame, stage, error)
        await self.publisher.send(record, frame.received_us, force=True)

    def _observe_push(self, conn: ConnectionInfo, frame: Frame, push: Push) -> None:
        received_s = frame.received_us / 1e6
        labels = (conn.exchange, conn.connection, push.destination.channel)
        children = self._push_metrics.get(labels)
        if children is None:
            children = self._push_metrics[labels] = (
                self.metrics.last_message.labels(*labels),
                self.metrics.event_lag.labels(conn.exchange, push.destination.channel),
            )
        last_message, event_lag = children
        last_message.set(received_s)
        if push.event_time_ms is not None:
            lag = received_s - push.event_time_ms / 1000
            if lag >= 0:  # an exchange clock ahead of ours says nothing about lag
                event_lag.observe(lag)

    async def _send(self, record: OutRecord, origin: _Origin) -> bool:
        return await self.publisher.send(record, origin.frame.received_us, origin=origin)

    def _undeliverable(self, record: OutRecord, origin: object | None, reason: str) -> None:
        """Kafka refused a record for good: dead-letter the frame it was made from, once per
        frame (its raw and typed records may all be refused), so the frame is not lost. A
        dead letter refused in turn (the broker's limit is below ours) is sent again with
        half as much of the frame, down to a floor: the head of the frame, its size and its
        SHA-256 always land."""
        if isinstance(origin, _DeadLetter):
            if "TooLarge" in reason and origin.limit // 2 >= DEADLETTER_FLOOR_BYTES:
                self._dead_letter(origin.origin, origin.reason, origin.limit // 2)
            return
        if not isinstance(origin, _Origin):
            return  # a marker or a schema record: counted and logged by the publisher
        seen = (origin.conn.connection_id, origin.frame.sequence)
        if seen in self._given_up:
            return
        self._given_up.append(seen)
        self.metrics.deadletters.labels("deliver").inc()
        log.warning(
            "%s: frame %d to dead letters (deliver): %s",
            origin.conn.connection_id,
            origin.frame.sequence,
            reason,
        )
        self._dead_letter(
            origin, reason, self.publisher.max_record_bytes - DEADLETTER_HEADROOM_BYTES
        )

    def _dead_letter(self, origin: _Origin, reason: str, limit: int) -> None:
        frame = origin.frame
        data, note = _truncated(frame.data, limit)
        letter = self.codec.deadletter_record(
            origin.conn, Frame(data, frame.received_us, frame.sequence), "deliver", reason + note
        )
        self.publisher.send_nowait(letter, frame.received_us, _DeadLetter(origin, reason, limit))


@dataclass(frozen=True, slots=True)
class _Origin:
    """What a record was made from: handed to the publisher, which gives it back with a record
    Kafka refused."""

    conn: ConnectionInfo
    frame: Frame


@dataclass(frozen=True, slots=True)
class _DeadLetter:
    """A dead letter made for a refused frame, with at most ``limit`` bytes of it."""

    origin: _Origin
    reason: str
    limit: int


def _truncated(data: str | bytes, limit: int) -> tuple[str | bytes, str]:
    """``data`` cut to at most ``limit`` bytes (UTF-8 for text) and a note saying so, with the
    whole frame's size and SHA-256; ``data`` and an empty note when it fits."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if len(raw) <= limit:
        return data, ""
    digest = hashlib.sha256(raw).hexdigest()
    note = (
        f"; frame of {len(raw)} bytes cut to its first {limit} for the dead-letter topic "
        f"(sha256 of the whole frame {digest})"
    )
    if isinstance(data, bytes):
        return raw[:limit], note
    return raw[:limit].decode("utf-8", "ignore"), note
