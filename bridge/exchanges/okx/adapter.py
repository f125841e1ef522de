"""OKX v5 WebSocket adapter (``/ws/v5/public``, ``/private`` and ``/business``), sans-I/O.

Outbound, per connection::

    connection_made(now_s)  with credentials: the login frame, then (after the login is
                            acknowledged) the subscribe frames; without: the subscribe frames
    ping()                  the text frame ``ping`` (the server answers ``pong``)

Inbound, :meth:`OkxAdapter.classify` turns one frame into events:

    pong                                -> Pong
    {"event":"subscribe"|"unsubscribe"} -> Subscribed (one per argument; OKX acks each one)
    {"event":"login","code":"0"}        -> LoginResult(ok=True)
    {"event":"error"}                   -> SubscribeFailed per argument of the request it names,
                                           LoginResult(ok=False) while a login is waiting,
                                           ExchangeError otherwise
    {"event":"notice"}                  -> Notice (64008: reconnect advised)
    {"event":"channel-conn-count[-error]"} -> ChannelConnCount
    {"arg":{...},"data":[...]}          -> Push per element of data: a typed record for the
                                           channels of channels.py, the element's exact text
                                           for any other (payloads.py); on book channels,
                                           ResyncRequired after a push that breaks the book
    anything else                       -> Unrecognized

After a book push fails its check (book.py), the adapter unsubscribes and subscribes that one
arg again; the new snapshot starts the book afresh. The rest of the connection is untouched.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from bridge.exchanges import wire
from bridge.exchanges.base import Adapter, Credentials, LoginState, OutboundFrame, RequestIds
from bridge.exchanges.events import (
    ChannelConnCount,
    Destination,
    Event,
    ExchangeError,
    LoginResult,
    Notice,
    Pong,
    Push,
    ResyncRequired,
    Subscribed,
    SubscribeFailed,
    Unrecognized,
)
from bridge.exchanges.okx import payloads
from bridge.exchanges.okx.args import (
    TOPIC_GROUP,
    Arg,
    ArgKey,
    arg_key,
    batches,
    configured_args,
    destination_for,
    echoed_arg,
    normalize_arg,
)
from bridge.exchanges.okx.book import BookKey, LocalBooks, book_element, book_identity
from bridge.exchanges.okx.channels import (
    BAR_FAMILIES,
    GENERIC_PAYLOAD_TYPE,
    GENERIC_SCHEMA,
    TYPED_CHANNELS,
    TypedChannel,
    typed_channel,
)
from bridge.topics import TopicFamily, channel_topic, topic_family

LOGIN_VERIFY_PATH = "/users/self/verify"
"""The request path that the OKX WebSocket login signature covers."""

RECONNECT_NOTICE_CODE = "64008"
"""Notice sent about 60 s before the server closes the connection for an upgrade."""

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

_MAX_REMEMBERED_ARGS = 1024

# The first channel a frame names, found without decoding it (see OkxAdapter.parse).
_CHANNEL_PEEK = re.compile(r'"channel":"([^"\\]{1,200})"')
_PEEK_CHARS = 512

Op = Literal["subscribe", "unsubscribe"]


@dataclass(frozen=True, slots=True)
class _Parsed:
    """A decoded frame, the exact text of each element of its ``data`` (None when the frame
    was decoded without them), and its text."""

    value: Any
    elements: list[wire.Element] | None
    text: str


def login_sign(secret_key: str, timestamp: str) -> str:
    """``base64(HMAC-SHA256(secret, timestamp + "GET" + "/users/self/verify"))``.

    The OKX simulator (``bridge/sandbox``) computes the same signature on purpose, as the
    other side of the protocol: an independent oracle, not a copy to share."""
    message = f"{timestamp}GET{LOGIN_VERIFY_PATH}".encode()
    digest = hmac.new(secret_key.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


@dataclass(slots=True)
class _PendingRequest:
    """A request sent on this connection: its args, and those not acked yet."""

    args: list[Arg]
    unacked: set[ArgKey]
    op: Op = "subscribe"


class OkxAdapter(Adapter):
    exchange: ClassVar[str] = "okx"
    topic_group: ClassVar[str] = TOPIC_GROUP
    keepalive_seconds: ClassVar[float] = 20.0
    """OKX closes a connection after 30 s without traffic (close 4004); ping well before."""
    # OKX allows 3 connection requests per second per IP; the margin absorbs the spread of
    # handshake latencies, so three connects never land inside one second.
    min_connect_interval_seconds = 0.35
    connect_limit = (3, 1.05)

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
        self._request_ids = RequestIds(first_request_id)
        self._push_destinations: dict[
            tuple[tuple[str, Any], ...], tuple[Destination, TypedChannel | None]
        ] = {}
        # Configured args with string values, in configuration order, without duplicates.
        self.subscriptions = configured_args(subscriptions)
        self._configured: set[ArgKey] = {arg_key(arg) for arg in self.subscriptions}
        self._reset_connection()

    def _reset_connection(self) -> None:
        self._state = LoginState.IDLE
        self._request_ids.reset()
        self._pending: dict[str, _PendingRequest] = {}
        self._acked: set[ArgKey] = set()
        self._books = LocalBooks()
        self._outbound = []

    # -- configuration --------------------------------------------------------------------------

    @classmethod
    def validate_subscription(cls, subscription: Mapping[str, Any]) -> None:
        normalize_arg(subscription)

    @classmethod
    def destinations(cls, subscriptions: Sequence[Mapping[str, Any]]) -> list[Destination]:
        return [destination_for(arg) for arg in configured_args(subscriptions)]

    @classmethod
    def topic_families(cls) -> list[TopicFamily]:
        typed = [
            topic_family(channel_topic(TOPIC_GROUP, channel), typed.schema)
            for channel, typed in TYPED_CHANNELS.items()
        ]
        # One family per candle kind: okx.candle1m, okx.mark-price-candle1Dutc, ...
        bars = [
            topic_family(channel_topic(TOPIC_GROUP, f"{family}<bar>"), typed.schema)
            for family, typed in BAR_FAMILIES.items()
        ]
        # Any other channel, typed by no schema: its elements as JSON text.
        generic = topic_family(channel_topic(TOPIC_GROUP, "<channel>"), GENERIC_SCHEMA)
        return [*typed, *bars, generic]

    # -- outbound -------------------------------------------------------------------------------

    def connection_made(self, now_s: float) -> None:
        self._reset_connection()
        if self.has_api_key:
            self._state = LoginState.LOGGING_IN
            self._outbound.append(self._login_frame(str(int(now_s))))
        else:
            self._state = LoginState.READY
            self._queue_subscribe(self.subscriptions)

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
        return wire.compact({"op": "login", "args": [login_arg]})

    def _queue_subscribe(self, args: Sequence[Arg]) -> None:
        for batch in batches(args):
            self._queue_request("subscribe", batch)

    def _queue_request(self, op: Op, args: list[Arg]) -> None:
        request_id = str(self._request_ids.take())
        self._pending[request_id] = _PendingRequest(args, {arg_key(a) for a in args}, op)
        self._outbound.append(wire.compact({"id": request_id, "op": op, "args": args}))

    def _queue_resync(self, destination: Destination) -> None:
        """Unsubscribe and subscribe again the one arg ``destination`` stands for (the
        configured arg it matches, else the arg as the exchange echoed it)."""
        echoed = arg_key(destination.arg)
        arg = next((a for a in self.subscriptions if arg_key(a) <= echoed), dict(destination.arg))
        self._queue_request("unsubscribe", [arg])
        self._queue_request("subscribe", [arg])

    # -- inbound --------------------------------------------------------------------------------

    def decode_frame(self, data: str | bytes) -> str | Event:
        text = super().decode_frame(data)
        return Pong() if text == "pong" else text

    def parse(self, text: str) -> _Parsed:
        """The frame, and the exact text of each element of its ``data`` array when the frame
        may be a push on a channel carried generically (whose record is that text).

        Typed channels need no element texts, and the plain strict decoder takes a third of
        the time, so a frame whose first channel (found without decoding) is typed is decoded
        with it. Should that decoder refuse the frame (an element with a key twice is refused
        by it, but only dead-letters that element), the frame is decoded with the texts after
        all, which also words the reason of a frame that is not JSON."""
        peek = _CHANNEL_PEEK.search(text, 0, _PEEK_CHARS)
        if peek is not None and typed_channel(peek[1]) is not None:
            try:
                return _Parsed(wire.loads(text), None, text)
            except wire.WireError:
                pass
        return _Parsed(*wire.loads_with_texts(text, "data"), text)

    def classify(self, message: Any, received_us: int | None) -> list[Event]:
        assert isinstance(message, _Parsed)
        value, elements = message.value, message.elements
        if not isinstance(value, dict):
            return [self.unrecognized(f"JSON {wire.json_type(value)} is not an object")]
        conn_id = wire.optional_text(value.get("connId"))
        if "event" in value:
            return self._on_event(value, conn_id)
        if "arg" in value or "data" in value:
            return self._on_push(value, elements, message.text, conn_id)
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
            code = wire.text(message.get("code", ""))
            return [
                Notice(
                    code=code,
                    message=wire.text(message.get("msg", "")),
                    reconnect_advised=code == RECONNECT_NOTICE_CODE,
                    exchange_conn_id=conn_id,
                )
            ]
        if event == "channel-conn-count" or event == "channel-conn-count-error":
            known = ("event", "channel", "connCount", "connId")
            return [
                ChannelConnCount(
                    channel=wire.text(message.get("channel", "")),
                    conn_count=wire.text(message.get("connCount", "")),
                    error=event == "channel-conn-count-error",
                    attributes={k: wire.text(v) for k, v in message.items() if k not in known},
                    exchange_conn_id=conn_id,
                )
            ]
        return [
            Unrecognized(
                reason=f"unknown event {wire.text(event)[:80]!r}", exchange_conn_id=conn_id
            )
        ]

    def _on_ack(self, message: dict[str, Any], op: Op, conn_id: str | None) -> list[Event]:
        arg = echoed_arg(message.get("arg"))
        if arg is None:
            return [Unrecognized(reason=f"{op} ack without a valid arg", exchange_conn_id=conn_id)]
        request_id = wire.optional_text(message.get("id"))
        key = arg_key(arg)

        if request_id is not None and (pending := self._pending.get(request_id)) is not None:
            pending.unacked.discard(key)
            if not pending.unacked:
                del self._pending[request_id]

        configured = self._configured_keys_matching(arg)
        if op == "subscribe":
            self._acked.update(configured)
        else:
            self._acked.difference_update(configured)
            self._books.forget(_book_key(arg))  # the next subscribe starts with a snapshot

        return [
            Subscribed(
                destination=destination_for(arg),
                op=op,
                request_id=request_id,
                exchange_conn_id=conn_id,
            )
        ]

    def _configured_keys_matching(self, arg: Arg) -> set[ArgKey]:
        key = arg_key(arg)
        if key in self._configured:
            return {key}
        # The echo may carry fields we did not send (OKX adds some on private channels, such
        # as uid); a configured arg whose every field matches is the one acknowledged.
        return {c for c in self._configured if c <= key}

    def _on_login(self, message: dict[str, Any], conn_id: str | None) -> list[Event]:
        code = wire.text(message.get("code", ""))
        ok = code == "0"
        result = LoginResult(
            ok=ok, code=code, message=wire.text(message.get("msg", "")), exchange_conn_id=conn_id
        )
        if self._state is LoginState.LOGGING_IN:
            if ok:
                self._state = LoginState.READY
                self._queue_subscribe(self.subscriptions)
            else:
                self._state = LoginState.LOGIN_FAILED
        return [result]

    def _on_error(self, message: dict[str, Any], conn_id: str | None) -> list[Event]:
        code = wire.text(message.get("code", ""))
        text = wire.text(message.get("msg", ""))
        request_id = wire.optional_text(message.get("id"))

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
                if arg_key(arg) in pending.unacked
            ]

        # The login frame carries no id, and nothing else is sent while it waits, so a 600xx
        # error in that window answers the login (documented: 60005 apiKey, 60006 timestamp
        # expired, 60007 sign, 60009 login failed, 60024 passphrase, 60031 repeated login;
        # the wider 600xx range also covers 60004, 60008, 60032 and codes added later).
        if self._state is LoginState.LOGGING_IN and code.startswith("600"):
            self._state = LoginState.LOGIN_FAILED
            return [LoginResult(ok=False, code=code, message=text, exchange_conn_id=conn_id)]

        return [
            ExchangeError(code=code, message=text, request_id=request_id, exchange_conn_id=conn_id)
        ]

    def _push_destination(self, value: Any) -> tuple[Destination, TypedChannel | None] | None:
        """``destination_for(echoed_arg(value))`` and the channel's typed record, remembered
        per arg: a connection pushes the same few args over and over. Only args whose values
        are all strings are remembered (as OKX sends them), so two args that differ only in
        type never share an entry; the memory is bounded whatever the server sends."""
        if not isinstance(value, dict):
            return None
        key = tuple(value.items())
        remember = all(type(v) is str for _, v in key)
        if remember and (found := self._push_destinations.get(key)) is not None:
            return found
        arg = echoed_arg(value)
        if arg is None:
            return None
        result = (destination_for(arg), typed_channel(arg["channel"]))
        if remember:
            if len(self._push_destinations) >= _MAX_REMEMBERED_ARGS:
                self._push_destinations.clear()
            self._push_destinations[key] = result
        return result

    def _on_push(
        self,
        message: dict[str, Any],
        elements: list[wire.Element] | None,
        text: str,
        conn_id: str | None,
    ) -> list[Event]:
        found = self._push_destination(message.get("arg"))
        if found is None:
            return [
                Unrecognized(
                    reason="push without an arg object with a channel", exchange_conn_id=conn_id
                )
            ]
        destination, typed = found
        data = message.get("data")
        if not isinstance(data, list):
            return [
                Unrecognized(
                    reason=f"push data is a JSON {wire.json_type(data)}, not an array",
                    exchange_conn_id=conn_id,
                )
            ]
        action = message.get("action")
        if action is not None and not wire.is_string(action):
            return [Unrecognized(reason="push action is not a string", exchange_conn_id=conn_id)]
        if typed is None:
            if elements is None:  # decoded without the texts the generic record carries
                elements = wire.loads_with_texts(text, "data")[1]
                assert elements is not None  # data is an array
            return self._generic(destination, action, data, elements, conn_id)
        if typed.book:
            return self._on_book(destination, typed, action, data, elements, conn_id)
        try:
            push = payloads.push_values(typed, message)
        except wire.BadElement as exc:
            return [Unrecognized(reason=f"{destination.channel}: {exc}", exchange_conn_id=conn_id)]
        events: list[Event] = []
        for index, element in enumerate(data):
            try:
                _refuse_duplicate_keys(elements, index)
                payload = payloads.typed_payload(typed, element, push)
            except wire.BadElement as exc:
                events.append(self._bad_element(destination, index, exc, conn_id))
                continue
            events.append(
                Push(
                    destination=destination,
                    payload_type=typed.payload_type,
                    payload=payload,
                    event_time_ms=typed.event_time(payload) if typed.event_time else None,
                    identity=payloads.identity(action, element),
                    exchange_conn_id=conn_id,
                )
            )
        return events

    def _generic(
        self,
        destination: Destination,
        action: str | None,
        data: list[Any],
        elements: list[wire.Element],
        conn_id: str | None,
    ) -> list[Event]:
        return [
            Push(
                destination=destination,
                payload_type=GENERIC_PAYLOAD_TYPE,
                payload=payloads.generic_payload(action, exact),
                # An element with a key twice has no one ts: it has none.
                event_time_ms=(
                    payloads.event_time(element) if exact.duplicate_key is None else None
                ),
                identity=payloads.identity(action, element, exact),
                exchange_conn_id=conn_id,
            )
            for element, exact in zip(data, elements, strict=True)
        ]

    def _on_book(
        self,
        destination: Destination,
        typed: TypedChannel,
        action: str | None,
        data: list[Any],
        elements: list[wire.Element] | None,
        conn_id: str | None,
    ) -> list[Event]:
        """Book elements: typed, applied to the bridge's copy of the book and checked; after
        the first element that breaks the book, a ResyncRequired and the frames that resync
        that one arg."""
        key = _book_key(destination.arg)
        events: list[Event] = []
        failure: str | None = None
        for index, element in enumerate(data):
            try:
                _refuse_duplicate_keys(elements, index)
                book = book_element(action, element)
            except wire.BadElement as exc:
                events.append(self._bad_element(destination, index, exc, conn_id))
                continue
            broke = self._books.check(key, action, book)
            events.append(
                Push(
                    destination=destination,
                    payload_type=typed.payload_type,
                    payload=book.payload,
                    event_time_ms=book.payload["ts"],
                    identity=book_identity(action, book) or payloads.identity(action, element),
                    exchange_conn_id=conn_id,
                )
            )
            failure = failure or broke
        if failure is not None:
            events.append(
                ResyncRequired(destination=destination, reason=failure, exchange_conn_id=conn_id)
            )
            self._queue_resync(destination)
        return events

    @staticmethod
    def _bad_element(
        destination: Destination, index: int, exc: wire.BadElement, conn_id: str | None
    ) -> Unrecognized:
        return Unrecognized(
            reason=f"{destination.channel} data[{index}]: {exc}", exchange_conn_id=conn_id
        )

    # -- state ----------------------------------------------------------------------------------

    @property
    def all_subscribed(self) -> bool:
        return self._state is LoginState.READY and self._configured <= self._acked

    def close_reason(self, code: int | None) -> str:
        if code is not None and code in _CLOSE_REASONS:
            return _CLOSE_REASONS[code]
        return super().close_reason(code)


def _book_key(arg: Mapping[str, str]) -> BookKey:
    """The book an arg subscribes to: (channel, instId)."""
    return arg.get("channel", ""), arg.get("instId", "")


def _refuse_duplicate_keys(elements: list[wire.Element] | None, index: int) -> None:
    """A typed record cannot hold both values of a key sent twice: that element is refused
    (its text is on the raw topic and the dead letter)."""
    if elements is not None and (duplicate := elements[index].duplicate_key) is not None:
        raise wire.BadElement(f"duplicate key {duplicate[:80]!r} in one object")
