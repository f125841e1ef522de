"""OKX v5 WebSocket adapter (``/ws/v5/public``, ``/private`` and ``/business``), sans-I/O.

Outbound, per connection::

    connection_made(now_s)  with credentials: the login frame, then (after the login is
                            acknowledged) the subscribe frames; without: the subscribe frames
    subscribe(args)         add subscriptions at run time
    unsubscribe(args)       drop subscriptions on this connection
    ping()                  the text frame ``ping`` (the server answers ``pong``)

Inbound, :meth:`OkxAdapter.receive` turns one frame into events:

    pong                                -> Pong
    {"event":"subscribe"|"unsubscribe"} -> Subscribed (one per argument; OKX acks each one)
    {"event":"login","code":"0"}        -> LoginResult(ok=True)
    {"event":"error"}                   -> SubscribeFailed per argument of the request it names,
                                           LoginResult(ok=False) while a login is waiting,
                                           ExchangeError otherwise
    {"event":"notice"}                  -> Notice (64008: reconnect advised)
    {"event":"channel-conn-count[-error]"} -> ChannelConnCount
    {"arg":{...},"data":[...]}          -> Push per element of data
    anything else                       -> Unrecognized

Channels ``status`` and ``economic-calendar`` have typed payloads (schemas ``okx/status`` and
``okx/economic-calendar``); every other channel is carried as JSON text (schema ``okx/channel``),
so a new channel needs configuration, not code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar, Literal

from bridge.exchanges.base import Adapter, Credentials, OutboundFrame
from bridge.exchanges.events import (
    ChannelConnCount,
    Destination,
    Event,
    ExchangeError,
    LoginResult,
    Notice,
    Pong,
    Push,
    Subscribed,
    SubscribeFailed,
    Unrecognized,
)

MAX_ARGS_BYTES = 64 * 1024
"""OKX refuses a request whose ``args`` exceed 64 KB; every request we build stays below."""

LOGIN_VERIFY_PATH = "/users/self/verify"
"""The request path that the OKX WebSocket login signature covers."""

RECONNECT_NOTICE_CODE = "64008"
"""Notice sent about 60 s before the server closes the connection for an upgrade."""

# Arg fields that name what a subscription is about, most specific first: the Kafka key.
_KEY_FIELDS = ("instId", "instFamily", "uly", "instType", "ccy")

_CLOSE_REASONS = {
    1009: "frame_too_large",
    4001: "login_failed",
    4002: "invalid_request",
    4003: "subscription_limit",
    4004: "idle",
    4005: "buffer_full",
    4006: "abnormal",
    4007: "api_key_changed",
    4008: "too_many_channels",
    4009: "too_many_channels",
}

Op = Literal["subscribe", "unsubscribe"]
Arg = dict[str, str]
ArgKey = frozenset[tuple[str, str]]


def login_sign(secret_key: str, timestamp: str) -> str:
    """``base64(HMAC-SHA256(secret, timestamp + "GET" + "/users/self/verify"))``."""
    message = f"{timestamp}GET{LOGIN_VERIFY_PATH}".encode()
    digest = hmac.new(secret_key.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def destination_for(arg: Mapping[str, str]) -> Destination:
    """Where pushes and acks for one subscription argument go. ``arg`` needs a ``channel``."""
    channel = arg["channel"]
    key = next((arg[name] for name in _KEY_FIELDS if arg.get(name)), channel)
    typed = _TYPED_CHANNELS.get(channel)
    return Destination(
        topic=f"okx.{channel}",
        schema=typed.schema if typed else _GENERIC_SCHEMA,
        key=key,
        channel=channel,
        arg=dict(arg),
    )


# --- typed payloads ------------------------------------------------------------------------------


class _Kind(Enum):
    TEXT = "text"  # kept as sent; missing or null -> None
    MILLIS = "millis"  # Unix ms as digits -> int; missing, null or "" -> None


@dataclass(frozen=True, slots=True)
class _TypedChannel:
    schema: str
    payload_type: str
    fields: Mapping[str, _Kind]
    """Field name -> kind, in the order of the payload record in the schema file."""


_T, _MS = _Kind.TEXT, _Kind.MILLIS

_STATUS = _TypedChannel(
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

_ECONOMIC_CALENDAR = _TypedChannel(
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

_TYPED_CHANNELS = {"status": _STATUS, "economic-calendar": _ECONOMIC_CALENDAR}
_GENERIC_SCHEMA = "okx/channel"
_GENERIC_PAYLOAD_TYPE = "exchange_bridge.okx.ChannelData"

_MAX_LONG = 2**63 - 1
_MAX_REMEMBERED_ARGS = 1024


class _BadElement(Exception):
    """One pushed element cannot be typed; it becomes Unrecognized, its siblings still go."""


# Built once: json.dumps and json.loads with any option build a new encoder or decoder on
# every call, which costs more than encoding a small element. Same output as those calls.
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_CANONICAL = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode


def _compact(value: Any) -> str:
    return _COMPACT(value)


def _text(value: Any) -> str:
    """A wire value as text: strings as they are, anything else as compact JSON."""
    return value if isinstance(value, str) else _compact(value)


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _millis(name: str, value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        millis = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        millis = int(value)  # 19 digits bound the value before int() parses it
    else:
        raise _BadElement(f"{name} is not a millisecond timestamp: {_text(value)[:80]!r}")
    if not 0 <= millis <= _MAX_LONG:
        raise _BadElement(f"{name} is out of range: {millis}")
    return millis


def _typed_payload(typed: _TypedChannel, element: Any) -> dict[str, Any]:
    if not isinstance(element, dict):
        raise _BadElement(f"element is a JSON {_json_type(element)}, not an object")
    payload: dict[str, Any] = {}
    for name, kind in typed.fields.items():
        value = element.get(name)
        payload[name] = _millis(name, value) if kind is _Kind.MILLIS else _optional_text(value)
    # Fields a later API version adds are kept, so nothing the exchange sent is lost.
    payload["extra"] = {k: _text(v) for k, v in element.items() if k not in typed.fields}
    return payload


def _event_time(element: Any) -> int | None:
    """The element's ``ts`` in ms when it has a usable one (generic channels may not)."""
    if not isinstance(element, dict):
        return None
    try:
        return _millis("ts", element.get("ts"))
    except _BadElement:
        return None


