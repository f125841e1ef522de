"""``python -m bench.perf`` (``make bench``): every scenario, side by side, in one run.

Processes (each its own, so each one's CPU is its own):

* one sandbox Kafka broker (``bridge.sandbox.kafka``; JVM) for the whole run, and an Apicurio
  registry (``bridge.sandbox.registry``) for the Confluent-encoding scenario only;
* per scenario, one load generator (:mod:`bench.perf.loadgen`: the exchange's simulator plus
  pre-encoded frames; ``ws://``, or ``wss://`` with ``tls``) and one client on its stream: the
  bridge (:mod:`bench.perf.bridge_runner`), the receive-only ceiling or the plain-loop baseline
  (:mod:`bench.perf.clients`), or cryptofeed (:mod:`bench.perf.cryptofeed_client`; the set
  side by side with the bridge is :mod:`bench.perf.side_by_side`);
* Kafka's ProducerPerformance from the broker's jars (the broker ceiling);
* the per-stage CPU breakdown (:mod:`bench.perf.stages`).

The bridge runs as ``bridge run`` runs it, garbage-collector tuning included
(:func:`bridge.runtime.app.tune_gc`); the ``gc`` set runs it with the interpreter's defaults
too, side by side.

After each bridge or cryptofeed scenario the harness reads every topic's end offset from Kafka
and checks it against what the client says it delivered, and checks that the client read every
frame the generator wrote (a consumer count, not the client's word alone).

``--only SET[,SET...]`` runs some of the scenario sets (:data:`SETS`), e.g. ``--only
cryptofeed --quick``: the bridge against cryptofeed in about a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.perf import side_by_side
from bench.perf.frames import STREAMS, capture_all, load

ROOT = Path(__file__).resolve().parents[2]
POOL_CACHE = Path.home() / ".cache" / "exchange-bridge" / "bench-pools-v1"

SETS = {
    "recv": "receive-only ceiling per stream",
    "baseline": "plain-loop baseline (okx-books)",
    "bridge": "the bridge as fast as it reads, per stream and variant",
    "confluent": "the bridge with a schema registry (Apicurio)",
    "latency": "the bridge at fixed offered rates (okx-books)",
    "gc": "the bridge with the interpreter's garbage-collector defaults, and as it runs",
    "memory": "the bridge with 1, 100 and 1,000 subscriptions",
    "cryptofeed": "the bridge and cryptofeed 2.4.1 side by side, okx-books over wss",
    "broker": "Kafka ProducerPerformance ceilings",
    "stages": "per-stage CPU breakdown",
}
"""Scenario sets, in the order they run; ``--only`` picks some."""


# -- child processes speaking JSON lines -----------------------------------------------------------


class Child:
    def __init__(self, name: str, argv: list[str], log_dir: Path) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_dir / f"{name}.log"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> Child:
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=self.log_path.open("ab"),
            cwd=ROOT,
            limit=2**24,
        )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def send(self, **command: Any) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        await self.proc.stdin.drain()

    async def expect(self, event: str, timeout: float = 180) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                line = await self.proc.stdout.readline()
                if not line:
                    tail = self.log_path.read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"{self.name} ended before {event!r}:\n{tail}")
                try:
                    message: dict[str, Any] = json.loads(line)
                except ValueError:
                    continue
                if message.get("event") == event:
                    return message

    async def close(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            await asyncio.wait_for(self.proc.wait(), 20)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


def python(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


# -- scenarios ---------------------------------------------------------------------------------


@dataclass
class Run:
    """One client on one stream: what was offered and what it did."""

    scenario: str
    client: str  # bridge | recv | baseline | cryptofeed
    stream: str
    rate: float  # asked; 0 = as fast as the client reads
    offered: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    verified: dict[str, Any] = field(default_factory=dict)
    stopped: dict[str, Any] = field(default_factory=dict)
    load_before: float = 0.0
    """1-minute load average when the scenario started."""


class Harness:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.quick: bool = args.quick
        self.seconds: float = args.seconds or (3.0 if self.quick else 8.0)
        self.work = Path(tempfile.mkdtemp(prefix="bench-perf-"))
        self.pools: dict[str, Path] = {}
        self.kafka: Any = None
        self.registry: Any = None
        self.runs: list[Run] = []

    # -- environment ---------------------------------------------------------------------------

    async def setup(self) -> None:
        from bridge.sandbox.kafka import SandboxKafka

        say(f"work dir {self.work} (child logs)")
        t = time.monotonic()
        self.pools = await capture_all(POOL_CACHE, list(STREAMS))
        say(f"frame pools ready in {time.monotonic() - t:.1f} s ({POOL_CACHE})")
        self.kafka = await asyncio.to_thread(SandboxKafka().start)
        say(f"Kafka broker at {self.kafka.bootstrap_servers}")

    async def teardown(self) -> None:
        if self.registry is not None:
            await asyncio.to_thread(self.registry.stop)
        if self.kafka is not None:
            await asyncio.to_thread(self.kafka.stop)
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)

    # -- one client on one stream -----------------------------------------------------------------

    async def run(
        self,
        scenario: str,
        client: str,
        stream_name: str,
        *,
        rate: float = 0.0,
        seconds: float | None = None,
        raw: bool = True,
        registry_url: str | None = None,
        connections: int = 1,
        per_connection: int = 1,
        uvloop: bool = False,
        gc_tuning: bool = True,
        tls: bool = False,
        producer: dict[str, Any] | None = None,
        frames: int = 0,
    ) -> Run:
        """One scenario. ``tls``: the stream over ``wss://`` (cryptofeed needs it);
        ``producer``: cryptofeed's producer options (``BookKafka`` passes them to aiokafka);
        ``frames``: offer this many frames (within ``seconds``) rather than a time's worth."""
        seconds = seconds or self.seconds
        stream = STREAMS[stream_name]
        instruments = connections * per_connection
        run = Run(scenario, client, stream_name, rate)
        # Anything else running on the 2 cores shows in the figures: keep the load with them.
        run.load_before = os.getloadavg()[0]
        prefix = f"b{uuid.uuid4().hex[:8]}."
        subscriptions = self._subscriptions(stream_name, connections, per_connection)
        generator = Child(
            f"{scenario}-loadgen",
            python(
                "bench.perf.loadgen",
                stream_name,
                str(self.pools[stream_name]),
                "--instruments",
                str(instruments),
                *(["--tls"] if tls else []),
            ),
            self.work,
        )
        await generator.start()
        offer = await generator.expect("ready", 120)
        url, ca_file = offer["url"], offer.get("ca_file")
        if client == "bridge":
            settings: dict[str, Any] = {
                "instance": "bench",
                "log_level": "WARNING",
                "kafka": {
                    "bootstrap_servers": self.kafka.bootstrap_servers,
                    "topic_prefix": prefix,
                },
                "metrics": {"host": "127.0.0.1", "port": 0},
                "publisher": {"raw_topics": raw},
                "connections": [
                    {
                        "name": f"c{i}",
                        "exchange": stream.exchange,
                        "url": url,
                        "subscriptions": subs,
                        **({"tls": {"ca_file": ca_file}} if ca_file else {}),
                    }
                    for i, subs in enumerate(subscriptions)
                ],
            }
            if registry_url:
                settings["schema_registry"] = {"url": registry_url}
            run.settings = settings
            switches = {"uvloop": uvloop, "gc_tuning": gc_tuning}
            config = {"settings": settings, "bench": switches}
            argv = self._profiled(scenario, python("bench.perf.bridge_runner", json.dumps(config)))
            measured = Child(scenario, argv, self.work)
        else:
            config = {
                "url": url,
                "exchange": stream.exchange,
                "subscriptions": subscriptions[0],
                "bootstrap_servers": self.kafka.bootstrap_servers,
                "topic_prefix": prefix,
                "ca_file": ca_file,
            }
            if client == "cryptofeed":
                config["producer"] = producer or {}
                config["log_file"] = str(self.work / f"{scenario}.feedhandler.log")
                argv = python("bench.perf.cryptofeed_client", json.dumps(config))
            else:
                argv = python("bench.perf.clients", client, json.dumps(config))
            measured = Child(scenario, argv, self.work)
        await measured.start()
        try:
            await generator.send(
                cmd="subscribed", connections=connections, subscriptions=instruments, timeout=90
            )
            await generator.expect("subscribed", 100)
            ready = await measured.expect("ready", 100)
            if client == "cryptofeed":
                run.settings = {
                    "cryptofeed": version("cryptofeed"),
                    "producer": ready["producer"],
                    "event_loop": ready["loop"],
                    "url": url,
                }
            await measured.send(cmd="mark")
            await measured.expect("marked")
            await generator.send(cmd="stream", rate=rate, seconds=seconds, frames=frames)
            run.offered = await generator.expect("streamed", seconds + 300)
            drain: dict[str, Any] = {"frames": run.offered["frames"], "timeout": 300}
            if client == "baseline":
                drain["max_seconds"] = 0.1  # it is far behind: count what it did so far
            await measured.send(cmd="drain", **drain)
            run.result = await measured.expect("drained", 320)
            await measured.send(cmd="quit")
            run.stopped = await measured.expect("stopped", 60)
        finally:
            await measured.close()
            await generator.send(cmd="quit")
            await generator.close()
        if client in ("bridge", "cryptofeed"):
            run.verified = await self.verify(prefix, run)
        self.runs.append(run)
        say(describe(run))
        return run

    def _profiled(self, scenario: str, argv: list[str]) -> list[str]:
        """The bridge under py-spy (``--format raw``: collapsed stacks, read by
        ``python -m bench.perf.profile``). py-spy starts it as its child: attaching to a
        running process needs ptrace rights this sandbox does not grant."""
        if scenario not in getattr(self.args, "profile", ()):
            return argv
        out = self.work / f"{scenario}.pyspy.txt"
        say(f"profiling {scenario} into {out}")
        head = ["py-spy", "record", "--rate", "250", "--format", "raw", "--nonblocking"]
        return [*head, "--output", str(out), "--", *argv]

    @staticmethod
    def _subscriptions(
        stream_name: str, connections: int, per_connection: int
    ) -> list[list[dict[str, Any]]]:
        stream = STREAMS[stream_name]
        if connections * per_connection == 1:
            return [[stream.subscription]]
        assert stream.exchange == "okx", "multi-subscription runs use OKX instruments"
        names = [stream.instrument] + [
            f"I{n:04d}-USDT" for n in range(1, connections * per_connection)
        ]
        channel = stream.subscription["channel"]
        return [
            [{"channel": channel, "instId": name} for name in names[c::connections]]
            for c in range(connections)
        ]

    async def verify(self, prefix: str, run: Run) -> dict[str, Any]:
        """Kafka's end offsets per topic against what the client delivered; the frames the
        client read against the frames the generator wrote."""
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(bootstrap_servers=self.kafka.bootstrap_servers)
        await consumer.start()
        try:
            counts: dict[str, int] = {}
            cluster = await consumer._client.fetch_all_metadata()
            for topic in sorted(cluster.topics()):
                if not topic.startswith(prefix):
                    continue
                partitions = [
                    TopicPartition(topic, p) for p in cluster.partitions_for_topic(topic) or ()
                ]
                ends = await consumer.end_offsets(partitions)
                counts[topic[len(prefix) :]] = sum(ends.values())
        finally:
            await consumer.stop()
        # what the client delivered by the time it stopped (the bridge's last markers included)
        final = run.stopped.get("metrics") or run.result.get("metrics", {})
        delivered = {topic: int(n) for topic, n in final.get("delivered", {}).items()}
        delivered.pop("bridge.schemas", None)
        counts.pop("bridge.schemas", None)  # compacted and shared: checked by the tests
        # the bridge's raw topic exists exactly when it is on (cryptofeed has none)
        raw_wanted = run.client == "bridge" and run.settings["publisher"]["raw_topics"]
        ok = (
            counts == delivered
            and run.result["frames"] >= run.offered["frames"]
            and raw_wanted == any(topic.endswith(".raw") for topic in counts)
        )
        metrics = run.result.get("metrics", {})
        faults = ("duplicates", "deadletters", "dropped", "resyncs", "failed")
        clean = not any(metrics.get(k) for k in faults)
        return {"kafka_records": counts, "matches": ok, "clean": clean}

    # -- ceilings that are not a client ------------------------------------------------------------

    def producer_performance(
        self, record_size: int, records: int, throughput: int = -1
    ) -> dict[str, Any]:
        topic = f"perf-ceiling-{uuid.uuid4().hex[:6]}"
        argv = self.kafka.tool_command(
            "org.apache.kafka.tools.ProducerPerformance",
            "--topic",
            topic,
            "--num-records",
            str(records),
            "--record-size",
            str(record_size),
            "--throughput",
            str(throughput),
            "--producer-props",
            f"bootstrap.servers={self.kafka.bootstrap_servers}",
            "acks=all",
            "enable.idempotence=true",
            "linger.ms=5",
            "batch.size=1048576",
        )
        out = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=True).stdout
        line = [ln for ln in out.splitlines() if "records sent" in ln][-1]
        match = re.search(
            r"([\d.]+) records/sec.*?([\d.]+) ms avg latency.*?([\d.]+) ms 50th.*?"
            r"([\d.]+) ms 99th.*?([\d.]+) ms 99.9th",
            line,
        )
        assert match, line
        rate, avg, p50, p99, p999 = (float(g) for g in match.groups())
        return {
            "records_per_second": rate,
            "record_size": record_size,
            "records": records,
            "latency_ms": {"mean": avg, "p50": p50, "p99": p99, "p99.9": p999},
            "line": line.strip(),
        }

    async def stages(self) -> dict[str, Any]:
        streams = ["okx-books"] if self.quick else list(STREAMS)
        extra = ["--quick"] if self.quick else []
        return await self.module_json("bench.perf.stages", "--streams", *streams, *extra)

    async def module_json(self, module: str, *args: str) -> dict[str, Any]:
        """Run a measuring module against the pools and the broker; its last line is JSON."""
        out = await asyncio.to_thread(
            subprocess.run,
            python(
                module,
                "--pools",
                str(POOL_CACHE),
                "--bootstrap",
                self.kafka.bootstrap_servers,
                *args,
            ),
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=600,
            check=True,
        )
        result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        return result


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def describe(run: Run) -> str:
    r = run.result
    text = (
        f"{run.scenario:<22} {run.client:<8} {run.stream:<12} offered "
        f"{run.offered.get('offered_rate', 0):>8.0f}/s  read {r.get('frames_per_second', 0):>8.0f} "
        f"frames/s  cpu {1e6 * r.get('cpu_seconds', 0) / max(1, r.get('frames', 1)):.1f} "
        f"s/Mframes"
    )
    if r.get("latency_ms"):
        lat = r["latency_ms"]
        text += f"  p50 {lat['p50']:.2f} p99 {lat['p99']:.2f} p99.9 {lat['p99.9']:.2f} ms"
    if run.stopped.get("memory"):
        text += f"  peak RSS {run.stopped['memory']['VmHWM']:.0f} MiB"
    if run.verified:
        text += "  kafka " + ("ok" if run.verified["matches"] else "MISMATCH")
    return text + f"  load {run.load_before:.2f}"


