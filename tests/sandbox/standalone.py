"""Running a simulator's ``python -m bridge.sandbox.<exchange>`` as a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager


def help_text(module: str) -> str:
    """What ``python -m <module> --help`` prints (it must exit 0)."""
    result = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@contextmanager
def standalone(module: str, *args: str) -> Iterator[list[str]]:
    """``python -m <module> --port 0 ARGS`` running; yields the lines it printed up to
    "Ctrl-C to stop.", and ends it on the way out."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        while not lines or lines[-1] != "Ctrl-C to stop.":
            line = process.stdout.readline()
            assert line, f"{module} ended early after {lines}"
            lines.append(line.rstrip("\n"))
        yield lines
    finally:
        process.terminate()
        process.wait(10)
