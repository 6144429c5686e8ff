"""Operators see request ids, structured logs and metrics."""

from __future__ import annotations

import json
import logging

from core import logs


def test_request_id_is_echoed_or_made(client):
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    made = client.get("/healthz").headers["X-Request-ID"]
    assert len(made) == 32
    assert client.get("/healthz", headers={"X-Request-ID": "bad id; drop table"}).headers["X-Request-ID"] != \
        "bad id; drop table"


def test_metrics_count_requests(client):
    client.get("/api/departments")
    body = client.get("/metrics").get_data(as_text=True)
    assert 'govmarket_http_requests_total{endpoint="catalogue_api.department_list",method="GET",status="200"}' in body
    assert "govmarket_http_request_seconds_bucket" in body
    assert "govmarket_queue_depth" in body


def test_json_logs_carry_the_request_id(app, capsys):
    logs.configure("INFO", json_output=True)
    try:
        app.test_client().get("/api/departments", headers={"X-Request-ID": "req-42"})
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
        request_lines = [line for line in lines if line.get("logger") == "govmarket.request"]
        assert request_lines and request_lines[-1]["request_id"] == "req-42"
        assert request_lines[-1]["status"] == 200
    finally:
        logging.getLogger().handlers[:] = []


def test_readiness_reports_the_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"]["database"] == "ok"


def test_metrics_need_their_token_or_this_machine(app, client, monkeypatch):
    """Issue 14, item 8: /metrics was open to anyone when no token was set."""
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.5"}).status_code == 401
    assert client.get("/metrics").status_code == 200, "development: this machine may read them without a token"
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "s3cret-token")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"},
                      environ_base={"REMOTE_ADDR": "203.0.113.5"}).status_code == 200
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "")
    monkeypatch.setitem(app.config, "ENV", "production")
    assert client.get("/metrics").status_code == 401, "production without a token: nobody"