def _identity(action: str | None, element: Any) -> str:
    # Keys sorted: two server builds (old and new connection during a handover) may order
    # keys differently. Hashed: the session keeps identities in a window, so keep them short.
    text = f"{action or ''}\n{_CANONICAL(element)}"
    # surrogatepass: a lone surrogate from a JSON escape still has an identity
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _reject_constant(name: str) -> Any:
    # json accepts NaN and Infinity, which are not JSON and which json.dumps would echo back.
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _loads(text: str) -> Any:
    """``json.loads(text, parse_constant=_reject_constant)`` with the decoder built once."""
    if text.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _DECODER.decode(text)


# --- subscription arguments ----------------------------------------------------------------------


def _normalize_arg(subscription: Mapping[str, Any]) -> Arg:
    """Validate a configured argument and return it with string values."""
    if not isinstance(subscription, Mapping):
        raise ValueError(f"OKX subscription must be a mapping, got {type(subscription).__name__}")
    channel = subscription.get("channel")
    if not isinstance(channel, str) or not channel:
        raise ValueError(
            f"OKX subscription {dict(subscription)!r} needs 'channel' as a non-empty string"
        )
    arg: Arg = {}
    for name, value in subscription.items():
        if not isinstance(name, str):
            raise ValueError(
                f"OKX subscription {dict(subscription)!r}: key {name!r} is not a string"
            )
        # bool is an int subclass; True would be sent as "True", which OKX never means.
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValueError(
                f"OKX subscription {dict(subscription)!r}: {name!r} must be a string or an "
                f"integer, got {type(value).__name__}"
            )
        arg[name] = str(value)
    if len(_compact([arg]).encode()) >= MAX_ARGS_BYTES:
        raise ValueError(f"OKX subscription on {channel!r} is larger than the 64 KB request limit")
    return arg


_CHANNEL_NAME = re.compile(r"[A-Za-z0-9._-]{1,200}")


def _echoed_arg(value: Any) -> Arg | None:
    """An ``arg`` object as the server sent it, values as text; None when it has no channel."""
    if not isinstance(value, dict):
        return None
    channel = value.get("channel")
    # The channel names a topic (okx.<channel>): only names Kafka takes in a topic.
    if not isinstance(channel, str) or not _CHANNEL_NAME.fullmatch(channel):
        return None
    return {str(k): _text(v) for k, v in value.items()}


def _arg_key(arg: Mapping[str, str]) -> ArgKey:
    return frozenset(arg.items())


