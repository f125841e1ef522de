"""The ``kafka`` and ``schema_registry`` sections: where records go and how their schemas are
registered."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from aiokafka.helpers import create_ssl_context
from pydantic import (
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from bridge.settings.base import TOPIC_CHARS, SettingsModel, empty_to_none
from bridge.settings.loader import invalid


class KafkaSettings(SettingsModel):
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
        if not TOPIC_CHARS.fullmatch(value) or len(value) > 200:
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
        return empty_to_none(value)

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


class SchemaRegistrySettings(SettingsModel):
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
        return empty_to_none(value)

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
        if not value or not TOPIC_CHARS.fullmatch(value) or len(value) > 249:
            raise ValueError(
                "must be a Kafka topic name: 1 to 249 letters, digits, '.', '_' or '-'"
            )
        return value

    @model_validator(mode="after")
    def _password_needs_user(self) -> SchemaRegistrySettings:
        if (self.username is None) != (self.password is None):
            raise invalid("username and password go together", "password")
        return self
