"""The pipeline: push de-duplication across overlapping connections, and dead letters for
frames whose records Kafka refuses."""

from __future__ import annotations

import hashlib
from typing import Any

from bridge.avro.formats import decode_single_object
from bridge.avro.records import Codec, OutRecord
from bridge.avro.store import SchemaStore
from bridge.exchanges.events import Destination, Push
from bridge.frame import ConnectionInfo, Frame
from bridge.metrics import Metrics
from bridge.runtime.pipeline import Pipeline, RecentPushes


def dest(key: str) -> Destination:
    return Destination(
        topic="okx.tickers", schema="okx/channel", key=key, channel="tickers", arg={}
    )


def test_the_same_content_on_the_same_destination_is_seen_once() -> None:
    recent = RecentPushes()
    assert recent.first_time(dest("BTC-USDT"), '{"last":"1"}')
    assert not recent.first_time(dest("BTC-USDT"), '{"last":"1"}')
    assert recent.first_time(dest("ETH-USDT"), '{"last":"1"}')
    assert recent.first_time(dest("BTC-USDT"), '{"last":"2"}')


def test_the_window_is_bounded_and_forgets_the_oldest() -> None:
    recent = RecentPushes(size=3)
    for n in range(4):
        assert recent.first_time(dest("k"), str(n))
    assert recent.first_time(dest("k"), "0")  # forgotten: evicted as the oldest
    assert not recent.first_time(dest("k"), "3")


# --- frames whose records Kafka refuses for good ------------------------------------------------


class RefusingPublisher:
    """Accepts records and lets the test refuse them as Kafka would (``refuse``)."""

    full = False

    def __init__(self, max_record_bytes: int = 1_048_576) -> None:
        self.max_record_bytes = max_record_bytes
        self.on_undeliverable: Any = None
        self.sent: list[tuple[OutRecord, object]] = []

    async def send(
        self, record: OutRecord, received_us: int, *, force: bool = False, origin: object = None
    ) -> bool:
        self.sent.append((record, origin))
        return True

    def send_nowait(self, record: OutRecord, received_us: int, origin: object = None) -> None:
        self.sent.append((record, origin))

    def refuse(self, index: int, reason: str) -> None:
        record, origin = self.sent[index]
        self.on_undeliverable(record, origin, reason)


CONN = ConnectionInfo("okx", "okx", "okx-public", "okx-public#1", "test")
STORE = SchemaStore()


def decode(record: OutRecord) -> dict[str, Any]:
    return decode_single_object(STORE, record.value)[1]


async def delivered_frame(publisher: RefusingPublisher, data: str) -> Pipeline:
    pipeline = Pipeline(Codec(STORE), publisher, Metrics())  # type: ignore[arg-type]
    push = Push(
        destination=dest("BTC-USDT"),
        payload_type="exchange_bridge.okx.ChannelData",
        payload={"action": None, "data": "{}"},
    )
    await pipeline.deliver(CONN, Frame(data, 1_700_000_000_000_000, 7), [push], RecentPushes())
    return pipeline


async def test_a_frame_whose_records_kafka_refuses_is_dead_lettered_once() -> None:
    publisher = RefusingPublisher()
    await delivered_frame(publisher, '{"arg":{"channel":"tickers"},"data":[{}]}')
    raw, typed = publisher.sent  # the raw record and the typed one
    publisher.refuse(0, "MessageSizeTooLargeError: too large")
    publisher.refuse(1, "MessageSizeTooLargeError: too large")  # same frame: no second letter
    assert len(publisher.sent) == 3
    letter = decode(publisher.sent[2][0])
    assert publisher.sent[2][0].topic == "bridge.deadletter"
    assert letter["stage"] == "deliver" and "MessageSizeTooLargeError" in letter["error"]
    assert letter["data"] == b'{"arg":{"channel":"tickers"},"data":[{}]}'
    assert (letter["sequence"], letter["connection_id"]) == (7, "okx-public#1")


async def test_a_refused_dead_letter_goes_again_with_half_the_frame_down_to_a_floor() -> None:
    publisher = RefusingPublisher(max_record_bytes=64 * 1024 + 16 * 1024)
    frame = '{"data":"' + "x" * 100_000 + '"}'
    await delivered_frame(publisher, frame)
    publisher.refuse(0, "MessageSizeTooLargeError: too large")
    sizes = []
    while True:
        letter = decode(publisher.sent[-1][0])
        sizes.append(len(letter["data"]))
        assert frame.encode().startswith(letter["data"])
        assert "frame of 100011 bytes cut to its first" in letter["error"]
        assert hashlib.sha256(frame.encode()).hexdigest() in letter["error"]
        count = len(publisher.sent)
        publisher.refuse(count - 1, "MessageSizeTooLargeError: still too large")
        if len(publisher.sent) == count:
            break  # the floor: no further attempt
    assert sizes == [65536, 32768, 16384, 8192, 4096]


async def test_a_dead_letter_refused_for_another_reason_is_not_sent_again() -> None:
    publisher = RefusingPublisher()
    await delivered_frame(publisher, "{}")
    publisher.refuse(0, "TopicAuthorizationFailedError: no")
    publisher.refuse(2, "TopicAuthorizationFailedError: no")  # the dead letter topic too
    assert len(publisher.sent) == 3
