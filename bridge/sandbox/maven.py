"""Fetching from Maven Central with ``mvn`` into a cache shared by every run: what the Kafka
jars (:mod:`bridge.sandbox.kafka_jars`) and the schema registry's distribution
(:mod:`bridge.sandbox.registry`) have in common.

A cache entry is built in a staging directory next to it and renamed into place under a file
lock, so an interrupted download never leaves a half-filled cache and parallel callers (two
test runs, ``make kafka`` beside a test run) fetch once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from bridge.errors import SandboxError
from bridge.sandbox.processes import require

__all__ = ["cache_root", "cache_lock", "replace_dir", "run_mvn", "staging_dir"]

# Resolving Kafka's dependencies from an empty local repository takes a few minutes.
_MVN_TIMEOUT_SECONDS = 900


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/exchange-bridge`` (default ``~/.cache/exchange-bridge``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "exchange-bridge"


@contextlib.contextmanager
def cache_lock(name: str) -> Iterator[None]:
    """Hold the lock file ``cache_root()/<name>.lock`` (across processes)."""
    path = cache_root() / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def staging_dir(parent: Path, prefix: str) -> Iterator[Path]:
    """A temporary directory in ``parent`` (same file system as the cache, so renames out of
    it are atomic), deleted with whatever is left in it."""
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def replace_dir(staged: Path, target: Path, *, trash: Path) -> None:
    """Rename ``staged`` to ``target``; an old ``target`` is first renamed to ``trash`` (in
    the staging directory, deleted with it), so readers never see a half-filled target."""
    if target.exists():
        os.rename(target, trash)
    os.rename(staged, target)


def run_mvn(args: Sequence[str], *, cwd: Path, what: str) -> None:
    """Run ``mvn -q -B ARGS`` in ``cwd``; :class:`SandboxError` with the end of its output if
    it fails or takes too long (``what`` names the artifact in the message)."""
    cmd = [require("mvn"), "-q", "-B", *args]
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, timeout=_MVN_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired as exc:
        minutes = _MVN_TIMEOUT_SECONDS // 60
        raise SandboxError(f"mvn did not fetch {what} within {minutes} min") from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
        raise SandboxError(
            f"mvn could not fetch {what} (exit {proc.returncode}); "
            f"is Maven Central reachable?\n$ {' '.join(cmd)}\n{tail}"
        )
