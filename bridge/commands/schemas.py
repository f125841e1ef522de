"""``bridge schemas list|show|check|lock|register|export``: the value schemas under
``schemas/`` and their evolution rules (docs/SCHEMAS.md)."""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
from pathlib import Path

from bridge.avro.evolution import check_schemas, lock_new_versions
from bridge.avro.records import Codec
from bridge.avro.registration import register_all, written_topics
from bridge.avro.registry import RegistryClient, subject_name
from bridge.avro.store import SchemaStore, version_key
from bridge.errors import RegistryError, SchemaError
from bridge.settings import Settings, load_settings
from bridge.topics import with_prefix


def run(args: argparse.Namespace) -> int:
    """``bridge schemas ACTION``; returns the exit code (1: the check found problems)."""
    match args.action:
        case "list":
            print(_format_list(load_settings(args.config)))
        case "show":
            print(show_schema(args.name, args.version, load_settings(args.config)))
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
            settings = load_settings(args.config)
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
        subject = subject_name(
            registry.subject_name_strategy, with_prefix(prefix, topic), schema.full_name
        )
        rows.append(
            (with_prefix(prefix, topic), subject, version_key(schema), schema.fingerprint.hex())
        )
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
            if name in (topic, with_prefix(prefix, topic)):
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
        subject = subject_name(
            registry.subject_name_strategy, with_prefix(prefix, topic), schema.full_name
        )
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
