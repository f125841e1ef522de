"""How ``bridge tail`` and the demo render a decoded record, over every branch of every union of
every schema version: values generated from the schema itself, encoded, decoded as tail decodes
them, rendered, and checked against the schema by a walk of its own."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
from decimal import Decimal
from typing import Any

import avro.schema
import fastavro
import pytest
from avro.schema import (
    ArraySchema,
    BytesDecimalSchema,
    MapSchema,
    NamedSchema,
    RecordSchema,
    UnionSchema,
)

from bridge.avro.compat import parse, sample_values
from bridge.avro.decode import TailedRecord, jsonable, union_branch
from bridge.avro.formats import decode_body
from bridge.avro.store import SchemaStore, version_key
from bridge.commands.demo import describe

STORE = SchemaStore()
VERSIONS = sorted(STORE.all(), key=version_key)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def expected_time(schema: avro.schema.Schema, value: int) -> str | None:
    logical = schema.other_props.get("logicalType") or getattr(schema, "logical_type", None)
    if logical == "timestamp-millis":
        return (EPOCH + dt.timedelta(milliseconds=value)).isoformat()
    if logical == "timestamp-micros":
        return (EPOCH + dt.timedelta(microseconds=value)).isoformat()
    return None


def check(schema: avro.schema.Schema, written: Any, rendered: Any, path: str) -> None:
    """``rendered`` is what ``written`` (a value as fastavro takes it, union branches of named
    types as ``(full name, value)``) must look like under ``schema``."""
    if isinstance(schema, UnionSchema):
        if isinstance(written, tuple):
            name, inner = written
            branch = next(b for b in schema.schemas if getattr(b, "fullname", None) == name)
            # the branch is named by the only member, whatever the record's own fields are
            assert isinstance(rendered, dict) and list(rendered) == [name], path
            check(branch, inner, rendered[name], f"{path}<{name.rsplit('.', 1)[-1]}>")
            return
        if written is None:
            assert rendered is None, path
            return
        # ["null", T] with a T value: written plain, as any JSON reader expects
        (branch,) = [b for b in schema.schemas if b.type != "null"]
        assert not isinstance(branch, NamedSchema), path
        check(branch, written, rendered, path)
        return
    if isinstance(schema, RecordSchema):
        assert isinstance(rendered, dict), path
        assert list(rendered) == [f.name for f in schema.fields], path
        for field in schema.fields:
            check(field.type, written[field.name], rendered[field.name], f"{path}.{field.name}")
        return
    if isinstance(schema, ArraySchema):
        assert isinstance(rendered, list) and len(rendered) == len(written), path
        for i, (w, r) in enumerate(zip(written, rendered, strict=True)):
            check(schema.items, w, r, f"{path}[{i}]")
        return
    if isinstance(schema, MapSchema):
        assert isinstance(rendered, dict) and rendered.keys() == written.keys(), path
        for key in written:
            check(schema.values, written[key], rendered[key], f"{path}{{{key}}}")
        return
    if isinstance(schema, BytesDecimalSchema):
        # the two's-complement big-endian unscaled value, as text of the same number
        value = Decimal(int.from_bytes(written, "big", signed=True)).scaleb(-schema.scale)
        assert isinstance(rendered, str) and "E" not in rendered.upper(), path
        assert Decimal(rendered) == value, path
        return
    if schema.type == "bytes":
        try:
            assert rendered == written.decode("utf-8"), path
        except UnicodeDecodeError:
            assert rendered == {"base64": base64.b64encode(written).decode()}, path
        return
    time = expected_time(schema, written) if schema.type == "long" else None
    assert rendered == (time if time is not None else written), path


def branch_samples() -> list[Any]:
    cases = []
    for schema in VERSIONS:
        for i, sample in enumerate(sample_values(schema.definition)):
            branch = sample["payload"][0].rsplit(".", 1)[-1] if "payload" in sample else "record"
            cases.append(pytest.param(schema, sample, id=f"{version_key(schema)}-{i}-{branch}"))
    return cases


@pytest.mark.parametrize(("schema", "sample"), branch_samples())
def test_every_branch_of_every_schema_renders_under_its_own_name(schema: Any, sample: Any) -> None:
    if "payload" in sample and sample["payload"][0] == "exchange_bridge.okx.ChannelData":
        # the demo parses a generic OKX element's JSON text
        sample["payload"][1]["data"] = '{"instId": "BTC-USDT", "type": "text"}'
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema.parsed, sample)
    decoded = decode_body(schema.parsed, out.getvalue(), version_key(schema))  # as tail does
    record = TailedRecord("topic", 0, 7, "key", version_key(schema), decoded)

    printed = json.loads(record.to_json())  # what `bridge tail` prints
    assert printed["schema"] == version_key(schema)
    check(parse(schema.definition), sample, printed["value"], version_key(schema))
    assert printed["value"] == jsonable(decoded)

    if "payload" in sample:  # raw frames and dead letters have no payload union
        branch, _ = union_branch(printed["value"]["payload"])
        assert branch == sample["payload"][0]
        line = describe(record)  # the demo's line names the same branch
        assert f" {branch.rsplit('.', 1)[-1]} " in line


def test_the_samples_take_every_payload_branch_of_every_schema() -> None:
    """The parametrization above is not a hand-picked subset."""
    taken = {
        (version_key(s), sample["payload"][0])
        for s in VERSIONS
        for sample in sample_values(s.definition)
        if "payload" in sample
    }
    expected = set()
    for schema in VERSIONS:
        fields = parse(schema.definition).fields  # type: ignore[attr-defined]
        for field in fields:
            if field.name == "payload":
                expected |= {(version_key(schema), b.fullname) for b in field.type.schemas}
    assert taken == expected and len(expected) >= 2 * (len(VERSIONS) - 2)


def test_a_payload_field_called_type_no_longer_hides_the_branch() -> None:
    """OKEx deals: the trade's side is a field named ``type``."""
    rendered = jsonable(
        {"payload": ("exchange_bridge.okex.SpotDeal", {"type": "ask", "price": "1.5"})}
    )
    assert rendered == {
        "payload": {"exchange_bridge.okex.SpotDeal": {"type": "ask", "price": "1.5"}}
    }
