"""A real, single-node Apache Kafka broker for the demo and the tests -- no docker.

Why this exists
---------------
The bridge's job ends at Kafka: idempotent produce with ``acks=all``, retries while
the broker is away, back-pressure when it is slow. A fake broker cannot tell us
whether any of that works, and docker is not available everywhere the demo and the
test suite have to run (CI runners, laptops without a daemon). What *is* available
is a JDK and Maven, so this module runs the genuine broker from the Maven Central
jars:

1. :func:`ensure_classpath` resolves ``kafka_2.13`` (+ ``kafka-tools`` for the
   benchmarks, + a log4j binding) with ``mvn dependency:copy-dependencies`` once per
   Kafka version and caches the jars in ``~/.cache/exchange-bridge/kafka-<v>/lib``.
2. :class:`SandboxKafka` writes a KRaft ``server.properties`` (one process that is
   both broker and controller, loopback listeners on two free ports, data in a
   fresh temp dir), formats the storage, starts the JVM in its own process group,
   and waits until the broker is registered and unfenced, i.e. ready for produce.

It can also stop and restart the broker on the same port with the same data, or
SIGKILL it, so tests can simulate a Kafka outage or crash.

Command line::

    python -m bridge.sandbox.kafka --fetch   # only resolve and cache the jars
    python -m bridge.sandbox.kafka --run     # run a broker until Ctrl-C

Needs ``java`` (17 or newer) and ``mvn`` (first run only) on PATH; on Debian:
``apt-get install openjdk-17-jre-headless maven``.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import ctypes
import errno
import fcntl
import functools
import hashlib
import importlib.resources
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from bridge.errors import MissingToolError, SandboxError

__all__ = [
    "DEFAULT_VERSION",
    "MIN_JAVA",
    "SandboxKafka",
    "cache_root",
    "check_java",
    "ensure_classpath",
    "free_port",
    "main",
]

log = logging.getLogger(__name__)

DEFAULT_VERSION = "4.1.1"
MIN_JAVA = 17

_POM = "kafka-pom.xml"
_LOG4J = "log4j2.properties"
_STAMP = ".pom-sha256"  # in lib/: hash of the pom the jars were resolved with
_READY_MARKER = "Kafka Server started"  # KafkaRaftServer's last startup line
_MAIN_CLASS = "kafka.Kafka"
_WORKDIR_PREFIX = "bridge-kafka-"
_OWNER_FILE = "owner.pid"  # pid of the Python process that owns a temp dir
_DEBIAN_PACKAGE = {"java": "openjdk-17-jre-headless", "mvn": "maven"}


# --------------------------------------------------------------------------- tools


def _require(program: str) -> str:
    """Absolute path of ``program`` on PATH, or :class:`MissingToolError`."""
    path = shutil.which(program)
    if path is None:
        raise MissingToolError(
            f"`{program}` was not found on PATH; the sandbox Kafka broker needs it. "
            f"On Debian/Ubuntu install it with: "
            f"sudo apt-get install {_DEBIAN_PACKAGE.get(program, program)}"
        )
    return path


def _parse_java_version(text: str) -> int | None:
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
    return _parse_java_version(out.stderr + out.stdout)


def check_java() -> str:
    """Path of a ``java`` that is at least :data:`MIN_JAVA`.

    Raises :class:`MissingToolError` if there is no ``java`` on PATH or it is too old.
    """
    java = _require("java")
    major = _java_major(java)
    if major is not None and major < MIN_JAVA:
        raise MissingToolError(
            f"`java` at {java} is Java {major}; Kafka needs Java {MIN_JAVA} or newer. "
            f"On Debian/Ubuntu: sudo apt-get install {_DEBIAN_PACKAGE['java']} "
            f"(and put it first on PATH, e.g. with update-alternatives --config java)"
        )
    return java


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------- jars


def _resource_text(name: str) -> str:
    return importlib.resources.files("bridge.sandbox").joinpath(name).read_text("utf-8")


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/exchange-bridge`` (default ``~/.cache/exchange-bridge``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "exchange-bridge"


def _jars(lib: Path) -> list[Path]:
    return sorted(lib.glob("*.jar"))


def _cache_valid(lib: Path, version: str, pom_hash: str) -> bool:
    try:
        stamp = (lib / _STAMP).read_text().strip()
    except OSError:
        return False
    return stamp == pom_hash and (lib / f"kafka_2.13-{version}.jar").is_file()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _resolve_jars(version: str, pom_text: str, dest: Path) -> None:
    """Run mvn to copy the broker's jars into ``dest`` (which must not exist yet)."""
    mvn = _require("mvn")
    work = dest.parent
    pom = work / "pom.xml"
    pom.write_text(pom_text, "utf-8")
    cmd = [
        mvn, "-q", "-B", "-f", str(pom),
        f"-Dkafka.version={version}",
        "dependency:copy-dependencies",
        f"-DoutputDirectory={dest}",
    ]  # fmt: skip
    try:
        proc = subprocess.run(
            cmd, cwd=work, capture_output=True, text=True, timeout=900, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise SandboxError(f"mvn did not resolve Kafka {version} within 15 min") from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
        raise SandboxError(
            f"mvn could not resolve Kafka {version} (exit {proc.returncode}); "
            f"is Maven Central reachable?\n$ {' '.join(cmd)}\n{tail}"
        )
    if not (dest / f"kafka_2.13-{version}.jar").is_file():
        raise SandboxError(f"mvn succeeded but kafka_2.13-{version}.jar is not in {dest}")


def ensure_classpath(version: str = DEFAULT_VERSION) -> list[Path]:
    """The broker's jars for Kafka ``version``, resolving them with mvn on first use.

    Jars live in ``cache_root()/kafka-<version>/lib``. They are downloaded into a temp
    dir next to it and renamed into place, so an interrupted download never leaves a
    half-filled cache; a file lock keeps parallel callers from downloading twice. The
    cache is tied to the content of ``kafka-pom.xml``: edit the pom and it is
    resolved again.
    """
    if not re.fullmatch(r"[0-9A-Za-z.\-]+", version):
        raise SandboxError(f"not a Kafka version: {version!r}")
    pom_text = _resource_text(_POM)
    pom_hash = hashlib.sha256(pom_text.encode()).hexdigest()
    home = cache_root() / f"kafka-{version}"
    lib = home / "lib"
    if _cache_valid(lib, version, pom_hash):
        return _jars(lib)

    with _file_lock(cache_root() / f"kafka-{version}.lock"):
        if _cache_valid(lib, version, pom_hash):  # another process got there first
            return _jars(lib)
        home.mkdir(parents=True, exist_ok=True)
        log.info("resolving Kafka %s jars with mvn (first run only)…", version)
        started = time.monotonic()
        tmp = Path(tempfile.mkdtemp(prefix=".resolve-", dir=home))
        try:
            staged = tmp / "lib"
            _resolve_jars(version, pom_text, staged)
            (staged / _STAMP).write_text(pom_hash + "\n")
            if lib.exists():  # stale: resolved with another pom, or damaged
                old = tmp / "old-lib"
                os.rename(lib, old)
            try:
                os.rename(staged, lib)
            except OSError as exc:  # lost a race against a process without the lock
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY) or not _cache_valid(
                    lib, version, pom_hash
                ):
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        jars = _jars(lib)
        log.info(
            "cached %d jars for Kafka %s in %s (%.1f s)",
            len(jars), version, lib, time.monotonic() - started,
        )  # fmt: skip
        return jars


