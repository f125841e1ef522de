"""The ``connections`` list: one exchange WebSocket connection each, with its credentials,
reconnect policy and TLS."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import (
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from bridge import exchanges
from bridge.exchanges.base import Credentials
from bridge.settings.base import SettingsModel, empty_to_none, none_to_empty_section
from bridge.settings.loader import invalid

_CONNECTION_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")


class CredentialsSettings(SettingsModel):
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
        return empty_to_none(value)

    def is_empty(self) -> bool:
        return all(
            getattr(self, name) is None for name in ("api_key", "secret_key", "passphrase", "token")
        )


class ReconnectSettings(SettingsModel):
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


class TlsSettings(SettingsModel):
    ca_file: Path | None = None
    """PEM bundle to trust (e.g. a simulator's self-signed certificate). Not checked here."""
    verify: bool = True

    @field_validator("ca_file", mode="before")
    @classmethod
    def _ca_none(cls, value: Any) -> Any:
        return empty_to_none(value)

    @field_validator("ca_file")
    @classmethod
    def _expand_home(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser()


class ConnectionSettings(SettingsModel):
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
        adapter_for(value)
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
        return empty_to_none(value)

    @field_validator("reconnect", "tls", mode="before")
    @classmethod
    def _empty_section(cls, value: Any) -> Any:
        return none_to_empty_section(value)

    @model_validator(mode="after")
    def _check_with_adapter(self) -> ConnectionSettings:
        adapter = adapter_for(self.exchange)
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


def adapter_for(exchange: str) -> Any:
    """The adapter class, or ValueError naming the known exchanges."""
    try:
        return exchanges.adapter_class(exchange)
    except ImportError as exc:
        raise ValueError(f"the adapter for exchange {exchange!r} cannot be loaded: {exc}") from None
