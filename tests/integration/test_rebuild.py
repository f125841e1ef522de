"""``bridge rebuild`` against a real broker: live ingestion from the OKX simulator writes typed
topics and ``okx.raw``; a rebuild of ``okx.raw`` into another prefix writes the same records."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import yaml
from aiokafka import ConsumerRecord

from bridge.avro.formats import decode_single_object
from bridge.avro.store import SchemaStore
from bridge.cli import main
from bridge.commands.rebuild import RawRange, rebuild
from bridge.sandbox.okx import (
    BUSINESS_PATH,
    PUBLIC_PATH,
    SEED_CALENDAR_FRAME,
    SEED_STATUS_FRAME,
    OkxAccount,
    OkxSimulator,
)
from bridge.settings import Settings
from tests.integration.harness import read_messages, running_bridge, unique_prefix, wait_until

KEY, SECRET, PASSPHRASE = "rebuild-key", "rebuild-Secret-1", "rebuild-Pass-2"
SEED_STATUS = json.loads(SEED_STATUS_FRAME)["data"][0]
SEED_CALENDAR = json.loads(SEED_CALENDAR_FRAME)["data"][0]
TYPED = ["okx.status", "okx.economic-calendar", "okx.tickers", "okx.events", "bridge.deadletter"]
SOCKET_MARKERS = {"disconnected", "resubscribed", "handover"}  # not frames: never rebuilt
STORE = SchemaStore()


def config(sim: OkxSimulator, bootstrap: str, prefix: str) -> dict[str, Any]:
    reconnect = {"initial_seconds": 0.2, "max_seconds": 1.0, "healthy_after_seconds": 2.0}
    return {
        "instance": "live-1",
        "kafka": {"bootstrap_servers": bootstrap, "topic_prefix": prefix, "linger_ms": 1},
        "metrics": {"host": "127.0.0.1", "port": 0},
        "connections": [
            {
                "name": "okx-public",
                "exchange": "okx",
                "url": sim.url(PUBLIC_PATH),
                "subscriptions": [
                    {"channel": "status"},
                    {"channel": "tickers", "instId": "BTC-USDT"},
                ],
                "reconnect": reconnect,
            },
            {
                "name": "okx-business",
                "exchange": "okx",
                "url": sim.url(BUSINESS_PATH),
                "credentials": {"api_key": KEY, "secret_key": SECRET, "passphrase": PASSPHRASE},
                "subscriptions": [{"channel": "economic-calendar"}],
                "reconnect": reconnect,
            },
        ],
    }


def is_socket_marker(message: ConsumerRecord[bytes, bytes]) -> bool:
    _schema, value = decode_single_object(STORE, message.value or b"")
    payload = value.get("payload")
    return (
        isinstance(payload, tuple)
        and payload[0] == "exchange_bridge.SessionMarker"
        and payload[1]["kind"] in SOCKET_MARKERS
    )


def records(messages: list[ConsumerRecord[bytes, bytes]]) -> list[tuple[Any, ...]]:
    """What a consumer sees of each record, Kafka's offsets and timestamps aside."""
    return [(m.key, m.value, tuple(m.headers)) for m in messages]


async def live_ingestion(sim: OkxSimulator, settings: Settings) -> None:
    """A session of live traffic: subscriptions, pushes, a bad frame, a handover (whose
    duplicate pushes the bridge drops), then a clean stop."""
    async with running_bridge(settings) as bridge:
        await wait_until(lambda: all(s.subscribed for s in bridge.sessions), what="subscribed")
        await sim.push_calendar(SEED_CALENDAR)
        await sim.publish(
            {"channel": "tickers", "instId": "BTC-USDT"},
            [{"instId": "BTC-USDT", "last": "43210.5", "ts": "1700000000123"}],
        )
        await sim.send_raw(
            '{"arg":{"channel":"status"},"data":[{"begin":"soon"}]}', path=PUBLIC_PATH
        )
        await sim.send_notice(close_after=3.0, path=PUBLIC_PATH)  # handover: #2 replaces #1
        await sim.wait_for_subscribers("status", 2)
        await sim.push_status({**SEED_STATUS, "state": "ongoing", "ts": "1700000009999"})
        await wait_until(lambda: sim.stats.connects_total >= 3, what="a replacement connection")
        await asyncio.sleep(3.5)  # the old connection closes after both saw the status push


async def test_rebuild_reproduces_the_typed_records_of_live_ingestion(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    live, target, again = unique_prefix(), unique_prefix(), unique_prefix()
    async with OkxSimulator(
        accounts={KEY: OkxAccount(secret=SECRET, passphrase=PASSPHRASE, vip_level=1)}
    ) as sim:
        mapping = config(sim, kafka_bootstrap, live)
        settings = Settings.from_mapping(mapping)
        await live_ingestion(sim, settings)

    report = await rebuild(settings, live + "okx.raw", target_prefix=target)
    assert report.partial_connections == [] and report.unknown_connections == set()
    assert report.undelivered == 0 and report.undecodable == 0

    total = 0
    for topic in TYPED:
        written = await read_messages(kafka_bootstrap, live + topic)
        rebuilt = await read_messages(kafka_bootstrap, target + topic)
        expected = [m for m in written if not is_socket_marker(m)]
        assert records(rebuilt) == records(expected), topic
        total += len(rebuilt)
    assert report.records == total
    status = await read_messages(kafka_bootstrap, live + "okx.status")
    assert any(is_socket_marker(m) for m in status)  # the handover marker, not rebuilt
    raw = await read_messages(kafka_bootstrap, live + "okx.raw")
    assert report.frames == len(raw)
    # the handover's second copy of the status push was dropped live, and again on rebuild
    ongoing = [m for m in status if b"ongoing" in (m.value or b"")]
    assert len(ongoing) == 1
    assert len([m for m in raw if b"ongoing" in (m.value or b"")]) == 2

    # Re-running (here through the CLI, into a third prefix, range by offsets) writes the same
    # keys and values once more: a compacted topic or a deduplicating consumer sees no change.
    path = tmp_path / "bridge.yaml"
    path.write_text(yaml.safe_dump(mapping))
    code = await asyncio.to_thread(
        main,
        ["rebuild", live + "okx.raw", "--config", str(path), "--target-prefix", again,
         "--start-offset", "0"],
    )  # fmt: skip
    assert code == 0
    for topic in TYPED:
        first = await read_messages(kafka_bootstrap, target + topic)
        second = await read_messages(kafka_bootstrap, again + topic)
        assert records(second) == records(first), topic


async def test_a_range_that_starts_mid_connection_is_reported(kafka_bootstrap: str) -> None:
    live, target = unique_prefix(), unique_prefix()
    async with OkxSimulator() as sim:
        mapping = config(sim, kafka_bootstrap, live)
        mapping["connections"] = mapping["connections"][:1]
        settings = Settings.from_mapping(mapping)
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscribed")
            await sim.push_status({**SEED_STATUS, "state": "ongoing", "ts": "1700000000001"})
            await wait_until(lambda: bridge.publisher.delivered >= 6, what="records delivered")

    report = await rebuild(
        settings, live + "okx.raw", target_prefix=target, selection=RawRange(start_offset=2)
    )
    assert report.partial_connections == ["okx-public#1"]
    assert "started before the range" in report.summary()
    unknown = Settings.from_mapping({**mapping, "connections": []})
    report = await rebuild(unknown, live + "okx.raw", target_prefix=unique_prefix())
    assert report.unknown_connections == {"okx-public"} and report.records == 0
