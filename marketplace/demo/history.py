"""A quarter of citizens' activity, written through the services so the audit log, the case timelines and the
billing usage events are the real ones.

The citizens are people of the mock dataset the department services answer from (``SERVING_DATASET``, the
personas' dataset), so a food licence is applied for by a business's legal representative with that business's
credit code and premises, and the department's decision is its real rule (``mockdata.rules``) applied on the day
of the case. Everything is drawn from a seeded random generator: the same day gives the same story.

Each case is found again by (citizen, app, started_at) before it is written, so an interrupted seeding resumes
where it stopped and a repeated one adds nothing.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from billing.calendar import CHINA
from billing.source import QuarterSpan
from core.auth import SYSTEM
from core.extensions import db
from marketplace.accounts import services as accounts
from marketplace.accounts.models import User
from marketplace.complaints import services as complaints
from marketplace.complaints.models import Complaint
from marketplace.demo.base import CITIZEN_RESIDENT_ID, STAFF, one, vendor_email
from marketplace.demo.data import COMMENTS, COMPLAINTS, FLAGGED_COMMENTS, SAMPLE_APPS, SampleApp
from marketplace.identity.personas import persona_list
from marketplace.ratings import services as ratings
from marketplace.ratings.models import DIMENSIONS, Rating, RatingFlag
from marketplace.transactions import services as transactions
from marketplace.transactions.models import Transaction
from marketplace.vendors.models import App
from mockdata import rules
from mockdata.generator import iter_records
from mockdata.service import ITEMS, NOT_ACCEPTED, case_result, case_timing
from mockdata.specs import get_spec
from mockdata.store import MemoryStore
from mockdata.vocabulary import FOOD_CATEGORIES, HOT_FOOD

CITIZEN_DOMAIN = "citizens.invalid"  # as identity's own citizen accounts: they log in through identity, not by email
FOOD_INDUSTRIES = {"catering": [HOT_FOOD, "饮品店"], "retail": ["预包装食品销售", "散装食品销售"]}
REFUSED_SHARE = 0.1  # of the people who apply, how many the department refuses
DAY_HOURS = (8, 22)  # citizens use the apps between 8:00 and 22:00 China time
CASE_PREFIX = {"food-licence": "SP", "social-security-card": "SB"}
assert set(c for cs in FOOD_INDUSTRIES.values() for c in cs) <= set(FOOD_CATEGORIES)


@dataclass
class PlannedRating:
    at: datetime
    stars: int
    dimensions: dict[str, int]
    comment: str
    flag: tuple[str, str | None] | None = None  # (reason the vendor gives, the moderator's decision)


@dataclass
class PlannedCase:
    citizen: str  # resident ID
    app: SampleApp
    started_at: datetime
    decided_at: datetime  # the department's last step (not accepted, or concluded); the app's failure
    outcome: str  # completed | rejected | failed | in_progress (the department had not decided by the end)
    reasons: list[str]
    department_case_number: str
    rating: PlannedRating | None = None
    complaint: tuple | None = None  # one of data.COMPLAINTS
    # The department's steps as it took them, on its own clock (mockdata.service.case_timing): (stage, when).
    steps: list[tuple[str, datetime]] = field(default_factory=list)
    result: str | None = None  # what a granted case gives: the licence or card number


def department_steps(order: str, number: str, submitted: datetime, reason_codes: list[str],
                     end: datetime) -> tuple[list[tuple[str, datetime]], str | None]:
    """The steps the simulated department takes on a case submitted at ``submitted`` — 已提交, then 已受理 or 不予受理
    within 30 minutes, 审查中, and the conclusion within the item's legal time limit — those before ``end``; and the
    result it gives when it grants. The same timing as the department service serving the apps."""
    item = ITEMS[order]
    timing = case_timing(item, number)
    accepted = submitted + timedelta(seconds=timing["accept_seconds"])
    if any(code in NOT_ACCEPTED for code in reason_codes):
        steps = [("submitted", submitted), ("not_accepted", accepted)]
    else:
        steps = [("submitted", submitted), ("accepted", accepted),
                 ("under_review", accepted + timedelta(seconds=timing["review_start_seconds"])),
                 ("concluded", accepted + timedelta(seconds=timing["review_seconds"]))]
    return [(stage, at) for stage, at in steps if at < end], None if reason_codes else case_result(item, number)


@dataclass
class Plan:
    citizens: dict[str, str] = field(default_factory=dict)  # resident ID -> name
    cases: list[PlannedCase] = field(default_factory=list)


@dataclass(frozen=True)
class Dataset:
    store: MemoryStore  # what the department's rules read
    persons: list[dict]
    businesses: list[dict]


def serving_dataset() -> Dataset:
    """The mock dataset served apps' department service answers from (``SERVING_DATASET``)."""
    spec, seed, size = str(current_app.config["SERVING_DATASET"]).split(":")
    persons, businesses = [], []
    for chunk in iter_records(get_spec(spec), int(seed), int(size)):
        persons += chunk.persons
        businesses += chunk.businesses
    return Dataset(MemoryStore(spec, int(seed), int(size)), persons, businesses)