def _classpath_arg(jars: list[Path]) -> str:
    """``-cp`` value: ``lib/*`` when the jars are exactly one dir's (short ``ps`` lines)."""
    dirs = {p.parent for p in jars}
    if len(dirs) == 1:
        (lib,) = dirs
        if set(_jars(lib)) == set(jars):
            return str(lib / "*")
    return os.pathsep.join(str(p) for p in jars)


# ---------------------------------------------------------------- readiness probe


def _read_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by broker")
        buf += chunk
    return bytes(buf)


def _metadata_brokers(port: int, timeout: float = 2.0) -> list[tuple[int, str, int]]:
    """Live brokers according to a Metadata v4 request to 127.0.0.1:``port``.

    Raw protocol, so the probe needs no event loop and no client library. A broker
    lists itself only once it is registered and unfenced, i.e. can take produce.
    """
    client_id = b"bridge-sandbox-probe"
    correlation_id = 1
    body = struct.pack(">hhih", 3, 4, correlation_id, len(client_id)) + client_id
    body += struct.pack(">i?", 0, False)  # topics: empty array; allow_auto_topic_creation
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(body)) + body)
        (size,) = struct.unpack(">i", _read_exact(sock, 4))
        data = _read_exact(sock, size)
    corr, _throttle, n = struct.unpack_from(">iii", data, 0)
    if corr != correlation_id:
        raise ConnectionError(f"unexpected correlation id {corr}")
    pos = 12
    brokers = []
    for _ in range(n):
        node_id, hlen = struct.unpack_from(">ih", data, pos)
        pos += 6
        host = data[pos : pos + hlen].decode()
        pos += hlen
        (bport, rlen) = struct.unpack_from(">ih", data, pos)
        pos += 6 + max(rlen, 0)
        brokers.append((node_id, host, bport))
    return brokers


