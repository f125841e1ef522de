"""The load generator: a real simulator for the protocol, pre-encoded frames for the load.

Run as its own process (``python -m bench.perf.loadgen STREAM POOL``), so that on 2 cores it
does not take CPU from the process measured. The exchange's simulator (``bridge.sandbox``)
answers the handshake, subscriptions, logins and pings exactly as in the tests; once the
clients are subscribed, the frames of the pool (captured from that same simulator, see
:mod:`bench.perf.frames`) are written straight to each connection's transport as WebSocket
frames encoded in advance. Writing is then a memory copy per burst, not a JSON dump and a
WebSocket send per frame, so the generator is not the bottleneck (checked: the report gives the
offered rate reached next to the rate asked for).

Pacing: ``rate`` frames per second in total, split evenly over the connections. Every
``TICK`` (1 ms) the generator writes the frames due since the start (a burst of rate/1000
frames per tick); ``rate=0`` writes as fast as the reader takes them (the transport's buffer
is kept at ``MAX_BUFFERED`` bytes, so TCP flow control sets the pace). If a reader falls
behind a paced stream, the generator stops adding to a buffer above ``MAX_BUFFERED`` and the
offered rate reached falls short of the rate asked for.

``--tls``: the simulator serves ``wss://`` with a self-signed certificate (the frames are then
encrypted by the generator's TLS transport, in this process); ``ready`` names the certificate
(``ca_file``) for the clients to trust.

Control protocol, JSON lines: stdout ``{"event": "ready", "url": ..., "ca_file": ...}``; stdin
``{"cmd": "subscribed", "connections": n}`` (answers when n connections hold all their
subscriptions), ``{"cmd": "stream", "rate": r, "seconds": s, "frames": n}`` (``frames``, if
given: stop after n frames in all, within the s seconds; answers ``streamed`` with
frames and seconds), ``{"cmd": "quit"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.perf.frames import STREAMS, Frame, Stream, load, ws_frame

TICK = 0.001
MAX_BUFFERED = 4 * 1024 * 1024
CHUNK_FRAMES = 64


@dataclass
class _Target:
    transport: asyncio.WriteTransport
    frames: list[bytes]
    position: int = 0
    sent: int = 0

    def write(self, count: int) -> None:
        """Write the next ``count`` frames of the cycle in one call."""
        frames, n = self.frames, len(self.frames)
        start = self.position
        end = start + count
        if end <= n:
            data = b"".join(frames[start:end])
        else:
            parts = frames[start:]
            rest = count - len(parts)
            parts += frames * (rest // n) + frames[: rest % n]
            data = b"".join(parts)
        self.transport.write(data)
        self.position = end % n
        self.sent += count

    @property
    def buffered(self) -> int:
        return self.transport.get_write_buffer_size()


class LoadGenerator:
    def __init__(
        self, stream: Stream, pool: list[Frame], instruments: list[str], tls: bool = False
    ) -> None:
        self.stream = stream
        self.pool = pool
        self.instruments = instruments
        self.tls = tls
        self.sim: Any = None

    async def start(self) -> str:
        exchange = self.stream.exchange
        if exchange == "okx":
            from bridge.sandbox.okx import OkxSimulator

            # idle_timeout: frames written past the simulator do not count as its activity
            self.sim = OkxSimulator(
                instruments=set(self.instruments), idle_timeout=3600, tls=self.tls
            )
        elif exchange == "kraken":
            from bridge.sandbox.kraken import KrakenSimulator

            self.sim = KrakenSimulator(pairs=self.instruments, heartbeat_interval=0, tls=self.tls)
        else:
            from bridge.sandbox.okex_v1 import OkexV1Simulator

            self.sim = OkexV1Simulator(
                symbols=self.instruments, compression="request", tls=self.tls
            )
        await self.sim.start()
        url: str = self.sim.url()
        return url

    def _subscribed_connections(self) -> list[tuple[Any, list[str]]]:
        """Live connections holding subscriptions, with the instruments they subscribed."""
        found = []
        for conn in self.sim.connections:
            if conn.websocket is None:
                continue
            if self.stream.exchange == "okx":
                instruments = sorted(dict(key).get("instId", "") for key in conn.subscriptions)
            elif self.stream.exchange == "kraken":
                instruments = sorted(pair for (_, pair) in conn.subscriptions if pair)
            else:
                instruments = [self.stream.instrument] if conn.subscriptions else []
            if instruments:
                found.append((conn, instruments))
        return found

    async def wait_subscribed(self, connections: int, subscriptions: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            found = self._subscribed_connections()
            if len(found) >= connections and sum(len(i) for _, i in found) >= subscriptions:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(found)} connection(s) subscribed of {connections}")
            await asyncio.sleep(0.05)

    def _targets(self) -> list[_Target]:
        targets = []
        for conn, instruments in self._subscribed_connections():
            if instruments == [self.stream.instrument]:
                frames = [ws_frame(f) for f in self.pool]
            else:
                # the pool's pushes spread over the connection's instruments in turn
                frames = [
                    ws_frame(f.replace(self.stream.instrument, instruments[i % len(instruments)]))
                    if isinstance(f, str)
                    else ws_frame(f)
                    for i, f in enumerate(self.pool)
                ]
            targets.append(_Target(conn.websocket.transport, frames))
        return targets

    async def stream_frames(self, rate: float, seconds: float, frames: int = 0) -> dict[str, Any]:
        targets = self._targets()
        # frames: a fixed amount instead of a time, split over the connections
        limit = -(-frames // len(targets)) if frames and targets else 1 << 62
        started = time.monotonic()
        ends = started + seconds
        stalled_ticks = 0
        ticks = 0
        while (now := time.monotonic()) < ends and any(t.sent < limit for t in targets):
            ticks += 1
            for target in targets:
                if rate <= 0:
                    while target.buffered < MAX_BUFFERED and target.sent < limit:
                        target.write(min(CHUNK_FRAMES, limit - target.sent))
                    continue
                due = min(int((now - started) * rate / len(targets)), limit) - target.sent
                if due <= 0:
                    continue
                if target.buffered >= MAX_BUFFERED:
                    stalled_ticks += 1  # the reader is behind: the offered rate falls short
                    continue
                target.write(due)
            await asyncio.sleep(TICK)
        elapsed = time.monotonic() - started
        # Every frame is handed over once the transports' buffers are empty (a reader that
        # stopped reading for a minute is reported, not waited for).
        drained_by = time.monotonic() + 60
        while any(t.buffered for t in targets) and time.monotonic() < drained_by:
            await asyncio.sleep(0.001)
        frames = sum(t.sent for t in targets)
        return {
            "event": "streamed",
            "frames": frames,
            "seconds": elapsed,
            "offered_rate": frames / elapsed if elapsed else 0.0,
            "asked_rate": rate,
            "stalled_ticks": stalled_ticks,
            "undelivered_bytes": sum(t.buffered for t in targets),
            "ticks": ticks,
            "frame_bytes": sum(len(f) for f in targets[0].frames) / len(targets[0].frames)
            if targets
            else 0,
        }


def _emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def _serve(stream: Stream, pool: list[Frame], instruments: list[str], tls: bool) -> None:
    generator = LoadGenerator(stream, pool, instruments, tls)
    url = await generator.start()
    _emit({"event": "ready", "url": url, "ca_file": generator.sim.ca_file if tls else None})
    try:
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                return
            command = json.loads(line)
            if command["cmd"] == "subscribed":
                await generator.wait_subscribed(
                    command.get("connections", 1),
                    command.get("subscriptions", 1),
                    command.get("timeout", 60),
                )
                _emit({"event": "subscribed"})
            elif command["cmd"] == "stream":
                _emit(
                    await generator.stream_frames(
                        command["rate"], command["seconds"], command.get("frames", 0)
                    )
                )
            elif command["cmd"] == "quit":
                return
    finally:
        await generator.sim.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stream", choices=sorted(STREAMS))
    parser.add_argument("pool", type=Path)
    parser.add_argument(
        "--instruments", type=int, default=1, help="OKX: serve this many instruments"
    )
    parser.add_argument("--tls", action="store_true", help="serve wss (self-signed certificate)")
    args = parser.parse_args()
    stream = STREAMS[args.stream]
    instruments = [stream.instrument] + [f"I{n:04d}-USDT" for n in range(1, args.instruments)]
    asyncio.run(_serve(stream, load(args.pool), instruments, args.tls))


if __name__ == "__main__":
    main()
