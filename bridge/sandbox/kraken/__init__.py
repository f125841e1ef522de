"""A Kraken WebSocket v1 simulator on loopback, for tests and the demo.

:mod:`~bridge.sandbox.kraken.protocol` is the server side of the protocol,
:mod:`~bridge.sandbox.kraken.market` what its channels carry; ``python -m
bridge.sandbox.kraken --help`` runs one on its own.
"""

from bridge.sandbox.kraken.market import book_checksum
from bridge.sandbox.kraken.protocol import (
    AUTH_PATH,
    PUBLIC_PATH,
    KrakenConnection,
    KrakenSimulator,
    KrakenStats,
)
from bridge.sandbox.kraken.wire import (
    DEFAULT_PAIRS,
    DEPTHS,
    INTERVALS,
    PUBLIC_CHANNELS,
    SYSTEM_STATUSES,
)

__all__ = [
    "AUTH_PATH",
    "DEFAULT_PAIRS",
    "DEPTHS",
    "INTERVALS",
    "PUBLIC_CHANNELS",
    "PUBLIC_PATH",
    "SYSTEM_STATUSES",
    "KrakenConnection",
    "KrakenSimulator",
    "KrakenStats",
    "book_checksum",
]
