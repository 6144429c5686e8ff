"""Life events (办事主题): citizen goals that bundle service items across departments in their required order,
each step with its prerequisites. The themes are data (``LIFE_EVENTS``), seeded by the demo and by
``life_event_save`` for operators."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from core import audit
from core.auth import require_role
from core.errors import NotFound, ValidationError
from core.extensions import db
from core.roles import Role
from marketplace.catalogue.models import LifeEvent, LifeEventStep, ServiceItem

# code, name, name_en, description, description_en, [(item code, [prerequisite item codes], note, note_en)]
LIFE_EVENTS = [
    ("open-restaurant", "开餐馆", "Open a restaurant",
     "从企业名称申报到税务登记，开一家餐馆要办的事，按先后顺序。",
     "Everything needed to open a restaurant, from the company name to tax registration, in order.",
     [("enterprise-name", [], "先申报企业名称。", "Declare the company name first."),
      ("business-licence", ["enterprise-name"], "名称通过后办理营业执照。", "With the name approved, register the business."),
      ("fire-safety-check", ["business-licence"], "开业前须通过消防安全检查。",
       "Premises open to the public need a fire safety check before opening."),
      ("food-licence", ["business-licence", "fire-safety-check"], "持营业执照申请食品经营许可证。",
       "Apply for the food business licence with the business licence."),
      ("new-taxpayer", ["business-licence"], "领取营业执照后办理新办纳税人套餐。",
       "Register as a new taxpayer once the business is registered.")]),
    ("have-baby", "生孩子", "Have a baby",
     "从出生医学证明到社保卡，宝宝出生后要办的事。",
     "What to do after a baby is born, from the birth certificate to the social security card.",
     [("birth-certificate", [], "医院签发出生医学证明。", "The hospital issues the medical birth certificate."),
      ("newborn-registration", ["birth-certificate"], "凭出生医学证明办理入户。",
       "Register the newborn in the household with the birth certificate."),
      ("insurance-registration", ["newborn-registration"], "入户后为宝宝参加社会保险。",
       "Enrol the baby in social insurance after household registration."),
      ("social-security-card", ["insurance-registration"], "参保后申领社保卡（监护人代办）。",
       "Apply for the social security card once insured (a guardian applies).")]),
    ("move-house", "搬家", "Move house",
     "迁移户口后更新身份证和社保登记地址。",
     "Transfer the household registration, then update the ID card and the social insurance address.",
     [("household-transfer", [], "先办理户口迁移。", "Transfer the household registration first."),
      ("id-card-renewal", ["household-transfer"], "户口迁移后换领身份证（地址变更）。",
       "Renew the ID card for the new address."),
      ("insurance-registration", ["household-transfer"], "更新社保参保登记地址。",
       "Update the address of your social insurance registration.")]),
]


def life_event_save(actor, *, code: str, name: str, name_en: str, description: str, description_en: str,
                    steps: list[tuple[str, list[str], str, str]], position: int = 0) -> LifeEvent:
    """Create or replace a life event with its ordered steps. Admins (and the system) only.

    Each step names a service item code and the codes of items that must be done first; a prerequisite must
    be an earlier step of the same life event. Raises ValidationError for unknown items, duplicate steps or a
    prerequisite that is not an earlier step.
    """
    require_role(actor, Role.ADMIN, action="edit life events")
    codes = [step[0] for step in steps]
    items = {i.code: i for i in db.session.scalars(sa.select(ServiceItem).where(ServiceItem.code.in_(codes)))}
    errors = {}
    for position_, (item_code, prerequisites, _note, _note_en) in enumerate(steps):
        if item_code not in items:
            errors[item_code] = "no service item has this code"
        if item_code in codes[:position_]:
            errors[item_code] = "appears twice"
        later = [p for p in prerequisites if p not in codes[:position_]]
        if later:
            errors[item_code] = f"prerequisites {later} are not earlier steps"
    if not steps or errors:
        raise ValidationError(f"life event {code!r} has invalid steps: {errors or 'none given'}", errors=errors)
    event = db.session.scalar(sa.select(LifeEvent).where(LifeEvent.code == code))
    if event is None:
        event = LifeEvent(code=code)
        db.session.add(event)
    event.name, event.name_en, event.description, event.description_en, event.position = (
        name, name_en, description, description_en, position)
    event.steps.clear()
    db.session.flush()
    for index, (item_code, prerequisites, note, note_en) in enumerate(steps, start=1):
        event.steps.append(LifeEventStep(service_item_id=items[item_code].id, position=index,
                                         prerequisites=list(prerequisites), note=note, note_en=note_en))
    db.session.flush()
    audit.record(actor, "life_event.save", "life_event", event.id, {"code": code, "steps": codes})
    db.session.commit()
    return event


def life_events_seed(actor) -> list[LifeEvent]:
    """Save the standard life events (open a restaurant, have a baby, move house) whose items all exist."""
    present = set(db.session.scalars(sa.select(ServiceItem.code)))
    saved = []
    for position, (code, name, name_en, description, description_en, steps) in enumerate(LIFE_EVENTS):
        if all(step[0] in present for step in steps):
            saved.append(life_event_save(actor, code=code, name=name, name_en=name_en, description=description,
                                         description_en=description_en, steps=steps, position=position))
    return saved


def life_event_list() -> list[LifeEvent]:
    """Every life event, in display order (public)."""
    return list(db.session.scalars(sa.select(LifeEvent).order_by(LifeEvent.position, LifeEvent.code)))


def life_event_get(code: str) -> LifeEvent:
    """One life event with its steps (public). Raises NotFound."""
    event = db.session.scalar(sa.select(LifeEvent).where(LifeEvent.code == code))
    if event is None:
        raise NotFound(f"life event {code!r} does not exist; see the list of life events")
    return event


@dataclass(frozen=True)
class StepProgress:
    step: LifeEventStep
    done: bool
    in_progress: bool
    ready: bool  # every prerequisite done, not done itself
    missing: tuple[str, ...]  # prerequisite item codes not yet done


def life_event_progress(event: LifeEvent, completed_codes: set[str], started_codes: set[str] = frozenset()
                        ) -> list[StepProgress]:
    """Where a person stands in a life event, given the item codes they completed (and have under way)."""
    progress = []
    for step in event.steps:
        code = step.service_item.code
        missing = tuple(p for p in step.prerequisites if p not in completed_codes)
        done = code in completed_codes
        progress.append(StepProgress(step, done, code in started_codes and not done, not done and not missing,
                                     missing))
    return progress


def life_events_with_item(item_id: int) -> list[LifeEvent]:
    """The life events a service item is a step of."""
    return list(db.session.scalars(sa.select(LifeEvent).join(LifeEventStep)
                                   .where(LifeEventStep.service_item_id == item_id).order_by(LifeEvent.position)))
