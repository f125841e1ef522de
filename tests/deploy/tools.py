"""Finding the external tools the deployment tests run: helm, promtool, prometheus, and the
Prometheus Operator's CRDs (for validating ServiceMonitor and PrometheusRule objects).

``make tools`` (``tests/deploy/install-tools.sh``, which ``make test`` runs first) installs them
without root: helm, prometheus and promtool into the cache directory below unless they are on
PATH, the CRDs into Go's module cache. A tool is looked for on PATH first, then in that cache.

A missing tool skips the tests that need it, with a reason naming ``make tools``; with ``CI`` or
``BRIDGE_REQUIRE_TOOLS=1`` in the environment it fails them instead (``.ci/run`` installs
everything, so nothing may be skipped there).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "exchange-bridge"
MONITORING = REPO / "monitoring"

# Keep in step with tests/deploy/install-tools.sh.
PROMETHEUS_OPERATOR_MODULE = "github.com/prometheus-operator/prometheus-operator"
PROMETHEUS_OPERATOR_VERSION = "v0.85.0"

MAKE_TOOLS = "run `make tools` (installs it without root; `make test` runs it first)"
INSTALL_HINT = {
    "helm": MAKE_TOOLS,
    "promtool": MAKE_TOOLS,
    "prometheus": MAKE_TOOLS,
    "go": "install Go (the README's prerequisites), then run `make tools`",
}
# Looked for in cache_bin() when not on PATH: what tests/deploy/install-tools.sh puts there.
CACHED_TOOLS = frozenset({"helm", "prometheus", "promtool"})


def tools_required() -> bool:
    return bool(os.environ.get("CI")) or os.environ.get("BRIDGE_REQUIRE_TOOLS") == "1"


def missing(tool: str, detail: str = "") -> NoReturn:
    reason = f"{tool} is not available{': ' + detail if detail else ''}; {INSTALL_HINT[tool]}"
    if tools_required():
        pytest.fail(f"{reason} (CI / BRIDGE_REQUIRE_TOOLS=1: tools must be installed)")
    pytest.skip(reason)


def cache_bin() -> Path:
    """Where tests/deploy/install-tools.sh installs tools (keep the two in step)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "exchange-bridge" / "bin"


@cache
def which(tool: str) -> str | None:
    found = shutil.which(tool)
    if found is None and tool in CACHED_TOOLS:
        cached = cache_bin() / tool
        if cached.is_file() and os.access(cached, os.X_OK):
            found = str(cached)
    return found


def tool(name: str) -> str:
    """The path of ``name``: PATH first, then the cache the install script fills."""
    path = which(name)
    if path is None:
        missing(name)
    return path


def run(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
        )
    return result


# -- helm ------------------------------------------------------------------------------------------

# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest whose schemas
# kubernetes-validate bundles.
KUBE_VERSIONS = ("1.28.0", "1.37.0")
RELEASE = "md"
NAMESPACE = "market-data"


def helm_template(
    *values_files: Path, sets: tuple[str, ...] = (), kube_version: str = KUBE_VERSIONS[-1]
) -> list[dict[str, Any]]:
    args = [tool("helm"), "template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    args += ["--kube-version", kube_version]
    for file in values_files:
        args += ["-f", str(file)]
    for item in sets:
        args += ["--set", item]
    out = run(*args).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def helm_template_error(*args: str) -> str:
    """Render with extra arguments that must make helm fail; returns its error output."""
    cmd = [tool("helm"), "template", RELEASE, str(CHART), "--kube-version", KUBE_VERSIONS[-1]]
    result = run(*cmd, *args, check=False)
    assert result.returncode != 0, f"helm template {' '.join(args)} should have failed"
    return result.stderr


# -- Prometheus Operator CRDs ----------------------------------------------------------------------


@cache
def _operator_module_dir() -> Path:
    go = which("go")
    if go is None:
        missing("go")
    with tempfile.TemporaryDirectory() as empty:  # outside any go.mod
        result = subprocess.run(
            [
                go,
                "mod",
                "download",
                "-json",
                f"{PROMETHEUS_OPERATOR_MODULE}@{PROMETHEUS_OPERATOR_VERSION}",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=empty,
            check=False,
        )
    if result.returncode != 0:
        missing("go", f"go mod download failed: {result.stderr.strip() or result.stdout.strip()}")
    return Path(json.loads(result.stdout)["Dir"])


def operator_crd_schema(plural: str) -> dict[str, Any]:
    """The v1 OpenAPI schema of ``<plural>.monitoring.coreos.com`` from the Prometheus Operator
    module, as JSON Schema, strict like the API server's pruning: unknown fields are errors."""
    crd_file = (
        _operator_module_dir()
        / "example"
        / "prometheus-operator-crd"
        / f"monitoring.coreos.com_{plural}.yaml"
    )
    crd = yaml.safe_load(crd_file.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema: dict[str, Any] = _strict(version["schema"]["openAPIV3Schema"])
    return schema


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strict(v) for k, v in node.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    if out.pop("nullable", False) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out
