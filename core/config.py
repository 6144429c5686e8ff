"""Configuration from the environment, with documented defaults.

Every setting can be overridden by an environment variable of the same name
(``GOVMARKET_`` prefix, except the conventional ``DATABASE_URL`` and ``REDIS_URL``).
``docs/operations.md`` lists them; ``load_config`` is the one place they are read.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

# name -> (default, parser, description). The description feeds docs/operations.md.
SETTINGS: dict[str, tuple[Any, Any, str]] = {
    "SECRET_KEY": (None, str, "Signs sessions and CSRF tokens; required in production (random per process otherwise)."),
    "ENV": ("development", str, "'development' (embedded default) or 'production' (refuses insecure defaults)."),
    "DATABASE_URL": (None, str, "SQLAlchemy URL; default SQLite file govmarket.db in the instance folder."),
    "REDIS_URL": ("redis://127.0.0.1:6379/0", str, "Redis for RQ queues and rate limits when QUEUE_MODE=rq."),
    "QUEUE_MODE": ("inline", str, "'inline' runs jobs in-process (embedded default); 'rq' enqueues on Redis for workers."),
    "REDIS_OUTAGE_SECONDS": (60, int, "How long a worker retries Redis through an outage or restart (running jobs go on, their results are recorded once Redis is back) before it starts a fresh worker in the same process."),
    "WORKER_MAINTENANCE_SECONDS": (60, int, "How often (and at start) a worker fails jobs left started by dead workers; a sandbox worker also sweeps orphaned sandboxes and re-enqueues queued certification runs Redis lost."),
    "CACHE_TYPE": ("", str, "Flask-Caching backend shared by the web processes (the gateway's session claims, the anonymous catalogue pages): empty chooses RedisCache at REDIS_URL in production and SimpleCache (this process) otherwise; any Flask-Caching type name works (RedisCache is used behind a circuit breaker: Redis down means misses, not errors)."),
    "RATELIMIT_STORAGE_URI": ("memory://", str, "Flask-Limiter storage; use the Redis URL when running several web processes."),
    "LOGIN_RATE_LIMIT": ("10 per minute", str, "Failed-login limit per client address (per account, failures slow the next attempt down instead: 1, 2, 4 … up to 60 s, never a lock)."),
    "SESSION_IDLE_SECONDS": (30 * 60, int, "A web session unused for this long is over: the next request is anonymous and must log in again."),
    "SESSION_MAX_SECONDS": (12 * 3600, int, "A web session ends this long after its login, however busy it is."),
    "TRUSTED_PROXY_HOPS": (0, int, "How many reverse proxies in front of the web each append to X-Forwarded-For and set X-Forwarded-Proto/-Host (1 behind one nginx or load balancer, 2 behind a CDN and a load balancer). The client address that rate limits, audit and rating signals see is taken from that many hops back; 0 trusts no forwarding header (the web is reached directly)."),
    "INSTANCE_PATH": (None, str, "Folder for the SQLite file and stored bundles; default ./instance."),
    "BUNDLE_STORE": (None, str, "Folder where uploaded bundles are stored by sha256; default INSTANCE_PATH/bundles."),
    "MAX_BUNDLE_BYTES": (50 * 1024 * 1024, int, "Largest accepted bundle upload, in bytes."),
    "SANDBOX_BACKEND": ("bwrap", str, "Isolation backend for certification and serving: 'bwrap' or 'docker'."),
    "RUNTIME_ROOTFS": (None, str, "Sandbox runtime rootfs (built by `govmarket sandbox build-runtime`); "
                                  "default ~/.cache/govmarket/runtime/rootfs."),
    "RUNTIME_IMAGE": (None, str, "Docker backend only: use the runtime image already in Docker under this tag "
                                 "(govmarket-runtime:<hash>, as build-runtime prints it) instead of the rootfs; "
                                 "for sandbox workers running in a container."),
    "SANDBOX_RUNS": (None, str, "Folder for per-run sandbox directories (sockets, bundle, deps); "
                                "default /run/govmarket-sandbox as root. A worker in a container needs the same path on the host."),
    "APPS_DOMAIN": ("apps.localhost:5000", str, "Host suffix apps are served on: <slug>.<APPS_DOMAIN>."),
    "SERVING_IDLE_SECONDS": (300, int, "A served app with no request for this long is stopped; the next request starts it again."),
    "DEPARTMENT_TIME_SCALE": (1, int, "How much faster than real time the simulated department services handle cases on serving hosts (acceptance, review, decision); 1 in production, larger for demos and test stacks."),
    "SERVING_DEPS_CACHE": (None, str, "Folder where a serving process keeps the installed deps of the bundles it served (bytecode compiled), so an instance starts again without pip; default INSTANCE_PATH/serving-deps, `off` to install on every start."),
    "SERVING_WARM_APPS": (8, int, "The most used published apps a serving process keeps running ahead of their requests (started when it starts and within 10 s of a publication; kept when idle); 0: start every app on its first request."),
    "GATEWAY_STARTING_PAGE_SECONDS": (1.0, float, "A browser opening an app whose instance is not running waits this long, then sees a page saying the app is starting, which reloads until it answers; 0: wait for the start."),
    "SERVING_DATASET": ("citizens-v1:42:2000", str, "spec:seed:size of the mock dataset the department service answers served apps from."),
    "GATEWAY_REQUEST_BYTES": (10 * 1024 * 1024, int, "Largest request body the app gateway passes to an app, in bytes."),
    "GATEWAY_RESPONSE_BYTES": (50 * 1024 * 1024, int, "Largest response body the app gateway passes back from an app, in bytes."),
    "GATEWAY_TIMEOUT_SECONDS": (30, int, "How long the app gateway waits for an app to start answering (and between chunks)."),
    "SERVING_URL": ("", str, "Where the app gateway sends requests for apps (production): the serving hosts (`govmarket gateway serve` on sandbox hosts) as a comma-separated list of http(s)://host:port, or `registry` for the hosts that announce themselves in Redis; each app goes to one of them by a hash of its slug (docs/gateway.md). Unset: this process runs the apps itself (development, tests)."),
    "SERVING_SECRET": ("", str, "Shared secret of the web processes and the serving hosts (at least 32 characters); a serving host refuses requests without it."),
    "SERVING_ADVERTISE_URL": ("", str, "Serving host only: the http(s)://host:port the web processes reach it at; set, it announces itself in the Redis registry (GOVMARKET_SERVING_URL=registry on the web) while healthy."),
    "SERVING_TLS_CA": ("", str, "CA certificate file of the hop between web and serving hosts: the web verifies https serving hosts against it; a serving host given it requires the web's client certificate from it (mutual TLS)."),
    "SERVING_TLS_CERT": ("", str, "Certificate file (PEM) this process presents on that hop: a serving host's server certificate (then it serves https), or the web's client certificate for mutual TLS."),
    "SERVING_TLS_KEY": ("", str, "Private key file (PEM) of GOVMARKET_SERVING_TLS_CERT."),
    "GATEWAY_SESSION_SECONDS": (8 * 3600, int, "Lifetime of a citizen's gateway session on an app's origin, seconds."),
    "OAUTH2_TOKEN_EXPIRES_IN": (3600, int, "Lifetime of client-credentials access tokens, seconds (at most 900 with audit:read or feedback:read)."),
    "GATEWAY_SESSION_IDLE_SECONDS": (30 * 60, int, "A gateway session unused for this long is over; the citizen opens the app from the platform again."),
    "METRICS_TOKEN": ("", str, "/metrics requires 'Authorization: Bearer <token>'; unset, only loopback clients may read it, and nobody in production."),
    "LOG_FORMAT": ("text", str, "'json' for one JSON object per line (production) or 'text'."),
    "LOG_LEVEL": ("INFO", str, "Root log level."),
    "DEFAULT_LOCALE": ("zh_CN", str, "Default language of the web pages."),
    # Citizen identity (marketplace/identity, docs/identity.md).
    "ISSUER": ("http://localhost:5000", str, "Public base URL of the platform: `iss` of identity tokens and its OIDC provider."),
    "PERSONA_LOGIN": (False, lambda raw: _parse_bool(raw), "Mock-persona citizen login outside development (never production)."),
    "OIDC_ISSUER": (None, str, "Upstream OpenID Connect provider (issuer URL) for citizen login in production."),
    "OIDC_CLIENT_ID": (None, str, "The platform's client id at the upstream OpenID Connect provider."),
    "OIDC_CLIENT_SECRET": (None, str, "The platform's client secret at the upstream OpenID Connect provider."),
    "OIDC_PROVIDER": (False, lambda raw: _parse_bool(raw), "Also be an OpenID Connect provider for this instance's citizens."),
    "SIGNING_KEY_GRACE_HOURS": (24, int, "Hours a rotated-out signing key stays in the JWKS, so its tokens still verify."),
    "PAGE_SIZE": (20, int, "Default page size of lists."),
    # The paying account of the bank payout file (billing, ISO 20022 pain.001; docs/finance.md).
    "PAYOUT_DEBTOR_NAME": ("", str, "Holder of the treasury account vendors are paid from, as the bank knows it."),
    "PAYOUT_DEBTOR_ACCOUNT": ("", str, "That account's number; unset, the bank payout file is refused."),
    "PAYOUT_DEBTOR_BANK_CODE": ("", str, "That account's bank: its 12-digit CNAPS bank code."),
    "RATINGS_MIN_SHOWN": (10, int, "An app shows a star rating only from this many counted ratings; below, the pages say 评价不足 (too few ratings) with the count, and the app is listed after those with enough (docs/citizens.md)."),
}


def _parse_bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def load_config(instance_path: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read every setting from the environment and return a Flask config mapping."""
    overrides = dict(overrides or {})
    cfg: dict[str, Any] = {}
    for name, (default, parse, _doc) in SETTINGS.items():
        env_name = name if name in {"DATABASE_URL", "REDIS_URL"} else f"GOVMARKET_{name}"
        raw = os.environ.get(env_name)
        cfg[name] = parse(raw) if raw not in (None, "") else default
    cfg.update(overrides)

    instance = Path(cfg["INSTANCE_PATH"] or instance_path)
    cfg["INSTANCE_PATH"] = str(instance)
    cfg["BUNDLE_STORE"] = cfg["BUNDLE_STORE"] or str(instance / "bundles")
    cfg["SERVING_DEPS_CACHE"] = cfg["SERVING_DEPS_CACHE"] or str(instance / "serving-deps")
    cfg["RUNTIME_ROOTFS"] = cfg["RUNTIME_ROOTFS"] or str(Path.home() / ".cache" / "govmarket" / "runtime" / "rootfs")
    if not cfg["DATABASE_URL"]:
        cfg["DATABASE_URL"] = f"sqlite:///{instance / 'govmarket.db'}"
    cfg["SQLALCHEMY_DATABASE_URI"] = _normalise_db_url(cfg["DATABASE_URL"])

    if not cfg["SECRET_KEY"]:
        if cfg["ENV"] == "production":
            raise RuntimeError("GOVMARKET_SECRET_KEY must be set when GOVMARKET_ENV=production")
        cfg["SECRET_KEY"] = secrets.token_hex(32)
    if cfg["ENV"] == "production" and cfg["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        raise RuntimeError("production needs DATABASE_URL pointing at PostgreSQL, not SQLite")

    cfg["MAX_CONTENT_LENGTH"] = None  # uploads are streamed and capped by the intake, not by Flask
    cfg["SESSION_COOKIE_HTTPONLY"] = True
    cfg["SESSION_COOKIE_SAMESITE"] = "Lax"
    cfg["SESSION_COOKIE_SECURE"] = cfg["ENV"] == "production"
    # Over https the session cookie is "__Host-": the browser then refuses a cookie of that name set with a Domain, so
    # a site under a parent domain cannot plant a session on the platform (docs/security.md, "Cookies").
    cfg.setdefault("SESSION_COOKIE_NAME", "__Host-session" if cfg["SESSION_COOKIE_SECURE"] else "session")
    cfg["RATELIMIT_STORAGE_URI"] = cfg["RATELIMIT_STORAGE_URI"]
    cfg["BABEL_DEFAULT_LOCALE"] = cfg["DEFAULT_LOCALE"]
    return cfg


def _normalise_db_url(url: str) -> str:
    # psycopg 3 is the driver we ship; accept the common short forms.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def settings_table() -> str:
    """The settings as a Markdown table, for docs/operations.md."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, (default, _parse, doc) in SETTINGS.items():
        env_name = name if name in {"DATABASE_URL", "REDIS_URL"} else f"GOVMARKET_{name}"
        rows.append(f"| `{env_name}` | `{default}` | {doc} |")
    return "\n".join(rows)


__all__ = ["SETTINGS", "_parse_bool", "load_config", "settings_table"]


def update_operations_doc(path: str = "docs/operations.md") -> None:
    """Rewrite the settings table in docs/operations.md: `python -c 'import core.config as c; c.update_operations_doc()'`."""
    text = Path(path).read_text("utf-8")
    start = text.index("\n", text.index("<!-- settings-table:start")) + 1
    end = text.index("<!-- settings-table:end")
    Path(path).write_text(text[:start] + settings_table() + "\n" + text[end:], "utf-8")
