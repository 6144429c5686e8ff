"""A typed client for the platform's REST API, for vendors' and departments' automation.

    client = PlatformClient.login("https://market.example.gov.cn", client_id, client_secret)
    order = client.get_order(12)
    app = client.create_app(order_id=12, name="食安通", slug="shiantong", summary="…")
    version = client.upload_version(app["id"], "1.0.0", Path("dist/shiantong-1.0.0.tar.gz"))
    final = client.wait_for_version(version["id"], on_update=print)

Every error answer becomes a PlatformError carrying the status and the problem details the platform sent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import httpx

__all__ = ["FINAL_VERSION_STATES", "Page", "PlatformClient", "PlatformError", "Token"]

# Version states after which certification no longer changes on its own.
FINAL_VERSION_STATES = frozenset({"certified", "failed", "error", "approved", "published", "superseded", "suspended",
                                  "withdrawn", "rejected"})


class PlatformError(Exception):
    """The platform refused a call: `status`, `title`, `detail` (what was wrong and what to do), `body`."""

    def __init__(self, status: int, title: str, detail: str, body: Any = None):
        self.status = status
        self.title = title
        self.detail = detail
        self.body = body
        super().__init__(f"{status} {title}: {detail}" if detail else f"{status} {title}")


class Token(TypedDict, total=False):
    """An OAuth 2 token answer of the platform (client credentials): `access_token`, `token_type`, `expires_in`,
    `expires_at` (added by the client: epoch seconds) and `scope`."""
    access_token: str
    token_type: str
    expires_in: int
    expires_at: int
    scope: str


class Order(TypedDict, total=False):
    id: int
    slug: str
    title: str
    status: str
    contract: dict
    dept_scopes: list[str]
    citizen_scopes: list[str]
    suite_version: str


class App(TypedDict, total=False):
    id: int
    order_id: int
    name: str
    slug: str
    summary: str


class Version(TypedDict, total=False):
    id: int
    app_id: int
    version: str
    status: str
    progress: Any


@dataclass(frozen=True)
class Page:
    """One page of a list the API paginates: its `items` and the `X-Pagination` header's `pagination` (total,
    total_pages, page, page_size, …)."""
    items: list[dict]
    pagination: dict  # from the X-Pagination header: total, total_pages, page, ...


class PlatformClient:
    """One platform, one bearer token. Thread-compatible: use one client per thread."""

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None):
        self.base_url = base_url.rstrip("/")
        headers = {"Accept": "application/json", "User-Agent": "govapp-sdk"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout, transport=transport)

    def close(self) -> None:
        """Close the HTTP connections (also done when leaving a `with PlatformClient(...)` block)."""
        self._http.close()

    def __enter__(self) -> PlatformClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ auth

    @staticmethod
    def fetch_token(base_url: str, client_id: str, client_secret: str, scope: str | None = None, *,
                    transport: httpx.BaseTransport | None = None, timeout: float = 30.0) -> Token:
        """OAuth 2 client credentials at POST /oauth/token (HTTP Basic); returns the token with `expires_at`."""
        data = {"grant_type": "client_credentials"}
        if scope:
            data["scope"] = scope
        with httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, transport=transport) as http:
            response = http.post("/oauth/token", data=data, auth=(client_id, client_secret))
        _raise_for_problem(response)
        token: Token = response.json()
        if "access_token" not in token:
            raise PlatformError(response.status_code, "no access token", f"the platform answered {token!r}")
        if token.get("expires_in"):
            token["expires_at"] = int(time.time()) + int(token["expires_in"])
        return token

    @classmethod
    def login(cls, base_url: str, client_id: str, client_secret: str, scope: str | None = None, **kwargs) -> PlatformClient:
        """A client holding a fresh client-credentials token."""
        transport = kwargs.get("transport")
        token = cls.fetch_token(base_url, client_id, client_secret, scope, transport=transport)
        return cls(base_url, token["access_token"], **kwargs)

    # ------------------------------------------------------------------ transport

    def _request(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise PlatformError(504, "timeout", f"{method} {path} took longer than the client timeout") from exc
        except httpx.TransportError as exc:
            raise PlatformError(503, "unreachable", f"cannot reach {self.base_url} ({exc})") from exc
        _raise_for_problem(response)
        return response

    def _json(self, method: str, path: str, **kwargs) -> Any:
        response = self._request(method, path, **kwargs)
        return response.json() if response.content else None

    def _page(self, path: str, params: Mapping[str, Any]) -> Page:
        response = self._request("GET", path, params={k: v for k, v in params.items() if v is not None})
        header = response.headers.get("X-Pagination")
        pagination = json.loads(header) if header else {}
        body = response.json()
        items = body if isinstance(body, list) else body.get("items", [])
        return Page(items, pagination)

    def _iterate(self, path: str, params: Mapping[str, Any]) -> Iterator[dict]:
        page = 1
        while True:
            result = self._page(path, {**params, "page": page})
            yield from result.items
            total_pages = result.pagination.get("total_pages")
            if not result.items or total_pages is None or page >= int(total_pages):
                return
            page += 1

    # ------------------------------------------------------------------ orders

    def list_orders(self, *, status: str | None = "open", q: str | None = None, page: int = 1, page_size: int = 20) -> Page:
        """GET /api/orders: one page of orders (X-Pagination in `Page.pagination`)."""
        return self._page("/api/orders", {"status": status, "q": q, "page": page, "page_size": page_size})

    def iter_orders(self, *, status: str | None = "open", q: str | None = None, page_size: int = 50) -> Iterator[Order]:
        """Every order matching, across pages."""
        yield from self._iterate("/api/orders", {"status": status, "q": q, "page_size": page_size})

    def get_order(self, order: int | str) -> Order:
        """GET /api/orders/{id}: contract (OpenAPI), dept_scopes, citizen_scopes, price schedule, suite version.

        `order` is the numeric id or the order's slug (looked up among the orders you can see).
        """
        return self._json("GET", f"/api/orders/{self.order_id(order)}")

    def order_id(self, order: int | str) -> int:
        """The numeric id of an order given by id or slug."""
        if isinstance(order, int) or str(order).isdigit():
            return int(order)
        for status in ("open", None):
            for candidate in self.iter_orders(status=status, q=str(order)):
                if candidate.get("slug") == order:
                    return int(candidate["id"])
        raise PlatformError(404, "Not Found", f"no order with slug {order!r} is visible to you; `govapp orders` lists them")

    def get_suite(self, order: int | str, version: int | None = None) -> dict:
        """GET /api/orders/{id}/suite: the suite document (vendors: public cases + hidden counts)."""
        body = self._json("GET", f"/api/orders/{self.order_id(order)}/suite", params={"version": version} if version else None)
        if isinstance(body, dict) and "cases" not in body:
            for key in ("document", "suite"):  # {order_id, version, sha256, complete, document}
                if isinstance(body.get(key), dict):
                    return body[key]
        return body

    def create_order(self, **fields: Any) -> Order:
        """POST /api/orders (department staff): service_item_id, slug, title, contract, fees, budget, scopes …"""
        return self._json("POST", "/api/orders", json=fields)

    def update_order(self, order_id: int, *, expected_revision: int | None = None, **fields: Any) -> Order:
        """PATCH /api/orders/{id}; pass the revision you read to refuse a lost update (409)."""
        if expected_revision is not None:
            fields["expected_revision"] = expected_revision
        return self._json("PATCH", f"/api/orders/{order_id}", json=fields)

    def publish_order(self, order_id: int) -> Order:
        """POST /api/orders/{id}/publish: a draft order opens and accepts apps (department staff of its department)."""
        return self._json("POST", f"/api/orders/{order_id}/publish")

    def close_order(self, order_id: int) -> Order:
        """POST /api/orders/{id}/close: the order takes no new apps; published apps keep serving."""
        return self._json("POST", f"/api/orders/{order_id}/close")

    def archive_order(self, order_id: int) -> Order:
        """POST /api/orders/{id}/archive: a closed order leaves the lists."""
        return self._json("POST", f"/api/orders/{order_id}/archive")

    def add_suite(self, order_id: int, document: Mapping[str, Any]) -> dict:
        """POST /api/orders/{id}/suite: a new suite version (the document, see docs/suite-format.md)."""
        return self._json("POST", f"/api/orders/{order_id}/suite", json=dict(document))

    def list_questions(self, order_id: int) -> list[dict]:
        """GET /api/orders/{id}/questions: public clarification questions and answers."""
        return self._json("GET", f"/api/orders/{order_id}/questions")

    def ask_question(self, order_id: int, text: str) -> dict:
        """POST /api/orders/{id}/questions: a vendor's public clarification question (the asker stays anonymous)."""
        return self._json("POST", f"/api/orders/{order_id}/questions", json={"text": text})

    def answer_question(self, question_id: int, answer: str) -> dict:
        """PUT /api/orders/questions/{id}/answer: the department's public answer to a question."""
        return self._json("PUT", f"/api/orders/questions/{question_id}/answer", json={"answer": answer})

    def me(self) -> dict:
        """GET /api/me: who the token belongs to."""
        return self._json("GET", "/api/me")

    # ------------------------------------------------------------------ apps and versions

    def create_app(self, *, order_id: int | str, name: str, slug: str, summary: str = "") -> App:
        """POST /api/apps: register an app for an order."""
        return self._json("POST", "/api/apps", json={"order_id": order_id, "name": name, "slug": slug, "summary": summary})

    def list_apps(self, *, page: int = 1, page_size: int = 50) -> Page:
        """GET /api/apps: the caller's apps."""
        return self._page("/api/apps", {"page": page, "page_size": page_size})

    def get_app(self, app_id: int | str) -> App:
        """GET /api/apps/{id}: one app (by id or slug) with its order and published version."""
        return self._json("GET", f"/api/apps/{app_id}")

    def list_versions(self, app_id: int | str) -> list[Version]:
        """GET /api/apps/{id}/versions: every uploaded version of an app with its status."""
        body = self._json("GET", f"/api/apps/{app_id}/versions")
        return body if isinstance(body, list) else body.get("items", [])

    def upload_version(self, app_id: int | str, version: str, bundle: Path,
                       progress: Callable[[int, int], None] | None = None, chunk_size: int = 256 * 1024) -> Version:
        """POST /api/apps/{id}/versions?version=…: stream the bundle as the raw body; returns the new version (201)."""
        size = bundle.stat().st_size

        def chunks() -> Iterator[bytes]:
            sent = 0
            with bundle.open("rb") as handle:
                while block := handle.read(chunk_size):
                    sent += len(block)
                    if progress:
                        progress(sent, size)
                    yield block

        return self._json("POST", f"/api/apps/{app_id}/versions", params={"version": version}, content=chunks(),
                          headers={"Content-Type": "application/gzip", "Content-Length": str(size)},
                          timeout=httpx.Timeout(30.0, write=300.0))

    def get_version(self, version_id: int | str) -> Version:
        """GET /api/versions/{id}: status and certification progress."""
        return self._json("GET", f"/api/versions/{version_id}")

    def get_report(self, version_id: int | str) -> dict:
        """GET /api/versions/{id}/report: the certification report (diffs for public cases only)."""
        return self._json("GET", f"/api/versions/{version_id}/report")

    def wait_for_version(self, version_id: int | str, *, poll_s: float = 2.0, timeout_s: float = 1800.0,
                         on_update: Callable[[Version], None] | None = None) -> Version:
        """Poll a version until its certification reaches a final state; calls `on_update` on every change."""
        end = time.monotonic() + timeout_s
        last: Any = None
        while True:
            version = self.get_version(version_id)
            snapshot = (version.get("status"), json.dumps(version.get("progress"), sort_keys=True, default=str))
            if snapshot != last and on_update:
                on_update(version)
            last = snapshot
            if version.get("status") in FINAL_VERSION_STATES:
                return version
            if time.monotonic() >= end:
                raise PlatformError(504, "still running", f"version {version_id} is still {version.get('status')!r} "
                                                          f"after {timeout_s:.0f} s; run `govapp status {version_id}` later")
            time.sleep(poll_s)


def _raise_for_problem(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = response.text[:500]
    if isinstance(body, dict):
        title = str(body.get("title") or body.get("error") or response.reason_phrase)
        detail = str(body.get("detail") or body.get("error_description") or body.get("message") or "")
        if not detail and isinstance(body.get("errors"), dict):
            detail = json.dumps(body["errors"], ensure_ascii=False)
    else:
        title, detail = response.reason_phrase, str(body)
    raise PlatformError(response.status_code, title, detail, body)
