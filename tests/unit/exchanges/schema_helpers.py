"""Checks that an adapter's pushes fit its Avro schemas, shared by the adapter unit tests.

Every exchange's schema file holds a ``payload`` union; the branch a push names
(``Push.payload_type``, e.g. ``exchange_bridge.okx.Status``) must take the push's payload with
exactly its fields, in order. Each test module builds one :class:`PayloadSchemas` with its
schema folder and which file holds which payload record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import fastavro
from fastavro.validation import validate

from bridge.exchanges.events import Event, Push

REPO_ROOT = Path(__file__).resolve().parents[3]
SCHEMAS_ROOT = REPO_ROOT / "schemas"


@cache
def payload_record(schema_file: Path, payload_type: str) -> tuple[Any, tuple[str, ...]]:
    """The named payload record of a schema file: (fastavro-parsed schema, field names)."""
    record = json.loads(schema_file.read_text())
    (payload_field,) = [f for f in record["fields"] if f["name"] == "payload"]
    for branch in payload_field["type"]:
        if isinstance(branch, dict) and f"{branch['namespace']}.{branch['name']}" == payload_type:
            return fastavro.parse_schema(branch), tuple(f["name"] for f in branch["fields"])
    raise AssertionError(f"{payload_type} is not a payload branch")


class PayloadSchemas:
    """The payload schemas of one exchange: ``schemas/<folder>/<file>`` per payload type."""

    def __init__(self, folder: str, files: Mapping[str, str]) -> None:
        self.directory = SCHEMAS_ROOT / folder
        self.files = dict(files)

    def payload_schema(self, payload_type: str) -> tuple[Any, tuple[str, ...]]:
        return payload_record(self.directory / self.files[payload_type], payload_type)

    def assert_valid(self, push: Push) -> None:
        parsed, field_names = self.payload_schema(push.payload_type)
        # fastavro ignores keys a record does not name, so check those separately.
        assert tuple(push.payload) == field_names
        assert validate(dict(push.payload), parsed, strict=True)

    def pushes(self, events: list[Event]) -> list[Push]:
        """``events``, all of which must be pushes that fit their schemas."""
        assert all(isinstance(e, Push) for e in events), events
        result = [e for e in events if isinstance(e, Push)]
        for push in result:
            self.assert_valid(push)
        return result
