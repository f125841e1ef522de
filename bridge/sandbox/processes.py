"""What the sandbox's Java launchers (Kafka, the schema registry) share: finding the tools,
free ports, work directories, starting a child process that cannot outlive us, waiting for
it to be ready, ending it, and reading its log.

A server started for a test must never outlive the test run, whatever ends it:

* a normal exit or an exception: the launcher's ``stop()``, and :func:`stop_at_exit` for
  instances nobody stopped;
* SIGKILL of the test run, which no Python code survives: the child gets SIGKILL from the
  kernel when its parent dies (``PR_SET_PDEATHSIG``, :func:`spawn`), and the work directory it
  leaves behind is deleted by the next launcher (:func:`make_workdir` sweeps directories whose
  owner process is gone).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from bridge.errors import MissingToolError, SandboxError

__all__ = [
    "MIN_JAVA",
    "ProcessExited",
    "ServerProcess",
    "check_java",
    "forget_at_exit",
    "free_port",
    "free_ports",
    "java_command",
    "keep_log",
    "log_tail",
    "make_workdir",
    "parse_java_version",
    "require",
    "spawn",
    "stop_at_exit",
    "terminate",
    "wait_until_ready",
]

log = logging.getLogger(__name__)

MIN_JAVA = 17
_DEBIAN_PACKAGE = {"java": "openjdk-17-jre-headless", "mvn": "maven"}
_OWNER_FILE = "owner.pid"  # pid of the Python process that owns a work directory


# -- tools -------------------------------------------------------------------------------------


def require(program: str) -> str:
    """Absolute path of ``program`` on PATH, or :class:`MissingToolError` saying how to get it."""
    path = shutil.which(program)
    if path is None:
        raise MissingToolError(
            f"`{program}` was not found on PATH; the sandbox's Kafka broker and schema registry "
            f"need it. On Debian/Ubuntu install it with: "
            f"sudo apt-get install {_DEBIAN_PACKAGE.get(program, program)}"
        )
    return path


def parse_java_version(text: str) -> int | None:
    """Major version from ``java -version`` output ("1.8.0_292" -> 8, "17.0.15" -> 17)."""
    m = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if m is None:
        return None
    major = int(m.group(1))
    if major == 1 and m.group(2) is not None:
        major = int(m.group(2))
    return major


@functools.cache
def _java_major(java: str) -> int | None:
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxError(f"could not run `{java} -version`: {exc}") from exc
    return parse_java_version(out.stderr + out.stdout)


def check_java() -> str:
    """Path of a ``java`` that is at least :data:`MIN_JAVA`.

    Raises :class:`MissingToolError` if there is no ``java`` on PATH or it is too old.
    """
    java = require("java")
    major = _java_major(java)
    if major is not None and major < MIN_JAVA:
        raise MissingToolError(
            f"`java` at {java} is Java {major}; Kafka needs Java {MIN_JAVA} or newer. "
            f"On Debian/Ubuntu: sudo apt-get install {_DEBIAN_PACKAGE['java']} "
            f"(and put it first on PATH, e.g. with update-alternatives --config java)"
        )
    return java


def java_command(java: str, heap: str, *args: str) -> list[str]:
    """argv of a JVM with at most ``heap`` of memory that exits (rather than limps on) when
    it runs out, and needs no display."""
    return [java, f"-Xmx{heap}", "-Djava.awt.headless=true", "-XX:+ExitOnOutOfMemoryError", *args]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_ports(n: int) -> list[int]:
    """``n`` different ports that were free a moment ago."""
    ports: list[int] = []
    while len(ports) < n:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


# -- work directories --------------------------------------------------------------------------


def make_workdir(prefix: str) -> Path:
    """A fresh temporary directory named ``prefix…``, marked as this process's. Directories of
    that prefix left behind by dead processes are deleted first."""
    _sweep_stale_workdirs(prefix)
    path = Path(tempfile.mkdtemp(prefix=prefix))
    (path / _OWNER_FILE).write_text(f"{os.getpid()}\n")
    return path


def _sweep_stale_workdirs(prefix: str) -> None:
    """Delete work directories whose owner died without cleaning up (SIGKILL: atexit did not
    run; the child died with it, see :func:`spawn`)."""
    for path in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        try:
            owner = int((path / _OWNER_FILE).read_text().strip())
            os.kill(owner, 0)
        except ProcessLookupError:
            log.info("removing %s, left behind by dead process %d", path, owner)
            shutil.rmtree(path, ignore_errors=True)
        except (OSError, ValueError):  # no/garbled owner file, not ours, or owner alive
            continue


def keep_log(log_path: Path, name: str) -> Path | None:
    """Copy a log out of a work directory about to be deleted, for post-mortems; returns the
    copy (``<tmp>/<name>``), or None when there was nothing to copy."""
    with contextlib.suppress(OSError):
        if log_path.exists():
            kept = Path(tempfile.gettempdir()) / name
            shutil.copyfile(log_path, kept)
            return kept
    return None


def log_tail(log_path: Path, lines: int = 40, since: int = 0) -> str:
    """The last ``lines`` lines of a log (from byte ``since`` on), headed by its path."""
    try:
        with open(log_path, "rb") as fh:
            fh.seek(since)
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return f"(no log at {log_path})"
    tail = "\n".join(text.rstrip().splitlines()[-lines:])
    return f"--- last lines of {log_path}:\n{tail}"


# -- child processes -----------------------------------------------------------------------------


def _pdeathsig_preexec() -> Callable[[], None] | None:
    """A preexec_fn that SIGKILLs the child when this process dies (Linux only).

    Covers what atexit cannot (SIGKILL/SIGTERM of the test run). PR_SET_PDEATHSIG fires when
    the *thread* that forked exits, so it is used only from the main thread; a child started
    from a worker thread relies on atexit alone.
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # parent died before prctl took effect
            os._exit(1)

    return preexec


