"""The HTTP endpoint: /metrics, /healthz, /readyz."""

from __future__ import annotations

import asyncio

from bridge.health import HealthServer
from bridge.metrics import Metrics


async def get(port: int, path: str) -> tuple[int, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    response = (await reader.read()).decode()
    writer.close()
    status = int(response.split(" ", 2)[1])
    return status, response.split("\r\n\r\n", 1)[1]


async def test_health_readiness_and_metrics() -> None:
    metrics = Metrics()
    metrics.init_connection("okx", "okx-public", ["status"])
    problems = ["kafka: not connected"]
    server = HealthServer(metrics, lambda: problems, "127.0.0.1", 0)
    await server.start()
    try:
        assert await get(server.port, "/healthz") == (200, "ok\n")
        status, body = await get(server.port, "/readyz")
        assert status == 503 and "kafka: not connected" in body
        problems.clear()
        status, body = await get(server.port, "/readyz")
        assert status == 200 and '"ready": true' in body
        status, body = await get(server.port, "/metrics")
        assert status == 200
        assert 'bridge_connection_up{connection="okx-public",exchange="okx"} 0.0' in body
        assert 'bridge_frames_received_total{connection="okx-public",exchange="okx"} 0.0' in body
        assert (await get(server.port, "/nope"))[0] == 404
    finally:
        await server.stop()
