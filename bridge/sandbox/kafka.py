"""A real, single-node Apache Kafka broker for the demo and the tests -- no docker.

Why this exists
---------------
The bridge's job ends at Kafka: idempotent produce with ``acks=all``, retries while
the broker is away, back-pressure when it is slow. A fake broker cannot tell us
whether any of that works, and docker is not available everywhere the demo and the
test suite have to run (CI runners, laptops without a daemon). What *is* available
is a JDK and Maven, so this module runs the genuine broker from the Maven Central
jars (:mod:`bridge.sandbox.kafka_jars` resolves and caches them):
:class:`SandboxKafka` writes a KRaft ``server.properties`` (one process that is
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
import base64
import logging
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Self

from bridge.errors import SandboxError
from bridge.sandbox.kafka_jars import DEFAULT_VERSION, classpath_arg, ensure_classpath, log4j_config
from bridge.sandbox.processes import (
    ProcessExited,
    ServerProcess,
    check_java,
    forget_at_exit,
    free_port,
    free_ports,
    java_command,
    keep_log,
    log_tail,
    make_workdir,
    spawn,
    stop_at_exit,
    terminate,
    wait_until_ready,
)
from bridge.sandbox.tls import make_self_signed

__all__ = ["SandboxKafka", "main"]

log = logging.getLogger(__name__)

_READY_MARKER = "Kafka Server started"  # KafkaRaftServer's last startup line
_MAIN_CLASS = "kafka.Kafka"
_WORKDIR_PREFIX = "bridge-kafka-"


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


class SandboxKafka(ServerProcess):
    """A single-node KRaft Kafka broker running as a local JVM subprocess.

    ::

        with SandboxKafka() as kafka:
            producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)

    ``start()`` creates a fresh temp dir (config, data, ``broker.log``); ``stop()``
    ends the JVM and deletes the dir. In between, ``stop_broker()`` /
    ``start_broker()`` take the broker away and bring it back on the same ports
    with the same data, and ``kill()`` SIGKILLs it.
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
        self._workdir = make_workdir(_WORKDIR_PREFIX)
        stop_at_exit(self, self._kill_and_clean_up)
        try:
            for attempt in range(1, 4):
                self._port, self._controller_port = free_ports(2)
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
            raise SandboxError(f"Kafka could not bind free ports\n{log_tail(self.log_path)}")
        except BaseException as exc:
            self._terminate(signal.SIGKILL, timeout=5)
            kept = keep_log(self.log_path, f"{self.workdir.name}-broker.log")
            if kept is not None:
                log.error("Kafka failed to start; its log is kept in %s", kept)
                if isinstance(exc, SandboxError):
                    exc.add_note(
                        f"(the temp dir is deleted; the full broker log is kept in {kept})"
                    )
            self._kill_and_clean_up()
            raise

    def stop(self, timeout: float = 20) -> None:
        """End the broker (SIGTERM, SIGKILL after ``timeout`` s) and delete its temp dir.

        Idempotent. A stopped instance can be start()ed again (fresh ports, no data).
        """
        if self.running:
            self._terminate(signal.SIGTERM, timeout)
            log.info("Kafka on 127.0.0.1:%s stopped", self._port)
        self._kill_and_clean_up()

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
                f"broker was down\n{log_tail(self.log_path)}"
            ) from exc

    def tool_command(self, main_class: str, *args: str, heap: str = "256m") -> list[str]:
        """argv running a Java tool from the broker's classpath, e.g.
        ``tool_command("org.apache.kafka.tools.ProducerPerformance", "--topic", "t", ...)``.
        """
        return java_command(
            self._java or check_java(),
            heap,
            "-cp",
            classpath_arg(self._classpath or ensure_classpath(self.version)),
            f"-Dlog4j2.configurationFile={log4j_config(self._workdir)}",
            "-Dbridge.kafka.loglevel=warn",  # keep the tool's own report readable
            main_class,
            *args,
        )

    # ---------------------------------------------------------------- internals

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
        return java_command(
            self._java,
            heap,
            f"-Dlog4j2.configurationFile={log4j_config(self._workdir)}",
            "-cp",
            classpath_arg(self._classpath),
            main_class,
            *args,
        )

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
        with open(self.log_path, "ab") as fh:
            fh.write(f"--- starting kafka.Kafka on 127.0.0.1:{self._port}\n".encode())
        offset = self.log_path.stat().st_size
        cmd = self._jvm(_MAIN_CLASS, str(self.workdir / "server.properties"), heap=self.heap)
        self._proc = spawn(cmd, self.log_path, cwd=self.workdir)
        try:
            seconds = wait_until_ready(
                self._proc,
                lambda: self._ready(offset),
                what=f"Kafka {self.version} on {self.bootstrap_servers}",
                timeout=timeout,
                log_path=self.log_path,
                since=offset,
            )
        except ProcessExited as exc:
            if "BindException" in exc.tail or "Address already in use" in exc.tail:
                raise _PortTaken from exc
            raise
        except SandboxError:
            self._terminate(signal.SIGKILL, timeout=5)
            raise
        log.info("Kafka %s ready on %s in %.1f s", self.version, self.bootstrap_servers, seconds)

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
        if self._proc is not None:
            terminate(self._proc, sig, timeout)
        self._proc = None

    def _kill_and_clean_up(self) -> None:
        self._terminate(signal.SIGKILL, timeout=5)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
        self._workdir = None
        self._port = self._controller_port = None
        self._cluster_id = None
        forget_at_exit(self)


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
            print(f"Kafka exited on its own\n{log_tail(kafka.log_path)}", file=sys.stderr)
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
