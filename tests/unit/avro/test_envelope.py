"""The codec's records, written from cached envelope parts (bridge/avro/envelope.py), are the
bytes fastavro writes for the whole value, in both wire formats, for every channel schema and
every branch of its payload; values the parts cannot write exactly fail as fastavro fails."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.avro.compat import sample_values
from bridge.avro.formats import ConfluentEncoder, SingleObjectEncoder, ValueEncoder
from bridge.avro.records import Codec
from bridge.avro.store import Schema, SchemaStore
from bridge.exchanges.events import Destination
from bridge.frame import ConnectionInfo, Frame
from bridge.topics import RAW_SCHEMA, raw_topic

STORE = SchemaStore()
CHANNEL_SCHEMAS = [
    s for s in STORE.all() if [f["name"] for f in s.definition["fields"]][-1] == "payload"
]
TOPIC = "okx.anything"


def confluent() -> ConfluentEncoder:
    encoder = ConfluentEncoder()
    for schema in STORE.all():
        encoder.ids[(TOPIC, schema.fingerprint)] = 258
        encoder.ids[(raw_topic("okx"), schema.fingerprint)] = 70_000
    return encoder


ENCODERS = {"single-object": SingleObjectEncoder, "confluent": confluent}


class PartsOnly:
    """The wire format of ``encoder``, but a value encoded whole fails the test: the records
    compared below come from the cached parts."""

    def __init__(self, encoder: ValueEncoder) -> None:
        self.wrapped = encoder

    def prefix(self, topic: str, schema: Schema) -> bytes:
        return self.wrapped.prefix(topic, schema)

    def encode(self, topic: str, schema: Schema, value: Any) -> bytes:
        raise AssertionError(f"{schema.id}: encoded whole, not from the cached parts")


def record_of(codec: Codec, schema: Schema, value: dict[str, Any]) -> bytes:
    conn = ConnectionInfo(
        value["exchange"], "okx", value["connection"], value["connection_id"],
        value["bridge_instance"],
    )  # fmt: skip
    frame = Frame("{}", value["receive_time"], value["sequence"])
    destination = Destination(
        topic=TOPIC, schema=schema.id, key="k", channel=value["channel"], arg=value["arg"]
    )
    payload_type, payload = value["payload"]
    record = codec.channel_record(
        conn,
        frame,
        destination,
        payload_type,
        payload,
        event_time_ms=value["event_time"],
        exchange_conn_id=value["exchange_connection_id"],
    )
    return record.value


def writing(schema: Schema, encoder: ValueEncoder) -> Codec:
    """A codec whose store answers ``schema`` for its id: older versions are tested too."""
    store = SchemaStore()
    latest = store.latest
    store.latest = lambda schema_id: schema if schema_id == schema.id else latest(schema_id)  # type: ignore[method-assign]
    return Codec(store, encoder=encoder)


@pytest.mark.parametrize("wire_format", list(ENCODERS))
@pytest.mark.parametrize("schema", CHANNEL_SCHEMAS, ids=lambda s: f"{s.id}.v{s.version}")
def test_channel_records_are_the_bytes_of_the_whole_value(schema: Schema, wire_format: str) -> None:
    encoder: ValueEncoder = ENCODERS[wire_format]()
    codec = writing(schema, PartsOnly(encoder))
    samples = sample_values(dict(schema.definition))
    assert samples
    first = {**samples[0], "receive_time": -1, "sequence": -1, "event_time": -1}
    edge = {
        "exchange": "okx",
        "channel": "bücher",
        "arg": {"channel": "books", "instId": "BTC-USDT", "ünï": "cödé"},
        "receive_time": 2**63 - 1,
        "event_time": 0,
        "connection": "c",
        "connection_id": "c#1",
        "exchange_connection_id": "ø-1",
        "sequence": -(2**63),
        "bridge_instance": "",
    }
    for n, value in enumerate([first, *samples, {**samples[0], **edge}]):
        # the same destination and connection again and again: cached parts are reused
        for _ in range(2):
            assert record_of(codec, schema, value) == encoder.encode(TOPIC, schema, value), n


@pytest.mark.parametrize("wire_format", list(ENCODERS))
def test_raw_records_are_the_bytes_of_the_whole_value(wire_format: str) -> None:
    encoder: ValueEncoder = ENCODERS[wire_format]()
    codec = Codec(encoder=PartsOnly(encoder))
    schema = STORE.latest(RAW_SCHEMA)
    for data in ('{"a":"ü"}', b"\x00\xff", "", b""):
        pairs = ((-1, -1), (1_700_000_000_000_000, 1), (0, 2**63 - 1), (-1, -(2**63)))
        for received_us, sequence in pairs:
            # a new codec for each: the first values a codec writes are tested too
            codec = Codec(encoder=PartsOnly(encoder))
            conn = ConnectionInfo("okx", "okx", "pub", "pub#3", "pod-ü")
            record = codec.raw_record(conn, Frame(data, received_us, sequence))
            value = {
                "exchange": "okx",
                "connection": "pub",
                "connection_id": "pub#3",
                "receive_time": received_us,
                "sequence": sequence,
                "bridge_instance": "pod-ü",
                "frame_type": "text" if isinstance(data, str) else "binary",
                "data": data.encode() if isinstance(data, str) else data,
            }
            assert record.value == encoder.encode(raw_topic("okx"), schema, value)


def test_values_the_parts_cannot_write_fail_as_fastavro_fails() -> None:
    schema = STORE.latest("okx/status")
    value = sample_values(dict(schema.definition))[0]
    codec = Codec()
    encoder = SingleObjectEncoder()
    for bad in (
        {"event_time": 2**63},
        {"receive_time": -(2**63) - 1},
        {"exchange_connection_id": "\ud800"},
        {"arg": {"channel": "\udfff"}},
        {"payload": ("exchange_bridge.NoSuchRecord", {})},
    ):
        wrong = {**value, **bad}
        with pytest.raises(Exception) as plain:  # noqa: PT011 - whatever fastavro raises
            encoder.encode(TOPIC, schema, wrong)
        with pytest.raises(plain.type):
            record_of(codec, schema, wrong)