def _age(person: dict, on: date) -> int:
    born = date.fromisoformat(person["birth_date"])
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _moment(rng: random.Random, span_start: datetime, span_end: datetime) -> datetime | None:
    """A realistic moment in [start, end): weekdays three times as busy as weekends, daytime China hours; None
    when the span holds no such moment (a quarter that began an hour ago, at night)."""
    days = max(1, (span_end - span_start).days + 1)
    for _attempt in range(1000):
        day = (span_start.astimezone(CHINA) + timedelta(days=rng.randrange(days))).replace(hour=0, minute=0, second=0,
                                                                                          microsecond=0)
        if day.weekday() >= 5 and rng.random() > 0.33:
            continue
        hour = min(DAY_HOURS[1] - 1, max(DAY_HOURS[0], int(rng.choice((rng.gauss(10.5, 1.6), rng.gauss(15.5, 2.2))))))
        moment = day.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60))
        if span_start <= moment < span_end:
            return moment
    return None


def _application(kind: str, person: dict, business: dict | None, guardian: dict | None, rng: random.Random) -> dict:
    if kind == "food":
        materials = list(rules.FOOD_MATERIALS)
        if rng.random() < 0.06:
            materials.remove("food_safety_rules")  # forgotten; the department refuses and lists it
        return {"applicant_resident_id": person["resident_id"], "credit_code": business["credit_code"],
                "premises_area_m2": business["premises_area_m2"], "premises_address": business["address"],
                "business_categories": FOOD_INDUSTRIES[business["industry"]][:1 + (rng.random() < 0.3)],
                "materials": materials, "contact_phone": person["phone"]}
    minor = guardian is not None
    materials = list(rules.SSC_MINOR_MATERIALS if minor else rules.SSC_MATERIALS)
    if rng.random() < 0.04:
        materials.remove("photo")
    return {"applicant_resident_id": person["resident_id"],
            "guardian_resident_id": guardian["resident_id"] if minor else None, "materials": materials,
            "mailing_address": (guardian or person)["address"], "contact_phone": (guardian or person)["phone"]}


def _decide(store, kind: str, body: dict, on: date) -> list[dict]:
    if kind == "food":
        return rules.decide_food_licence(store, rules.validate_food_application(body), on)
    return rules.decide_social_security_card(store, rules.validate_ssc_application(body), on)


