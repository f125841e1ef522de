"""A Kraken WebSocket v1 simulator on loopback, for tests and the demo.

:mod:`~bridge.sandbox.kraken.protocol` is the server side of the protocol,
:mod:`~bridge.sandbox.kraken.wire` how its frames are written and read,
:mod:`~bridge.sandbox.kraken.market` what its channels carry; ``python -m
bridge.sandbox.kraken --help`` runs one on its own.
"""

from bridge.sandbox.kraken.protocol import (
    AUTH_PATH,
    PUBLIC_PATH,
    KrakenConnection,
    KrakenSimulator,
    KrakenStats,
)

__all__ = ["AUTH_PATH", "PUBLIC_PATH", "KrakenConnection", "KrakenSimulator", "KrakenStats"]