def _batches(args: Sequence[Arg]) -> Iterator[list[Arg]]:
    """Split args into as few lists as possible whose JSON array stays under MAX_ARGS_BYTES."""
    batch: list[Arg] = []
    size = 2  # the brackets
    for arg in args:
        arg_size = len(_compact(arg).encode())
        if batch and size + 1 + arg_size >= MAX_ARGS_BYTES:
            yield batch
            batch, size = [], 2
        size += arg_size + (1 if batch else 0)  # the comma before every arg but the first
        batch.append(arg)
    if batch:
        yield batch


# --- the adapter ---------------------------------------------------------------------------------


class _State(Enum):
    IDLE = "idle"  # no connection yet
    LOGGING_IN = "logging_in"  # login sent, no answer yet; subscriptions wait
    READY = "ready"  # subscriptions may be sent (logged in, or no login needed)
    LOGIN_FAILED = "login_failed"  # nothing more is sent on this connection


@dataclass(slots=True)
class _PendingRequest:
    op: Op
    args: list[Arg]
    unacked: set[ArgKey]


class OkxAdapter(Adapter):
    exchange: ClassVar[str] = "okx"
    topic_prefix: ClassVar[str] = "okx"
    keepalive_seconds: ClassVar[float] = 20.0
    # OKX allows 3 connection requests per second per IP; the margin absorbs the spread of
    # handshake latencies, so three connects never land inside one second.
    min_connect_interval_seconds = 0.35
    connect_limit = (3, 1.05)
    """OKX closes a connection after 30 s without traffic (close 4004); ping well before."""

    def __init__(
        self,
        subscriptions: Sequence[Mapping[str, Any]],
        credentials: Credentials | None = None,
        *,
        first_request_id: int = 1,
    ) -> None:
        """``first_request_id``: the id of the first request on each connection (then +1 each);
        settable so tests can reproduce the documentation's ``"id": "1512"``."""
        super().__init__(subscriptions, credentials)
        if first_request_id < 0:
            raise ValueError("first_request_id must not be negative")
        self._first_request_id = first_request_id
        self._push_destinations: dict[tuple[tuple[str, Any], ...], Destination] = {}
        # Configured args with string values, in configuration order, without duplicates.
        self.subscriptions = []
        self._configured: set[ArgKey] = set()
        self._add_configured([_normalize_arg(s) for s in subscriptions])
        self._reset_connection()

    def _reset_connection(self) -> None:
        self._state = _State.IDLE
        self._next_request_id = self._first_request_id
        self._pending: dict[str, _PendingRequest] = {}
        self._acked: set[ArgKey] = set()
        self._outbound = []

    # -- configuration --------------------------------------------------------------------------

    @classmethod
    def validate_subscription(cls, subscription: Mapping[str, Any]) -> None:
        _normalize_arg(subscription)

    def destinations(self) -> list[Destination]:
        return [destination_for(arg) for arg in self.subscriptions]

    def _add_configured(self, args: Sequence[Arg]) -> None:
        for arg in args:
            key = _arg_key(arg)
            if key not in self._configured:
                self._configured.add(key)
                self.subscriptions.append(arg)

    # -- outbound -------------------------------------------------------------------------------

    @property
    def _needs_login(self) -> bool:
        return self.credentials is not None and bool(self.credentials.api_key)

    def connection_made(self, now_s: float) -> None:
        self._reset_connection()
        if self._needs_login:
            self._state = _State.LOGGING_IN
            self._outbound.append(self._login_frame(str(int(now_s))))
        else:
            self._state = _State.READY
            self._queue_requests("subscribe", self.subscriptions)

    def subscribe(self, subscriptions: Sequence[Mapping[str, Any]]) -> None:
        """Add subscriptions. They join the configured set (and so :attr:`all_subscribed`);
        they are sent now when the connection is ready, else with the others after login."""
        args = [_normalize_arg(s) for s in subscriptions]
        self._add_configured(args)
        if self._state is _State.READY:
            self._queue_requests("subscribe", args)

    def unsubscribe(self, subscriptions: Sequence[Mapping[str, Any]]) -> None:
        """Unsubscribe on this connection. The args stay configured (a new connection
        subscribes them again), so an acked unsubscribe makes :attr:`all_subscribed` False.
        Before the connection is ready nothing is subscribed, so nothing is sent."""
        args = [_normalize_arg(s) for s in subscriptions]
        if self._state is _State.READY:
            self._queue_requests("unsubscribe", args)

    def ping(self) -> OutboundFrame:
        return "ping"

    def _login_frame(self, timestamp: str) -> str:
        assert self.credentials is not None
        credentials = self.credentials
        login_arg = {
            "apiKey": credentials.api_key,
            "passphrase": credentials.passphrase,
            "timestamp": timestamp,
            "sign": login_sign(credentials.secret_key, timestamp),
        }
        return _compact({"op": "login", "args": [login_arg]})

    def _queue_requests(self, op: Op, args: Sequence[Arg]) -> None:
        for batch in _batches(args):
            request_id = str(self._next_request_id)
            self._next_request_id += 1
            self._pending[request_id] = _PendingRequest(op, batch, {_arg_key(a) for a in batch})
            self._outbound.append(_compact({"id": request_id, "op": op, "args": batch}))

    # -- inbound --------------------------------------------------------------------------------

    def receive(self, data: str | bytes, received_us: int | None = None) -> list[Event]:
        try:
            return self._receive(data)
        except Exception as exc:
            # Deliberate safety net: receive() must never raise, or a bug here would escape
            # into the session loop and drop the connection. The frame goes to the dead-letter
            # topic with this reason (exception type and text), so the bug stays visible.
            return [Unrecognized(reason=f"adapter error: {type(exc).__name__}: {exc}")]

    def _receive(self, data: str | bytes) -> list[Event]:
        if isinstance(data, bytes):
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                return [Unrecognized(reason="binary frame is not UTF-8")]
        else:
            text = data
        if text == "pong":
            return [Pong()]
        if not text.strip():
            return [Unrecognized(reason="empty frame")]
        try:
            message = _loads(text)
        except json.JSONDecodeError as exc:
            return [Unrecognized(reason=f"not JSON: {exc.msg} at char {exc.pos}")]
        except (ValueError, RecursionError) as exc:
            return [Unrecognized(reason=f"not JSON: {exc}")]
        if not isinstance(message, dict):
            return [Unrecognized(reason=f"JSON {_json_type(message)} is not an object")]

        conn_id = _optional_text(message.get("connId"))
        if "event" in message:
            return self._on_event(message, conn_id)
        if "arg" in message or "data" in message:
            return self._on_push(message, conn_id)
        return [
            Unrecognized(reason="object has neither event nor arg/data", exchange_conn_id=conn_id)
        ]

    def _on_event(self, message: dict[str, Any], conn_id: str | None) -> list[Event]:
        event = message["event"]
        if event == "subscribe" or event == "unsubscribe":
            return self._on_ack(message, event, conn_id)
        if event == "login":
            return self._on_login(message, conn_id)
        if event == "error":
            return self._on_error(message, conn_id)
        if event == "notice":
            code = _text(message.get("code", ""))
            return [
                Notice(
                    code=code,
                    message=_text(message.get("msg", "")),
                    reconnect_advised=code == RECONNECT_NOTICE_CODE,
                    exchange_conn_id=conn_id,
                )
            ]
        if event == "channel-conn-count" or event == "channel-conn-count-error":
            known = ("event", "channel", "connCount", "connId")
            return [
                ChannelConnCount(
                    channel=_text(message.get("channel", "")),
                    conn_count=_text(message.get("connCount", "")),
                    error=event == "channel-conn-count-error",
                    attributes={k: _text(v) for k, v in message.items() if k not in known},
                    exchange_conn_id=conn_id,
                )
            ]
        return [
            Unrecognized(reason=f"unknown event {_text(event)[:80]!r}", exchange_conn_id=conn_id)
        ]

    def _on_ack(self, message: dict[str, Any], op: Op, conn_id: str | None) -> list[Event]:
        arg = _echoed_arg(message.get("arg"))
        if arg is None:
            return [Unrecognized(reason=f"{op} ack without a valid arg", exchange_conn_id=conn_id)]
        request_id = _optional_text(message.get("id"))
        key = _arg_key(arg)

        if request_id is not None and (pending := self._pending.get(request_id)) is not None:
            pending.unacked.discard(key)
            if not pending.unacked:
                del self._pending[request_id]

        configured = self._configured_keys_matching(arg)
        if op == "subscribe":
            self._acked.update(configured)
        else:
            self._acked.difference_update(configured)

        return [
            Subscribed(
                destination=destination_for(arg),
                op=op,
                request_id=request_id,
                exchange_conn_id=conn_id,
            )
        ]

    def _configured_keys_matching(self, arg: Arg) -> set[ArgKey]:
        key = _arg_key(arg)
        if key in self._configured:
            return {key}
        # The echo may carry fields we did not send (OKX adds some on private channels, such
        # as uid); a configured arg whose every field matches is the one acknowledged.
        return {c for c in self._configured if c <= key}

    def _on_login(self, message: dict[str, Any], conn_id: str | None) -> list[Event]:
        code = _text(message.get("code", ""))
        ok = code == "0"
        result = LoginResult(
            ok=ok, code=code, message=_text(message.get("msg", "")), exchange_conn_id=conn_id
        )
        if self._state is _State.LOGGING_IN:
            if ok:
                self._state = _State.READY
                self._queue_requests("subscribe", self.subscriptions)
            else:
                self._state = _State.LOGIN_FAILED
        return [result]

    def _on_error(self, message: dict[str, Any], conn_id: str | None) -> list[Event]:
        code = _text(message.get("code", ""))
        text = _text(message.get("msg", ""))
        request_id = _optional_text(message.get("id"))

        pending = self._pending.pop(request_id, None) if request_id is not None else None
        if pending is not None:
            return [
                SubscribeFailed(
                    destination=destination_for(arg),
                    op=pending.op,
                    code=code,
                    message=text,
                    request_id=request_id,
                    exchange_conn_id=conn_id,
                )
                for arg in pending.args
                if _arg_key(arg) in pending.unacked
            ]

        # The login frame carries no id, and nothing else is sent while it waits, so a 600xx
        # error in that window answers the login (documented: 60005 apiKey, 60006 timestamp
        # expired, 60007 sign, 60009 login failed, 60024 passphrase, 60031 repeated login;
        # the wider 600xx range also covers 60004, 60008, 60032 and codes added later).
        if self._state is _State.LOGGING_IN and code.startswith("600"):
            self._state = _State.LOGIN_FAILED
            return [LoginResult(ok=False, code=code, message=text, exchange_conn_id=conn_id)]

        return [
            ExchangeError(code=code, message=text, request_id=request_id, exchange_conn_id=conn_id)
        ]

    def _push_destination(self, value: Any) -> Destination | None:
        """``destination_for(_echoed_arg(value))``, remembered per arg: a connection pushes
        the same few args over and over. Only args whose values are all strings are
        remembered (as OKX sends them), so two args that differ only in type never share
        an entry; the memory is bounded whatever the server sends."""
        if not isinstance(value, dict):
            return None
        key = tuple(value.items())
        if all(type(v) is str for _, v in key):
            found = self._push_destinations.get(key)
            if found is None:
                arg = _echoed_arg(value)
                if arg is None:
                    return None
                if len(self._push_destinations) >= _MAX_REMEMBERED_ARGS:
                    self._push_destinations.clear()
                found = self._push_destinations[key] = destination_for(arg)
            return found
        arg = _echoed_arg(value)
        return None if arg is None else destination_for(arg)

    def _on_push(self, message: dict[str, Any], conn_id: str | None) -> list[Event]:
        destination = self._push_destination(message.get("arg"))
        if destination is None:
            return [
                Unrecognized(
                    reason="push without an arg object with a channel", exchange_conn_id=conn_id
                )
            ]
        data = message.get("data")
        if not isinstance(data, list):
            return [
                Unrecognized(
                    reason=f"push data is a JSON {_json_type(data)}, not an array",
                    exchange_conn_id=conn_id,
                )
            ]
        action = message.get("action")
        if action is not None and not isinstance(action, str):
            return [Unrecognized(reason="push action is not a string", exchange_conn_id=conn_id)]

        typed = _TYPED_CHANNELS.get(destination.channel)
        events: list[Event] = []
        for index, element in enumerate(data):
            try:
                if typed is not None:
                    payload_type, payload = typed.payload_type, _typed_payload(typed, element)
                else:
                    payload_type = _GENERIC_PAYLOAD_TYPE
                    payload = {"action": action, "data": _compact(element)}
            except _BadElement as exc:
                events.append(
                    Unrecognized(
                        reason=f"{destination.channel} data[{index}]: {exc}",
                        exchange_conn_id=conn_id,
                    )
                )
                continue
            events.append(
                Push(
                    destination=destination,
                    payload_type=payload_type,
                    payload=payload,
                    event_time_ms=_event_time(element),
                    identity=_identity(action, element),
                    exchange_conn_id=conn_id,
                )
            )
        return events

    # -- state ----------------------------------------------------------------------------------

    @property
    def all_subscribed(self) -> bool:
        return self._state is _State.READY and self._configured <= self._acked

    def close_reason(self, code: int | None) -> str:
        if code is not None and code in _CLOSE_REASONS:
            return _CLOSE_REASONS[code]
        return super().close_reason(code)
