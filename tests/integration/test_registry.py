"""Both wire formats end to end, on a real broker: with a real schema registry (Apicurio
Registry, started once for this module, over TLS), and without one (``bridge.schemas``)."""

from __future__ import annotations

import asyncio
import io
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import fastavro
import yaml
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from bridge.avro.decode import tail
from bridge.avro.formats import ConfluentEncoder, split_value
from bridge.avro.registry import RegistryClient
from bridge.avro.store import SchemaStore, schema_text
from bridge.runtime.app import Bridge
from bridge.sandbox.okx import (
    BUSINESS_PATH,
    PUBLIC_PATH,
    SEED_CALENDAR_FRAME,
    SEED_STATUS_FRAME,
    OkxAccount,
    OkxSimulator,
)
from bridge.sandbox.registry import SandboxRegistry
from bridge.settings import Settings
from tests.integration.harness import (
    read_messages,
    run_cli,
    running_bridge,
    unique_prefix,
    wait_until,
)

KEY, SECRET, PASSPHRASE = "registry-key", "registry-Secret-1", "registry-Pass-2"
SEED_STATUS = json.loads(SEED_STATUS_FRAME)["data"][0]
SEED_CALENDAR = json.loads(SEED_CALENDAR_FRAME)["data"][0]
STORE = SchemaStore()


def mapping(sim: OkxSimulator, bootstrap: str, prefix: str, **registry: Any) -> dict[str, Any]:
    return {
        "instance": "test",
        "kafka": {"bootstrap_servers": bootstrap, "topic_prefix": prefix, "linger_ms": 1},
        "metrics": {"host": "127.0.0.1", "port": 0},
        "schema_registry": registry,
        "connections": [
            {
                "name": "okx-public",
                "exchange": "okx",
                "url": sim.url(PUBLIC_PATH),
                "subscriptions": [{"channel": "status"}],
            },
            {
                "name": "okx-business",
                "exchange": "okx",
                "url": sim.url(BUSINESS_PATH),
                "credentials": {"api_key": KEY, "secret_key": SECRET, "passphrase": PASSPHRASE},
                "subscriptions": [{"channel": "economic-calendar"}],
            },
        ],
    }


def accounts() -> dict[str, OkxAccount]:
    return {KEY: OkxAccount(secret=SECRET, passphrase=PASSPHRASE, vip_level=1)}


async def ingest(sim: OkxSimulator, settings: Settings) -> None:
    async with running_bridge(settings) as bridge:
        await wait_until(lambda: all(s.subscribed for s in bridge.sessions), what="subscribed")
        await sim.push_calendar(SEED_CALENDAR)
        await wait_until(lambda: bridge.publisher.delivered >= 6, what="records delivered")


async def test_records_written_with_a_registry_decode_with_the_schema_fetched_by_id(
    kafka_bootstrap: str, registry: SandboxRegistry
) -> None:
    prefix = unique_prefix()
    over_tls = {"url": registry.tls_url, "ca_file": str(registry.ca_file)}
    async with OkxSimulator(accounts=accounts()) as sim:
        await ingest(sim, Settings.from_mapping(mapping(sim, kafka_bootstrap, prefix, **over_tls)))

    client = RegistryClient(registry.url)
    subjects = set(await client.subjects())
    assert {
        f"{prefix}okx.status-value",
        f"{prefix}okx.economic-calendar-value",
        f"{prefix}okx.events-value",
        f"{prefix}okx.raw-value",
        f"{prefix}bridge.deadletter-value",
    } <= subjects
    calendar = await read_messages(kafka_bootstrap, prefix + "okx.economic-calendar")
    decoded = []
    for message in calendar:
        wire, schema_id, body = split_value(message.value or b"")
        assert wire == "confluent" and message.value[:1] == b"\x00"
        assert isinstance(schema_id, int)
        # what any consumer does: the writer schema from the registry by id, then fastavro
        writer = fastavro.parse_schema(json.loads(await client.schema_by_id(schema_id)))
        decoded.append(fastavro.schemaless_reader(io.BytesIO(body), writer, None))
    (push,) = [d["payload"] for d in decoded if "calendarId" in d["payload"]]
    assert push["calendarId"] == SEED_CALENDAR["calendarId"] and push["dateSpan"] is None
    latest = await client.latest(f"{prefix}okx.economic-calendar-value")
    assert latest is not None
    assert latest.schema == schema_text(STORE.latest("okx/economic-calendar"))

    # bridge tail resolves the ids through the registry
    records = []
    async for record in tail(
        kafka_bootstrap, [prefix + "okx.status"], idle_timeout=2, registry=client
    ):
        records.append(record)
    assert records and all(r.schema and r.schema.startswith("registry:") for r in records)
    assert any(r.value["payload"][0] == "exchange_bridge.okx.Status" for r in records)


async def test_a_registry_outage_while_running_does_not_stop_production(
    kafka_bootstrap: str, registry: SandboxRegistry
) -> None:
    """Ids are cached at start: with the registry gone, records still flow."""
    target = urlsplit(registry.url)

    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(
            target.hostname, target.port
        )

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    proxy = await asyncio.start_server(forward, "127.0.0.1", 0)
    port = proxy.sockets[0].getsockname()[1]
    prefix = unique_prefix()
    async with OkxSimulator(accounts=accounts()) as sim:
        url = f"http://127.0.0.1:{port}{target.path}"
        settings = Settings.from_mapping(mapping(sim, kafka_bootstrap, prefix, url=url))
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: all(s.subscribed for s in bridge.sessions), what="subscribed")
            proxy.close()
            await proxy.wait_closed()  # the registry is unreachable from here on
            delivered = bridge.publisher.delivered
            await sim.push_calendar(SEED_CALENDAR)
            await sim.push_status({**SEED_STATUS, "state": "ongoing"})
            await wait_until(lambda: bridge.publisher.delivered >= delivered + 4, what="records")
    calendar = await read_messages(kafka_bootstrap, prefix + "okx.economic-calendar")
    assert any(b"United States" in (m.value or b"") for m in calendar)
    assert all((m.value or b"")[:1] == b"\x00" for m in calendar)


