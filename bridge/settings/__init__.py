"""Configuration: a YAML file, ``${…}`` references, ``BRIDGE_…`` environment overrides.

``models`` says what the configuration is (every setting, its default and its checks, and the
two ways to build it: :func:`load_settings` and :meth:`Settings.from_mapping`); ``loader`` says
how a file and the environment become one (YAML with line numbers, references, overrides, error
messages that name the setting and hide secrets).
"""

from bridge.settings.models import (
    ClusterSettings,
    ConnectionSettings,
    CredentialsSettings,
    KafkaSettings,
    MetricsSettings,
    PublisherSettings,
    ReconnectSettings,
    SchemaRegistrySettings,
    Settings,
    ShardSettings,
    ShutdownSettings,
    TlsSettings,
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
