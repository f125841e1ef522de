"""OKX payloads: what one pushed element becomes.

A channel with a typed record (:mod:`bridge.exchanges.okx.channels`) gets its fields typed by
kind, nested objects as records, and every field the table does not name in ``extra``; candle
rows get their positions named. Book channels are typed by :mod:`bridge.exchanges.okx.book`,
which also checks them. Every other channel is carried as the element's exact JSON text
(schema ``okx/channel``), so a new channel needs configuration, not code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bridge.exchanges import wire
from bridge.exchanges.okx.channels import Fields, Kind, Nested, TypedChannel


def _value(name: str, kind: Kind | Nested, value: Any) -> Any:
    """One field's value typed by its kind. OKX's "" (not applicable) is null for every kind
    but text, which keeps it."""
    if kind is Kind.TEXT:
        return None if value is None else wire.text(value)
    if kind is Kind.MILLIS:
        return wire.millis(name, value)
    if value is None or value == "":
        return None
    if kind is Kind.LONG:
        number = wire.integer(name, value)
        if number is None or not -wire.MAX_LONG - 1 <= number <= wire.MAX_LONG:
            raise wire.BadElement(f"{name} is not an integer: {wire.text(value)[:40]!r}")
        return number
    if kind is Kind.BOOL:
        if value is True or value is False:
            return value
        raise wire.BadElement(f"{name} is not a boolean: {wire.text(value)[:40]!r}")
    if kind is Kind.TEXTS:
        if not isinstance(value, list):
            raise wire.BadElement(f"{name} is a JSON {wire.json_type(value)}, not an array")
        return [wire.text(item) for item in value]
    assert isinstance(kind, Nested)
    if not kind.many:
        return _record(name, kind.fields, value)
    if not isinstance(value, list):
        raise wire.BadElement(f"{name} is a JSON {wire.json_type(value)}, not an array")
    return [_record(f"{name}[{index}]", kind.fields, item) for index, item in enumerate(value)]


def _record(name: str, fields: Fields, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise wire.BadElement(f"{name} is a JSON {wire.json_type(value)}, not an object")
    return _typed_fields(fields, value, {})


def _typed_fields(
    fields: Fields, element: dict[str, Any], payload: dict[str, Any]
) -> dict[str, Any]:
    get = element.get
    for name, kind in fields.items():
        value = get(name)
        # Text first, and inline: it is most fields of most records, and most values are
        # strings already (a wire.Number is not: it becomes a plain str of the same text).
        if kind is Kind.TEXT:
            payload[name] = value if value is None or type(value) is str else wire.text(value)
        else:
            payload[name] = _value(name, kind, value)
    # Fields a later API version adds are kept, so nothing the exchange sent is lost.
    payload["extra"] = {k: wire.text(v) for k, v in element.items() if k not in fields}
    return payload


def push_values(typed: TypedChannel, message: Mapping[str, Any]) -> dict[str, Any]:
    """The push's own fields a typed record repeats (account's ``eventType``...), typed."""
    return {name: _value(name, kind, message.get(name)) for name, kind in typed.push_fields.items()}


def typed_payload(typed: TypedChannel, element: Any, push: Mapping[str, Any]) -> dict[str, Any]:
    """The typed payload of one element (an object, or a candle row); ``push`` holds the
    :func:`push_values` of its push. BadElement when the element does not fit."""
    if typed.rows:
        return _row(typed.fields, element)
    if not isinstance(element, dict):
        raise wire.BadElement(f"element is a JSON {wire.json_type(element)}, not an object")
    return _typed_fields(typed.fields, element, dict(push))


def _row(fields: Fields, row: Any) -> dict[str, Any]:
    if not isinstance(row, list):
        raise wire.BadElement(f"row is a JSON {wire.json_type(row)}, not an array")
    payload: dict[str, Any] = {}
    for (name, kind), value in zip(fields.items(), row, strict=False):
        payload[name] = _value(name, kind, value)
    for name in list(fields)[len(row) :]:
        payload[name] = None
    # Elements OKX adds after the documented ones, as text.
    payload["extra"] = wire.texts(row[len(fields) :])
    return payload


def generic_payload(action: str | None, element: wire.Element) -> dict[str, Any]:
    """The ``okx/channel`` payload: the element's exact text (see :func:`wire.loads_with_texts`)."""
    return {"action": action, "data": element.text}


def event_time(element: Any) -> int | None:
    """The element's ``ts`` in ms when it has a usable one (generic channels may not)."""
    if not isinstance(element, dict):
        return None
    try:
        return wire.millis("ts", element.get("ts"))
    except wire.BadElement:
        return None


# Built once: json.dumps with any option builds a new encoder on every call.
_CANONICAL = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode


def identity(action: str | None, element: Any, exact: wire.Element | None = None) -> int:
    """Content identity of one pushed element (see :attr:`Push.identity`): a 64-bit hash,
    valid within this process (the copy window lives in the session, never leaves it).

    Copies arise where two connections overlap (a 64008 handover, a group-mode handover) and
    where a new subscription pushes the current state again (after a reconnect or a resync).
    The original of such a copy can be any recent push of a steady stream, so every push needs
    an identity, and it is computed without encoding the element: an object of scalar values
    (most elements of most channels) is hashed as the set of its (key, value) pairs, which
    ignores key order as a handover between two server builds needs. An element holding an
    object or an array is hashed as its canonical text (keys sorted). A number and a string
    of the same text count as the same content either way (a :class:`wire.Number` is a
    ``str``); no channel sends one where the other was. An element with a key twice has no one
    set of pairs nor one sorted form: its exact text is its content."""
    action = action or ""
    if exact is not None and exact.duplicate_key is not None:
        return hash((action, "text", exact.text))
    if type(element) is dict:
        try:
            return hash((action, frozenset(element.items())))
        except TypeError:  # a value is an object or an array: not hashable as it is
            pass
    return hash((action, "json", _CANONICAL(element)))
