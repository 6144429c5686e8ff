"""Security headers on every platform response (apps on their own origins never pass through here: the gateway's
host dispatch answers them before Flask).

The pages carry no inline script, so scripts are limited to the platform's own files; the one page with an
inline script, flask-smorest's Swagger UI at /api/docs, gets that script allowed by its sha256 only. Styles may
be inline (the analytics charts are inline SVG with <style>); that cannot run code."""

from __future__ import annotations

import base64
import hashlib
import re

from flask import Flask, Response, request

_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
}


def init_app(app: Flask) -> None:
    app.after_request(add_security_headers)


def _inline_script_hashes(response: Response) -> list[str]:
    if response.mimetype != "text/html" or response.direct_passthrough:
        return []
    return ["'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
            for body in _INLINE_SCRIPT.findall(response.get_data())]


def content_security_policy(response: Response, *, allow_inline_scripts: bool = False) -> str:
    policy = dict(POLICY)
    if allow_inline_scripts:
        policy["script-src"] = " ".join([policy["script-src"], *_inline_script_hashes(response)])
    return "; ".join(f"{name} {value}" for name, value in policy.items())


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if "Content-Security-Policy" not in headers:
        headers["Content-Security-Policy"] = content_security_policy(
            response, allow_inline_scripts=request.endpoint == "api-docs.openapi_swagger_ui")
    return response
