"""From an exchange's typed events to normalized ones: which channels feed which normalized
topic, under which key, and the pushes that go there.

A normalized push is a :class:`~bridge.exchanges.events.Push` like any other: the pipeline
encodes it in the same envelope (exchange, channel, arg, receive and event time, connection,
sequence) and sends markers and acks to the normalized destinations of a channel as it does to
the channel's own, so a consumer of a normalized topic sees the same ``disconnected``,
``resync`` and ``handover`` markers.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Final

from bridge.exchanges.events import Destination, Push
from bridge.frame import ConnectionInfo
from bridge.normalize import kraken, okex_v1, okx
from bridge.normalize.records import PAYLOAD_TYPES, Normalized
from bridge.topics import normalized_key, normalized_schema, normalized_topic


@dataclass(frozen=True, slots=True)
class _Exchange:
    kinds: Callable[[Destination], tuple[str, ...]]
    symbol: Callable[[Destination], str]
    normalize: Callable[[Push], list[Normalized]]


_EXCHANGES: Final = {
    "okx": _Exchange(okx.kinds, okx.symbol, okx.normalize),
    "kraken": _Exchange(kraken.kinds, kraken.symbol, kraken.normalize),
    "okex_v1": _Exchange(okex_v1.kinds, okex_v1.symbol, okex_v1.normalize),
}


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

    def enabled(self, connection: str) -> bool:
        return connection in self.connections

    def destinations(
        self, conn: ConnectionInfo, sources: Iterable[Destination]
    ) -> list[Destination]:
        """The normalized destinations of ``sources`` when ``conn`` normalizes, else none."""
        if conn.connection not in self.connections:
            return []
        return normalized_destinations(conn.exchange, sources)

    def pushes(self, conn: ConnectionInfo, push: Push) -> list[Push]:
        """The normalized pushes of ``push``."""
        found = _EXCHANGES.get(conn.exchange)
        if found is None:
            return []
        items = found.normalize(push)
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
