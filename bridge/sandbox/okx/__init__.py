"""A faithful OKX v5 WebSocket simulator on loopback, for tests and the demo.

:mod:`~bridge.sandbox.okx.protocol` is the server side of the protocol,
:mod:`~bridge.sandbox.okx.market` what its channels carry; ``python -m bridge.sandbox.okx
--help`` runs one on its own.
"""

from bridge.sandbox.okx.market import (
    CALENDAR_FIELDS,
    DEFAULT_STATUS,
    SEED_CALENDAR_FRAME,
    SEED_STATUS_FRAME,
    STATUS_FIELDS,
)
from bridge.sandbox.okx.protocol import (
    BUSINESS_PATH,
    IDLE_CLOSE_REASON,
    PRIVATE_PATH,
    PUBLIC_PATH,
    OkxAccount,
    OkxConnection,
    OkxSimulator,
    OkxStats,
)
from bridge.sandbox.okx.wire import SubscriptionKey, login_sign, subscription_key

__all__ = [
    "BUSINESS_PATH",
    "CALENDAR_FIELDS",
    "DEFAULT_STATUS",
    "IDLE_CLOSE_REASON",
    "PRIVATE_PATH",
    "PUBLIC_PATH",
    "SEED_CALENDAR_FRAME",
    "SEED_STATUS_FRAME",
    "STATUS_FIELDS",
    "OkxAccount",
    "OkxConnection",
    "OkxSimulator",
    "OkxStats",
    "SubscriptionKey",
    "login_sign",
    "subscription_key",
]
