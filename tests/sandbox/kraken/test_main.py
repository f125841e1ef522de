"""``python -m bridge.sandbox.kraken``: the standalone server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import connect

from tests.sandbox.standalone import help_text, standalone


async def first_messages(url: str, n: int) -> list[dict[str, Any]]:
    async with connect(url) as ws:
        return [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(n)]


def test_standalone_server_starts_and_serves() -> None:
    with standalone("bridge.sandbox.kraken", "--rate", "0") as lines:
        assert lines[0].startswith("Kraken simulator: public ws://127.0.0.1:")
        assert lines[0].endswith("/auth")
        assert lines[1] == "  pairs: ETH/USD, ETH/XBT, XBT/EUR, XBT/USD; tokens: demo-token"
        [status] = asyncio.run(first_messages(lines[0].split()[3], 1))
    assert status["event"] == "systemStatus" and status["status"] == "online"


def test_status_every_cycles_the_system_status() -> None:
    with standalone("bridge.sandbox.kraken", "--status-every", "0.2") as lines:
        messages = asyncio.run(first_messages(lines[0].split()[3], 3))
    assert [m["status"] for m in messages][1:] in (
        ["maintenance", "online"],
        ["online", "post_only"],
        ["post_only", "online"],
        ["online", "cancel_only"],
        ["cancel_only", "online"],
        ["online", "maintenance"],
    )


def test_help_names_every_option() -> None:
    text = help_text("bridge.sandbox.kraken")
    for option in (
        "--host",
        "--port",
        "--tls",
        "--token",
        "--rate",
        "--private-rate",
        "--heartbeat-interval",
        "--max-messages-per-second",
        "--status-every",
        "--verbose",
    ):
        assert option in text, option
