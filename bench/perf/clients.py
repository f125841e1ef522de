"""The other clients on the same stream: the receive-only ceiling and the plain-loop baseline.

``python -m bench.perf.clients recv CONFIG_JSON``: the **receive-only ceiling**. The same
WebSocket library and options as the bridge's session (``websockets`` asyncio client,
``ping_interval=None``, the bridge's ``max_size``), the subscribe frames of the bridge's own
adapter, then ``await ws.recv()`` in a loop and nothing else: how fast frames can be read at
all by a Python asyncio client.

``python -m bench.perf.clients baseline CONFIG_JSON``: the **plain-loop baseline**, what one
writes first: websockets + ``json`` + ``fastavro`` + ``AIOKafkaProducer.send_and_wait`` per
record (acks=all, idempotent, as the bridge), one record per pushed element in the bridge's
own typed schema and single-object encoding (``okx/channel``), no raw topic. It is not
cryptofeed: cryptofeed's OKX feed loads its symbol list from OKX's REST API when it starts,
which this machine cannot reach (see docs/PERFORMANCE.md).

Both speak the control protocol of :mod:`bench.perf.bridge_runner` (ready, mark, drain, quit)
so the harness drives all three alike. ``drain`` takes ``max_seconds``: the baseline is far
slower than the stream, so its window is cut after that long and what it did is counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import sys
import time
from typing import Any

from websockets.asyncio.client import connect

from bench.perf.frames import subscribe_frames


def _emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


class _Counter:
    def __init__(self) -> None:
        self.frames = 0
        self.first = 0.0
        self.last = 0.0

    def tick(self) -> None:
        now = time.monotonic()
        if not self.first:
            self.first = now
        self.last = now
        self.frames += 1


async def _control(counter: _Counter, worker: asyncio.Task[None]) -> None:
    mark_frames, mark_cpu = 0, 0.0
    while True:
        line = await asyncio.to_thread(sys.stdin.readline)
        command = json.loads(line) if line else {"cmd": "quit"}
        if command["cmd"] == "mark":
            mark_frames, mark_cpu = counter.frames, time.process_time()
            counter.first = counter.last = 0.0
            _emit({"event": "marked"})
        elif command["cmd"] == "drain":
            expected = mark_frames + command["frames"]
            started = time.monotonic()
            limit = command.get("max_seconds") or command.get("timeout", 120)
            while counter.frames < expected and time.monotonic() - started < limit:
                if worker.done():
                    worker.result()
                await asyncio.sleep(0.002)
            frames = counter.frames - mark_frames
            window = max(1e-9, counter.last - counter.first)
            _emit(
                {
                    "event": "drained",
                    "complete": counter.frames >= expected,
                    "frames": frames,
                    "cpu_seconds": time.process_time() - mark_cpu,
                    "window_seconds": window,
                    "frames_per_second": frames / window,
                }
            )
        elif command["cmd"] == "quit":
            worker.cancel()
            _emit({"event": "stopped"})
            return


async def _receive_only(config: dict[str, Any], counter: _Counter) -> None:
    async with connect(
        config["url"], ping_interval=None, max_size=4 * 1024 * 1024, close_timeout=1
    ) as ws:
        for outbound in subscribe_frames(config["exchange"], config["subscriptions"]):
            await ws.send(outbound)
        _emit({"event": "ready"})
        while True:
            await ws.recv()
            counter.tick()


async def _baseline(config: dict[str, Any], counter: _Counter) -> None:
    import fastavro
    from aiokafka import AIOKafkaProducer

    from bridge.avro.formats import SINGLE_OBJECT_MAGIC
    from bridge.avro.store import SchemaStore

    schema = SchemaStore().latest("okx/channel")
    parsed, fingerprint = schema.parsed, schema.fingerprint
    topic_prefix = config["topic_prefix"]
    producer = AIOKafkaProducer(
        bootstrap_servers=config["bootstrap_servers"], acks="all", enable_idempotence=True
    )
    await producer.start()
    sequence = 0
    try:
        async with connect(config["url"], ping_interval=None, max_size=4 * 1024 * 1024) as ws:
            for outbound in subscribe_frames(config["exchange"], config["subscriptions"]):
                await ws.send(outbound)
            _emit({"event": "ready"})
            while True:
                data = await ws.recv()
                received_us = time.time_ns() // 1000
                sequence += 1
                message = json.loads(data)
                arg = message.get("arg") or {}
                for element in message.get("data") or ():
                    value = {
                        "exchange": "okx",
                        "channel": arg.get("channel", ""),
                        "arg": arg,
                        "receive_time": received_us,
                        "event_time": int(element["ts"]) if "ts" in element else None,
                        "connection": "baseline",
                        "connection_id": "baseline#1",
                        "exchange_connection_id": None,
                        "sequence": sequence,
                        "bridge_instance": "baseline",
                        "payload": (
                            "exchange_bridge.okx.ChannelData",
                            {
                                "action": message.get("action"),
                                "data": json.dumps(element, separators=(",", ":")),
                            },
                        ),
                    }
                    out = io.BytesIO()
                    out.write(SINGLE_OBJECT_MAGIC + fingerprint)
                    fastavro.schemaless_writer(out, parsed, value)
                    await producer.send_and_wait(
                        f"{topic_prefix}okx.{arg.get('channel')}",
                        out.getvalue(),
                        key=str(arg.get("instId", "")).encode(),
                    )
                counter.tick()
    finally:
        await producer.stop()


async def _main(kind: str, config: dict[str, Any]) -> None:
    counter = _Counter()
    body = _receive_only if kind == "recv" else _baseline
    worker = asyncio.create_task(body(config, counter))
    await _control(counter, worker)
    with contextlib.suppress(asyncio.CancelledError):
        await worker


def main() -> None:
    kind, config = sys.argv[1], json.loads(sys.argv[2])
    asyncio.run(_main(kind, config))


if __name__ == "__main__":
    main()
