"""Whether a reader schema reads data written with a writer schema: Avro schema resolution.

Two checks, which ``bridge schemas check`` runs together over every pair of versions
(:mod:`bridge.avro.evolution`); the first also guards the registry at start
(:func:`bridge.avro.registration.register_all`):

- :func:`read_problems`, by the rules. The verdict is the Apache Avro project's own checker,
  ``avro.compatibility.ReaderWriterCompatibilityChecker`` (a port of Java's
  ``SchemaCompatibility``, the rules schema registries apply). The checker says *whether*, but
  not clearly *where*: it forgets the path inside unions and keeps its messages and locations
  in two unpaired sets. So this module only walks down to the smallest part the checker
  refuses, asking the checker at every step, and names that field in its own words.
- :func:`data_problems`, by round trips: samples that take every union branch, written with the
  writer schema and read with the reader schema by fastavro, and compared value by value. They
  catch what Avro's rules allow but what changes the data a consumer sees, which the checker
  accepts by design:

  - an enum symbol removed while the reader's enum has a default: data written with the removed
    symbol reads back as the default (writer ``["A", "B"]``, reader ``["A"]`` with default
    ``"A"``: ``f: wrote 'B', read 'A'``);
  - a record inside a union renamed with an alias (writer record ``ns.Old``, reader
    ``ns.New`` with alias ``ns.Old``): the value reads back as the other branch
    (``x: branch ns.Old read as ns.New``), and a consumer dispatches on that name (``bridge
    tail`` prints it as the payload's only member).

  Neither check sees a change of logical type (``timestamp-millis`` to ``timestamp-micros``):
  the checker compares the underlying types, and fastavro applies the writer's logical type.
  A default of the wrong type (``"default": "abc"`` on an ``int``) is refused before either
  runs, when the schema store parses the file.

Aliases of named types are compared with the writer's full name: write them in full
(``exchange_bridge.okx.Status``, not ``Status``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping
from typing import Any

import avro.errors
import avro.schema
import fastavro
from avro.compatibility import (
    ReaderWriterCompatibilityChecker,
    SchemaCompatibilityResult,
    SchemaCompatibilityType,
    lookup_writer_field,
    schema_name_equals,
)
from avro.schema import (
    ArraySchema,
    EnumSchema,
    FixedSchema,
    MapSchema,
    NamedSchema,
    RecordSchema,
    UnionSchema,
)

from bridge.errors import SchemaError

_SAMPLES: dict[str, Any] = {
    "null": None,
    "boolean": True,
    "int": 1000,
    "long": 1_700_000_000_000,
    "float": 1.5,
    "double": 2.25,
    "string": "text",
    "bytes": b"bytes",
}


def parse(definition: Mapping[str, Any]) -> avro.schema.Schema:
    """``definition`` as the Avro project's schema objects; SchemaError when it is not a schema."""
    try:
        return avro.schema.parse(json.dumps(definition))
    except (avro.errors.AvroException, TypeError, ValueError, KeyError) as exc:
        raise SchemaError(f"not an Avro schema: {exc}") from exc


# --- by the rules ---------------------------------------------------------------------------------


def read_problems(reader: Mapping[str, Any], writer: Mapping[str, Any]) -> list[str]:
    """Why a reader with schema ``reader`` cannot read data written with ``writer``, by Avro's
    schema resolution rules (empty: it can), one line per field that breaks them. Logical
    types do not take part in resolution."""
    return _Explainer().problems(parse(reader), parse(writer), "")


def _describe(schema: avro.schema.Schema) -> str:
    return f"{schema.type} {schema.fullname}" if isinstance(schema, NamedSchema) else schema.type


class _Explainer:
    """Names the parts of a schema pair that the official checker refuses."""

    def __init__(self) -> None:
        # One checker for the whole walk: it memoizes every pair it compared.
        self._checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
        self._records: set[tuple[int, int]] = set()

    def _verdict(self, r: avro.schema.Schema, w: avro.schema.Schema) -> SchemaCompatibilityResult:
        return self._checker.get_compatibility(r, w)

    def problems(self, r: avro.schema.Schema, w: avro.schema.Schema, path: str) -> list[str]:
        verdict = self._verdict(r, w)
        if verdict.compatibility is not SchemaCompatibilityType.incompatible:
            return []
        where = path or "(top level)"
        found: list[str] = []
        if isinstance(w, UnionSchema):
            for branch in w.schemas:
                found += self.problems(r, branch, path)
        elif isinstance(r, UnionSchema):
            # The branch Avro would pick for the writer's type, to say why it does not read it.
            same = [b for b in r.schemas if b.type == w.type and _same_name(b, w)]
            found = self.problems(same[0], w, path) if len(same) == 1 else []
            found = found or [
                f"{where}: the writer's {_describe(w)} matches no branch of the reader"
            ]
        elif isinstance(r, RecordSchema) and isinstance(w, RecordSchema) and _same_name(r, w):
            found = self._record(r, w, path)
        elif isinstance(r, ArraySchema) and isinstance(w, ArraySchema):
            found = self.problems(r.items, w.items, f"{path}[]")
        elif isinstance(r, MapSchema) and isinstance(w, MapSchema):
            found = self.problems(r.values, w.values, f"{path}{{}}")
        else:
            found = _leaf(r, w, where)
        # A safety net: the checker refused something the walk did not name.
        return found or [f"{where}: {'; '.join(sorted(verdict.messages))}"]

    def _record(self, r: RecordSchema, w: RecordSchema, path: str) -> list[str]:
        if (id(r), id(w)) in self._records:  # a recursive type, already being walked
            return []
        self._records.add((id(r), id(w)))
        found: list[str] = []
        for reader_field in r.fields:
            name = reader_field.name
            sub = f"{path}.{name}" if path else name
            source = lookup_writer_field(writer_schema=w, reader_field=reader_field)
            if source is not None:
                found += self.problems(reader_field.type, source.type, sub)
            elif not reader_field.has_default:
                found.append(
                    f"{sub}: new field without a default (data written with the older "
                    "version does not have it)"
                )
        return found


