"""The interface every exchange adapter implements (sans-I/O, in the style of h11 and wsproto).

An adapter knows one exchange protocol and nothing about sockets, clocks or Kafka. The session
drives it with a few verbs:

    adapter.connection_made(now_s)      a new WebSocket is open: queue login or subscribe frames
    adapter.receive(data) -> [Event]    classify one inbound frame (may queue outbound frames)
    adapter.data_to_send() -> [frame]   outbound frames queued since the last call
    adapter.ping() -> frame             the keepalive frame to send when the line is quiet
    adapter.tick(now_s)                 about once a second: time-driven protocol actions

One adapter instance serves one WebSocket connection; a reconnect makes a new instance.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from bridge.exchanges.events import Destination, Event

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


class Adapter(ABC):
    exchange: ClassVar[str]
    """Exchange name as used in config and topic names: ``okx``, ``okex_v1``, ``kraken``."""

    topic_prefix: ClassVar[str]
    """Prefix of this exchange's topics: ``okx``, ``okex``, ``kraken``."""

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

    @abstractmethod
    def destinations(self) -> list[Destination]:
        """The destination of every configured subscription, in configuration order."""

    # -- the verbs ---------------------------------------------------------------------------

    @abstractmethod
    def connection_made(self, now_s: float) -> None:
        """A new connection is open; ``now_s`` is Unix time (for login signatures)."""

    @abstractmethod
    def receive(self, data: str | bytes, received_us: int | None = None) -> list[Event]:
        """Classify one inbound WebSocket message. Never raises on bad input: a frame that
        cannot be understood becomes :class:`~bridge.exchanges.events.Unrecognized`.

        ``received_us`` is the frame's receive time (Unix microseconds), for protocols whose
        messages carry only part of a timestamp (OKEx v1 deals: a time of day)."""

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
        this adapter holds replaced by ``***``. Compressed binary frames cannot be searched;
        no exchange echoes credentials in those."""
        for secret in self._secrets:
            if isinstance(data, str):
                if secret in data:
                    data = data.replace(secret, "***")
            elif (raw := secret.encode()) in data:
                data = data.replace(raw, b"***")
        return data

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
