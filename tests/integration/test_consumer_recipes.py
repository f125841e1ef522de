"""The Python recipes of docs/SCHEMAS.md ("Consumer guide"), run as the page writes them against
records a real bridge wrote to the sandbox broker: each recipe's code block is read out of the
page, so the page cannot drift from what works. Each recipe's values must equal what the
bridge's own reader (``bridge tail``) decodes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bridge.avro.decode import TailedRecord, tail
from bridge.avro.registry import RegistryClient
from bridge.commands.schemas import export_schemas
from bridge.sandbox.okx import PUBLIC_PATH, OkxSimulator
from bridge.sandbox.registry import SandboxRegistry
from tests.integration.harness import bridge_settings, running_bridge, unique_prefix, wait_until
from tests.integration.test_rebuild import read_messages

DOCS = Path(__file__).resolve().parents[2] / "docs" / "SCHEMAS.md"


def recipe(name: str) -> dict[str, Any]:
    """The definitions of the ```python block after ``<!-- recipe: NAME -->`` in the page."""
    match = re.search(
        rf"<!-- recipe: {re.escape(name)} -->\s*```python\n(.*?)```", DOCS.read_text(), re.S
    )
    assert match, f"no recipe {name} in {DOCS}"
    namespace: dict[str, Any] = {}
    exec(compile(match[1], f"{DOCS.name}:{name}", "exec"), namespace)  # noqa: S102
    return namespace


async def ingest(bootstrap: str, prefix: str, **extra: Any) -> None:
    """A bridge on the OKX simulator: status (an ack and the latest status change) and
    tickers (typed records) written under ``prefix``."""
    async with OkxSimulator(rates={"tickers": 20.0}) as sim:
        connection = {
            "name": "okx-public",
            "exchange": "okx",
            "url": sim.url(PUBLIC_PATH),
            "subscriptions": [{"channel": "status"}, {"channel": "tickers", "instId": "BTC-USDT"}],
        }
        settings = bridge_settings(bootstrap, prefix, [connection], **extra)
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.publisher.delivered >= 12, 30, "records delivered")


async def tailed(bootstrap: str, topic: str, **options: Any) -> list[TailedRecord]:
    return [r async for r in tail(bootstrap, [topic], idle_timeout=3, **options)]


async def test_fastavro_with_the_schemas_topic_and_with_an_export(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = unique_prefix()
    await ingest(kafka_bootstrap, prefix)

    fastavro_recipe = recipe("python-fastavro")
    from_topic = await fastavro_recipe["writer_schemas"](kafka_bootstrap, prefix + "bridge.schemas")
    export_schemas(tmp_path / "schemas")
    from_export = recipe("python-export")["exported_schemas"](str(tmp_path / "schemas"))
    assert from_topic.keys() <= from_export.keys()

    for topic in ("okx.status", "okx.tickers"):
        expected = [r.value for r in await tailed(kafka_bootstrap, prefix + topic)]
        messages = await read_messages(kafka_bootstrap, prefix + topic)
        assert len(messages) == len(expected) >= 2
        for schemas in (from_topic, from_export):
            decoded = [fastavro_recipe["decode"](m.value, schemas) for m in messages]
            assert decoded == expected
    branches = {r.value["payload"][0] for r in await tailed(kafka_bootstrap, prefix + "okx.status")}
    assert branches == {  # the ack, the status change, and the marker of the bridge's stop
        "exchange_bridge.SubscriptionEvent",
        "exchange_bridge.okx.Status",
        "exchange_bridge.SessionMarker",
    }


async def test_confluent_kafka_deserializer_with_apicurio(
    kafka_bootstrap: str, registry: SandboxRegistry
) -> None:
    prefix = unique_prefix()
    await ingest(kafka_bootstrap, prefix, schema_registry={"url": registry.url})
    read = recipe("python-confluent")["read_with_confluent_kafka"]
    client = RegistryClient(registry.url)
    for topic in ("okx.status", "okx.tickers"):
        expected = [r.value for r in await tailed(kafka_bootstrap, prefix + topic, registry=client)]
        assert len(expected) >= 2
        values = read(kafka_bootstrap, registry.url, prefix + topic, len(expected))
        assert values == expected
