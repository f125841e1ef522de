"""The Dockerfile cannot be built here (no Docker engine); these checks keep it consistent with
the chart and the project: pinned base, non-root user, paths, port, entrypoint, health check, and
a build context that holds what the COPY lines need and nothing else. The health check command
itself runs against a live bridge in test_prometheus.py."""

from __future__ import annotations

import json
import re
import tomllib
from fnmatch import fnmatch

import yaml

from tests.deploy.tools import CHART, REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()


def instruction(name: str) -> list[str]:
    """Each instruction's arguments, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [m.group(1).strip() for m in re.finditer(rf"^{name}\s+(.*)$", joined, re.MULTILINE)]


def healthcheck_command() -> list[str]:
    (check,) = instruction("HEALTHCHECK")
    command: list[str] = json.loads(check.split(" CMD ", 1)[1])
    return command


def test_base_image_is_a_pinned_slim_python() -> None:
    (default,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE, re.MULTILINE)
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?", default)
    stages = instruction("FROM")
    assert len(stages) == 2, "multi-stage: a build stage and a runtime stage"
    assert all(s.startswith("${PYTHON_IMAGE}") for s in stages)


def test_runtime_matches_the_chart() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    pod = values["podSecurityContext"]
    (user,) = instruction("USER")
    assert user == f"{pod['runAsUser']}:{pod['runAsGroup']}"
    assert "--uid 10001" in DOCKERFILE and "--gid 10001" in DOCKERFILE
    assert instruction("EXPOSE") == [str(values["service"]["port"])]
    assert json.loads(instruction("ENTRYPOINT")[0]) == ["bridge"]
    # the pod template of both workloads (static mode's StatefulSet, group mode's Deployment)
    pod_template = (CHART / "templates" / "_pod.tpl").read_text()
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    (config_path,) = re.findall(r'define "exchange-bridge.configPath" -}}(\S+?){{', helpers)
    assert json.loads(instruction("CMD")[-1]) == ["run", "--config", config_path]
    assert 'args: ["run", "--config"' in pod_template
    (secrets_path,) = re.findall(r'define "exchange-bridge.secretsPath" -}}(\S+?){{', helpers)
    assert f"mkdir -p {secrets_path}" in DOCKERFILE
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["bridge"] == "bridge.cli:main"


def test_healthcheck_uses_python_against_healthz() -> None:
    command = healthcheck_command()
    assert command[:2] == ["python", "-c"]
    compile(command[2], "<healthcheck>", "exec")
    assert "/healthz" in command[2] and "BRIDGE_METRICS__PORT" in command[2]


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule: the last matching pattern wins; a pattern matching a parent
    directory matches everything below it; ``**`` matches any number of directories."""
    parts = path.split("/")
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!").rstrip("/")
        for n in range(1, len(parts) + 1):
            prefix = "/".join(parts[:n])
            if fnmatch(prefix, pattern) or (
                pattern.startswith("**/") and fnmatch(parts[n - 1], pattern[3:])
            ):
                result = not negate
                break
    return result


def test_build_context_holds_what_copy_needs_and_nothing_else() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    patterns = [p.strip() for p in lines if p.strip() and not p.startswith("#")]
    sources = [
        src
        for copy in instruction("COPY")
        if not copy.startswith("--from")
        for src in copy.split()[:-1]
    ]
    assert sources
    for source in sources:
        path = REPO / source
        assert path.exists(), source
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        kept = [f for f in files if not ignored(str(f.relative_to(REPO)), patterns)]
        assert kept, f"{source} is excluded from the build context"
    for left_out in (
        "tests/unit/test_sharding.py",
        ".git/HEAD",
        "helm/exchange-bridge/Chart.yaml",
        "bridge/__pycache__/app.cpython-311.pyc",
        "docs/OPERATIONS.md",
    ):
        assert ignored(left_out, patterns), left_out
    assert not ignored("bridge/app.py", patterns)
    assert not ignored("schemas/okx/status.v1.avsc", patterns)
