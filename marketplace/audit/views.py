"""The audit log browser for administrators and auditors: filters, paging, readable payloads."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from core.auth import web_actor
from marketplace.audit import services
from marketplace.audit.forms import AuditFilterForm

bp = Blueprint("audit", __name__, template_folder="templates")
PAGE_SIZE = 50


@bp.get("/audit")
def audit_list():
    actor = web_actor()
    form = AuditFilterForm(request.args)
    form.validate()
    filters = {name: (form[name].data or "").strip() or None for name in ("action", "object_type", "object_id")
               if not form[name].errors}
    q = (form.q.data or "").strip() if not form.q.errors else ""
    page_number = 1 if form.page.errors else (form.page.data or 1)
    page = services.audit_list(actor, q=q, page=page_number, page_size=PAGE_SIZE, **filters)
    args = {k: v for k, v in {"q": q, **filters}.items() if v}
    return render_template("audit/list.html", form=form, page=page, args=args)
