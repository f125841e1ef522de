"""Exceptions raised by the bridge.

BridgeError                 root of everything the bridge raises on purpose
├── ConfigError             configuration is invalid; the CLI exits with code 2
│   └── KafkaAccessError    Kafka refused our credentials, or its certificate is not trusted
├── SandboxError            a local sandbox component (Kafka, simulator) cannot start
│   └── MissingToolError    java or mvn is not installed
├── SchemaError             a schema file is missing or invalid, or a record does not fit it
│   └── IncompatibleSchemaError  a schema cannot read what the registry's latest version wrote
├── RegistryError           the schema registry cannot be reached or refused a request
├── KafkaUnavailableError   Kafka cannot be reached to read from (``bridge tail``)
└── TopicNotFoundError      a topic to read does not exist (``bridge tail`` creates none)

Bad frames from an exchange are events (``Unrecognized``), not exceptions.
"""

from __future__ import annotations


class BridgeError(Exception):
    """Root of the bridge's own exceptions."""


class ConfigError(BridgeError):
    """Invalid configuration. ``field`` names the offending setting, dotted."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class KafkaAccessError(ConfigError):
    """Kafka answered but refused us: wrong SASL credentials, or its certificate is not
    trusted. Retrying cannot help, so the bridge stops with exit code 2."""


class SandboxError(BridgeError):
    """A sandbox component could not be started or stopped."""


class MissingToolError(SandboxError):
    """A program the sandbox needs (java, mvn) is not on PATH."""


class SchemaError(BridgeError):
    """A schema could not be loaded, or a record does not fit its schema."""


class RegistryError(BridgeError):
    """The schema registry could not be reached, or refused a request.

    ``status`` is the HTTP status (None when no answer came) and ``error_code`` the
    registry's own code (e.g. 40401 subject not found, 409 incompatible)."""

    def __init__(self, message: str, status: int | None = None, error_code: int | None = None):
        super().__init__(message)
        self.status = status
        self.error_code = error_code


class IncompatibleSchemaError(SchemaError):
    """A schema the bridge writes cannot read data the subject's latest version wrote, or the
    registry's compatibility rule refused it. ``bridge run`` exits with code 2."""


class KafkaUnavailableError(BridgeError):
    """Kafka could not be reached (or refused us) when a command came to read from it."""


class TopicNotFoundError(BridgeError):
    """A topic to read does not exist on the broker (or is not visible to us). Readers never
    create topics, whatever the broker's ``auto.create.topics.enable``."""
