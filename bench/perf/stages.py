"""CPU per frame by stage, measured one stage at a time on the captured frames.

``python -m bench.perf.stages --pools DIR --bootstrap HOST:PORT`` prints one JSON line:
per stream, microseconds of CPU (``time.process_time``) per frame for

* **parse**: ``adapter.receive(frame)`` (JSON, classification, typed payloads, identities);
* **encode**: the codec, ``raw_record`` plus ``records_for`` of every event (Avro, envelope);
* **pipeline**: ``Pipeline.deliver`` with a publisher that takes records and does nothing,
  minus encode: dispatch, duplicate check, per-frame and per-event metrics;
* **produce**: the real ``Publisher`` against the real broker, records already encoded:
  ``Publisher.send`` per record until every one is acknowledged, per frame (aiokafka's
  batching, the network, the acknowledgement callbacks and their metrics);

The fifth stage, **read** (the WebSocket client), is the receive-only ceiling's CPU per frame,
measured in the run. Their sum is compared with the bridge's measured CPU per frame in the
report; the rest is the event loop and the scheduling between stages.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.perf.frames import STREAMS, Frame, Stream, load, pool_path
from bridge.avro.records import Codec, OutRecord
from bridge.exchanges import adapter_class
from bridge.exchanges.base import Adapter
from bridge.frame import ConnectionInfo
from bridge.frame import Frame as StampedFrame
from bridge.metrics import Metrics
from bridge.runtime.pipeline import Pipeline, RecentPushes


def _adapter(stream: Stream) -> Adapter:
    adapter = adapter_class(stream.exchange)([stream.subscription], None)
    adapter.connection_made(time.time())
    adapter.data_to_send()
    return adapter


def _info(stream: Stream) -> ConnectionInfo:
    group = adapter_class(stream.exchange).topic_group
    return ConnectionInfo(stream.exchange, group, "c0", "c0#1", "bench")


def _stamped(frames: Sequence[Frame]) -> list[StampedFrame]:
    now = time.time_ns() // 1000
    return [StampedFrame(f, now + i, i + 1) for i, f in enumerate(frames)]


def _cpu_per_item(body: Callable[[], int], min_seconds: float) -> float:
    """Microseconds of CPU per item, repeating ``body`` (which returns its item count)."""
    items = 0
    started = time.process_time()
    while True:
        items += body()
        spent = time.process_time() - started
        if spent >= min_seconds:
            return 1e6 * spent / items


def encode_all(frames: Sequence[Frame], stream: Stream, codec: Codec) -> list[list[OutRecord]]:
    adapter, info = _adapter(stream), _info(stream)
    out = []
    for frame in _stamped(frames):
        records = [codec.raw_record(info, frame)]
        for event in adapter.receive(frame.data, frame.received_us):
            records += codec.records_for(info, frame, event)
        out.append(records)
    return out


def mean_record_size(frames: Sequence[Frame], stream: Stream) -> int:
    records = [r for rs in encode_all(frames, stream, Codec()) for r in rs]
    return round(sum(len(r.value) + len(r.key or b"") for r in records) / len(records))


class _NullPublisher:
    full = False
    max_record_bytes = 1024 * 1024
    on_undeliverable = None

    def __init__(self) -> None:
        self.records = 0

    async def send(
        self, record: OutRecord, received_us: int, *, force: bool = False, origin: object = None
    ) -> bool:
        self.records += 1
        return True


def measure_offline(frames: Sequence[Frame], stream: Stream, min_seconds: float) -> dict[str, Any]:
    stamped = _stamped(frames)
    info = _info(stream)
    codec = Codec()

    def parse() -> int:
        adapter = _adapter(stream)
        for frame in stamped:
            adapter.receive(frame.data, frame.received_us)
        return len(stamped)

    events = []
    adapter = _adapter(stream)
    for frame in stamped:
        events.append((frame, adapter.receive(frame.data, frame.received_us)))

    def encode() -> int:
        for frame, frame_events in events:
            codec.raw_record(info, frame)
            for event in frame_events:
                codec.records_for(info, frame, event)
        return len(events)

    publisher = _NullPublisher()
    pipeline = Pipeline(codec, publisher, Metrics())  # type: ignore[arg-type]

    def deliver() -> int:
        async def body() -> None:
            recent = RecentPushes()
            for frame, frame_events in events:
                await pipeline.deliver(info, frame, frame_events, recent)

        asyncio.run(body())
        return len(events)

    parse_us = _cpu_per_item(parse, min_seconds)
    encode_us = _cpu_per_item(encode, min_seconds)
    deliver_us = _cpu_per_item(deliver, min_seconds)
    records = sum(1 for _ in encode_all(frames, stream, codec) for _ in _)
    return {
        "parse_us": parse_us,
        "encode_us": encode_us,
        "pipeline_us": max(0.0, deliver_us - encode_us),
        "records_per_frame": records / len(frames),
    }


async def measure_produce(
    frames: Sequence[Frame], stream: Stream, bootstrap: str, count: int
) -> dict[str, Any]:
    from bridge.runtime.publisher import Publisher

    batches = encode_all(frames, stream, Codec())
    prefix = f"stages{time.time_ns() % 10**9}."
    publisher = Publisher(Metrics(), bootstrap_servers=bootstrap, topic_prefix=prefix)
    await publisher.start()
    try:
        # warm-up: topics created, metadata known, connections open
        for record in batches[0]:
            await publisher.send(record, time.time_ns() // 1000)
        await publisher.flush(30)
        sent_frames = 0
        started = time.process_time()
        wall = time.monotonic()
        while sent_frames < count:
            for records in batches:
                now = time.time_ns() // 1000
                for record in records:
                    await publisher.send(record, now)
                sent_frames += 1
                if sent_frames >= count:
                    break
        await publisher.flush(60)
        cpu = time.process_time() - started
        wall = time.monotonic() - wall
    finally:
        await publisher.stop()
    return {
        "produce_us": 1e6 * cpu / sent_frames,
        "produce_frames_per_second": sent_frames / wall,
        "produce_records_per_second": sent_frames * len(batches[0]) / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=Path, required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--streams", nargs="*", default=list(STREAMS))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    result = {}
    for name in args.streams:
        stream = STREAMS[name]
        frames = load(pool_path(args.pools, name))
        stages = measure_offline(frames, stream, 0.5 if args.quick else 1.5)
        count = 20_000 if args.quick else 60_000
        stages.update(asyncio.run(measure_produce(frames, stream, args.bootstrap, count)))
        stages["record_size"] = mean_record_size(frames, stream)
        result[name] = stages
    print(json.dumps(result))


if __name__ == "__main__":
    main()
