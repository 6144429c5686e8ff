"""The order rules one by one, called directly (CKAN style): each use case's rule for every role, on the
owning department's order and another's, in each status."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from core.errors import Forbidden, NotFound, Unauthenticated
from marketplace.orders import authz

DEPT, OTHER = 1, 2


def actor(role, department_id=None, vendor_id=None):
    return SimpleNamespace(id=7, role=role, department_id=department_id, vendor_id=vendor_id)


ACTORS = {
    "anonymous": None, "citizen": actor("citizen"), "vendor": actor("vendor_member", vendor_id=3),
    "staff": actor("department_staff", DEPT), "other_staff": actor("department_staff", OTHER),
    "finance": actor("finance"), "auditor": actor("auditor"), "admin": actor("admin"),
}


def order(status, department_id=DEPT):
    return SimpleNamespace(id=11, status=status, department_id=department_id)


def outcome(rule, who, target):
    try:
        result = rule(ACTORS[who], target)
    except (NotFound, Forbidden, Unauthenticated) as exc:
        return type(exc).__name__
    return "ok" if result is None else result


@pytest.mark.parametrize("status", ["open", "closed"])
def test_order_get_published_orders_are_public(status):
    assert {who: outcome(authz.order_get, who, order(status)) for who in ACTORS} == dict.fromkeys(ACTORS, "ok")


@pytest.mark.parametrize("status", ["draft", "archived"])
def test_order_get_drafts_and_archives_for_their_department_and_oversight(status):
    seen = {who: outcome(authz.order_get, who, order(status)) for who in ACTORS}
    assert seen == {"anonymous": "NotFound", "citizen": "NotFound", "vendor": "NotFound", "staff": "ok",
                    "other_staff": "NotFound", "finance": "ok", "auditor": "ok", "admin": "ok"}


@pytest.mark.parametrize("rule", [authz.order_update, authz.order_publish, authz.order_close, authz.order_archive,
                                  authz.suite_add, authz.question_answer])
def test_department_use_cases_for_the_owning_department_and_admins(rule):
    on_open = {who: outcome(rule, who, order("open")) for who in ACTORS}
    assert on_open == {"anonymous": "Unauthenticated", "citizen": "Forbidden", "vendor": "Forbidden", "staff": "ok",
                       "other_staff": "Forbidden", "finance": "Forbidden", "auditor": "Forbidden", "admin": "ok"}
    # On a draft, whoever may not see it learns nothing of it.
    assert outcome(rule, "other_staff", order("draft")) == "NotFound"
    assert outcome(rule, "vendor", order("draft")) == "NotFound"


def test_order_create_only_for_the_own_department():
    assert authz.order_create(ACTORS["staff"], DEPT) is None
    assert authz.order_create(ACTORS["admin"], OTHER) is None
    with pytest.raises(Forbidden, match="own department"):
        authz.order_create(ACTORS["staff"], OTHER)
    for who in ("citizen", "vendor", "finance", "auditor"):
        with pytest.raises(Forbidden):
            authz.order_create(ACTORS[who], DEPT)
    with pytest.raises(Unauthenticated):
        authz.order_create(None, DEPT)


def test_suite_get_shows_hidden_cases_to_the_department_admins_and_auditors_only():
    full = {who: outcome(authz.suite_get, who, order("open")) for who in ACTORS}
    assert full == {"anonymous": False, "citizen": False, "vendor": False, "staff": True, "other_staff": False,
                    "finance": False, "auditor": True, "admin": True}
    assert outcome(authz.suite_get, "vendor", order("draft")) == "NotFound"


def test_question_ask_by_vendors_on_open_orders():
    asked = {who: outcome(authz.question_ask, who, order("open")) for who in ACTORS}
    assert [who for who, result in asked.items() if result == "ok"] == ["vendor"]
    assert asked["anonymous"] == "Unauthenticated"
    assert outcome(authz.question_ask, "vendor", order("closed")) == "Forbidden"
    assert outcome(authz.question_ask, "vendor", order("draft")) == "NotFound"


def test_question_list_as_public_as_the_order():
    assert outcome(authz.question_list, "citizen", order("open")) == "ok"
    assert outcome(authz.question_list, "citizen", order("draft")) == "NotFound"
    assert outcome(authz.question_list, "staff", order("draft")) == "ok"


def test_order_list_scope_lists_exactly_what_order_get_admits(world):
    """The list scope and the single-object rule must agree for every role, or a list leaks what a page hides."""
    import sqlalchemy as sa

    from core.extensions import db
    from marketplace.accounts.models import User
    from marketplace.orders.models import Order

    orders = list(db.session.scalars(sa.select(Order)))
    assert {o.status for o in orders} >= {"open", "draft"}
    for who in (None, "citizen", "vendor_a", "staff_a", "staff_b", "finance", "auditor", "admin"):
        user = None if who is None else db.session.get(User, world.ids[who])
        listed = set(db.session.scalars(sa.select(Order.id).where(authz.order_list_scope(user))))
        visible = {o.id for o in orders if outcome_of(authz.order_get, user, o)}
        assert listed == visible, who


def outcome_of(rule, user, target) -> bool:
    try:
        rule(user, target)
    except NotFound:
        return False
    return True
