"""The web process's serving registry and what it needs from the platform: which version to run with which
department scopes and identity keys, and where department calls and decisions are recorded."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from flask import Flask

from core.storage import FileBlobStore
from marketplace.gateway import claims, services
from marketplace.identity import keys
from marketplace.vendors.models import App, AppVersion
from sandbox.backends import get_backend
from sandbox.deps_cache import DepsCache
from sandbox.harness import default_runs_root
from sandbox.serving import Listeners, ServedVersion, ServingRegistry

log = logging.getLogger(__name__)
EXTENSION = "govmarket_serving"
_lock = threading.Lock()


def registry(app: Flask) -> ServingRegistry:
    """This process's registry (made on first use; its first start sweeps the orphans of dead processes)."""
    with _lock:
        existing = app.extensions.get(EXTENSION)
        if existing is None:
            existing = _make_registry(app)
            app.extensions[EXTENSION] = existing
        return existing


def _make_registry(app: Flask) -> ServingRegistry:
    config = app.config

    def on_call(served: ServedVersion, call: dict) -> None:
        with app.app_context():
            services.department_call_record(served.app_id, served.version_id, call)

    def on_decision(served: ServedVersion, case: dict) -> None:
        with app.app_context():
            services.department_decision_record(served.app_id, case)

    return ServingRegistry(lambda: get_backend(config["SANDBOX_BACKEND"], config), FileBlobStore(config["BUNDLE_STORE"]),
                           default_runs_root(config), idle_seconds=float(config["SERVING_IDLE_SECONDS"]),
                           listeners=Listeners(on_call=on_call, on_decision=on_decision),
                           department_time_scale=int(config["DEPARTMENT_TIME_SCALE"]),
                           deps_cache=_deps_cache(config))


def _deps_cache(config) -> DepsCache | None:
    """The kept deps (SERVING_DEPS_CACHE), or None when switched off or its folder cannot be written here (a
    read-only instance folder): then every start installs, as it did before the cache."""
    if config["SERVING_DEPS_CACHE"] == "off":
        return None
    try:
        return DepsCache(Path(config["SERVING_DEPS_CACHE"]))
    except OSError as exc:
        log.warning("serving: installed deps are not kept between starts: %s is not writable here (%s); set "
                    "GOVMARKET_SERVING_DEPS_CACHE to a writable folder", config["SERVING_DEPS_CACHE"], exc)
        return None


def dataset_of(config) -> tuple[str, int, int]:
    spec, seed, size = str(config["SERVING_DATASET"]).split(":")
    return spec, int(seed), int(size)


def served_version(config, app: App, version: AppVersion, *, origin: str) -> ServedVersion:
    """What the instance of ``app`` must run now (needs an app context: reads the keys)."""
    return ServedVersion(
        key=app.slug, app_id=app.id, version_id=version.id, bundle_sha256=version.bundle_sha256,
        dept_scopes=tuple(sorted(app.order.dept_scopes or ())), dataset=dataset_of(config),
        jwks=json.dumps(claims.jwks(), sort_keys=True).encode(), issuer=keys.platform_issuer(), audience=origin)


def served_version_of(config, app: claims.ServedApp, *, origin: str) -> ServedVersion:
    """``served_version`` of the gateway's kept ServedApp (no database read while the keys are unchanged)."""
    return ServedVersion(
        key=app.slug, app_id=app.id, version_id=app.version_id, bundle_sha256=app.bundle_sha256,
        dept_scopes=app.dept_scopes, dataset=dataset_of(config),
        jwks=json.dumps(claims.jwks(), sort_keys=True).encode(), issuer=keys.platform_issuer(), audience=origin)
