"""Legacy OKEx v1 spot WebSocket adapter (``wss://real.okex.com:10440/ws/v1``), sans-I/O.

Outbound, per connection (always strict JSON, though the documentation's examples use single
quotes)::

    connection_made(now_s)  with credentials: the login frame, then (once the login is
                            acknowledged) every configured request (addChannel: one object,
                            or a JSON array (batch) for several); without: the requests
    ping()                  {"event":"ping"} (the server answers {"event":"pong"})

Configured subscriptions are ``{channel: ok_sub_spot_bch_btc_ticker}`` with optional
``parameters`` (sent as they are) and ``binary: 0|1`` (asks the server for compressed frames),
or one of the two read-only trade API requests ``ok_spot_userinfo`` / ``ok_spot_orderinfo``
(signed with the credentials, sent once per connection and again every ``interval_seconds``).
The bridge never sends ``ok_spot_order`` or ``ok_spot_cancel_order``.

Inbound, :meth:`OkexV1Adapter.receive` takes one frame: a text frame is JSON, a binary frame
is raw deflate (no zlib header) around JSON, decided per frame (:meth:`decode_frame`). The
server sends arrays of ``{"channel": ..., "data": ...}`` objects (one event or more per
element), or ``{"event":"pong"}``:

    {"event":"pong"}                              -> Pong
    channel addChannel / removeChannel            -> Subscribed (op subscribe / unsubscribe)
    channel login                                 -> LoginResult
    an error (result false, error_code) naming a
    channel we know                               -> SubscribeFailed on that channel
    an error naming none                          -> ExchangeError (goes to okex.events)
    ok_sub_spot_X_{ticker,depth,depth_Y,deals,
    kline_Y,order,balance}                        -> Push, one per logical item (ticker,
                                                     depth push, deal row, kline row, ...)
    ok_spot_userinfo / ok_spot_orderinfo          -> Push (+ Subscribed for the first answer
                                                     to a configured request on a connection)
    ok_spot_order / ok_spot_cancel_order          -> Push of a SpotOrderResult on okex.spot.order
    anything else                                 -> Unrecognized

Channel names: channels.py; configuration: subscriptions.py; payloads: payloads.py.
"""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from bridge.exchanges import wire
from bridge.exchanges.base import Adapter, Credentials, LoginState, OutboundFrame
from bridge.exchanges.events import (
    Destination,
    Event,
    ExchangeError,
    LoginResult,
    Pong,
    Push,
    Subscribed,
    SubscribeFailed,
    Unrecognized,
)
from bridge.exchanges.okex_v1 import payloads
from bridge.exchanges.okex_v1.channels import (
    TOPIC_GROUP,
    ChannelInfo,
    Kind,
    destination_for,
    parse_channel,
    sign,
    topic_families,
)
from bridge.exchanges.okex_v1.subscriptions import (
    Subscription,
    SubscriptionKey,
    configured,
    normalize,
)
from bridge.exchanges.wire import BadElement
from bridge.topics import TopicFamily

MAX_INFLATED_BYTES = 16 * 1024 * 1024
"""A compressed frame that inflates to more than this is refused (a deflate bomb)."""

# Error codes that answer a login when they arrive without a channel while it is pending:
# 10002 authentication failure, 10005 api_key or sign invalid, 10017 websocket authorization
# error, 20102 invalid login.
_LOGIN_ERROR_CODES = frozenset({"10002", "10005", "10017", "20102"})

Op = Literal["subscribe", "unsubscribe"]