def _same_name(r: avro.schema.Schema, w: avro.schema.Schema) -> bool:
    if isinstance(r, NamedSchema) and isinstance(w, NamedSchema):
        return bool(schema_name_equals(r, w))
    return True


def _leaf(r: avro.schema.Schema, w: avro.schema.Schema, where: str) -> list[str]:
    """Why the checker refuses a pair that is neither a union nor a container, in words that
    name the types."""
    if r.type != w.type or not _same_name(r, w):
        return [f"{where}: the writer's {_describe(w)} cannot be read as {_describe(r)}"]
    if isinstance(r, EnumSchema) and isinstance(w, EnumSchema):
        missing = [s for s in w.symbols if s not in r.symbols]
        return [f"{where}: enum symbols {missing} removed without an enum default"]
    if isinstance(r, FixedSchema) and isinstance(w, FixedSchema):
        return [f"{where}: fixed size {w.size} cannot be read as {r.size}"]
    return []


# --- by round trips -------------------------------------------------------------------------------


def sample_values(definition: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Values of ``definition`` that, together, take every branch of every union, nested ones
    included: a union's samples are those of each of its branches; a record's j-th sample takes
    the j-th sample of each field (cycling), so there are as many as its richest field has."""
    return [v for v in _samples(parse(definition), frozenset()) if isinstance(v, dict)]


def _samples(schema: avro.schema.Schema, seen: frozenset[str]) -> list[Any]:
    if isinstance(schema, UnionSchema):
        out: list[Any] = []
        for branch in schema.schemas:
            values = _samples(branch, seen)
            # Named branches as (name, value): fastavro then writes exactly that branch.
            named = isinstance(branch, NamedSchema)
            out.extend((branch.fullname, v) if named else v for v in values)
        return out
    if isinstance(schema, RecordSchema):
        if schema.fullname in seen:
            return []  # a recursive type: no finite sample through this branch
        inner = seen | {schema.fullname}
        fields = [(f.name, _samples(f.type, inner)) for f in schema.fields]
        if any(not values for _, values in fields):
            return []
        count = max([1, *(len(values) for _, values in fields)])
        return [{name: values[j % len(values)] for name, values in fields} for j in range(count)]
    if isinstance(schema, ArraySchema):
        return [[v] for v in _samples(schema.items, seen)] or [[]]
    if isinstance(schema, MapSchema):
        return [{f"key-{j}": v} for j, v in enumerate(_samples(schema.values, seen))] or [{}]
    if isinstance(schema, EnumSchema):
        return list(schema.symbols)
    if isinstance(schema, FixedSchema):
        return [bytes([7]) * int(schema.size)]
    if schema.type in _SAMPLES:
        return [_SAMPLES[schema.type]]
    raise SchemaError(f"cannot make a sample of {schema.type}")


def data_problems(reader: Mapping[str, Any], writer: Mapping[str, Any]) -> list[str]:
    """Encode samples with ``writer``, decode them with ``reader`` (fastavro's resolution), and
    compare every value both versions name. Empty when every sample reads back."""
    w_parsed = fastavro.parse_schema(dict(writer))
    r_parsed = fastavro.parse_schema(dict(reader))
    problems: list[str] = []
    for k, sample in enumerate(sample_values(writer)):
        out = io.BytesIO()
        fastavro.schemaless_writer(out, w_parsed, sample)
        body = out.getvalue()
        expected = fastavro.schemaless_reader(
            io.BytesIO(body), w_parsed, None, return_record_name=True
        )
        try:
            actual = fastavro.schemaless_reader(
                io.BytesIO(body), w_parsed, r_parsed, return_record_name=True
            )
        except Exception as exc:  # noqa: BLE001 - any failure to read is the finding
            problems.append(f"sample {k}: does not decode: {type(exc).__name__}: {exc}")
            continue
        for difference in _differences(expected, actual, ""):
            problems.append(f"sample {k}: {difference}")
    return problems


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _differences(expected: Any, actual: Any, path: str) -> Iterator[str]:
    where = path or "(top level)"
    if isinstance(expected, tuple) and isinstance(actual, tuple):
        if _short(expected[0]) != _short(actual[0]):
            yield f"{where}: branch {expected[0]} read as {actual[0]}"
        else:
            yield from _differences(expected[1], actual[1], path)
    elif isinstance(expected, dict) and isinstance(actual, dict):
        for name in expected.keys() & actual.keys():
            yield from _differences(expected[name], actual[name], f"{path}.{name}".lstrip("."))
    elif isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            yield from _differences(e, a, f"{path}[{i}]")
    elif expected != actual and not _promoted(expected, actual):
        yield f"{where}: wrote {expected!r}, read {actual!r}"


def _promoted(expected: Any, actual: Any) -> bool:
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return float(expected) == float(actual)
    if isinstance(expected, bytes | str) and isinstance(actual, bytes | str):
        as_bytes = [v.encode() if isinstance(v, str) else v for v in (expected, actual)]
        return as_bytes[0] == as_bytes[1]
    return False
