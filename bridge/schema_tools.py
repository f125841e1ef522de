"""Schema governance: the evolution rules, the lock of released versions, and ``bridge schemas``.

The rules (docs/SCHEMAS.md explains them to contributors), checked offline by
``bridge schemas check`` and by CI:

1. **Released versions never change.** ``schemas/lock.json`` holds the CRC-64-AVRO fingerprint
   and the SHA-256 of the file of every released version; a locked file that changed or
   disappeared is an error. ``bridge schemas lock`` releases new versions (and never rewrites
   an entry). A version not in the lock yet is new: it must be the highest of its schema.
2. **Backward transitive.** Every version of a schema reads data written with every earlier
   version of it. Proven twice: by Avro's schema resolution rules, decided by the Apache Avro
   project's own checker (:func:`read_problems`, which names the field that breaks them), and
   with real data (:func:`data_problems`: samples that cover every union branch, encoded with
   the old version and decoded with the new one by fastavro's schema resolution). What the
   samples catch that the rules allow is said at :func:`read_problems`' section below.
3. **Names.** Files are ``<group>/<name>.v<N>.avsc`` with versions 1..N without gaps; the
   namespace is ``exchange_bridge.<group>`` (``exchange_bridge`` for ``bridge/``); the
   top-level record keeps its full name across versions and no two schemas share one (the
   RecordNameStrategy subject); every record and field has a ``doc``.

The same structural check guards the registry at start (:func:`register_all`): the bridge
refuses to register a schema that cannot read the subject's latest version.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import avro.errors
import avro.schema
import fastavro
from avro.compatibility import (
    ReaderWriterCompatibilityChecker,
    SchemaCompatibilityResult,
    SchemaCompatibilityType,
    lookup_writer_field,
    schema_name_equals,
)
from avro.schema import (
    ArraySchema,
    EnumSchema,
    FixedSchema,
    MapSchema,
    NamedSchema,
    RecordSchema,
    UnionSchema,
)

from bridge.codec import Codec, Schema, SchemaStore, schema_text
from bridge.errors import IncompatibleSchemaError, RegistryError, SchemaError
from bridge.exchanges import adapter_class
from bridge.registry import (
    RegistryClient,
    SubjectNameStrategy,
    subject_name,
)
from bridge.settings import ConnectionSettings, Settings

LOCK_FILE = "lock.json"
_NAMESPACE_ROOT = "exchange_bridge"


# --- the lock -------------------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def version_key(schema: Schema) -> str:
    return f"{schema.id}.v{schema.version}"


def read_lock(root: Path) -> dict[str, dict[str, str]]:
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


# --- reader/writer compatibility ------------------------------------------------------------

# Whether a reader schema reads data written with a writer schema: Avro schema resolution.
#
# Two checks, which ``bridge schemas check`` runs together over every pair of versions
# (:func:`check_schemas`); the first also guards the registry at start
# (:func:`register_all`):
#
# - :func:`read_problems`, by the rules. The verdict is the Apache Avro project's own checker,
#   ``avro.compatibility.ReaderWriterCompatibilityChecker`` (a port of Java's
#   ``SchemaCompatibility``, the rules schema registries apply). The checker says *whether*, but
#   not clearly *where*: it forgets the path inside unions and keeps its messages and locations
#   in two unpaired sets. So this section only walks down to the smallest part the checker
#   refuses, asking the checker at every step, and names that field in its own words.
# - :func:`data_problems`, by round trips: samples that take every union branch, written with the
#   writer schema and read with the reader schema by fastavro, and compared value by value. They
#   catch what Avro's rules allow but what changes the data a consumer sees, which the checker
#   accepts by design:
#
#   - an enum symbol removed while the reader's enum has a default: data written with the removed
#     symbol reads back as the default (writer ``["A", "B"]``, reader ``["A"]`` with default
#     ``"A"``: ``f: wrote 'B', read 'A'``);
#   - a record inside a union renamed with an alias (writer record ``ns.Old``, reader
#     ``ns.New`` with alias ``ns.Old``): the value reads back as the other branch
#     (``x: branch ns.Old read as ns.New``), and a consumer dispatches on that name (``bridge
#     tail`` prints it as the payload's ``type``).
#
#   Neither check sees a change of logical type (``timestamp-millis`` to ``timestamp-micros``):
#   the checker compares the underlying types, and fastavro applies the writer's logical type.
#   A default of the wrong type (``"default": "abc"`` on an ``int``) is refused before either
#   runs, when the schema store parses the file.
#
# Aliases of named types are compared with the writer's full name: write them in full
# (``exchange_bridge.okx.Status``, not ``Status``).


_SAMPLES: dict[str, Any] = {
    "null": None,
    "boolean": True,
    "int": 1000,
    "long": 1_700_000_000_000,
    "float": 1.5,
    "double": 2.25,
    "string": "text",
    "bytes": b"bytes",
}


def parse(definition: Mapping[str, Any]) -> avro.schema.Schema:
    """``definition`` as the Avro project's schema objects; SchemaError when it is not a schema."""
    try:
        return avro.schema.parse(json.dumps(definition))
    except (avro.errors.AvroException, TypeError, ValueError, KeyError) as exc:
        raise SchemaError(f"not an Avro schema: {exc}") from exc


