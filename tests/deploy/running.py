"""Helpers for the tests that run the real thing: bridge processes (`python -m bridge run`), the
OKX simulator in a thread of its own, and a Prometheus server, all on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import yaml

from bridge.sandbox.okx import OkxSimulator
from tests.deploy.tools import REPO, tool

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def http_get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_for(
    what: str, check: Callable[[], bool], timeout: float, *, interval: float = 0.2
) -> None:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (OSError, ValueError) as exc:  # not listening yet, or half an answer
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} ({last_error})")


class ThreadedSimulator:
    """An :class:`OkxSimulator` on an event loop in a background thread, so that synchronous
    tests can script it while bridge processes connect to it."""

    def __init__(self, **options: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def make() -> OkxSimulator:
            sim = OkxSimulator(**options)
            await sim.start()
            return sim

        self.sim = self.run(make)

    def run(self, factory: Callable[[], Coroutine[Any, Any, T]], timeout: float = 15) -> T:
        return asyncio.run_coroutine_threadsafe(factory(), self.loop).result(timeout)

    def stop(self) -> None:
        try:
            self.run(self.sim.stop)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


class BridgeProcess:
    """``python -m bridge run --config FILE`` as a subprocess, its metrics on a port of its own."""

    def __init__(self, config: dict[str, Any], workdir: Path, name: str) -> None:
        self.port = free_port()
        config = {**config, "metrics": {"host": "127.0.0.1", "port": self.port}}
        self.config_file = workdir / f"{name}.yaml"
        self.config_file.write_text(yaml.safe_dump(config))
        self.log_file = workdir / f"{name}.log"
        self.name = name
        env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
        with self.log_file.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bridge", "run", "--config", str(self.config_file)],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")[-4000:]

    def wait_ready(self, timeout: float = 45) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited {self.process.returncode}:\n{self.log()}")
            status, _ = http_get(self.base_url + "/readyz", timeout=2)
            return status == 200

        try:
            wait_for(f"{self.name} /readyz", ready, timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- {self.name} log:\n{self.log()}") from None

    def metrics(self) -> str:
        status, text = http_get(self.base_url + "/metrics")
        assert status == 200
        return text

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def samples(exposition: str, name: str) -> list[tuple[dict[str, str], float]]:
    """The samples of one metric in a text exposition: (labels, value)."""
    out = []
    pattern = re.compile(rf"^{re.escape(name)}(?:\{{(.*)\}})? (\S+)$")
    for line in exposition.splitlines():
        match = pattern.match(line)
        if match:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(1) or ""))
            out.append((labels, float(match.group(2))))
    return out


def exported_names(exposition: str) -> set[str]:
    """Every name a query may use: those of the samples, and those of the declared metric
    families, whose samples appear once something happens (a counter labelled by a reason
    that has not occurred yet). A histogram family brings its _bucket, _sum and _count."""
    names = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            suffixes = ("_bucket", "_sum", "_count") if kind == "histogram" else ("",)
            names |= {name + suffix for suffix in suffixes}
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


class PrometheusServer:
    """A real Prometheus (Debian's package) with a config of its own, its data in a temp dir,
    on a free loopback port, scraping every second."""

    def __init__(
        self, workdir: Path, targets: list[str], labels: dict[str, str], rules: list[Path]
    ):
        self.port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(r) for r in rules],
            "scrape_configs": [
                {
                    "job_name": "exchange-bridge",
                    "static_configs": [{"targets": targets, "labels": labels}],
                }
            ],
        }
        config_file = workdir / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(config))
        self.log_file = workdir / "prometheus.log"
        with self.log_file.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    tool("prometheus"),
                    f"--config.file={config_file}",
                    f"--storage.tsdb.path={workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for("prometheus /-/ready", self._ready, 30)

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"prometheus exited:\n{self.log_file.read_text()[-3000:]}")
        return http_get(f"http://127.0.0.1:{self.port}/-/ready", timeout=2)[0] == 200

    def api(self, path: str, **params: str) -> Any:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        status, body = http_get(url, timeout=10)
        answer = json.loads(body)
        assert status == 200 and answer["status"] == "success", f"{path} {params}: {body[:500]}"
        return answer["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        assert data["resultType"] == "vector", f"{expr}: {data['resultType']}"
        result: list[dict[str, Any]] = data["result"]
        return result

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
