"""What a configuration writes, and register_all's decisions against a scripted registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge.avro.records import Codec
from bridge.avro.registration import register_all, schema_record, written_topics
from bridge.avro.registry import Compatibility, SubjectVersion
from bridge.avro.store import SchemaStore, schema_text
from bridge.errors import IncompatibleSchemaError, RegistryError
from bridge.settings import load_settings

STORE = SchemaStore()
STATUS = STORE.latest("okx/status")
CONFIG = """\
kafka: {topic_prefix: "prod."}
connections:
  - name: okx-public
    exchange: okx
    url: wss://ws.okx.com:8443/ws/v5/public
    subscriptions:
      - {channel: status}
      - {channel: tickers, instId: BTC-USDT}
  - name: okx-business
    exchange: okx
    url: wss://ws.okx.com:8443/ws/v5/business
    subscriptions:
      - {channel: economic-calendar}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "bridge.yaml"
    path.write_text(CONFIG)
    return path


def test_written_topics_of_a_configuration(config: Path) -> None:
    settings = load_settings(config)
    topics = written_topics(settings.connections, Codec())
    assert {t: f"{s.id}.v{s.version}" for t, s in topics.items()} == {
        "bridge.deadletter": "bridge/deadletter.v1",
        "okx.economic-calendar": "okx/economic-calendar.v2",
        "okx.events": "okx/events.v1",
        "okx.raw": "bridge/raw.v1",
        "okx.status": "okx/status.v1",
        "okx.tickers": "okx/tickers.v1",
    }


def test_a_schema_record_is_keyed_by_fingerprint_and_holds_the_schema_text() -> None:
    record = schema_record("bridge.schemas", STATUS)
    assert record.topic == "bridge.schemas"
    assert record.key == b"1a40285d9b4484f9"  # the number, as Avro's tools print it
    assert json.loads(record.value) == STATUS.definition
    assert record.value == schema_text(STATUS).encode()
    assert ("bridge.schema.id", b"okx/status") in record.headers


# --- register_all ---------------------------------------------------------------------------------


class ScriptedClient:
    """The four calls register_all makes, from dictionaries."""

    def __init__(
        self,
        *,
        registered: dict[str, int] | None = None,
        latest: dict[str, str] | None = None,
        compatible: bool = True,
    ) -> None:
        self.registered = registered or {}
        self.latest_schemas = latest or {}
        self.compatible = compatible
        self.calls: list[str] = []

    async def lookup(self, subject: str, schema: str) -> SubjectVersion | None:
        self.calls.append(f"lookup {subject}")
        found = self.registered.get(subject)
        return None if found is None else SubjectVersion(subject, found, 1, schema)

    async def latest(self, subject: str) -> SubjectVersion | None:
        self.calls.append(f"latest {subject}")
        text = self.latest_schemas.get(subject)
        return None if text is None else SubjectVersion(subject, 1, 4, text)

    async def check_compatibility(self, subject: str, schema: str) -> Compatibility:
        self.calls.append(f"compatibility {subject}")
        return Compatibility(self.compatible)

    async def register(self, subject: str, schema: str) -> int:
        self.calls.append(f"register {subject}")
        return 42


async def test_register_all_looks_up_first_and_registers_what_is_missing() -> None:
    client = ScriptedClient(registered={"p.okx.status-value": 5})
    deadletter = STORE.latest("bridge/deadletter")
    ids = await register_all(
        client,  # type: ignore[arg-type]
        {"okx.status": STATUS, "bridge.deadletter": deadletter},
        topic_prefix="p.",
        strategy="topic",
    )
    assert ids == {
        ("okx.status", STATUS.fingerprint): 5,
        ("bridge.deadletter", deadletter.fingerprint): 42,
    }
    assert "register p.okx.status-value" not in client.calls
    assert "register p.bridge.deadletter-value" in client.calls


async def test_register_all_refuses_a_schema_that_cannot_read_the_latest_version() -> None:
    old = json.loads(schema_text(STATUS))
    old["fields"][0]["type"] = "long"  # the subject's latest wrote 'exchange' as a long
    client = ScriptedClient(latest={"okx.status-value": json.dumps(old)})
    with pytest.raises(IncompatibleSchemaError) as caught:
        await register_all(
            client,  # type: ignore[arg-type]
            {"okx.status": STATUS},
            topic_prefix="",
            strategy="topic",
        )
    message = str(caught.value)
    assert "subject 'okx.status-value': okx/status.v1 cannot read data written with" in message
    assert "exchange: the writer's long cannot be read as string" in message
    assert "check_compatibility: false" in message
    assert not any(c.startswith("register") for c in client.calls)
    # told otherwise, it registers
    ids = await register_all(
        client,  # type: ignore[arg-type]
        {"okx.status": STATUS},
        topic_prefix="",
        strategy="topic",
        check_compatibility=False,
    )
    assert ids == {("okx.status", STATUS.fingerprint): 42}


async def test_register_all_trusts_the_registry_verdict_too() -> None:
    client = ScriptedClient(latest={"okx.status-value": schema_text(STATUS)}, compatible=False)
    with pytest.raises(IncompatibleSchemaError, match="compatibility rule refuses it"):
        await register_all(
            client,  # type: ignore[arg-type]
            {"okx.status": STATUS},
            topic_prefix="",
            strategy="topic",
        )


async def test_without_auto_register_a_missing_schema_is_an_error() -> None:
    with pytest.raises(RegistryError, match="auto_register is false"):
        await register_all(
            ScriptedClient(),  # type: ignore[arg-type]
            {"okx.status": STATUS},
            topic_prefix="",
            strategy="record",
            auto_register=False,
        )
