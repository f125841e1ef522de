"""Configuration: a YAML file, ``${…}`` references, ``BRIDGE_…`` environment overrides.

Use :func:`load_settings` (``bridge run --config FILE``) or :meth:`Settings.from_mapping`
(tests, the demo). Both run the same steps and raise :class:`~bridge.errors.ConfigError`,
whose ``field`` is the dotted path of the (first) offending setting, list indexes as numbers
(``connections.0.url``):

1. Read the YAML file (a missing file, bad YAML or a duplicate key names the file and line).
2. Replace references in every string value, using the environment:
   ``${NAME}`` (a missing variable is an error naming the field and the variable),
   ``${NAME:-default}`` (the default is used when NAME is unset or empty),
   ``${file:/run/secrets/x}`` (the file's content, minus one trailing newline) and
   ``$${`` for a literal ``${``. Relative ``${file:…}`` paths and ``tls.ca_file`` in a file
   are taken relative to that file's directory.
3. Apply environment overrides: ``BRIDGE_`` prefix, ``__`` between levels, e.g.
   ``BRIDGE_KAFKA__BOOTSTRAP_SERVERS=broker:9092``. The environment wins over the file.
   ``null`` means None; a list or mapping field may be given as JSON
   (``BRIDGE_CONNECTIONS='[...]'``); one list item can be changed by index
   (``BRIDGE_CONNECTIONS__0__URL=wss://…``). References are not expanded in overrides.
4. Validate. Unknown keys are errors everywhere except inside subscription mappings.

Defaults are stated once, in the models below. Secret values (credentials, anything read with
``${file:…}``) never appear in ``repr``/``str``/``model_dump`` or in error messages.
"""

from __future__ import annotations

import difflib
import os
import re
import socket
import types
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from bridge import exchanges
from bridge.errors import ConfigError
from bridge.exchanges.base import Credentials

try:  # pydantic-settings >= 2.5
    from pydantic_settings.sources.utils import parse_env_vars as _parse_env_vars
except ImportError:  # pragma: no cover - older layout
    from pydantic_settings.sources import parse_env_vars as _parse_env_vars  # type: ignore

