"""The interface every exchange adapter implements (sans-I/O, in the style of h11 and wsproto).

An adapter knows one exchange protocol and nothing about sockets, clocks or Kafka. The session
drives it with a few verbs:

    adapter.connection_made(now_s)      a new WebSocket is open: queue login or subscribe frames
    adapter.receive(data) -> [Event]    classify one inbound frame (may queue outbound frames)
    adapter.data_to_send() -> [frame]   outbound frames queued since the last call
    adapter.ping() -> frame             the keepalive frame to send when the line is quiet
    adapter.tick(now_s)                 about once a second: time-driven protocol actions

One adapter instance serves one WebSocket connection; a reconnect makes a new instance.

:meth:`Adapter.receive` is the same for every exchange: it decodes the frame
(:meth:`~Adapter.decode_frame`), parses it as strict JSON with numbers as their exact text
(:meth:`~Adapter.parse`, :mod:`bridge.exchanges.wire`), and hands the value to the adapter's
:meth:`~Adapter.classify`, inside the one deliberate safety net. An exchange adapter writes its
classifier, its outbound frames and its configuration; the hooks cover what a protocol does
differently before the JSON (OKX's plain-text ``pong``, OKEx's compressed binary frames).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

from bridge.exchanges import wire
from bridge.exchanges.events import Destination, Event, Unrecognized
from bridge.topics import TopicFamily

OutboundFrame = str | bytes


@dataclass(frozen=True, slots=True)
class Credentials:
    """Plain credential values handed to an adapter. Never log or repr this object."""

    api_key: str = ""
    secret_key: str = ""
    passphrase: str = ""
    token: str = ""

    def __repr__(self) -> str:
        return "Credentials(***)"


class LoginState(Enum):
    """Where a connection of a protocol that logs in (OKX, OKEx v1) stands."""

    IDLE = "idle"  # no connection yet
    LOGGING_IN = "logging_in"  # login sent, no answer yet; requests wait
    READY = "ready"  # requests may be sent (logged in, or no login needed)
    LOGIN_FAILED = "login_failed"  # nothing more is sent on this connection


class RequestIds:
    """Request ids numbered per connection: ``first``, then +1 for each request. ``first`` is
    settable so tests can reproduce a documentation's example ids."""

    def __init__(self, first: int) -> None:
        if first < 0:
            raise ValueError("first_request_id must not be negative")
        self.first = first
        self._next = first

    def reset(self) -> None:
        """A new connection counts from ``first`` again."""
        self._next = self.first

    def take(self) -> int:
        request_id = self._next
        self._next += 1
        return request_id


