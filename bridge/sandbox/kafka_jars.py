"""The sandbox Kafka broker's classpath: Apache Kafka's jars from Maven Central, resolved with
``mvn dependency:copy-dependencies`` once per Kafka version and cached in
``~/.cache/exchange-bridge/kafka-<version>/lib``.

``kafka-pom.xml`` (next to this module) names what is resolved: ``kafka_2.13`` (the broker;
main class ``kafka.Kafka``), ``kafka-tools`` (the producer performance tool the benchmarks
run) and a log4j binding configured by ``log4j2.properties``. The cache is tied to the pom's
content: edit the pom and it is resolved again.
"""

from __future__ import annotations

import errno
import hashlib
import importlib.resources
import logging
import os
import re
import time
from pathlib import Path

from bridge.errors import SandboxError
from bridge.sandbox.maven import cache_lock, cache_root, replace_dir, run_mvn, staging_dir

__all__ = ["DEFAULT_VERSION", "STAMP_FILE", "classpath_arg", "ensure_classpath", "log4j_config"]

log = logging.getLogger(__name__)

DEFAULT_VERSION = "4.1.1"

_POM = "kafka-pom.xml"
_LOG4J = "log4j2.properties"
STAMP_FILE = ".pom-sha256"
"""In lib/: the hash of the pom the jars were resolved with."""


def _resource_text(name: str) -> str:
    return importlib.resources.files("bridge.sandbox").joinpath(name).read_text("utf-8")


def _jars(lib: Path) -> list[Path]:
    return sorted(lib.glob("*.jar"))


def _cache_valid(lib: Path, version: str, pom_hash: str) -> bool:
    try:
        stamp = (lib / STAMP_FILE).read_text().strip()
    except OSError:
        return False
    return stamp == pom_hash and (lib / f"kafka_2.13-{version}.jar").is_file()


def ensure_classpath(version: str = DEFAULT_VERSION) -> list[Path]:
    """The broker's jars for Kafka ``version``, resolving them with mvn on first use."""
    if not re.fullmatch(r"[0-9A-Za-z.\-]+", version):
        raise SandboxError(f"not a Kafka version: {version!r}")
    pom_text = _resource_text(_POM)
    pom_hash = hashlib.sha256(pom_text.encode()).hexdigest()
    home = cache_root() / f"kafka-{version}"
    lib = home / "lib"
    if _cache_valid(lib, version, pom_hash):
        return _jars(lib)

    with cache_lock(f"kafka-{version}"):
        if _cache_valid(lib, version, pom_hash):  # another process got there first
            return _jars(lib)
        log.info("resolving Kafka %s jars with mvn (first run only)…", version)
        started = time.monotonic()
        with staging_dir(home, ".resolve-") as staging:
            staged = staging / "lib"
            pom = staging / "pom.xml"
            pom.write_text(pom_text, "utf-8")
            run_mvn(
                [
                    "-f",
                    str(pom),
                    f"-Dkafka.version={version}",
                    "dependency:copy-dependencies",
                    f"-DoutputDirectory={staged}",
                ],
                cwd=staging,
                what=f"Kafka {version}",
            )
            if not (staged / f"kafka_2.13-{version}.jar").is_file():
                raise SandboxError(f"mvn succeeded but kafka_2.13-{version}.jar is not in {staged}")
            (staged / STAMP_FILE).write_text(pom_hash + "\n")
            try:
                # stale jars (resolved with another pom, or damaged) go with the staging dir
                replace_dir(staged, lib, trash=staging / "old-lib")
            except OSError as exc:  # lost a race against a process without the lock
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY) or not _cache_valid(
                    lib, version, pom_hash
                ):
                    raise
        jars = _jars(lib)
        log.info(
            "cached %d jars for Kafka %s in %s (%.1f s)",
            len(jars), version, lib, time.monotonic() - started,
        )  # fmt: skip
        return jars


def classpath_arg(jars: list[Path]) -> str:
    """``-cp`` value: ``lib/*`` when the jars are exactly one dir's (short ``ps`` lines)."""
    dirs = {p.parent for p in jars}
    if len(dirs) == 1:
        (lib,) = dirs
        if set(_jars(lib)) == set(jars):
            return str(lib / "*")
    return os.pathsep.join(str(p) for p in jars)


def log4j_config(directory: Path | None = None) -> Path:
    """The log4j2 configuration, copied out of the package (which may be a zip or wheel) into
    ``directory`` (default: the cache)."""
    if directory is None:
        directory = cache_root()
        directory.mkdir(parents=True, exist_ok=True)
    path = directory / _LOG4J
    text = _resource_text(_LOG4J)
    if not path.exists() or path.read_text("utf-8") != text:
        path.write_text(text, "utf-8")
    return path
