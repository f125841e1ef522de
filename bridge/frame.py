"""What the session knows about one inbound frame, stamped before any parsing."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """Identity of one WebSocket connection, as recorded in every record's metadata."""

    exchange: str
    topic_group: str
    """First part of this exchange's topic and schema names: ``okx``, ``okex``, ``kraken``."""
    connection: str
    """Configured connection name."""
    connection_id: str
    """The bridge's id for this WebSocket (``<name>#<attempt>``), unique within the process."""
    bridge_instance: str


@dataclass(frozen=True, slots=True)
class Frame:
    data: str | bytes
    received_us: int
    """Unix time in microseconds, taken when the frame was read and before it was parsed."""
    sequence: int
    """1 for the first frame of a connection."""
