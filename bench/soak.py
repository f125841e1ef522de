"""Soak: one bridge (a subprocess) against the three simulators and a sandbox Kafka broker for
N minutes, with a fault every minute, then an account of every frame and of the bridge's memory.

    python -m bench.soak                  # 10 minutes, a fault every 60 s
    python -m bench.soak --minutes 1      # a quick run (one fault)
    python -m bench.soak --minutes 3 --fault-every 30 --json soak.json

Faults rotate: ``drop`` (abrupt TCP drop on all three), ``idle`` (the server closes: OKX 4004,
OKEx v1 1000 "idle", Kraken 1000), ``maintenance`` (OKX 64008 notice then close; Kraken
systemStatus maintenance, close 1001, online 10 s later; OKEx v1 server away for 10 s),
``broker`` (Kafka stopped for 10 s, then started). See bench/README.md for what is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiokafka import AIOKafkaConsumer

from bridge.avro.formats import decode_single_object
from bridge.avro.store import SchemaStore
from bridge.sandbox.kafka import SandboxKafka
from bridge.sandbox.kraken import KrakenSimulator
from bridge.sandbox.okex_v1 import OkexV1Simulator
from bridge.sandbox.okx import IDLE_CLOSE_REASON, PUBLIC_PATH, OkxSimulator
from bridge.sandbox.processes import free_port

FAULTS = ("drop", "idle", "maintenance", "broker")
CONNECTIONS = {"okx": "okx-public", "okex_v1": "okex-spot", "kraken": "kraken-public"}
RAW_TOPICS = {"okx": "okx.raw", "okex_v1": "okex.raw", "kraken": "kraken.raw"}
OUTAGE_SECONDS = 10.0

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
"""Prometheus samples: (metric name, sorted labels) → value."""


def log(start: float, text: str) -> None:
    print(f"[{time.monotonic() - start:7.1f} s] {text}", flush=True)


# --- the system under test ------------------------------------------------------------------


class Exchanges:
    """The three simulators streaming at moderate rates (about 100 frames/s in all)."""

    def __init__(self) -> None:
        self.okx = OkxSimulator(rates={"tickers": 20, "books": 10})
        self.okex = OkexV1Simulator(rate=10)
        self.kraken = KrakenSimulator(rate=5)

    async def start(self) -> None:
        for sim in (self.okx, self.okex, self.kraken):
            await sim.start()

    async def stop(self) -> None:
        for sim in (self.okx, self.okex, self.kraken):
            with contextlib.suppress(Exception):
                await sim.stop()

    def connections(self) -> list[dict[str, Any]]:
        return [
            {
                "name": CONNECTIONS["okx"],
                "exchange": "okx",
                "url": self.okx.url(PUBLIC_PATH),
                "subscriptions": [
                    {"channel": "status"},
                    {"channel": "tickers", "instId": "BTC-USDT"},
                    {"channel": "tickers", "instId": "ETH-USDT"},
                    {"channel": "books", "instId": "BTC-USDT"},
                ],
            },
            {
                "name": CONNECTIONS["okex_v1"],
                "exchange": "okex_v1",
                "url": self.okex.url(),
                "subscriptions": [
                    {"channel": "ok_sub_spot_btc_usdt_ticker"},
                    {"channel": "ok_sub_spot_btc_usdt_depth"},
                    {"channel": "ok_sub_spot_btc_usdt_deals"},
                ],
            },
            {
                "name": CONNECTIONS["kraken"],
                "exchange": "kraken",
                "url": self.kraken.url(),
                "subscriptions": [
                    {"name": "ticker", "pair": ["XBT/USD", "ETH/USD"]},
                    {"name": "spread", "pair": ["XBT/USD", "ETH/USD"]},
                    {"name": "trade", "pair": ["XBT/USD"]},
                    {"name": "book", "pair": ["XBT/USD"], "depth": 10},
                ],
            },
        ]

    def pushes_sent(self) -> dict[str, int]:
        return {
            "okx": self.okx.stats.pushes_total,
            "okex_v1": self.okex.stats.pushes_total,
            "kraken": self.kraken.stats.pushes_total,
        }


class BridgeProcess:
    """``python -m bridge run`` with its log in a file and its metrics on a free port."""

    def __init__(self, workdir: Path, bootstrap: str, prefix: str, conns: list[Any]) -> None:
        self.port = free_port()
        self.config = workdir / "bridge.yaml"
        self.log_path = workdir / "bridge.log"
        self.config.write_text(
            yaml.safe_dump(
                {
                    "instance": "soak",
                    "log_level": "INFO",
                    "kafka": {"bootstrap_servers": bootstrap, "topic_prefix": prefix},
                    "metrics": {"host": "127.0.0.1", "port": self.port},
                    "connections": conns,
                }
            )
        )
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self._log = self.log_path.open("wb")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bridge",
            "run",
            "--config",
            str(self.config),
            stdout=self._log,
            stderr=self._log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def rss_mb(self) -> float:
        """VmRSS of the bridge process, in MB."""
        text = Path(f"/proc/{self.pid}/status").read_text()
        kb = int(re.search(r"^VmRSS:\s+(\d+) kB", text, re.M)[1])  # type: ignore[index]
        return kb / 1024

    def _get(self, path: str) -> tuple[int, str]:
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError:
            return 0, ""

    async def ready(self) -> bool:
        status, _ = await asyncio.to_thread(self._get, "/readyz")
        return status == 200

    async def metrics(self) -> Samples:
        _, text = await asyncio.to_thread(self._get, "/metrics")
        samples = {}
        for line in text.splitlines():
            match = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
            if match is None or line.startswith("#"):
                continue
            labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', match[2] or "")))
            samples[(match[1], labels)] = float(match[3])
        return samples

    async def stop(self, timeout: float = 60) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            code = await self.proc.wait()
        self._log.close()
        return code

    def frames_read_at_stop(self) -> int | None:
        found = re.findall(r"stopped reading: (\d+) frame", self.log_path.read_text())
        return int(found[-1]) if found else None


def by_label(samples: Samples, name: str, label: str) -> dict[str, dict[str, float]]:
    """``{connection: {label value: value}}`` for one metric."""
    out: dict[str, dict[str, float]] = {}
    for (metric, labels), value in samples.items():
        if metric != name:
            continue
        d = dict(labels)
        out.setdefault(d.get("connection", ""), {})[d.get(label, "")] = value
    return out


# --- faults ---------------------------------------------------------------------------------


async def fault_drop(ex: Exchanges, kafka: SandboxKafka) -> None:
    await asyncio.gather(
        ex.okx.drop_connections(), ex.okex.drop_connections(), ex.kraken.drop_connections()
    )


async def fault_idle(ex: Exchanges, kafka: SandboxKafka) -> None:
    await asyncio.gather(
        ex.okx.close_connections(4004, IDLE_CLOSE_REASON),
        ex.okex.close_connections(1000, "idle"),
        ex.kraken.close_connections(1000),
    )


async def fault_maintenance(ex: Exchanges, kafka: SandboxKafka) -> None:
    async def okx() -> None:
        await ex.okx.send_notice(close_after=2.0)

    async def kraken() -> None:
        await ex.kraken.set_status("maintenance")
        await asyncio.sleep(1.0)
        await ex.kraken.close_connections(1001, "maintenance")
        await asyncio.sleep(OUTAGE_SECONDS - 1.0)
        await ex.kraken.set_status("online")

    async def okex() -> None:
        await ex.okex.stop()
        await asyncio.sleep(OUTAGE_SECONDS)
        await ex.okex.start()

    await asyncio.gather(okx(), kraken(), okex())


async def fault_broker(ex: Exchanges, kafka: SandboxKafka) -> None:
    await asyncio.to_thread(kafka.stop_broker)
    await asyncio.sleep(OUTAGE_SECONDS)
    await asyncio.to_thread(kafka.start_broker)


FAULT_ACTIONS: dict[str, Callable[[Exchanges, SandboxKafka], Awaitable[None]]] = {
    "drop": fault_drop,
    "idle": fault_idle,
    "maintenance": fault_maintenance,
    "broker": fault_broker,
}


@dataclass
class FaultResult:
    at_seconds: float
    fault: str
    recovery_seconds: dict[str, float | None]
    """Per connection: fault → first push received on a connection opened after the fault
    (None: not within 45 s). For the broker fault: fault → Kafka buffer drained."""
    attempts: dict[str, int]
    """Per connection: connection attempts the fault cost."""
    buffer_peak_records: int = 0


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def last_push(samples: Samples, connection: str) -> float:
    return max(
        (
            v
            for (name, labels), v in samples.items()
            if name == "bridge_last_message_timestamp_seconds"
            and dict(labels).get("connection") == connection
        ),
        default=0.0,
    )


async def inject(
    name: str, ex: Exchanges, kafka: SandboxKafka, bridge: BridgeProcess, t0: float, start: float
) -> FaultResult:
    """Start the fault, then poll the bridge's metrics every 0.1 s: a connection has recovered
    at its first push received after a new connection attempt was seen (the old connection is
    gone by then, except in a handover, whose replacement opens while the old one delivers)."""
    at, wall = time.monotonic(), time.time()
    base = await bridge.metrics()
    action = asyncio.create_task(FAULT_ACTIONS[name](ex, kafka))
    attempted: dict[str, float] = {}
    recovered: dict[str, float] = {}
    kafka_down = False
    drained: float | None = None
    peak = 0
    while time.monotonic() - at < 45:
        samples = await bridge.metrics()
        now = time.time()
        for exchange, conn in CONNECTIONS.items():
            attempts = value(samples, "bridge_connection_attempts_total", **_conn(exchange))
            before = value(base, "bridge_connection_attempts_total", **_conn(exchange))
            if conn not in attempted and attempts > before:
                attempted[conn] = now
            if (
                conn in attempted
                and conn not in recovered
                and value(samples, "bridge_connection_up", **_conn(exchange)) == 1
                and last_push(samples, conn) > attempted[conn]
            ):
                recovered[conn] = last_push(samples, conn) - wall
        peak = max(peak, int(value(samples, "bridge_buffer_records")))
        if value(samples, "bridge_kafka_up") == 0:
            kafka_down = True
        elif kafka_down and drained is None and value(samples, "bridge_buffer_records") == 0:
            drained = now - wall
        if action.done() and (
            (name == "broker" and drained is not None)
            or (name != "broker" and len(recovered) == len(CONNECTIONS))
        ):
            break
        await asyncio.sleep(0.1)
    await action
    final = await bridge.metrics()
    result = FaultResult(
        round(at - t0, 1),
        name,
        {"kafka": drained and round(drained, 2)}
        if name == "broker"
        else {
            c: (round(recovered[c], 2) if c in recovered else None) for c in CONNECTIONS.values()
        },
        {
            conn: int(
                value(final, "bridge_connection_attempts_total", **_conn(e))
                - value(base, "bridge_connection_attempts_total", **_conn(e))
            )
            for e, conn in CONNECTIONS.items()
        },
        peak,
    )
    shown = ", ".join(f"{c} {v} s" for c, v in result.recovery_seconds.items())
    log(start, f"fault {name}: recovered {shown}; buffer peak {peak} records")
    return result


def _conn(exchange: str) -> dict[str, str]:
    return {"exchange": exchange, "connection": CONNECTIONS[exchange]}


# --- counting what reached Kafka ------------------------------------------------------------


def is_push(exchange: str, data: bytes) -> bool:
    try:
        message = json.loads(data)
    except ValueError:
        return False
    if exchange == "okx":
        return isinstance(message, dict) and "arg" in message and "data" in message
    if exchange == "kraken":
        return isinstance(message, list)
    return (
        isinstance(message, list)
        and bool(message)
        and isinstance(message[0], dict)
        and str(message[0].get("channel", "")).startswith("ok_sub_spot_")
    )


@dataclass
class KafkaCount:
    raw: Counter[str] = field(default_factory=Counter)
    raw_pushes: Counter[str] = field(default_factory=Counter)
    typed_pushes: Counter[str] = field(default_factory=Counter)
    markers: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    """Records written twice: same topic, connection id, frame sequence (and payload)."""
    same_content: Counter[str] = field(default_factory=Counter)
    """Pushes whose topic, key and payload equal an earlier one (new data on Kraken and OKEx
    v1, which have no content identity; OKX drops such copies before Kafka)."""
    same_content_topics: Counter[str] = field(default_factory=Counter)
    deadletters: int = 0


async def count_kafka(bootstrap: str, prefix: str, expected_raw: int | None) -> KafkaCount:
    """Read every topic of this run from the beginning until it has been quiet for 5 s (and
    the raw topics hold ``expected_raw`` frames, when known)."""
    store = SchemaStore()
    counts = KafkaCount()
    written: set[int] = set()
    contents: set[int] = set()
    exchange_of = {prefix + t: e for e, t in RAW_TOPICS.items()}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        metadata_max_age_ms=1000,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    consumer.subscribe(pattern=f"^{re.escape(prefix)}.*")
    quiet_since = time.monotonic()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=20_000)
            got = sum(len(m) for m in batches.values())
            now = time.monotonic()
            if got:
                quiet_since = now
            enough = expected_raw is None or sum(counts.raw.values()) >= expected_raw
            if (enough and now - quiet_since > 5) or now - quiet_since > 60:
                break
            for messages in batches.values():
                for m in messages:
                    if m.topic.endswith("bridge.schemas"):
                        continue
                    _, value = decode_single_object(store, m.value or b"")
                    if m.topic in exchange_of:
                        exchange = exchange_of[m.topic]
                        frame_id = hash((m.topic, value["connection_id"], value["sequence"]))
                        counts.duplicates[exchange] += frame_id in written
                        written.add(frame_id)
                        counts.raw[exchange] += 1
                        counts.raw_pushes[exchange] += is_push(exchange, value["data"])
                        continue
                    if m.topic.endswith("bridge.deadletter"):
                        counts.deadletters += 1
                        continue
                    exchange = value.get("exchange", "?")
                    kind, payload = value["payload"]
                    kind = kind.rsplit(".", 1)[-1]
                    if kind == "SessionMarker":
                        counts.markers[f"{exchange}:{payload['kind']}"] += 1
                    elif kind not in ("SubscriptionEvent", "ConnectionEvent"):
                        counts.typed_pushes[exchange] += 1
                        content = hash((m.topic, m.key, repr(payload)))
                        if content in contents:
                            counts.same_content[exchange] += 1
                            counts.same_content_topics[m.topic.removeprefix(prefix)] += 1
                        contents.add(content)
                        record_id = hash((content, value["connection_id"], value["sequence"]))
                        counts.duplicates[exchange] += record_id in written
                        written.add(record_id)
    finally:
        await consumer.stop()
    return counts


# --- the run ---------------------------------------------------------------------------------


def at_time(samples: list[tuple[float, float]], seconds: float) -> float:
    """The RSS sample nearest to ``seconds`` into the run."""
    return min(samples, key=lambda s: abs(s[0] - seconds))[1]


def growth_outside(
    samples: list[tuple[float, float]], outages: list[float], window: float = 30.0
) -> float:
    """RSS growth summed over the sample intervals that do not touch a broker outage (from its
    start to ``window`` seconds later, while the Kafka buffer fills and drains)."""

    def near(t: float) -> bool:
        return any(at <= t <= at + window for at in outages)

    return sum(
        b - a
        for (ta, a), (tb, b) in zip(samples, samples[1:], strict=False)
        if not near(ta) and not near(tb)
    )


def slope_mb_per_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) samples, in MB per minute."""
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mx = sum(t for t, _ in samples) / n
    my = sum(r for _, r in samples) / n
    var = sum((t - mx) ** 2 for t, _ in samples)
    cov = sum((t - mx) * (r - my) for t, r in samples)
    return 60 * cov / var if var else 0.0