async def test_records_written_without_a_registry_decode_from_the_schemas_topic_alone(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = unique_prefix()
    async with OkxSimulator(accounts=accounts()) as sim:
        await ingest(sim, Settings.from_mapping(mapping(sim, kafka_bootstrap, prefix)))

    empty = tmp_path / "no-schemas"
    empty.mkdir()
    records = []
    async for record in tail(
        kafka_bootstrap,
        [prefix + "okx.status", prefix + "okx.economic-calendar"],
        idle_timeout=2,
        store=SchemaStore(empty),  # this consumer knows no schema file at all
        schemas_topic=prefix + "bridge.schemas",
    ):
        records.append(record)
    assert records and all("undecodable" not in r.value for r in records)
    assert {r.schema for r in records} == {"okx/status.v1", "okx/economic-calendar.v2"}
    status = [r.value["payload"][1] for r in records if r.schema == "okx/status.v1"]
    assert any(p.get("title") == SEED_STATUS["title"] for p in status)

    published = await read_messages(kafka_bootstrap, prefix + "bridge.schemas")
    calendar = STORE.latest("okx/economic-calendar")
    assert calendar.fingerprint_text.encode() in {m.key for m in published}
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, prefix + "bridge.schemas")]
        )
    finally:
        await admin.close()
    configs = {c[0]: c[1] for c in described.resources[0][4]}
    assert configs["cleanup.policy"] == "compact"


def test_an_incompatible_schema_is_refused_at_start_unless_told_otherwise(
    kafka_bootstrap: str, registry: SandboxRegistry, tmp_path: Path
) -> None:
    prefix = unique_prefix()
    subject = f"{prefix}okx.status-value"
    # a producer before us wrote okx.status with 'exchange' as a number
    theirs = json.loads(schema_text(STORE.latest("okx/status")))
    theirs["fields"][0]["type"] = "long"
    client = RegistryClient(registry.url)
    asyncio.run(client.register(subject, json.dumps(theirs)))

    config = mapping_for_file(kafka_bootstrap, prefix, {"url": registry.url})
    path = tmp_path / "bridge.yaml"
    path.write_text(yaml.safe_dump(config))
    result = run_cli("run", "--config", str(path))
    code, err = result.returncode, result.stdout + result.stderr
    assert code == 2
    assert f"subject '{subject}': okx/status.v1 cannot read data written with" in err
    assert "exchange: the writer's long cannot be read as string" in err
    assert "registry: " in err  # Apicurio's own verdict (BACKWARD) is quoted too

    # told otherwise, with the registry's rule relaxed by its owner (Apicurio applies its
    # global rule to a subject without one), it registers the new version and starts
    config["schema_registry"]["check_compatibility"] = False
    asyncio.run(client.set_compatibility("NONE"))
    try:
        assert asyncio.run(registered(config))
    finally:
        asyncio.run(client.set_compatibility("BACKWARD"))
    latest = asyncio.run(client.latest(subject))
    assert latest is not None and latest.version == 2


def test_schemas_register_pre_registers_for_bridges_that_only_look_up(
    kafka_bootstrap: str, registry: SandboxRegistry, tmp_path: Path
) -> None:
    prefix = unique_prefix()
    config = mapping_for_file(kafka_bootstrap, prefix, {"auto_register": False})
    path = tmp_path / "bridge.yaml"
    path.write_text(yaml.safe_dump(config))
    result = run_cli(
        "run",
        "--config",
        str(path),
        env={**os.environ, "BRIDGE_SCHEMA_REGISTRY__URL": registry.url},
    )
    assert result.returncode == 2 and "auto_register is false" in result.stdout + result.stderr

    result = run_cli("schemas", "register", "--config", str(path), "--registry-url", registry.url)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert f"{prefix}okx.status-value  okx/status.v1  id " in out
    config["schema_registry"]["url"] = registry.url
    assert asyncio.run(registered(config))  # lookups only, all found


def mapping_for_file(bootstrap: str, prefix: str, registry: dict[str, Any]) -> dict[str, Any]:
    """A configuration whose sessions never get to connect (the test is about start-up)."""
    return {
        "instance": "test",
        "kafka": {"bootstrap_servers": bootstrap, "topic_prefix": prefix},
        "metrics": {"host": "127.0.0.1", "port": 0},
        "schema_registry": registry,
        "connections": [
            {
                "name": "okx-public",
                "exchange": "okx",
                "url": "ws://127.0.0.1:9/ws/v5/public",
                "subscriptions": [{"channel": "status"}],
            }
        ],
    }


async def registered(config: dict[str, Any]) -> dict[tuple[str, bytes], int]:
    """The schema part of a bridge's start, alone: the registry ids its codec got."""
    bridge = Bridge(Settings.from_mapping(config))
    try:
        await bridge._prepare_schemas()
    finally:
        await bridge.publisher.stop()
    assert isinstance(bridge.codec.encoder, ConfluentEncoder)
    return bridge.codec.encoder.ids
