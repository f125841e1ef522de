"""The schema registry client: where consumers of the Confluent wire format find the writer
schema of a record.

A **Confluent-compatible schema registry** (Confluent Schema Registry, Apicurio Registry's
``ccompat`` API, Karapace…). :class:`RegistryClient` speaks the few REST calls the bridge needs:
register and look up a subject's version, fetch a schema by id, the subject's latest version,
and the compatibility check. It is asyncio-facing but does its blocking HTTP in a worker thread
with the standard library: the bridge makes a handful of calls at start and none while running,
which does not justify another dependency.

Without a registry, records are in single-object encoding and their schemas are published to
the compacted schemas topic instead (:mod:`bridge.avro.registration`,
:func:`bridge.avro.decode.read_schemas_topic`).

Credentials are secrets: the client's repr, its log lines and its errors show the URL only
(the settings refuse URLs with credentials in them).
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import logging
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from pydantic import SecretStr

from bridge.errors import IncompatibleSchemaError, RegistryError
from bridge.retry import Backoff
from bridge.settings import SchemaRegistrySettings

log = logging.getLogger(__name__)

SubjectNameStrategy = Literal["topic", "record", "topic_record"]

_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
# Error codes a Confluent-compatible registry answers a 404 with.
SUBJECT_NOT_FOUND = 40401
VERSION_NOT_FOUND = 40402
SCHEMA_NOT_FOUND = 40403


def subject_name(strategy: SubjectNameStrategy, topic: str, record_full_name: str) -> str:
    """The subject of a topic's value schema, as Confluent's serializers name it."""
    match strategy:
        case "topic":
            return f"{topic}-value"
        case "record":
            return record_full_name
        case "topic_record":
            return f"{topic}-{record_full_name}"


@dataclass(frozen=True, slots=True)
class SubjectVersion:
    subject: str
    id: int
    version: int
    schema: str


@dataclass(frozen=True, slots=True)
class Compatibility:
    compatible: bool
    messages: tuple[str, ...] = ()


class RegistryClient:
    """A Confluent-compatible schema registry at ``url`` (which may carry a path, e.g.
    Apicurio's ``http://host:8080/apis/ccompat/v7``).

    Requests that get no answer, or a 5xx or 429, are retried with the bridge's jittered
    backoff (:mod:`bridge.retry`, between ``retry_initial`` and ``retry_max`` seconds):
    ``attempts`` times in all, or forever when it is None (the bridge at start: a registry
    outage must delay it, not kill it). A 4xx is an answer and is not retried. Answers that
    cannot change (schemas by id, what was registered) are cached.
    """

    def __init__(
        self,
        url: str,
        *,
        username: SecretStr | None = None,
        password: SecretStr | None = None,
        ca_file: Path | str | None = None,
        timeout: float = 10.0,
        attempts: int | None = 5,
        retry_initial: float = 0.5,
        retry_max: float = 15.0,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RegistryError(f"not an http(s) URL: {url!r}")
        self.url = url.rstrip("/")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._base_path = parts.path.rstrip("/")
        self._timeout = timeout
        self._attempts = attempts
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._ssl = ssl.create_default_context(cafile=ca_file) if self._https else None
        self._authorization: str | None = None
        if username is not None and password is not None:
            pair = f"{username.get_secret_value()}:{password.get_secret_value()}"
            self._authorization = "Basic " + base64.b64encode(pair.encode()).decode()
        self._schemas_by_id: dict[int, str] = {}
        self._registered: dict[tuple[str, str], int] = {}

    @classmethod
    def from_settings(
        cls, settings: SchemaRegistrySettings, *, attempts: int | None = 5
    ) -> RegistryClient:
        if settings.url is None:
            raise RegistryError("schema_registry.url is not set")
        return cls(
            settings.url,
            username=settings.username,
            password=settings.password,
            ca_file=settings.ca_file,
            timeout=settings.request_timeout_seconds,
            attempts=attempts,
        )

    def __repr__(self) -> str:
        return f"RegistryClient({self.url!r})"

    # -- the REST calls ----------------------------------------------------------------------------

    async def register(self, subject: str, schema: str) -> int:
        """Register ``schema`` (Avro JSON text) under ``subject``; its id. Registering a schema
        the subject already has returns the existing id (the registry does not add a version).
        A 409 (the registry's compatibility rule refused it) raises IncompatibleSchemaError."""
        cached = self._registered.get((subject, schema))
        if cached is not None:
            return cached
        try:
            answer = await self._request(
                "POST", f"/subjects/{_q(subject)}/versions", {"schema": schema}
            )
        except RegistryError as exc:
            if exc.status == 409:
                raise IncompatibleSchemaError(
                    f"the schema registry refused a new version of subject {subject!r}: {exc}"
                ) from None
            raise
        schema_id = int(answer["id"])
        self._registered[(subject, schema)] = schema_id
        self._schemas_by_id[schema_id] = schema
        return schema_id

    async def lookup(self, subject: str, schema: str) -> SubjectVersion | None:
        """The subject's version holding ``schema``; None when the subject lacks it."""
        try:
            answer = await self._request("POST", f"/subjects/{_q(subject)}", {"schema": schema})
        except RegistryError as exc:
            if exc.status == 404:
                return None
            raise
        found = _subject_version(answer, subject)
        self._registered[(subject, schema)] = found.id
        return found

    async def latest(self, subject: str) -> SubjectVersion | None:
        """The subject's latest version; None when the subject does not exist."""
        try:
            answer = await self._request("GET", f"/subjects/{_q(subject)}/versions/latest")
        except RegistryError as exc:
            if exc.status == 404:
                return None
            raise
        return _subject_version(answer, subject)

    async def schema_by_id(self, schema_id: int) -> str:
        """The schema text registered under ``schema_id`` (ids never change meaning: cached)."""
        cached = self._schemas_by_id.get(schema_id)
        if cached is None:
            answer = await self._request("GET", f"/schemas/ids/{int(schema_id)}")
            cached = self._schemas_by_id[schema_id] = str(answer["schema"])
        return cached

    async def check_compatibility(self, subject: str, schema: str) -> Compatibility:
        """Whether the registry's compatibility rule for ``subject`` accepts ``schema`` as its
        next version (compatible when the subject has no version yet)."""
        try:
            answer = await self._request(
                "POST",
                f"/compatibility/subjects/{_q(subject)}/versions/latest?verbose=true",
                {"schema": schema},
            )
        except RegistryError as exc:
            if exc.status == 404:
                return Compatibility(True)
            raise
        messages = answer.get("messages") or ([answer["reason"]] if answer.get("reason") else [])
        return Compatibility(bool(answer.get("is_compatible")), tuple(str(m) for m in messages))

    async def subjects(self) -> list[str]:
        return [str(s) for s in await self._request("GET", "/subjects")]

    async def set_compatibility(self, level: str, subject: str | None = None) -> None:
        """Set the compatibility level globally or for one subject (``BACKWARD``…)."""
        path = "/config" if subject is None else f"/config/{_q(subject)}"
        await self._request("PUT", path, {"compatibility": level})

    # -- transport -----------------------------------------------------------------------------

    async def _request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        backoff = Backoff(self._retry_initial, self._retry_max)
        attempt = 0
        while True:
            attempt += 1
            try:
                status, answer = await asyncio.to_thread(self._exchange, method, path, body)
            except ssl.SSLCertVerificationError as exc:
                # Waiting does not make a certificate trusted: a configuration problem.
                raise RegistryError(
                    f"schema registry at {self.url}: certificate not trusted "
                    f"({exc.verify_message}); set schema_registry.ca_file"
                ) from None
            except (OSError, http.client.HTTPException) as exc:
                problem = f"not reachable ({type(exc).__name__}: {exc})"
            else:
                if status < 400:
                    return answer
                error = _error_of(status, answer)
                if status < 500 and status != 429:
                    raise error
                problem = f"answered {error}"
            if self._attempts is not None and attempt >= self._attempts:
                raise RegistryError(
                    f"schema registry at {self.url} {problem}; gave up after {attempt} attempt(s)"
                )
            delay = backoff.next_delay()
            log.warning("schema registry at %s %s; retrying in %.1f s", self.url, problem, delay)
            await asyncio.sleep(delay)

    def _exchange(self, method: str, path: str, body: Mapping[str, Any] | None) -> tuple[int, Any]:
        """One HTTP request and its decoded JSON answer (blocking; runs in a worker thread)."""
        connection: http.client.HTTPConnection
        if self._https:
            connection = http.client.HTTPSConnection(
                self._host, self._port, timeout=self._timeout, context=self._ssl
            )
        else:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        headers = {"Accept": f"{_CONTENT_TYPE}, application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = _CONTENT_TYPE
        if self._authorization is not None:
            headers["Authorization"] = self._authorization
        try:
            connection.request(method, self._base_path + path, body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        try:
            answer = json.loads(data) if data else None
        except ValueError:
            answer = data[:200].decode("utf-8", "replace")
        return response.status, answer


def _q(subject: str) -> str:
    return quote(subject, safe="")


def _subject_version(answer: Any, subject: str) -> SubjectVersion:
    return SubjectVersion(
        str(answer.get("subject", subject)),
        int(answer["id"]),
        int(answer["version"]),
        str(answer["schema"]),
    )


def _error_of(status: int, answer: Any) -> RegistryError:
    if status in (401, 403):
        # Never echo what was sent; the registry's text is enough.
        return RegistryError(
            f"HTTP {status}: the schema registry refused the credentials", status=status
        )
    if isinstance(answer, dict):
        code = answer.get("error_code")
        message = str(answer.get("message", ""))[:500]
        return RegistryError(
            f"HTTP {status} (error {code}): {message}",
            status=status,
            error_code=int(code) if isinstance(code, int) else None,
        )
    return RegistryError(f"HTTP {status}: {str(answer)[:200]}", status=status)
