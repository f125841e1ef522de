"""``python -m bridge.sandbox.okex_v1``: the standalone server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import connect

from tests.sandbox.standalone import help_text, standalone


def test_standalone_entry_point_help() -> None:
    text = help_text("bridge.sandbox.okex_v1")
    assert "--compression" in text and "--account" in text and "--market-rate" in text


def test_standalone_server_serves_a_book_on_every_documented_pair() -> None:
    with standalone("bridge.sandbox.okex_v1", "--compression", "off", "--market-rate", "0") as out:
        assert out[0].startswith("OKEx v1 simulator: ws://127.0.0.1:")
        assert out[0].endswith("/ws/v1  (compression: off)")
        assert out[1] == "  account: api_key=demo-key secret_key=demo-secret"

        async def depth() -> list[dict[str, Any]]:
            async with connect(out[0].split()[3]) as ws:
                await ws.send("{'event':'addChannel','channel':'ok_sub_spot_bch_btc_depth_5'}")
                await asyncio.wait_for(ws.recv(), 5)  # the ack
                frame: list[dict[str, Any]] = json.loads(await asyncio.wait_for(ws.recv(), 5))
                return frame

        [push] = asyncio.run(depth())
    bids, asks = push["data"]["bids"], push["data"]["asks"]
    assert len(bids) == len(asks) == 5
    assert bids[0] == ["0.04999500", "1.0000"] and asks[0] == ["0.05000500", "1.0000"]
