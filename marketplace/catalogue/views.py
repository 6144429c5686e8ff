"""The departments' "stores": every department with its service items, their guides and its open orders."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from core.auth import web_actor
from marketplace.catalogue import services
from marketplace.orders import services as orders

bp = Blueprint("catalogue", __name__)


@bp.get("/departments")
def department_list():
    q = request.args.get("q", "").strip()[:200]
    page = services.department_list(q=q, page=request.args.get("page", 1, type=int),
                                    page_size=current_app.config["PAGE_SIZE"])
    return render_template("catalogue/department_list.html", page=page, q=q)


@bp.get("/departments/<code>")
def department_show(code: str):
    department = services.department_get(code)
    actor = web_actor(required=False)
    return render_template(
        "catalogue/department_show.html", department=department,
        items=services.service_item_list(department_id=department.id, page_size=100).items,
        open_orders=orders.order_list(actor, status="open", department_id=department.id, page_size=50).items)
