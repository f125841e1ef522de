"""The HTTP endpoint of a running bridge: ``/metrics``, ``/healthz`` and ``/readyz``."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST

from bridge.metrics import Metrics

log = logging.getLogger(__name__)


class HealthServer:
    """A small HTTP/1.1 server: ``/metrics``, ``/healthz`` (the process is alive) and ``/readyz``
    (``ready_check`` returns no problems). Plain asyncio: three fixed routes need no framework."""

    def __init__(
        self, metrics: Metrics, ready_check: Callable[[], list[str]], host: str, port: int
    ) -> None:
        self.metrics = metrics
        self.ready_check = ready_check
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("metrics and health on http://%s:%d/metrics", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass  # headers carry nothing these routes need
            parts = request_line.decode("latin-1").split()
            path = parts[1].split("?", 1)[0] if len(parts) >= 2 else ""
            status, content_type, body = self._route(parts[0] if parts else "", path)
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    def _route(self, method: str, path: str) -> tuple[str, str, bytes]:
        if method not in ("GET", "HEAD"):
            return "405 Method Not Allowed", "text/plain", b"method not allowed\n"
        if path == "/metrics":
            return "200 OK", CONTENT_TYPE_LATEST, self.metrics.render()
        if path == "/healthz":
            return "200 OK", "text/plain", b"ok\n"
        if path == "/readyz":
            problems = self.ready_check()
            body = json.dumps({"ready": not problems, "problems": problems}).encode() + b"\n"
            return ("503 Service Unavailable" if problems else "200 OK"), "application/json", body
        return "404 Not Found", "text/plain", b"not found\n"
