"""Fixtures for the mockdata tests: one shared in-memory dataset, fresh services, a unix-socket HTTP client."""

from __future__ import annotations

import http.client
import json
import socket

import pytest

from mockdata.service import SCOPES, DepartmentService
from mockdata.store import MemoryStore

SPEC, SEED, SIZE = "citizens-v1", 42, 2000


@pytest.fixture(scope="session")
def store() -> MemoryStore:
    return MemoryStore(SPEC, SEED, SIZE)


@pytest.fixture
def service(store) -> DepartmentService:
    """A service granting every scope over the shared dataset (its calls and cases are its own)."""
    return DepartmentService(store, SCOPES)


@pytest.fixture
def scenarios(store) -> dict:
    return store.scenarios


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 5) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock


def unix_request(path: str, method: str, url: str, body: dict | None = None) -> tuple[int, object]:
    """One HTTP request over the unix socket at ``path``; (status, parsed JSON body or None)."""
    conn = UnixHTTPConnection(str(path))
    try:
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        conn.request(method, url, body=payload, headers=headers)
        response = conn.getresponse()
        data = response.read()
        return response.status, (json.loads(data) if data else None)
    finally:
        conn.close()
