"""The exchange table: what a test needs to know to drive each exchange against its simulator.

A scenario that applies to every exchange is written once and parametrised over ``EXCHANGES``
(``each_exchange``), or over the exchanges that have what it needs (``exchanges_with("login")``):
a test reads here how to configure a connection, which simulator to start and how, which
channel streams, which topic to look at, how to inject a push and recognise it, what bad input
and refused subscriptions look like, how a consumer holds the exchange's book, and what the
documentation's examples must decode to. ``entry.py`` is the shape of an entry; one module per
exchange fills it in (a fourth exchange adds one).
"""

from __future__ import annotations

import pytest

from tests.integration.exchanges.books import ConsumerBook
from tests.integration.exchanges.entry import (
    KEY,
    MAX_FRAME_BYTES,
    PASSPHRASE,
    SECRET,
    TOKEN,
    Exchange,
    Seen,
    Sim,
)
from tests.integration.exchanges.kraken import KRAKEN
from tests.integration.exchanges.okex_v1 import LOGIN as OKEX_V1_LOGIN
from tests.integration.exchanges.okex_v1 import OKEX_V1
from tests.integration.exchanges.okx import LOGIN as OKX_LOGIN
from tests.integration.exchanges.okx import OKX

__all__ = [
    "EXCHANGES",
    "KEY",
    "KRAKEN",
    "MAX_FRAME_BYTES",
    "OKEX_V1",
    "OKEX_V1_LOGIN",
    "OKX",
    "OKX_LOGIN",
    "PASSPHRASE",
    "SECRET",
    "TOKEN",
    "ConsumerBook",
    "Exchange",
    "Seen",
    "Sim",
    "each_exchange",
    "exchanges_with",
]

EXCHANGES = (OKX, OKEX_V1, KRAKEN)

each_exchange = pytest.mark.parametrize("exchange", EXCHANGES, ids=str)


def exchanges_with(part: str) -> pytest.MarkDecorator:
    """Parametrise a test over the exchanges whose entry has ``part`` (``login``, ``book``...)."""
    return pytest.mark.parametrize(
        "exchange", [e for e in EXCHANGES if getattr(e, part) is not None], ids=str
    )
