"""RegistryClient against a scripted HTTP(S) server on loopback: the REST calls, basic auth,
TLS, retries, caching, secrets. The client against a real registry:
tests/integration/test_registry.py."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bridge.avro.registry import (
    Compatibility,
    RegistryClient,
    SubjectVersion,
    subject_name,
)
from bridge.avro.store import SchemaStore, schema_text
from bridge.errors import IncompatibleSchemaError, RegistryError
from bridge.sandbox.processes import free_port
from bridge.sandbox.tls import make_self_signed, server_ssl_context

STORE = SchemaStore()
STATUS = STORE.latest("okx/status")
SECRET = "pa55-w0rd-never-shown"

Answer = tuple[int, Any]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeRegistry:
    """Answers from ``routes`` ((method, path) → answer, or a callable of the body)."""

    routes: dict[tuple[str, str], Answer | Callable[[Any], Answer]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)


def serve(fake: FakeRegistry, port: int = 0, tls: tuple[Path, Path] | None = None) -> Any:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            fake.seen.append(Seen(self.command, self.path, dict(self.headers), body))
            route = fake.routes.get((self.command, self.path), (404, {"error_code": 40401}))
            status, answer = route(body) if callable(route) else route
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    if tls is not None:
        server.socket = server_ssl_context(*tls).wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    return server


@pytest.fixture
def fake() -> Iterator[tuple[FakeRegistry, str]]:
    registry = FakeRegistry()
    server = serve(registry)
    try:
        yield registry, f"http://127.0.0.1:{server.server_address[1]}/apis/ccompat/v7"
    finally:
        server.shutdown()
        server.server_close()


# --- subjects -------------------------------------------------------------------------------------


def test_subject_name_strategies() -> None:
    name = "exchange_bridge.okx.StatusRecord"
    assert subject_name("topic", "p.okx.status", name) == "p.okx.status-value"
    assert subject_name("record", "p.okx.status", name) == name
    assert subject_name("topic_record", "p.okx.status", name) == f"p.okx.status-{name}"


# --- REST calls -----------------------------------------------------------------------------------


async def test_register_sends_the_schema_with_basic_auth_and_caches_the_id(
    fake: tuple[FakeRegistry, str],
) -> None:
    registry, url = fake
    base = "/apis/ccompat/v7"
    registry.routes[("POST", f"{base}/subjects/p.okx.status-value/versions")] = (200, {"id": 7})
    registry.routes[("GET", f"{base}/schemas/ids/7")] = (200, {"schema": schema_text(STATUS)})
    client = RegistryClient(url, username=SecretStr("bridge"), password=SecretStr(SECRET))
    assert await client.register("p.okx.status-value", schema_text(STATUS)) == 7
    assert await client.register("p.okx.status-value", schema_text(STATUS)) == 7
    assert await client.schema_by_id(7) == schema_text(STATUS)  # known from the register
    assert len(registry.seen) == 1
    request = registry.seen[0]
    assert request.body == {"schema": schema_text(STATUS)}
    assert request.headers["Content-Type"] == "application/vnd.schemaregistry.v1+json"
    expected = base64.b64encode(f"bridge:{SECRET}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert SECRET not in repr(client) and "bridge" not in repr(client).replace("RegistryC", "")


async def test_lookup_latest_and_schema_by_id(fake: tuple[FakeRegistry, str]) -> None:
    registry, url = fake
    base = "/apis/ccompat/v7/subjects"
    version = {"subject": "s", "id": 3, "version": 2, "schema": '"string"'}
    registry.routes[("POST", f"{base}/s")] = (200, version)
    registry.routes[("GET", f"{base}/s/versions/latest")] = (200, version)
    registry.routes[("GET", "/apis/ccompat/v7/schemas/ids/3")] = (200, {"schema": '"string"'})
    client = RegistryClient(url)
    assert await client.lookup("s", '"string"') == SubjectVersion("s", 3, 2, '"string"')
    assert await client.latest("s") == SubjectVersion("s", 3, 2, '"string"')
    assert await client.lookup("other", '"string"') is None  # 404: not there
    assert await client.latest("other") is None
    assert await client.schema_by_id(3) == '"string"'
    assert await client.schema_by_id(3) == '"string"'
    assert sum(s.path.endswith("/ids/3") for s in registry.seen) == 1  # cached


async def test_subjects_with_dots_and_slashes_are_quoted(fake: tuple[FakeRegistry, str]) -> None:
    registry, url = fake
    await RegistryClient(url).latest("a/b c")
    assert registry.seen[0].path == "/apis/ccompat/v7/subjects/a%2Fb%20c/versions/latest"


async def test_compatibility_answers_of_confluent_and_apicurio(
    fake: tuple[FakeRegistry, str],
) -> None:
    registry, url = fake
    path = "/apis/ccompat/v7/compatibility/subjects/{}/versions/latest?verbose=true"
    registry.routes[("POST", path.format("c"))] = (
        200,
        {"is_compatible": False, "messages": ["reader type: INT not compatible"]},
    )
    registry.routes[("POST", path.format("a"))] = (
        200,
        {"is_compatible": False, "reason": "Incompatible artifact"},
    )
    registry.routes[("POST", path.format("ok"))] = (200, {"is_compatible": True})
    client = RegistryClient(url)
    assert await client.check_compatibility("c", "x") == Compatibility(
        False, ("reader type: INT not compatible",)
    )
    assert await client.check_compatibility("a", "x") == Compatibility(
        False, ("Incompatible artifact",)
    )
    assert await client.check_compatibility("ok", "x") == Compatibility(True)
    assert (await client.check_compatibility("new", "x")).compatible  # no version yet


async def test_a_409_on_register_is_an_incompatible_schema(fake: tuple[FakeRegistry, str]) -> None:
    registry, url = fake
    registry.routes[("POST", "/apis/ccompat/v7/subjects/s/versions")] = (
        409,
        {"error_code": 409, "message": "Schema being registered is incompatible"},
    )
    with pytest.raises(IncompatibleSchemaError, match="refused a new version of subject 's'"):
        await RegistryClient(url).register("s", '"string"')


async def test_refused_credentials_are_not_retried_and_never_echoed(
    fake: tuple[FakeRegistry, str],
) -> None:
    registry, url = fake
    registry.routes[("GET", "/apis/ccompat/v7/subjects")] = (401, {"error_code": 401})
    client = RegistryClient(url, username=SecretStr("u"), password=SecretStr(SECRET))
    with pytest.raises(RegistryError) as caught:
        await client.subjects()
    assert caught.value.status == 401 and "refused the credentials" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert len(registry.seen) == 1


async def test_tls_with_a_private_ca(tmp_path: Path) -> None:
    cert, key = make_self_signed(tmp_path, ("localhost", "127.0.0.1"))
    registry = FakeRegistry({("GET", "/subjects"): (200, ["a-value"])})
    server = serve(registry, tls=(cert, key))
    url = f"https://localhost:{server.server_address[1]}"
    try:
        assert await RegistryClient(url, ca_file=cert).subjects() == ["a-value"]
        with pytest.raises(RegistryError, match="certificate not trusted"):
            # the system CAs do not know it; no retry, even when retrying forever
            await RegistryClient(url, attempts=None).subjects()
    finally:
        server.shutdown()
        server.server_close()


async def test_an_outage_at_start_is_retried_until_the_registry_answers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    registry = FakeRegistry({("GET", "/subjects"): (200, [])})
    servers: list[Any] = []
    timer = threading.Timer(0.6, lambda: servers.append(serve(registry, port)))
    timer.start()
    client = RegistryClient(
        f"http://127.0.0.1:{port}",
        password=SecretStr(SECRET),
        username=SecretStr("u"),
        attempts=None,
        retry_initial=0.1,
        retry_max=0.2,
    )
    try:
        assert await client.subjects() == []
    finally:
        timer.join()
        for server in servers:
            server.shutdown()
            server.server_close()
    retries = [r for r in caplog.records if "retrying in" in r.getMessage()]
    assert retries and all(SECRET not in r.getMessage() for r in caplog.records)


async def test_a_5xx_is_retried_and_given_up_after_the_attempts(
    fake: tuple[FakeRegistry, str],
) -> None:
    registry, url = fake
    registry.routes[("GET", "/apis/ccompat/v7/subjects")] = (503, {"message": "starting"})
    client = RegistryClient(url, attempts=3, retry_initial=0.01)
    with pytest.raises(RegistryError, match="gave up after 3 attempt"):
        await client.subjects()
    assert len(registry.seen) == 3