def machine() -> dict[str, Any]:
    model = ""
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo", encoding="ascii") as info:
        for line in info:
            if line.startswith("MemTotal"):
                mem_kb = int(line.split()[1])
    versions = {}
    for module in ("websockets", "aiokafka", "fastavro", "orjson", "uvloop", "cryptofeed"):
        try:
            versions[module] = version(module)
        except Exception:  # noqa: BLE001 - not installed
            versions[module] = None
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem_kb / 2**20, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "packages": versions,
    }


# -- the whole run --------------------------------------------------------------------------------


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    from bench.perf.report import analyse, print_report

    h = Harness(args)
    started = time.monotonic()
    only = args.only or list(SETS)
    report: dict[str, Any] = {"machine": machine(), "quick": h.quick, "seconds": h.seconds}
    if args.only:
        report["only"] = only
    await h.setup()
    try:
        streams = ["okx-books"] if h.quick else list(STREAMS)

        if "recv" in only:
            say("ceiling: receive-only client, as fast as it reads")
            for name in streams:
                await h.run(f"ceiling-recv-{name}", "recv", name)

        if "baseline" in only:
            say("baseline: plain loop, send_and_wait per record")
            await h.run("baseline-okx-books", "baseline", "okx-books", seconds=min(h.seconds, 5))

        if "bridge" in only:
            say("bridge: firehose per stream (raw topic on, single-object encoding)")
            for name in streams:
                await h.run(f"bridge-max-{name}", "bridge", name)
            await h.run("bridge-max-okx-books-noraw", "bridge", "okx-books", raw=False)
            if args.uvloop:
                await h.run("bridge-max-okx-books-uvloop", "bridge", "okx-books", uvloop=True)

        if "confluent" in only:
            say("bridge: Confluent wire format with a schema registry (Apicurio)")
            from bridge.sandbox.registry import SandboxRegistry

            h.registry = await asyncio.to_thread(SandboxRegistry().start)
            await h.run(
                "bridge-max-okx-books-confluent",
                "bridge",
                "okx-books",
                registry_url=h.registry.url,
            )
            await h.run(
                "bridge-5k-okx-books-confluent",
                "bridge",
                "okx-books",
                rate=5000,
                registry_url=h.registry.url,
            )
            await asyncio.to_thread(h.registry.stop)
            h.registry = None

        if "latency" in only:
            say("bridge: latency at fixed offered rates (okx-books)")
            rates = [1000, 5000, 20000] if h.quick else [1000, 2000, 5000, 10000, 20000]
            for rate in rates:
                await h.run(f"bridge-{rate // 1000}k-okx-books", "bridge", "okx-books", rate=rate)
                if rate == 5000:
                    # the target's scenario, three times: its tail moves with whatever else
                    # runs on the 2 cores, so the report takes the median p99 of the three
                    for repeat in (2, 3):
                        await h.run(
                            f"bridge-5k-okx-books-repeat{repeat}", "bridge", "okx-books", rate=rate
                        )
                    await h.run(
                        "bridge-5k-okx-books-noraw", "bridge", "okx-books", rate=rate, raw=False
                    )

        if "gc" in only:
            say("bridge: the garbage collector's defaults against bridge run's tuning, alternated")
            for repeat in (1, 2):
                for tuned in (False, True):
                    name = "tuned" if tuned else "default"
                    for rate in (0, 5000):
                        speed = "max" if rate == 0 else f"{rate // 1000}k"
                        await h.run(
                            f"bridge-{speed}-okx-books-gc-{name}{repeat}",
                            "bridge",
                            "okx-books",
                            rate=rate,
                            gc_tuning=tuned,
                        )

        if "memory" in only:
            say("bridge: memory with 1, 100 and 1,000 subscriptions (okx-tickers, 2,000 frames/s)")
            for connections, per in ((1, 1), (1, 100), (10, 100)):
                n = connections * per
                await h.run(
                    f"bridge-rss-{n}-subs",
                    "bridge",
                    "okx-tickers",
                    rate=2000,
                    connections=connections,
                    per_connection=per,
                )

        if "cryptofeed" in only:
            say("side by side: the bridge and cryptofeed 2.4.1, okx-books over wss")
            await side_by_side.run_set(h)

        if "broker" in only:
            say("ceiling: Kafka ProducerPerformance, same record size, acks=all")
            sizes = await asyncio.to_thread(record_sizes, h, streams)
            report["producer_performance"] = {}
            for name in streams:
                size = sizes[name]
                records = 200_000 if h.quick else 500_000
                report["producer_performance"][name] = await asyncio.to_thread(
                    h.producer_performance, size, records
                )
                line = report["producer_performance"][name]["line"]
                say(f"ProducerPerformance {name} ({size} B): {line}")

            # The broker's own latency at the records/s of the 5k frames/s scenario (two
            # records per frame): what Kafka alone adds, to compare with the bridge's
            # receipt-to-ack.
            size = sizes["okx-books"]
            report["producer_performance_10k"] = await asyncio.to_thread(
                h.producer_performance, size, 50_000 if h.quick else 100_000, 10_000
            )
            say(
                "ProducerPerformance at 10,000 records/s: "
                + report["producer_performance_10k"]["line"]
            )

        if "stages" in only:
            say("per-stage CPU breakdown")
            report["stages"] = await h.stages()

    finally:
        await h.teardown()
    report["runs"] = [run.__dict__ for run in h.runs]
    report["elapsed_seconds"] = time.monotonic() - started
    analyse(report)
    print_report(report)
    return report


