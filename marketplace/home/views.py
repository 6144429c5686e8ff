"""The start page."""

from __future__ import annotations

from flask import Blueprint, render_template

from core.auth import web_actor
from marketplace.catalogue import services as catalogue
from marketplace.orders import services as orders

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    actor = web_actor(required=False)
    return render_template("home/index.html", actor=actor,
                           departments=catalogue.department_list(page_size=50).items,
                           open_orders=orders.order_list(actor, status="open", page_size=10).items)
