"""``bridge schemas list|show|check|lock|register|export``: the value schemas under
``schemas/`` and their evolution rules (docs/SCHEMAS.md)."""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
from pathlib import Path

from bridge.avro.contract import contract_topics, family_of
from bridge.avro.evolution import check_schemas, lock_new_versions
from bridge.avro.records import Codec
from bridge.avro.registration import register_all, written_topics
from bridge.avro.registry import RegistryClient, subject_name
from bridge.avro.store import Schema, SchemaStore, version_key
from bridge.errors import RegistryError, SchemaError
from bridge.settings import Settings, load_settings
from bridge.topics import TopicFamily, with_prefix


def run(args: argparse.Namespace) -> int:
    """``bridge schemas ACTION``; returns the exit code (1: the check found problems)."""
    match args.action:
        case "list":
            print(_format_list(load_settings(args.config), configured=bool(args.config)))
        case "show":
            settings = load_settings(args.config)
            print(show_schema(args.name, args.version, settings, configured=bool(args.config)))
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
            for line in export_schemas(args.directory, latest=args.latest):
                print(line)
    return 0


def _store_root() -> Path:
    return SchemaStore().root


def _format_list(settings: Settings, *, configured: bool) -> str:
    """One row per topic: with a configuration, the topics its connections write (names on
    the broker); without one, every topic of the contract (``okx.<channel>`` stands for any
    OKX channel without a typed schema). The SUBJECT column only with a registry."""
    registry = settings.schema_registry
    prefix = settings.kafka.topic_prefix
    store = SchemaStore()
    rows: list[tuple[str, Schema | None]] = []
    if configured:
        codec = Codec(store, deadletter_topic=settings.publisher.deadletter_topic)
        written = written_topics(
            settings.connections,
            codec,
            raw_topics=settings.publisher.raw_topics,
            normalized=settings.normalized_connections,
        )
        rows = [(topic, schema) for topic, schema in written.items()]
        if registry.url is None:
            rows.append((registry.schemas_topic, None))
    else:
        for family in _contract(settings):
            schema = None if family.schema is None else store.latest(family.schema)
            rows.append((family.name, schema))
    header = ["TOPIC", *(["SUBJECT"] if registry.url else []), "SCHEMA", "FINGERPRINT"]
    table = [header]
    for topic, schema in rows:
        name = with_prefix(prefix, topic)
        subject = (
            [subject_name(registry.subject_name_strategy, name, schema.full_name)]
            if registry.url and schema is not None
            else ["-"]
            if registry.url
            else []
        )
        described = (
            [version_key(schema), schema.fingerprint_text]
            if schema is not None
            else ["-", "- (values: the JSON text of the schema whose fingerprint is the key)"]
        )
        table.append([name, *subject, *described])
    widths = [max(len(r[i]) for r in table) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join([*(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)), r[-1]])
        for r in table
    )


def _contract(settings: Settings) -> list[TopicFamily]:
    registry = settings.schema_registry
    return contract_topics(
        deadletter_topic=settings.publisher.deadletter_topic,
        schemas_topic=None if registry.url else registry.schemas_topic,
        raw_topics=settings.publisher.raw_topics,
    )


def show_schema(
    name: str, version: int | None, settings: Settings | None = None, *, configured: bool = False
) -> str:
    """A schema as pretty JSON, with a header line naming it. ``name`` is a schema id
    (``okx/status``) or a topic, with or without the Kafka prefix: one the configuration
    writes (``configured``), else any topic of the contract (``okx.tickers``)."""
    settings = settings or Settings()
    store = SchemaStore()
    schema_id = name if store.versions(name) else _schema_of_topic(name, settings, configured)
    versions = store.versions(schema_id)
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
        f"// {version_key(chosen)}  {chosen.full_name}  fingerprint {chosen.fingerprint_text}  "
        f"(versions: {', '.join(str(s.version) for s in versions)})"
    )
    return header + "\n" + json.dumps(chosen.definition, indent=2, ensure_ascii=False)


def _schema_of_topic(name: str, settings: Settings, configured: bool) -> str:
    topic = name.removeprefix(settings.kafka.topic_prefix)
    if configured:
        codec = Codec(deadletter_topic=settings.publisher.deadletter_topic)
        written = written_topics(
            settings.connections, codec, normalized=settings.normalized_connections
        )
        if topic in written:
            return written[topic].id
    family = family_of(_contract(settings), topic)
    if family is None:
        raise SchemaError(f"no schema for {name!r} (try `bridge schemas list`)")
    if family.schema is None:
        raise SchemaError(
            f"{name}: its values are not Avro: each is the JSON text of the schema whose "
            "fingerprint is its key (docs/SCHEMAS.md)"
        )
    return family.schema


async def _register(settings: Settings) -> list[str]:
    registry = settings.schema_registry
    if registry.url is None:
        raise RegistryError("no registry: set schema_registry.url or pass --registry-url")
    codec = Codec(deadletter_topic=settings.publisher.deadletter_topic)
    topics = written_topics(
        settings.connections,
        codec,
        raw_topics=settings.publisher.raw_topics,
        normalized=settings.normalized_connections,
    )
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


def export_schemas(directory: Path, *, latest: bool = False) -> list[str]:
    """Copy every schema version (``<group>/<name>.v<N>.avsc``, exactly as released) into
    ``directory`` with an ``index.json``: fingerprint, full name and file of each, so a
    consumer can map a single-object fingerprint to its schema without the bridge.

    ``latest``: only the highest version of each schema, the set a code generator takes at
    once (avro-maven-plugin, ``fastavro.schema.load_schema_ordered``): two versions of one
    schema define the same record names differently, which such tools refuse ("Can't
    redefine"). The records a schema shares with others (``SubscriptionEvent``...) are
    identical in every file, which they accept."""
    store = SchemaStore()
    chosen = (
        [store.latest(schema_id) for schema_id in sorted({s.id for s in store.all()})]
        if latest
        else sorted(store.all(), key=version_key)
    )
    files = {f"{s.path.parent.name}/{s.path.name}" for s in chosen}
    stale = sorted(
        str(p.relative_to(directory))
        for p in directory.glob("**/*.avsc")
        if str(p.relative_to(directory)) not in files
    )
    if stale:
        # A code generator would take them along with the export: refuse rather than mix.
        raise SchemaError(
            f"{directory} holds schema files this export does not write ({', '.join(stale[:3])}"
            f"{', ...' if len(stale) > 3 else ''}): export into an empty directory"
        )
    index = []
    for schema in chosen:
        target = directory / schema.path.parent.name / schema.path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(schema.path, target)
        index.append(
            {
                "schema": schema.id,
                "version": schema.version,
                "full_name": schema.full_name,
                "fingerprint": schema.fingerprint_text,
                "file": f"{schema.path.parent.name}/{schema.path.name}",
            }
        )
    (directory / "index.json").write_text(json.dumps(index, indent=2) + "\n", "utf-8")
    what = "the latest version of each of" if latest else "every version of"
    count = len({s.id for s in chosen})
    return [f"wrote {what} {count} schema(s) ({len(index)} file(s)) and index.json to {directory}"]
