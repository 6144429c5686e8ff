"""Idempotency-Key on the REST API's POSTs (uploads included): a retried request gets the first answer again.

A client that did not hear the answer to a POST (a timeout, a dropped connection) sends it again with the same
``Idempotency-Key`` header: the platform replays the stored answer (status, body, Location/ETag) instead of
creating a second app, order or version. Keys belong to the calling user, live for IDEMPOTENCY_TTL_SECONDS, and
are kept in the database so every web process sees them. Only successful answers are kept: after an error the
same key may be used again. The same key with a different request (method, path or JSON body) is refused (422);
a key whose first request is still running gets 409."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask, Response, current_app, g, request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from core.errors import Conflict, ValidationError
from core.extensions import db
from core.time import UTCDateTime, utcnow

HEADER = "Idempotency-Key"
REPLAYED_HEADERS = ("Location", "ETag", "Content-Type")


class IdempotencyKey(db.Model):
    __tablename__ = "api_idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("user_id", "key", name="uq_api_idempotency_keys_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    key: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    fingerprint: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, index=True)
    status: Mapped[int | None] = mapped_column(sa.Integer)
    headers: Mapped[dict | None] = mapped_column(sa.JSON)
    body: Mapped[bytes | None] = mapped_column(sa.LargeBinary)


def _fingerprint() -> str:
    digest = hashlib.sha256(f"{request.method} {request.path}?{request.query_string.decode()}".encode())
    if request.mimetype == "application/json":  # uploads stream their body; their key names method, path, query
        digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _replay(row: IdempotencyKey) -> Response:
    response = Response(row.body, status=row.status)
    for name, value in (row.headers or {}).items():
        response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response


def claim() -> Response | None:
    """before_request, after authentication: claim the key for this request, or replay the answer it had."""
    key = request.headers.get(HEADER)
    actor = g.get("api_caller")
    if key is None or request.method != "POST" or actor is None:
        return None
    if not 1 <= len(key) <= 255:
        raise ValidationError(f"{HEADER} must have 1 to 255 characters", errors={HEADER: ["1 to 255 characters"]})
    fingerprint = _fingerprint()
    expired = utcnow() - timedelta(seconds=current_app.config.get("IDEMPOTENCY_TTL_SECONDS", 86400))
    db.session.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.user_id == actor.id, IdempotencyKey.key == key,
                                                       IdempotencyKey.created_at < expired))
    row = IdempotencyKey(user_id=actor.id, key=key, fingerprint=fingerprint)
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        row = db.session.scalar(sa.select(IdempotencyKey).where(IdempotencyKey.user_id == actor.id,
                                                                IdempotencyKey.key == key))
        if row is None:  # its first request failed and let the key go in between: claim it again
            return claim()
        if row.fingerprint != fingerprint:
            raise ValidationError(f"{HEADER} {key!r} was used for a different request; use a new key",
                                  errors={HEADER: ["used for a different request"]}) from None
        if row.status is None:
            raise Conflict(f"the first request with {HEADER} {key!r} is still running; ask again in a moment") from None
        return _replay(row)
    g.idempotency_key_id = row.id
    return None


def record(response: Response) -> Response:
    """after_request: keep a successful answer for the claimed key; let the key go after an error."""
    row_id = g.pop("idempotency_key_id", None)
    if row_id is None:
        return response
    row = db.session.get(IdempotencyKey, row_id)
    if row is not None:
        if 200 <= response.status_code < 300 and not response.is_streamed:
            row.status = response.status_code
            row.headers = {name: response.headers[name] for name in REPLAYED_HEADERS if name in response.headers}
            row.body = response.get_data()
        else:
            db.session.delete(row)
        db.session.commit()
    return response


def init_app(app: Flask) -> None:
    app.before_request(claim)
    app.after_request(record)