def inflate(data: bytes, limit: int = MAX_INFLATED_BYTES) -> bytes:
    """Inflate a raw deflate stream (no zlib header or checksum), as the server compresses
    frames. Raises ``zlib.error`` on bad data and ValueError past ``limit`` bytes."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    out = inflater.decompress(data, limit)
    if inflater.unconsumed_tail:
        raise ValueError(f"inflates to more than {limit} bytes")
    # The stream may end with a sync flush rather than a final block, as real servers did.
    return out + inflater.flush()


@dataclass(slots=True)
class _Schedule:
    subscription: Subscription
    next_due_us: int | None = None


@dataclass(slots=True)
class _Connection:
    """Per-connection state (a reconnect starts afresh)."""

    state: LoginState = LoginState.IDLE
    acked: set[SubscriptionKey] = field(default_factory=set)
    # Channels whose next ok_sub_spot_X_depth push is the full book.
    depth_snapshot_due: set[str] = field(default_factory=set)
    # Requests sent and not answered yet, per channel, oldest first (answers come in order).
    pending: dict[str, deque[Subscription]] = field(default_factory=dict)
    schedules: list[_Schedule] = field(default_factory=list)


_PENDING_LIMIT = 100
"""Unanswered requests remembered per channel; older ones are forgotten."""


class OkexV1Adapter(Adapter):
    exchange: ClassVar[str] = "okex_v1"
    topic_group: ClassVar[str] = TOPIC_GROUP
    # The documented heartbeat is every 30 s; pinging at 25 s keeps the line busy before any
    # server idle close at 30 s.
    keepalive_seconds: ClassVar[float] = 25.0

    def __init__(
        self,
        subscriptions: Sequence[Mapping[str, Any]],
        credentials: Credentials | None = None,
    ) -> None:
        super().__init__(subscriptions, credentials)
        self._configured = configured(subscriptions)
        self.subscriptions = [self._as_config(s) for s in self._configured]
        self._conn = _Connection()

    @staticmethod
    def _as_config(sub: Subscription) -> dict[str, Any]:
        config: dict[str, Any] = {"channel": sub.info.channel}
        if sub.parameters:
            config["parameters"] = dict(sub.parameters)
        if sub.binary is not None:
            config["binary"] = sub.binary
        if sub.interval_seconds is not None:
            config["interval_seconds"] = sub.interval_seconds
        return config

    # -- configuration ------------------------------------------------------------------------

    @classmethod
    def validate_subscription(cls, subscription: Mapping[str, Any]) -> None:
        normalize(subscription)

    @classmethod
    def destinations(cls, subscriptions: Sequence[Mapping[str, Any]]) -> list[Destination]:
        seen: set[tuple[str, str]] = set()
        out = []
        for sub in configured(subscriptions):
            destination = sub.destination
            if (destination.topic, destination.key) not in seen:
                seen.add((destination.topic, destination.key))
                out.append(destination)
        return out

    @classmethod
    def topic_families(cls) -> list[TopicFamily]:
        return topic_families()

    # -- outbound -------------------------------------------------------------------------------

    def connection_made(self, now_s: float) -> None:
        self._conn = _Connection()
        self._outbound = []
        if self.has_api_key:
            assert self.credentials is not None
            self._conn.state = LoginState.LOGGING_IN
            api_key = self.credentials.api_key
            login_sign = sign({"api_key": api_key}, self.credentials.secret_key)
            self._outbound.append(
                wire.compact(
                    {"event": "login", "parameters": {"api_key": api_key, "sign": login_sign}}
                )
            )
        else:
            self._ready(int(now_s * 1_000_000))

    def _ready(self, now_us: int | None) -> None:
        self._conn.state = LoginState.READY
        self._conn.schedules = [
            _Schedule(s) for s in self._configured if s.interval_seconds is not None
        ]
        self._conn.depth_snapshot_due = {
            s.info.channel for s in self._configured if s.info.kind is Kind.DEPTH
        }
        self._queue(self._configured)
        self._reschedule(self._conn.schedules, now_us)

    def ping(self) -> OutboundFrame:
        return '{"event":"ping"}'

    def _request(self, sub: Subscription) -> dict[str, Any]:
        request: dict[str, Any] = {"event": "addChannel", "channel": sub.info.channel}
        parameters = dict(sub.parameters)
        if sub.info.is_request and self.credentials is not None and self.credentials.api_key:
            # Trade API requests carry their own signature (api_key and sign first, as the
            # documentation writes them); without credentials they go unsigned and the
            # exchange's error is recorded.
            api_key = self.credentials.api_key
            signature = sign({"api_key": api_key, **parameters}, self.credentials.secret_key)
            parameters = {"api_key": api_key, "sign": signature, **parameters}
        if parameters:
            request["parameters"] = parameters
        if sub.binary is not None:
            request["binary"] = sub.binary
        return request

    def _queue(self, subs: Sequence[Subscription]) -> None:
        """One addChannel frame: a single request object, or a JSON array of them (batch)."""
        if not subs:
            return
        requests = [self._request(s) for s in subs]
        for sub in subs:
            if sub.info.is_request:
                self._remember_pending(sub)
        self._outbound.append(wire.compact(requests[0] if len(requests) == 1 else requests))

    def _remember_pending(self, sub: Subscription) -> None:
        pending = self._conn.pending.setdefault(sub.info.channel, deque(maxlen=_PENDING_LIMIT))
        pending.append(sub)

    def _reschedule(self, schedules: Sequence[_Schedule], now_us: int | None) -> None:
        for schedule in schedules:
            interval = schedule.subscription.interval_seconds
            if now_us is not None and interval is not None:
                schedule.next_due_us = now_us + int(interval * 1_000_000)

    def _send_due_requests(self, now_us: int) -> None:
        """Repeat scheduled requests whose interval has passed. The adapter has no clock: its
        "now" is the receive time of each frame and the time of each :meth:`tick` (about once a
        second from the session), so a request is late by at most about a second."""
        due = []
        for schedule in self._conn.schedules:
            if schedule.next_due_us is None:
                self._reschedule([schedule], now_us)  # the first send had no time
            elif schedule.next_due_us <= now_us:
                due.append(schedule)
        for schedule in due:
            self._queue([schedule.subscription])
        self._reschedule(due, now_us)

    # -- inbound --------------------------------------------------------------------------------

    def decode_frame(self, data: str | bytes) -> str | Event:
        """Text frames are JSON; binary frames raw deflate around JSON."""
        if isinstance(data, str):
            return data
        try:
            raw = inflate(data)
        except (zlib.error, ValueError) as exc:
            return Unrecognized(reason=f"binary frame is not raw deflate: {exc}")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return Unrecognized(reason="inflated frame is not UTF-8")

    def frame_received(self, received_us: int) -> None:
        if self._conn.state is LoginState.READY:
            self._send_due_requests(received_us)

    def tick(self, now_s: float) -> None:
        # A quiet line has no frames to tell the time by: the session's tick is the clock then.
        if self._conn.state is LoginState.READY:
            self._send_due_requests(int(now_s * 1_000_000))

    def classify(self, message: Any, received_us: int | None) -> list[Event]:
        if isinstance(message, dict):
            if "event" in message:
                return [self._on_event(message)]
            if "channel" in message or "data" in message:
                message = [message]  # one response element without its array
            else:
                return [Unrecognized(reason="object has neither event nor channel/data")]
        if not isinstance(message, list):
            return [Unrecognized(reason=f"JSON {wire.json_type(message)} is not an array")]
        if not message:
            return [Unrecognized(reason="empty array")]
        events: list[Event] = []
        for index, element in enumerate(message):
            events.extend(self._on_element(index, element, received_us))
        return events

    def _on_event(self, message: dict[str, Any]) -> Event:
        event = message["event"]
        if event == "pong":
            return Pong()
        return Unrecognized(reason=f"unknown event object {wire.text(event)[:80]!r}")

    def _on_element(self, index: int, element: Any, received_us: int | None) -> list[Event]:
        if not isinstance(element, dict):
            return [Unrecognized(reason=f"[{index}] is a JSON {wire.json_type(element)}")]
        channel = element.get("channel")
        error = payloads.error_of(element)
        if channel in ("addChannel", "removeChannel"):
            op: Op = "subscribe" if channel == "addChannel" else "unsubscribe"
            return [self._on_ack(index, element, op, error)]
        if channel == "login":
            return [self._on_login(error)]
        if not isinstance(channel, str) or not channel:
            if error is not None:
                return [self._exchange_error(error, None)]
            return [Unrecognized(reason=f"[{index}] has no channel")]
        info = parse_channel(channel)
        if info is None:
            if error is not None:
                return [self._exchange_error(error, channel)]
            return [Unrecognized(reason=f"[{index}] unknown channel {channel[:80]!r}")]
        try:
            return self._on_channel(info, element, error, received_us)
        except BadElement as exc:
            return [Unrecognized(reason=f"{channel}: {exc}")]

    def _exchange_error(self, error: tuple[str, str], channel: str | None) -> Event:
        code, message = error
        # Nothing but the login is sent while it waits, so a login error code that names no
        # channel in that window answers the login.
        if self._conn.state is LoginState.LOGGING_IN and code in _LOGIN_ERROR_CODES:
            self._conn.state = LoginState.LOGIN_FAILED
            return LoginResult(ok=False, code=code, message=message)
        # v1 requests carry no id: the channel is what identifies the request answered.
        return ExchangeError(code=code, message=message, request_id=channel)

    def _on_ack(
        self, index: int, element: dict[str, Any], op: Op, error: tuple[str, str] | None
    ) -> Event:
        data = element.get("data")
        target = data.get("channel") if isinstance(data, dict) else None
        info = parse_channel(target) if isinstance(target, str) and target else None
        if error is not None:
            if info is None:
                return self._exchange_error(error, target if isinstance(target, str) else None)
            code, message = error
            return SubscribeFailed(
                destination=self._destination(info), op=op, code=code, message=message
            )
        if info is None:
            shown = wire.text(target)[:80] if target is not None else "nothing"
            return Unrecognized(reason=f"[{index}] {op} ack names {shown}, not a known channel")
        matching = {s.key for s in self._configured if s.info.channel == info.channel}
        if op == "subscribe":
            self._conn.acked.update(matching)
            if info.kind is Kind.DEPTH:
                self._conn.depth_snapshot_due.add(info.channel)
        else:
            self._conn.acked.difference_update(matching)
        return Subscribed(destination=self._destination(info), op=op)

    def _destination(self, info: ChannelInfo) -> Destination:
        """A channel's destination; for requests, that of the oldest unanswered request."""
        if info.is_request:
            pending = self._conn.pending.get(info.channel)
            if pending:
                return pending[0].destination
            configured = [s for s in self._configured if s.info.channel == info.channel]
            if len(configured) == 1:
                return configured[0].destination
        return destination_for(info)

    def _on_login(self, error: tuple[str, str] | None) -> Event:
        ok = error is None
        code, message = error if error is not None else ("", "")
        if self._conn.state is LoginState.LOGGING_IN:
            if ok:
                self._ready(None)
            else:
                self._conn.state = LoginState.LOGIN_FAILED
        return LoginResult(ok=ok, code=code, message=message)

    def _on_channel(
        self,
        info: ChannelInfo,
        element: dict[str, Any],
        error: tuple[str, str] | None,
        received_us: int | None,
    ) -> list[Event]:
        if info.kind is Kind.ORDER_RESULT:
            # Answers to order / cancel requests are recorded as they are, failures included.
            return [
                self._push(
                    destination_for(info),
                    info,
                    payloads.order_result_payload(element, info.channel),
                )
            ]
        if info.is_request:
            return self._on_request_answer(info, element, error)
        destination = destination_for(info)
        if error is not None:
            code, message = error
            return [
                SubscribeFailed(destination=destination, op="subscribe", code=code, message=message)
            ]
        match info.kind:
            case Kind.TICKER:
                payload = payloads.ticker_payload(element)
                return [self._push(destination, info, payload, payload["timestamp"])]
            case Kind.DEPTH | Kind.DEPTH_FULL:
                return [self._on_depth(destination, info, element)]
            case Kind.DEALS:
                return self._rows(
                    destination, info, element, 5, lambda r: payloads.deal_payload(r, received_us)
                )
            case Kind.KLINE:
                return self._rows(destination, info, element, 6, payloads.kline_payload)
            case Kind.ORDER:
                payload = payloads.order_payload(element)
                return [self._push(destination, info, payload, payload["createdDate"])]
            case Kind.BALANCE:
                return [self._push(destination, info, payloads.balance_payload(element))]
        raise AssertionError(f"unhandled channel kind {info.kind}")  # pragma: no cover

    def _on_depth(
        self, destination: Destination, info: ChannelInfo, element: dict[str, Any]
    ) -> Event:
        if info.kind is Kind.DEPTH_FULL:
            action = "snapshot"
        else:
            snapshot = info.channel in self._conn.depth_snapshot_due
            action = "snapshot" if snapshot else "update"
        payload = payloads.depth_payload(element, action)
        # Only a push that could be typed uses up the snapshot.
        self._conn.depth_snapshot_due.discard(info.channel)
        return self._push(destination, info, payload, payload["timestamp"])

    def _rows(
        self,
        destination: Destination,
        info: ChannelInfo,
        element: dict[str, Any],
        columns: int,
        build: Callable[[list[Any]], dict[str, Any]],
    ) -> list[Event]:
        rows = payloads.array("data", element.get("data"))
        # Row records have no fields beside the row: unknown fields beside data go into each
        # row's extra, so nothing is lost.
        beside = payloads.envelope_extras(element)
        events: list[Event] = []
        for i, value in enumerate(rows):
            try:
                payload = build(payloads.row_of(f"data[{i}]", value, columns))
            except BadElement as exc:
                events.append(Unrecognized(reason=f"{info.channel} data[{i}]: {exc}"))
                continue
            payload["extra"].update(beside)
            time_ms = payload.get("timestamp", payload.get("time"))
            events.append(self._push(destination, info, payload, time_ms))
        return events

    def _on_request_answer(
        self, info: ChannelInfo, element: dict[str, Any], error: tuple[str, str] | None
    ) -> list[Event]:
        pending = self._conn.pending.get(info.channel)
        request = pending.popleft() if pending else None
        destination = request.destination if request is not None else self._destination(info)
        if error is not None:
            code, message = error
            return [
                SubscribeFailed(destination=destination, op="subscribe", code=code, message=message)
            ]
        payload = (
            payloads.userinfo_payload(element)
            if info.kind is Kind.USERINFO
            else payloads.orderinfo_payload(element)
        )
        events: list[Event] = []
        if request is not None and request.key not in self._conn.acked:
            # The first answer to a configured request on this connection is its ack.
            self._conn.acked.add(request.key)
            events.append(Subscribed(destination=destination, op="subscribe"))
        events.append(self._push(destination, info, payload))
        return events

    @staticmethod
    def _push(
        destination: Destination,
        info: ChannelInfo,
        payload: dict[str, Any],
        event_time_ms: int | None = None,
    ) -> Push:
        # No content identity: v1 has no overlapping connections (no handover notice), and
        # equal pushes are real (the seed's own kline example repeats a row), so none is
        # dropped as a copy.
        return Push(
            destination=destination,
            payload_type=payloads.PAYLOAD_TYPES[info.kind],
            payload=payload,
            event_time_ms=event_time_ms,
        )

    # -- state ----------------------------------------------------------------------------------

    @property
    def all_subscribed(self) -> bool:
        return self._conn.state is LoginState.READY and all(
            s.key in self._conn.acked for s in self._configured
        )
