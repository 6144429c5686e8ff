"""The platform's standing data: departments and their service items, the two open orders, life events, the six
vendors and one account per role. Idempotent: what exists is left alone."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
import yaml

from core.auth import SYSTEM
from core.extensions import db
from core.ids import resident_id_check_char, uscc_check_char
from marketplace.accounts import services as accounts
from marketplace.accounts.models import User
from marketplace.catalogue import services as catalogue
from marketplace.catalogue.life_events import LIFE_EVENTS, life_events_seed
from marketplace.catalogue.models import Department, LifeEvent, ServiceItem
from marketplace.demo.data import DEMO_PASSWORD, DEPARTMENTS, ITEMS, ORDERS, VENDORS
from marketplace.demo.timeline import Timeline
from marketplace.orders import services as orders
from marketplace.orders.models import Order
from marketplace.vendors import services as vendors
from marketplace.vendors.models import Vendor

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CITIZEN_RESIDENT_ID = "11010519900307457" + resident_id_check_char("11010519900307457")
# Department staff accounts, by department code: the two departments that published the demo's orders.
STAFF = {"market-regulation": "staff@market-regulation.gov.example.cn",
         "social-security": "staff@social-security.gov.example.cn"}


def one(model, **where):
    return db.session.scalar(sa.select(model).filter_by(**where))


def vendor_email(key: str) -> str:
    return f"dev@{key}.example.cn"


def vendor_of(key: str) -> Vendor | None:
    code17 = next(code for k, _name, code in VENDORS if k == key)
    return one(Vendor, credit_code=code17 + uscc_check_char(code17))


def seed_base(when: Timeline) -> list[tuple[str, str, str]]:
    """Departments, items, the open orders (published ``when.orders_published_at``), life events, vendors and
    the accounts; returns (email, role, where) of every account a visitor can log in with."""
    for code, name, name_en in DEPARTMENTS:
        if not one(Department, code=code):
            catalogue.department_create(SYSTEM, code=code, name=name, name_en=name_en)
    for dept_code, code, name, name_en, days, trips, fee, materials in ITEMS:
        if not one(ServiceItem, code=code):
            catalogue.service_item_create(SYSTEM, department_id=one(Department, code=dept_code).id, code=code,
                                          name=name, name_en=name_en, time_limit_days=days, trips=trips,
                                          fee_fen=fee, materials=materials, channels=["online", "mobile", "window"])
    for spec in ORDERS:
        if one(Order, slug=spec["slug"]):
            continue
        contract = yaml.safe_load((EXAMPLES / "contracts" / f"{spec['slug']}.openapi.yaml").read_text("utf-8"))
        suite = yaml.safe_load((EXAMPLES / "suites" / f"{spec['slug']}.yaml").read_text("utf-8"))
        item = one(ServiceItem, code=spec["item"])
        order = orders.order_create(SYSTEM, service_item_id=item.id, slug=spec["slug"], title=spec["title"],
                                    description=spec["description"], contract=contract,
                                    dept_scopes=contract["x-govapp"]["dept_scopes"],
                                    citizen_scopes=contract["x-govapp"]["citizen_scopes"],
                                    fee_per_transaction_fen=spec["fee_per_transaction_fen"],
                                    quarterly_budget_fen=spec["quarterly_budget_fen"])
        orders.suite_add(SYSTEM, order.id, suite)
        # Published before the past quarter began: the settlement of that quarter covers orders live in it.
        orders.order_publish(SYSTEM, order.id, now=when.orders_published_at)
    if {code for code, *_rest in LIFE_EVENTS} - set(db.session.scalars(sa.select(LifeEvent.code))):
        life_events_seed(SYSTEM)  # the citizen catalogue's life events, over the items above
    for key, name, code17 in VENDORS:
        code = code17 + uscc_check_char(code17)
        if not one(Vendor, credit_code=code):
            vendors.vendor_create(SYSTEM, name=name, credit_code=code, contact_email=vendor_email(key))

    made = []

    def user(email, name, role, where="", **kw):
        if not one(User, email=email):
            accounts.user_create(SYSTEM, email=email, display_name=name, role=role, password=DEMO_PASSWORD, **kw)
        made.append((email, role, where))

    user("admin@govmarket.example.cn", "平台管理员 Admin", "admin")
    user("finance@govmarket.example.cn", "财政 Finance Officer", "finance")
    user("auditor@govmarket.example.cn", "审计 Auditor", "auditor")
    for code, email in STAFF.items():
        dept = one(Department, code=code)
        user(email, f"{dept.name} 工作人员", "department_staff", dept.name, department_id=dept.id)
    for key, name, _code17 in VENDORS:
        vendor = vendor_of(key)
        user(vendor_email(key), f"{name.split()[0]} 开发者", "vendor_member", vendor.name, vendor_id=vendor.id)
    user("citizen@example.cn", "张伟 Citizen", "citizen", f"resident {CITIZEN_RESIDENT_ID}",
         resident_id=CITIZEN_RESIDENT_ID)
    return made
