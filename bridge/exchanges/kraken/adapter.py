"""Kraken WebSocket v1 adapter (``wss://ws.kraken.com``, private ``wss://ws-auth.kraken.com``),
sans-I/O.

Outbound, per connection::

    connection_made(now_s)  one subscribe request per configured subscription (all its pairs in
                            one request; Kraken answers one subscriptionStatus per pair)
    ping()                  ``{"event":"ping","reqid":N}`` (the server answers ``pong``)
    after a book checksum mismatch: unsubscribe + subscribe of that pair's book

Inbound, :meth:`KrakenAdapter.classify` turns one frame into events:

    {"event":"systemStatus"}         -> Maintenance (active unless "online"; connectionID kept
                                        exactly as text, it can exceed 2**63)
    {"event":"subscriptionStatus"}   -> Subscribed / SubscribeFailed on the configured
                                        destination it answers; ExchangeError when it answers
                                        none
    {"event":"heartbeat"}            -> Heartbeat
    {"event":"pong"}                 -> Pong
    {"event":"error"}                -> ExchangeError
    {"Error":"Exceeded msg rate"}    -> ExchangeError(code "rate_limit")
    [channelID, payload…, channelName, pair]
                                     -> Push per ticker, ohlc, spread and book message and per
                                        trade row; ResyncRequired after a book checksum mismatch
    [[{id: {...}}, …], channelName, {"sequence": n}]
                                     -> Push per openOrders / ownTrades entry
    anything else                    -> Unrecognized

Kafka: topic ``kraken.<name>`` and schema ``kraken/<name>`` per channel name (``kraken.book``
whatever the depth), key = the pair as configured (the channel name for private channels).
Configuration: subscriptions.py; payloads: payloads.py; the local books: book.py.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from bridge.exchanges import wire
from bridge.exchanges.base import Adapter, Credentials, OutboundFrame, RequestIds
from bridge.exchanges.events import (
    Destination,
    Event,
    ExchangeError,
    Heartbeat,
    Maintenance,
    Pong,
    Push,
    ResyncRequired,
    Subscribed,
    SubscribeFailed,
    Verified,
)
from bridge.exchanges.kraken import payloads
from bridge.exchanges.kraken.book import BookMessage, LocalBook, book_message
from bridge.exchanges.kraken.error_codes import RATE_LIMIT_CODE, error_code
from bridge.exchanges.kraken.subscriptions import (
    PRIVATE_CHANNELS,
    PUBLIC_CHANNELS,
    TOPIC_GROUP,
    Subscription,
    Target,
    TargetState,
    canonical_pair,
    channel_name,
    depth_of,
    destination_for,
    echoed_arg,
    parse_subscription,
    schema_id,
    targets_of,
)
from bridge.exchanges.wire import BadElement
from bridge.topics import TopicFamily, channel_topic, topic_family

RATE_LIMIT_RETRY_SECONDS = 1.0
"""How long to wait after ``Exceeded msg rate`` before resending unanswered subscriptions."""
UNMATCHED_CODE = "unmatched_subscription"
"""Code of the ExchangeError for a subscriptionStatus that answers no configured subscription."""


_DIGITS = re.compile(r"[0-9]+")
_INTEGER = re.compile(r"-?[0-9]+")

Op = Literal["subscribe", "unsubscribe"]


@dataclass(slots=True)
class _Request:
    op: Op
    targets: list[Target]
    """Those not yet answered."""


class KrakenAdapter(Adapter):
    exchange: ClassVar[str] = "kraken"
    topic_group: ClassVar[str] = TOPIC_GROUP
    keepalive_seconds: ClassVar[float] = 10.0
    """Once subscribed Kraken sends a heartbeat every second, so a ping goes out only on a
    connection without subscriptions (or one gone quiet)."""
    # Kraken bans an IP for 10 minutes after about 150 connects in a rolling 10 minutes
    # (one per 4 s on average), and asks clients to wait at least 5 s before reconnecting
    # after maintenance. One connect per 5 s satisfies both.
    min_connect_interval_seconds: ClassVar[float] = 5.0
    # about 150 connects per rolling 10 minutes per IP before a 10 minute ban
    connect_limit = (150, 600.0)

    def __init__(
        self,
        subscriptions: Sequence[Mapping[str, Any]],
        credentials: Credentials | None = None,
        *,
        first_request_id: int = 1,
    ) -> None:
        """``first_request_id``: the ``reqid`` of the first request on each connection (then
        +1 for every request and ping)."""
        super().__init__(subscriptions, credentials)
        self._request_ids = RequestIds(first_request_id)
        self._targets, self._requests_of = targets_of(map(parse_subscription, subscriptions))
        self._by_key = {target.match_key: target for target in self._targets}
        self._reset_connection()

    def _reset_connection(self) -> None:
        self._request_ids.reset()
        self._requests: dict[int, _Request] = {}
        self._books: dict[tuple[str, str | None], LocalBook] = {}
        self.exchange_conn_id = None
        self._outbound = []
        self._rate_limited = False
        self._retry_at: float | None = None
        for target in self._targets:
            target.state = TargetState.PENDING
            target.echoed = {}  # a new connection's acks say again (channelIDs change)

    # -- configuration --------------------------------------------------------------------------

    @classmethod
    def validate_subscription(cls, subscription: Mapping[str, Any]) -> None:
        parse_subscription(subscription)

    @classmethod
    def destinations(cls, subscriptions: Sequence[Mapping[str, Any]]) -> list[Destination]:
        return [t.destination for t in targets_of(map(parse_subscription, subscriptions))[0]]

    @classmethod
    def topic_families(cls) -> list[TopicFamily]:
        return [
            topic_family(channel_topic(TOPIC_GROUP, name), schema_id(name))
            for name in PUBLIC_CHANNELS + PRIVATE_CHANNELS
        ]

    # -- outbound -------------------------------------------------------------------------------

    def connection_made(self, now_s: float) -> None:
        self._reset_connection()
        for sub, targets in self._requests_of:
            self._queue_request("subscribe", sub, targets)

    def ping(self) -> OutboundFrame:
        return wire.compact({"event": "ping", "reqid": self._request_ids.take()})

    def tick(self, now_s: float) -> None:
        """After a message-rate error, wait RATE_LIMIT_RETRY_SECONDS, then subscribe again
        what is still pending (Kraken refused it without saying which request it was)."""
        if not self._rate_limited:
            return
        if self._retry_at is None:
            self._retry_at = now_s + RATE_LIMIT_RETRY_SECONDS
            return
        if now_s < self._retry_at:
            return
        self._rate_limited, self._retry_at = False, None
        for sub, targets in self._requests_of:
            pending = [t for t in targets if t.state is TargetState.PENDING]
            if pending:
                self._queue_request("subscribe", sub, pending)

    def _queue_request(self, op: Op, sub: Subscription, targets: list[Target]) -> None:
        request_id = self._request_ids.take()
        self._requests[request_id] = _Request(op, list(targets))
        subscription: dict[str, Any] = {"name": sub.name}
        if sub.depth is not None:
            subscription["depth"] = sub.depth
        if sub.interval is not None:
            subscription["interval"] = sub.interval
        subscription.update(sub.flags)
        if sub.private and self.credentials is not None and self.credentials.token:
            subscription["token"] = self.credentials.token
        frame: dict[str, Any] = {"event": op, "reqid": request_id}
        pairs = [t.pair for t in targets if t.pair is not None]
        if pairs:
            frame["pair"] = pairs
        frame["subscription"] = subscription
        self._outbound.append(wire.compact(frame))

    # -- inbound --------------------------------------------------------------------------------

    def _unrecognized(self, reason: str) -> list[Event]:
        return [self.unrecognized(reason)]

    def classify(self, message: Any, received_us: int | None) -> list[Event]:
        if isinstance(message, dict):
            return self._on_object(message)
        if isinstance(message, list):
            return self._on_array(message)
        return self._unrecognized(
            f"JSON {wire.json_type(message)} is neither an object nor an array"
        )

    def _on_object(self, message: dict[str, Any]) -> list[Event]:
        conn_id = self.exchange_conn_id
        if "event" not in message:
            if wire.is_string(message.get("Error")):
                # {"Error":"Exceeded msg rate"}: Kraken's one message outside the event scheme.
                # It names no request: what is still unanswered a moment later is resent.
                text = message["Error"]
                if error_code(text) == RATE_LIMIT_CODE:
                    self._rate_limited = True
                return [
                    ExchangeError(code=error_code(text), message=text, exchange_conn_id=conn_id)
                ]
            return self._unrecognized("object has no event")
        event = message["event"]
        request_id = _request_id(message.get("reqid"))
        if event == "heartbeat":
            return [Heartbeat(exchange_conn_id=conn_id)]
        if event == "pong":
            return [Pong(request_id=request_id, exchange_conn_id=conn_id)]
        if event == "systemStatus":
            return self._on_system_status(message)
        if event == "subscriptionStatus":
            return self._on_subscription_status(message, request_id)
        if event == "error":
            text = wire.text(message.get("errorMessage", ""))
            return [
                ExchangeError(
                    code=error_code(text),
                    message=text,
                    request_id=request_id,
                    exchange_conn_id=conn_id,
                )
            ]
        return self._unrecognized(f"unknown event {wire.text(event)[:80]!r}")

    def _on_system_status(self, message: dict[str, Any]) -> list[Event]:
        status = message.get("status")
        if not wire.is_string(status) or not status:
            return self._unrecognized("systemStatus without a status string")
        conn_id = message.get("connectionID")
        if conn_id is not None:
            if not isinstance(conn_id, wire.Number) or not _DIGITS.fullmatch(conn_id):
                return self._unrecognized("systemStatus connectionID is not an unsigned integer")
            # Its exact text: every digit, however many (it can exceed 2**63).
            self.exchange_conn_id = wire.text(conn_id)
        attributes = {k: wire.text(v) for k, v in message.items() if k not in ("event", "status")}
        return [
            Maintenance(
                status=status,
                active=status != "online",
                attributes=attributes,
                exchange_conn_id=self.exchange_conn_id,
            )
        ]

    # -- subscriptionStatus --------------------------------------------------------------------

    def _on_subscription_status(
        self, message: dict[str, Any], request_id: str | None
    ) -> list[Event]:
        conn_id = self.exchange_conn_id
        status = message.get("status")
        if status not in ("subscribed", "unsubscribed", "ok", "error"):
            return self._unrecognized(f"subscriptionStatus with status {wire.text(status)[:40]!r}")
        subscription = message.get("subscription")
        if subscription is None:
            subscription = {}
        if not isinstance(subscription, dict):
            return self._unrecognized("subscriptionStatus subscription is not an object")
        channel = message.get("channelName")
        name = subscription.get("name")
        if not wire.is_string(channel):
            channel = None
            if wire.is_string(name):
                channel = channel_name(
                    name,
                    _json_integer(subscription.get("depth")),
                    _json_integer(subscription.get("interval")),
                )
        if name is None and channel is not None:
            name = channel.split("-", 1)[0]
        pair = message.get("pair")
        if pair is not None and not wire.is_string(pair):
            return self._unrecognized("subscriptionStatus pair is not a string")

        request_key = _json_integer(message.get("reqid"))
        request = None if request_key is None else self._requests.get(request_key)
        targets = self._answeredtargets_of(request, channel, name, pair)
        op: Op = request.op if request is not None else "subscribe"
        if status == "subscribed":
            op = "subscribe"
        elif status == "unsubscribed":
            op = "unsubscribe"
        error_message = wire.text(message.get("errorMessage", "")) if status == "error" else ""
        code = error_code(error_message) if status == "error" else ""

        if not targets:
            described = f"{channel or name or '?'} {pair or ''}".strip()
            return [
                ExchangeError(
                    code=code or UNMATCHED_CODE,
                    message=error_message
                    or f"subscriptionStatus {status} for {described} answers no configured "
                    "subscription",
                    request_id=request_id,
                    exchange_conn_id=conn_id,
                )
            ]

        if request is not None and request_key is not None:
            request.targets = [t for t in request.targets if t not in targets]
            if not request.targets:
                del self._requests[request_key]

        echoed = echoed_arg(message, subscription)
        events: list[Event] = []
        for target in targets:
            destination = dataclasses.replace(
                target.destination, arg={**target.destination.arg, **echoed}
            )
            if status == "error":
                # "Already subscribed" means the subscription is live on this connection.
                if op == "subscribe" and code == "already_subscribed":
                    target.state = TargetState.SUBSCRIBED
                elif target.state is not TargetState.SUBSCRIBED:
                    target.state = TargetState.FAILED
                events.append(
                    SubscribeFailed(
                        destination=destination,
                        op=op,
                        code=code,
                        message=error_message,
                        request_id=request_id,
                        exchange_conn_id=conn_id,
                    )
                )
                continue
            target.state = TargetState.SUBSCRIBED if op == "subscribe" else TargetState.UNSUBSCRIBED
            target.echoed = echoed if op == "subscribe" else {}
            if op == "unsubscribe":
                self._books.pop(target.match_key, None)  # the next subscribe sends a snapshot
            events.append(
                Subscribed(
                    destination=destination,
                    op=op,
                    request_id=request_id,
                    exchange_conn_id=conn_id,
                )
            )
        return events

    def _answeredtargets_of(
        self, request: _Request | None, channel: str | None, name: Any, pair: str | None
    ) -> list[Target]:
        """The configured targets a subscriptionStatus answers."""
        canonical = None if pair is None else canonical_pair(pair)

        def pair_matches(target: Target) -> bool:
            return pair is None or target.match_key[1] == canonical

        if request is not None:
            # Our own request (by reqid): an answer without a pair answers every pair in it.
            return [t for t in request.targets if pair_matches(t)]
        if name == "*":
            return [t for t in self._targets if pair_matches(t)]
        if channel is None:
            return []
        target = self._by_key.get((channel, canonical))
        return [] if target is None else [target]

    # -- data arrays ---------------------------------------------------------------------------

    def _on_array(self, message: list[Any]) -> list[Event]:
        if (
            len(message) == 3
            and isinstance(message[0], list)
            and wire.is_string(message[1])
            and isinstance(message[2], dict)
        ):
            return self._on_private(message[0], message[1], message[2])
        if len(message) >= 4 and wire.is_string(message[-1]) and wire.is_string(message[-2]):
            channel_id = message[0]
            if not isinstance(channel_id, wire.Number) or not _INTEGER.fullmatch(channel_id):
                return self._unrecognized("public data without an integer channelID")
            number = _json_integer(channel_id)
            if number is None or not 0 <= number <= wire.MAX_LONG:  # recorded as an Avro long
                return self._unrecognized(f"channelID {channel_id[:40]} is out of range")
            return self._on_public(number, message[1:-2], message[-2], message[-1])
        return self._unrecognized(
            "array is neither [channelID, payload, channelName, pair] nor "
            "[[entries], channelName, {sequence}]"
        )

    def _public_destination(self, channel: str, pair: str) -> tuple[Destination, Target | None]:
        target = self._by_key.get((channel, canonical_pair(pair)))
        if target is not None:
            return target.destination, target
        # Data for a subscription not configured here (made by hand, or answered late): it is
        # still published, keyed by the pair as the exchange wrote it.
        name, _, parameter = channel.partition("-")
        arg = {"name": name, "pair": pair}
        if parameter:
            arg["depth" if name == "book" else "interval"] = parameter
        destination = Destination(
            topic=channel_topic(TOPIC_GROUP, name),
            schema=schema_id(name),
            key=pair,
            channel=channel,
            arg=arg,
        )
        return destination, None

    def _on_public(self, channel_id: int, parts: list[Any], channel: str, pair: str) -> list[Event]:
        name = channel.partition("-")[0]
        if name not in PUBLIC_CHANNELS:
            return self._unrecognized(f"unknown public channel {channel[:40]!r}")
        destination, target = self._public_destination(channel, pair)
        # The arg of a push is the arg of its subscription's ack: what the ack echoed, and the
        # channelID this push itself carries (the same number, for this connection).
        # (Markers, such as a book's resync, keep the configured arg: they are about the
        # subscription, whatever connection or channelID comes next.)
        echoed = target.echoed if target is not None else {}
        push_to = dataclasses.replace(
            destination, arg={**destination.arg, **echoed, "channelID": str(channel_id)}
        )
        if name == "book":
            return self._on_book(destination, push_to, target, channel_id, parts, channel, pair)
        if len(parts) != 1:
            return self._unrecognized(f"{channel} data has {len(parts)} payloads, not 1")
        element = parts[0]
        common = {"pair": pair, "channel_id": channel_id}
        typed: list[tuple[dict[str, Any], int | None]]
        try:
            if name == "trade":
                rows = payloads.array("trade payload", element, 0)
                typed = [payloads.trade_payload(row) for row in rows]
            elif name == "ticker":
                typed = [(payloads.ticker_payload(element), None)]
            elif name == "ohlc":
                typed = [payloads.ohlc_payload(element)]
            else:
                typed = [payloads.spread_payload(element)]
        except BadElement as exc:
            return self._unrecognized(f"{channel} {pair}: {exc}")
        payload_type = payloads.payload_type(name)
        return [
            Push(
                destination=push_to,
                payload_type=payload_type,
                payload={**common, **payload},
                event_time_ms=event_time_ms,
                exchange_conn_id=self.exchange_conn_id,
            )
            for payload, event_time_ms in typed
        ]

    def _on_book(
        self,
        destination: Destination,
        push_to: Destination,
        target: Target | None,
        channel_id: int,
        parts: list[Any],
        channel: str,
        pair: str,
    ) -> list[Event]:
        try:
            message = book_message(channel, parts)
        except BadElement as exc:
            return self._unrecognized(f"{channel} {pair}: {exc}")
        check = self._update_book(target, channel, pair, message)
        push = Push(
            destination=push_to,
            payload_type=payloads.payload_type("book"),
            payload=message.payload(pair, channel_id),
            event_time_ms=message.event_time_ms,
            exchange_conn_id=self.exchange_conn_id,
            book_check=check,
        )
        events: list[Event] = [push]
        if check is Verified.FAILED:
            events.append(
                ResyncRequired(
                    destination=destination,
                    reason="checksum_mismatch",
                    exchange_conn_id=self.exchange_conn_id,
                )
            )
        return events

    def _update_book(
        self,
        target: Target | None,
        channel: str,
        pair: str,
        message: BookMessage,
    ) -> Verified:
        """Apply a book message to its local book: what the check found (a failure resubscribes)."""
        key: tuple[str, str | None] = (channel, canonical_pair(pair))
        if message.snapshot:
            depth = target.sub.book_depth if target is not None else depth_of(channel)
            self._books[key] = LocalBook(depth)
        book = self._books.get(key)
        if book is None:
            return Verified.NOT_CHECKED  # no snapshot on this connection yet
        check = book.update(message)
        if check is Verified.FAILED:
            self._queue_resubscribe(target, channel, pair)
        return check

    def _queue_resubscribe(self, target: Target | None, channel: str, pair: str) -> None:
        if target is not None:
            sub, targets = target.sub, [target]
        else:
            sub = Subscription(name="book", pairs=(pair,), depth=depth_of(channel))
            targets = [Target(sub, pair, destination_for(sub, pair))]
        self._queue_request("unsubscribe", sub, targets)
        self._queue_request("subscribe", sub, targets)

    # -- private data --------------------------------------------------------------------------

    def _on_private(self, entries: list[Any], channel: str, meta: dict[str, Any]) -> list[Event]:
        if channel not in PRIVATE_CHANNELS:
            return self._unrecognized(f"unknown private channel {channel[:40]!r}")
        sequence_value = meta.get("sequence")
        try:
            sequence = (
                None if sequence_value is None else payloads.integer("sequence", sequence_value)
            )
        except BadElement as exc:
            return self._unrecognized(f"{channel}: {exc}")
        target = self._by_key.get((channel, None))
        destination = (
            dataclasses.replace(target.destination, arg={**target.destination.arg, **target.echoed})
            if target is not None
            else destination_for(Subscription(name=channel, pairs=()), None)
        )
        own_trades = channel == "ownTrades"
        kinds = payloads.OWN_TRADE if own_trades else payloads.OPEN_ORDER
        id_field = "trade_id" if own_trades else "order_id"
        payload_type = payloads.payload_type(channel)
        events: list[Event] = []
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict) or not entry:
                events += self._unrecognized(f"{channel}[{index}] is not an object of entries")
                continue
            for entry_id, fields in entry.items():
                try:
                    payload = payloads.private_payload(kinds, id_field, entry_id, sequence, fields)
                except BadElement as exc:
                    events += self._unrecognized(f"{channel}[{index}]: {exc}")
                    continue
                time_us = payload.get("time") if own_trades else payload.get("lastupdated")
                events.append(
                    Push(
                        destination=destination,
                        payload_type=payload_type,
                        payload=payload,
                        event_time_ms=payloads.event_time_ms(time_us),
                        # ownTrades re-sends recent trades (snapshot) on every subscribe, so a
                        # reconnect repeats them: the trade id and content identify a copy.
                        # Other channels have no identity: equal content is new data there.
                        identity=payloads.identity(entry_id, fields) if own_trades else None,
                        exchange_conn_id=self.exchange_conn_id,
                    )
                )
        return events

    # -- state ----------------------------------------------------------------------------------

    @property
    def all_subscribed(self) -> bool:
        return all(t.state is TargetState.SUBSCRIBED for t in self._targets)


def _request_id(value: Any) -> str | None:
    """``reqid`` as text; None when absent. Kraken's are integers."""
    return None if value is None else wire.text(value)


def _json_integer(value: Any) -> int | None:
    """A JSON integer (a number, not a string) of at most 19 digits as an int, else None."""
    if not isinstance(value, wire.Number):
        return None
    try:
        return wire.integer("", value)
    except BadElement:
        return None
