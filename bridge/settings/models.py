"""The configuration's models: every setting, its default (stated once, here) and its checks.

Build the configuration with :func:`load_settings` (``bridge run --config FILE``) or
:meth:`Settings.from_mapping` (tests, the demo, the benchmarks). Both go through
:mod:`bridge.settings.loader`: ``${…}`` references expanded, ``BRIDGE_…`` environment
overrides applied (the environment wins over the file), then these models validate, and any
error is one :class:`~bridge.errors.ConfigError` whose ``field`` is the dotted path of the
(first) offending setting, list indexes as numbers (``connections.0.url``).

One rule for where values come from: **the loader reads the environment; the models never
do.** ``Settings(**values)`` (like ``Settings.model_validate``) is plain pydantic: it validates
exactly the values given and raises pydantic's ``ValidationError``; it expands no ``${…}`` and
reads no ``BRIDGE_…`` variable. It used to read them itself (a pydantic-settings
``BaseSettings``), so the loader had to switch that off while it built a Settings; nothing in
the bridge, its tests or its benchmarks builds a Settings that way, and a constructor that
depends on the caller's environment would make every such test depend on the developer's shell.
Everything that wants the environment applied (``bridge run``, ``bridge schemas``,
``bridge rebuild``, the chart's rendered configuration in tests) calls one of the two builders.

Unknown keys are errors everywhere except inside subscription mappings (the adapter checks
those). Secret values (credentials, anything read with ``${file:…}``) never appear in
``repr``/``str``/``model_dump`` or in error messages.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from aiokafka.helpers import create_ssl_context
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from bridge import exchanges
from bridge.exchanges.base import Credentials
from bridge.settings.loader import build, invalid, load

__all__ = [
    "ConnectionSettings",
    "ClusterSettings",
    "CredentialsSettings",
    "KafkaSettings",
    "MetricsSettings",
    "PublisherSettings",
    "ReconnectSettings",
    "SchemaRegistrySettings",
    "Settings",
    "ShardSettings",
    "ShutdownSettings",
    "TlsSettings",
    "load_settings",
]

FRAME_RECORD_HEADROOM_BYTES = 32 * 1024
"""What a frame's record adds to the frame: the envelope (metadata), headers and the record
batch's own header. ``max_frame_bytes`` plus this must fit ``kafka.max_request_size``."""

_CONNECTION_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_TOPIC_CHARS = re.compile(r"[A-Za-z0-9._-]*")


# --------------------------------------------------------------------------------------------
# helpers for validators


def _empty_to_none(value: Any) -> Any:
    """``""`` means "not set", so ``${VAR:-}`` can leave an optional setting unset."""
    return None if value == "" else value


def _none_to_empty_section(value: Any) -> Any:
    """A YAML section with every key commented out (``kafka:``) is None: use the defaults."""
    return {} if value is None else value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------------------------
# the models