__all__ = [
    "ConnectionSettings",
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

ENV_PREFIX = "BRIDGE_"
ENV_NESTED_DELIMITER = "__"

_CONNECTION_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_TOPIC_CHARS = re.compile(r"[A-Za-z0-9._-]*")
_SECRET_NAME = re.compile(r"secret|passw|passphrase|token|api_?key|private", re.IGNORECASE)
_ERROR_TYPE = "bridge_config"


# --------------------------------------------------------------------------------------------
# helpers for validators


def _invalid(message: str, *subpath: str | int) -> PydanticCustomError:
    """A validation error at ``<where the validator runs>.<subpath>`` (for model validators)."""
    return PydanticCustomError(
        _ERROR_TYPE, "{message}", {"message": message, "subpath": [str(p) for p in subpath]}
    )


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
        from aiokafka.helpers import create_ssl_context

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
                    raise _invalid(
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
                # A URL is logged and shown; credentials in it would leak (and _invalid keeps
                # the value out of the error message).
                raise _invalid("must not contain credentials: use username and password")
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
            raise _invalid("username and password go together", "password")
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
            raise _invalid(
                f"must be less than shard.count ({self.count}); got {self.index}", "index"
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
            raise _invalid(
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
    max_frame_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    """A larger frame closes the connection (1009), is counted, and the session reconnects."""
    reconnect: ReconnectSettings = Field(default_factory=ReconnectSettings)
    tls: TlsSettings = Field(default_factory=TlsSettings)

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
                raise _invalid(
                    f"rejected by the {self.exchange} adapter: {reason}", "subscriptions", i
                ) from None
        # The session pings after keepalive_seconds of quiet and gives up after
        # idle_timeout_seconds: a ping must have a chance to be answered first.
        keepalive = self.keepalive_seconds or adapter.keepalive_seconds
        if keepalive >= self.idle_timeout_seconds:
            given = "" if self.keepalive_seconds else f" (the {self.exchange} default)"
            field = "keepalive_seconds" if self.keepalive_seconds else "idle_timeout_seconds"
            raise _invalid(
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


# Set while load_settings/from_mapping build a Settings: they merge the environment themselves.
_BUILDING: ContextVar[bool] = ContextVar("bridge_settings_building", default=False)


class Settings(BaseSettings):
    """The whole configuration. Build it with :func:`load_settings` or :meth:`from_mapping`.

    ``Settings(**values)`` also works; it reads ``BRIDGE_…`` variables from ``os.environ``
    (winning over ``values``) but raises pydantic's ValidationError, expands no ``${…}`` and
    cannot override list items by index.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        env_parse_none_str="null",
        extra="forbid",
    )

    instance: str | None = Field(default=None, min_length=1)
    """Bridge instance name in records; None: see :attr:`instance_name`."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    schema_registry: SchemaRegistrySettings = Field(default_factory=SchemaRegistrySettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    publisher: PublisherSettings = Field(default_factory=PublisherSettings)
    shutdown: ShutdownSettings = Field(default_factory=ShutdownSettings)
    shard: ShardSettings = Field(default_factory=ShardSettings)
    connections: list[ConnectionSettings] = Field(default_factory=list)

    # POD_NAME and HOSTNAME from the environment the settings were built with
    _host_env: dict[str, str] | None = PrivateAttr(default=None)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        if _BUILDING.get():
            return (init_settings,)
        return (env_settings, init_settings)  # the environment wins over the file

    @field_validator("instance", mode="before")
    @classmethod
    def _instance_none(cls, value: Any) -> Any:
        return _empty_to_none(value)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator(
        "kafka", "schema_registry", "metrics", "publisher", "shutdown", "shard", mode="before"
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
                raise _invalid(
                    f"duplicate connection name {conn.name!r} "
                    f"(already used by connections.{seen[conn.name]})",
                    i,
                    "name",
                )
            seen[conn.name] = i
        return value

    @property
    def instance_name(self) -> str:
        """``instance``, else ``$POD_NAME``, else ``$HOSTNAME``, else the host name."""
        if self.instance:
            return self.instance
        env: Mapping[str, str] = self._host_env if self._host_env is not None else os.environ
        return env.get("POD_NAME") or env.get("HOSTNAME") or socket.gethostname()

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
        ``os.environ``; ``base_dir`` anchors relative ``${file:…}`` paths and ``tls.ca_file``."""
        return _build(
            dict(data or {}),
            os.environ if environ is None else environ,
            source=None,
            base_dir=Path(base_dir) if base_dir is not None else None,
            lines={},
        )


# --------------------------------------------------------------------------------------------
# loading


def load_settings(
    path: str | Path | None = None, *, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read, expand, override and validate the configuration; see the module docstring.

    ``path=None`` gives the defaults plus environment overrides. ``environ`` defaults to
    ``os.environ``. Raises :class:`ConfigError`.
    """
    env = os.environ if environ is None else environ
    if path is None:
        return _build({}, env, source=None, base_dir=None, lines={})
    file = Path(path)
    data, lines = _read_yaml(file)
    return _build(data, env, source=str(file), base_dir=file.resolve().parent, lines=lines)


_Path = tuple[str, ...]


class _Loader(yaml.SafeLoader):  # type: ignore[misc,unused-ignore]
    """SafeLoader that refuses duplicate keys (the last one would silently win)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"found duplicate key {key_node.value!r}",
                        key_node.start_mark,
                    )
                seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def _read_yaml(file: Path) -> tuple[dict[str, Any], dict[_Path, int]]:
    try:
        text = file.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {file}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not UTF-8 text (byte {exc.start})") from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        # Only problem/context: str(exc) quotes the source line, which may hold a secret.
        mark = exc.problem_mark or exc.context_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else str(file)
        what = exc.problem or "cannot parse"
        if exc.context:
            what += f"; {exc.context}"
            if exc.context_mark is not None and exc.context_mark is not mark:
                what += f" (started on line {exc.context_mark.line + 1})"
        raise ConfigError(f"{where}: invalid YAML: {what}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: invalid YAML: {type(exc).__name__}") from None
    finally:
        loader.dispose()
    if data is None or node is None:  # an empty file
        return {}, {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{file}:{node.start_mark.line + 1}: the top level must be a mapping of settings, "
            f"not {_kind(data)}"
        )
    lines: dict[_Path, int] = {}
    _collect_lines(node, (), lines, set())
    return data, lines


def _collect_lines(node: yaml.Node, path: _Path, lines: dict[_Path, int], active: set[int]) -> None:
    """Map each setting's path to the line it is on (best effort: a hint for error messages)."""
    if id(node) in active:  # recursive anchors
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                sub = (*path, key_node.value)
                lines[sub] = key_node.start_mark.line + 1
                _collect_lines(value_node, sub, lines, active)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            sub = (*path, str(i))
            lines[sub] = item.start_mark.line + 1
            _collect_lines(item, sub, lines, active)
    active.discard(id(node))


# -- ${…} references ----------------------------------------------------------------------------

_REFERENCE = re.compile(r"\$\$\{|\$\{([^{}]*)\}|\$\{")
_VARIABLE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)


class _Expander:
    def __init__(
        self,
        environ: Mapping[str, str],
        base_dir: Path | None,
        where: _Where,
    ) -> None:
        self.environ = environ
        self.base_dir = base_dir
        self.where = where
        self.secret_paths: set[_Path] = set()
        self._active: set[int] = set()

    def expand(self, value: Any, path: _Path) -> Any:
        if isinstance(value, str):
            return self._expand_string(value, path)
        if not isinstance(value, dict | list):
            return value
        if id(value) in self._active:
            self._fail(path, "a YAML alias refers to itself")
        self._active.add(id(value))
        try:
            if isinstance(value, dict):
                return {k: self.expand(v, (*path, str(k))) for k, v in value.items()}
            return [self.expand(v, (*path, str(i))) for i, v in enumerate(value)]
        finally:
            self._active.discard(id(value))

    def _expand_string(self, text: str, path: _Path) -> str:
        if "${" not in text:
            return text

        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$${":
                return "${"
            inner = match.group(1)
            if inner is None:
                self._fail(path, "unterminated or nested ${...} reference")
            assert inner is not None
            if inner.startswith("file:"):
                self.secret_paths.add(path)
                return self._read_secret(inner[len("file:") :], path)
            var = _VARIABLE.fullmatch(inner)
            if var is None:
                self._fail(
                    path,
                    f"bad reference ${{{inner}}}: use ${{NAME}}, ${{NAME:-default}} "
                    "or ${file:/path}",
                )
            assert var is not None
            name, default = var.group(1), var.group(2)
            if _SECRET_NAME.search(name):
                self.secret_paths.add(path)
            value = self.environ.get(name)
            if default is not None:
                return value if value else default
            if value is None:
                self._fail(
                    path,
                    f"environment variable {name} is not set "
                    f"(write ${{{name}:-default}} to give a default)",
                )
            assert value is not None
            return value

        return _REFERENCE.sub(replace, text)

    def _read_secret(self, name: str, path: _Path) -> str:
        file = Path(name).expanduser()
        if not file.is_absolute() and self.base_dir is not None:
            file = self.base_dir / file
        try:
            content = file.read_bytes().decode("utf-8")
        except OSError as exc:
            self._fail(path, f"cannot read secret file {file}: {exc.strerror or exc}")
        except UnicodeDecodeError:
            self._fail(path, f"secret file {file} is not UTF-8 text")
        if content.endswith("\r\n"):
            return content[:-2]
        return content[:-1] if content.endswith("\n") else content

    def _fail(self, path: _Path, message: str) -> None:
        raise ConfigError(
            f"{self.where.prefix(path)}{'.'.join(path)}: {message}", field=".".join(path)
        )


# -- environment overrides -----------------------------------------------------------------------


def _environment_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    source = EnvSettingsSource(Settings)
    config = Settings.model_config
    source.env_vars = _parse_env_vars(
        environ,
        bool(config.get("case_sensitive")),
        bool(config.get("env_ignore_empty")),
        config.get("env_parse_none_str"),
    )
    try:
        return source()
    except SettingsError as exc:
        field = re.search(r'field "([^"]+)"', str(exc))
        name = field.group(1) if field else ""
        cause = f": {exc.__cause__}" if exc.__cause__ else ""
        raise ConfigError(
            f"environment variable {ENV_PREFIX}{name.upper()} is not valid JSON{cause}",
            field=name or None,
        ) from None


_MISSING: Any = object()


def _merge(base: Any, override: Any, path: _Path, where: _Where) -> Any:
    """Deep-merge ``override`` (from the environment) into ``base`` (from the file).
    A mapping whose keys are all numbers updates the items of a list."""
    if not isinstance(override, dict):
        return override
    if isinstance(base, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base.get(key, _MISSING), value, (*path, str(key)), where)
        return merged
    if (
        (base is _MISSING or isinstance(base, list))
        and override
        and all(isinstance(k, str) and k.isdigit() for k in override)
    ):
        items = [] if base is _MISSING else list(base)
        for key, value in override.items():
            index = int(key)
            if index >= len(items):
                dotted = ".".join((*path, key))
                raise ConfigError(
                    f"{dotted}: {where.env_variable((*path, key))} overrides item {index} of "
                    f"{'.'.join(path)}, which has {len(items)} item(s); "
                    f"set {_env_name(path)} to a JSON list to replace the whole list",
                    field=dotted,
                )
            items[index] = _merge(items[index], value, (*path, key), where)
        return items
    return override


def _env_name(path: _Path) -> str:
    return ENV_PREFIX + ENV_NESTED_DELIMITER.join(path).upper()


# -- building and error messages -----------------------------------------------------------------


class _Where:
    """Says where a setting came from, for error messages."""

    def __init__(self, source: str | None, lines: dict[_Path, int], environ: Mapping[str, str]):
        self.source = source
        self.lines = lines
        self.env_paths: dict[_Path, str] = {}
        for name in environ:
            if name.upper().startswith(ENV_PREFIX) and len(name) > len(ENV_PREFIX):
                parts = name[len(ENV_PREFIX) :].lower().split(ENV_NESTED_DELIMITER)
                self.env_paths[tuple(parts)] = name

    def env_variable(self, path: _Path) -> str | None:
        """The BRIDGE_… variable that set ``path`` (or the part of it that failed)."""
        best: tuple[int, str] | None = None
        for env_path, name in self.env_paths.items():
            n = min(len(env_path), len(path))
            if n and env_path[:n] == path[:n] and (best is None or len(env_path) > best[0]):
                best = (len(env_path), name)
        return best[1] if best else None

    def prefix(self, path: _Path) -> str:
        if self.source is None:
            return ""
        for n in range(len(path), 0, -1):
            line = self.lines.get(path[:n])
            if line is not None:
                return f"{self.source}:{line}: "
        return f"{self.source}: "


def _build(
    data: dict[str, Any],
    environ: Mapping[str, str],
    *,
    source: str | None,
    base_dir: Path | None,
    lines: dict[_Path, int],
) -> Settings:
    where = _Where(source, lines, environ)
    for key in data:
        # BaseSettings.__init__ would take _env_file, _secrets_dir… as arguments.
        if not isinstance(key, str) or key.startswith("_"):
            raise ConfigError(f"{where.prefix((str(key),))}{key}: unknown setting", field=str(key))
    expander = _Expander(environ, base_dir, where)
    data = expander.expand(data, ())
    if base_dir is not None:
        _anchor_ca_files(data, base_dir)
    overrides = _environment_overrides(environ)
    merged = _merge(data, overrides, (), where)

    token = _BUILDING.set(True)
    try:
        settings = Settings(**merged)
    except ValidationError as exc:
        raise _config_error(exc, where, expander.secret_paths) from None
    finally:
        _BUILDING.reset(token)
    settings._host_env = {k: environ[k] for k in ("POD_NAME", "HOSTNAME") if k in environ}
    return settings


def _anchor_ca_files(data: dict[str, Any], base_dir: Path) -> None:
    for section in ("kafka", "schema_registry"):
        block = data.get(section)
        key = "ssl_ca_file" if section == "kafka" else "ca_file"
        if isinstance(block, dict):
            ca_file = block.get(key)
            if (
                isinstance(ca_file, str)
                and ca_file
                and not Path(ca_file).expanduser().is_absolute()
            ):
                block[key] = str(base_dir / ca_file)
    connections = data.get("connections")
    if not isinstance(connections, list):
        return
    for conn in connections:
        tls = conn.get("tls") if isinstance(conn, dict) else None
        if not isinstance(tls, dict):
            continue
        ca_file = tls.get("ca_file")
        if isinstance(ca_file, str) and ca_file and not Path(ca_file).expanduser().is_absolute():
            tls["ca_file"] = str(base_dir / ca_file)


def _config_error(exc: ValidationError, where: _Where, secret_paths: set[_Path]) -> ConfigError:
    messages: list[str] = []
    first: str | None = None
    for error in exc.errors(include_url=False):
        path: _Path = tuple(str(p) for p in error["loc"])
        ctx = error.get("ctx") or {}
        if error["type"] == _ERROR_TYPE:
            path = (*path, *ctx.get("subpath", ()))
        dotted = ".".join(path) or "(top level)"
        first = first or dotted
        text = _describe(error, path, _is_secret(path, secret_paths))
        env_var = where.env_variable(path)
        if env_var is not None:
            messages.append(f"{dotted}: {text} (from environment variable {env_var})")
        else:
            messages.append(f"{where.prefix(path)}{dotted}: {text}")
    return ConfigError("\n".join(messages), field=first)


def _is_secret(path: _Path, secret_paths: set[_Path]) -> bool:
    if "credentials" in path or any(_SECRET_NAME.search(p) for p in path):
        return True
    return any(path[: len(s)] == s or s[: len(path)] == path for s in secret_paths)


def _describe(error: Any, path: _Path, secret: bool) -> str:
    kind: str = error["type"]
    message: str = error["msg"]
    if kind == "extra_forbidden":
        return _unknown_key(path)
    if kind == "missing":
        return "required setting is missing"
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    if kind == _ERROR_TYPE or secret:
        return message
    value = error.get("input")
    if value is None or isinstance(value, str | int | float | bool):
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        if shown not in message:
            message += f" (got {shown})"
    elif kind.endswith("_type"):
        message += f" (got {_kind(value)})"
    return message


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def _unknown_key(path: _Path) -> str:
    model = _model_at(path[:-1])
    if model is None:
        return "unknown setting"
    names = list(model.model_fields)
    close = difflib.get_close_matches(path[-1], names, n=1, cutoff=0.6)
    if close:
        return f"unknown setting (did you mean {close[0]!r}?)"
    return f"unknown setting (expected one of: {', '.join(names)})"


def _model_at(path: _Path) -> type[BaseModel] | None:
    current: Any = Settings
    for part in path:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part)
            if field is None:
                return None
            current = _unwrap(field.annotation)
        elif get_origin(current) is list and part.isdigit():
            current = _unwrap(get_args(current)[0])
        else:
            return None
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None


def _unwrap(annotation: Any) -> Any:
    """``X | None`` → ``X``; ``Annotated[X, …]`` → ``X``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        for arg in get_args(annotation):
            if arg is not type(None):
                return _unwrap(arg)
    return annotation
