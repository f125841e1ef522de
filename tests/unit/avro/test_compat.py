"""Reader/writer compatibility: Avro's resolution rules (the official checker) and the sample
round trips beside it, on hand-made schemas and on the repository's evolved ones."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import fastavro
import pytest

from bridge.avro.compat import data_problems, read_problems, sample_values
from bridge.avro.formats import decode_single_object
from bridge.avro.records import Codec
from bridge.avro.store import SchemaStore
from bridge.errors import SchemaError
from bridge.exchanges.okx import OkxAdapter
from bridge.frame import ConnectionInfo, Frame

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "okx"
STORE = SchemaStore()
EVOLVED = sorted({s.id for s in STORE.all() if len(STORE.versions(s.id)) > 1})


# --- the repository's evolved schemas -------------------------------------------------------------


@pytest.mark.parametrize("schema_id", EVOLVED)
def test_data_of_every_earlier_version_decodes_with_every_later_one(schema_id: str) -> None:
    versions = STORE.versions(schema_id)
    for i, newer in enumerate(versions):
        for older in versions[:i]:
            assert read_problems(newer.definition, older.definition) == []
            assert data_problems(newer.definition, older.definition) == []


def test_calendar_records_written_with_v1_read_with_v2_keep_every_field() -> None:
    """Real data: the documented push, through the adapter and the v1 schema, read as v2."""
    v1, v2 = STORE.versions("okx/economic-calendar")[:2]
    adapter = OkxAdapter([{"channel": "economic-calendar"}])
    adapter.connection_made(0)
    text = (FIXTURES / "economic-calendar-push.json").read_text()
    (push,) = adapter.receive(text)
    conn = ConnectionInfo("okx", "okx", "okx-business", "okx-business#1", "test")
    v1_store = _store_with(v1)
    record = Codec(v1_store).records_for(conn, Frame(text, 1_700_000_000_000_000, 3), push)[0]
    schema, written = decode_single_object(v1_store, record.value)
    assert schema.version == 1

    read = fastavro.schemaless_reader(
        io.BytesIO(record.value[10:]), v1.parsed, v2.parsed, return_record_name=True
    )
    name, payload = read["payload"]
    assert name == "exchange_bridge.okx.EconomicCalendar"
    assert payload["dateSpan"] is None  # v1 data has none: the default
    assert {k: v for k, v in payload.items() if k != "dateSpan"} == written["payload"][1]
    assert {k: v for k, v in read.items() if k != "payload"} == {
        k: v for k, v in written.items() if k != "payload"
    }


def _store_with(*schemas: Any) -> SchemaStore:
    """A store holding exactly these versions (plus raw and dead letters, which a Codec needs)."""
    store = SchemaStore()
    keep = {(s.id, s.version) for s in schemas}
    store._versions = {
        sid: {v: s for v, s in versions.items() if (sid, v) in keep or sid.startswith("bridge/")}
        for sid, versions in store._versions.items()
    }
    store._by_fingerprint = {s.fingerprint: s for s in store.all()}
    return store


def test_samples_take_every_union_branch() -> None:
    status = STORE.latest("okx/status").definition
    branches = {sample["payload"][0] for sample in sample_values(status)}
    assert branches == {
        "exchange_bridge.okx.Status",
        "exchange_bridge.SubscriptionEvent",
        "exchange_bridge.SessionMarker",
    }


# --- Avro resolution rules ------------------------------------------------------------------------


def record(*fields: dict[str, Any], name: str = "R") -> dict[str, Any]:
    return {"type": "record", "name": name, "fields": list(fields)}


@pytest.mark.parametrize(
    ("writer", "reader", "ok"),
    [
        ("int", "long", True),
        ("int", "double", True),
        ("long", "int", False),
        ("string", "bytes", True),
        (["null", "string"], ["null", "string", "long"], True),
        (["null", "string", "long"], ["null", "string"], False),
        ("string", ["null", "string"], True),
        (["null", "string"], "string", False),
        (
            {"type": "enum", "name": "E", "symbols": ["A", "B"]},
            {"type": "enum", "name": "E", "symbols": ["A"]},
            False,
        ),
        (
            {"type": "enum", "name": "E", "symbols": ["A", "B"]},
            {"type": "enum", "name": "E", "symbols": ["A"], "default": "A"},
            True,
        ),
        ({"type": "map", "values": "int"}, {"type": "map", "values": "long"}, True),
        ({"type": "array", "items": "long"}, {"type": "array", "items": "int"}, False),
    ],
)
def test_resolution_rules(writer: Any, reader: Any, ok: bool) -> None:
    w = record({"name": "f", "type": writer})
    r = record({"name": "f", "type": reader})
    assert (read_problems(r, w) == []) is ok
    if ok and _kind_of(writer) == "enum":
        # B is read as the reader's default A: resolution works, the value is not kept
        assert data_problems(r, w) == ["sample 1: f: wrote 'B', read 'A'"]
    else:
        assert (data_problems(r, w) == []) is ok


def _kind_of(schema: Any) -> str:
    return (
        schema["type"]
        if isinstance(schema, dict)
        else "union"
        if isinstance(schema, list)
        else schema
    )


def test_a_field_renamed_with_an_alias_still_reads() -> None:
    w = record({"name": "old", "type": "string"})
    r = record({"name": "new", "type": "string", "aliases": ["old"]})
    assert read_problems(r, w) == []
    assert data_problems(r, w) == []


def named(kind: str, name: str, **rest: Any) -> dict[str, Any]:
    return {"type": kind, "name": name, "namespace": "ns", **rest}


def test_a_problem_inside_a_union_branch_names_its_field() -> None:
    a = named("record", "A", fields=[{"name": "a", "type": "string"}])
    w = record(
        {"name": "p", "type": [a, named("record", "B", fields=[{"name": "b", "type": "long"}])]}
    )
    r = record(
        {"name": "p", "type": [a, named("record", "B", fields=[{"name": "b", "type": "int"}])]}
    )
    assert read_problems(r, w) == ["p.b: the writer's long cannot be read as int"]


def test_every_problem_is_named_on_its_own_line() -> None:
    w = record({"name": "a", "type": "int"})
    r = record(
        {"name": "a", "type": "string"}, {"name": "b", "type": "int"}, {"name": "c", "type": "int"}
    )
    assert read_problems(r, w) == [
        "a: the writer's int cannot be read as string",
        "b: new field without a default (data written with the older version does not have it)",
        "c: new field without a default (data written with the older version does not have it)",
    ]


def test_recursive_types_are_checked_and_sampled() -> None:
    w = record({"name": "v", "type": "int"}, {"name": "next", "type": ["null", "R"]})
    r = record({"name": "v", "type": "long"}, {"name": "next", "type": ["null", "R"]})
    assert read_problems(r, w) == [] and data_problems(r, w) == []
    assert read_problems(w, r) == ["v: the writer's long cannot be read as int"]


def test_only_the_round_trips_see_a_union_branch_renamed_with_an_alias() -> None:
    # Avro's rules allow it; the value comes back as another branch than the one written.
    fields = [{"name": "a", "type": "int"}]
    w = record({"name": "x", "type": ["null", named("record", "Old", fields=fields)]})
    new = named("record", "New", fields=fields, aliases=["ns.Old"])
    r = record({"name": "x", "type": ["null", new]})
    assert read_problems(r, w) == []
    assert data_problems(r, w) == ["sample 1: x: branch ns.Old read as ns.New"]


def test_aliases_of_named_types_are_full_names() -> None:
    fields = [{"name": "a", "type": "int"}]
    w = record({"name": "x", "type": named("record", "Old", fields=fields)})
    short = record({"name": "x", "type": named("record", "New", fields=fields, aliases=["Old"])})
    assert read_problems(short, w) == [
        "x: the writer's record ns.Old cannot be read as record ns.New"
    ]


def test_what_is_not_a_schema_is_a_schema_error() -> None:
    with pytest.raises(SchemaError, match="not an Avro schema"):
        read_problems(record({"name": "f", "type": "int"}), {"type": "record", "name": "R"})
