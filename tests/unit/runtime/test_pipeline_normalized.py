"""The pipeline with normalized topics: records, acks and markers follow a channel's own on the
normalized topics it feeds, only for the connections that enable them; off, nothing changes."""

from __future__ import annotations

from typing import Any

from bridge.avro.formats import decode_single_object
from bridge.avro.records import Codec, OutRecord
from bridge.avro.store import SchemaStore
from bridge.exchanges.kraken import KrakenAdapter
from bridge.frame import ConnectionInfo, Frame
from bridge.metrics import Metrics
from bridge.normalize.normalizer import Normalizer
from bridge.runtime.pipeline import Pipeline, RecentPushes
from tests.fixtures import load_fixture

STORE = SchemaStore()
CONN = ConnectionInfo("kraken", "kraken", "kraken", "kraken#1", "test")
SUBSCRIPTIONS: list[dict[str, Any]] = [
    {"name": "book", "pair": ["XBT/USD"], "depth": 10},  # request 1, as the ack fixture says
    {"name": "trade", "pair": ["XBT/USD"]},
]


class Collecting:
    full = False
    max_record_bytes = 1_048_576

    def __init__(self) -> None:
        self.on_undeliverable: Any = None
        self.sent: list[OutRecord] = []

    async def send(
        self, record: OutRecord, received_us: int, *, force: bool = False, origin: object = None
    ) -> bool:
        self.sent.append(record)
        return True


def pipeline(normalizer: Normalizer | None) -> tuple[Pipeline, Collecting]:
    publisher = Collecting()
    return Pipeline(Codec(STORE), publisher, Metrics(), normalizer=normalizer), publisher  # type: ignore[arg-type]


async def run(normalizer: Normalizer | None, *names: str) -> list[OutRecord]:
    line, publisher = pipeline(normalizer)
    adapter = KrakenAdapter(SUBSCRIPTIONS, None)
    adapter.connection_made(0.0)
    adapter.data_to_send()
    recent = RecentPushes()
    for sequence, name in enumerate(names, start=1):
        text = load_fixture("kraken", name)
        events = adapter.receive(text, 1_534_614_260_000_000 + sequence)
        await line.deliver(
            CONN, Frame(text, 1_534_614_260_000_000 + sequence, sequence), events, recent
        )
    return publisher.sent


def described(records: list[OutRecord]) -> list[tuple[str, str, str]]:
    out = []
    for record in records:
        value = decode_single_object(STORE, record.value)[1]
        name, payload = value["payload"]
        kind = payload.get("kind") or payload.get("verified") or name.rsplit(".", 1)[-1]
        out.append((record.topic, (record.key or b"").decode(), kind))
    return out


FRAMES = (
    "subscribed-book-10.json",
    "trade.json",
    "book-snapshot.json",
    "book-update-ask.json",
    "book-update-bad-checksum.json",
)


async def test_off_the_records_are_those_without_a_normalizer() -> None:
    plain = await run(None, *FRAMES)
    off = await run(Normalizer(["another-connection"]), *FRAMES)
    assert [(r.topic, r.key, r.value, r.headers) for r in off] == [
        (r.topic, r.key, r.value, r.headers) for r in plain
    ]
    assert not any(r.topic.startswith("normalized.") for r in off)


async def test_on_each_record_is_followed_by_its_normalized_ones() -> None:
    records = await run(Normalizer(["kraken"]), *FRAMES)
    channel = [r for r in records if r.topic != "kraken.raw"]
    assert described(channel) == [
        ("kraken.book", "XBT/USD", "SubscriptionEvent"),
        ("normalized.book", "kraken:BTC-USD", "SubscriptionEvent"),
        ("kraken.trade", "XBT/USD", "Trade"),
        ("normalized.trades", "kraken:BTC-USD", "Trade"),
        ("kraken.trade", "XBT/USD", "Trade"),
        ("normalized.trades", "kraken:BTC-USD", "Trade"),
        ("kraken.book", "XBT/USD", "Book"),
        ("normalized.book", "kraken:BTC-USD", "verified"),
        ("kraken.book", "XBT/USD", "Book"),
        ("normalized.book", "kraken:BTC-USD", "verified"),
        ("kraken.book", "XBT/USD", "Book"),
        ("normalized.book", "kraken:BTC-USD", "failed"),
        ("kraken.book", "XBT/USD", "resync"),
        ("normalized.book", "kraken:BTC-USD", "resync"),
    ]


async def test_session_markers_reach_the_normalized_topics() -> None:
    line, publisher = pipeline(Normalizer(["kraken"]))
    destinations = KrakenAdapter.destinations(SUBSCRIPTIONS)
    await line.markers(CONN, Frame(b"", 1, 0), destinations, "disconnected", "connection_lost")
    assert described(publisher.sent) == [
        ("kraken.book", "XBT/USD", "disconnected"),
        ("kraken.trade", "XBT/USD", "disconnected"),
        ("normalized.book", "kraken:BTC-USD", "disconnected"),
        ("normalized.trades", "kraken:BTC-USD", "disconnected"),
    ]
