"""OKX payloads: what one pushed element becomes.

Channels ``status`` and ``economic-calendar`` have typed payloads (schemas ``okx/status`` and
``okx/economic-calendar``, tables below); every other channel is carried as the element's exact
JSON text (schema ``okx/channel``), so a new channel needs configuration, not code.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from bridge.exchanges import wire


class _Kind(Enum):
    TEXT = "text"  # kept as sent; missing or null -> None
    MILLIS = "millis"  # Unix ms as digits -> int; missing, null or "" -> None


@dataclass(frozen=True, slots=True)
class TypedChannel:
    schema: str
    payload_type: str
    fields: Mapping[str, _Kind]
    """Field name -> kind, in the order of the payload record in the schema file."""


_T, _MS = _Kind.TEXT, _Kind.MILLIS

_STATUS = TypedChannel(
    schema="okx/status",
    payload_type="exchange_bridge.okx.Status",
    fields={
        "title": _T,
        "state": _T,
        "begin": _MS,
        "end": _MS,
        "preOpenBegin": _MS,
        "href": _T,
        "serviceType": _T,
        "system": _T,
        "scheDesc": _T,
        "maintType": _T,
        "env": _T,
        "ts": _MS,
    },
)

_ECONOMIC_CALENDAR = TypedChannel(
    schema="okx/economic-calendar",
    payload_type="exchange_bridge.okx.EconomicCalendar",
    fields={
        "calendarId": _T,
        "date": _MS,
        "region": _T,
        "category": _T,
        "event": _T,
        "refDate": _MS,
        "actual": _T,
        "previous": _T,
        "forecast": _T,
        "importance": _T,
        "prevInitial": _T,
        "ccy": _T,
        "unit": _T,
        "ts": _MS,
        # v2: documented on OKX's REST calendar (0: the time is known, 1: only the date)
        "dateSpan": _T,
    },
)

TYPED_CHANNELS: Mapping[str, TypedChannel] = {
    "status": _STATUS,
    "economic-calendar": _ECONOMIC_CALENDAR,
}
GENERIC_SCHEMA = "okx/channel"
GENERIC_PAYLOAD_TYPE = "exchange_bridge.okx.ChannelData"


def schema_of(channel: str) -> str:
    typed = TYPED_CHANNELS.get(channel)
    return typed.schema if typed else GENERIC_SCHEMA


def typed_payload(typed: TypedChannel, element: Any) -> dict[str, Any]:
    if not isinstance(element, dict):
        raise wire.BadElement(f"element is a JSON {wire.json_type(element)}, not an object")
    payload: dict[str, Any] = {}
    for name, kind in typed.fields.items():
        value = element.get(name)
        if kind is _Kind.MILLIS:
            payload[name] = wire.millis(name, value)
        else:
            payload[name] = wire.optional_text(value)
    # Fields a later API version adds are kept, so nothing the exchange sent is lost.
    payload["extra"] = {k: wire.text(v) for k, v in element.items() if k not in typed.fields}
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


def identity(action: str | None, element: Any, exact: wire.Element) -> str:
    """Content identity of one pushed element (see :attr:`Push.identity`).

    Keys sorted: two server builds (old and new connection during a handover) may order keys
    differently. (A number and a string of the same text count as the same content here: the
    C encoder writes a :class:`wire.Number` as a string. No channel sends one where the other
    was.) An element with a key twice has no one sorted form: its exact text is its content.
    Hashed: the session keeps identities in a window, so keep them short."""
    content = exact.text if exact.duplicate_key is not None else _CANONICAL(element)
    text = f"{action or ''}\n{content}"
    # surrogatepass: a lone surrogate from a JSON escape still has an identity
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
