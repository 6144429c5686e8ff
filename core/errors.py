"""Domain errors. Services raise these; the app maps them to HTTP.

Every error says what was wrong, with which value, and what to do instead.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(self, message: str, *, errors: dict[str, Any] | None = None, **context: Any):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        self.context = context

    def to_problem(self) -> dict[str, Any]:
        problem: dict[str, Any] = {
            "type": f"about:blank#{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.message,
            "code": self.code,
        }
        if self.errors:
            problem["errors"] = self.errors
        return problem


class ValidationError(DomainError):
    status = 422
    code = "invalid"
    title = "Invalid input"


class NotFound(DomainError):
    status = 404
    code = "not_found"
    title = "Not found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class Unauthenticated(DomainError):
    status = 401
    code = "unauthenticated"
    title = "Authentication required"


class Conflict(DomainError):
    """The request is valid but the object's state does not allow it (e.g. a forbidden transition)."""

    status = 409
    code = "conflict"
    title = "Conflict"


class PreconditionFailed(DomainError):
    """The object changed since the caller read it (HTTP If-Match against its ETag)."""

    status = 412
    code = "precondition_failed"
    title = "Precondition failed"


class TooManyRequests(DomainError):
    """The actor did this too often in a short time (a per-account rate limit); try again later."""

    status = 429
    code = "too_many_requests"
    title = "Too many requests"


class TooLarge(DomainError):
    status = 413
    code = "too_large"
    title = "Payload too large"


class UnsupportedMediaType(DomainError):
    """The body is in another format than the operation reads (say which one it expects)."""

    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class ServiceUnavailable(DomainError):
    """Infrastructure we depend on is missing or refused (e.g. a sandbox backend without limits)."""

    status = 503
    code = "unavailable"
    title = "Service unavailable"
