"""The work queue a platform user lands on after logging in: what needs them now, oldest deadline first.

A read side like ``marketplace.citizen``: it composes the domains' lists for one actor and adds nothing of its
own. Every query is scoped to the actor's department or vendor the same way the domain's own list service is
(``complaints.services.complaint_list``, ``ratings.services.rating_list_for_staff``, ``vendors.services.app_list``);
where a domain has the list as a service, the queue calls it.

- department staff: certified versions awaiting approval, unanswered questions on their orders, open complaints
  with their response deadline, poor ratings (1–2 stars, 差评) nobody of the department has answered;
- vendor members: the newest certification result of each app, ratings of their apps not yet answered, open
  complaints with their deadline, payment statements;
- finance: quarters to settle and post once their grace ends, settled quarters to close;
- administrators: vendor applications, ratings awaiting moderation, complaints past their deadline;
- auditors: the ledger and audit log (nothing waits for them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import url_for
from flask_babel import lazy_gettext as _l

from billing import services as billing
from billing.calendar import quarter_code_of, quarter_span
from core.extensions import db
from core.roles import Role
from core.time import utcnow
from marketplace.accounts import onboarding
from marketplace.complaints import services as complaints
from marketplace.complaints.models import Complaint
from marketplace.orders.models import Order, Question
from marketplace.ratings import services as ratings
from marketplace.ratings.models import Rating, RatingReply
from marketplace.vendors import services as vendors
from marketplace.vendors.models import App, AppVersion

LIMIT = 20  # items shown per section; the section links to the full list
POOR_STARS = 2  # 差评: one or two stars
RECENT = timedelta(days=30)  # vendors see certification results of this long


@dataclass
class QueueItem:
    label: str
    url: str
    detail: str = ""
    due_at: datetime | None = None  # a deadline the person must meet
    since: datetime | None = None  # when it started waiting (no deadline applies)
    status: str = ""

    def overdue(self, now: datetime) -> bool:
        return self.due_at is not None and self.due_at < now


@dataclass
class QueueSection:
    key: str
    title: str
    explanation: str
    items: list[QueueItem] = field(default_factory=list)
    total: int = 0
    more_url: str | None = None


@dataclass
class WorkQueue:
    sections: list[QueueSection]
    links: list[tuple[str, str]]  # every page of the role: (label, url)
    now: datetime

    @property
    def waiting(self) -> int:
        return sum(s.total for s in self.sections)


def _complaint_section(actor, now: datetime, *, overdue_only: bool = False) -> QueueSection:
    query = (sa.select(Complaint).where(Complaint.closed_at.is_(None), complaints.authz.complaint_list_scope(actor))
             .order_by(Complaint.due_at, Complaint.id))
    if overdue_only:
        query = query.where(Complaint.due_at < now)
    rows = list(db.session.scalars(query.limit(LIMIT)))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())) or 0
    title = _l("Complaints past their deadline") if overdue_only else _l("Complaints to answer")
    return QueueSection(
        "complaints", str(title),
        str(_l("Acknowledge a complaint, then resolve or reject it with a response to the citizen before its "
               "deadline (legal working days from filing).")),
        [QueueItem(f"{c.reference} · {c.theme}", url_for("complaints.complaint_page", complaint_id=c.id),
                   detail=c.description[:80], due_at=c.due_at, status=c.status) for c in rows],
        total, url_for("citizen.feedback"))


def _ratings_to_answer(actor, side: str, *, poor_only: bool) -> QueueSection:
    answered = sa.select(RatingReply.id).where(RatingReply.rating_id == Rating.id, RatingReply.side == side)
    query = (sa.select(Rating).where(Rating.hidden_at.is_(None), ~sa.exists(answered))
             .order_by(Rating.created_at, Rating.id))
    ratings.authz.rating_list_for_staff(actor)
    if side == "vendor":
        query = query.where(Rating.vendor_id == actor.vendor_id)
    else:
        query = query.join(Order, Rating.order_id == Order.id).where(Order.department_id == actor.department_id)
    if poor_only:
        query = query.where(Rating.stars <= POOR_STARS)
    rows = list(db.session.scalars(query.limit(LIMIT)))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())) or 0
    title = _l("Poor ratings to follow up") if poor_only else _l("Ratings to answer")
    return QueueSection(
        "ratings", str(title),
        str(_l("Reply publicly to what the citizen wrote; a poor rating deserves a follow-up with the citizen.")),
        [QueueItem(f"{r.app.name} · {'★' * r.stars}", url_for("citizen.feedback") + f"#rating-{r.id}",
                   detail=r.comment[:80], since=r.created_at) for r in rows],
        total, url_for("citizen.feedback"))


def _versions_to_approve(actor) -> QueueSection:
    query = (sa.select(AppVersion).join(App, AppVersion.app_id == App.id).join(Order, App.order_id == Order.id)
             .where(Order.department_id == actor.department_id, AppVersion.approved_at.is_(None),
                    AppVersion.rejected_at.is_(None), AppVersion.withdrawn_at.is_(None))
             .order_by(AppVersion.uploaded_at, AppVersion.id))
    waiting = []
    for row in db.session.scalars(query):
        run = vendors.latest_certification(row)
        if run is not None and run.state == "certified":
            waiting.append((row, run))
    return QueueSection(
        "approvals", str(_l("Versions to approve")),
        str(_l("The sandbox certified these versions. Approving says the department accepts the version; "
               "publishing then puts it live on the market (the vendor or the department publishes).")),
        [QueueItem(f"{row.app.name} {row.version}", url_for("vendors.version_show", version_id=row.id),
                   detail=row.app.order.title, since=run.finished_at or row.uploaded_at, status="certified")
         for row, run in waiting[:LIMIT]],
        len(waiting), url_for("vendors.app_list"))


def _questions_to_answer(actor) -> QueueSection:
    query = (sa.select(Question).join(Order, Question.order_id == Order.id)
             .where(Order.department_id == actor.department_id, Question.answered_at.is_(None),
                    Question.hidden_at.is_(None))
             .order_by(Question.asked_at, Question.id))
    rows = list(db.session.scalars(query.limit(LIMIT)))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())) or 0
    return QueueSection(
        "questions", str(_l("Questions to answer")),
        str(_l("Vendors asked these about your orders; answers are public and the asker stays anonymous.")),
        [QueueItem(q.text[:80], url_for("orders.order_show", order_id=q.order_id) + f"#question-{q.id}",
                   since=q.asked_at) for q in rows],
        total)


def _certification_results(actor, now: datetime) -> QueueSection:
    query = (sa.select(AppVersion).join(App, AppVersion.app_id == App.id)
             .where(App.vendor_id == actor.vendor_id, AppVersion.uploaded_at >= now - RECENT)
             .order_by(AppVersion.uploaded_at.desc(), AppVersion.id.desc()))
    rows = list(db.session.scalars(query.limit(LIMIT)))
    return QueueSection(
        "certification", str(_l("Certification results")),
        str(_l("Versions uploaded in the last 30 days. A certified version waits for the department's approval; "
               "once approved, publish it to put it live.")),
        [QueueItem(f"{row.app.name} {row.version}", url_for("vendors.version_show", version_id=row.id),
                   since=row.uploaded_at, status=vendors.version_status(row)) for row in rows],
        len(rows), url_for("vendors.app_list"))


def _statements(actor) -> QueueSection:
    url = url_for("billing.vendor_statement_page", vendor_id=actor.vendor_id)
    return QueueSection("statements", str(_l("Payment statements")),
                        str(_l("What each settled quarter paid your apps.")),
                        [QueueItem(str(_l("Your vendor statement")), url)], 0)


def _quarters(actor, now: datetime) -> QueueSection:
    views = {q.code: q for q in billing.quarters_list(actor, now=now)}
    # The quarter that ended last may have no row yet (nobody used it); it still needs settling.
    last_ended = quarter_code_of(quarter_span(quarter_code_of(now)).starts_at - timedelta(seconds=1))
    views.setdefault(last_ended, billing.quarter_get(actor, last_ended, now=now))
    items = []
    for q in sorted(views.values(), key=lambda v: v.starts_at):
        if q.status == "grace" and now < q.grace_ends_at:
            items.append(QueueItem(q.code, url_for("billing.quarter_page", code=q.code), due_at=q.grace_ends_at,
                                   status=q.status, detail=str(_l("Preview now; post once the grace period ends."))))
        elif q.status == "grace":
            items.append(QueueItem(q.code, url_for("billing.preview_page", code=q.code), since=q.grace_ends_at,
                                   status=q.status, detail=str(_l("The grace period is over: settle and post."))))
        elif q.status == "settled":
            items.append(QueueItem(q.code, url_for("billing.quarter_page", code=q.code), since=q.settled_at,
                                   status=q.status, detail=str(_l("Posted: close it to freeze the quarter."))))
    return QueueSection(
        "quarters", str(_l("Quarters to settle and close")),
        str(_l("A quarter ends, then late usage still counts for its grace period; after that, preview the "
               "settlement, post it, and close the quarter.")),
        items, len(items), url_for("billing.finance_home"))


def _review_queue(actor) -> QueueSection:
    page = ratings.rating_review_queue(actor, page_size=LIMIT)
    return QueueSection(
        "moderation", str(_l("Ratings awaiting moderation")),
        str(_l("Flagged or signalled ratings keep counting until you hide them with a reason or resolve the review.")),
        [QueueItem(f"{r.app.name} · {'★' * r.stars}", url_for("citizen.feedback") + f"#rating-{r.id}",
                   detail=r.comment[:80], since=r.created_at) for r in page.items],
        page.total, url_for("citizen.feedback"))


def _vendor_applications(actor) -> QueueSection:
    page = onboarding.vendor_application_list(actor, status="pending", page_size=LIMIT)
    return QueueSection(
        "applications", str(_l("Vendor applications")),
        str(_l("Companies that applied to become vendors: check each against its business licence, then approve "
               "(the vendor is registered and invited) or reject with a reason.")),
        [QueueItem(f"{a.company_name} · {a.credit_code}", url_for("accounts.vendor_applications") + f"#application-{a.id}",
                   since=a.submitted_at, status="pending") for a in page.items],
        page.total, url_for("accounts.vendor_applications"))


def _links(actor) -> list[tuple[str, str]]:
    """Every page of the role, so the queue is also the role's map of the site."""
    role = actor.role
    links: list[tuple[str, str]] = []
    if role in (Role.DEPARTMENT_STAFF, Role.ADMIN):
        links += [(str(_l("New order")), url_for("orders.order_new"))]
    links += [(str(_l("Orders")), url_for("orders.order_list"))]
    if role == Role.VENDOR_MEMBER:
        links += [(str(_l("My apps")), url_for("vendors.app_list")), (str(_l("New app")), url_for("vendors.app_new"))]
    elif role in (Role.DEPARTMENT_STAFF, Role.ADMIN, Role.AUDITOR, Role.FINANCE):
        links += [(str(_l("Apps")), url_for("vendors.app_list"))]
    if role in (Role.DEPARTMENT_STAFF, Role.VENDOR_MEMBER, Role.ADMIN, Role.AUDITOR):
        links += [(str(_l("Ratings and complaints")), url_for("citizen.feedback"))]
    if role == Role.DEPARTMENT_STAFF:
        links += [(str(_l("Analytics")), url_for("analytics.analytics_page"))]
    if role == Role.ADMIN:
        links += [(str(_l("Vendor applications")), url_for("accounts.vendor_applications"))]
    if role == Role.VENDOR_MEMBER:
        links += [(str(_l("Invite a colleague")), url_for("accounts.invitation_new")),
                  (str(_l("Vendor SDK")), url_for("home.sdk_page")),
                  (str(_l("SDK reference")), url_for("home.sdk_reference"))]
        links += [(str(_l("Payment statements")), url_for("billing.vendor_statement_page", vendor_id=actor.vendor_id))]
    if role in (Role.AUDITOR, Role.FINANCE):
        links += [(str(_l("Finance")), url_for("billing.finance_home")),
                  (str(_l("Ledger")), url_for("billing.ledger_page"))]
    if role in (Role.ADMIN, Role.AUDITOR):
        links += [(str(_l("Audit log")), url_for("audit.audit_list"))]
    links += [(str(_l("API clients")), url_for("accounts.client_list")), (str(_l("Department stores")),
                                                                          url_for("citizen.department_list"))]
    return links


def work_queue(actor, *, now: datetime | None = None) -> WorkQueue:
    """What needs ``actor`` now, by role, and the links to every page of the role. Platform users only
    (citizens have their own to-do list at /my/todo)."""
    now = now or utcnow()
    role = actor.role
    sections: list[QueueSection] = []
    if role == Role.DEPARTMENT_STAFF:
        sections = [_versions_to_approve(actor), _questions_to_answer(actor), _complaint_section(actor, now),
                    _ratings_to_answer(actor, "department", poor_only=True)]
    elif role == Role.VENDOR_MEMBER:
        sections = [_certification_results(actor, now), _ratings_to_answer(actor, "vendor", poor_only=False),
                    _complaint_section(actor, now), _statements(actor)]
    elif role == Role.FINANCE:
        sections = [_quarters(actor, now)]
    elif role == Role.ADMIN:
        sections = [_vendor_applications(actor), _review_queue(actor), _complaint_section(actor, now, overdue_only=True)]
    return WorkQueue(sections, _links(actor), now)
