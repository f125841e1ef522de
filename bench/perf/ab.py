"""Before/after of a change to the adapter or the codec, on a loaded machine: two source trees
measured alternately, in the same minutes.

``python -m bench.perf.ab BEFORE_TREE AFTER_TREE [--rounds 6]`` (a tree: a checkout, e.g. from
``git worktree add`` or ``git archive <commit> | tar -x -C DIR``) runs, ``--rounds`` times and
alternating, a child process with ``PYTHONPATH`` set to each tree that measures microseconds
of CPU per frame (``time.process_time``) of

* **parse**: ``adapter.receive`` of the first 500 frames of a pool;
* **encode**: the codec (raw record and every event's records) of the same frames;

each the fastest of a few repetitions, on OKX books, OKX tickers and tickers renamed to a
channel the bridge carries generically. It prints the minimum and the median of the rounds
per tree. Frame pools come from ``python -m bench.perf`` (``~/.cache/exchange-bridge``).
Other processes on the cores move a single measurement by ±30 %; alternating and taking the
minimum over rounds keeps what the code costs.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from typing import Any

BENCH_TREE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FRAMES = 500
REPEATS = 4


def _best(body: Any) -> float:
    """Fastest of REPEATS runs of ``body``, µs of CPU per frame."""
    spent = []
    for _ in range(REPEATS):
        started = time.process_time()
        body()
        spent.append(time.process_time() - started)
    return 1e6 * min(spent) / FRAMES


def measure() -> dict[str, dict[str, float]]:
    """The child: this tree's parse and encode per stream."""
    from bench.perf.frames import STREAMS, load, pool_path
    from bench.perf.run import POOL_CACHE
    from bench.perf.stages import _adapter, _info, _stamped
    from bridge.avro.records import Codec

    tickers = STREAMS["okx-tickers"]
    generic = replace(tickers, subscription={"channel": "sprd-tickers", "instId": "BTC-USDT"})
    streams = {
        "okx-books": (STREAMS["okx-books"], load(pool_path(POOL_CACHE, "okx-books"))),
        "okx-tickers": (tickers, load(pool_path(POOL_CACHE, "okx-tickers"))),
        "okx-generic": (
            generic,
            [
                f.replace('"channel":"tickers"', '"channel":"sprd-tickers"')
                for f in load(pool_path(POOL_CACHE, "okx-tickers"))
            ],
        ),
    }
    result = {}
    for name, (stream, pool) in streams.items():
        frames = _stamped(pool[:FRAMES])
        info, codec = _info(stream), Codec()

        def parse() -> None:
            adapter = _adapter(stream)  # noqa: B023 - run before the loop moves on
            for frame in frames:  # noqa: B023
                adapter.receive(frame.data, frame.received_us)

        adapter = _adapter(stream)
        events = [(f, adapter.receive(f.data, f.received_us)) for f in frames]

        def encode() -> None:
            for frame, frame_events in events:  # noqa: B023
                codec.raw_record(info, frame)  # noqa: B023
                for event in frame_events:
                    codec.records_for(info, frame, event)  # noqa: B023

        result[name] = {"parse": _best(parse), "encode": _best(encode)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", nargs="?")
    parser.add_argument("after", nargs="?")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--child", help=argparse.SUPPRESS)  # the tree to measure
    args = parser.parse_args()
    if args.child:
        # This file runs as a script: its own folder is no package root. The tree's bridge
        # package is imported first, so bridge.* comes from it; this benchmark's helpers
        # (bench.perf) from the checkout this file is in.
        sys.path[:1] = [args.child]
        importlib.import_module("bridge")
        sys.path.insert(0, BENCH_TREE)
        print(json.dumps(measure()))
        return
    if not args.before or not args.after:
        parser.error("two trees are needed")
    rounds: dict[str, list[dict[str, dict[str, float]]]] = {"before": [], "after": []}
    for _ in range(args.rounds):
        for label, tree in (("before", args.before), ("after", args.after)):
            env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            out = subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--child", os.path.abspath(tree)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            rounds[label].append(json.loads(out.stdout))
    print(f"µs of CPU per frame, min / median of {args.rounds} alternated rounds")
    for stream in rounds["before"][0]:
        for stage in ("parse", "encode"):
            cells = []
            for label in ("before", "after"):
                values = [r[stream][stage] for r in rounds[label]]
                cells.append(f"{min(values):.1f} / {statistics.median(values):.1f}")
            print(f"{stream:12} {stage:7} before {cells[0]:>13}   after {cells[1]:>13}")


if __name__ == "__main__":
    main()
