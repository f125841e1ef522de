"""The evolution rules: the repository's schemas follow them, and each kind of breach is caught
(on temporary copies of schemas/)."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import fastavro
import pytest

from bridge.codec import Codec, SchemaStore, decode_single_object, schemas_dir
from bridge.errors import SchemaError
from bridge.exchanges.okx import OkxAdapter
from bridge.frame import ConnectionInfo, Frame
from bridge.schema_tools import (
    LOCK_FILE,
    check_schemas,
    data_problems,
    lock_new_versions,
    read_lock,
    read_problems,
    sample_values,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "okx"
STORE = SchemaStore()
EVOLVED = sorted({s.id for s in STORE.all() if len(STORE.versions(s.id)) > 1})


@pytest.fixture
def schemas(tmp_path: Path) -> Path:
    """A copy of the repository's schemas/ to break."""
    root = tmp_path / "schemas"
    shutil.copytree(schemas_dir(), root)
    return root


def edit(path: Path, change: Any) -> None:
    definition = json.loads(path.read_text())
    change(definition)
    path.write_text(json.dumps(definition, indent=2) + "\n")


def payload_record(definition: dict[str, Any], name: str) -> dict[str, Any]:
    (payload,) = [f for f in definition["fields"] if f["name"] == "payload"]
    (record,) = [b for b in payload["type"] if isinstance(b, dict) and b["name"] == name]
    return record


def new_version(root: Path, schema_id: str, change: Any) -> Path:
    """Add the next version of ``schema_id``: a copy of its latest, changed by ``change``."""
    store = SchemaStore(root)
    latest = store.latest(schema_id)
    target = latest.path.with_name(f"{latest.path.name.split('.v')[0]}.v{latest.version + 1}.avsc")
    shutil.copyfile(latest.path, target)
    edit(target, change)
    return target


# --- the repository ---------------------------------------------------------------------------


def test_the_repository_schemas_follow_every_rule() -> None:
    # Strict: a schema file in the repository is released; add it to the lock in the same
    # change (`bridge schemas lock`), so that nobody can edit it afterwards unnoticed.
    report = check_schemas(schemas_dir(), require_locked=True)
    assert report.errors == []
    assert report.checked_pairs >= 1


def test_at_least_one_topic_has_evolved() -> None:
    assert "okx/economic-calendar" in EVOLVED


def test_every_locked_version_is_in_the_repository() -> None:
    lock = read_lock(schemas_dir())
    assert "okx/economic-calendar.v1" in lock and "okx/economic-calendar.v2" in lock
    assert {f"{s.id}.v{s.version}" for s in STORE.all()} >= lock.keys()


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


# --- breaches -----------------------------------------------------------------------------------


def test_a_type_change_is_refused_structurally_and_by_data(schemas: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        payload_record(d, "EconomicCalendar")["fields"][2]["type"] = ["null", "long"]  # region

    new_version(schemas, "okx/economic-calendar", change)
    report = check_schemas(schemas)
    assert not report.ok
    text = "\n".join(report.errors)
    assert "okx/economic-calendar.v3 reading okx/economic-calendar.v1 data" in text
    assert "okx/economic-calendar.v3 reading okx/economic-calendar.v2 data" in text  # transitive
    assert "payload.region: the writer's string matches no branch of the reader" in text
    assert "does not decode" in text  # and fastavro agrees, with real encoded samples


def test_a_new_field_without_a_default_is_refused(schemas: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["fields"].append({"name": "venue", "type": "string", "doc": "where"})

    new_version(schemas, "okx/status", change)
    errors = check_schemas(schemas).errors
    assert any("venue: new field without a default" in e for e in errors), errors


def test_a_new_field_with_a_default_is_accepted(schemas: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["fields"].append(
            {"name": "venue", "type": ["null", "string"], "default": None, "doc": "where"}
        )

    new_version(schemas, "okx/status", change)
    report = check_schemas(schemas)
    assert report.ok, report.errors
    assert report.new == ["okx/status.v2"] or "okx/status.v2" in report.new


def test_removing_a_union_branch_is_refused(schemas: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        (payload,) = [f for f in d["fields"] if f["name"] == "payload"]
        payload["type"] = payload["type"][:1]  # drops SessionMarker

    new_version(schemas, "okx/events", change)
    errors = check_schemas(schemas).errors
    assert any("SessionMarker matches no branch" in e for e in errors), errors


def test_editing_a_released_file_is_refused(schemas: Path) -> None:
    edit(schemas / "okx" / "status.v1.avsc", lambda d: d.update(doc="reworded"))
    errors = check_schemas(schemas).errors
    assert any("okx/status.v1: status.v1.avsc changed after release" in e for e in errors)


def test_a_released_change_that_alters_the_fingerprint_is_named(schemas: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        payload_record(d, "Status")["fields"][0]["type"] = ["null", "long"]

    edit(schemas / "okx" / "status.v1.avsc", change)
    errors = check_schemas(schemas).errors
    assert any("fingerprint differs from the released one" in e for e in errors)


def test_deleting_a_released_file_is_refused(schemas: Path) -> None:
    (schemas / "okx" / "economic-calendar.v1.avsc").unlink()
    errors = check_schemas(schemas).errors
    assert any("released (in lock.json) but its file is gone" in e for e in errors)
    assert any("versions [2] must be 1..N" in e for e in errors)


def test_renaming_the_record_is_refused(schemas: Path) -> None:
    new_version(schemas, "okx/status", lambda d: d.update(name="MaintenanceRecord"))
    errors = check_schemas(schemas).errors
    assert any("full name changed between versions" in e for e in errors), errors


def test_names_docs_and_namespaces_are_checked(schemas: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["namespace"] = "somebody.else"
        del d["fields"][0]["doc"]

    new_version(schemas, "bridge/raw", change)
    errors = check_schemas(schemas).errors
    assert any("must be in namespace exchange_bridge" in e for e in errors), errors
    assert any("field somebody.else.RawFrame.exchange has no doc" in e for e in errors), errors


def test_unreleased_versions_are_reported_and_can_be_required(schemas: Path) -> None:
    lock = json.loads((schemas / LOCK_FILE).read_text())
    del lock["versions"]["okx/economic-calendar.v2"]
    (schemas / LOCK_FILE).write_text(json.dumps(lock))
    report = check_schemas(schemas)
    assert report.ok and "okx/economic-calendar.v2" in report.new
    strict = check_schemas(schemas, require_locked=True)
    assert any("okx/economic-calendar.v2: not released" in e for e in strict.errors)


def test_lock_releases_new_versions_and_never_rewrites_an_entry(schemas: Path) -> None:
    before = read_lock(schemas)
    new_version(
        schemas,
        "okx/status",
        lambda d: d["fields"].append(
            {"name": "venue", "type": ["null", "string"], "default": None, "doc": "where"}
        ),
    )
    added = lock_new_versions(schemas)
    assert "okx/status.v2" in added
    after = read_lock(schemas)
    assert {k: after[k] for k in before} == before
    assert lock_new_versions(schemas) == []
    assert check_schemas(schemas, require_locked=True).errors == [
        e for e in check_schemas(schemas, require_locked=True).errors if "not released" in e
    ]


def test_lock_refuses_while_the_check_fails(schemas: Path) -> None:
    new_version(
        schemas,
        "okx/status",
        lambda d: d["fields"].append({"name": "x", "type": "int", "doc": "x"}),
    )
    with pytest.raises(SchemaError, match="nothing locked"):
        lock_new_versions(schemas)
    assert "okx/status.v2" not in read_lock(schemas)


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
