"""Configuration: a YAML file, ``${…}`` references, ``BRIDGE_…`` environment overrides.

``models`` says what the configuration is (the whole :class:`Settings` and the two ways to
build it: :func:`load_settings` and :meth:`Settings.from_mapping`), with ``kafka`` (the Kafka
and schema registry sections) and ``connections`` (the connections list) beside it and ``base``
under all three; ``loader`` says
how a file and the environment become one (YAML with line numbers, references, overrides, error
messages that name the setting and hide secrets).
"""

from bridge.settings.connections import (
    ConnectionSettings,
    CredentialsSettings,
    ReconnectSettings,
    TlsSettings,
)
from bridge.settings.kafka import KafkaSettings, SchemaRegistrySettings
from bridge.settings.models import (
    ClusterSettings,
    MetricsSettings,
    PublisherSettings,
    Settings,
    ShardSettings,
    ShutdownSettings,
    load_settings,
)

__all__ = [
    "ClusterSettings",
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
