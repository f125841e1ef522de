"""Shared by the okx adapter tests: configurations, fixtures and small helpers."""

from __future__ import annotations

import json
from typing import Any

from bridge.exchanges.base import Credentials
from bridge.exchanges.events import (
    Destination,
    Event,
)
from bridge.exchanges.okx import OkxAdapter
from tests.fixtures import FIXTURES_DIR, load_fixture
from tests.unit.exchanges.schema_helpers import SCHEMAS_ROOT, PayloadSchemas

STATUS = {"channel": "status"}
CALENDAR = {"channel": "economic-calendar"}
TICKERS = {"channel": "tickers", "instId": "BTC-USDT"}
BOOKS = {"channel": "books", "instId": "BTC-USDT"}

CREDENTIALS = Credentials(api_key="key", secret_key="secret", passphrase="pass")
LOGIN_TIME = 1538054050.75  # the documentation's timestamp, plus a fraction to be dropped


def fixture(name: str) -> str:
    return load_fixture("okx", name)


def fixture_json(name: str) -> Any:
    return json.loads(fixture(name))


def make_adapter(
    *subscriptions: dict[str, Any],
    credentials: Credentials | None = None,
    first_request_id: int = 1512,
) -> OkxAdapter:
    return OkxAdapter(
        list(subscriptions), credentials=credentials, first_request_id=first_request_id
    )


def sent(adapter: OkxAdapter) -> list[Any]:
    """Frames queued since the last call, parsed."""
    return [json.loads(frame) for frame in adapter.data_to_send()]


def connect(adapter: OkxAdapter, now_s: float = LOGIN_TIME) -> list[Any]:
    adapter.connection_made(now_s)
    return sent(adapter)


def connected(*subscriptions: dict[str, Any], first_request_id: int = 1512) -> OkxAdapter:
    adapter = make_adapter(*subscriptions, first_request_id=first_request_id)
    connect(adapter)
    return adapter


def logged_in(*subscriptions: dict[str, Any]) -> OkxAdapter:
    adapter = make_adapter(*subscriptions, credentials=CREDENTIALS)
    connect(adapter)
    adapter.receive(fixture("login-ok.json"))
    sent(adapter)
    return adapter


def dest(arg: dict[str, str], schema: str = "okx/channel", key: str | None = None) -> Destination:
    channel = arg["channel"]
    return Destination(
        topic=f"okx.{channel}", schema=schema, key=key or channel, channel=channel, arg=arg
    )


STATUS_DEST = dest(STATUS, "okx/status")
CALENDAR_DEST = dest(CALENDAR, "okx/economic-calendar")
TICKERS_DEST = dest(TICKERS, "okx/tickers", key="BTC-USDT")
BOOKS_DEST = dest(BOOKS, "okx/books", key="BTC-USDT")


def _latest_files() -> dict[str, str]:
    """Payload record full name -> the file of the latest version of its schema."""
    latest: dict[str, tuple[int, str]] = {}
    for path in (SCHEMAS_ROOT / "okx").glob("*.avsc"):
        name, version = path.name.removesuffix(".avsc").rsplit(".v", 1)
        record = json.loads(path.read_text())
        (payload,) = [f for f in record["fields"] if f["name"] == "payload"]
        first = payload["type"][0]
        full_name = f"{first['namespace']}.{first['name']}"
        if int(version) > latest.get(full_name, (0, ""))[0]:
            latest[full_name] = (int(version), path.name)
    return {full_name: file for full_name, (_, file) in latest.items()}


SCHEMAS = PayloadSchemas("okx", _latest_files())


assert_valid = SCHEMAS.assert_valid
pushes = SCHEMAS.pushes


def only(events: list[Event]) -> Event:
    assert len(events) == 1, events
    return events[0]


def all_fixture_names() -> list[str]:
    return sorted(p.name for p in (FIXTURES_DIR / "okx").iterdir() if p.suffix in (".json", ".txt"))
