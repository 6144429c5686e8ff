"""Order pages: the list, the detail (contract summary, scopes, price schedule, suites, public Q&A), and for
the owning department's staff the forms to create, edit, move through the lifecycle, add suite versions and
answer questions; vendors ask questions and read the public suite."""

from __future__ import annotations

import yaml
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from core.auth import web_actor
from core.errors import Conflict, DomainError, NotFound, ValidationError
from core.roles import Role
from marketplace.catalogue import services as catalogue
from marketplace.forms import select_choices, show_service_errors
from marketplace.orders import authz, services
from marketplace.orders.forms import (
    ORDER_ERROR_FIELDS,
    AnswerForm,
    HideQuestionForm,
    OrderForm,
    OrderSearchForm,
    QuestionForm,
    SuiteForm,
    scope_label,
)

bp = Blueprint("orders", __name__, template_folder="templates")

HTTP_METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
TRANSITION_MESSAGES = {"publish": _l("Order published: vendors can now enter apps."),
                       "close": _l("Order closed: no new apps; published apps keep serving."),
                       "archive": _l("Order archived.")}


def _may_change(actor, order) -> bool:
    """Whether the order's change rule admits ``actor`` (so the page shows edit buttons)."""
    try:
        authz.order_change(actor, order)
    except DomainError:
        return False
    return True


def _operations(contract: dict) -> list[dict]:
    """Paths and operations of an OpenAPI document, for the contract summary."""
    rows = []
    for path, item in (contract.get("paths") or {}).items():
        for method in HTTP_METHODS:
            operation = (item or {}).get(method)
            if isinstance(operation, dict):
                rows.append({"method": method.upper(), "path": path,
                             "summary": operation.get("summary") or operation.get("operationId") or "",
                             "responses": sorted(str(code) for code in (operation.get("responses") or {}))})
    return rows


@bp.get("/orders")
def order_list():
    actor = web_actor(required=False)
    form = OrderSearchForm(request.args)
    form.validate()
    status = form.status.data if not form.status.errors else None
    page_number = 1 if form.page.errors else (form.page.data or 1)
    page = services.order_list(actor, status=status or None, q=(form.q.data or "").strip(), page=page_number,
                               page_size=current_app.config["PAGE_SIZE"])
    return render_template("orders/list.html", form=form, page=page,
                           args={"q": form.q.data or None, "status": status or None})


def _item_choices(actor) -> dict[int, str]:
    department_id = actor.department_id if actor.role == Role.DEPARTMENT_STAFF else None
    items = catalogue.service_item_list(department_id=department_id, page_size=100).items
    return {item.id: f"{item.name} · {item.code}" for item in items}


@bp.route("/orders/new", methods=["GET", "POST"])
def order_new():
    actor = web_actor()
    authz.order_create(actor, actor.department_id)
    form = OrderForm()
    form.limit_to(services.EDITABLE["draft"], creating=True)
    form.service_item_id.choices = select_choices(_item_choices(actor))
    if request.method == "POST":
        valid = form.validate()
        contract = form.parse_document("contract", required=True)
        if valid and contract is not None:
            try:
                order = services.order_create(
                    actor, service_item_id=form.service_item_id.data, slug=form.slug.data.strip(),
                    title=form.title.data, description=form.description.data or "", contract=contract,
                    dept_scopes=form.dept_scopes.data or [], citizen_scopes=form.citizen_scopes.data or [],
                    fee_per_transaction_fen=form.fee.fen, quarterly_budget_fen=form.budget.fen,
                    award_eligible=form.award_eligible.data)
            except (ValidationError, Conflict) as exc:
                # The only conflict on creation is a slug in use.
                errors = exc.errors or ({"slug": exc.message} if isinstance(exc, Conflict) else {})
                show_service_errors(form, errors, exc.message, ORDER_ERROR_FIELDS)
                return render_template("orders/form.html", form=form, order=None), exc.status
            flash(_("Draft order created. Add an acceptance suite, then publish it."), "success")
            return redirect(url_for("orders.order_show", order_id=order.id))
        return render_template("orders/form.html", form=form, order=None), 422
    return render_template("orders/form.html", form=form, order=None)


@bp.route("/orders/<int:order_id>/edit", methods=["GET", "POST"])
def order_edit(order_id: int):
    actor = web_actor()
    order = services.order_get(actor, order_id)
    authz.order_change(actor, order)
    editable = services.EDITABLE[order.status]
    if not editable:
        raise Conflict(f"order {order.id} is {order.status}; nothing about it can change any more")
    if request.method == "GET":
        form = OrderForm(obj=order, fee=order.fee_per_transaction_fen, budget=order.quarterly_budget_fen,
                         contract_text=yaml.safe_dump(order.contract, allow_unicode=True, sort_keys=False),
                         revision=order.revision)
        form.limit_to(editable, creating=False)
        return render_template("orders/form.html", form=form, order=order)
    form = OrderForm()
    form.limit_to(editable, creating=False)
    valid = form.validate()
    contract = form.parse_document("contract", required=True) if "contract" in editable else None
    if not valid or ("contract" in editable and contract is None):
        return render_template("orders/form.html", form=form, order=order), 422
    changes = {}
    for key in editable:
        if key == "contract":
            value = contract
        elif key == "fee_per_transaction_fen":
            value = form.fee.fen
        elif key == "quarterly_budget_fen":
            value = form.budget.fen
        elif key == "rating_multipliers":
            continue  # kept as set at creation; not edited on this form
        else:
            value = form[key].data
            if key == "description":
                value = value or ""
            elif key in {"dept_scopes", "citizen_scopes"}:
                value = list(value or [])
        changes[key] = value
    try:
        expected = int(form.revision.data)
    except (TypeError, ValueError):
        expected = None
    try:
        services.order_update(actor, order.id, changes, expected_revision=expected)
    except Conflict as exc:
        form.form_errors.append(_("Someone else saved this order while you were editing it. Your changes were "
                                  "not saved: open the order again to see the current version, then re-apply "
                                  "your changes."))
        form.form_errors.append(exc.message)
        return render_template("orders/form.html", form=form, order=order, conflict=True), 409
    except ValidationError as exc:
        show_service_errors(form, exc.errors, exc.message, ORDER_ERROR_FIELDS)
        return render_template("orders/form.html", form=form, order=order), 422
    flash(_("Order saved."), "success")
    return redirect(url_for("orders.order_show", order_id=order.id))


