"""Frame pools: real protocol frames, captured once from the simulators, replayed at any rate.

A simulator renders frames one by one in Python, at a few thousand per second: as a load
generator on a 2-core machine it would be the bottleneck. So each stream is captured once from
its simulator (a WebSocket client subscribes, the simulator's own generator makes the data:
OKX ``rates``, Kraken ``tick()``, OKEx v1 ``update_book()``), and the
load generator replays the captured frames in a cycle, pre-encoded as WebSocket frames.

Why a cycle is still a valid stream for the bridge:

* each pool starts with the book snapshot, so a wrap-around is a new snapshot (Kraken's
  adapter verifies book checksums against its local book: a snapshot resets that book);
* OKX pushes carry a content identity and the bridge drops a push seen again among the last
  10,000 of a connection; OKX pools are larger than that (every element has its own ``ts`` /
  ``seqId``), so no replayed push is dropped as a copy. Kraken book and OKEx v1 depth pushes
  have no identity.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from bridge.exchanges import adapter_class

Frame = str | bytes

OKX_DEDUP_WINDOW = 10_000
"""``bridge.runtime.pipeline.RecentPushes`` default size: an OKX pool must be larger than this."""


@dataclass(frozen=True)
class Stream:
    name: str
    exchange: str
    subscription: dict[str, Any]
    """One subscription as the bridge's configuration names it."""
    pool_size: int
    description: str
    instrument: str = ""
    """The instrument the frames name (replaced per subscription in multi-subscription runs)."""


STREAMS: dict[str, Stream] = {
    s.name: s
    for s in (
        Stream(
            "okx-books",
            "okx",
            {"channel": "books", "instId": "BTC-USDT"},
            12_000,
            "OKX v5 books BTC-USDT (snapshot, then one level per side changed per push)",
            "BTC-USDT",
        ),
        Stream(
            "okx-tickers",
            "okx",
            {"channel": "tickers", "instId": "BTC-USDT"},
            12_000,
            "OKX v5 tickers BTC-USDT",
            "BTC-USDT",
        ),
        Stream(
            "kraken-book",
            "kraken",
            {"name": "book", "depth": 10, "pair": ["XBT/USD"]},
            4_000,
            "Kraken v1 book-10 XBT/USD (snapshot, updates with checksums)",
            "XBT/USD",
        ),
        Stream(
            "okex-depth",
            "okex_v1",
            {"channel": "ok_sub_spot_btc_usdt_depth", "binary": 1},
            4_000,
            "OKEx v1 ok_sub_spot_btc_usdt_depth, deflate-compressed binary frames",
            "btc_usdt",
        ),
    )
}


def subscribe_frames(exchange: str, subscriptions: Sequence[dict[str, Any]]) -> list[Frame]:
    """What the bridge's adapter sends on connect for these subscriptions."""
    adapter = adapter_class(exchange)(subscriptions, None)
    adapter.connection_made(time.time())
    return adapter.data_to_send()


async def capture(stream: Stream, size: int | None = None) -> list[Frame]:
    """``size`` push frames of ``stream`` as its simulator sends them, snapshot first."""
    size = size or stream.pool_size
    if stream.exchange == "okx":
        return await _capture_okx(stream, size)
    if stream.exchange == "kraken":
        return await _capture_kraken(stream, size)
    return await _capture_okex(stream, size)


async def _collect(url: str, stream: Stream, size: int, is_push: Any, drive: Any) -> list[Frame]:
    frames: list[Frame] = []
    async with connect(url, max_size=None, ping_interval=None) as ws:
        for outbound in subscribe_frames(stream.exchange, [stream.subscription]):
            await ws.send(outbound)
        driver = asyncio.ensure_future(drive()) if drive is not None else None
        try:
            while len(frames) < size:
                data = await asyncio.wait_for(ws.recv(), 10)
                if is_push(data):
                    frames.append(data)
        finally:
            if driver is not None:
                driver.cancel()
    return frames


