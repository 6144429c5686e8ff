"""`govmarket demo seed`: the demo dataset `make run` starts with. Idempotent: running it again adds only
what is missing."""

from __future__ import annotations

from pathlib import Path

import click
import sqlalchemy as sa
import yaml
from flask.cli import with_appcontext

from core.auth import SYSTEM
from core.extensions import db
from core.ids import resident_id_check_char, uscc_check_char
from marketplace.accounts import services as accounts
from marketplace.accounts.models import User
from marketplace.catalogue import services as catalogue
from marketplace.catalogue.life_events import life_events_seed
from marketplace.catalogue.models import Department, ServiceItem
from marketplace.demo.data import DEMO_PASSWORD, DEPARTMENTS, ITEMS, ORDERS, VENDORS
from marketplace.orders import services as orders
from marketplace.orders.models import Order
from marketplace.vendors import services as vendors
from marketplace.vendors.models import Vendor

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@click.group("demo", help="The demo dataset.")
def demo_cli():
    pass


@demo_cli.command("seed")
@with_appcontext
def seed_command():
    """Seed departments, service items, open orders, vendors and one account per role; print the logins."""
    accounts_made = seed()
    click.echo(f"\nDemo accounts (password for all: {DEMO_PASSWORD}):")
    for email, role, where in accounts_made:
        click.echo(f"  {role:<17} {email:<40} {where}")


def _one(model, **where):
    return db.session.scalar(sa.select(model).filter_by(**where))


def seed() -> list[tuple[str, str, str]]:
    for code, name, name_en in DEPARTMENTS:
        if not _one(Department, code=code):
            catalogue.department_create(SYSTEM, code=code, name=name, name_en=name_en)
    for dept_code, code, name, name_en, days, trips, fee, materials in ITEMS:
        if not _one(ServiceItem, code=code):
            catalogue.service_item_create(SYSTEM, department_id=_one(Department, code=dept_code).id, code=code,
                                          name=name, name_en=name_en, time_limit_days=days, trips=trips,
                                          fee_fen=fee, materials=materials, channels=["online", "mobile"])
    for spec in ORDERS:
        if _one(Order, slug=spec["slug"]):
            continue
        contract = yaml.safe_load((EXAMPLES / "contracts" / f"{spec['slug']}.openapi.yaml").read_text("utf-8"))
        suite = yaml.safe_load((EXAMPLES / "suites" / f"{spec['slug']}.yaml").read_text("utf-8"))
        item = _one(ServiceItem, code=spec["item"])
        order = orders.order_create(SYSTEM, service_item_id=item.id, slug=spec["slug"], title=spec["title"],
                                    description=spec["description"], contract=contract,
                                    dept_scopes=contract["x-govapp"]["dept_scopes"],
                                    citizen_scopes=contract["x-govapp"]["citizen_scopes"],
                                    fee_per_transaction_fen=spec["fee_per_transaction_fen"],
                                    quarterly_budget_fen=spec["quarterly_budget_fen"])
        orders.suite_add(SYSTEM, order.id, suite)
        orders.order_publish(SYSTEM, order.id)
    life_events_seed(SYSTEM)  # the citizen catalogue's life events, over the items above
    for _key, name, code17 in VENDORS:
        code = code17 + uscc_check_char(code17)
        if not _one(Vendor, credit_code=code):
            vendors.vendor_create(SYSTEM, name=name, credit_code=code, contact_email=f"dev@{_key}.example.cn")

    made = []

    def user(email, name, role, where="", **kw):
        if not _one(User, email=email):
            accounts.user_create(SYSTEM, email=email, display_name=name, role=role, password=DEMO_PASSWORD, **kw)
        made.append((email, role, where))

    user("admin@govmarket.example.cn", "平台管理员 Admin", "admin")
    user("finance@govmarket.example.cn", "财政 Finance Officer", "finance")
    user("auditor@govmarket.example.cn", "审计 Auditor", "auditor")
    for code in ("market-regulation", "social-security"):
        dept = _one(Department, code=code)
        user(f"staff@{code}.gov.example.cn", f"{dept.name} 工作人员", "department_staff", dept.name,
             department_id=dept.id)
    for key, name, code17 in VENDORS:
        vendor = _one(Vendor, credit_code=code17 + uscc_check_char(code17))
        user(f"dev@{key}.example.cn", f"{name.split()[0]} 开发者", "vendor_member", vendor.name, vendor_id=vendor.id)
    rid = "11010519900307457" + resident_id_check_char("11010519900307457")
    user("citizen@example.cn", "张伟 Citizen", "citizen", f"resident {rid}", resident_id=rid)
    return made
