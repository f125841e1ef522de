"""The schema store: schema files, their versions and fingerprints."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import fastavro
import pytest

from bridge.avro.store import SchemaStore
from bridge.errors import SchemaError

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"


def crc64_avro(data: bytes) -> int:
    """The Avro specification's reference CRC-64-AVRO, written out independently of fastavro."""
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


@pytest.fixture(scope="module")
def store() -> SchemaStore:
    return SchemaStore(SCHEMAS)


def test_every_schema_file_loads_with_its_version(store: SchemaStore) -> None:
    ids = {s.id for s in store.all()}
    assert {
        "okx/status",
        "okx/economic-calendar",
        "okx/channel",
        "okx/events",
        "bridge/raw",
        "bridge/deadletter",
    } <= ids
    assert store.latest("okx/status").version == 1


def test_fingerprint_is_crc64_avro_of_canonical_form_little_endian(store: SchemaStore) -> None:
    schema = store.latest("okx/status")
    canonical = fastavro.schema.to_parsing_canonical_form(schema.parsed).encode()
    assert schema.fingerprint == struct.pack("<Q", crc64_avro(canonical))


def test_schema_store_rejects_badly_named_or_broken_files(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "thing.avsc").write_text('{"type": "string"}')
    with pytest.raises(SchemaError, match="v<N>"):
        SchemaStore(tmp_path)
    (tmp_path / "x" / "thing.avsc").unlink()
    (tmp_path / "x" / "thing.v1.avsc").write_text(
        '{"type": "record", "name": "R", "fields": [{"name": "a"}]}'
    )
    with pytest.raises(SchemaError, match="thing.v1.avsc"):
        SchemaStore(tmp_path)


def test_schema_files_are_self_contained_json() -> None:
    for path in SCHEMAS.glob("*/*.avsc"):
        fastavro.parse_schema(json.loads(path.read_text()))
