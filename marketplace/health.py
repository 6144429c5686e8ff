"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Flask, current_app, jsonify

from core import cache as shared_cache
from core.extensions import cache, db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is alive and serving; ``cache`` says whether it is using the shared cache (Redis) or, while that
    cannot be reached, serving from the database (slower, still correct: core/cache.py)."""
    return jsonify(status="ok", cache=shared_cache.state(cache))


@bp.get("/readyz")
def readyz():
    """Ready for traffic: the database answers and, when jobs go to Redis, Redis answers."""
    checks: dict[str, str] = {}
    try:
        db.session.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # report, do not crash: this endpoint exists to say what is wrong
        checks["database"] = f"error: {exc.__class__.__name__}"
    if current_app.config["QUEUE_MODE"] == "rq":
        try:
            current_app.extensions["job_queue"].redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {exc.__class__.__name__}"
    ready = all(v == "ok" for v in checks.values())
    return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
