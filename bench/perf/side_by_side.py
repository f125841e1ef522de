"""The bridge and cryptofeed 2.4.1 side by side: OKX ``books`` over wss, one generator, one broker.

The scenario set ``cryptofeed`` of ``python -m bench.perf`` (``--only cryptofeed`` runs it
alone, about a minute with ``--quick``), in the same minutes, all on ``wss://`` (cryptofeed
refuses ``ws://``; the load generator's ``--tls``):

* the receive-only ceiling over wss (what TLS costs a reader that does nothing else);
* the bridge, raw topic on and off, and cryptofeed (:mod:`bench.perf.cryptofeed_client`),
  with its Kafka backend's defaults and with ``acks=all`` + idempotence (options ``BookKafka``
  hands to aiokafka), each given the same frames (:func:`firehose_frames`) as fast as it
  takes them;
* all of them at fixed offered rates, for the latency percentiles.

Every row keeps the load average at its start, the producer settings in force (cryptofeed's
read from its live producer), and the Kafka check (end offsets against what the client says
it delivered). Ratios are of runs of the same set, so of the same minutes.

Latency is receipt to acknowledgement for both, receipt being when the client's own code
takes the frame from its WebSocket library (the bridge's ``receive_time``, cryptofeed's
``receipt_timestamp``). Time a frame waits before that, in the library's incoming queue
(unbounded in cryptofeed: ``max_queue=None``) or the socket, is in neither figure: a client
that does not keep up with a fixed rate shows it as a rate through (frames ÷ first receipt to
last acknowledgement) below the offered one.
"""

from __future__ import annotations

from typing import Any

CRYPTOFEED_VARIANTS: dict[str, dict[str, Any]] = {
    "": {},  # BookKafka's defaults: nothing passed to AIOKafkaProducer but the broker
    "-acksall": {"acks": "all", "enable_idempotence": True},
}
"""Scenario suffix -> producer options given to ``BookKafka``."""


def rates(quick: bool) -> list[int]:
    return [2000] if quick else [1000, 2000, 5000]


def firehose_frames(quick: bool) -> int:
    """Frames each firehose row gets, as fast as its client takes them.

    A fixed amount, not a time: cryptofeed reads ahead of its writer into unbounded queues
    (websockets' ``max_queue=None``, the backend's ``asyncio.Queue``), so in a time window the
    generator offers it 70-90k frames/s and everything read is then written one acknowledged
    record at a time, minutes of work. The bridge reads ahead too, up to its buffer limits
    (100,000 records). Given the same frames, both are measured from the first receipt to the
    last acknowledgement; the peak RSS of these rows is mostly the frames read ahead.
    """
    return 12_000 if quick else 36_000  # the pool's length (12,000): whole cycles


async def run_set(h: Any) -> None:
    """The scenarios, on the harness ``h`` (:class:`bench.perf.run.Harness`)."""
    n = firehose_frames(h.quick)
    await h.run("ceiling-recv-okx-books-wss", "recv", "okx-books", tls=True)
    for scenario, raw in (
        ("bridge-max-okx-books-wss", True),
        ("bridge-max-okx-books-wss-noraw", False),
    ):
        await h.run(scenario, "bridge", "okx-books", tls=True, raw=raw, frames=n, seconds=60)
    for suffix, options in CRYPTOFEED_VARIANTS.items():
        await h.run(
            f"cryptofeed-max-okx-books{suffix}",
            "cryptofeed",
            "okx-books",
            tls=True,
            producer=options,
            frames=n,
            seconds=60,
        )
    for rate in rates(h.quick):
        k = f"{rate // 1000}k"
        await h.run(f"bridge-{k}-okx-books-wss", "bridge", "okx-books", rate=rate, tls=True)
        await h.run(
            f"bridge-{k}-okx-books-wss-noraw",
            "bridge",
            "okx-books",
            rate=rate,
            tls=True,
            raw=False,
        )
        for suffix, options in CRYPTOFEED_VARIANTS.items():
            await h.run(
                f"cryptofeed-{k}-okx-books{suffix}",
                "cryptofeed",
                "okx-books",
                rate=rate,
                tls=True,
                producer=options,
            )


def in_set(scenario: str) -> bool:
    return scenario.startswith("cryptofeed-") or (
        scenario.endswith(("-okx-books-wss", "-okx-books-wss-noraw"))
    )