class KafkaSettings(_Model):
    bootstrap_servers: str = "localhost:9092"
    """``host:port[,host:port…]``; a YAML list of ``host:port`` is accepted too."""
    topic_prefix: str = ""
    """Prepended to every topic name."""
    client_id: str = Field(default="exchange-bridge", min_length=1)
    linger_ms: int = Field(default=5, ge=0)
    max_batch_size: int = Field(default=1_048_576, ge=1)
    request_timeout_ms: int = Field(default=30_000, ge=1)
    max_request_size: int = Field(default=1_048_576, ge=64 * 1024)
    """The largest record the bridge sends (the producer's max_request_size). Kafka's own
    limits must take it: the broker's ``message.max.bytes`` (default 1,048,588) or the topics'
    ``max.message.bytes``. A record Kafka refuses anyway is given up and its frame
    dead-lettered."""
    compression_type: Literal["gzip"] | None = None
    """None or ``gzip`` (other codecs need packages the bridge does not install)."""
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    """Required with SASL_PLAINTEXT and SASL_SSL."""
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    """A secret: give it as ``${file:/run/secrets/kafka_password}`` or ``${KAFKA_PASSWORD}``."""
    ssl_ca_file: Path | None = None
    """PEM bundle to trust for SSL and SASL_SSL (None: the system's trust store)."""

    @field_validator("bootstrap_servers", mode="before")
    @classmethod
    def _join_servers(cls, value: Any) -> Any:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return ",".join(value)
        return value

    @field_validator("bootstrap_servers")
    @classmethod
    def _check_servers(cls, value: str) -> str:
        servers = [s.strip() for s in value.split(",")]
        if not all(servers) or any(" " in s for s in servers):
            raise ValueError("must be host:port[,host:port...]")
        return ",".join(servers)

    @field_validator("topic_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        if not _TOPIC_CHARS.fullmatch(value) or len(value) > 200:
            raise ValueError("may only contain letters, digits, '.', '_' and '-'")
        return value

    @field_validator(
        "compression_type",
        "sasl_mechanism",
        "sasl_username",
        "sasl_password",
        "ssl_ca_file",
        mode="before",
    )
    @classmethod
    def _compression_none(cls, value: Any) -> Any:
        return _empty_to_none(value)

    @field_validator("ssl_ca_file")
    @classmethod
    def _expand_ca_home(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser()

    def client_options(self) -> dict[str, Any]:
        """aiokafka options for the security protocol, shared by every Kafka client the bridge
        makes (producer, admin, consumers of tail and rebuild)."""
        options: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.security_protocol in ("SSL", "SASL_SSL"):
            cafile = str(self.ssl_ca_file) if self.ssl_ca_file else None
            options["ssl_context"] = create_ssl_context(cafile=cafile)
        if self.security_protocol.startswith("SASL_"):
            assert self.sasl_password is not None  # _sasl_complete guarantees it
            options.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.sasl_username,
                sasl_plain_password=self.sasl_password.get_secret_value(),
            )
        return options

    @model_validator(mode="after")
    def _sasl_complete(self) -> KafkaSettings:
        if self.security_protocol.startswith("SASL_"):
            for name in ("sasl_mechanism", "sasl_username", "sasl_password"):
                if getattr(self, name) is None:
                    raise invalid(
                        f"is required with security_protocol {self.security_protocol}", name
                    )
        return self


class SchemaRegistrySettings(_Model):
    """A Confluent-compatible schema registry (Confluent, Apicurio ``ccompat``, Karapace…).

    With ``url`` set the bridge registers (or looks up) each topic's value schema at start and
    writes the Confluent wire format; without it, single-object encoding and every schema it
    writes published to ``schemas_topic``. See docs/SCHEMAS.md."""

    url: str | None = None
    """None: Avro single-object encoding, no registry."""
    subject_name_strategy: Literal["topic", "record", "topic_record"] = "topic"
    """Subject of a topic's value schema: ``topic`` ``<topic>-value`` (TopicNameStrategy, what
    Kafka Connect, ksqlDB and Flink expect), ``record`` the record's full name
    (RecordNameStrategy), ``topic_record`` ``<topic>-<full name>`` (TopicRecordNameStrategy)."""
    username: SecretStr | None = None
    """Basic auth user (on Confluent Cloud the API key, hence a secret too)."""
    password: SecretStr | None = None
    ca_file: Path | None = None
    """PEM bundle to trust for an ``https://`` registry with a private CA."""
    check_compatibility: bool = True
    """Refuse to start when a schema cannot read the subject's latest registered version.
    False skips the check (the registry's own compatibility rule still applies)."""
    auto_register: bool = True
    """Register schemas the subject does not have yet; False only looks them up (for
    pipelines that pre-register with ``bridge schemas register``)."""
    request_timeout_seconds: float = Field(default=10.0, gt=0)
    schemas_topic: str = "bridge.schemas"
    """Without a registry: the compacted topic (before the prefix) where the bridge publishes
    every schema it writes, keyed by fingerprint."""

    @field_validator("url", "ca_file", "username", "password", mode="before")
    @classmethod
    def _empty_none(cls, value: Any) -> Any:
        return _empty_to_none(value)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError("must start with http:// or https:// and name a host")
            if parts.username is not None or parts.password is not None:
                # A URL is logged and shown; credentials in it would leak (and invalid() keeps
                # the value out of the error message).
                raise invalid("must not contain credentials: use username and password")
        return value

    @field_validator("ca_file")
    @classmethod
    def _expand_home(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser()

    @field_validator("schemas_topic")
    @classmethod
    def _check_topic(cls, value: str) -> str:
        if not value or not _TOPIC_CHARS.fullmatch(value) or len(value) > 249:
            raise ValueError(
                "must be a Kafka topic name: 1 to 249 letters, digits, '.', '_' or '-'"
            )
        return value

    @model_validator(mode="after")
    def _password_needs_user(self) -> SchemaRegistrySettings:
        if (self.username is None) != (self.password is None):
            raise invalid("username and password go together", "password")
        return self


class MetricsSettings(_Model):
    host: str = Field(default="0.0.0.0", min_length=1)
    port: int = Field(default=9464, ge=0, le=65535)
    """Serves ``/metrics``, ``/healthz`` and ``/readyz``; 0 picks a free port."""


class PublisherSettings(_Model):
    buffer_max_records: int = Field(default=100_000, ge=1)
    """Records enqueued but not yet acknowledged by Kafka."""
    buffer_max_bytes: int = Field(default=67_108_864, ge=1)
    overflow: Literal["block", "drop"] = "block"
    """block: stop reading the sockets while the buffer is full; drop: drop and count."""
    raw_topics: bool = True
    """Also write every frame to ``<exchange>.raw``."""
    normalized_topics: bool = False
    """Also write ``normalized.trades``, ``normalized.book`` and ``normalized.top-of-book``
    from every connection (one may say otherwise: ``connections[].normalized_topics``)."""
    deadletter_topic: str = "bridge.deadletter"

    @field_validator("deadletter_topic")
    @classmethod
    def _check_topic(cls, value: str) -> str:
        if not value or not _TOPIC_CHARS.fullmatch(value) or len(value) > 249:
            raise ValueError(
                "must be a Kafka topic name: 1 to 249 letters, digits, '.', '_' or '-'"
            )
        return value


class ShutdownSettings(_Model):
    flush_timeout_seconds: float = Field(default=10.0, ge=0)


class ShardSettings(_Model):
    index: int = Field(default=0, ge=0)
    count: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _index_below_count(self) -> ShardSettings:
        if self.index >= self.count:
            raise invalid(
                f"must be less than shard.count ({self.count}); got {self.index}", "index"
            )
        return self


class ClusterSettings(_Model):
    """How bridge instances share the connections (docs/OPERATIONS.md, "Scaling out").

    ``static``: each instance holds the share ``shard.index`` of ``shard.count`` gives it.
    ``group``: the instances form one Kafka consumer group and its leader assigns the
    connections; a dead instance's connections are taken over after the session timeout, and
    planned moves (a stop, a rolling upgrade, scaling) hand connections over without a gap."""

    mode: Literal["static", "group"] = "static"
    group_id: str = Field(default="exchange-bridge", min_length=1, max_length=249)
    """The consumer group of the instances that share the connections (group mode)."""
    session_timeout_ms: int = Field(default=6000, ge=1000)
    """How long the group waits for a silent instance before its connections move. Brokers
    refuse values below their ``group.min.session.timeout.ms`` (default 6000)."""
    heartbeat_interval_ms: int = Field(default=2000, ge=100)
    """How often an instance tells the group it lives, and so how soon it learns of a
    rebalance; below a third of the session timeout."""
    handover_timeout_seconds: float = Field(default=15.0, gt=0)
    """How long an instance keeps a connection it gave up (or holds when stopping) waiting
    for the new holder to be subscribed; then it closes it anyway."""

    @model_validator(mode="after")
    def _heartbeat_below_session(self) -> ClusterSettings:
        if self.heartbeat_interval_ms * 3 > self.session_timeout_ms:
            raise invalid(
                f"must be at most a third of session_timeout_ms ({self.session_timeout_ms}); "
                f"got {self.heartbeat_interval_ms}",
                "heartbeat_interval_ms",
            )
        return self


class CredentialsSettings(_Model):
    """All optional. Values are :class:`~pydantic.SecretStr`; use ``.get_secret_value()``."""

    api_key: SecretStr | None = None
    secret_key: SecretStr | None = None
    passphrase: SecretStr | None = None
    token: SecretStr | None = None
    """Kraken private channels."""

    @field_validator("api_key", "secret_key", "passphrase", "token", mode="before")
    @classmethod
    def _strings_only(cls, value: Any) -> Any:
        if value is None or isinstance(value, SecretStr):
            return value
        if not isinstance(value, str):
            # YAML turns 0123 into 83 and 1e5 into a float: never guess, ask for quotes.
            raise ValueError("must be a string (quote the value in YAML)")
        return _empty_to_none(value)

    def is_empty(self) -> bool:
        return all(
            getattr(self, name) is None for name in ("api_key", "secret_key", "passphrase", "token")
        )


class ReconnectSettings(_Model):
    initial_seconds: float = Field(default=1.0, gt=0)
    max_seconds: float = Field(default=60.0, gt=0)
    healthy_after_seconds: float = Field(default=30.0, ge=0)
    """A connection that lived this long resets the backoff."""

    @model_validator(mode="after")
    def _max_not_below_initial(self) -> ReconnectSettings:
        if self.max_seconds < self.initial_seconds:
            raise invalid(
                f"must be at least initial_seconds ({self.initial_seconds:g}); "
                f"got {self.max_seconds:g}",
                "max_seconds",
            )
        return self


class TlsSettings(_Model):
    ca_file: Path | None = None
    """PEM bundle to trust (e.g. a simulator's self-signed certificate). Not checked here."""
    verify: bool = True

    @field_validator("ca_file", mode="before")
    @classmethod
    def _ca_none(cls, value: Any) -> Any:
        return _empty_to_none(value)

    @field_validator("ca_file")
    @classmethod
    def _expand_home(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser()


class ConnectionSettings(_Model):
    name: str
    """Unique; ``[a-z0-9][a-z0-9_.-]*``, at most 63 characters (used as a metric label)."""
    exchange: str
    """``okx``, ``okex_v1`` or ``kraken``: any name :func:`bridge.exchanges.adapter_class` knows."""
    url: str
    enabled: bool = True
    subscriptions: list[dict[str, Any]] = Field(min_length=1)
    """Passed to the adapter as they are; each is checked by its ``validate_subscription``."""
    credentials: CredentialsSettings | None = None
    keepalive_seconds: float | None = Field(default=None, gt=0)
    """None: the adapter's default."""
    idle_timeout_seconds: float = Field(default=30.0, gt=0)
    """Reconnect when nothing is received for this long."""
    connect_timeout_seconds: float = Field(default=10.0, gt=0)
    max_frame_bytes: int = Field(default=1_000_000, ge=1024)
    """A larger frame closes the connection (1009), is counted, and the session reconnects.
    With its record's envelope it must fit ``kafka.max_request_size`` (checked at start), so
    that every frame the bridge accepts can be delivered."""
    reconnect: ReconnectSettings = Field(default_factory=ReconnectSettings)
    tls: TlsSettings = Field(default_factory=TlsSettings)
    normalized_topics: bool | None = None
    """Write this connection's data to the normalized topics too; None: as
    ``publisher.normalized_topics`` says."""

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _CONNECTION_NAME.fullmatch(value) or len(value) > 63:
            raise ValueError(
                "must be 1 to 63 characters: lower-case letters, digits, '_', '.' and '-', "
                "starting with a letter or digit"
            )
        return value

    @field_validator("exchange")
    @classmethod
    def _check_exchange(cls, value: str) -> str:
        _adapter_for(value)
        return value

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("ws", "wss") or not value.lower().startswith(parts.scheme + "://"):
            raise ValueError("must start with ws:// or wss://")
        if not parts.hostname:
            raise ValueError("must name a host")
        return value

    @field_validator("keepalive_seconds", mode="before")
    @classmethod
    def _keepalive_none(cls, value: Any) -> Any:
        return _empty_to_none(value)

    @field_validator("reconnect", "tls", mode="before")
    @classmethod
    def _empty_section(cls, value: Any) -> Any:
        return _none_to_empty_section(value)

    @model_validator(mode="after")
    def _check_with_adapter(self) -> ConnectionSettings:
        adapter = _adapter_for(self.exchange)
        for i, subscription in enumerate(self.subscriptions):
            try:
                adapter.validate_subscription(subscription)
            except (ValueError, TypeError, KeyError) as exc:
                reason = str(exc) or type(exc).__name__
                raise invalid(
                    f"rejected by the {self.exchange} adapter: {reason}", "subscriptions", i
                ) from None
        # The session pings after keepalive_seconds of quiet and gives up after
        # idle_timeout_seconds: a ping must have a chance to be answered first.
        keepalive = self.keepalive_seconds or adapter.keepalive_seconds
        if keepalive >= self.idle_timeout_seconds:
            given = "" if self.keepalive_seconds else f" (the {self.exchange} default)"
            field = "keepalive_seconds" if self.keepalive_seconds else "idle_timeout_seconds"
            raise invalid(
                f"idle_timeout_seconds ({self.idle_timeout_seconds:g}) must be more than "
                f"keepalive_seconds ({keepalive:g}{given})",
                field,
            )
        return self

    def adapter_credentials(self) -> Credentials | None:
        """Plain credential values for the adapter; None when none are configured."""
        creds = self.credentials
        if creds is None or creds.is_empty():
            return None

        def plain(value: SecretStr | None) -> str:
            return "" if value is None else value.get_secret_value()

        return Credentials(
            api_key=plain(creds.api_key),
            secret_key=plain(creds.secret_key),
            passphrase=plain(creds.passphrase),
            token=plain(creds.token),
        )


def _adapter_for(exchange: str) -> Any:
    """The adapter class, or ValueError naming the known exchanges."""
    try:
        return exchanges.adapter_class(exchange)
    except ImportError as exc:
        raise ValueError(f"the adapter for exchange {exchange!r} cannot be loaded: {exc}") from None


class Settings(_Model):
    """The whole configuration. Build it with :func:`load_settings` or :meth:`from_mapping`
    (``Settings(**values)`` validates ``values`` alone; see the module docstring)."""

    instance: str | None = Field(default=None, min_length=1)
    """Bridge instance name in records; None: see :attr:`instance_name`."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    schema_registry: SchemaRegistrySettings = Field(default_factory=SchemaRegistrySettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    publisher: PublisherSettings = Field(default_factory=PublisherSettings)
    shutdown: ShutdownSettings = Field(default_factory=ShutdownSettings)
    shard: ShardSettings = Field(default_factory=ShardSettings)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)
    connections: list[ConnectionSettings] = Field(default_factory=list)

    # POD_NAME and HOSTNAME from the environment the settings were built with (None: built
    # without the loader; os.environ then)
    _host_env: dict[str, str] | None = PrivateAttr(default=None)

    @field_validator("instance", mode="before")
    @classmethod
    def _instance_none(cls, value: Any) -> Any:
        return _empty_to_none(value)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator(
        "kafka",
        "schema_registry",
        "metrics",
        "publisher",
        "shutdown",
        "shard",
        "cluster",
        mode="before",
    )
    @classmethod
    def _empty_section(cls, value: Any) -> Any:
        return _none_to_empty_section(value)

    @field_validator("connections", mode="before")
    @classmethod
    def _no_connections(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("connections")
    @classmethod
    def _unique_names(cls, value: list[ConnectionSettings]) -> list[ConnectionSettings]:
        seen: dict[str, int] = {}
        for i, conn in enumerate(value):
            if conn.name in seen:
                raise invalid(
                    f"duplicate connection name {conn.name!r} "
                    f"(already used by connections.{seen[conn.name]})",
                    i,
                    "name",
                )
            seen[conn.name] = i
        return value

    @model_validator(mode="after")
    def _frames_fit_a_record(self) -> Settings:
        limit = self.kafka.max_request_size - FRAME_RECORD_HEADROOM_BYTES
        for i, conn in enumerate(self.connections):
            if conn.max_frame_bytes > limit:
                raise invalid(
                    f"{conn.max_frame_bytes} bytes do not fit a Kafka record: at most "
                    f"{limit} with kafka.max_request_size {self.kafka.max_request_size} "
                    f"(raise both, and the broker's message.max.bytes)",
                    "connections",
                    i,
                    "max_frame_bytes",
                )
        return self

    @model_validator(mode="after")
    def _shards_are_static(self) -> Settings:
        if self.cluster.mode == "group" and self.shard.count != 1:
            raise invalid(
                "is for cluster.mode static; in group mode the group assigns the connections",
                "shard",
                "count",
            )
        return self

    @property
    def instance_name(self) -> str:
        """``instance``, else ``$POD_NAME``, else ``$HOSTNAME``, else the host name."""
        if self.instance:
            return self.instance
        env: Mapping[str, str] = self._host_env if self._host_env is not None else os.environ
        return env.get("POD_NAME") or env.get("HOSTNAME") or socket.gethostname()

    def normalizes(self, connection: ConnectionSettings) -> bool:
        """Whether ``connection`` writes the normalized topics."""
        if connection.normalized_topics is not None:
            return connection.normalized_topics
        return self.publisher.normalized_topics

    @property
    def normalized_connections(self) -> frozenset[str]:
        """The names of the connections that write the normalized topics."""
        return frozenset(c.name for c in self.connections if self.normalizes(c))

    @property
    def enabled_connections(self) -> list[ConnectionSettings]:
        return [c for c in self.connections if c.enabled]

    @classmethod
    def from_mapping(
        cls,
        data: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        *,
        base_dir: str | Path | None = None,
    ) -> Settings:
        """Build settings from a mapping shaped like the YAML file, exactly as
        :func:`load_settings` does after reading the file. ``environ`` defaults to
        ``os.environ``; ``base_dir`` anchors relative ``${file:…}`` paths and path settings."""
        env = os.environ if environ is None else environ
        anchor = Path(base_dir) if base_dir is not None else None
        return build(cls, data or {}, env, base_dir=anchor)._remember_host(env)

    def _remember_host(self, environ: Mapping[str, str]) -> Settings:
        """Keep the environment's POD_NAME and HOSTNAME for :attr:`instance_name`."""
        self._host_env = {k: environ[k] for k in ("POD_NAME", "HOSTNAME") if k in environ}
        return self


def load_settings(
    path: str | Path | None = None, *, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read, expand, override and validate the configuration (see :mod:`bridge.settings.loader`).

    ``path=None`` gives the defaults plus environment overrides. ``environ`` defaults to
    ``os.environ``. Raises :class:`~bridge.errors.ConfigError`.
    """
    env = os.environ if environ is None else environ
    return load(Settings, path, env)._remember_host(env)
