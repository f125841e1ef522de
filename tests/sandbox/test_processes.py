"""What the Java launchers share (bridge.sandbox.processes), tried on small Python children."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Self

import pytest

from bridge.errors import MissingToolError, SandboxError
from bridge.sandbox.processes import (
    ProcessExited,
    ServerProcess,
    free_ports,
    java_command,
    keep_log,
    log_tail,
    make_workdir,
    parse_java_version,
    require,
    spawn,
    terminate,
    wait_until_ready,
)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Children a test spawns; killed whatever the outcome."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        terminate(proc, signal.SIGKILL, 5)


# -- tools ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('java version "1.8.0_292"', 8),
        ('openjdk version "21" 2023-09-19', 21),
        ("something else", None),
    ],
)
def test_parse_java_version(output: str, major: int | None) -> None:
    assert parse_java_version(output) == major


def test_a_missing_tool_is_named_with_its_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingToolError, match=r"`mvn` was not found.*apt-get install maven"):
        require("mvn")
    with pytest.raises(MissingToolError, match=r"apt-get install openjdk-17-jre-headless"):
        require("java")


def test_java_command_bounds_the_heap_and_exits_on_out_of_memory() -> None:
    assert java_command("/usr/bin/java", "256m", "-jar", "x.jar") == [
        "/usr/bin/java",
        "-Xmx256m",
        "-Djava.awt.headless=true",
        "-XX:+ExitOnOutOfMemoryError",
        "-jar",
        "x.jar",
    ]


def test_free_ports_are_different() -> None:
    ports = free_ports(5)
    assert len(set(ports)) == 5 and all(0 < port < 65536 for port in ports)


# -- work directories and logs -------------------------------------------------------------------


def test_make_workdir_sweeps_directories_of_dead_owners() -> None:
    prefix = f"bridge-test-{os.getpid()}-"
    dead = Path(tempfile.mkdtemp(prefix=prefix))
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    (dead / "owner.pid").write_text(f"{ended.pid}\n")
    alive = Path(tempfile.mkdtemp(prefix=prefix))
    (alive / "owner.pid").write_text(f"{os.getpid()}\n")
    unmarked = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        fresh = make_workdir(prefix)
        assert fresh.name.startswith(prefix)
        assert (fresh / "owner.pid").read_text() == f"{os.getpid()}\n"
        assert not dead.exists()
        assert alive.exists() and unmarked.exists()
    finally:
        for path in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
            shutil.rmtree(path, ignore_errors=True)


def test_log_tail_and_keep_log(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("".join(f"line {n}\n" for n in range(100)))
    tail = log_tail(log, lines=3)
    assert tail == f"--- last lines of {log}:\nline 97\nline 98\nline 99"
    assert log_tail(log, since=log.stat().st_size - 8) == f"--- last lines of {log}:\nline 99"
    assert log_tail(tmp_path / "none.log") == f"(no log at {tmp_path / 'none.log'})"
    kept = keep_log(log, f"kept-{os.getpid()}.log")
    try:
        assert kept is not None and kept.read_text() == log.read_text()
    finally:
        if kept is not None:
            kept.unlink()
    assert keep_log(tmp_path / "none.log", "never.log") is None


# -- child processes -----------------------------------------------------------------------------


def test_a_child_runs_in_its_own_group_until_ready(
    tmp_path: Path, children: list[subprocess.Popen[bytes]]
) -> None:
    log = tmp_path / "child.log"
    proc = spawn(
        python("import time; time.sleep(0.2); print('ready', flush=True); time.sleep(60)"),
        log,
        cwd=tmp_path,
    )
    children.append(proc)
    assert os.getpgid(proc.pid) == proc.pid  # signals to its group reach nothing else
    seconds = wait_until_ready(
        proc, lambda: "ready" in log.read_text(), what="child", timeout=10, log_path=log
    )
    assert 0.1 < seconds < 10
    terminate(proc, signal.SIGTERM, 5)
    assert proc.returncode == -signal.SIGTERM
    terminate(proc, signal.SIGTERM, 5)  # already reaped: nothing to do


def test_a_child_that_exits_before_it_is_ready(
    tmp_path: Path, children: list[subprocess.Popen[bytes]]
) -> None:
    log = tmp_path / "child.log"
    log.write_text("--- earlier run\n")
    since = log.stat().st_size
    proc = spawn(python("print('Address already in use'); raise SystemExit(3)"), log, cwd=tmp_path)
    children.append(proc)
    with pytest.raises(ProcessExited, match="child exited with code 3") as caught:
        wait_until_ready(proc, lambda: False, what="child", timeout=10, log_path=log, since=since)
    assert "Address already in use" in caught.value.tail
    assert "earlier run" not in caught.value.tail


def test_a_child_that_is_not_ready_in_time(
    tmp_path: Path, children: list[subprocess.Popen[bytes]]
) -> None:
    log = tmp_path / "child.log"
    proc = spawn(
        python("print('starting', flush=True); import time; time.sleep(60)"), log, cwd=tmp_path
    )
    children.append(proc)
    with pytest.raises(SandboxError, match=r"(?s)child not ready after 0.3 s\n.*\nstarting$"):
        wait_until_ready(proc, lambda: False, what="child", timeout=0.3, log_path=log)
    assert proc.poll() is None  # the caller decides what to do with it


def test_terminate_kills_a_child_that_ignores_the_signal(
    tmp_path: Path, children: list[subprocess.Popen[bytes]]
) -> None:
    code = """
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print('ignoring', flush=True)
        time.sleep(60)
    """
    log = tmp_path / "child.log"
    proc = spawn(python(code), log, cwd=tmp_path)
    children.append(proc)
    wait_until_ready(
        proc, lambda: "ignoring" in log.read_text(), what="c", timeout=10, log_path=log
    )
    terminate(proc, signal.SIGTERM, 0.3)
    assert proc.returncode == -signal.SIGKILL


def test_stop_at_exit_runs_unless_forgotten() -> None:
    code = """
        from bridge.sandbox.processes import forget_at_exit, stop_at_exit
        kept, forgotten = object(), object()
        stop_at_exit(kept, lambda: print('stopped kept'))
        stop_at_exit(forgotten, lambda: print('stopped forgotten'))
        forget_at_exit(forgotten)
        stop_at_exit(object(), lambda: 1 / 0)  # a failing clean-up does not stop the others
    """
    result = subprocess.run(python(code), capture_output=True, text=True, timeout=30, check=True)
    assert result.stdout == "stopped kept\n"


class Launched(ServerProcess):
    """A launcher of ``sleep``, enough to see what ServerProcess adds."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.starts = 0

    def start(self, timeout: float = 60) -> Self:
        self.starts += 1
        self._workdir = self.tmp_path
        self._proc = spawn(
            python("import time; time.sleep(60)"), self.tmp_path / "log", cwd=self.tmp_path
        )
        return self

    def stop(self, timeout: float = 20) -> None:
        if self._proc is not None:
            terminate(self._proc, signal.SIGTERM, timeout)
        self._proc = self._workdir = None


def test_a_server_process_starts_in_with_unless_started(tmp_path: Path) -> None:
    launched = Launched(tmp_path)
    assert not launched.running and launched.pid is None
    with launched as same:
        assert same is launched and launched.running and launched.pid is not None
    assert not launched.running and launched.starts == 1
    launched.start()
    with launched:
        assert launched.starts == 2
    assert not launched.running
