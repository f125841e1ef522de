"""schemas/lock.json: released versions never change, and ``lock`` only adds (on temporary
copies of schemas/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bridge.avro.evolution import check_schemas, lock_new_versions
from bridge.avro.lock import LOCK_FILE, read_lock
from bridge.errors import SchemaError
from tests.unit.avro.schema_copies import edit, new_version, payload_record


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
