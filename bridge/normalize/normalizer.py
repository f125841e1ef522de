"""From an exchange's typed events to normalized ones: which channels feed which normalized
topic, under which key, and the pushes that go there.

A normalized push is a :class:`~bridge.exchanges.events.Push` like any other: the pipeline
encodes it in the same envelope (exchange, channel, arg, receive and event time, connection,
sequence) and sends markers and acks to the normalized destinations of a channel as it does to
the channel's own, so a consumer of a normalized topic sees the same ``disconnected``,
``resync`` and ``handover`` markers.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from bridge.exchanges.events import Destination, Event, Push, ResyncRequired
from bridge.frame import ConnectionInfo
from bridge.normalize import kraken, okex_v1, okx
from bridge.normalize.records import PAYLOAD_TYPES, Normalized
from bridge.topics import normalized_key, normalized_schema, normalized_topic


@dataclass(frozen=True, slots=True)
class _Exchange:
    kinds: Callable[[Destination], tuple[str, ...]]
    symbol: Callable[[Destination], str]


_EXCHANGES: Final = {
    "okx": _Exchange(okx.kinds, okx.symbol),
    "kraken": _Exchange(kraken.kinds, kraken.symbol),
    "okex_v1": _Exchange(okex_v1.kinds, okex_v1.symbol),
}
_KRAKEN_BOOK: Final = "exchange_bridge.kraken.Book"


def normalized_destination(exchange: str, kind: str, source: Destination) -> Destination:
    """Where a channel's normalized records of one kind go: keyed ``<exchange>:<symbol>``,
    with the channel and arg they came from."""
    return Destination(
        topic=normalized_topic(kind),
        schema=normalized_schema(kind),
        key=normalized_key(exchange, _EXCHANGES[exchange].symbol(source)),
        channel=source.channel,
        arg=source.arg,
    )


def normalized_destinations(exchange: str, sources: Iterable[Destination]) -> list[Destination]:
    """The normalized destinations the given channel destinations feed (none for an exchange
    or a channel that has nothing to normalize)."""
    found = _EXCHANGES.get(exchange)
    if found is None:
        return []
    return [
        normalized_destination(exchange, kind, source)
        for source in sources
        for kind in found.kinds(source)
    ]


class Normalizer:
    """Normalizes the pushes of the configured connections that asked for it (by name)."""

    def __init__(self, connections: Collection[str] = ()) -> None:
        self.connections = frozenset(connections)
        self._kraken_books = kraken.BookChecks()

    def enabled(self, connection: str) -> bool:
        return connection in self.connections

    def destinations(
        self, conn: ConnectionInfo, sources: Iterable[Destination]
    ) -> list[Destination]:
        """The normalized destinations of ``sources`` when ``conn`` normalizes, else none."""
        if conn.connection not in self.connections:
            return []
        return normalized_destinations(conn.exchange, sources)

    def pushes(self, conn: ConnectionInfo, push: Push, events: Sequence[Event]) -> list[Push]:
        """The normalized pushes of ``push``, one of the ``events`` of one frame (the events
        after it say whether its book failed a check)."""
        items: list[Normalized]
        match conn.exchange:
            case "okx":
                items = okx.normalize(push)
            case "kraken":
                verified = None
                if push.payload_type == _KRAKEN_BOOK:
                    verified = self._kraken_books.verified(
                        conn.connection, conn.connection_id, push, _resync_follows(push, events)
                    )
                items = kraken.normalize(push, verified)
            case "okex_v1":
                items = okex_v1.normalize(push)
            case _:
                return []
        return [
            Push(
                destination=normalized_destination(conn.exchange, item.kind, push.destination),
                payload_type=PAYLOAD_TYPES[item.kind],
                payload=item.payload,
                event_time_ms=push.event_time_ms,
                exchange_conn_id=push.exchange_conn_id,
            )
            for item in items
        ]


def _resync_follows(push: Push, events: Sequence[Event]) -> bool:
    topic, key = push.destination.topic, push.destination.key
    return any(
        isinstance(e, ResyncRequired) and e.destination.topic == topic and e.destination.key == key
        for e in events
    )