def producer_of(run: dict[str, Any]) -> str:
    """What the client writes and how, in one line for the table."""
    if run["client"] == "cryptofeed":
        p = run["settings"].get("producer", {})
        return (
            f"acks={p.get('acks')}, idempotent={'yes' if p.get('enable_idempotence') else 'no'}, "
            f"linger {p.get('linger_ms', 0):g} ms, one record in flight; JSON, "
            f"1 record/push (+ the whole book every {p.get('snapshot_interval')})"
        )
    settings = run["settings"]
    kafka = settings.get("kafka", {})
    raw = settings.get("publisher", {}).get("raw_topics", True)
    linger = kafka.get("linger_ms", _bridge_default("linger_ms"))
    records = "2 records/frame (raw + typed)" if raw else "1 record/frame (typed)"
    # acks=all and idempotence are not settings: the publisher always creates its producer so
    return (
        f"acks=all, idempotent=yes, linger {linger:g} ms, many records in flight (buffer "
        f"limits); Avro single-object, {records}"
    )


def _bridge_default(name: str) -> Any:
    from bridge.settings import KafkaSettings

    return getattr(KafkaSettings(), name)


def _cpu_us(run: dict[str, Any]) -> float:
    r = run["result"]
    return float(1e6 * r["cpu_seconds"] / max(1, r["frames"]))


def _peak_rss(run: dict[str, Any]) -> float | None:
    memory = run.get("stopped", {}).get("memory") or run["result"].get("memory") or {}
    value = memory.get("VmHWM")
    return None if value is None else float(value)


def summarise(report: dict[str, Any]) -> dict[str, Any]:
    """Rows of the set as fast as they read and at fixed rates, and the ratios."""
    runs = {run["scenario"]: run for run in report["runs"] if in_set(run["scenario"])}
    firehose, fixed = [], []
    for scenario, run in runs.items():
        row = {
            "scenario": scenario,
            "client": run["client"],
            "producer": producer_of(run),
            "asked": run["rate"],
            "offered": run["offered"].get("offered_rate"),
            "fps": run["result"].get("frames_per_second"),
            "cpu_us": _cpu_us(run),
            "latency_ms": run["result"].get("latency_ms") or {},
            "peak_rss_mib": _peak_rss(run),
            "load": run.get("load_before"),
            "verified": run.get("verified", {}).get("matches"),
        }
        (fixed if run["rate"] else firehose).append(row)
    fixed.sort(key=lambda r: (r["asked"], r["scenario"]))

    def fps(name: str) -> float | None:
        run = runs.get(name)
        return run["result"].get("frames_per_second") if run else None

    ratios = {}
    for bridge, label in (
        ("bridge-max-okx-books-wss", "raw topic on"),
        ("bridge-max-okx-books-wss-noraw", "raw topic off"),
    ):
        for suffix in CRYPTOFEED_VARIANTS:
            ours, theirs = fps(bridge), fps(f"cryptofeed-max-okx-books{suffix}")
            if ours and theirs:
                against = "its defaults" if not suffix else "acks=all, idempotent"
                ratios[f"bridge ({label}) / cryptofeed ({against})"] = ours / theirs
    return {"firehose": firehose, "fixed": fixed, "ratios": ratios}


def print_tables(summary: dict[str, Any]) -> None:
    if not summary["firehose"] and not summary["fixed"]:
        return

    def fmt(value: float | None, spec: str) -> str:
        return "—" if value is None else format(value, spec)

    def kafka(row: dict[str, Any]) -> str:
        return {True: "ok", False: "MISMATCH"}.get(row["verified"], "—")

    print(
        "\nSide by side with cryptofeed 2.4.1 (okx-books over wss, same generator and broker, "
        "same minutes), as fast as the client reads:"
    )
    print("| scenario | producer | frames/s | CPU µs/frame | peak RSS MiB | load | Kafka |")
    print("|---|---|---:|---:|---:|---:|---|")
    for r in summary["firehose"]:
        producer = r["producer"] if r["client"] != "recv" else "— (reads only)"
        print(
            f"| {r['scenario']} | {producer} | {fmt(r['fps'], ',.0f')} | {r['cpu_us']:.1f} | "
            f"{fmt(r['peak_rss_mib'], '.0f')} | {fmt(r['load'], '.2f')} | {kafka(r)} |"
        )
    for name, ratio in summary["ratios"].items():
        print(f"  {name}: {ratio:.2f}×")
    if summary["fixed"]:
        print("\nSide by side at fixed offered rates, frame receipt to Kafka ack (ms):")
        print(
            "| scenario | asked/s | offered/s | through/s | p50 | p90 | p99 | p99.9 | max | "
            "CPU µs/frame | peak RSS MiB | load | Kafka |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for r in summary["fixed"]:
            lat = r["latency_ms"]
            print(
                f"| {r['scenario']} | {r['asked']:,.0f} | {fmt(r['offered'], ',.0f')} | "
                f"{fmt(r['fps'], ',.0f')} | "
                + " | ".join(fmt(lat.get(k), ".2f") for k in ("p50", "p90", "p99", "p99.9"))
                + f" | {fmt(lat.get('max'), '.1f')} | {r['cpu_us']:.1f} | "
                f"{fmt(r['peak_rss_mib'], '.0f')} | {fmt(r['load'], '.2f')} | {kafka(r)} |"
            )