def spawn(cmd: Sequence[str], log_path: Path, *, cwd: Path) -> subprocess.Popen[bytes]:
    """Start ``cmd`` with its output appended to ``log_path``, in a process group of its own
    (signals reach only it and its children), killed when this process dies."""
    with open(log_path, "ab") as out:
        return subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_pdeathsig_preexec(),
        )


class ProcessExited(SandboxError):
    """A server process ended before it was ready; ``tail`` is the end of its log."""

    def __init__(self, message: str, tail: str) -> None:
        super().__init__(message)
        self.tail = tail


def wait_until_ready(
    proc: subprocess.Popen[bytes],
    ready: Callable[[], bool],
    *,
    what: str,
    timeout: float,
    log_path: Path,
    since: int = 0,
) -> float:
    """Poll ``ready()`` until it holds; return the seconds it took. Raises
    :class:`ProcessExited` if the process ends first, :class:`SandboxError` after ``timeout``
    seconds; both with the tail of its log (from byte ``since``)."""
    started = time.monotonic()
    while True:
        code = proc.poll()
        if code is not None:
            tail = log_tail(log_path, since=since)
            raise ProcessExited(f"{what} exited with code {code}\n{tail}", tail)
        if ready():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            tail = log_tail(log_path, since=since)
            raise SandboxError(f"{what} not ready after {timeout:g} s\n{tail}")
        time.sleep(0.1)


def terminate(proc: subprocess.Popen[bytes], sig: signal.Signals, timeout: float) -> None:
    """Send ``sig`` to the process group of ``proc`` and reap it; SIGKILL after ``timeout``
    seconds. Nothing to do for a process already reaped."""
    if proc.poll() is not None:  # only signal a group we have not reaped yet
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        log.warning("pid %d ignored %s for %.0f s; SIGKILL", proc.pid, sig.name, timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class ServerProcess:
    """Base of the sandbox's launchers: one server process (``_proc``) in a work directory of
    its own (``_workdir``, set from start() to stop()). ``with launcher:`` starts it unless it
    is started, and stops it."""

    _proc: subprocess.Popen[bytes] | None = None
    _workdir: Path | None = None

    def start(self, timeout: float = 60) -> Self:
        raise NotImplementedError

    def stop(self, timeout: float = 20) -> None:
        raise NotImplementedError

    @property
    def pid(self) -> int | None:
        """The server's pid while it runs."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def running(self) -> bool:
        """True while the server process is alive (not necessarily ready)."""
        return self.pid is not None

    def __enter__(self) -> Self:
        if self._workdir is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# -- clean-up at exit ----------------------------------------------------------------------------

_at_exit: dict[int, Callable[[], None]] = {}
_at_exit_lock = threading.Lock()


def stop_at_exit(owner: object, stop: Callable[[], None]) -> None:
    """Call ``stop`` when the interpreter exits, unless :func:`forget_at_exit` (``owner``)
    came first: never leave a JVM (or its work directory) behind."""
    with _at_exit_lock:
        _at_exit[id(owner)] = stop


def forget_at_exit(owner: object) -> None:
    with _at_exit_lock:
        _at_exit.pop(id(owner), None)


def _stop_leftovers() -> None:
    with _at_exit_lock:
        leftovers = list(_at_exit.values())
    for stop in leftovers:
        with contextlib.suppress(Exception):
            stop()


atexit.register(_stop_leftovers)
