"""The gateway on the apps' origins: host dispatch in front of the platform, and the WSGI app that answers
every request to ``<slug>.<APPS_DOMAIN>``.

A request for an app host never reaches a platform route: ``HostDispatch`` sends it here, where only
``/_gateway/…`` is the gateway's own and everything else is proxied to the app — after the gateway session
(its own cookie on the app's origin) names the citizen. The platform's Flask session is never opened here.
"""

from __future__ import annotations

import logging
import re
import secrets
from contextlib import nullcontext
from html import escape
from urllib.parse import quote, unquote_plus

from flask import Flask, current_app, has_app_context
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from core.errors import DomainError, NotFound
from core.redirects import safe_redirect_target
from marketplace.gateway import bar, instances, services
from marketplace.gateway.proxy import BodyTooLarge, ProxyLimits, ResponseTooLarge, forward, request_headers, spool_body
from marketplace.gateway.remote import RemoteServing, ServingFailed

log = logging.getLogger(__name__)

COOKIE = "govgw_session"
# The name the gateway's cookie has wherever the browser takes a Secure cookie (https, and http on *.localhost):
# a "__Host-" cookie must come from the origin itself, so a sibling app cannot plant one for the whole apps domain.
HOST_COOKIE = "__Host-" + COOKIE
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
PREFIX = "/_gateway/"
STARTING_REFRESH_SECONDS = 0  # at once: the next request itself waits up to GATEWAY_STARTING_PAGE_SECONDS


def navigation(request: Request) -> bool:
    """Whether a browser is opening a page (rather than a script fetching data): only then may the answer be the
    gateway's "starting" page instead of the app's."""
    if request.method not in ("GET", "HEAD"):
        return False
    mode = request.headers.get("Sec-Fetch-Mode")
    if mode is not None:
        return mode == "navigate"
    return request.accept_mimetypes.accept_html and "text/html" in request.headers.get("Accept", "")


def split_host(host: str) -> tuple[str, str]:
    host = host.strip().lower().rstrip(".")
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        return name, rest.lstrip(":")
    name, _, port = host.partition(":")
    return name, port


def reserved_cookies(config) -> frozenset[str]:
    """Cookies the app never sees and may never set: the gateway's own and the platform's."""
    names = {COOKIE, config.get("SESSION_COOKIE_NAME") or "session", config.get("REMEMBER_COOKIE_NAME") or "remember_token",
             "session"}
    return frozenset(names | {"__Host-" + name for name in names if not name.startswith("__Host-")})


def failure(exc: Exception, limits: ProxyLimits, slug: str) -> tuple[int, str]:
    """The status and page text for a request ``forward`` could not complete (re-raises what is not its)."""
    if isinstance(exc, DomainError):
        raise exc
    if isinstance(exc, HTTPException):  # e.g. a chunked body that breaks while read (request_guards.BodyReadGuard)
        return exc.code or 400, exc.description or exc.name
    if isinstance(exc, ServingFailed):
        return exc.status, exc.detail
    if isinstance(exc, BodyTooLarge):
        return 413, f"The request is larger than {limits.request_bytes} bytes."
    if isinstance(exc, ResponseTooLarge):
        return 502, "The app answered with more data than the platform passes on."
    if isinstance(exc, TimeoutError):
        return 504, "The app did not answer in time; please try again."
    if isinstance(exc, OSError):
        log.warning("gateway: %s did not answer: %s", slug, exc)
        return 502, "The app is not answering right now; please try again."
    log.warning("gateway: %s answered badly: %s", slug, exc)  # http.client.HTTPException: it broke the protocol
    return 502, "The app answered with something that is not HTTP."


def starting_page(app: Flask, app_name: str, catalogue_url: str) -> Response:
    """The page a browser sees while the app's instance starts (503, Retry-After: the app is not there yet). It
    asks for the same address again at once, and that request waits up to GATEWAY_STARTING_PAGE_SECONDS for the
    start: the app's page replaces it as soon as the app answers, with one request a second meanwhile. Made by the
    web's gateway, or by the serving host for the apps it runs."""
    nonce = secrets.token_urlsafe(8)
    with app.app_context():
        html = app.jinja_env.get_template("gateway/starting.html").render(
            app_name=app_name, refresh_seconds=STARTING_REFRESH_SECONDS, nonce=nonce, catalogue_url=catalogue_url)
    response = Response(html, status=503, content_type="text/html; charset=utf-8")
    response.headers["Retry-After"] = "1"
    response.headers["Content-Security-Policy"] = f"default-src 'none'; style-src 'nonce-{nonce}'; frame-ancestors 'none'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


