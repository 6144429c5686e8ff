"""A small client for the simulated (and, in production, the real) department service.

Inside the sandbox the service listens on the unix socket `GOVAPP_DEPT_SOCKET`; for local development it
can be a URL in `GOVAPP_DEPT_URL` (e.g. http://127.0.0.1:8700). Only the standard library is used, so an
app carries no extra wheels for it. The API is described in docs/mockdata.md.

    dept = DepartmentClient.from_env()
    person = dept.person(citizen.resident_id)                 # None if unknown
    decision = dept.submit_application("food-licence", body)  # {"case_number", "decision", "reasons", ...}

The department answers only inside the citizen's delegation: with every request it forwards, the platform gives
the app a short-lived department access token (header `X-Department-Token`) for the citizen using it, the fields
they consented to and the purpose. `python -m govapp.serve` keeps that token for the request's thread and the
client sends it with each call, so apps need no code for it; an app that calls from a thread of its own passes
it explicitly: `dept.with_delegation(delegation_from_environ(environ))`. Outside the delegation the department
answers 401 (no, expired or forged token) or 403 (another person, a business the citizen does not represent, a
field not consented), raised as DepartmentError with that status and code.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import json
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from govapp.serve import carry_delegation, current_delegation, delegation_from_environ

__all__ = ["DELEGATION_HEADER", "DepartmentClient", "DepartmentError", "DepartmentResponse", "carry_delegation",
           "delegation_from_environ"]

DELEGATION_HEADER = "X-Department-Token"


class DepartmentError(Exception):
    """The department answered with an error: `status`, `code` (e.g. scope_denied, invalid_identifier), `detail`."""

    def __init__(self, status: int, code: str, detail: str, body: Any = None):
        self.status = status
        self.code = code
        self.detail = detail
        self.body = body
        super().__init__(f"department service answered {status} {code}: {detail}")


@dataclass(frozen=True)
class DepartmentResponse:
    """A department answer: the HTTP `status` and the parsed JSON `data`."""
    status: int
    data: Any


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class DepartmentClient:
    """Calls the department API; thread-safe (one connection per call)."""

    def __init__(self, *, socket_path: str | None = None, base_url: str | None = None, timeout: float = 10.0,
                 delegation: str | None = None):
        """``delegation``: a department access token to send instead of the current request's (rarely needed)."""
        if bool(socket_path) == bool(base_url):
            raise ValueError("give exactly one of socket_path (GOVAPP_DEPT_SOCKET) or base_url (GOVAPP_DEPT_URL)")
        self.socket_path = socket_path
        self.timeout = timeout
        self.delegation = delegation
        self._base_url = base_url
        self._url = urlsplit(base_url) if base_url else None

    def delegated_fields(self) -> frozenset[str]:
        """The department fields the citizen using the app consented to, as their current department access token
        says (read, not verified: the department verifies). Check before reading an optional field — a read
        outside the delegation is refused, and repeated refusals suspend the app."""
        token = self.delegation or current_delegation()
        try:
            payload = (token or "").split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (IndexError, ValueError, binascii.Error):
            return frozenset()
        fields = claims.get("fields") if isinstance(claims, dict) else None
        return frozenset(str(f) for f in fields) if isinstance(fields, list) else frozenset()

    def with_delegation(self, token: str | None) -> DepartmentClient:
        """A client that sends ``token`` (e.g. ``delegation_from_environ(environ)``) with every call."""
        return type(self)(socket_path=self.socket_path, base_url=self._base_url, timeout=self.timeout, delegation=token)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, timeout: float = 10.0) -> DepartmentClient:
        """The client for where the app runs: `GOVAPP_DEPT_SOCKET` (the sandbox, set by the platform) or
        `GOVAPP_DEPT_URL` (local development). Raises DepartmentError 503 `not_configured` when neither is set."""
        env = os.environ if environ is None else environ
        if env.get("GOVAPP_DEPT_SOCKET"):
            return cls(socket_path=env["GOVAPP_DEPT_SOCKET"], timeout=timeout)
        if env.get("GOVAPP_DEPT_URL"):
            return cls(base_url=env["GOVAPP_DEPT_URL"], timeout=timeout)
        raise DepartmentError(503, "not_configured", "neither GOVAPP_DEPT_SOCKET nor GOVAPP_DEPT_URL is set")

    def _connection(self) -> http.client.HTTPConnection:
        if self.socket_path:
            return _UnixHTTPConnection(self.socket_path, self.timeout)
        assert self._url is not None
        cls = http.client.HTTPSConnection if self._url.scheme == "https" else http.client.HTTPConnection
        return cls(self._url.hostname or "localhost", self._url.port, timeout=self.timeout)

    def request(
        self, method: str, path: str, *, json_body: Any = None, query: Mapping[str, Any] | None = None
    ) -> DepartmentResponse:
        """Send one call; returns status and decoded JSON (raises DepartmentError if unreachable)."""
        target = (self._url.path.rstrip("/") if self._url else "") + path
        params = {k: v for k, v in (query or {}).items() if v is not None}
        if params:
            target += "?" + urlencode(params)
        body = None if json_body is None else json.dumps(json_body, ensure_ascii=False).encode("utf-8")
        headers = {"Accept": "application/json"}
        token = self.delegation or current_delegation()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
        conn = self._connection()
        try:
            conn.request(method, target, body=body, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        except OSError as exc:
            raise DepartmentError(503, "unreachable", f"the department service cannot be reached ({exc})") from exc
        finally:
            conn.close()
        try:
            data = json.loads(raw.decode("utf-8")) if raw else None
        except ValueError:
            data = raw.decode("utf-8", errors="replace")
        return DepartmentResponse(response.status, data)

    def _get(self, path: str, query: Mapping[str, Any] | None = None, *, missing_ok: bool = True) -> Any:
        response = self.request("GET", path, query=query)
        if response.status == 404 and missing_ok:
            return None
        self._raise_for_error(response)
        return response.data

    @staticmethod
    def _raise_for_error(response: DepartmentResponse) -> None:
        if response.status < 400:
            return
        data = response.data if isinstance(response.data, dict) else {}
        code, detail = str(data.get("error", "error")), str(data.get("detail", response.data))
        raise DepartmentError(response.status, code, detail, response.data)

    def person(self, resident_id: str) -> dict | None:
        """The person record, or None if no such person (scope person.read)."""
        return self._get(f"/persons/{quote(resident_id, safe='')}")

    def person_licences(self, resident_id: str, *, type: str | None = None, status: str | None = None) -> list[dict]:
        """E-licences held by a person (scope licence.read); [] if the person is unknown."""
        return self._get(f"/persons/{quote(resident_id, safe='')}/licences", {"type": type, "status": status}) or []

    def business(self, credit_code: str) -> dict | None:
        """The business record incl. legal_representative, or None (scope business.read)."""
        return self._get(f"/businesses/{quote(credit_code, safe='')}")

    def my_businesses(self, resident_id: str) -> list[dict]:
        """The businesses the person represents, [{credit_code, name, status, role}] (scope business.read; the
        citizen must have consented to the field ``businesses``)."""
        return self._get(f"/persons/{quote(resident_id, safe='')}/businesses") or []

    def business_licences(self, credit_code: str, *, type: str | None = None, status: str | None = None) -> list[dict]:
        """E-licences of a business (scope licence.read); [] if the business is unknown."""
        return self._get(f"/businesses/{quote(credit_code, safe='')}/licences", {"type": type, "status": status}) or []

    def submit_application(self, item_code: str, application: Mapping[str, Any]) -> dict:
        """Submit an application; returns the decision (accepted → 201, rejected/duplicate → 200) with `http_status`."""
        response = self.request("POST", f"/applications/{quote(item_code, safe='')}", json_body=dict(application))
        self._raise_for_error(response)
        return {**response.data, "http_status": response.status}

    def application(self, case_number: str) -> dict | None:
        """A submitted case's status, or None (scope application.read)."""
        return self._get(f"/applications/{quote(case_number, safe='')}")

    def health(self) -> dict:
        """GET /health of the department service: `{"status": "ok", ...}`. Raises DepartmentError when it does not
        answer 200 (status 503 `unreachable` when it cannot be reached)."""
        return self._get("/health", missing_ok=False)