# --- by the rules ---------------------------------------------------------------------------------


def read_problems(reader: Mapping[str, Any], writer: Mapping[str, Any]) -> list[str]:
    """Why a reader with schema ``reader`` cannot read data written with ``writer``, by Avro's
    schema resolution rules (empty: it can), one line per field that breaks them. Logical
    types do not take part in resolution."""
    return _Explainer().problems(parse(reader), parse(writer), "")


def _describe(schema: avro.schema.Schema) -> str:
    return f"{schema.type} {schema.fullname}" if isinstance(schema, NamedSchema) else schema.type


class _Explainer:
    """Names the parts of a schema pair that the official checker refuses."""

    def __init__(self) -> None:
        # One checker for the whole walk: it memoizes every pair it compared.
        self._checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
        self._records: set[tuple[int, int]] = set()

    def _verdict(self, r: avro.schema.Schema, w: avro.schema.Schema) -> SchemaCompatibilityResult:
        return self._checker.get_compatibility(r, w)

    def problems(self, r: avro.schema.Schema, w: avro.schema.Schema, path: str) -> list[str]:
        verdict = self._verdict(r, w)
        if verdict.compatibility is not SchemaCompatibilityType.incompatible:
            return []
        where = path or "(top level)"
        found: list[str] = []
        if isinstance(w, UnionSchema):
            for branch in w.schemas:
                found += self.problems(r, branch, path)
        elif isinstance(r, UnionSchema):
            # The branch Avro would pick for the writer's type, to say why it does not read it.
            same = [b for b in r.schemas if b.type == w.type and _same_name(b, w)]
            found = self.problems(same[0], w, path) if len(same) == 1 else []
            found = found or [
                f"{where}: the writer's {_describe(w)} matches no branch of the reader"
            ]
        elif isinstance(r, RecordSchema) and isinstance(w, RecordSchema) and _same_name(r, w):
            found = self._record(r, w, path)
        elif isinstance(r, ArraySchema) and isinstance(w, ArraySchema):
            found = self.problems(r.items, w.items, f"{path}[]")
        elif isinstance(r, MapSchema) and isinstance(w, MapSchema):
            found = self.problems(r.values, w.values, f"{path}{{}}")
        else:
            found = _leaf(r, w, where)
        # A safety net: the checker refused something the walk did not name.
        return found or [f"{where}: {'; '.join(sorted(verdict.messages))}"]

    def _record(self, r: RecordSchema, w: RecordSchema, path: str) -> list[str]:
        if (id(r), id(w)) in self._records:  # a recursive type, already being walked
            return []
        self._records.add((id(r), id(w)))
        found: list[str] = []
        for reader_field in r.fields:
            name = reader_field.name
            sub = f"{path}.{name}" if path else name
            source = lookup_writer_field(writer_schema=w, reader_field=reader_field)
            if source is not None:
                found += self.problems(reader_field.type, source.type, sub)
            elif not reader_field.has_default:
                found.append(
                    f"{sub}: new field without a default (data written with the older "
                    "version does not have it)"
                )
        return found