@bp.post("/orders/<int:order_id>/<any(publish, close, archive):action>")
def order_transition(order_id: int, action: str):
    # The button's CSRF token was checked by CSRFProtect before this view runs.
    actor = web_actor()
    service = {"publish": services.order_publish, "close": services.order_close,
               "archive": services.order_archive}[action]
    service(actor, order_id)
    flash(str(TRANSITION_MESSAGES[action]), "success")
    return redirect(url_for("orders.order_show", order_id=order_id))


def _render_order(actor, order_id: int, *, question_form=None, answer_forms=None, status: int = 200):
    order = services.order_get(actor, order_id)
    try:
        suite = services.suite_get(actor, order.id)
    except NotFound:
        suite = None
    questions = services.question_page(actor, order.id, page=request.args.get("page", 1, type=int), page_size=20)
    may_change = _may_change(actor, order)
    answer_forms = answer_forms or {}
    if may_change:
        for q in questions.items:
            answer_forms.setdefault(q.id, AnswerForm(prefix=f"q{q.id}", data={"answer": q.answer or ""}))
    can_ask = bool(actor and actor.role == Role.VENDOR_MEMBER and order.status == "open")
    transitions = [a for a, (froms, _stamp) in services.TRANSITIONS.items() if order.status in froms] if may_change else []
    return render_template(
        "orders/show.html", order=order, suite=suite, questions=questions, operations=_operations(order.contract),
        may_change=may_change, transitions=transitions, editable=services.EDITABLE[order.status],
        question_form=question_form or (QuestionForm() if can_ask else None), answer_forms=answer_forms,
        hide_forms={q.id: HideQuestionForm(prefix=f"h{q.id}") for q in questions.items} if may_change else {},
        can_enter_app=bool(actor and actor.role == Role.VENDOR_MEMBER and order.status == "open"),
        scope_label=scope_label,
    ), status


@bp.get("/orders/<int:order_id>")
def order_show(order_id: int):
    return _render_order(web_actor(required=False), order_id)


@bp.get("/orders/<int:order_id>/suite")
def suite_show(order_id: int):
    actor = web_actor(required=False)
    suite = services.suite_get(actor, order_id, request.args.get("version", type=int))
    order = services.order_get(actor, order_id)
    return render_template("orders/suite.html", order=order, suite=suite,
                           may_change=_may_change(actor, order))


@bp.route("/orders/<int:order_id>/suite/new", methods=["GET", "POST"])
def suite_new(order_id: int):
    actor = web_actor()
    order = services.order_get(actor, order_id)
    authz.order_change(actor, order)
    form = SuiteForm()
    if request.method == "POST":
        valid = form.validate()
        document = form.parse_document("suite", required=True)
        if valid and document is not None:
            try:
                suite = services.suite_add(actor, order.id, document)
            except ValidationError as exc:
                show_service_errors(form, exc.errors, exc.message, {"suite": "suite_text"})
                return render_template("orders/suite_form.html", form=form, order=order), 422
            flash(_("Suite version %(v)s added.", v=suite.version), "success")
            return redirect(url_for("orders.order_show", order_id=order.id) + "#suite")
        return render_template("orders/suite_form.html", form=form, order=order), 422
    return render_template("orders/suite_form.html", form=form, order=order)


@bp.post("/orders/<int:order_id>/questions")
def question_ask(order_id: int):
    actor = web_actor()
    form = QuestionForm()
    if form.validate():
        try:
            services.question_ask(actor, order_id, form.text.data)
        except ValidationError as exc:
            show_service_errors(form, exc.errors, exc.message)
        else:
            flash(_("Your question is published; the department's answer will appear below it."), "success")
            return redirect(url_for("orders.order_show", order_id=order_id) + "#questions")
    return _render_order(actor, order_id, question_form=form, status=422)


@bp.post("/questions/<int:question_id>/answer")
def question_answer(question_id: int):
    actor = web_actor()
    form = AnswerForm(prefix=f"q{question_id}")
    order_id = request.form.get("order_id", type=int)
    if form.validate():
        try:
            question = services.question_answer(actor, question_id, form.answer.data)
        except ValidationError as exc:
            show_service_errors(form, exc.errors, exc.message)
        else:
            flash(_("Answer published."), "success")
            return redirect(url_for("orders.order_show", order_id=question.order_id) + f"#question-{question.id}")
    if order_id is None:
        raise ValidationError("the answer form lost its order; reload the order page and answer again")
    return _render_order(actor, order_id, answer_forms={question_id: form}, status=422)


@bp.post("/questions/<int:question_id>/hide")
def question_hide(question_id: int):
    actor = web_actor()
    form = HideQuestionForm(prefix=f"h{question_id}")
    if not form.validate():
        raise ValidationError("say why the question is hidden", errors={"reason": "empty"})
    question = services.question_hide(actor, question_id, form.reason.data)
    flash(_("Question hidden; it stays on record with your reason."), "success")
    return redirect(url_for("orders.order_show", order_id=question.order_id) + f"#question-{question.id}")
