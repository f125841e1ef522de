"""The shape of an entry of the exchange table (see the package's docstring): what every
exchange fills in, and the parts only some have (None where an exchange has no such thing)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bridge.avro.decode import TailedRecord
from bridge.exchanges import adapter_class
from bridge.runtime.app import Bridge
from bridge.sandbox.server import SimulatorServer
from tests.integration.exchanges.books import ConsumerBook
from tests.integration.harness import FAST_RECONNECT, Found, read_topic, wait_until

Sim = SimulatorServer[Any, Any]

KEY, SECRET, PASSPHRASE = "test-api-key", "s3cr3t-Value-XYZ", "pa55-Phrase-QRS"
TOKEN = "kraken-ws-token-Secret-42"
MAX_FRAME_BYTES = 64 * 1024
"""``max_frame_bytes`` of the oversized-frame test; ``Exchange.oversized`` is above it."""


def parse_json(data: bytes) -> Any:
    """A frame's JSON, or None when it is not JSON."""
    try:
        return json.loads(data)
    except ValueError:
        return None


@dataclass(frozen=True)
class Malformed:
    """A frame the adapter cannot classify: it must be a dead letter with these properties."""

    data: str | bytes
    frame_type: str
    error: str = ""
    """A text the dead letter's error names ("" : any non-empty error)."""


@dataclass(frozen=True)
class IdleClose:
    """The simulator closes a quiet connection (the exchange's idle rule)."""

    simulator: dict[str, Any]
    subscriptions: list[dict[str, Any]]
    topic: str
    reason: str
    """``bridge_reconnects_total`` reason and ``disconnected`` marker reason."""
    fault: str
    """How the recovery table names the fault."""
    connection: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Login:
    """Connections that log in with an API key and a secret before they subscribe."""

    name: str
    path: str | None
    subscriptions: list[dict[str, Any]]
    credentials: Callable[[str], dict[str, str]]
    """The connection's credentials with this secret."""
    accounts: Callable[[], dict[str, Any]]
    """The simulator's accounts: the key, with SECRET."""
    error: dict[str, Any]
    """The ``ConnectionEvent`` of a refused login: its fields that are known exactly."""


@dataclass(frozen=True)
class RefusedSubscription:
    """A subscription the exchange refuses (an instrument it does not list), beside one it
    accepts on the same topic (the one ``Exchange.marked_push`` pushes to)."""

    refused: dict[str, Any]
    accepted: dict[str, Any]
    key: str
    """The refused subscription's record key."""
    channel: str
    """The refused subscription's record channel."""
    error: dict[str, Any]
    """The refused subscription's ``SubscriptionEvent`` payload, every field."""
    errors_sent: dict[str, int]
    """The simulator's ``errors_sent`` afterwards."""
    accepted_events: tuple[str, ...] = ("subscribe",)
    """The ``SubscriptionEvent`` events written for the accepted subscription, in order."""


@dataclass(frozen=True)
class Book:
    """A book channel whose simulator shows its book, so a test can compare."""

    subscriptions: list[dict[str, Any]]
    """The book subscription, then another channel of the same connection."""
    topic: str
    other_topic: str
    """The other channel's topic: its markers must follow the book's."""
    kind: str
    """Payload kind of a book record."""
    keys: tuple[str, ...]
    """The record keys of the books."""
    simulator: dict[str, Any]
    consumer: type[ConsumerBook]
    expected: Callable[[Any, str], tuple[list[tuple[str, str]], list[tuple[str, str]]]]
    """(asks, bids) the simulator holds for a record key, best first."""
    start: Callable[[Any], Callable[[int], Awaitable[None]]]
    """Set the simulator's book up (before anyone subscribes); returns how to make so many
    book changes happen (and wait for them)."""
    scripted: bool = False
    """Each change is one update record (the test scripts them); otherwise the simulator's
    generator makes at least so many pushes."""
    check: Callable[[dict[str, ConsumerBook], list[dict[str, Any]]], None] = lambda _b, _p: None
    """What this exchange's consumer must also show (consumer books by key, book payloads)."""


@dataclass(frozen=True)
class Seen:
    """What the test saw while the bridge ran."""

    metrics: str
    connects: int
    conn_ids: dict[str, str]
    """The simulator's connection ids by path."""


@dataclass(frozen=True)
class Seeds:
    """The exchange's documented examples (test_seed_messages.py): how to run them through a
    bridge, and what each must decode to."""

    simulator: dict[str, Any]
    """The simulator's arguments (TLS, accounts)."""
    connections: Callable[[Exchange, Any], list[dict[str, Any]]]
    """The exchange's connections to the simulator: over TLS, with credentials where a channel
    needs them."""
    ready: Callable[[Any, Bridge], Awaitable[None]]
    """Wait until the bridge is ready for the seeds (and check what shows it)."""
    send: Callable[[Any], Awaitable[None]]
    raw_frames: set[tuple[str, bytes]]
    """(frame type, bytes) of the seed frames: all in the raw topic, exactly."""
    topics: list[str]
    complete: Callable[[Found], bool]
    check: Callable[[Found, Seen], None]
    """The exchange's own expectations of what arrived."""


