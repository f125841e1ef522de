"""The evolution rules: the repository's schemas follow them, and each kind of breach is caught
(on temporary copies of schemas/). The lock's own rules: test_lock.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge.avro.evolution import check_schemas
from bridge.avro.lock import read_lock
from bridge.avro.store import SchemaStore, schemas_dir
from tests.unit.avro.schema_copies import new_version, payload_record

STORE = SchemaStore()
EVOLVED = sorted({s.id for s in STORE.all() if len(STORE.versions(s.id)) > 1})


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
