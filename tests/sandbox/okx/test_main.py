"""``python -m bridge.sandbox.okx``: the standalone server."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from websockets.asyncio.client import connect

from tests.sandbox.standalone import help_text, standalone


def test_help_names_every_option() -> None:
    text = help_text("bridge.sandbox.okx")
    for option in (
        "--host",
        "--port",
        "--tls",
        "--idle-timeout",
        "--account",
        "--status-every",
        "--calendar-every",
        "--tickers-rate",
        "--trades-rate",
        "--books-rate",
        "--candles-rate",
        "--market-rate",
        "--private-rate",
        "--instrument",
        "--zero-checksums",
        "--verbose",
    ):
        assert option in text, option


def test_standalone_server_serves_every_endpoint_and_scripts_status_changes() -> None:
    with standalone("bridge.sandbox.okx", "--status-every", "0.2", "--account", "k:s:p:2") as out:
        urls = [line.split()[2] for line in out[:3]]
        assert [u.split("/", 3)[3] for u in urls] == [
            "ws/v5/public",
            "ws/v5/private",
            "ws/v5/business",
        ]
        assert out[3] == "  account: apiKey=k secret=s passphrase=p vip=2"

        async def statuses() -> list[dict[str, Any]]:
            async with connect(urls[0]) as ws:
                await ws.send('{"op":"subscribe","args":[{"channel":"status"}]}')
                return [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(3)]

        ack, latest, change = asyncio.run(statuses())
    assert ack["event"] == "subscribe"
    # the latest status on subscribe: the seed's, or a change scripted since the start
    scripted = re.compile(r"Demo system upgrade #\d+")
    title = latest["data"][0]["title"]
    assert title == "Trading account WebSocket system upgrade" or scripted.fullmatch(title)
    assert scripted.fullmatch(change["data"][0]["title"])
    assert change["data"][0]["state"] in ("scheduled", "ongoing", "completed")
