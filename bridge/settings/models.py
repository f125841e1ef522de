"""The configuration's top: :class:`Settings` and its small sections (metrics, publisher,
shutdown, shard, cluster); the ``kafka``/``schema_registry`` sections are in
:mod:`bridge.settings.kafka`, the ``connections`` list in :mod:`bridge.settings.connections`.
Every setting's default is stated once, in its model, with its checks.

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
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from bridge.settings.base import TOPIC_CHARS, SettingsModel, empty_to_none, none_to_empty_section
from bridge.settings.connections import ConnectionSettings
from bridge.settings.kafka import KafkaSettings, SchemaRegistrySettings
from bridge.settings.loader import build, invalid, load

__all__ = [
    "ClusterSettings",
    "MetricsSettings",
    "PublisherSettings",
    "Settings",
    "ShardSettings",
    "ShutdownSettings",
    "load_settings",
]

FRAME_RECORD_HEADROOM_BYTES = 32 * 1024
"""What a frame's record adds to the frame: the envelope (metadata), headers and the record
batch's own header. ``max_frame_bytes`` plus this must fit ``kafka.max_request_size``."""


class MetricsSettings(SettingsModel):
    host: str = Field(default="0.0.0.0", min_length=1)
    port: int = Field(default=9464, ge=0, le=65535)
    """Serves ``/metrics``, ``/healthz`` and ``/readyz``; 0 picks a free port."""


class PublisherSettings(SettingsModel):
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
        if not value or not TOPIC_CHARS.fullmatch(value) or len(value) > 249:
            raise ValueError(
                "must be a Kafka topic name: 1 to 249 letters, digits, '.', '_' or '-'"
            )
        return value


class ShutdownSettings(SettingsModel):
    flush_timeout_seconds: float = Field(default=10.0, ge=0)


class ShardSettings(SettingsModel):
    index: int = Field(default=0, ge=0)
    count: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _index_below_count(self) -> ShardSettings:
        if self.index >= self.count:
            raise invalid(
                f"must be less than shard.count ({self.count}); got {self.index}", "index"
            )
        return self


class ClusterSettings(SettingsModel):
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


class Settings(SettingsModel):
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
        return empty_to_none(value)

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
        return none_to_empty_section(value)

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
