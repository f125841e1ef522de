"""The latency plot: receipt-to-ack percentiles against offered rate (PNG, matplotlib Agg).

``python -m bench.perf.plot bench-perf.json docs/performance/latency.png``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def plot(report: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bench.perf.report import analyse

    if "summary" not in report:
        analyse(report)
    rows = [
        r
        for r in report["summary"]["latency"]
        if r["scenario"] == f"bridge-{int(r['asked']) // 1000}k-okx-books"
    ]
    rows.sort(key=lambda r: r["asked"])
    rates = [r["asked"] for r in rows]
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for key, style in (("p50", "o-"), ("p90", "s-"), ("p99", "^-"), ("p99.9", "v-")):
        ax.plot(rates, [r["latency_ms"][key] for r in rows], style, label=key)
    noraw = [
        r for r in report["summary"]["latency"] if r["scenario"] == "bridge-5k-okx-books-noraw"
    ]
    for r in noraw:
        ax.plot([r["asked"]], [r["latency_ms"]["p99"]], "kx", label="p99, raw topic off")
    repeats = [r for r in report["summary"]["latency"] if "-5k-okx-books-repeat" in r["scenario"]]
    if repeats:
        ax.plot(
            [r["asked"] for r in repeats],
            [r["latency_ms"]["p99"] for r in repeats],
            "^",
            color="tab:green",
            fillstyle="none",
            label="p99, 5k repeated",
        )
    # Past the throughput the bridge sustains, frames queue: the latency is the queue's.
    ceiling = next(
        (t["bridge_fps"] for t in report["summary"]["throughput"] if t["stream"] == "okx-books"),
        None,
    )
    if ceiling:
        ax.axvline(ceiling, color="red", linestyle=":", linewidth=1)
        ax.annotate(
            f"max sustained\n{ceiling:,.0f}/s", (ceiling * 1.03, 30), fontsize=8, color="red"
        )
    ax.axhline(10, color="grey", linestyle="--", linewidth=1)
    ax.annotate("target: p99 ≤ 10 ms at 5k/s", (rates[0] if rates else 1000, 10.5), fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered rate asked of the generator (frames/s, OKX books, one connection)")
    ax.set_ylabel("frame receipt → Kafka ack (ms)")
    m = report["machine"]
    ax.set_title(
        f"exchange-bridge latency, raw topic on, acks=all\n"
        f"{m['nproc']} cores {m['cpu_model']}, Python {m['python']}",
        fontsize=10,
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    plot(json.loads(args.report.read_text()), args.out)


if __name__ == "__main__":
    main()