class Adapter(ABC):
    exchange: ClassVar[str]
    """Exchange name as used in config and topic names: ``okx``, ``okex_v1``, ``kraken``."""

    topic_group: ClassVar[str]
    """The group of this exchange's topics and schema ids: ``okx``, ``okex``, ``kraken``
    (see :mod:`bridge.topics`)."""

    keepalive_seconds: ClassVar[float]
    """Send :meth:`ping` after this long without receiving anything."""

    min_connect_interval_seconds: ClassVar[float] = 0.0
    """The shortest wait before a session reconnects (its backoff floor)."""

    connect_limit: ClassVar[tuple[int, float] | None] = None
    """The exchange's connection rate limit per IP: (connects, per seconds), shared by every
    connection of the bridge to this exchange; None when it has none."""

    def __init__(
        self,
        subscriptions: Sequence[Mapping[str, Any]],
        credentials: Credentials | None = None,
    ) -> None:
        self.subscriptions = [dict(s) for s in subscriptions]
        self.credentials = credentials
        self._outbound: list[OutboundFrame] = []
        self.exchange_conn_id: str | None = None
        """The exchange's id for this connection, for protocols that name it once (Kraken's
        systemStatus); recorded on every Unrecognized event."""
        # Credential values an exchange might echo back (Kraken puts the token in its acks).
        # Short values are left out: they would match ordinary text.
        self._secrets = (
            tuple(
                value
                for value in (
                    credentials.api_key,
                    credentials.secret_key,
                    credentials.passphrase,
                    credentials.token,
                )
                if len(value) >= 8
            )
            if credentials
            else ()
        )

    # -- configuration -----------------------------------------------------------------------

    @classmethod
    @abstractmethod
    def validate_subscription(cls, subscription: Mapping[str, Any]) -> None:
        """Raise ValueError with a clear message when a configured subscription is unusable."""

    @classmethod
    @abstractmethod
    def destinations(cls, subscriptions: Sequence[Mapping[str, Any]]) -> list[Destination]:
        """The destination of every configured subscription, in configuration order (each
        once). The subscriptions must have passed :meth:`validate_subscription`."""

    @classmethod
    def topic_families(cls) -> list[TopicFamily]:
        """Every channel topic this exchange can write, with its schema (not ``events`` and
        ``raw``, which every exchange has): what ``bridge schemas list`` shows without a
        configuration. (Not abstract, so that a test's toy adapter needs none;
        tests/unit/avro/test_contract.py checks every registered adapter's.)"""
        return []

    @property
    def has_api_key(self) -> bool:
        """Credentials with an API key were given: a protocol that logs in does so."""
        return self.credentials is not None and bool(self.credentials.api_key)

    # -- the verbs ---------------------------------------------------------------------------

    @abstractmethod
    def connection_made(self, now_s: float) -> None:
        """A new connection is open; ``now_s`` is Unix time (for login signatures)."""

    def receive(self, data: str | bytes, received_us: int | None = None) -> list[Event]:
        """Classify one inbound WebSocket message. Never raises on bad input: a frame that
        cannot be understood becomes :class:`~bridge.exchanges.events.Unrecognized`.

        ``received_us`` is the frame's receive time (Unix microseconds), for protocols whose
        messages carry only part of a timestamp (OKEx v1 deals: a time of day)."""
        try:
            events = self._decode_and_classify(data, received_us)
            if received_us is not None:
                self.frame_received(received_us)
            return events
        except Exception as exc:
            # Deliberate safety net: receive() must never raise, or a bug here would escape
            # into the session loop and drop the connection. The frame goes to the dead-letter
            # topic with this reason (exception type and text), so the bug stays visible.
            return [self.unrecognized(f"adapter error: {type(exc).__name__}: {exc}")]

    def _decode_and_classify(self, data: str | bytes, received_us: int | None) -> list[Event]:
        decoded = self.decode_frame(data)
        if not isinstance(decoded, str):
            return [decoded]
        # Credentials an exchange echoes (Kraken's token in acks, a key quoted in an error) are
        # masked before anything reads the frame, so no record made from it can carry them.
        decoded = self.mask(decoded)
        if not decoded.strip():
            return [self.unrecognized("empty frame")]
        try:
            message = self.parse(decoded)
        except wire.WireError as exc:
            return [self.unrecognized(str(exc))]
        return self.classify(message, received_us)

    # -- what an exchange adapter fills in -------------------------------------------------------

    def decode_frame(self, data: str | bytes) -> str | Event:
        """The frame as JSON text, or the one event a frame means without being JSON. Binary
        frames are UTF-8 unless the protocol says otherwise."""
        if isinstance(data, bytes):
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                return self.unrecognized("binary frame is not UTF-8")
        return data

    def parse(self, text: str) -> Any:
        """The decoded frame handed to :meth:`classify`: :func:`wire.loads` unless the protocol
        needs more of the text (OKX keeps the exact text of pushed elements). Raises
        :class:`wire.WireError`, which becomes Unrecognized with its text as the reason."""
        return wire.loads(text)

    @abstractmethod
    def classify(self, message: Any, received_us: int | None) -> list[Event]:
        """The events one parsed frame means (may queue outbound frames). Raises nothing on
        purpose: anything it cannot classify is an Unrecognized event with a clear reason."""

    def frame_received(self, received_us: int) -> None:
        """Called after every frame with its receive time, for protocols that take the frame's
        time as their clock between ticks. Most protocols need nothing here."""
        return None

    def unrecognized(self, reason: str) -> Unrecognized:
        return Unrecognized(reason=reason, exchange_conn_id=self.exchange_conn_id)

    @abstractmethod
    def ping(self) -> OutboundFrame:
        """The application-level keepalive frame."""

    def tick(self, now_s: float) -> None:
        """Called by the session about once a second with the Unix time, for protocols that
        act on time (retry a request later, repeat a poll). May queue outbound frames.
        Most protocols need nothing here."""
        return None

    def redact(self, data: str | bytes) -> str | bytes:
        """The frame as it may be recorded (raw topic, dead letters): every credential value
        this adapter holds replaced by ``***``. Compressed binary frames cannot be searched
        (their decoded text is masked by :meth:`receive` before it is read)."""
        if isinstance(data, str):
            return self.mask(data)
        for secret in self._secrets:
            if (raw := secret.encode()) in data:
                data = data.replace(raw, b"***")
        return data

    def mask(self, text: str) -> str:
        """``text`` with every credential value this adapter holds replaced by ``***``."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text

    def data_to_send(self) -> list[OutboundFrame]:
        out, self._outbound = self._outbound, []
        return out

    # -- state the session asks about ----------------------------------------------------------

    @property
    @abstractmethod
    def all_subscribed(self) -> bool:
        """True once every configured subscription has been acknowledged on this connection."""

    def close_reason(self, code: int | None) -> str:
        """A short, bounded label for a close code (used as a metric label)."""
        if code is None:
            return "connection_lost"
        return "closed_normal" if code in (1000, 1001) else f"close_{code}"
