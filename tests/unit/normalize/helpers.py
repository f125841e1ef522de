"""Shared by the normalize tests: an adapter's events for a fixture, normalized, and the
normalized records encoded and read back with their schema."""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import fastavro

from bridge.avro.records import Codec
from bridge.exchanges.base import Adapter
from bridge.exchanges.events import Event, Push
from bridge.frame import ConnectionInfo, Frame
from bridge.normalize.normalizer import Normalizer

CODEC = Codec()


def conn(exchange: str, group: str, connection_id: str = "c#1") -> ConnectionInfo:
    return ConnectionInfo(exchange, group, "c", connection_id, "test-instance")


def normalized(normalizer: Normalizer, info: ConnectionInfo, events: Sequence[Event]) -> list[Push]:
    """The normalized pushes of a frame's events, as the pipeline asks for them."""
    found: list[Push] = []
    for event in events:
        if isinstance(event, Push):
            found += normalizer.pushes(info, event)
    return found


def receive(
    adapter: Adapter, info: ConnectionInfo, text: str, normalizer: Normalizer | None = None
) -> list[Push]:
    normalizer = normalizer or Normalizer([info.connection])
    return normalized(normalizer, info, adapter.receive(text, 1_534_614_260_000_000))


def decoded(info: ConnectionInfo, push: Push) -> dict[str, Any]:
    """``push`` encoded as the bridge writes it, and read back with its schema from
    ``schemas/normalized/``: what a consumer gets."""
    [record] = CODEC.records_for(info, Frame("{}", 1_534_614_260_000_000, 7), push)
    schema = CODEC.store.latest(push.destination.schema)
    value = fastavro.schemaless_reader(io.BytesIO(record.value[10:]), schema.parsed, None)
    assert isinstance(value, dict)
    assert record.key == push.destination.key.encode()
    return value


def numbers(**texts: str | None) -> dict[str, Any]:
    """Expected number fields: each text and its decimal (as the reader returns it)."""
    out: dict[str, Any] = {}
    for name, text in texts.items():
        out[name] = text
        out[f"{name}_decimal"] = None if text is None else Decimal(text).quantize(Decimal("1e-18"))
    return out


def level(price: str, amount: str) -> dict[str, Any]:
    return numbers(price=price, amount=amount)
