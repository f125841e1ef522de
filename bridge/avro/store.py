"""The schema files: one value schema per topic, versioned files under ``schemas/``, parsed once.

Schema files are named ``schemas/<group>/<name>.v<N>.avsc``; the schema id ``<group>/<name>``
(e.g. ``okx/status``) resolves to its highest version.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from bridge.errors import SchemaError

_FILE_NAME = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_-]*)\.v(?P<version>[1-9][0-9]*)\.avsc$")


def schemas_dir() -> Path:
    """The ``schemas/`` folder: inside the installed package, or at the top of a checkout."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "schemas", package.parent / "schemas"):
        if candidate.is_dir():
            return candidate
    raise SchemaError(f"no schemas folder found next to {package}")


@dataclass(frozen=True)
class Schema:
    id: str
    """``<group>/<name>``, e.g. ``okx/status``."""
    version: int
    path: Path
    definition: Mapping[str, Any]

    @cached_property
    def parsed(self) -> Any:
        return fastavro.parse_schema(dict(self.definition))

    @cached_property
    def full_name(self) -> str:
        ns = self.definition.get("namespace")
        name = str(self.definition["name"])
        return name if "." in name or not ns else f"{ns}.{name}"

    @cached_property
    def fingerprint(self) -> bytes:
        """CRC-64-AVRO of the parsing canonical form as the 8 bytes single-object encoding
        writes: little-endian (fastavro already returns them in that order). Text shows the
        number instead: :attr:`fingerprint_text`."""
        return bytes.fromhex(fingerprint(to_parsing_canonical_form(self.parsed), "CRC-64-AVRO"))

    @cached_property
    def fingerprint_text(self) -> str:
        """The fingerprint as text: see :func:`fingerprint_text`."""
        return fingerprint_text(self.fingerprint)

    @cached_property
    def headers(self) -> list[tuple[str, bytes]]:
        return [
            ("bridge.schema.id", self.id.encode()),
            ("bridge.schema.name", self.full_name.encode()),
            ("bridge.schema.version", str(self.version).encode()),
            ("bridge.schema.fingerprint", self.fingerprint_text.encode()),
        ]


def fingerprint_text(wire_bytes: bytes) -> str:
    """A fingerprint as text, wherever the bridge shows one (headers, ``schemas/lock.json``,
    ``bridge schemas``, the export index, the keys of ``bridge.schemas``): the 64-bit number
    as 16 lower-case hex digits, most significant first, as Avro's own tools print it (Java's
    ``SchemaNormalization.parsingFingerprint64(schema)`` as ``%016x``). The bytes on the
    wire are the same number little-endian, as the specification of single-object encoding
    says: ``1a40285d9b4484f9`` is written ``f9 84 44 9b 5d 28 40 1a``."""
    if len(wire_bytes) != 8:
        raise SchemaError(f"a CRC-64-AVRO fingerprint has 8 bytes, not {len(wire_bytes)}")
    return wire_bytes[::-1].hex()


def fingerprint_bytes(text: str) -> bytes:
    """The wire bytes (little-endian) of a fingerprint written as text
    (:func:`fingerprint_text`). Raises ValueError unless ``text`` is 16 hex digits."""
    if len(text) != 16:
        raise ValueError(f"a fingerprint is 16 hex digits, not {text[:40]!r}")
    return bytes.fromhex(text)[::-1]


def version_key(schema: Schema) -> str:
    """``<id>.v<version>``, e.g. ``okx/status.v1``: how the lock, the checks and the tools name
    one version."""
    return f"{schema.id}.v{schema.version}"


def schema_text(schema: Schema) -> str:
    """The schema as compact JSON, docs and logical types included: the text registered with a
    registry and published to ``bridge.schemas`` (the parsing canonical form would drop the
    logical types consumers need). Always the same text for the same file."""
    return json.dumps(schema.definition, separators=(",", ":"), ensure_ascii=False)


class SchemaStore:
    """Every schema version under one folder, loaded and parsed once."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or schemas_dir()
        self._versions: dict[str, dict[int, Schema]] = {}
        for path in sorted(self.root.glob("*/*.avsc")):
            match = _FILE_NAME.match(path.name)
            if not match:
                raise SchemaError(f"{path}: schema files are named <name>.v<N>.avsc")
            schema_id = f"{path.parent.name}/{match['name']}"
            try:
                definition = json.loads(path.read_text(encoding="utf-8"))
                schema = Schema(schema_id, int(match["version"]), path, definition)
                schema.parsed  # noqa: B018 - parse now so a broken file fails at start
            except (ValueError, fastavro.schema.SchemaParseException) as exc:
                raise SchemaError(f"{path}: {exc}") from exc
            self._versions.setdefault(schema_id, {})[schema.version] = schema
        self._by_fingerprint = {s.fingerprint: s for s in self.all()}

    def latest(self, schema_id: str) -> Schema:
        try:
            versions = self._versions[schema_id]
        except KeyError:
            raise SchemaError(f"no schema {schema_id!r} under {self.root}") from None
        return versions[max(versions)]

    def versions(self, schema_id: str) -> list[Schema]:
        return [self._versions[schema_id][v] for v in sorted(self._versions.get(schema_id, {}))]

    def all(self) -> Iterator[Schema]:
        for versions in self._versions.values():
            yield from versions.values()

    def by_fingerprint(self, fp: bytes) -> Schema | None:
        return self._by_fingerprint.get(fp)
