"""Shared by the kraken adapter tests: configurations, fixtures and small helpers."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from bridge.exchanges.base import Credentials
from bridge.exchanges.events import (
    Destination,
    Event,
)
from bridge.exchanges.kraken import (
    KrakenAdapter,
    canonical_pair,
)
from tests.fixtures import load_fixture
from tests.unit.exchanges.schema_helpers import PayloadSchemas

REPO_ROOT = Path(__file__).resolve().parents[4]
TOKEN = "WW91ciBhdXRoZW50aWNhdGlvbiB0b2tlbiBnb2VzIGhlcmUu"
CREDENTIALS = Credentials(token=TOKEN)
SEED_CONN_ID = "14859574189081089471"  # PROTOCOLS.md's systemStatus: above 2**63

# The configuration the seed's four examples answer.
SEED_SUBSCRIPTIONS: list[dict[str, Any]] = [
    {"name": "ticker", "pair": ["XBT/EUR"]},
    {"name": "ohlc", "interval": 5, "pair": ["XBT/EUR"]},
    {"name": "ownTrades"},
    {"name": "book", "depth": 42, "pair": ["XBT/USD"]},
]


def fixture(name: str) -> str:
    return load_fixture("kraken", name)


def make_adapter(
    *subscriptions: dict[str, Any], credentials: Credentials | None = CREDENTIALS
) -> KrakenAdapter:
    return KrakenAdapter(list(subscriptions), credentials)


def sent(adapter: KrakenAdapter) -> list[Any]:
    """Frames queued since the last call, parsed."""
    return [json.loads(frame) for frame in adapter.data_to_send()]


def connected(*subscriptions: dict[str, Any]) -> KrakenAdapter:
    adapter = make_adapter(*subscriptions)
    adapter.connection_made(0.0)
    sent(adapter)
    return adapter


def dest(
    name: str,
    pair: str | None = None,
    *,
    key: str | None = None,
    channel: str | None = None,
    **arg: str,
) -> Destination:
    full_arg = {"name": name} if pair is None else {"name": name, "pair": canonical_pair(pair)}
    full_arg.update(arg)
    return Destination(
        topic=f"kraken.{name}",
        schema=f"kraken/{name}",
        key=key or pair or name,
        channel=channel or name,
        arg=full_arg,
    )


SCHEMAS = PayloadSchemas(
    "kraken",
    {
        "exchange_bridge.kraken.Ticker": "ticker.v1.avsc",
        "exchange_bridge.kraken.Ohlc": "ohlc.v1.avsc",
        "exchange_bridge.kraken.Trade": "trade.v1.avsc",
        "exchange_bridge.kraken.Spread": "spread.v1.avsc",
        "exchange_bridge.kraken.Book": "book.v1.avsc",
        "exchange_bridge.kraken.OpenOrder": "openOrders.v1.avsc",
        "exchange_bridge.kraken.OwnTrade": "ownTrades.v1.avsc",
    },
)


assert_valid = SCHEMAS.assert_valid
pushes = SCHEMAS.pushes


def only(events: list[Event]) -> Event:
    assert len(events) == 1, events
    return events[0]


def micros(text: str) -> int:
    """Decimal seconds -> microseconds, through the calendar (an independent computation)."""
    whole, _, fraction = text.partition(".")
    moment = dt.datetime.fromtimestamp(int(whole), dt.UTC) + dt.timedelta(
        microseconds=int((fraction + "000000")[:6])
    )
    return (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


def public_adapter() -> KrakenAdapter:
    return connected(
        {"name": "ticker", "pair": ["BTC/USD"]},
        {"name": "ohlc", "pair": ["XBT/USD"], "interval": 5},
        {"name": "trade", "pair": ["XBT/USD"]},
        {"name": "spread", "pair": ["XBT/USD"]},
        {"name": "book", "pair": ["XBT/USD"]},
    )
