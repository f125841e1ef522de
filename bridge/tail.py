"""Reading records back: decode any bridge topic into JSON lines (``bridge tail``, the demo)."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer

from bridge.codec import SchemaStore, decode_single_object
from bridge.errors import SchemaError


def jsonable(value: Any) -> Any:
    """Decoded Avro → JSON: timestamps as ISO 8601, bytes as text (or base64 when not UTF-8),
    union branches as objects with a ``type`` naming the record."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        name, inner = value
        converted = jsonable(inner)
        return (
            {"type": name, **converted}
            if isinstance(converted, dict)
            else {"type": name, "value": converted}
        )
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(value).decode()}
    return value


@dataclass(frozen=True, slots=True)
class TailedRecord:
    topic: str
    partition: int
    offset: int
    key: str | None
    schema: str | None
    value: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps(
            {
                "topic": self.topic,
                "partition": self.partition,
                "offset": self.offset,
                "key": self.key,
                "schema": self.schema,
                "value": jsonable(self.value),
            },
            ensure_ascii=False,
        )


async def tail(
    bootstrap_servers: str,
    topics: Sequence[str],
    *,
    from_beginning: bool = True,
    idle_timeout: float | None = None,
    store: SchemaStore | None = None,
) -> AsyncIterator[TailedRecord]:
    """Yield decoded records of ``topics`` as they arrive; stop after ``idle_timeout`` seconds
    without a record (None: never)."""
    store = store or SchemaStore()
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap_servers,
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
        metadata_max_age_ms=2000,  # pick up topics the bridge creates after we start
    )
    await consumer.start()
    try:
        while True:
            try:
                message = await asyncio.wait_for(consumer.getone(), idle_timeout)
            except TimeoutError:
                return
            key = message.key.decode("utf-8", "replace") if message.key else None
            try:
                schema, value = decode_single_object(store, message.value or b"")
                yield TailedRecord(
                    message.topic,
                    message.partition,
                    message.offset,
                    key,
                    f"{schema.id}.v{schema.version}",
                    value,
                )
            except SchemaError as exc:
                yield TailedRecord(
                    message.topic,
                    message.partition,
                    message.offset,
                    key,
                    None,
                    {"undecodable": str(exc)},
                )
    finally:
        await consumer.stop()
