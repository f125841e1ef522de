"""A real schema registry for the tests and experiments: Apicurio Registry, no docker.

Why this one
------------
The bridge talks to Confluent-compatible registries. Confluent's own Schema Registry is not on
Maven Central (nor on any package registry this project may use) and Karapace is not on PyPI,
but Apicurio Registry publishes its server to Maven Central as a Quarkus distribution
(``io.apicurio:apicurio-registry-app:<v>:zip:all``: a runner jar and its libraries, in-memory
H2 storage by default), with a Confluent-compatible API under ``/apis/ccompat/v7``. It needs
only Java 17, which the Kafka sandbox needs anyway, and is ready about 4-5 s after launch.

1. :func:`ensure_distribution` fetches the zip with ``mvn dependency:copy`` once per version and
   unpacks it into ``~/.cache/exchange-bridge/apicurio-registry-<v>/``.
2. :class:`SandboxRegistry` starts it on free loopback ports (plain HTTP, and HTTPS with a
   self-signed certificate when asked), waits until the ccompat API answers, and sets the
   global compatibility level to ``BACKWARD`` as Confluent's registry has by default
   (Apicurio's is ``NONE``).

Command line::

    python -m bridge.sandbox.registry --fetch   # only fetch and cache the distribution
    python -m bridge.sandbox.registry --run     # run a registry until Ctrl-C
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import logging
import shutil
import signal
import subprocess
import time
import zipfile
from pathlib import Path
from typing import Self

from bridge.errors import SandboxError
from bridge.sandbox.maven import cache_lock, cache_root, replace_dir, run_mvn, staging_dir
from bridge.sandbox.processes import (
    ServerProcess,
    check_java,
    forget_at_exit,
    free_port,
    java_command,
    keep_log,
    make_workdir,
    spawn,
    stop_at_exit,
    terminate,
    wait_until_ready,
)
from bridge.sandbox.tls import make_self_signed

__all__ = ["SandboxRegistry", "ensure_distribution", "main"]

log = logging.getLogger(__name__)

DEFAULT_VERSION = "2.6.13.Final"
CCOMPAT_PATH = "/apis/ccompat/v7"
_ARTIFACT = "io.apicurio:apicurio-registry-app:{version}:zip:all"
_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1"
_WORKDIR_PREFIX = "bridge-registry-"


def _home(version: str) -> Path:
    return cache_root() / f"apicurio-registry-{version}"


def _runner(home: Path, version: str) -> Path:
    return home / f"apicurio-registry-app-{version}-runner.jar"


def ensure_distribution(version: str = DEFAULT_VERSION) -> Path:
    """The runner jar of Apicurio Registry ``version``, fetched with mvn on first use."""
    home = _home(version)
    runner = _runner(home, version)
    if runner.is_file():
        return runner
    with cache_lock(f"apicurio-registry-{version}"):
        if runner.is_file():
            return runner
        started = time.monotonic()
        log.info("fetching Apicurio Registry %s with mvn (first run only)…", version)
        with staging_dir(cache_root(), ".fetch-registry-") as staging:
            run_mvn(
                [
                    f"{_DEPENDENCY_PLUGIN}:copy",
                    f"-Dartifact={_ARTIFACT.format(version=version)}",
                    f"-DoutputDirectory={staging}",
                ],
                cwd=staging,
                what=f"Apicurio Registry {version}",
            )
            (archive,) = staging.glob("*.zip")
            unpacked = staging / "dist"
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(unpacked)
            if not _runner(unpacked, version).is_file():
                raise SandboxError(f"{archive.name} has no {_runner(unpacked, version).name}")
            replace_dir(unpacked, home, trash=staging / "old")
        log.info(
            "cached Apicurio Registry %s in %s (%.1f s)", version, home, time.monotonic() - started
        )
        return runner


class SandboxRegistry(ServerProcess):
    """Apicurio Registry (in-memory storage) as a local JVM subprocess.

    ::

        with SandboxRegistry(tls=True) as registry:
            registry.url        # http://127.0.0.1:PORT/apis/ccompat/v7
            registry.tls_url    # https://localhost:PORT/apis/ccompat/v7 (trust registry.ca_file)

    Blocking methods; from async code wrap them in ``asyncio.to_thread``. Every start is empty.
    """

    def __init__(
        self, version: str = DEFAULT_VERSION, *, tls: bool = False, heap: str = "384m"
    ) -> None:
        self.version = version
        self.tls = tls
        self.heap = heap
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None
        self._port: int | None = None
        self._tls_port: int | None = None
        self._ca_file: Path | None = None

    @property
    def url(self) -> str:
        if self._port is None:
            raise SandboxError("the registry is not running")
        return f"http://127.0.0.1:{self._port}{CCOMPAT_PATH}"

    @property
    def tls_url(self) -> str:
        if self._tls_port is None:
            raise SandboxError("the registry runs without TLS (SandboxRegistry(tls=True))")
        return f"https://localhost:{self._tls_port}{CCOMPAT_PATH}"

    @property
    def ca_file(self) -> Path:
        if self._ca_file is None:
            raise SandboxError("the registry runs without TLS (SandboxRegistry(tls=True))")
        return self._ca_file

    def start(self, timeout: float = 90) -> Self:
        java = check_java()
        runner = ensure_distribution(self.version)
        self._workdir = make_workdir(_WORKDIR_PREFIX)
        stop_at_exit(self, self.stop)
        self._port = free_port()
        props = {
            "quarkus.http.host": "127.0.0.1",
            "quarkus.http.port": str(self._port),
            "quarkus.log.level": "WARN",
            'quarkus.log.category."io.quarkus".level': "INFO",  # keeps the "started" line
        }
        if self.tls:
            cert, key = make_self_signed(self._workdir, ("localhost", "127.0.0.1"), name="registry")
            self._ca_file = cert
            self._tls_port = free_port()
            props.update(
                {
                    "quarkus.http.ssl-port": str(self._tls_port),
                    "quarkus.http.ssl.certificate.files": str(cert),
                    "quarkus.http.ssl.certificate.key-files": str(key),
                    "quarkus.http.insecure-requests": "enabled",
                }
            )
        cmd = java_command(java, self.heap, *(f"-D{k}={v}" for k, v in props.items()))
        log_path = self._workdir / "registry.log"
        try:
            self._proc = spawn([*cmd, "-jar", str(runner)], log_path, cwd=self._workdir)
            self.startup_seconds = wait_until_ready(
                self._proc,
                self._answers,
                what=f"Apicurio Registry {self.version}",
                timeout=timeout,
                log_path=log_path,
            )
            # Confluent's registry defaults to BACKWARD; Apicurio's ccompat API to NONE.
            self._request("PUT", "/config", {"compatibility": "BACKWARD"})
        except BaseException:
            kept = keep_log(log_path, f"{self._workdir.name}-registry.log")
            if kept is not None:
                log.error("Apicurio Registry failed to start; its log is kept in %s", kept)
            self.stop()
            raise
        log.info(
            "Apicurio Registry %s ready at %s in %.1f s",
            self.version, self.url, self.startup_seconds,
        )  # fmt: skip
        return self

    def stop(self, timeout: float = 20) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            terminate(proc, signal.SIGTERM, timeout)
        forget_at_exit(self)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        self._port = self._tls_port = None

    def _answers(self) -> bool:
        try:
            status, _ = self._request("GET", "/subjects")
        except (OSError, http.client.HTTPException):
            return False
        return status == 200

    def _request(
        self, method: str, path: str, body: object | None = None
    ) -> tuple[int, object | None]:
        assert self._port is not None
        connection = http.client.HTTPConnection("127.0.0.1", self._port, timeout=5)
        try:
            payload = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": "application/vnd.schemaregistry.v1+json"}
            connection.request(method, CCOMPAT_PATH + path, body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        return response.status, json.loads(data) if data else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bridge.sandbox.registry", description=__doc__)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--fetch", action="store_true", help="only fetch and cache the server")
    action.add_argument("--run", action="store_true", help="run a registry until Ctrl-C")
    parser.add_argument("--version", default=DEFAULT_VERSION)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.fetch:
        print(ensure_distribution(args.version))
        return 0
    with SandboxRegistry(args.version) as registry:
        print(f"Apicurio Registry ({registry.startup_seconds:.1f} s): {registry.url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
