"""A faithful OKX v5 WebSocket simulator on loopback, for tests and the demo.

:mod:`~bridge.sandbox.okx.protocol` is the server side of the protocol,
:mod:`~bridge.sandbox.okx.wire` how its frames are written and read,
:mod:`~bridge.sandbox.okx.market` what its channels carry, :mod:`~bridge.sandbox.okx.access`
who may log in and subscribe to what; ``python -m bridge.sandbox.okx
--help`` runs one on its own.
"""

from bridge.sandbox.okx.access import OkxAccount
from bridge.sandbox.okx.market import SEED_CALENDAR_FRAME, SEED_STATUS_FRAME
from bridge.sandbox.okx.protocol import (
    BUSINESS_PATH,
    IDLE_CLOSE_REASON,
    PRIVATE_PATH,
    PUBLIC_PATH,
    OkxConnection,
    OkxSimulator,
    OkxStats,
)
from bridge.sandbox.okx.wire import subscription_key

__all__ = [
    "BUSINESS_PATH",
    "IDLE_CLOSE_REASON",
    "PRIVATE_PATH",
    "PUBLIC_PATH",
    "SEED_CALENDAR_FRAME",
    "SEED_STATUS_FRAME",
    "OkxAccount",
    "OkxConnection",
    "OkxSimulator",
    "OkxStats",
    "subscription_key",
]
