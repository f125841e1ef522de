"""The two wire formats a value is written in, so a consumer finds its writer schema from its
first bytes:

- Avro single-object encoding (no registry): ``C3 01`` + the 8-byte little-endian CRC-64-AVRO
  fingerprint of the writer schema + the Avro body (:class:`SingleObjectEncoder`);
- the Confluent wire format (with a schema registry): ``00`` + the registry's 4-byte big-endian
  schema id + the Avro body (:class:`ConfluentEncoder`; ids come from
  :func:`bridge.avro.registration.register_all`).

The format is chosen when the :class:`~bridge.avro.records.Codec` is built.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any, Literal, Protocol

import fastavro

from bridge.avro.store import Schema, SchemaStore, fingerprint_text
from bridge.errors import SchemaError

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
CONFLUENT_MAGIC = b"\x00"

WireFormat = Literal["single-object", "confluent"]


def encode_single_object(schema: Schema, value: Mapping[str, Any]) -> bytes:
    out = io.BytesIO()
    out.write(SINGLE_OBJECT_MAGIC)
    out.write(schema.fingerprint)
    fastavro.schemaless_writer(out, schema.parsed, value)
    return out.getvalue()


def encode_confluent(schema_id: int, schema: Schema, value: Mapping[str, Any]) -> bytes:
    out = io.BytesIO()
    out.write(CONFLUENT_MAGIC)
    out.write(schema_id.to_bytes(4, "big"))
    fastavro.schemaless_writer(out, schema.parsed, value)
    return out.getvalue()


def split_value(data: bytes) -> tuple[WireFormat, bytes | int, bytes]:
    """Which wire format a value is in, the writer schema's reference (an 8-byte fingerprint,
    or a registry id) and the Avro body."""
    if data[:2] == SINGLE_OBJECT_MAGIC and len(data) >= 10:
        return "single-object", data[2:10], data[10:]
    if data[:1] == CONFLUENT_MAGIC and len(data) >= 5:
        return "confluent", int.from_bytes(data[1:5], "big"), data[5:]
    raise SchemaError(
        "neither Avro single-object encoding (C3 01) nor the Confluent wire format (00)"
    )


def decode_body(parsed_schema: Any, body: bytes, what: str) -> dict[str, Any]:
    """An Avro body read with its writer schema. Union branches come back as
    ``(full name, value)`` tuples."""
    try:
        value = fastavro.schemaless_reader(
            io.BytesIO(body), parsed_schema, None, return_record_name=True
        )
    except (ValueError, TypeError, KeyError, IndexError, EOFError) as exc:
        raise SchemaError(f"{what}: the value does not decode: {exc}") from exc
    if not isinstance(value, dict):  # every bridge schema is a record
        raise SchemaError(f"{what}: decoded to {type(value).__name__}, not a record")
    return value


def decode_single_object(store: SchemaStore, data: bytes) -> tuple[Schema, dict[str, Any]]:
    """Decode a single-object encoded value with the writer schema named by its fingerprint.
    Union branches come back as ``(full name, value)`` tuples."""
    if data[:2] != SINGLE_OBJECT_MAGIC or len(data) < 10:
        raise SchemaError("not Avro single-object encoding (missing C3 01 marker)")
    schema = store.by_fingerprint(data[2:10])
    if schema is None:
        raise SchemaError(f"unknown schema fingerprint {fingerprint_text(data[2:10])}")
    return schema, decode_body(schema.parsed, data[10:], schema.id)


class ValueEncoder(Protocol):
    """Writes one value of ``topic`` (before the prefix) with ``schema`` in a wire format."""

    def encode(self, topic: str, schema: Schema, value: Mapping[str, Any]) -> bytes: ...

    def prefix(self, topic: str, schema: Schema) -> bytes:
        """The bytes before the Avro body of every value of ``topic`` written with ``schema``
        (the same for every value: the codec keeps them)."""
        ...


class SingleObjectEncoder:
    """Avro single-object encoding: no registry needed, the fingerprint names the schema."""

    def encode(self, topic: str, schema: Schema, value: Mapping[str, Any]) -> bytes:
        return encode_single_object(schema, value)

    def prefix(self, topic: str, schema: Schema) -> bytes:
        return SINGLE_OBJECT_MAGIC + schema.fingerprint


class ConfluentEncoder:
    """The Confluent wire format. ``ids`` maps (topic before the prefix, schema fingerprint) to
    the registry's schema id; it is filled once at start
    (:func:`bridge.avro.registration.register_all`) and never asks the registry again, so a
    registry outage does not stop production."""

    def __init__(self) -> None:
        self.ids: dict[tuple[str, bytes], int] = {}

    def encode(self, topic: str, schema: Schema, value: Mapping[str, Any]) -> bytes:
        return encode_confluent(self._id(topic, schema), schema, value)

    def prefix(self, topic: str, schema: Schema) -> bytes:
        return CONFLUENT_MAGIC + self._id(topic, schema).to_bytes(4, "big")

    def _id(self, topic: str, schema: Schema) -> int:
        schema_id = self.ids.get((topic, schema.fingerprint))
        if schema_id is None:
            raise SchemaError(
                f"{topic}: no registry id for {schema.id}.v{schema.version} "
                "(only the topics known at start are registered)"
            )
        return schema_id