async def soak(minutes: float, fault_every: float, json_path: Path | None) -> int:
    start = time.monotonic()
    duration = minutes * 60
    prefix = f"soak{int(time.time())}."
    workdir = Path(tempfile.mkdtemp(prefix="bridge-soak-"))
    kafka = SandboxKafka()
    log(start, "starting Kafka …")
    await asyncio.to_thread(kafka.start)
    exchanges = Exchanges()
    bridge: BridgeProcess | None = None
    try:
        await exchanges.start()
        bootstrap = kafka.bootstrap_servers
        bridge = BridgeProcess(workdir, bootstrap, prefix, exchanges.connections())
        await bridge.start()
        deadline = time.monotonic() + 60
        while not await bridge.ready():
            if time.monotonic() > deadline or bridge.proc.returncode is not None:  # type: ignore[union-attr]
                raise RuntimeError(f"the bridge did not become ready; see {bridge.log_path}")
            await asyncio.sleep(0.2)
        t0 = time.monotonic()
        log(start, f"bridge pid {bridge.pid} ready; RSS {bridge.rss_mb():.1f} MB; log {workdir}")

        rss: list[tuple[float, float]] = []

        async def sample_rss() -> None:
            while True:
                rss.append((time.monotonic() - t0, bridge.rss_mb()))  # type: ignore[union-attr]
                await asyncio.sleep(5)

        sampler = asyncio.create_task(sample_rss())
        faults: list[FaultResult] = []
        fault_times = [(k + 0.5) * fault_every for k in range(max(1, int(duration // fault_every)))]
        for k, at in enumerate(fault_times):
            await asyncio.sleep(max(0.0, t0 + at - time.monotonic()))
            name = FAULTS[k % len(FAULTS)]
            log(start, f"fault {k + 1}/{len(fault_times)}: {name}")
            faults.append(await inject(name, exchanges, kafka, bridge, t0, start))
        await asyncio.sleep(max(0.0, t0 + duration - time.monotonic()))
        sampler.cancel()
        rss.append((time.monotonic() - t0, bridge.rss_mb()))
        before_stop = await bridge.metrics()

        log(start, "stopping the simulators, then the bridge (SIGTERM)")
        await exchanges.stop()
        await asyncio.sleep(2)
        code = await bridge.stop()
        frames_read = bridge.frames_read_at_stop()
        log(start, f"bridge exited {code}; it read {frames_read} frames; counting Kafka …")
        counts = await count_kafka(bootstrap, prefix, frames_read)
    finally:
        if bridge is not None and bridge.proc is not None and bridge.proc.returncode is None:
            bridge.proc.kill()
            await bridge.proc.wait()
        await exchanges.stop()
        await asyncio.to_thread(kafka.stop)

    sent = exchanges.pushes_sent()
    frames = by_label(before_stop, "bridge_frames_received_total", "exchange")
    reconnects = by_label(before_stop, "bridge_reconnects_total", "reason")
    copies = by_label(before_stop, "bridge_duplicates_dropped_total", "exchange")
    rows = []
    for exchange, conn in CONNECTIONS.items():
        rows.append(
            {
                "exchange": exchange,
                "pushes_sent": sent[exchange],
                "push_frames_in_kafka": counts.raw_pushes[exchange],
                "frames_read": int(sum(frames.get(conn, {}).values())),
                "raw_in_kafka": counts.raw[exchange],
                "typed_pushes_in_kafka": counts.typed_pushes[exchange],
                "copies_dropped": int(sum(copies.get(conn, {}).values())),
                "duplicates_in_kafka": counts.duplicates[exchange],
                "same_content_pushes": counts.same_content[exchange],
            }
        )
    half = [s for s in rss if s[0] >= duration / 2]
    report = {
        "minutes": minutes,
        "fault_every_seconds": fault_every,
        "exit_code": code,
        "frames_read_at_stop": frames_read,
        "raw_in_kafka": sum(counts.raw.values()),
        "deadletters": counts.deadletters,
        "exchanges": rows,
        "reconnects": {c: {r: int(v) for r, v in rs.items() if v} for c, rs in reconnects.items()},
        "markers": dict(counts.markers),
        "same_content_topics": dict(counts.same_content_topics),
        "faults": [asdict(f) for f in faults],
        "rss_mb": [(round(t), round(r, 1)) for t, r in rss],
        "rss_start_mb": round(rss[0][1], 1),
        "rss_end_mb": round(rss[-1][1], 1),
        "rss_slope_second_half_mb_per_min": round(slope_mb_per_min(half), 2),
        "rss_first_minute_mb": round(at_time(rss, 60), 1),
        "rss_half_time_mb": round(at_time(rss, duration / 2), 1),
        "rss_growth_outside_broker_outages_mb": round(
            growth_outside(rss, [f.at_seconds for f in faults if f.fault == "broker"]), 1
        ),
    }
    print_report(report)
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=2))
    lost_in_bridge = (frames_read or 0) - report["raw_in_kafka"]
    return 0 if code == 0 and lost_in_bridge == 0 else 1


def print_report(r: dict[str, Any]) -> None:
    minutes = r["minutes"]
    print()
    print(f"Soak: {minutes:g} min, a fault every {r['fault_every_seconds']:g} s")
    print()
    print("Faults (recovery: fault → first push on a new connection; broker: → buffer drained)")
    for f in r["faults"]:
        shown = ", ".join(
            f"{c} {'-' if v is None else f'{v:.2f} s'}" for c, v in f["recovery_seconds"].items()
        )
        tries = ", ".join(f"{n}" for n in f["attempts"].values())
        print(
            f"  t={f['at_seconds']:6.1f} s  {f['fault']:12} {shown}; attempts {tries}; "
            f"buffer peak {f['buffer_peak_records']}"
        )
    print()
    head = (
        f"  {'exchange':8} {'pushes sent':>11} {'push frames':>11} {'frames read':>11} "
        f"{'raw in Kafka':>12} {'lost in bridge':>14} {'typed pushes':>12} {'copies dropped':>14} "
        f"{'duplicates':>10} {'same content':>12}"
    )
    print("Frames (sent by the simulators → read by the bridge → in Kafka)")
    print(head)
    for x in r["exchanges"]:
        print(
            f"  {x['exchange']:8} {x['pushes_sent']:11d} {x['push_frames_in_kafka']:11d} "
            f"{x['frames_read']:11d} {x['raw_in_kafka']:12d} "
            f"{x['frames_read'] - x['raw_in_kafka']:14d} {x['typed_pushes_in_kafka']:12d} "
            f"{x['copies_dropped']:14d} {x['duplicates_in_kafka']:10d} "
            f"{x['same_content_pushes']:12d}"
        )
    print(
        f"  total: bridge read {r['frames_read_at_stop']} frames, {r['raw_in_kafka']} raw records "
        f"in Kafka; {r['deadletters']} dead letters; exit code {r['exit_code']}"
    )
    print()
    print("Reconnects by reason")
    for conn, reasons in r["reconnects"].items():
        shown = ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())) or "none"
        print(f"  {conn:14} {shown}")
    print(f"  markers: {', '.join(f'{k} {v}' for k, v in sorted(r['markers'].items()))}")
    if r["same_content_topics"]:
        shown = ", ".join(f"{t} {n}" for t, n in sorted(r["same_content_topics"].items()))
        print(f"  same-content pushes by topic: {shown}")
    print()
    print("RSS of the bridge (MB)")
    per_minute = [(t, m) for t, m in r["rss_mb"] if t % 60 < 5 or (t, m) == r["rss_mb"][-1]]
    print("  " + ", ".join(f"{t // 60:.0f}:{t % 60:02.0f} {m}" for t, m in per_minute))
    grew = r["rss_end_mb"] - r["rss_start_mb"]
    slope = r["rss_slope_second_half_mb_per_min"]
    print(
        f"  memory grew by {grew:.1f} MB over {minutes:g} min "
        f"({r['rss_start_mb']} → {r['rss_end_mb']} MB); "
        f"{r['rss_end_mb'] - r['rss_first_minute_mb']:+.1f} MB after the first minute, "
        f"{r['rss_end_mb'] - r['rss_half_time_mb']:+.1f} MB over the second half "
        f"(slope {slope:+.2f} MB/min)"
    )
    print(
        f"  outside the broker outages (each from its start to 30 s later) RSS changed by "
        f"{r['rss_growth_outside_broker_outages_mb']:+.1f} MB in all"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="run length (default 10)")
    parser.add_argument(
        "--fault-every", type=float, default=60.0, metavar="SECONDS", help="default 60"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the report here")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.fault_every <= 0:
        parser.error("--minutes and --fault-every must be positive")
    return asyncio.run(soak(args.minutes, args.fault_every, args.json))


if __name__ == "__main__":
    raise SystemExit(main())
