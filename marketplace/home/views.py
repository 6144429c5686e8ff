"""The start page and the site shell every page shares: navigation by role, the language switch link (the choice
itself is ``marketplace.i18n``), display filters for money, time, durations and exact figures, and the Swagger UI
assets served from the installed ``swagger-ui-bundle`` package so /api/docs works without outside networks."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from flask import Blueprint, current_app, render_template, request, send_from_directory
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from swagger_ui_bundle import swagger_ui_path

from core.auth import require_role, web_actor
from core.money import Money
from core.roles import Role
from marketplace.catalogue import services as catalogue
from marketplace.home import sdk
from marketplace.home.queue import work_queue
from marketplace.i18n import STATUS_ADVICE, locale_code, status_title, translated
from marketplace.orders import services as orders
from marketplace.schemas import decimal_text

bp = Blueprint("home", __name__, template_folder="templates")

# Times are stored in UTC and shown in the platform's local time.
DISPLAY_TIMEZONE = "Asia/Shanghai"

ROLE_LABELS = {
    Role.CITIZEN: _l("Citizen"),
    Role.DEPARTMENT_STAFF: _l("Department staff"),
    Role.VENDOR_MEMBER: _l("Vendor member"),
    Role.FINANCE: _l("Finance"),
    Role.AUDITOR: _l("Auditor"),
    Role.ADMIN: _l("Administrator"),
}
STATUS_LABELS = {
    "draft": _l("Draft"), "open": _l("Open"), "closed": _l("Closed"), "archived": _l("Archived"),
    "uploaded": _l("Uploaded"), "queued": _l("Queued"), "testing": _l("Testing"), "certified": _l("Certified"),
    "failed": _l("Failed"), "error": _l("Error"), "approved": _l("Approved"), "rejected": _l("Rejected"),
    "published": _l("Published"), "superseded": _l("Superseded"), "suspended": _l("Suspended"),
    "withdrawn": _l("Withdrawn"), "revoked": _l("Revoked"), "active": _l("Active"),
    "grace": _l("grace"), "settled": _l("settled"), "pending": _l("Pending"),  # quarters, as the finance pages name them
}


@bp.get("/")
def index():
    actor = web_actor(required=False)
    return render_template("home/index.html", actor=actor,
                           departments=catalogue.department_list(page_size=50).items,
                           open_orders=orders.order_list(actor, status="open", page_size=10).items)


@bp.get("/work")
def work():
    """The work queue every platform user lands on after logging in (citizens have /my/todo)."""
    actor = web_actor()
    require_role(actor, Role.DEPARTMENT_STAFF, Role.VENDOR_MEMBER, Role.FINANCE, Role.AUDITOR, Role.ADMIN,
                 action="see a work queue")
    return render_template("home/work.html", queue=work_queue(actor))


@bp.get("/sdk")
def sdk_page():
    """The vendor SDK: its version and wheels, and how to install them."""
    return render_template("home/sdk.html", wheels=sdk.wheels(current_app.instance_path), versions=sdk.versions())


@bp.get("/sdk/<filename>")
def sdk_download(filename: str):
    path = sdk.wheel_path(current_app.instance_path, filename)
    return send_from_directory(path.parent, path.name, as_attachment=True, mimetype="application/zip",
                               max_age=24 * 3600)


@bp.get("/static/swagger-ui/<path:filename>")
def swagger_ui_asset(filename: str):
    """The Swagger UI files flask-smorest's /api/docs page loads (OPENAPI_SWAGGER_UI_URL)."""
    return send_from_directory(swagger_ui_path, filename, max_age=24 * 3600)


def _language_url(code: str) -> str:
    args = request.args.to_dict(flat=False)
    args["lang"] = [code]
    return request.path + "?" + urlencode(args, doseq=True)


def _has_endpoint(name: str) -> bool:
    return name in current_app.view_functions


@bp.app_context_processor
def site_shell():
    locale = locale_code()
    other = "en" if locale.startswith("zh") else "zh_CN"
    return {
        "current_actor": web_actor(required=False),
        "html_lang": "en" if locale == "en" else "zh-CN",
        "is_english": locale == "en",
        "other_language": {"code": other, "url": _language_url(other),
                           "label": "English" if other == "en" else "中文", "lang": other.replace("_", "-")},
        "role_labels": ROLE_LABELS,
        "status_labels": STATUS_LABELS,
        "has_endpoint": _has_endpoint,
        "status_title": status_title,
        "status_advice": lambda status: str(STATUS_ADVICE.get(status, "")),
        "translated_message": translated,
    }


@bp.app_template_filter("role_label")
def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


@bp.app_template_filter("yuan")
def yuan(fen: int | None) -> str:
    """An integer of fen as yuan: 123456 → ¥1,234.56."""
    if fen is None:
        return "—"
    return "¥" + Money(int(fen)).format()


@bp.app_template_filter("stars")
def stars(tenths: int) -> str:
    """A rating in tenths of a star as 4.5★."""
    return f"{Decimal(int(tenths)) / 10:.1f}★"


@bp.app_template_filter("duration")
def duration(seconds: int | None) -> str:
    """A handling time: 3 d 4 h, 2 h 5 min, 40 s."""
    if seconds is None:
        return "—"
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return _("%(d)s d %(h)s h", d=days, h=hours)
    if hours:
        return _("%(h)s h %(m)s min", h=hours, m=minutes)
    if minutes:
        return _("%(m)s min", m=minutes)
    return _("%(s)s s", s=secs)


@bp.app_template_filter("fraction")
def fraction(value, places: int = 1) -> str:
    return decimal_text(value, places) or "—"


@bp.app_template_filter("multiplier")
def multiplier(basis_points: int) -> str:
    """A multiplier in basis points as ×1.20 (exact: Decimal, never float)."""
    return f"×{Decimal(int(basis_points)) / 10000:.2f}"


# Parsed once: Babel parses a locale given by name on every call, which was most of the time an item page with
# 20 certification dates spent in this filter.
_DATE_LOCALES = {code: Locale.parse(code) for code in ("en", "zh_CN")}


@bp.app_template_filter("when")
def when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    local = moment.astimezone(ZoneInfo(DISPLAY_TIMEZONE))
    return format_datetime(local, "medium", locale=_DATE_LOCALES[locale_code()])


@bp.app_template_filter("localized")
def localized(obj, attribute: str = "name") -> str:
    """The English name (``<attribute>_en``) on English pages when there is one, else the Chinese name."""
    if locale_code() == "en":
        english = getattr(obj, f"{attribute}_en", "")
        if english:
            return english
    return getattr(obj, attribute)


@bp.app_template_filter("backticks")
def backticks(text) -> Markup:
    """Text with `commands` in backticks, as HTML with each command in <code> (the rest escaped): a translated
    sentence keeps the command's name as the command, in any language."""
    parts = escape(text).split("`")  # escape() leaves HTML (a translated template text) as it is
    return Markup("").join(Markup("<code>") + p + Markup("</code>") if i % 2 else p for i, p in enumerate(parts))


@bp.app_template_filter("pretty_json")
def pretty_json(value) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str)
