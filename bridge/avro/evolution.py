"""The schema evolution rules, checked offline by ``bridge schemas check`` and by CI
(docs/SCHEMAS.md explains them to contributors):

1. **Released versions never change.** ``schemas/lock.json`` holds the CRC-64-AVRO fingerprint
   and the SHA-256 of the file of every released version (:mod:`bridge.avro.lock`); a locked
   file that changed or disappeared is an error. ``bridge schemas lock`` releases new versions
   (and never rewrites an entry). A version not in the lock yet is new: it must be the highest
   of its schema.
2. **Backward transitive.** Every version of a schema reads data written with every earlier
   version of it. Proven twice (:mod:`bridge.avro.compat`): by Avro's schema resolution rules,
   so a rule is named when it breaks, and with real data (samples that cover every union
   branch, encoded with the old version and decoded with the new one by fastavro's schema
   resolution).
3. **Names.** Files are ``<group>/<name>.v<N>.avsc`` with versions 1..N without gaps; the
   namespace is ``exchange_bridge.<group>`` (``exchange_bridge`` for ``bridge/``); the
   top-level record keeps its full name across versions and no two schemas share one (the
   RecordNameStrategy subject); every record and field has a ``doc``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.avro.compat import data_problems, read_problems
from bridge.avro.lock import LOCK_FILE, file_sha256, read_lock, write_lock
from bridge.avro.store import SchemaStore, version_key
from bridge.errors import SchemaError

_NAMESPACE_ROOT = "exchange_bridge"


@dataclass
class CheckReport:
    errors: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    """Versions not in the lock yet (released by ``bridge schemas lock``)."""
    checked_pairs: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


def check_schemas(root: Path, *, require_locked: bool = False) -> CheckReport:
    """Every rule of the module docstring over the schemas under ``root``."""
    report = CheckReport()
    try:
        store = SchemaStore(root)
        lock = read_lock(root)
    except SchemaError as exc:
        report.errors.append(str(exc))
        return report
    by_key = {version_key(s): s for s in store.all()}

    # 1. the lock
    for key, entry in sorted(lock.items()):
        schema = by_key.get(key)
        if schema is None:
            report.errors.append(f"{key}: released (in {LOCK_FILE}) but its file is gone")
            continue
        if file_sha256(schema.path) != entry.get("sha256"):
            report.errors.append(
                f"{key}: {schema.path.name} changed after release (released files never "
                "change: add a new version instead)"
            )
        if schema.fingerprint_text != entry.get("fingerprint"):
            report.errors.append(f"{key}: fingerprint differs from the released one")
    for key in sorted(by_key.keys() - lock.keys()):
        schema = by_key[key]
        report.new.append(key)
        if require_locked:
            report.errors.append(f"{key}: not released: run `bridge schemas lock`")
        locked = [s.version for s in store.versions(schema.id) if version_key(s) in lock]
        if locked and schema.version < max(locked):
            report.errors.append(
                f"{key}: new, but v{max(locked)} is already released: a new version must be "
                "the highest"
            )

    # 3. names (before 2: resolution by name needs them right)
    full_names: dict[str, str] = {}
    for schema_id in sorted({s.id for s in store.all()}):
        versions = store.versions(schema_id)
        numbers = [s.version for s in versions]
        if numbers != list(range(1, len(numbers) + 1)):
            report.errors.append(f"{schema_id}: versions {numbers} must be 1..N without gaps")
        group = schema_id.split("/", 1)[0]
        namespace = _NAMESPACE_ROOT if group == "bridge" else f"{_NAMESPACE_ROOT}.{group}"
        for schema in versions:
            key = version_key(schema)
            if schema.definition.get("type") != "record":
                report.errors.append(f"{key}: a topic's value schema must be a record")
                continue
            if schema.full_name.rpartition(".")[0] != namespace:
                report.errors.append(
                    f"{key}: full name {schema.full_name} must be in namespace {namespace}"
                )
            for missing in _missing_docs(schema.definition, schema.full_name):
                report.errors.append(f"{key}: {missing} has no doc")
        names = {s.full_name for s in versions}
        if len(names) > 1:
            report.errors.append(
                f"{schema_id}: the record's full name changed between versions {sorted(names)} "
                "(it is the RecordNameStrategy subject and how Avro matches records)"
            )
        for name in names:
            other = full_names.setdefault(name, schema_id)
            if other != schema_id:
                report.errors.append(f"{schema_id}: full name {name} is already {other}'s")

    # 2. backward transitive
    for schema_id in sorted({s.id for s in store.all()}):
        versions = store.versions(schema_id)
        for i, newer in enumerate(versions):
            for older in versions[:i]:
                report.checked_pairs += 1
                what = f"{version_key(newer)} reading {version_key(older)} data"
                for problem in read_problems(newer.definition, older.definition):
                    report.errors.append(f"{what}: {problem}")
                for problem in data_problems(newer.definition, older.definition):
                    report.errors.append(f"{what}: {problem}")
    return report


def _missing_docs(schema: Any, path: str) -> Iterator[str]:
    if isinstance(schema, list):
        for branch in schema:
            yield from _missing_docs(branch, path)
    elif isinstance(schema, dict):
        kind = schema.get("type")
        if kind == "record":
            if not schema.get("doc"):
                yield f"record {schema['name']}"
            for f in schema["fields"]:
                if not f.get("doc"):
                    yield f"field {path}.{f['name']}"
                yield from _missing_docs(f["type"], f"{path}.{f['name']}")
        elif kind == "array":
            yield from _missing_docs(schema["items"], path)
        elif kind == "map":
            yield from _missing_docs(schema["values"], path)
        elif isinstance(kind, dict | list):
            yield from _missing_docs(kind, path)


def lock_new_versions(root: Path) -> list[str]:
    """Add the versions that are not in the lock yet (after a passing check). Existing entries
    are never rewritten. Returns the keys added."""
    report = check_schemas(root)
    if not report.ok:
        raise SchemaError(
            "bridge schemas check fails; nothing locked:\n  " + "\n  ".join(report.errors)
        )
    lock = read_lock(root)
    store = SchemaStore(root)
    added = []
    for schema in store.all():
        key = version_key(schema)
        if key not in lock:
            lock[key] = {
                "fingerprint": schema.fingerprint_text,
                "sha256": file_sha256(schema.path),
            }
            added.append(key)
    if added:
        write_lock(root, lock)
    return sorted(added)
