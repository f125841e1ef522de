"""A legacy OKEx v1 spot WebSocket simulator on loopback, for tests and the demo.

:mod:`~bridge.sandbox.okex_v1.protocol` is the server side of the protocol,
:mod:`~bridge.sandbox.okex_v1.wire` how its frames are written and read,
:mod:`~bridge.sandbox.okex_v1.market` what its market channels carry and
:mod:`~bridge.sandbox.okex_v1.trading` the accounts behind its trade API; ``python -m
bridge.sandbox.okex_v1 --help`` runs one on its own.
"""

from bridge.sandbox.okex_v1.protocol import PATH, OkexV1Connection, OkexV1Simulator, OkexV1Stats
from bridge.sandbox.okex_v1.trading import OkexV1Account, OkexV1Order
from bridge.sandbox.okex_v1.wire import deflate, parse_lenient

__all__ = [
    "PATH",
    "OkexV1Account",
    "OkexV1Connection",
    "OkexV1Order",
    "OkexV1Simulator",
    "OkexV1Stats",
    "deflate",
    "parse_lenient",
]
