"""Prometheus metrics every package may update. Exposed by the platform at /metrics.

With several gunicorn workers set PROMETHEUS_MULTIPROC_DIR to a shared empty folder; /metrics then
aggregates every worker's samples.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter("govmarket_http_requests_total", "HTTP requests served", ["method", "endpoint", "status"])
HTTP_LATENCY = Histogram("govmarket_http_request_seconds", "HTTP request latency", ["method", "endpoint"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
CERTIFICATION_RUNS = Counter("govmarket_certification_runs_total", "Certification runs finished", ["outcome"])
CERTIFICATION_SECONDS = Histogram("govmarket_certification_run_seconds", "Certification run duration",
                                  buckets=(1, 5, 10, 30, 60, 120, 300, 600))
SETTLEMENT_RUNS = Counter("govmarket_settlement_runs_total", "Settlement runs", ["mode", "outcome"])
SETTLEMENT_SECONDS = Histogram("govmarket_settlement_run_seconds", "Settlement run duration", ["mode"],
                               buckets=(0.1, 0.5, 1, 5, 10, 30, 60, 300))
USAGE_EVENTS = Counter("govmarket_usage_events_total", "Usage events received", ["result"])
CACHE_OUTAGES = Counter("govmarket_cache_outages_total", "Times the shared cache (Redis) became unreachable")
CACHE_BYPASSED = Counter("govmarket_cache_bypassed_total",
                         "Shared-cache operations answered as a miss because Redis could not be reached")