def _rating(app: SampleApp, at: datetime, rng: random.Random) -> PlannedRating:
    stars = rng.choices(range(1, 6), weights=app.stars)[0]
    slow = app.minutes[0] >= 5
    dims = {}
    for name in DIMENSIONS:
        value = stars + rng.choice((-1, 0, 0, 0, 1))
        if name == "responsiveness" and slow and rng.random() < 0.7:
            value -= 1
        dims[name] = min(5, max(1, value))
    comment = ""
    if rng.random() < 0.6:
        pool = ("good_slow" if slow else "good_fast") if stars >= 4 else "mixed" if stars == 3 else "bad"
        comment = rng.choice(COMMENTS[pool])
    return PlannedRating(at, stars, dims, comment)


def plan_quarter(data: Dataset, span: QuarterSpan, until: datetime, apps: dict[str, App], *, citizens: int,
                 exclude: set[str], seed: str) -> Plan:
    """The cases of ``citizens`` people of the dataset started in [span.starts_at, min(span.ends_at, until)), with
    the department's steps on each until ``until``."""
    store = data.store
    rng = random.Random(seed)  # noqa: S311  (a reproducible story, not a secret)
    end = min(span.ends_at, until)
    on = span.starts_at.astimezone(CHINA).date()
    live = [a for a in SAMPLE_APPS if a.folder in apps]
    persons = [p for p in data.persons if p["resident_id"] not in exclude]
    adults = [p for p in persons if _age(p, on) >= 18]
    businesses = sorted((b for b in data.businesses if b["industry"] in FOOD_INDUSTRIES
                         and b["legal_representative"] not in exclude), key=lambda b: b["credit_code"])
    minors_of: dict[str, list[dict]] = {}
    for p in persons:
        if p.get("guardian_resident_id") and _age(p, on) < 18:
            minors_of.setdefault(p["guardian_resident_id"], []).append(p)

    # Who applies for what: legal representatives of food businesses for a food licence (up to a third of the
    # citizens), other adults for a social-security card, guardians also for a child. Most people apply once
    # their papers are in order, so about one in ten applications is refused, for the department's real reasons.
    def refused(kind, person, business=None, guardian=None) -> bool:
        body = _application(kind, person, business, guardian, random.Random(person["resident_id"]))  # noqa: S311
        return bool(_decide(store, kind, body, on))

    def pick(candidates: list, count: int, is_refused) -> list:
        ok, bad = [], []
        for candidate in candidates:
            (bad if is_refused(candidate) else ok).append(candidate)
        n_bad = min(len(bad), round(count * REFUSED_SHARE))
        return rng.sample(bad, n_bad) + rng.sample(ok, min(len(ok), count - n_bad))

    reps = [b for b in businesses if store.person(b["legal_representative"])
            and _age(store.person(b["legal_representative"]), on) >= 18]
    food = pick(reps, citizens // 3, lambda b: refused("food", store.person(b["legal_representative"]), b))
    wanted: list[tuple[str, dict, dict | None, dict | None]] = [
        ("food", store.person(b["legal_representative"]), b, None) for b in food]
    taken = {w[1]["resident_id"] for w in wanted}
    others = [p for p in adults if p["resident_id"] not in taken]
    wanted += [("ssc", p, None, None) for p in pick(others, citizens - len(wanted), lambda p: refused("ssc", p))]
    food_reps = {b["legal_representative"] for b in food}
    for person in [w[1] for w in wanted]:
        for child in minors_of.get(person["resident_id"], [])[:1]:
            if rng.random() < 0.5 and not refused("ssc", child, None, person):
                wanted.append(("ssc", child, None, person))
        if person["resident_id"] in food_reps and rng.random() < 0.3 and not refused("ssc", person):
            wanted.append(("ssc", person, None, None))

    plan = Plan()
    for kind, person, business, guardian in wanted:
        citizen = guardian or person
        plan.citizens[citizen["resident_id"]] = citizen["name"]
        order = "food-licence" if kind == "food" else "social-security-card"
        options = [a for a in live if a.order == order and a.share > 0]
        if not options:
            continue
        app = rng.choices(options, weights=[a.share for a in options])[0]
        started = _moment(rng, span.starts_at, end)
        if started is None:
            continue
        body = _application(kind, person, business, guardian, rng)
        for attempt in (1, 2):
            submitted = started + timedelta(minutes=rng.uniform(*app.minutes), seconds=rng.randrange(60))
            if submitted >= end:
                break
            reasons = _decide(store, kind, body, submitted.astimezone(CHINA).date())
            key = f"{citizen['resident_id']}/{person['resident_id']}/{order}/{attempt}/{seed}"
            number = (f"{CASE_PREFIX[order]}-{submitted.astimezone(CHINA):%Y%m%d}-"
                      f"{hashlib.sha256(key.encode()).hexdigest()[:8].upper()}" + ("-R1" if reasons else ""))
            failed = app.minutes[0] >= 5 and rng.random() < 0.02  # the slow apps sometimes time out
            codes = [r["code"] for r in reasons]
            # The department goes on after the quarter: a case submitted near its end concludes in the next one.
            steps, result = ([], None) if failed else department_steps(order, number, submitted, codes, until)
            decided = steps[-1][1] if steps else submitted
            outcome = ("failed" if failed else "in_progress" if steps[-1][0] in ("submitted", "accepted", "under_review")
                       else "rejected" if reasons else "completed")
            case = PlannedCase(citizen["resident_id"], app, started, decided, outcome, codes, number,
                               steps=steps, result=result)
            if case.outcome == "completed" and rng.random() < app.rated:
                at = decided + timedelta(minutes=rng.randrange(2, 60 * 36))
                if at < end:
                    case.rating = _rating(app, at, rng)
            plan.cases.append(case)
            # A refusal for missing materials is fixed and applied for again a few days later.
            if case.outcome != "rejected" or case.reasons != ["materials_missing"]:
                break
            body["materials"] = list(rules.FOOD_MATERIALS if kind == "food" else
                                     rules.SSC_MINOR_MATERIALS if guardian else rules.SSC_MATERIALS)
            started = decided + timedelta(days=rng.randrange(1, 6), minutes=rng.randrange(600))
            if started >= end:
                break
    plan.cases.sort(key=lambda c: c.started_at)
    _cover_every_app(plan, [a for a in live if a.share > 0], rng)
    return plan


def _cover_every_app(plan: Plan, live: list[SampleApp], rng: random.Random) -> None:
    """However few the citizens, every live app gets a completed, rated case (a small demo still shows each)."""
    for app in live:
        mine = [c for c in plan.cases if c.app is app and c.outcome == "completed"]
        if not mine:
            spare = [c for c in plan.cases if c.app.order == app.order and c.outcome == "completed"]
            if not spare:
                continue
            case = spare[-1]
            case.app, case.rating = app, None
            mine = [case]
        if not any(c.rating for c in mine):
            case = mine[0]
            case.rating = _rating(app, case.decided_at + timedelta(minutes=30), rng)


def add_story_details(plan: Plan, rng: random.Random) -> None:
    """Complaints and reported ratings, attached to fitting cases of the plan."""
    completed = [c for c in plan.cases if c.outcome == "completed" and c.citizen != CITIZEN_RESIDENT_ID]
    rated = [c for c in completed if c.rating is not None]
    rng.shuffle(rated)
    for text, reason, decision in FLAGGED_COMMENTS:
        if not rated:
            break
        case = rated.pop()
        case.rating.comment, case.rating.flag = text, (reason, decision)
        case.rating.stars = 1 if decision == "hide" else min(case.rating.stars, 3)
    for complaint in COMPLAINTS:
        theme = complaint[0]
        if theme == "data_privacy":
            candidates = [c for c in plan.cases if c.citizen == CITIZEN_RESIDENT_ID]
        elif theme == "wrong_decision":
            candidates = [c for c in plan.cases if c.outcome == "rejected" and c.complaint is None]
        elif theme == "slow":
            candidates = [c for c in completed if c.app.minutes[0] >= 5 and c.complaint is None]
        else:
            candidates = [c for c in completed if c.complaint is None]
        if candidates:
            rng.choice(candidates).complaint = complaint


def zhang_wei_case(apps: dict[str, App], span: QuarterSpan, until: datetime) -> PlannedCase | None:
    """The password-login citizen's own completed case (卡宝), rated, with a question about his data."""
    app = next((a for a in SAMPLE_APPS if a.folder == "ssc-kabao"), None)
    if app is None or app.folder not in apps:
        return None
    started = (span.starts_at.astimezone(CHINA) + timedelta(days=40)).replace(hour=9, minute=12, second=5)
    if started >= min(span.ends_at, until):
        return None
    submitted = started + timedelta(minutes=4, seconds=31)
    number = f"SB-{submitted.astimezone(CHINA):%Y%m%d}-5A3C91E7"
    end = min(span.ends_at, until)
    steps, result = department_steps(app.order, number, submitted, [], until)
    concluded = steps[-1][0] == "concluded"
    case = PlannedCase(CITIZEN_RESIDENT_ID, app, started, steps[-1][1], "completed" if concluded else "in_progress",
                       [], number, steps=steps, result=result)
    if not concluded or case.decided_at + timedelta(minutes=9) >= end:
        return case
    case.rating = PlannedRating(case.decided_at + timedelta(minutes=9), 5,
                                dict(zip(DIMENSIONS, (5, 5, 5, 4, 5), strict=True)),
                                "在手机上十分钟就办好了，制卡进度短信也很及时。")
    return case


# --- writing the plan through the services ------------------------------------------------------------------


@dataclass
class Written:
    citizens: int = 0
    cases: int = 0
    completed: int = 0
    ratings: int = 0
    complaints: int = 0
    flags: int = 0


def _citizen_users(plan: Plan, written: Written) -> dict[str, User]:
    existing = {u.resident_id: u for u in db.session.scalars(
        sa.select(User).where(User.resident_id.in_(list(plan.citizens))))}
    for rid, name in plan.citizens.items():
        if rid not in existing:
            digest = hashlib.sha256(rid.encode()).hexdigest()[:20]
            existing[rid] = accounts.user_create(SYSTEM, email=f"citizen-{digest}@{CITIZEN_DOMAIN}", display_name=name,
                                                 role="citizen", resident_id=rid)
            written.citizens += 1
    return existing


def write_plan(plan: Plan, apps: dict[str, App], progress: Callable[[int, int], None]) -> Written:
    written = Written()
    users = _citizen_users(plan, written)
    users[CITIZEN_RESIDENT_ID] = one(User, resident_id=CITIZEN_RESIDENT_ID)
    app_ids = {folder: app.id for folder, app in apps.items()}
    seen = {(c, a, s): t for t, c, a, s in db.session.execute(
        sa.select(Transaction.id, Transaction.citizen_id, Transaction.app_id, Transaction.started_at))}
    rated = set(db.session.scalars(sa.select(Rating.transaction_id)))
    complained = set(db.session.scalars(sa.select(Complaint.transaction_id).where(Complaint.transaction_id.is_not(None))))
    for n, case in enumerate(plan.cases, start=1):
        citizen, app_id = users[case.citizen], app_ids[case.app.folder]
        transaction_id = seen.get((citizen.id, app_id, case.started_at))
        if transaction_id is None:
            transaction_id = transactions.transaction_start(citizen, app_id, occurred_at=case.started_at).id
            written.cases += 1
        transaction = db.session.get(Transaction, transaction_id)
        if case.outcome == "failed" and transaction.status == "started":
            transactions.transaction_record_failure(transaction_id, reason="the app did not answer within 30 s",
                                                    occurred_at=case.decided_at)
        elif not transaction.is_final:
            # Each step as the department took it; one recorded before an interruption is skipped (idempotent).
            for stage, at in case.steps:
                transactions.transaction_record_department_step(
                    transaction_id, department_case_number=case.department_case_number, step=stage, occurred_at=at,
                    outcome=("granted" if case.outcome == "completed" else "refused") if stage == "concluded" else None,
                    reasons=case.reasons, result=case.result, recorded_at=at)
            written.completed += case.outcome == "completed"
        if case.rating is not None and transaction_id not in rated:
            r = case.rating
            rating = ratings.rating_create(citizen, transaction_id, stars=r.stars, dimensions=r.dimensions,
                                           comment=r.comment, now=r.at)
            written.ratings += 1
            if r.flag is not None:
                _flag(rating, case.app, *r.flag)
                written.flags += 1
        if case.complaint is not None and transaction_id not in complained:
            _complain(citizen, transaction_id, case, *case.complaint)
            written.complaints += 1
        if n % 50 == 0 or n == len(plan.cases):
            progress(n, len(plan.cases))
    return written


def _flag(rating: Rating, app: SampleApp, reason: str, decision: str | None) -> None:
    """The app's vendor appeals the rating; a day later the moderator hides it, finds it legitimate, or has not
    decided yet (it counts meanwhile). Dated after the rating, so the quarter's frozen counted set is the story's."""
    developer = one(User, email=vendor_email(app.vendor))
    appealed, decided = rating.created_at + timedelta(hours=5), rating.created_at + timedelta(days=1, hours=2)
    if not db.session.scalar(sa.select(RatingFlag.id).where(RatingFlag.rating_id == rating.id)):
        ratings.rating_appeal(developer, rating.id, reason, now=appealed)
    admin = one(User, email="admin@govmarket.example.cn")
    if decision == "hide" and rating.hidden_at is None:
        ratings.rating_hide(admin, rating.id, "广告或辱骂内容，与办事体验无关 (spam or abuse, not about the service)",
                            now=decided)
    elif decision == "resolve":
        ratings.rating_review_resolve(admin, rating.id, "真实办件的真实评价，予以保留 (a genuine rating of a real case)",
                                      now=decided)


def _complain(citizen: User, transaction_id: int, case: PlannedCase, theme, description, response, public_outcome,
              outcome, days) -> None:
    filed = case.decided_at + timedelta(hours=3, minutes=17)
    complaint = complaints.complaint_file(citizen, theme=theme, description=description,
                                          transaction_id=transaction_id, now=filed)
    # Wrong decisions are the department's to answer; everything else the vendor's.
    department = one(App, id=complaint.app_id).order.department.code
    handler = one(User, email=STAFF[department] if theme == "wrong_decision" else vendor_email(case.app.vendor))
    complaints.complaint_acknowledge(handler, complaint.id, now=filed + timedelta(hours=20))
    complaints.complaint_close(handler, complaint.id, outcome=outcome, response=response,
                               public_outcome=public_outcome, now=filed + timedelta(days=days))


def reply_to_low_ratings(apps: dict[str, App]) -> int:
    """Each vendor answers its app's most recent low rating publicly (once)."""
    made = 0
    for sample in SAMPLE_APPS:
        app = apps.get(sample.folder)
        if app is None:
            continue
        low = db.session.scalar(sa.select(Rating).where(Rating.app_id == app.id, Rating.stars <= 2,
                                                        Rating.hidden_at.is_(None), Rating.comment != "")
                                .order_by(Rating.created_at.desc()).limit(1))
        if low is None or low.replies:
            continue
        ratings.rating_reply(one(User, email=vendor_email(sample.vendor)), low.id,
                             "抱歉给您带来不便。我们已优化高峰期的响应速度，欢迎再次使用并提出建议。")
        made += 1
    return made


def cast_resident_ids() -> set[str]:
    """The personas visitors log in as walk their scenarios through fresh: no history for them."""
    return {p.resident_id for p in persona_list()}
