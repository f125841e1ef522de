"""The fingerprint convention (docs/SCHEMAS.md): text shows the CRC-64-AVRO number as Avro's own
tools print it; the wire carries the same number little-endian."""

from __future__ import annotations

import json

import avro.schema
import pytest

from bridge.avro.compat import sample_values
from bridge.avro.formats import encode_single_object, split_value
from bridge.avro.lock import read_lock
from bridge.avro.registration import schema_record
from bridge.avro.store import (
    Schema,
    SchemaStore,
    fingerprint_bytes,
    fingerprint_text,
    schemas_dir,
    version_key,
)

STORE = SchemaStore()

# The Avro specification's reference implementation of the 64-bit Rabin fingerprint, written
# out here from the spec, not taken from the code under test. Java returns it as a long:
# String.format("%016x", SchemaNormalization.parsingFingerprint64(schema)) prints this number
# (tests/integration/test_java_consumer.py has Java print it).
_EMPTY = 0xC15D213AA4D7A795


def _table() -> list[int]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY & -(fp & 1))
        table.append(fp)
    return table


_TABLE = _table()


def spec_fingerprint64(data: bytes) -> int:
    fp = _EMPTY
    for byte in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ byte) & 0xFF]
    return fp


_LOGICAL = ("logicalType", "precision", "scale")


def canonical_form(definition: dict[str, object]) -> str:
    """Apache Avro's (Python) parsing canonical form, with the logical types taken out first:
    the spec's form drops them ("[PRIMITIVES] convert primitive schemas to their simple
    form"), but avro 1.12's Python code keeps ``{"type":"long"}`` for an annotated long, which
    Java does not."""

    def strip(value: object) -> object:
        if isinstance(value, dict):
            # precision and scale of a decimal too: Java's form of that is plain "bytes"
            return {k: strip(v) for k, v in value.items() if k not in _LOGICAL}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return str(avro.schema.parse(json.dumps(strip(definition))).canonical_form)


def test_okx_status_has_the_fingerprint_avro_tools_print() -> None:
    status = STORE.latest("okx/status")
    assert status.fingerprint_text == "1a40285d9b4484f9"
    assert status.fingerprint == bytes.fromhex("f984449b5d28401a")  # on the wire


@pytest.mark.parametrize("schema", sorted(STORE.all(), key=version_key), ids=version_key)
def test_text_is_the_number_and_the_wire_is_little_endian(schema: Schema) -> None:
    canonical = canonical_form(dict(schema.definition)).encode()
    number = spec_fingerprint64(canonical)
    assert schema.fingerprint_text == f"{number:016x}"  # as Java prints the long
    # Apache Avro's Python package gives the bytes single-object encoding writes
    assert schema.fingerprint == avro.schema._crc_64_fingerprint(canonical)
    assert schema.fingerprint == number.to_bytes(8, "little")

    value = encode_single_object(schema, sample_values(dict(schema.definition))[0])
    assert value[2:10] == schema.fingerprint
    assert split_value(value)[1] == schema.fingerprint
    headers = dict(schema.headers)
    assert headers["bridge.schema.fingerprint"] == schema.fingerprint_text.encode()
    assert schema_record("bridge.schemas", schema).key == schema.fingerprint_text.encode()
    assert read_lock(schemas_dir())[version_key(schema)]["fingerprint"] == schema.fingerprint_text


def test_text_and_bytes_convert_both_ways() -> None:
    assert fingerprint_text(bytes.fromhex("f984449b5d28401a")) == "1a40285d9b4484f9"
    assert fingerprint_bytes("1a40285d9b4484f9") == bytes.fromhex("f984449b5d28401a")
    with pytest.raises(ValueError):
        fingerprint_bytes("1a40")
