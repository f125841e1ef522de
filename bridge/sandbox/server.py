"""What the exchange simulators (OKX, Kraken, OKEx v1) share: the life of a loopback server.

Each simulator speaks its own protocol, but all three start and stop the same way: a
``websockets`` server on ``host:port`` (port 0: any free port), optionally behind a throw-away
self-signed certificate (:mod:`bridge.sandbox.tls`), background tasks cancelled on stop, and
tests waiting for a state change rather than sleeping. That mechanism lives here once, so a fix
to it (a leaked temp dir, a missed wake-up) reaches every simulator.

A subclass names itself (``label``, used in errors and logs), its default ``url()`` path, its
TLS file-name prefix (``tls_name``) and its module logger, and calls :meth:`_listen` from its
``start()``. It calls :meth:`_notify_changed` whenever something a test may wait for changes.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import ssl
import tempfile
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

from websockets.asyncio.server import Server, ServerConnection, serve

from bridge.errors import SandboxError

__all__ = ["SimulatorServer"]


class SimulatorServer:
    """Base of the exchange simulators: TLS material, listening, tasks, ``async with``, waits."""

    label: ClassVar[str]
    """How messages name the simulator, e.g. ``"OKX simulator"``."""
    default_path: ClassVar[str]
    """The path ``url()`` gives when none is asked for."""
    tls_name: ClassVar[str]
    """Prefix of the temporary certificate directory and files, e.g. ``"okx-sim"``."""
    _log: ClassVar[logging.Logger] = logging.getLogger(__name__)

    def __init__(self, *, host: str, port: int, tls: bool) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self._changed = asyncio.Event()
        self._server: Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._tls_dir: Path | None = None
        self._server_ssl: ssl.SSLContext | None = None
        self._client_ssl: ssl.SSLContext | None = None
        self._ca_file: Path | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def _listen(
        self, handler: Callable[[ServerConnection], Awaitable[None]], **options: Any
    ) -> None:
        """Start serving ``handler`` on ``host:port`` (with TLS if asked); ``options`` go to
        ``websockets.serve``. Sets ``port`` to the one bound."""
        if self._server is not None:
            raise SandboxError(f"the {self.label} is already running")
        if self.tls:
            self._prepare_tls()
        try:
            self._server = await serve(
                handler, self.host, self.port, ssl=self._server_ssl, **options
            )
        except OSError as exc:
            self._cleanup_tls()
            raise SandboxError(
                f"{self.label} cannot listen on {self.host}:{self.port}: {exc}"
            ) from exc
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        server, self._server = self._server, None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if server is not None:
            server.close()  # closes live connections with 1001 going away
            await server.wait_closed()
            self._log.info("%s stopped", self.label)
        self._cleanup_tls()

    async def start(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def url(self, path: str | None = None) -> str:
        """``ws://127.0.0.1:PORT`` + ``path`` (default: the simulator's ``default_path``;
        ``wss://`` with TLS). Valid after start()."""
        if self._server is None:
            raise SandboxError(f"the {self.label} is not running; call start() first")
        scheme = "wss" if self.tls else "ws"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}{self.default_path if path is None else path}"

    @property
    def ssl_context_for_clients(self) -> ssl.SSLContext | None:
        """A client context trusting the simulator's self-signed certificate (TLS only)."""
        return self._client_ssl

    @property
    def ca_file(self) -> str | None:
        """PEM file of the self-signed certificate, for clients configured by file (TLS only)."""
        return None if self._ca_file is None else str(self._ca_file)

    def _prepare_tls(self) -> None:
        from bridge.sandbox.tls import client_ssl_context, make_self_signed, server_ssl_context

        self._tls_dir = Path(tempfile.mkdtemp(prefix=f"{self.tls_name}-tls-"))
        hostnames = ["localhost", "127.0.0.1"]
        if self.host not in hostnames:
            hostnames.append(self.host)
        cert, key = make_self_signed(self._tls_dir, hostnames, name=self.tls_name)
        self._server_ssl = server_ssl_context(cert, key)
        self._client_ssl = client_ssl_context(cert)
        self._ca_file = cert

    def _cleanup_tls(self) -> None:
        if self._tls_dir is not None:
            shutil.rmtree(self._tls_dir, ignore_errors=True)
        self._tls_dir = self._ca_file = self._server_ssl = self._client_ssl = None

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``coro`` as a task that stop() cancels."""
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- waiting -----------------------------------------------------------------------------

    async def _wait_until(
        self, predicate: Callable[[], bool], timeout: float, describe: Callable[[], str]
    ) -> None:
        """Return once ``predicate()`` holds, re-testing after each :meth:`_notify_changed`;
        after ``timeout`` seconds raise TimeoutError naming what was awaited (``describe()``)."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    # Take the event before testing, so a change in between is not missed.
                    changed = self._changed
                    if predicate():
                        return
                    await changed.wait()
        except TimeoutError:
            raise TimeoutError(f"{self.label}: timed out waiting for {describe()}") from None

    async def _wait_for_count(
        self, count: Callable[[], int], n: int, timeout: float, what: str
    ) -> None:
        """Wait until ``count() >= n``; a timeout names ``n``, ``what`` and the count reached."""
        await self._wait_until(lambda: count() >= n, timeout, lambda: f"{n} {what}; have {count()}")

    def _notify_changed(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


def run_standalone(serve: Coroutine[Any, Any, None], *, verbose: bool) -> int:
    """The end of every simulator's ``python -m bridge.sandbox.<exchange>``: log to stderr,
    serve until Ctrl-C, report a start-up failure as an exit code instead of a traceback."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        asyncio.run(serve)
    except KeyboardInterrupt:
        pass
    except SandboxError as exc:
        print(f"error: {exc}")
        return 1
    return 0
