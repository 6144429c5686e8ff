"""Request ids, structured request logs and the /metrics endpoint."""

from __future__ import annotations

import hmac
import logging
import os
import time

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from core import logs
from core.errors import Unauthenticated
from core.metrics import HTTP_LATENCY, HTTP_REQUESTS

bp = Blueprint("observability", __name__)
log = logging.getLogger("govmarket.request")


class QueueDepthCollector:
    """Queue depths read from Redis at scrape time (RQ mode only)."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        family = GaugeMetricFamily("govmarket_queue_depth", "Jobs waiting per RQ queue", labels=["queue"])
        job_queue = self.app.extensions.get("job_queue")
        if self.app.config["QUEUE_MODE"] == "rq" and job_queue is not None:
            for name in ("sandbox", "default", "billing"):
                try:
                    family.add_metric([name], job_queue.queue(name).count)
                except Exception as exc:  # Redis down: /readyz reports it; metrics stay scrapeable
                    logging.getLogger(__name__).warning("queue depth of %s unavailable: %s", name, exc)
        yield family


def _may_scrape() -> None:
    """With METRICS_TOKEN: its bearer token. Without: nobody in production, and only this machine (loopback) in
    development — the metrics name every endpoint and their traffic, nothing for the open internet."""
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise Unauthenticated("send 'Authorization: Bearer <GOVMARKET_METRICS_TOKEN>' to read the metrics")
        return
    if current_app.config.get("ENV") == "production" or request.remote_addr not in {"127.0.0.1", "::1"}:
        raise Unauthenticated("the metrics need GOVMARKET_METRICS_TOKEN set on the platform and sent as a bearer "
                              "token (without it only this machine may read them, and only outside production)")


@bp.get("/metrics")
def metrics():
    _may_scrape()
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    body = generate_latest(registry)
    queue_registry = CollectorRegistry()
    queue_registry.register(QueueDepthCollector(current_app._get_current_object()))
    return Response(body + generate_latest(queue_registry), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.before_request
    def _start():
        g.request_id = logs.new_request_id(request.headers.get("X-Request-ID"))
        g._token = logs.request_id.set(g.request_id)
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response):
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        endpoint = request.endpoint or "unmatched"
        HTTP_REQUESTS.labels(request.method, endpoint, response.status_code).inc()
        HTTP_LATENCY.labels(request.method, endpoint).observe(elapsed)
        response.headers["X-Request-ID"] = g.get("request_id", "")
        if endpoint not in {"observability.metrics", "health.healthz"}:
            log.info("%s %s %s", request.method, request.path, response.status_code,
                     extra={"status": response.status_code, "duration_ms": round(elapsed * 1000, 1),
                            "endpoint": endpoint})
        return response

    @app.teardown_request
    def _clear(_exc):
        token = g.pop("_token", None)
        if token is not None:
            logs.request_id.reset(token)
