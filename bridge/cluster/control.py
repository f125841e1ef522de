"""The control topic: one compacted partition every member writes to and reads all of.

A holder writes a record when it is subscribed to a connection it was granted, when it leaves
the group still holding connections, and when it closes one without a successor
(:class:`~bridge.cluster.protocol.ControlRecord`). Every member reads the partition from the
beginning and then follows it (a plain consumer with a manual assignment: not in the group,
so a rebalance never pauses it), keeping the last record per connection in a
:class:`~bridge.cluster.holdings.ControlView`.

Writes are acknowledged by every in-sync replica (``acks=all``) before the writer goes on: a
``releasing`` record must be in Kafka before its writer leaves the group, so that the member
granted the connection next reads it before deciding how to start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from bridge.cluster.holdings import ControlView
from bridge.cluster.protocol import ControlRecord, ProtocolError, decode_control, encode_control
from bridge.retry import Backoff

log = logging.getLogger(__name__)

# The reader asks the broker for new records this often at most when there are none: how soon
# an instance that hands a connection over learns that its successor is subscribed.
FETCH_WAIT_MS = 50


class ControlChannel:
    """Writes control records and follows the topic into ``view``; ``on_record`` is called
    with every record of the view's group, after the view has taken it in."""

    def __init__(
        self,
        view: ControlView,
        *,
        bootstrap_servers: str,
        topic: str,
        client_id: str,
        client_options: Mapping[str, Any],
        on_record: Callable[[ControlRecord], None],
    ) -> None:
        self.view = view
        self.topic = topic
        self.on_record = on_record
        self._partition = TopicPartition(topic, 0)
        self._options = {
            "bootstrap_servers": bootstrap_servers,
            "client_id": f"{client_id}-cluster",
            **client_options,
        }
        # made in start(): aiokafka clients belong to the running event loop
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._reader: asyncio.Task[None] | None = None
        self._read_up_to = 0
        self._progress = asyncio.Event()

    async def start(self) -> None:
        """Connect both clients, read the topic to its end (what every member said before
        this one started), then follow it in the background."""
        self._producer = AIOKafkaProducer(acks="all", enable_idempotence=True, **self._options)
        await self._producer.start()
        self._consumer = AIOKafkaConsumer(
            enable_auto_commit=False, fetch_max_wait_ms=FETCH_WAIT_MS, **self._options
        )
        await self._consumer.start()
        self._consumer.assign([self._partition])
        await self._consumer.seek_to_beginning(self._partition)
        self._reader = asyncio.get_running_loop().create_task(self._read(), name="cluster-control")
        await self.caught_up()

    async def stop(self) -> None:
        """Close both clients; safe to call more than once."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        for client in (self._consumer, self._producer):
            if client is not None:
                with contextlib.suppress(KafkaError):
                    await client.stop()
        self._consumer = self._producer = None

    async def caught_up(self) -> None:
        """Wait until the view holds every record written before this call."""
        assert self._consumer is not None, "start() first"
        end = (await self._consumer.end_offsets([self._partition]))[self._partition]
        while self._read_up_to < end:
            if self._reader is not None and self._reader.done():
                self._reader.result()  # the reader failed: raise its error here
            self._progress.clear()
            await self._progress.wait()

    async def write(self, record: ControlRecord) -> None:
        """Write ``record`` and wait for Kafka to acknowledge it, retrying while Kafka cannot
        take it (the caller bounds the wait by cancelling)."""
        backoff = Backoff(0.2, 5.0)
        while True:
            if self._producer is None:
                raise KafkaError("the control channel is stopped")
            try:
                await self._producer.send_and_wait(
                    self.topic, encode_control(record), key=record.key
                )
                return
            except KafkaError as exc:
                delay = backoff.next_delay()
                log.warning(
                    "control record for %s not written (%s); retrying in %.1f s",
                    record.connection,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)

    async def _read(self) -> None:
        assert self._consumer is not None
        while True:
            try:
                batches = await self._consumer.getmany(self._partition, timeout_ms=1000)
            except KafkaError as exc:  # the consumer reconnects by itself; keep following
                log.warning("reading the control topic: %s", exc)
                await asyncio.sleep(1)
                continue
            for message in batches.get(self._partition, []):
                self._read_up_to = message.offset + 1
                if message.value is None:
                    continue  # a tombstone: an operator removing a connection's history
                try:
                    record = decode_control(message.value)
                except ProtocolError as exc:
                    log.warning("control topic offset %d skipped: %s", message.offset, exc)
                    continue
                if self.view.add(record):
                    self.on_record(record)
            # Past the last record even when the batch was empty (compaction leaves holes).
            with contextlib.suppress(KafkaError):
                position = await self._consumer.position(self._partition)
                self._read_up_to = max(self._read_up_to, position)
            self._progress.set()