def _same_name(r: avro.schema.Schema, w: avro.schema.Schema) -> bool:
    if isinstance(r, NamedSchema) and isinstance(w, NamedSchema):
        return bool(schema_name_equals(r, w))
    return True


def _leaf(r: avro.schema.Schema, w: avro.schema.Schema, where: str) -> list[str]:
    """Why the checker refuses a pair that is neither a union nor a container, in words that
    name the types."""
    if r.type != w.type or not _same_name(r, w):
        return [f"{where}: the writer's {_describe(w)} cannot be read as {_describe(r)}"]
    if isinstance(r, EnumSchema) and isinstance(w, EnumSchema):
        missing = [s for s in w.symbols if s not in r.symbols]
        return [f"{where}: enum symbols {missing} removed without an enum default"]
    if isinstance(r, FixedSchema) and isinstance(w, FixedSchema):
        return [f"{where}: fixed size {w.size} cannot be read as {r.size}"]
    return []


# --- by round trips -------------------------------------------------------------------------------


def sample_values(definition: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Values of ``definition`` that, together, take every branch of every union, nested ones
    included: a union's samples are those of each of its branches; a record's j-th sample takes
    the j-th sample of each field (cycling), so there are as many as its richest field has."""
    return [v for v in _samples(parse(definition), frozenset()) if isinstance(v, dict)]


def _samples(schema: avro.schema.Schema, seen: frozenset[str]) -> list[Any]:
    if isinstance(schema, UnionSchema):
        out: list[Any] = []
        for branch in schema.schemas:
            values = _samples(branch, seen)
            # Named branches as (name, value): fastavro then writes exactly that branch.
            named = isinstance(branch, NamedSchema)
            out.extend((branch.fullname, v) if named else v for v in values)
        return out
    if isinstance(schema, RecordSchema):
        if schema.fullname in seen:
            return []  # a recursive type: no finite sample through this branch
        inner = seen | {schema.fullname}
        fields = [(f.name, _samples(f.type, inner)) for f in schema.fields]
        if any(not values for _, values in fields):
            return []
        count = max([1, *(len(values) for _, values in fields)])
        return [{name: values[j % len(values)] for name, values in fields} for j in range(count)]
    if isinstance(schema, ArraySchema):
        return [[v] for v in _samples(schema.items, seen)] or [[]]
    if isinstance(schema, MapSchema):
        return [{f"key-{j}": v} for j, v in enumerate(_samples(schema.values, seen))] or [{}]
    if isinstance(schema, EnumSchema):
        return list(schema.symbols)
    if isinstance(schema, FixedSchema):
        return [bytes([7]) * int(schema.size)]
    if schema.type in _SAMPLES:
        return [_SAMPLES[schema.type]]
    raise SchemaError(f"cannot make a sample of {schema.type}")


def data_problems(reader: Mapping[str, Any], writer: Mapping[str, Any]) -> list[str]:
    """Encode samples with ``writer``, decode them with ``reader`` (fastavro's resolution), and
    compare every value both versions name. Empty when every sample reads back."""
    w_parsed = fastavro.parse_schema(dict(writer))
    r_parsed = fastavro.parse_schema(dict(reader))
    problems: list[str] = []
    for k, sample in enumerate(sample_values(writer)):
        out = io.BytesIO()
        fastavro.schemaless_writer(out, w_parsed, sample)
        body = out.getvalue()
        expected = fastavro.schemaless_reader(
            io.BytesIO(body), w_parsed, None, return_record_name=True
        )
        try:
            actual = fastavro.schemaless_reader(
                io.BytesIO(body), w_parsed, r_parsed, return_record_name=True
            )
        except Exception as exc:  # noqa: BLE001 - any failure to read is the finding
            problems.append(f"sample {k}: does not decode: {type(exc).__name__}: {exc}")
            continue
        for difference in _differences(expected, actual, ""):
            problems.append(f"sample {k}: {difference}")
    return problems


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _differences(expected: Any, actual: Any, path: str) -> Iterator[str]:
    where = path or "(top level)"
    if isinstance(expected, tuple) and isinstance(actual, tuple):
        if _short(expected[0]) != _short(actual[0]):
            yield f"{where}: branch {expected[0]} read as {actual[0]}"
        else:
            yield from _differences(expected[1], actual[1], path)
    elif isinstance(expected, dict) and isinstance(actual, dict):
        for name in expected.keys() & actual.keys():
            yield from _differences(expected[name], actual[name], f"{path}.{name}".lstrip("."))
    elif isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            yield from _differences(e, a, f"{path}[{i}]")
    elif expected != actual and not _promoted(expected, actual):
        yield f"{where}: wrote {expected!r}, read {actual!r}"


def _promoted(expected: Any, actual: Any) -> bool:
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return float(expected) == float(actual)
    if isinstance(expected, bytes | str) and isinstance(actual, bytes | str):
        as_bytes = [v.encode() if isinstance(v, str) else v for v in (expected, actual)]
        return as_bytes[0] == as_bytes[1]
    return False


# --- the whole check ----------------------------------------------------------------------------


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
        if schema.fingerprint.hex() != entry.get("fingerprint"):
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
                "fingerprint": schema.fingerprint.hex(),
                "sha256": file_sha256(schema.path),
            }
            added.append(key)
    if added:
        write_lock(root, lock)
    return sorted(added)


# --- what a configuration writes ------------------------------------------------------------------


def written_topics(
    connections: Iterable[ConnectionSettings], codec: Codec, *, raw_topics: bool = True
) -> dict[str, Schema]:
    """Topic (before the prefix) → the schema version the bridge writes there, for every topic
    the given connections can write: their channels, ``<exchange>.events``, ``<exchange>.raw``
    and the dead-letter topic."""
    store = codec.store
    topics: dict[str, Schema] = {codec.deadletter_topic: store.latest("bridge/deadletter")}
    for conn in connections:
        cls = adapter_class(conn.exchange)
        for destination in cls(conn.subscriptions, conn.adapter_credentials()).destinations():
            topics[destination.topic] = store.latest(destination.schema)
        events = codec.events_destination(cls.topic_prefix)
        topics[events.topic] = store.latest(events.schema)
        if raw_topics:
            topics[f"{cls.topic_prefix}.raw"] = store.latest("bridge/raw")
    return dict(sorted(topics.items()))


async def register_all(
    client: RegistryClient,
    topics: Mapping[str, Schema],
    *,
    topic_prefix: str,
    strategy: SubjectNameStrategy,
    check_compatibility: bool = True,
    auto_register: bool = True,
) -> dict[tuple[str, bytes], int]:
    """Register (or look up) the value schema of every topic; returns the ids for
    :class:`~bridge.codec.ConfluentEncoder`. A schema that cannot read its subject's latest
    version, or that the registry's compatibility rule refuses, raises
    :class:`~bridge.registry.IncompatibleSchemaError` naming the subject and why."""
    ids: dict[tuple[str, bytes], int] = {}
    for topic, schema in topics.items():
        subject = subject_name(strategy, topic_prefix + topic, schema.full_name)
        text = schema_text(schema)
        found = await client.lookup(subject, text)
        if found is not None:
            ids[(topic, schema.fingerprint)] = found.id
            continue
        if check_compatibility:
            await _refuse_incompatible(client, subject, schema, text)
        if not auto_register:
            raise RegistryError(
                f"subject {subject!r} does not have {version_key(schema)} and "
                "schema_registry.auto_register is false: register it first "
                "(`bridge schemas register`)"
            )
        ids[(topic, schema.fingerprint)] = await client.register(subject, text)
    return ids


async def _refuse_incompatible(
    client: RegistryClient, subject: str, schema: Schema, text: str
) -> None:
    latest = await client.latest(subject)
    if latest is None:
        return
    try:
        problems = read_problems(schema.definition, json.loads(latest.schema))
    except (ValueError, SchemaError) as exc:
        problems = [f"the registered schema cannot be compared: {exc}"]
    verdict = await client.check_compatibility(subject, text)
    if verdict.compatible and not problems:
        return
    reasons = problems + [f"registry: {m}" for m in verdict.messages]
    if not reasons:
        reasons = ["the registry's compatibility rule refuses it"]
    raise IncompatibleSchemaError(
        f"subject {subject!r}: {version_key(schema)} cannot read data written with the "
        f"subject's latest version {latest.version} (id {latest.id}):\n  "
        + "\n  ".join(reasons)
        + "\nFix the schema (docs/SCHEMAS.md), or set schema_registry.check_compatibility: "
        "false to register it anyway (consumers of the subject may break)."
    )


# --- bridge schemas ------------------------------------------------------------------------------


def add_arguments(schemas: argparse.ArgumentParser) -> None:
    """The ``bridge schemas`` subcommands (cli.py builds the parser)."""
    actions = schemas.add_subparsers(dest="action", required=True, metavar="ACTION")

    def config_option(parser: argparse.ArgumentParser, what: str) -> None:
        parser.add_argument(
            "--config",
            "-c",
            metavar="FILE",
            help=f"bridge configuration: {what} (BRIDGE_* environment variables apply)",
        )

    listing = actions.add_parser(
        "list", help="topic, subject, version and fingerprint of every schema"
    )
    config_option(listing, "list the topics its connections write, with their subjects")
    show = actions.add_parser("show", help="print a schema (latest version unless --version)")
    show.add_argument(
        "name", metavar="TOPIC", help="a topic (okx.status) or schema id (okx/status)"
    )
    show.add_argument("--version", type=int, help="a version number (default: the latest)")
    config_option(show, "resolve topics its connections write")
    check = actions.add_parser("check", help="check the evolution rules (offline)")
    check.add_argument("--schemas", type=Path, help="schemas folder (default: the bridge's)")
    check.add_argument(
        "--require-locked", action="store_true", help="also fail on versions not released yet"
    )
    lock = actions.add_parser("lock", help="release new versions: add them to schemas/lock.json")
    lock.add_argument("--schemas", type=Path, help="schemas folder (default: the bridge's)")
    register = actions.add_parser(
        "register", help="register every topic's value schema with the configured registry"
    )
    config_option(register, "its schema_registry and connections")
    register.add_argument("--registry-url", help="overrides schema_registry.url")
    export = actions.add_parser("export", help="write every schema version for consumers")
    export.add_argument("directory", type=Path, metavar="DIR")


def run(args: argparse.Namespace) -> int:
    """``bridge schemas ACTION``; returns the exit code (1: the check found problems)."""
    match args.action:
        case "list":
            print(_format_list(_settings(args.config)))
        case "show":
            print(show_schema(args.name, args.version, _settings(args.config)))
        case "check":
            report = check_schemas(
                args.schemas or _store_root(), require_locked=args.require_locked
            )
            for key in report.new:
                print(f"new (not released yet): {key}")
            for error in report.errors:
                print(f"error: {error}")
            print(
                f"{'ok' if report.ok else 'FAILED'}: {report.checked_pairs} version pair(s) "
                f"checked, {len(report.errors)} problem(s)"
            )
            return 0 if report.ok else 1
        case "lock":
            added = lock_new_versions(args.schemas or _store_root())
            print("\n".join(f"released {k}" for k in added) or "nothing new to release")
        case "register":
            settings = _settings(args.config)
            if args.registry_url:
                registry = settings.schema_registry.model_copy(update={"url": args.registry_url})
                settings = settings.model_copy(update={"schema_registry": registry})
            for line in asyncio.run(_register(settings)):
                print(line)
        case "export":
            for line in export_schemas(args.directory):
                print(line)
    return 0


def _store_root() -> Path:
    return SchemaStore().root


def _settings(config: str | None) -> Settings:
    from bridge.settings import load_settings

    return load_settings(config)


def _format_list(settings: Settings) -> str:
    """Rows per topic the configured connections write; schemas no connection uses get one row
    with ``-`` for the topic (its topic names come from the adapter's configuration)."""
    codec = Codec(deadletter_topic=settings.publisher.deadletter_topic)
    registry = settings.schema_registry
    prefix = settings.kafka.topic_prefix
    topics = written_topics(settings.connections, codec, raw_topics=settings.publisher.raw_topics)
    rows = [("TOPIC", "SUBJECT", "SCHEMA", "FINGERPRINT")]
    used = set()
    for topic, schema in topics.items():
        used.add(version_key(schema))
        subject = subject_name(registry.subject_name_strategy, prefix + topic, schema.full_name)
        rows.append((prefix + topic, subject, version_key(schema), schema.fingerprint.hex()))
    for schema in sorted(codec.store.all(), key=version_key):
        if version_key(schema) not in used:
            strategy = registry.subject_name_strategy
            subject = schema.full_name if strategy == "record" else "-"
            rows.append(("-", subject, version_key(schema), schema.fingerprint.hex()))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        "  ".join([*(c.ljust(w) for c, w in zip(r[:3], widths, strict=True)), r[3]]) for r in rows
    )


def show_schema(name: str, version: int | None, settings: Settings | None = None) -> str:
    """A schema as pretty JSON, with a header line naming it. ``name`` is a schema id, a topic
    the configuration writes, or a topic whose name is its schema id with dots."""
    store = SchemaStore()
    schema_id = name
    if settings is not None and schema_id not in {s.id for s in store.all()}:
        codec = Codec(store, deadletter_topic=settings.publisher.deadletter_topic)
        prefix = settings.kafka.topic_prefix
        topics = written_topics(settings.connections, codec)
        for topic, schema in topics.items():
            if name in (topic, prefix + topic):
                schema_id = schema.id
    if not store.versions(schema_id):
        schema_id = name.replace(".", "/", 1)
    versions = store.versions(schema_id)
    if not versions:
        raise SchemaError(f"no schema for {name!r} (try `bridge schemas list`)")
    chosen = (
        versions[-1]
        if version is None
        else next((s for s in versions if s.version == version), None)
    )
    if chosen is None:
        raise SchemaError(
            f"{schema_id} has versions {[s.version for s in versions]}, not {version}"
        )
    header = (
        f"// {version_key(chosen)}  {chosen.full_name}  fingerprint {chosen.fingerprint.hex()}  "
        f"(versions: {', '.join(str(s.version) for s in versions)})"
    )
    return header + "\n" + json.dumps(chosen.definition, indent=2, ensure_ascii=False)


async def _register(settings: Settings) -> list[str]:
    registry = settings.schema_registry
    if registry.url is None:
        raise RegistryError("no registry: set schema_registry.url or pass --registry-url")
    codec = Codec(deadletter_topic=settings.publisher.deadletter_topic)
    topics = written_topics(settings.connections, codec, raw_topics=settings.publisher.raw_topics)
    client = RegistryClient.from_settings(registry)
    ids = await register_all(
        client,
        topics,
        topic_prefix=settings.kafka.topic_prefix,
        strategy=registry.subject_name_strategy,
        check_compatibility=registry.check_compatibility,
    )
    prefix = settings.kafka.topic_prefix
    lines = []
    for topic, schema in topics.items():
        subject = subject_name(registry.subject_name_strategy, prefix + topic, schema.full_name)
        lines.append(f"{subject}  {version_key(schema)}  id {ids[(topic, schema.fingerprint)]}")
    return lines


def export_schemas(directory: Path) -> list[str]:
    """Copy every schema version (``<group>/<name>.v<N>.avsc``, exactly as released) into
    ``directory`` with an ``index.json``: fingerprint, full name and file of each, so a
    consumer can map a single-object fingerprint to its schema without the bridge."""
    store = SchemaStore()
    index = []
    for schema in sorted(store.all(), key=version_key):
        target = directory / schema.path.parent.name / schema.path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(schema.path, target)
        index.append(
            {
                "schema": schema.id,
                "version": schema.version,
                "full_name": schema.full_name,
                "fingerprint": schema.fingerprint.hex(),
                "file": f"{schema.path.parent.name}/{schema.path.name}",
            }
        )
    (directory / "index.json").write_text(json.dumps(index, indent=2) + "\n", "utf-8")
    return [f"wrote {len(index)} schema version(s) and index.json to {directory}"]
