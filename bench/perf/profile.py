"""Summarise a py-spy raw profile (collapsed stacks) of the bridge: where the samples go.

``python -m bench.perf --profile bridge-max-okx-books --keep`` leaves
``<work dir>/bridge-max-okx-books.pyspy.txt``; ``python -m bench.perf.profile FILE`` prints the
functions with the most samples on the stack (inclusive) and at the top (self), and the share
of the bridge's stages, by which function of ours (or aiokafka's) a sample is under.
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path

# First match wins, from the top of the stack down: a sample under the codec inside the
# pipeline is "encode".
STAGES = (
    ("parse (adapter)", ("bridge/exchanges/",)),
    ("encode (codec)", ("bridge/avro/",)),
    ("produce (publisher + aiokafka)", ("bridge/runtime/publisher.py", "aiokafka/")),
    ("pipeline (dispatch, dedup, metrics)", ("bridge/runtime/pipeline.py",)),
    ("read (websockets)", ("websockets/",)),
    ("session loop", ("bridge/runtime/session.py",)),
)


def _frames(stack: str) -> list[str]:
    return stack.split(";")


def summarise(path: Path, top: int = 25) -> str:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    stages: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = _frames(stack)
        for name in set(frames):
            inclusive[name] += count
        own[frames[-1]] += count
        stage = "other (event loop, idle)"
        for frame in frames:  # outermost first; the innermost stage that matches wins
            for label, needles in STAGES:
                if any(n in frame for n in needles):
                    stage = label
                    break
        stages[stage] += count
    lines = [f"{total} samples", "", "stage shares (innermost of ours on the stack):"]
    for label, count in stages.most_common():
        lines.append(f"  {100 * count / total:5.1f}%  {label}")
    lines += ["", "inclusive:"]
    for name, count in inclusive.most_common(top):
        lines.append(f"  {100 * count / total:5.1f}%  {name}")
    lines += ["", "self:"]
    for name, count in own.most_common(top):
        lines.append(f"  {100 * count / total:5.1f}%  {name}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print(summarise(args.profile, args.top))


if __name__ == "__main__":
    main()
