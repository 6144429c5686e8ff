"""How tests reach the real services they need.

Outside CI a missing service skips the test that needs it; with CI=true it fails, so a CI run
can never pass by quietly skipping the real thing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
# `make check-latest` (TEST_DB_FREE=1) runs only what needs no database or service: a test reaching for one is
# deselected by conftest when it says so with a marker or a database fixture, and skipped here when it asks later.
SERVICE_FREE = os.environ.get("TEST_DB_FREE") == "1"


def service_free_run(what: str) -> None:
    if SERVICE_FREE:
        pytest.skip(f"{what}: TEST_DB_FREE=1 runs only the tests that need no database or service")


def missing(what: str, why: str) -> None:
    message = f"{what} is not available: {why}"
    if IN_CI:
        pytest.fail(message + " (CI=true: a test needing it must fail, not skip)", pytrace=False)
    pytest.skip(message)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_postgres() -> str:
    service_free_run("PostgreSQL")
    url = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    if not port_open("127.0.0.1", 5432):
        missing("PostgreSQL", "nothing listens on 127.0.0.1:5432")
    return url


def require_redis() -> str:
    service_free_run("Redis")
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    if not port_open("127.0.0.1", 6379):
        missing("Redis", "nothing listens on 127.0.0.1:6379")
    return url


def require_bwrap() -> str:
    service_free_run("bubblewrap")
    path = shutil.which("bwrap")
    if not path:
        missing("bubblewrap", "bwrap is not on PATH (apt-get install bubblewrap)")
    return path


def require_docker():
    service_free_run("Docker")
    try:
        import docker

        client = docker.from_env(timeout=5)
        client.ping()
        return client
    except Exception as exc:
        missing("Docker", f"the engine does not answer ({exc})")


def require_chromium() -> str:
    service_free_run("chromium")
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        missing("chromium", "/usr/bin/chromium is missing (apt-get install chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing("Playwright", "the playwright package is not installed")
    return path


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


# Debian's chromium as root on a machine without outside networks: no sandbox of its own (we are root) and no
# background traffic (refused connections otherwise slow every page).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def launch_chromium(playwright):
    """Headless Debian chromium under Playwright (fails under CI, skips locally, when it is missing)."""
    return playwright.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_ARGS)
