"""The measured process: one ``Bridge`` as ``bridge run`` builds it, plus instrumentation.

``python -m bench.perf.bridge_runner CONFIG_JSON`` (``{"settings": ..., "bench": ...}``)
runs ``Bridge(settings, gc_tuning=True).run(stop)`` in this process (the collector's
defaults with ``"bench": {"gc_tuning": false}``), alone (the load generator and the broker
are other processes), so that ``time.process_time()`` here is the bridge's CPU: its event
loop, the WebSocket reads, the adapters, the codec, the publisher and aiokafka, one thread.

Latency, receipt to Kafka acknowledgement, is measured exactly, per record: the publisher's
acknowledgement callback (``Publisher._on_done``, the one that feeds
``bridge_delivery_lag_seconds``) is wrapped to note ``ack time - receive_time`` in
microseconds, with the same two clocks the bridge uses (``receive_time`` is stamped when
the frame is read, before parsing; the ack time is when the event loop runs the callback for
the produce response). Only typed records (not ``<exchange>.raw``) are noted, one per push.

Control protocol, JSON lines: stdout ``{"event": "ready"}`` once every session is
subscribed; stdin ``{"cmd": "mark"}`` (start a measurement window), ``{"cmd": "drain",
"frames": n}`` (wait until n more frames were read and every record is acknowledged, then
report the window), ``{"cmd": "quit"}`` (shut down as on SIGTERM, report memory).
"""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import json
import logging
import signal
import sys
import time
from array import array
from typing import Any

from bench.perf.measures import memory, percentiles
from bridge.runtime.app import Bridge
from bridge.runtime.publisher import Publisher
from bridge.settings import Settings


class _Probe:
    """Receipt-to-ack latencies (µs) of the records acknowledged since the last mark."""

    def __init__(self) -> None:
        self.latencies = array("q")
        self.first_received_us = 0
        self.last_ack_us = 0
        self.records = 0

    def reset(self) -> None:
        self.latencies = array("q")
        self.first_received_us = 0
        self.last_ack_us = 0
        self.records = 0

    def install(self, cls: type[Publisher]) -> None:
        """Wrap ``cls._settle``: the publisher settles each acknowledged batch there."""
        original = cls._settle
        probe = self

        def settle(self: Publisher, lane: Any, batch: list[Any]) -> None:
            original(self, lane, batch)
            now_us = time.time_ns() // 1000
            probe.records += len(batch)
            probe.last_ack_us = now_us
            if batch[0].record.topic.endswith(".raw"):
                return
            for pending in batch:
                received_us = pending.received_us
                if not probe.first_received_us or received_us < probe.first_received_us:
                    probe.first_received_us = received_us
                probe.latencies.append(now_us - received_us)

        cls._settle = settle  # type: ignore[method-assign]