async def _capture_okx(stream: Stream, size: int) -> list[Frame]:
    from bridge.sandbox.okx import OkxSimulator

    channel = stream.subscription["channel"]
    rates = {"books" if channel == "books" else "tickers": 1e9}
    async with OkxSimulator(instruments={stream.instrument}, rates=rates) as sim:

        def is_push(data: Frame) -> bool:
            return isinstance(data, str) and data.startswith('{"arg"') and '"data"' in data

        return await _collect(sim.url(), stream, size, is_push, None)


async def _capture_kraken(stream: Stream, size: int) -> list[Frame]:
    from bridge.sandbox.kraken import KrakenSimulator

    async with KrakenSimulator(pairs=[stream.instrument], heartbeat_interval=0) as sim:

        async def drive() -> None:
            await sim.wait_for_subscribers("book")
            while True:
                for _ in range(50):
                    await sim.tick("book")
                await asyncio.sleep(0)

        def is_push(data: Frame) -> bool:
            return isinstance(data, str) and data.startswith("[")

        return await _collect(sim.url(), stream, size, is_push, drive)


async def _capture_okex(stream: Stream, size: int) -> list[Frame]:
    from bridge.sandbox.okex_v1 import OkexV1Simulator

    symbol = stream.instrument
    rng = random.Random(1)
    mid = 60_000.0
    bids = [(f"{mid - i * 0.5:.2f}", f"{rng.uniform(0.01, 5):.4f}") for i in range(1, 21)]
    asks = [(f"{mid + i * 0.5:.2f}", f"{rng.uniform(0.01, 5):.4f}") for i in range(1, 21)]
    async with OkexV1Simulator(symbols=[symbol], compression="request") as sim:
        sim.set_book(symbol, bids, asks)

        async def drive() -> None:
            await sim.wait_for_subscribers(stream.subscription["channel"])
            while True:
                side = rng.choice(("bids", "asks"))
                sign = -1 if side == "bids" else 1
                price = f"{mid + sign * rng.randint(1, 25) * 0.5:.2f}"
                amount = "0" if rng.random() < 0.2 else f"{rng.uniform(0.01, 5):.4f}"
                await sim.update_book(symbol, **{side: [(price, amount)]})

        def is_push(data: Frame) -> bool:
            # Every frame of a binary subscription is compressed; acks name addChannel.
            from bridge.exchanges.okex_v1 import inflate

            text = inflate(data).decode() if isinstance(data, bytes) else data
            return '"addChannel"' not in text and '"data"' in text

        return await _collect(sim.url(), stream, size, is_push, drive)


# -- files: pools are captured once per run and shared by the processes -------------------------


def save(path: Path, frames: Sequence[Frame]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for frame in frames:
            if isinstance(frame, bytes):
                out.write(json.dumps({"b": base64.b64encode(frame).decode()}) + "\n")
            else:
                out.write(json.dumps({"t": frame}, ensure_ascii=False) + "\n")


def load(path: Path) -> list[Frame]:
    frames: list[Frame] = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            item = json.loads(line)
            frames.append(base64.b64decode(item["b"]) if "b" in item else item["t"])
    return frames


def pool_path(directory: Path, stream: str) -> Path:
    return directory / f"{stream}.jsonl"


async def capture_all(directory: Path, names: Sequence[str]) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in names:
        path = pool_path(directory, name)
        if not path.exists():
            save(path, await capture(STREAMS[name]))
        paths[name] = path
    return paths


# -- WebSocket framing ---------------------------------------------------------------------------


def ws_frame(payload: Frame) -> bytes:
    """One unmasked server-to-client WebSocket frame (FIN set; text or binary)."""
    if isinstance(payload, str):
        body, opcode = payload.encode(), 0x1
    else:
        body, opcode = payload, 0x2
    n = len(body)
    if n < 126:
        header = bytes((0x80 | opcode, n))
    elif n < 1 << 16:
        header = bytes((0x80 | opcode, 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 127)) + n.to_bytes(8, "big")
    return header + body


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="capture frame pools from the simulators")
    parser.add_argument("directory", type=Path)
    parser.add_argument("streams", nargs="*", default=list(STREAMS))
    args = parser.parse_args()
    paths = asyncio.run(capture_all(args.directory, args.streams))
    for name, path in paths.items():
        print(name, len(load(path)), path)


if __name__ == "__main__":
    main()
