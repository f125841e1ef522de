"""Temporary copies of the repository's schemas/ to break, and edits to make to them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from bridge.avro.store import SchemaStore, schemas_dir


def copy_schemas(tmp_path: Path) -> Path:
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