def record_sizes(h: Harness, streams: list[str]) -> dict[str, int]:
    """Mean record size (value + key) per frame for each stream, raw and typed records
    together, as the bridge wrote them in its firehose run (from the codec, offline)."""
    from bench.perf.stages import mean_record_size

    return {name: mean_record_size(load(h.pools[name]), STREAMS[name]) for name in streams}


def _sets(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in SETS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown set(s) {', '.join(unknown) or text!r}; choose from {', '.join(SETS)}"
        )
    return [name for name in SETS if name in names]  # in the order they run


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.perf", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help="short windows, OKX books only (~3 min)"
    )
    parser.add_argument("--seconds", type=float, help="streaming window per scenario")
    parser.add_argument("--uvloop", action="store_true", help="also run the bridge under uvloop")
    parser.add_argument(
        "--json", type=Path, default=ROOT / "bench" / "perf" / "last-run.json", help="report file"
    )
    parser.add_argument("--plot", type=Path, help="write the latency plot (PNG) here")
    parser.add_argument(
        "--only",
        type=_sets,
        metavar="SET[,SET...]",
        help="run only these scenario sets: "
        + ", ".join(SETS)
        + " (the report goes to the --json file named with them, e.g. last-run.cryptofeed.json,"
        " and no plot is drawn)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work dir (child logs)")
    parser.add_argument(
        "--profile",
        nargs="*",
        default=[],
        metavar="SCENARIO",
        help="run these bridge scenarios under py-spy (e.g. bridge-max-okx-books; with --keep)",
    )
    args = parser.parse_args()
    if args.only:
        # a partial run does not replace the full run's report and plot
        args.json = args.json.with_name(f"{args.json.stem}.{'+'.join(args.only)}.json")
        args.plot = None
    report = asyncio.run(main_async(args))
    args.json.write_text(json.dumps(report, indent=1))
    say(f"report written to {args.json}")
    if args.plot:
        from bench.perf.plot import plot

        plot(report, args.plot)
        say(f"plot written to {args.plot}")