class _GcWatch:
    """Time spent in the cyclic garbage collector, per generation, and the longest pause: a
    full collection walks every live container object, which shows as a latency spike."""

    def __init__(self) -> None:
        self.started = 0.0
        self.reset()
        gc.callbacks.append(self._callback)

    def reset(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.counts = [0, 0, 0]
        self.longest = [0.0, 0.0, 0.0]

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
            return
        spent = time.perf_counter() - self.started
        generation = info["generation"]
        self.seconds[generation] += spent
        self.counts[generation] += 1
        self.longest[generation] = max(self.longest[generation], spent)

    def report(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "collections": self.counts,
            "longest_ms": [1000 * s for s in self.longest],
            "tracked_objects": len(gc.get_objects()),
        }


def _emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def _run(settings: Settings, gc_tuning: bool) -> None:
    """``gc_tuning``: as ``bridge run`` (True), or the interpreter's collector defaults."""
    probe = _Probe()
    probe.install(Publisher)
    gc_watch = _GcWatch()
    bridge = Bridge(settings, gc_tuning=gc_tuning)
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    deadline = time.monotonic() + 60
    while not (bridge.sessions and all(s.subscribed for s in bridge.sessions)):
        if task.done():
            task.result()
            raise SystemExit("the bridge stopped before it subscribed")
        if time.monotonic() > deadline:
            raise SystemExit("the bridge did not subscribe within 60 s")
        await asyncio.sleep(0.05)
    while bridge.publisher.buffered_records:  # acks, markers and schemas of the start
        await asyncio.sleep(0.01)
    _emit({"event": "ready", "memory": memory()})

    mark: dict[str, Any] = {}
    while True:
        line = await asyncio.to_thread(sys.stdin.readline)
        command = json.loads(line) if line else {"cmd": "quit"}
        if command["cmd"] == "mark":
            probe.reset()
            gc_watch.reset()
            mark = {
                "frames": sum(s.frames for s in bridge.sessions),
                "delivered": bridge.publisher.delivered,
                "cpu": time.process_time(),
                "wall": time.monotonic(),
            }
            _emit({"event": "marked"})
        elif command["cmd"] == "drain":
            expected = mark["frames"] + command["frames"]
            timeout = time.monotonic() + command.get("timeout", 120)
            while (
                sum(s.frames for s in bridge.sessions) < expected
                or bridge.publisher.buffered_records
            ) and time.monotonic() < timeout:
                await asyncio.sleep(0.002)
            cpu = time.process_time() - mark["cpu"]
            frames = sum(s.frames for s in bridge.sessions) - mark["frames"]
            delivered = bridge.publisher.delivered - mark["delivered"]
            window_s = max(1e-9, (probe.last_ack_us - probe.first_received_us) / 1e6)
            _emit(
                {
                    "event": "drained",
                    "complete": frames >= command["frames"]
                    and not bridge.publisher.buffered_records,
                    "frames": frames,
                    "records": delivered,
                    "cpu_seconds": cpu,
                    "window_seconds": window_s,
                    "frames_per_second": frames / window_s,
                    "latency_ms": percentiles(probe.latencies, (50, 90, 99, 99.9)),
                    "latency_samples": len(probe.latencies),
                    "memory": memory(),
                    "gc": gc_watch.report(),
                    "metrics": _counters(bridge),
                }
            )
        elif command["cmd"] == "quit":
            stop.set()
            undelivered = await task
            # the counters again after the stop: its session markers are on the topics too
            _emit(
                {
                    "event": "stopped",
                    "undelivered": undelivered,
                    "memory": memory(),
                    "metrics": _counters(bridge),
                }
            )
            return


def _counters(bridge: Bridge) -> dict[str, Any]:
    """Counters the report checks: per-topic deliveries, copies dropped, dead letters."""
    wanted = {
        "bridge_records_delivered_total": "delivered",
        "bridge_duplicates_dropped_total": "duplicates",
        "bridge_deadletter_total": "deadletters",
        "bridge_records_dropped_total": "dropped",
        "bridge_resyncs_total": "resyncs",
    }
    found: dict[str, Any] = {name: {} for name in wanted.values()}
    for family in bridge.metrics.registry.collect():
        for sample in family.samples:
            short = wanted.get(sample.name)
            if short is not None and sample.value:
                label = sample.labels.get("topic") or ",".join(sample.labels.values()) or "-"
                found[short][label] = found[short].get(label, 0) + sample.value
    return found


def main() -> None:
    faulthandler.register(signal.SIGUSR1)  # kill -USR1 <pid>: where is it stuck (stderr log)
    # {"settings": the bridge's settings, "bench": this runner's own switches}
    config = json.loads(sys.argv[1])
    switches = config.get("bench", {})
    gc_tuning = switches.get("gc_tuning", True)
    if switches.get("uvloop", False):
        import uvloop

        uvloop.install()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    settings = Settings.from_mapping(config["settings"])
    asyncio.run(_run(settings, gc_tuning))


if __name__ == "__main__":
    main()