# ------------------------------------------------------------ child process setup

_live: set[SandboxKafka] = set()
_live_lock = threading.Lock()


def _kill_leftovers() -> None:
    """atexit: never leave a JVM (or its temp dir) behind."""
    with _live_lock:
        instances = list(_live)
    for k in instances:
        with contextlib.suppress(Exception):
            k._terminate(signal.SIGKILL, timeout=5)
            k._cleanup()


atexit.register(_kill_leftovers)


def _sweep_stale_workdirs() -> None:
    """Delete temp dirs of brokers whose Python process died without cleaning up
    (SIGKILL: atexit did not run; the JVM itself died with it, see below)."""
    for path in Path(tempfile.gettempdir()).glob(f"{_WORKDIR_PREFIX}*"):
        try:
            owner = int((path / _OWNER_FILE).read_text().strip())
            os.kill(owner, 0)
        except ProcessLookupError:
            log.info("removing %s, left behind by dead process %d", path, owner)
            shutil.rmtree(path, ignore_errors=True)
        except (OSError, ValueError):  # no/garbled owner file, not ours, or owner alive
            continue


def _pdeathsig_preexec() -> Callable[[], None] | None:
    """A preexec_fn that SIGKILLs the JVM when this process dies (Linux only).

    Covers what atexit cannot (SIGKILL/SIGTERM of the test run). PR_SET_PDEATHSIG
    fires when the *thread* that forked exits, so it is used only from the main
    thread; a broker started from a worker thread relies on atexit alone.
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


# ------------------------------------------------------------------------- broker


class SandboxKafka:
    """A single-node KRaft Kafka broker running as a local JVM subprocess.

    ::

        with SandboxKafka() as kafka:
            producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)

    ``start()`` creates a fresh temp dir (config, data, ``broker.log``); ``stop()``
    ends the JVM and deletes the dir. In between, ``stop_broker()`` /
    ``start_broker()`` (or ``restart_on_same_port()``) take the broker away and
    bring it back on the same ports with the same data, and ``kill()`` SIGKILLs it.
    All methods are blocking; from async code wrap them in ``asyncio.to_thread``.
    """

    def __init__(
        self,
        version: str = DEFAULT_VERSION,
        heap: str = "512m",
        *,
        scram_users: Mapping[str, str] | None = None,
    ) -> None:
        """``scram_users`` (name -> password): also open a SASL_SSL listener that takes those
        SCRAM-SHA-256/512 users, with a certificate made for it (see :attr:`ca_file`)."""
        self.version = version
        self.heap = heap
        self.scram_users = dict(scram_users or {})
        self._sasl_port: int | None = None
        self._java: str | None = None
        self._classpath: list[Path] = []
        self._workdir: Path | None = None
        self._port: int | None = None
        self._controller_port: int | None = None
        self._cluster_id: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # -------------------------------------------------------------- properties

    def _need(self, value: object, what: str) -> None:
        if value is None:
            raise SandboxError(f"sandbox Kafka has no {what}: call start() first")

    @property
    def bootstrap_servers(self) -> str:
        """``"127.0.0.1:PORT"``; stays the same across stop_broker()/start_broker()."""
        return f"127.0.0.1:{self.port}"

    @property
    def sasl_ssl_bootstrap_servers(self) -> str:
        """``"localhost:PORT"`` of the SASL_SSL listener (the certificate names localhost)."""
        self._need(self._sasl_port, "SASL_SSL listener (pass scram_users)")
        return f"localhost:{self._sasl_port}"

    @property
    def ca_file(self) -> Path:
        """The PEM certificate a client must trust to reach the SASL_SSL listener."""
        return self.workdir / "tls" / "kafka-cert.pem"

    @property
    def port(self) -> int:
        self._need(self._port, "port")
        assert self._port is not None
        return self._port

    @property
    def controller_port(self) -> int:
        self._need(self._controller_port, "controller port")
        assert self._controller_port is not None
        return self._controller_port

    @property
    def workdir(self) -> Path:
        """The temp dir holding server.properties, data/ and broker.log."""
        self._need(self._workdir, "temp dir")
        assert self._workdir is not None
        return self._workdir

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def log_path(self) -> Path:
        """The broker's log (log4j output plus the JVM's stdout/stderr)."""
        return self.workdir / "broker.log"

    @property
    def cluster_id(self) -> str:
        self._need(self._cluster_id, "cluster id")
        assert self._cluster_id is not None
        return self._cluster_id

    @property
    def classpath(self) -> list[Path]:
        """The jars the broker runs with (also holds kafka-tools)."""
        self._need(self._classpath or None, "classpath")
        return list(self._classpath)

    @property
    def pid(self) -> int | None:
        """The broker JVM's pid while it runs."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def running(self) -> bool:
        """True while the broker JVM is alive (not necessarily ready)."""
        return self._proc is not None and self._proc.poll() is None

    def __repr__(self) -> str:
        where = f"127.0.0.1:{self._port}" if self._port else "not started"
        state = "running" if self.running else "stopped"
        return f"<SandboxKafka {self.version} {where} {state}>"

    # --------------------------------------------------------------- lifecycle

    def start(self, timeout: float = 60) -> Self:
        """Resolve jars, create a fresh temp dir, format storage and boot the broker.

        Returns once the broker takes produce requests. ``timeout`` covers the
        broker's boot, not the one-time jar download. Raises :class:`SandboxError`
        (with the tail of the broker log) if the JVM dies or is not ready in time.
        """
        if self._workdir is not None:
            raise SandboxError(f"{self!r} is already started; stop() it first")
        self._java = check_java()
        self._classpath = ensure_classpath(self.version)
        _sweep_stale_workdirs()
        self._workdir = Path(tempfile.mkdtemp(prefix=_WORKDIR_PREFIX))
        (self._workdir / _OWNER_FILE).write_text(f"{os.getpid()}\n")
        with _live_lock:
            _live.add(self)
        try:
            for attempt in range(1, 4):
                self._port, self._controller_port = self._two_free_ports()
                if self.scram_users:
                    self._sasl_port = free_port()
                    self._make_keystore()
                self._cluster_id = (
                    base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()
                )
                self._write_config()
                self._format_storage()
                try:
                    self._launch_and_wait(timeout)
                    return self
                except _PortTaken:
                    # Someone grabbed a port between free_port() and the JVM's bind.
                    log.warning("Kafka port clash (attempt %d), retrying on new ports", attempt)
                    shutil.rmtree(self.data_dir, ignore_errors=True)
            raise SandboxError(f"Kafka could not bind free ports\n{self._log_tail()}")
        except BaseException as exc:
            self._terminate(signal.SIGKILL, timeout=5)
            kept = self._keep_log_on_failure()
            if kept is not None and isinstance(exc, SandboxError):
                exc.add_note(f"(the temp dir is deleted; the full broker log is kept in {kept})")
            self._cleanup()
            raise

    def stop(self, timeout: float = 20) -> None:
        """End the broker (SIGTERM, SIGKILL after ``timeout`` s) and delete its temp dir.

        Idempotent. A stopped instance can be start()ed again (fresh ports, no data).
        """
        if self.running:
            self._terminate(signal.SIGTERM, timeout)
            log.info("Kafka on 127.0.0.1:%s stopped", self._port)
        self._cleanup()

    def stop_broker(self, timeout: float = 20) -> None:
        """Stop the JVM gracefully but keep ports, config and data for start_broker()."""
        self._need(self._workdir, "temp dir")
        self._terminate(signal.SIGTERM, timeout)
        log.info("Kafka on 127.0.0.1:%s stopped (data kept)", self._port)

    def kill(self) -> None:
        """SIGKILL the broker (a crash); data is kept, start_broker() recovers it."""
        self._need(self._workdir, "temp dir")
        self._terminate(signal.SIGKILL, timeout=10)
        log.info("Kafka on 127.0.0.1:%s killed", self._port)

    def start_broker(self, timeout: float = 60) -> None:
        """Boot the broker again on the same ports with the same data; wait until ready."""
        self._need(self._workdir, "temp dir")
        if self.running:
            raise SandboxError(f"{self!r} is already running")
        try:
            self._launch_and_wait(timeout)
        except _PortTaken as exc:
            raise SandboxError(
                f"port {self._port} or {self._controller_port} was taken while the "
                f"broker was down\n{self._log_tail()}"
            ) from exc

    def restart_on_same_port(self, downtime: float = 0.0, timeout: float = 60) -> None:
        """stop_broker(), stay down ``downtime`` seconds, start_broker()."""
        self.stop_broker()
        if downtime > 0:
            time.sleep(downtime)
        self.start_broker(timeout)

    def tool_command(self, main_class: str, *args: str, heap: str = "256m") -> list[str]:
        """argv running a Java tool from the broker's classpath, e.g.
        ``tool_command("org.apache.kafka.tools.ProducerPerformance", "--topic", "t", ...)``.
        """
        return [
            self._java or check_java(),
            f"-Xmx{heap}",
            "-cp",
            _classpath_arg(self._classpath or ensure_classpath(self.version)),
            f"-Dlog4j2.configurationFile={self._log4j_path()}",
            "-Dbridge.kafka.loglevel=warn",  # keep the tool's own report readable
            main_class,
            *args,
        ]

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

    # ---------------------------------------------------------------- internals

    @staticmethod
    def _two_free_ports() -> tuple[int, int]:
        a = free_port()
        b = free_port()
        while b == a:
            b = free_port()
        return a, b

    def _log4j_path(self) -> Path:
        """log4j2 config, copied out of the package (works from zips/wheels too)."""
        if self._workdir is not None:
            path = self._workdir / _LOG4J
        else:
            path = cache_root() / _LOG4J
            path.parent.mkdir(parents=True, exist_ok=True)
        text = _resource_text(_LOG4J)
        if not path.exists() or path.read_text("utf-8") != text:
            path.write_text(text, "utf-8")
        return path

    def _write_config(self) -> None:
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self._controller_port}",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self._port},CONTROLLER://127.0.0.1:{self._controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self._port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "auto.create.topics.enable": "true",
            "num.partitions": "1",
            # Single node: every internal topic with one replica ...
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # ... and one partition, so the first consumer group / transaction does not
            # wait for 50 partitions to be created.
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.num.partitions": "1",
            "group.initial.rebalance.delay.ms": "0",
            # After kill() the restarted broker cannot register until the controller
            # has expired the dead incarnation's session (default 9 s); keep that short.
            "broker.session.timeout.ms": "4000",
            "broker.heartbeat.interval.ms": "1000",
        }
        if self.scram_users:
            props.update(self._sasl_ssl_props())
        text = "".join(f"{k}={v}\n" for k, v in props.items())
        (self.workdir / "server.properties").write_text(
            "# written by bridge.sandbox.kafka\n" + text, "utf-8"
        )

    def _make_keystore(self) -> None:
        from bridge.sandbox.tls import make_self_signed

        cert, key = make_self_signed(self.workdir / "tls", ("localhost", "127.0.0.1"), name="kafka")
        # Kafka's PEM keystore: the unencrypted PKCS#8 key followed by the certificate chain
        keystore = self.workdir / "tls" / "kafka-keystore.pem"
        keystore.write_bytes(key.read_bytes() + cert.read_bytes())
        keystore.chmod(0o600)

    def _sasl_ssl_props(self) -> dict[str, str]:
        """A SASL_SSL listener beside PLAINTEXT (which stays for the readiness check and
        inter-broker traffic), taking SCRAM users created at format time."""
        listener = f"SASL_SSL://localhost:{self._sasl_port}"
        jaas = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        return {
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self._port},CONTROLLER://127.0.0.1:{self._controller_port},"
                + listener
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self._port},{listener}",
            "listener.security.protocol.map": (
                "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL"
            ),
            "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512",
            "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config": jaas,
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": jaas,
            "listener.name.sasl_ssl.ssl.keystore.type": "PEM",
            "listener.name.sasl_ssl.ssl.keystore.location": str(
                self.workdir / "tls" / "kafka-keystore.pem"
            ),
        }

    def _jvm(self, main_class: str, *args: str, heap: str) -> list[str]:
        assert self._java is not None
        return [
            self._java,
            f"-Xmx{heap}",
            "-Djava.awt.headless=true",
            "-XX:+ExitOnOutOfMemoryError",
            f"-Dlog4j2.configurationFile={self._log4j_path()}",
            "-cp",
            _classpath_arg(self._classpath),
            main_class,
            *args,
        ]

    def _format_storage(self) -> None:
        cmd = self._jvm(
            "kafka.tools.StorageTool",
            "format",
            # One argument, not two: a base64url id may start with "-", which the tool's
            # argument parser would take for an option.
            f"--cluster-id={self.cluster_id}",
            *(
                f"--add-scram=SCRAM-SHA-{bits}=[name={name},password={password}]"
                for name, password in self.scram_users.items()
                for bits in (256, 512)
            ),
            "-c",
            str(self.workdir / "server.properties"),
            heap="256m",
        )
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        except subprocess.TimeoutExpired as exc:
            raise SandboxError("kafka-storage format did not finish within 120 s") from exc
        with open(self.log_path, "a", encoding="utf-8") as fh:
            fh.write(f"--- kafka-storage format (exit {proc.returncode})\n")
            fh.write(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            raise SandboxError(
                f"formatting Kafka storage failed (exit {proc.returncode}):\n"
                f"{(proc.stdout + proc.stderr).strip()[-3000:]}"
            )

    def _launch_and_wait(self, timeout: float) -> None:
        started = time.monotonic()
        with open(self.log_path, "ab") as fh:
            fh.write(f"--- starting kafka.Kafka on 127.0.0.1:{self._port}\n".encode())
            fh.flush()
            offset = fh.tell()
            self._proc = subprocess.Popen(
                self._jvm(_MAIN_CLASS, str(self.workdir / "server.properties"), heap=self.heap),
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                start_new_session=True,  # own process group: signals reach only the JVM
                preexec_fn=_pdeathsig_preexec(),
            )
        deadline = started + timeout
        proc = self._proc
        while True:
            code = proc.poll()
            if code is not None:
                tail = self._log_tail(since=offset)
                if "BindException" in tail or "Address already in use" in tail:
                    raise _PortTaken
                raise SandboxError(f"Kafka {self.version} exited with code {code}\n{tail}")
            if self._ready(offset):
                break
            if time.monotonic() > deadline:
                tail = self._log_tail(since=offset)
                self._terminate(signal.SIGKILL, timeout=5)
                raise SandboxError(
                    f"Kafka {self.version} not ready on {self.bootstrap_servers} "
                    f"after {timeout:g} s\n{tail}"
                )
            time.sleep(0.1)
        log.info(
            "Kafka %s ready on %s in %.1f s",
            self.version, self.bootstrap_servers, time.monotonic() - started,
        )  # fmt: skip

    def _ready(self, offset: int) -> bool:
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(offset)
                if _READY_MARKER.encode() not in fh.read():
                    return False
            brokers = _metadata_brokers(self.port, timeout=2.0)
        except (OSError, struct.error, UnicodeDecodeError):
            return False
        return any(p == self._port for _node, _host, p in brokers)

    def _terminate(self, sig: signal.Signals, timeout: float) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:  # only signal a group we have not reaped yet
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning(
                    "Kafka pid %d ignored %s for %.0f s; SIGKILL", proc.pid, sig.name, timeout
                )
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self._proc = None

    def _log_tail(self, lines: int = 40, since: int = 0) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(since)
                text = fh.read().decode("utf-8", "replace")
        except (OSError, SandboxError):
            return "(no broker log)"
        tail = "\n".join(text.rstrip().splitlines()[-lines:])
        return f"--- last lines of {self.log_path}:\n{tail}"

    def _keep_log_on_failure(self) -> Path | None:
        """Copy broker.log out of the temp dir (which is deleted) for post-mortems."""
        with contextlib.suppress(OSError, SandboxError):
            if self.log_path.exists():
                kept = Path(tempfile.gettempdir()) / f"{self.workdir.name}-broker.log"
                shutil.copyfile(self.log_path, kept)
                log.error("Kafka failed to start; its log is kept in %s", kept)
                return kept
        return None

    def _cleanup(self) -> None:
        self._terminate(signal.SIGKILL, timeout=5)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
        self._workdir = None
        self._port = self._controller_port = None
        self._cluster_id = None
        with _live_lock:
            _live.discard(self)


class _PortTaken(Exception):
    """The broker died because a listener port was already bound."""


# ---------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bridge.sandbox.kafka",
        description="Sandbox Kafka broker (single-node KRaft, loopback only, no docker).",
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--fetch", action="store_true", help="resolve and cache the jars, then exit")
    mode.add_argument("--run", action="store_true", help="run a broker until Ctrl-C")
    parser.add_argument("--version", default=DEFAULT_VERSION, help="Kafka version (%(default)s)")
    parser.add_argument("--heap", default="512m", help="broker max heap (%(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        if args.fetch:
            check_java()
            jars = ensure_classpath(args.version)
            print(f"Kafka {args.version}: {len(jars)} jars in {jars[0].parent}")
            return 0
        kafka = SandboxKafka(version=args.version, heap=args.heap)
        # SIGTERM (and SIGINT, even if inherited as ignored, as in `make kafka &`)
        # take the KeyboardInterrupt path, so the broker is stopped cleanly.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            kafka.start()
            print(f"bootstrap.servers={kafka.bootstrap_servers}", flush=True)
            print(f"broker log: {kafka.log_path}  (Ctrl-C to stop)", flush=True)
            while kafka.running:
                time.sleep(0.5)
            print(f"Kafka exited on its own\n{kafka._log_tail()}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 0
        finally:
            kafka.stop()
    except SandboxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
