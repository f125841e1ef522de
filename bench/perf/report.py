"""Ratios, targets and tables from one run's results (``bench-perf.json``).

``python -m bench.perf.report bench-perf.json`` prints the tables again from a saved run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.perf import side_by_side

TARGETS = {
    "throughput_vs_cryptofeed": 5.0,
    "cpu_us_per_frame": 40.0,
    "p99_ms_at_5k": 10.0,
    "rss_mib_1000_subs": 150.0,
}
"""Issue #14's targets: the throughput ratio and the CPU per frame on OKX books with the raw
topic on (the ratio against cryptofeed's defaults, over wss, same minutes), the 5k p99, the
peak RSS."""


def _runs(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {run["scenario"]: run for run in report["runs"]}


def _cpu_us(run: dict[str, Any]) -> float:
    r = run["result"]
    return float(1e6 * r["cpu_seconds"] / max(1, r["frames"]))


def analyse(report: dict[str, Any]) -> None:
    """Add ``summary``: per-stream throughput with ratios, latency by rate, memory, stages,
    targets."""
    runs = _runs(report)
    stages = report.get("stages", {})
    pp = report.get("producer_performance", {})
    baseline = runs.get("baseline-okx-books")
    baseline_fps = baseline["result"]["frames_per_second"] if baseline else None
    throughput = []
    for name in pp:
        bridge = runs.get(f"bridge-max-{name}")
        recv = runs.get(f"ceiling-recv-{name}")
        if bridge is None or recv is None:
            continue
        per_frame = stages.get(name, {}).get("records_per_frame", 2.0)
        broker_fps = pp[name]["records_per_second"] / per_frame
        recv_fps = recv["result"]["frames_per_second"]
        lower = min(broker_fps, recv_fps)
        fps = bridge["result"]["frames_per_second"]
        throughput.append(
            {
                "stream": name,
                "bridge_fps": fps,
                "bridge_cpu_us": _cpu_us(bridge),
                "recv_ceiling_fps": recv_fps,
                "recv_cpu_us": _cpu_us(recv),
                "broker_ceiling_records_per_s": pp[name]["records_per_second"],
                "broker_ceiling_fps": broker_fps,
                "record_size": pp[name]["record_size"],
                "lower_ceiling": "receive-only" if recv_fps <= broker_fps else "broker",
                "vs_lower_ceiling": fps / lower,
                "vs_recv": fps / recv_fps,
                "vs_broker": fps / broker_fps,
                "vs_baseline": fps / baseline_fps if baseline_fps and name == "okx-books" else None,
                "verified": bridge["verified"].get("matches"),
            }
        )
    variants = []
    for scenario in sorted(runs):
        run = runs[scenario]
        if run["client"] != "bridge" or not scenario.startswith("bridge-max-okx-books"):
            continue
        variants.append(
            {
                "scenario": scenario,
                "fps": run["result"]["frames_per_second"],
                "cpu_us": _cpu_us(run),
                "verified": run["verified"].get("matches"),
            }
        )
    latency = []
    for scenario, run in sorted(runs.items(), key=lambda kv: (kv[1]["rate"], kv[0])):
        if run["client"] != "bridge" or not run["rate"] or "-rss-" in scenario:
            continue
        latency.append(
            {
                "scenario": scenario,
                "asked": run["rate"],
                "offered": run["offered"]["offered_rate"],
                "delivered_fps": run["result"]["frames"] / max(1e-9, run["offered"]["seconds"]),
                "cpu_us": _cpu_us(run),
                "latency_ms": run["result"]["latency_ms"],
                "stalled_ticks": run["offered"]["stalled_ticks"],
                "verified": run["verified"].get("matches"),
            }
        )
    memory = []
    for scenario, run in sorted(runs.items()):
        if "-rss-" in scenario:
            memory.append(
                {
                    "subscriptions": int(scenario.split("-")[2]),
                    "connections": len(run["settings"]["connections"]),
                    "peak_rss_mib": run["stopped"]["memory"]["VmHWM"],
                    "cpu_us": _cpu_us(run),
                    "p99_ms": run["result"]["latency_ms"].get("p99"),
                    "verified": run["verified"].get("matches"),
                }
            )
    collector = []
    for scenario, run in sorted(runs.items()):
        gc_report = run["result"].get("gc")
        if run["client"] != "bridge" or not gc_report or "-gc-" not in scenario:
            continue
        cpu = run["result"]["cpu_seconds"]
        collector.append(
            {
                "scenario": scenario,
                "load_before": run.get("load_before"),
                "fps": run["result"]["frames_per_second"],
                "cpu_us": _cpu_us(run),
                "gc_share": sum(gc_report["seconds"]) / cpu if cpu else None,
                "collections": gc_report["collections"],
                "longest_ms": gc_report["longest_ms"],
                "p99_ms": run["result"]["latency_ms"].get("p99"),
            }
        )
    breakdown = []
    for row in throughput:
        s = stages.get(row["stream"])
        if not s:
            continue
        parts = {
            "read": row["recv_cpu_us"],
            "parse": s["parse_us"],
            "encode": s["encode_us"],
            "pipeline": s["pipeline_us"],
            "produce": s["produce_us"],
        }
        breakdown.append(
            {
                "stream": row["stream"],
                **parts,
                "sum": sum(parts.values()),
                "measured": row["bridge_cpu_us"],
                "records_per_frame": s["records_per_frame"],
            }
        )
    books = next((t for t in throughput if t["stream"] == "okx-books"), None)
    at_5k_runs = sorted(
        (
            r
            for r in latency
            if r["scenario"].startswith("bridge-5k-okx-books")
            and r["scenario"].removeprefix("bridge-5k-okx-books") in ("", "-repeat2", "-repeat3")
        ),
        key=lambda r: r["latency_ms"]["p99"],
    )
    at_5k = at_5k_runs[len(at_5k_runs) // 2] if at_5k_runs else None  # the median p99
    rss_1000 = next((m for m in memory if m["subscriptions"] == 1000), None)
    ratios = side_by_side.summarise(report)["ratios"]
    targets = {
        "throughput_vs_cryptofeed": ratios.get("bridge (raw topic on) / cryptofeed (its defaults)"),
        "cpu_us_per_frame": books and books["bridge_cpu_us"],
        "p99_ms_at_5k": at_5k and at_5k["latency_ms"].get("p99"),
        "rss_mib_1000_subs": rss_1000 and rss_1000["peak_rss_mib"],
    }
    met = {
        name: None
        if value is None
        else (value >= TARGETS[name] if name.startswith("throughput") else value <= TARGETS[name])
        for name, value in targets.items()
    }
    report["summary"] = {
        "throughput": throughput,
        "variants": variants,
        "latency": latency,
        "memory": memory,
        "gc": collector,
        "breakdown": breakdown,
        "targets": targets,
        "met": met,
        "side_by_side": side_by_side.summarise(report),
    }


def _fmt(value: float | None, spec: str = ",.0f") -> str:
    return "—" if value is None else format(value, spec)


def print_report(report: dict[str, Any]) -> None:
    s = report["summary"]
    m = report["machine"]
    print()
    print(
        f"machine: {m['nproc']} cores, {m['cpu_model']}, {m['memory_gib']} GiB, "
        f"Python {m['python']}; run took {report.get('elapsed_seconds', 0):.0f} s"
        + (" (--quick)" if report.get("quick") else "")
        + (f"; only: {', '.join(report['only'])}" if report.get("only") else "")
    )
    if s["throughput"]:
        print("\nThroughput, as fast as the client reads (frames/s; raw topic on, single-object):")
        print(
            "| stream | bridge | CPU µs/frame | receive-only ceiling | broker ceiling "
            "(records/s ÷ records per frame) | record B | vs lower ceiling | vs baseline | Kafka |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
        for t in s["throughput"]:
            print(
                f"| {t['stream']} | {_fmt(t['bridge_fps'])} | {_fmt(t['bridge_cpu_us'], '.1f')} | "
                f"{_fmt(t['recv_ceiling_fps'])} | {_fmt(t['broker_ceiling_fps'])} "
                f"({_fmt(t['broker_ceiling_records_per_s'])} rec/s) | {t['record_size']} | "
                f"{t['vs_lower_ceiling']:.1%} of {t['lower_ceiling']} | "
                f"{_fmt(t['vs_baseline'], '.1f')}× | {'ok' if t['verified'] else 'MISMATCH'} |"
            )
    runs = _runs(report)
    if "baseline-okx-books" in runs:
        b = runs["baseline-okx-books"]
        print(
            f"\nbaseline (plain loop, send_and_wait per record, okx-books): "
            f"{b['result']['frames_per_second']:,.0f} frames/s, {_cpu_us(b):.0f} µs CPU/frame"
        )
    if s["variants"]:
        print("\nVariants (okx-books, as fast as it reads):")
        print("| scenario | frames/s | CPU µs/frame | Kafka |")
        print("|---|---:|---:|---|")
        for v in s["variants"]:
            ok = "ok" if v["verified"] else "MISMATCH"
            print(f"| {v['scenario']} | {_fmt(v['fps'])} | {v['cpu_us']:.1f} | {ok} |")
    if s["latency"]:
        print("\nLatency, frame receipt to Kafka ack (ms), at fixed offered rates:")
        print(
            "| scenario | asked/s | offered/s | p50 | p90 | p99 | p99.9 | max | CPU µs/frame "
            "| Kafka |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for r in s["latency"]:
            lat = r["latency_ms"]
            print(
                f"| {r['scenario']} | {r['asked']:,.0f} | {r['offered']:,.0f} | {lat['p50']:.2f} | "
                f"{lat['p90']:.2f} | {lat['p99']:.2f} | {lat['p99.9']:.2f} | {lat['max']:.1f} | "
                f"{r['cpu_us']:.1f} | {'ok' if r['verified'] else 'MISMATCH'} |"
            )
    if s["memory"]:
        print("\nMemory (okx-tickers at 2,000 frames/s in all):")
        print("| subscriptions | connections | peak RSS MiB | CPU µs/frame | p99 ms | Kafka |")
        print("|---:|---:|---:|---:|---:|---|")
        for r in s["memory"]:
            print(
                f"| {r['subscriptions']:,} | {r['connections']} | {r['peak_rss_mib']:.0f} | "
                f"{r['cpu_us']:.1f} | {_fmt(r['p99_ms'], '.2f')} | "
                f"{'ok' if r['verified'] else 'MISMATCH'} |"
            )
    if s.get("gc"):
        print("\nGarbage collector, the interpreter's defaults against bridge run's tuning:")
        print(
            "| scenario | load | frames/s | CPU µs/frame | in the collector | collections "
            "(gen 0/1/2) | longest pause ms (gen 0/1/2) | p99 ms |"
        )
        print("|---|---:|---:|---:|---:|---|---|---:|")
        for r in s["gc"]:
            pauses = " / ".join(f"{ms:.0f}" for ms in r["longest_ms"])
            print(
                f"| {r['scenario']} | {_fmt(r['load_before'], '.1f')} | {r['fps']:,.0f} | "
                f"{r['cpu_us']:.1f} | {_fmt(100 * r['gc_share'], '.1f')} % | "
                f"{' / '.join(map(str, r['collections']))} | {pauses} | "
                f"{_fmt(r['p99_ms'], '.2f')} |"
            )
    if s["breakdown"]:
        print(
            "\nCPU per frame by stage (µs; read = the receive-only client, the others measured "
            "alone):"
        )
        print("| stream | read | parse | encode | pipeline | produce | sum | measured end to end |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in s["breakdown"]:
            print(
                f"| {r['stream']} | {r['read']:.1f} | {r['parse']:.1f} | {r['encode']:.1f} | "
                f"{r['pipeline']:.1f} | {r['produce']:.1f} | {r['sum']:.1f} | {r['measured']:.1f} |"
            )
    if report.get("producer_performance_10k"):
        print(f"\nBroker alone at 10,000 records/s: {report['producer_performance_10k']['line']}")
    side_by_side.print_tables(s["side_by_side"])
    if all(value is None for value in s["targets"].values()):
        return  # none of the targets' scenarios ran (--only)
    print("\nTargets:")
    names = {
        "throughput_vs_cryptofeed": ("throughput ≥ 5× cryptofeed's (raw topic on)", ".2f"),
        "cpu_us_per_frame": ("≤ 40 µs of CPU per frame (okx-books, raw topic on)", ".1f"),
        "p99_ms_at_5k": ("p99 receipt→ack ≤ 10 ms at 5k frames/s (median of the runs)", ".2f"),
        "rss_mib_1000_subs": ("peak RSS ≤ 150 MiB with 1,000 subscriptions", ".0f"),
    }
    for key, (label, spec) in names.items():
        value, met = s["targets"][key], s["met"][key]
        verdict = "n/a" if met is None else ("MET" if met else "MISSED")
        print(f"  {verdict:<6} {label}: {_fmt(value, spec)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    args = parser.parse_args()
    report = json.loads(args.report.read_text())
    analyse(report)
    print_report(report)


if __name__ == "__main__":
    main()
