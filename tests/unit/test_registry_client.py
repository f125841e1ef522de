"""RegistryClient against a scripted HTTP(S) server on loopback (the REST calls, basic auth,
TLS, retries, caching, secrets), the Confluent wire format, and register_all's decisions.
The client against a real registry: tests/integration/test_registry_end_to_end.py."""

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

from bridge.codec import (
    ConfluentEncoder,
    SchemaStore,
    decode_body,
    encode_confluent,
    schema_text,
    split_value,
)
from bridge.errors import IncompatibleSchemaError, RegistryError, SchemaError
from bridge.registry import (
    Compatibility,
    RegistryClient,
    SubjectVersion,
    subject_name,
)
from bridge.sandbox.processes import free_port
from bridge.sandbox.tls import make_self_signed, server_ssl_context
from bridge.schema_tools import register_all

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


# --- the Confluent wire format --------------------------------------------------------------------


def test_confluent_wire_format_round_trip() -> None:
    value = {
        "exchange": "okx",
        "channel": "status",
        "arg": {"channel": "status"},
        "receive_time": 1,
        "event_time": None,
        "connection": "c",
        "connection_id": "c#1",
        "exchange_connection_id": None,
        "sequence": 1,
        "bridge_instance": "i",
        "payload": ("exchange_bridge.SessionMarker", {"kind": "k", "reason": "r", "detail": None}),
    }
    data = encode_confluent(258, STATUS, value)
    assert data[:5] == b"\x00\x00\x00\x01\x02"
    wire, reference, body = split_value(data)
    assert (wire, reference) == ("confluent", 258)
    decoded = decode_body(STATUS.parsed, body, "okx/status")
    assert decoded["payload"] == ("exchange_bridge.SessionMarker", value["payload"][1])

    encoder = ConfluentEncoder()
    with pytest.raises(SchemaError, match="okx.status: no registry id for okx/status.v1"):
        encoder.encode("okx.status", STATUS, value)
    encoder.ids[("okx.status", STATUS.fingerprint)] = 258
    assert encoder.encode("okx.status", STATUS, value) == data


def test_split_value_refuses_other_formats() -> None:
    with pytest.raises(SchemaError, match="neither"):
        split_value(b"{}")


# --- register_all ---------------------------------------------------------------------------------


class ScriptedClient:
    """The four calls register_all makes, from dictionaries."""

    def __init__(
        self,
        *,
        registered: dict[str, int] | None = None,
        latest: dict[str, str] | None = None,
        compatible: bool = True,
    ) -> None:
        self.registered = registered or {}
        self.latest_schemas = latest or {}
        self.compatible = compatible
        self.calls: list[str] = []

    async def lookup(self, subject: str, schema: str) -> SubjectVersion | None:
        self.calls.append(f"lookup {subject}")
        found = self.registered.get(subject)
        return None if found is None else SubjectVersion(subject, found, 1, schema)

    async def latest(self, subject: str) -> SubjectVersion | None:
        self.calls.append(f"latest {subject}")
        text = self.latest_schemas.get(subject)
        return None if text is None else SubjectVersion(subject, 1, 4, text)

    async def check_compatibility(self, subject: str, schema: str) -> Compatibility:
        self.calls.append(f"compatibility {subject}")
        return Compatibility(self.compatible)

    async def register(self, subject: str, schema: str) -> int:
        self.calls.append(f"register {subject}")
        return 42


async def test_register_all_looks_up_first_and_registers_what_is_missing() -> None:
    client = ScriptedClient(registered={"p.okx.status-value": 5})
    deadletter = STORE.latest("bridge/deadletter")
    ids = await register_all(
        client,  # type: ignore[arg-type]
        {"okx.status": STATUS, "bridge.deadletter": deadletter},
        topic_prefix="p.",
        strategy="topic",
    )
    assert ids == {
        ("okx.status", STATUS.fingerprint): 5,
        ("bridge.deadletter", deadletter.fingerprint): 42,
    }
    assert "register p.okx.status-value" not in client.calls
    assert "register p.bridge.deadletter-value" in client.calls


async def test_register_all_refuses_a_schema_that_cannot_read_the_latest_version() -> None:
    old = json.loads(schema_text(STATUS))
    old["fields"][0]["type"] = "long"  # the subject's latest wrote 'exchange' as a long
    client = ScriptedClient(latest={"okx.status-value": json.dumps(old)})
    with pytest.raises(IncompatibleSchemaError) as caught:
        await register_all(
            client,  # type: ignore[arg-type]
            {"okx.status": STATUS},
            topic_prefix="",
            strategy="topic",
        )
    message = str(caught.value)
    assert "subject 'okx.status-value': okx/status.v1 cannot read data written with" in message
    assert "exchange: the writer's long cannot be read as string" in message
    assert "check_compatibility: false" in message
    assert not any(c.startswith("register") for c in client.calls)
    # told otherwise, it registers
    ids = await register_all(
        client,  # type: ignore[arg-type]
        {"okx.status": STATUS},
        topic_prefix="",
        strategy="topic",
        check_compatibility=False,
    )
    assert ids == {("okx.status", STATUS.fingerprint): 42}


async def test_register_all_trusts_the_registry_verdict_too() -> None:
    client = ScriptedClient(latest={"okx.status-value": schema_text(STATUS)}, compatible=False)
    with pytest.raises(IncompatibleSchemaError, match="compatibility rule refuses it"):
        await register_all(
            client,  # type: ignore[arg-type]
            {"okx.status": STATUS},
            topic_prefix="",
            strategy="topic",
        )


async def test_without_auto_register_a_missing_schema_is_an_error() -> None:
    with pytest.raises(RegistryError, match="auto_register is false"):
        await register_all(
            ScriptedClient(),  # type: ignore[arg-type]
            {"okx.status": STATUS},
            topic_prefix="",
            strategy="record",
            auto_register=False,
        )