class HostDispatch:
    """WSGI middleware: requests whose Host is ``<label>.<APPS_DOMAIN>`` (any port) or the bare APPS_DOMAIN go to
    the app origin; everything else to the platform."""

    def __init__(self, platform, origin, apps_domain: str):
        self.platform = platform
        self.origin = origin
        self.domain_name, _port = split_host(apps_domain)

    def slug_for(self, host: str) -> str | None:
        """The app slug for ``host`` ('' for a host under the apps domain that names no app), or None for the
        platform."""
        name, _port = split_host(host)
        if name == self.domain_name:
            return ""
        if name.endswith("." + self.domain_name):
            label = name[: -len(self.domain_name) - 1]
            return label if SLUG.match(label) else ""
        return None

    def __call__(self, environ, start_response):
        slug = self.slug_for(environ.get("HTTP_HOST") or environ.get("SERVER_NAME", ""))
        if slug is None:
            return self.platform(environ, start_response)
        environ["govmarket.app_slug"] = slug
        return self.origin(environ, start_response)


class AppOrigin:
    """Answers the apps' origins: ``/_gateway/launch`` redeems a launch code, the rest is proxied to the app."""

    def __init__(self, app: Flask):
        self.app = app
        config = app.config
        self.apps_domain = config["APPS_DOMAIN"]
        self.secure = config.get("ENV") == "production"
        self.limits = ProxyLimits(config["GATEWAY_REQUEST_BYTES"], config["GATEWAY_RESPONSE_BYTES"],
                                  float(config["GATEWAY_TIMEOUT_SECONDS"]))
        self.reserved = reserved_cookies(config)
        # Set: apps are served by the serving host at that address (docs/gateway.md, "Serving hosts").
        self.serving = RemoteServing.from_config(config) if config.get("SERVING_URL") else None
        # A browser opening an app whose instance is not running waits this long for it, then sees the "starting"
        # page, which reloads until the app answers (0: every request waits for the start).
        self.starting_page_seconds = float(config["GATEWAY_STARTING_PAGE_SECONDS"])

    # -- addresses ---------------------------------------------------------------------------------
    def scheme(self, request: Request) -> str:
        return "https" if self.secure else request.scheme

    def cookie(self, request: Request) -> tuple[str, bool]:
        """The gateway cookie's name on this origin and whether it is Secure: "__Host-" and Secure where the browser
        accepts a Secure cookie (https, or a *.localhost name, which browsers treat as a secure origin)."""
        name, _port = split_host(request.host)
        secure = self.secure or self.scheme(request) == "https" or name == "localhost" or name.endswith(".localhost")
        return (HOST_COOKIE if secure else COOKIE), secure

    def origin_of(self, request: Request, slug: str) -> str:
        return f"{self.scheme(request)}://{slug}.{self.apps_domain}"

    def platform_url(self, request: Request, path: str) -> str:
        """An address on the platform (its public base URL is the ISSUER setting)."""
        return str(self.app.config["ISSUER"]).rstrip("/") + path

    def context(self):
        """The platform's app context for database work (no request context: the platform session is never
        opened here). Its teardown ends the database session, as after any platform request."""
        if has_app_context() and current_app._get_current_object() is self.app:
            return nullcontext()  # already inside one (a WSGI server embedding the app, tests)
        return self.app.app_context()

    # -- WSGI --------------------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        request = Request(environ)
        slug = environ.get("govmarket.app_slug", "")
        try:
            response = self.handle(request, slug)
        except DomainError as exc:
            response = self.page(request, slug, exc.status, exc.message)
        except HTTPException as exc:  # a body that breaks while read (request_guards.BodyReadGuard)
            response = self.page(request, slug, exc.code or 400, exc.description or exc.name)
        except Exception:
            log.exception("gateway: %s %s on %s failed", request.method, request.path, slug)
            response = self.page(request, slug, 500, "Something went wrong on our side; it has been logged.")
        return response(environ, start_response)

    def handle(self, request: Request, slug: str) -> Response:
        if not slug:
            raise NotFound("no app is served at this address; choose an app from the catalogue")
        if request.path == PREFIX + "launch":
            return self.launch(request, slug)
        if request.path == PREFIX + "leave":
            return self.leave(request, slug)
        if request.path.startswith(PREFIX):
            raise NotFound(f"{request.path} is not a gateway address")
        return self.proxy(request, slug)

    def launch(self, request: Request, slug: str) -> Response:
        with self.context():
            token, _session = services.launch_redeem(slug, request.args.get("code", ""),
                                                     session_seconds=int(self.app.config["GATEWAY_SESSION_SECONDS"]))
        # Only a path of this app's origin (core.redirects: what a browser would read as another host is refused).
        target = safe_redirect_target(request.args.get("next"), hosts=(request.host,)) or "/"
        # The code must not linger in the address bar or in a Referer: answer with a redirect to a clean URL.
        response = Response(status=303, headers={"Location": target, "Cache-Control": "no-store",
                                                  "Referrer-Policy": "no-referrer"})
        name, secure = self.cookie(request)
        response.set_cookie(name, token, max_age=int(self.app.config["GATEWAY_SESSION_SECONDS"]), path="/",
                            httponly=True, samesite="Lax", secure=secure)
        return response

    def leave(self, request: Request, slug: str) -> Response:
        with self.context():
            app, _version = services.served_app_get(slug)
            name, secure = self.cookie(request)
            services.gateway_session_end(app.id, request.cookies.get(name))
        response = Response(status=303, headers={"Location": self.platform_url(request, "/")})
        response.delete_cookie(name, path="/", httponly=True, samesite="Lax", secure=secure)
        return response

    def proxy(self, request: Request, slug: str) -> Response:
        origin = self.origin_of(request, slug)
        try:
            named = self.named(request)
        except Exception as exc:
            status, detail = failure(exc, self.limits, slug)
            return self.page(request, slug, status, detail)
        cookie = request.cookies.get(self.cookie(request)[0])
        with self.context(), services.reading_ahead(slug, cookie):
            app = services.served_app_cached(slug)
            app_name = app.name  # for the platform bar (kept in the ServedApp: no read)
            session = services.gateway_session_claims(app, cookie,
                                                      idle_seconds=int(self.app.config["GATEWAY_SESSION_IDLE_SECONDS"]))
            if session is None:
                return self.page(request, slug, 401, "Open this app from the platform to sign in to it.", launch=True)
            token = services.identity_token_of(session, audience=origin)
            department_token = services.department_token_of(session, named=named)
            served = None if self.serving else instances.served_version_of(self.app.config, app, origin=origin)
        headers = request_headers(request.environ, reserved_cookies=self.reserved,
                                  host=origin.split("://", 1)[1], proto=self.scheme(request), identity_token=token,
                                  department_token=department_token)
        if self.serving is None:
            assert served is not None
            registry = instances.registry(self.app)
            if (self.starting_page_seconds > 0 and navigation(request)
                    and not registry.ready_within(served, self.starting_page_seconds)):
                return self.starting(request, app_name)  # the start goes on; the page asks again until it is done
            instance = registry.acquire(served)
        try:
            if self.serving is not None:  # the serving host runs the app (SERVING_URL)
                upstream = self.serving.forward(slug, request.environ, headers, self.limits,
                                                reserved_cookies=self.reserved)
            else:
                upstream = forward(instance, request.environ, headers, self.limits, reserved_cookies=self.reserved,
                                   on_close=lambda: registry.release(instance))
        except Exception as exc:
            status, detail = failure(exc, self.limits, slug)
            return self.page(request, slug, status, detail)
        body, response_headers = upstream.body, upstream.headers
        if bar.injectable(upstream.status, response_headers):
            language = "en" if request.accept_languages.best_match(("zh-CN", "zh", "en")) == "en" else "zh"
            body = bar.WithBar(body, bar.bar_html(self.platform_url(request, "/"), slug, app_name, language))
            response_headers = bar.without_length(response_headers)
        return Response(body, status=f"{upstream.status} {upstream.reason}", headers=response_headers,
                        direct_passthrough=True)

    def named(self, request: Request) -> list[str]:
        """Whom the request names (resident IDs, credit codes in its path, query and a form-sized body), for the
        department token: a refusal about them is the citizen's question, not the app reading on its own. The body
        is spooled here (within the request limit) and forwarded from that same spool (``spool_body``)."""
        environ = request.environ
        spooled, size = spool_body(environ, self.limits.request_bytes)
        texts = [environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")]
        if spooled is not None and size <= services.NAMED_BODY_BYTES:
            texts.append(unquote_plus(spooled.read().decode("utf-8", "replace")))
        return services.subjects_named(*texts)

    # -- pages -------------------------------------------------------------------------------------
    def starting(self, request: Request, app_name: str) -> Response:
        return starting_page(self.app, app_name, self.platform_url(request, "/"))

    def page(self, request: Request, slug: str, status: int, detail: str, *, launch: bool = False) -> Response:
        """A friendly page of the gateway, in the platform's look, that leaks nothing of the platform's session."""
        nonce = secrets.token_urlsafe(8)
        with self.context():
            template = self.app.jinja_env.get_template("gateway/page.html")
            html = template.render(status=status, detail=detail, slug=escape(slug),
                                   catalogue_url=self.platform_url(request, "/"),
                                   launch_url=self.platform_url(request, f"/apps/{quote(slug)}/launch") if launch else None,
                                   nonce=nonce)
        response = Response(html, status=status, content_type="text/html; charset=utf-8")
        response.headers["Content-Security-Policy"] = f"default-src 'none'; style-src 'nonce-{nonce}'; frame-ancestors 'none'"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        return response