async def all_subscribed(sim: Any, bridge: Bridge) -> None:
    await wait_until(lambda: all(s.subscribed for s in bridge.sessions), what="subscriptions")


@dataclass(frozen=True)
class Exchange:
    """One exchange, for the scenarios every exchange shares."""

    name: str
    """The config's ``exchange`` and the metrics' ``exchange`` label."""
    simulator: Callable[..., Any]
    """The simulator class: ``simulator(**arguments)``."""
    path: str
    """The simulator's public path."""
    connection_name: str
    is_push: Callable[[bytes], bool]
    """Whether a raw frame is a data push (not an ack, event, heartbeat or pong)."""

    # a stream of market data
    stream_subscriptions: list[dict[str, Any]]
    stream_topic: str
    stream_keys: tuple[str, ...]
    """The record keys of the stream's topic."""
    stream_channel: str
    """The simulator's name of the stream's first channel (``subscribers()``)."""
    streaming: dict[str, Any]
    """Simulator arguments that make it stream (about 20 pushes a second)."""
    drops: int
    """Abrupt drops the reconnect test makes (Kraken's 5 s floor makes each one slow)."""
    refused_attempts: int
    """Refused connection attempts the backoff test observes before the exchange listens."""

    # a quiet line: nothing pushed but the answer to subscribing
    quiet_subscriptions: list[dict[str, Any]]
    quiet: dict[str, Any]

    # bad input (test_bad_input.py)
    bad_input_subscriptions: list[dict[str, Any]]
    topic: str
    """A channel topic of the bad-input subscriptions: ``marked_push`` arrives there."""
    marked_push: Callable[[str], str]
    """A valid push (a frame for ``send_raw``) carrying a marker text."""
    is_marked: Callable[[TailedRecord, str], bool]
    base_frames: tuple[str, ...]
    """Fixture frames (data pushes of the bad-input subscriptions) to mutate."""
    encode_failures: tuple[str, ...]
    """Frames the adapter accepts and the codec cannot encode (unpaired surrogate escapes)."""
    oversized: str
    """A frame above MAX_FRAME_BYTES."""
    malformed: tuple[Malformed, ...]
    refused_subscription: RefusedSubscription
    seeds: Seeds

    binary_is_deflate: bool = False
    connect_limit: tuple[float, int] | None = None
    """(window in seconds, connects allowed) the exchange documents, if any."""
    idle_close: IdleClose | None = None
    login: Login | None = None
    book: Book | None = None

    def __str__(self) -> str:
        return self.name

    @property
    def group(self) -> str:
        """The topic group: ``<group>.raw``, ``<group>.events``."""
        return adapter_class(self.name).topic_group

    @property
    def floor(self) -> float:
        """The least time between two connection attempts."""
        return adapter_class(self.name).min_connect_interval_seconds

    def connection(
        self,
        sim: Sim | str,
        subscriptions: Iterable[dict[str, Any]] | None = None,
        *,
        path: str | None = None,
        reconnect: dict[str, float] | None = FAST_RECONNECT,
        **extra: Any,
    ) -> dict[str, Any]:
        """A connection to ``sim`` at ``path`` (or to a URL where nothing may listen yet), with
        the stream's subscriptions unless given, reconnecting fast (None: the defaults);
        ``extra`` sets any other key (``name``, ``credentials``, ``keepalive_seconds``...)."""
        subscriptions = self.stream_subscriptions if subscriptions is None else subscriptions
        conn: dict[str, Any] = {
            "name": self.connection_name,
            "exchange": self.name,
            "url": sim if isinstance(sim, str) else sim.url(path),
            "subscriptions": list(subscriptions),
        }
        if reconnect is not None:
            conn["reconnect"] = reconnect
        if not isinstance(sim, str) and sim.ca_file:
            conn["tls"] = {"ca_file": sim.ca_file}
        return {**conn, **extra}

    async def push_marked(
        self, sim: Sim, bootstrap: str, prefix: str, marker: str
    ) -> list[TailedRecord]:
        """Send ``marked_push(marker)``; the records of ``topic`` once it has arrived."""
        await sim.send_raw(self.marked_push(marker))
        return await read_topic(
            bootstrap, prefix + self.topic, lambda rs: any(self.is_marked(r, marker) for r in rs)
        )
