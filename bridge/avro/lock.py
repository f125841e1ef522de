"""``schemas/lock.json``: the released schema versions, which never change.

One entry per released version (``<id>.v<N>``): the CRC-64-AVRO fingerprint of the schema (as
text: the number, as Avro's tools print it; :func:`bridge.avro.store.fingerprint_text`) and
the SHA-256 of its file. ``bridge schemas check`` compares the files with it
(:mod:`bridge.avro.evolution`); ``bridge schemas lock`` adds new versions and never rewrites an
entry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from bridge.errors import SchemaError

LOCK_FILE = "lock.json"


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_lock(root: Path) -> dict[str, dict[str, str]]:
    """The entries of ``root/lock.json`` by ``<id>.v<N>``; empty when there is no lock yet."""
    path = root / LOCK_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text("utf-8"))
        versions = data["versions"]
    except (ValueError, KeyError, TypeError) as exc:
        raise SchemaError(f"{path}: not a schema lock ({exc})") from None
    return {str(k): dict(v) for k, v in versions.items()}


def write_lock(root: Path, versions: Mapping[str, Mapping[str, str]]) -> None:
    document = {
        "comment": "Released schema versions: never edit or delete an entry. Add new versions "
        "with `bridge schemas lock` once `bridge schemas check` passes (docs/SCHEMAS.md).",
        "versions": {k: dict(versions[k]) for k in sorted(versions)},
    }
    (root / LOCK_FILE).write_text(json.dumps(document, indent=2) + "\n", "utf-8")
