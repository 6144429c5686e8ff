"""HTTP conventions of the REST API, one way everywhere: a list's body is a plain JSON list and its paging facts
are headers; a 201 says in ``Location`` where the new thing is."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from flask import request


def page_headers(*, total: int, page: int, page_size: int) -> dict[str, str]:
    """RFC 8288 ``Link`` to the first, previous, next and last pages (the request's own query with ``page`` and
    ``page_size`` replaced), ``X-Total-Count``, and the same facts as JSON in ``X-Pagination``. Documented on every
    paged operation by marketplace.apidoc."""
    pages = max(1, -(-total // page_size))

    def link(number: int, rel: str) -> str:
        query = request.args.to_dict(flat=False)
        query["page"] = [str(number)]
        query["page_size"] = [str(page_size)]
        return f'<{request.base_url}?{urlencode(query, doseq=True)}>; rel="{rel}"'

    links = [link(1, "first")]
    if page > 1:
        links.append(link(min(page - 1, pages), "prev"))
    if page < pages:
        links.append(link(page + 1, "next"))
    links.append(link(pages, "last"))
    return {"Link": ", ".join(links), "X-Total-Count": str(total),
            "X-Pagination": json.dumps({"total": total, "total_pages": pages, "page": page, "page_size": page_size})}


def created(body, location: str):
    """A 201 answer's body with the ``Location`` of what was created (RFC 9110 §10.2.2); document it with
    ``@blp.doc(**LOCATION)``."""
    return body, {"Location": location}


LOCATION = {"responses": {201: {"headers": {"Location": {
    "description": "The URL of what was created", "schema": {"type": "string", "format": "uri"}}}}}}


def location_of(target: str, parameters: dict[str, str], *more: str) -> dict:
    """LOCATION plus OpenAPI links from the 201 answer to ``target`` (the operation its Location names) and to
    ``more`` operations on the same object, each parameter taken from a field of the answer's body. Clients and
    schemathesis' stateful tests follow them (create an app → upload a version → read its report)."""
    values = {name: f"$response.body#/{field}" for name, field in parameters.items()}
    links = {operation: {"operationId": operation, "parameters": dict(values)} for operation in (target, *more)}
    return {"responses": {201: {**LOCATION["responses"][201], "links": links}}}


IDEMPOTENCY_KEY = {
    "in": "header", "name": "Idempotency-Key", "required": False, "schema": {"type": "string", "maxLength": 255},
    "description": "A key you choose (e.g. a UUID) to make retries safe: the same key with the same request within "
                   "24 hours gets the first successful answer again (header Idempotent-Replayed: true) and changes "
                   "nothing; 409 while the first is still running, 422 if the key was used for another request."}
