"""Finance web pages (finance and auditor roles), vendor statements and the public transparency page.

Each view parses, calls one service function and renders; the services check who may see what.
"""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from billing import dataset, reports, services
from billing.calendar import quarter_code_of
from core.auth import web_actor
from core.errors import NotFound, ValidationError
from core.time import utcnow

bp = Blueprint("billing", __name__, template_folder="templates")
CHINA_TIME = ZoneInfo("Asia/Shanghai")  # quarters are China-time calendar quarters; every page shows this zone


# Words stored as codes (quarter status, account and entry kinds), shown in the page's language.
LABELS = {
    "open": _l("open"), "grace": _l("grace"), "settled": _l("settled"), "closed": _l("closed"),
    "treasury": _l("treasury"), "award_pool": _l("award pool"), "department_budget": _l("department budget"),
    "vendor_payable": _l("vendor payable"),
    "appropriation": _l("appropriation"), "settlement": _l("settlement"), "award_funding": _l("award funding"),
    "award": _l("award"), "reversal": _l("reversal"), "adjustment": _l("adjustment"),
    "awards": _l("awards"),
    "bayesian_rating": _l("Bayesian rating"), "rating_multiplier": _l("Multiplier"), "order_payout": _l("Order payout"),
    "award_score": _l("Award score"), "award_prize": _l("Award prize"),
}


def _yuan(fen, currency="CNY") -> str:
    return reports.yuan(fen, currency)


@bp.app_template_filter("fen")
def fen_filter(value, currency="CNY") -> str:
    """An amount of fen as ¥1,234.56 (other currencies keep their code in front)."""
    return reports.money_text(value or 0, currency)


@bp.app_template_filter("billing_label")
def label_filter(code) -> str:
    """A stored code (``grace``, ``vendor_payable``, ``order:3``) in the page's language."""
    code = str(code or "")
    if code.startswith("order:"):
        return _("order %(id)s", id=code.split(":", 1)[1])
    return str(LABELS.get(code, code))


@bp.app_template_filter("account_label")
def account_label_filter(account) -> str:
    """A ledger account in words: 国库, 奖励资金池, 预算：<order title>, 应付：<vendor name> (the code stays in the
    title attribute and the dataset)."""
    kind, name = account.kind, (account.name or "").strip()
    if kind == "treasury":
        return _("Treasury")
    if kind == "award_pool":
        return _("Award pool")
    # Accounts opened before names were recorded in words: "Budget of <title>", "Payable to vendor 4", the code.
    if name.startswith("Budget of "):
        name = name.removeprefix("Budget of ")
    elif name == account.code or name.startswith("Payable to vendor "):
        number = account.code.rsplit(":", 1)[-1]
        name = _("order %(id)s", id=number) if kind == "department_budget" else _("vendor %(id)s", id=number)
    if kind == "department_budget":
        return _("Budget of %(order)s", order=name)
    return _("Payable to %(vendor)s", vendor=name)


ROUNDING_TEXT = {
    "bayesian_rating": _l("Exact fraction, never rounded."),
    "rating_multiplier": _l("Exact fraction: linear between the table's points, flat beyond them; never rounded."),
    "order_payout": _l("The order pays the sum of exact amounts rounded half to even to the fen, at most its "
                       "budget; each app gets the whole fen of its share, and the fen left over go one each to the "
                       "largest remainders (ties: more transactions, then lower app id)."),
    "award_score": _l("Computed to 50 significant digits, for ranking only; never money."),
    "award_prize": _l("Fixed prizes in whole fen; nothing to round."),
}


@bp.app_template_filter("rounding_text")
def rounding_text_filter(name) -> str:
    return str(ROUNDING_TEXT.get(name, ""))


@bp.app_template_filter("exact_rating")
def rating_filter(value, places: int = 4) -> str:
    """An exact rational ('213/49') rounded half-even for reading: 4.3469."""
    return reports.rating_text(value, places) if value not in (None, "") else ""


@bp.app_template_filter("multiplier_points")
def multiplier_points_filter(points) -> str:
    """An order's multiplier table as published: 1★ ×0.50, 3★ ×0.80, 4★ ×1.00, 5★ ×1.20 (exact decimals)."""
    return ", ".join(f"{reports.rating_text(p['stars'], 1)}★ ×{reports.rating_text(Fraction(p['multiplier_bp'], 10_000), 2)}"
                     for p in points)


@bp.app_template_filter("china_time")
def china_time_filter(moment) -> str:
    """A stored UTC time (or its ISO text) in China time, labelled, the same way on every finance page."""
    if not moment:
        return "—"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    local = moment.astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M")
    return _("%(when)s China time", when=local)


@bp.get("/finance/")
def finance_home():
    actor = web_actor()
    return render_template("billing/finance_home.html", actor=actor, quarters=services.quarters_list(actor),
                           current=quarter_code_of(utcnow()))


@bp.get("/finance/quarters/<code>")
def quarter_page(code):
    actor = web_actor()
    quarter = services.quarter_get(actor, code)
    return render_template("billing/quarter.html", actor=actor, quarter=quarter,
                           runs=services.settlement_runs(actor, code))


@bp.get("/finance/quarters/<code>/preview")
def preview_page(code):
    actor = web_actor()
    preview = services.settlement_preview(actor, code)
    return render_template("billing/preview.html", actor=actor, preview=preview, code=code,
                           quarter=services.quarter_get(actor, code))


@bp.post("/finance/quarters/<code>/settlement")
def settlement_post(code):
    actor = web_actor()
    outcome = services.settlement_post(actor, code)
    flash(_("%(code)s: %(posted)d run(s) posted, %(already)d already posted", code=code, posted=len(outcome.posted),
            already=len(outcome.already_posted))
          + (_("; the quarter is settled") if outcome.settled else ""), "success")
    return redirect(url_for("billing.quarter_page", code=code))


@bp.post("/finance/quarters/<code>/close")
def quarter_close(code):
    actor = web_actor()
    services.quarter_close(actor, code)
    flash(_("%(code)s is closed: nothing in it can change any more", code=code), "success")
    return redirect(url_for("billing.quarter_page", code=code))


@bp.get("/finance/runs/<int:run_id>")
def run_page(run_id):
    actor = web_actor()
    return render_template("billing/run.html", actor=actor, run=services.settlement_run_get(actor, run_id),
                           check=services.settlement_recompute(actor, run_id))


@bp.get("/finance/quarters/<code>/report")
def report_page(code):
    actor = web_actor()
    report = services.finance_report(actor, code)
    return render_template("billing/report.html", actor=actor, report=report, charts=reports.report_charts(report))


@bp.get("/finance/quarters/<code>/report.csv")
def report_csv(code):
    report = services.finance_report(web_actor(), code)
    return Response(reports.finance_report_csv(report), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=finance-report-{code}.csv"})


@bp.get("/finance/quarters/<code>/report.pdf")
def report_pdf(code):
    report = services.finance_report(web_actor(), code)
    return Response(reports.finance_report_pdf(report), mimetype="application/pdf",
                    headers={"Content-Disposition": f"attachment; filename=finance-report-{code}.pdf"})


@bp.get("/finance/quarters/<code>/payouts.csv")
def payouts_csv(code):
    _rows, text = services.payout_file(web_actor(), code)
    return Response(text, mimetype="text/csv", headers={"Content-Disposition": f"attachment; filename=payouts-{code}.csv"})


@bp.get("/finance/quarters/<code>/payouts.xml")
def payouts_bank_file(code):
    data = services.payout_bank_file(web_actor(), code, config=current_app.config)
    return Response(data, mimetype="application/xml",
                    headers={"Content-Disposition": f"attachment; filename=payouts-{code}.pain001.xml"})


@bp.get("/finance/ledger")
def ledger_page():
    actor = web_actor()
    quarter = request.args.get("quarter") or None
    return render_template("billing/ledger.html", actor=actor, quarter=quarter,
                           verify=services.ledger_verify(actor),
                           balances=services.ledger_trial_balance(actor, quarter),
                           entries=services.ledger_entries(actor, quarter_code=quarter, page_size=100))


@bp.get("/finance/ledger/accounts/<int:account_id>")
def account_page(account_id):
    actor = web_actor()
    account, lines = services.ledger_account_statement(actor, account_id, request.args.get("quarter") or None)
    return render_template("billing/account.html", actor=actor, account=account, lines=lines)


@bp.post("/finance/ledger/entries/<int:entry_id>/reversal")
def entry_reverse(entry_id):
    actor = web_actor()
    reason = request.form.get("reason", "")
    if len(reason) > 500:
        raise ValidationError("the reason may hold at most 500 characters")
    entry = services.ledger_reverse(actor, entry_id, reason)
    flash(_("entry reversed by entry #%(seq)s", seq=entry.seq), "success")
    return redirect(url_for("billing.ledger_page"))


@bp.get("/finance/vendors/<int:vendor_id>/statement")
def vendor_statement_page(vendor_id):
    actor = web_actor()
    statement = services.vendor_statement(actor, vendor_id, request.args.get("quarter") or None)
    return render_template("billing/vendor_statement.html", actor=actor, statement=statement)


@bp.get("/transparency/")
def transparency_index():
    return render_template("billing/transparency_index.html",
                           quarters=services.transparency_quarters(web_actor(required=False)))


def _dataset_or_404(code) -> dict:
    data = services.transparency_dataset(web_actor(required=False), code)
    if data is None:
        raise NotFound(f"{code} is not settled yet: its public dataset appears once finance posts the settlement")
    return data


@bp.get("/transparency/<code>")
def transparency_page(code):
    data = services.transparency_dataset(web_actor(required=False), code)
    chart = None
    if data:
        paid = sorted(((a["app_name"] or f"#{a['app_id']}", a["paid_fen"]) for o in data["orders"] for a in o["apps"]),
                      key=lambda item: -item[1])
        chart = reports.bar_chart_svg(_("Usage payments per app %(code)s (awards not included), yuan", code=code),
                                      paid[:20])
    return render_template("billing/transparency.html", code=code, data=data, chart=chart)


@bp.get("/transparency/<code>/dataset.json")
def transparency_json(code):
    return Response(dataset.as_json(_dataset_or_404(code)), mimetype="application/json",
                    headers={"Content-Disposition": f"inline; filename=govmarket-dataset-{code}.json"})


@bp.get("/transparency/<code>/dataset.csv")
def transparency_csv(code):
    return Response(dataset.as_csv(_dataset_or_404(code)), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=govmarket-dataset-{code}.csv"})


@bp.get("/transparency/public_recompute.py")
def transparency_script():
    return Response(dataset.RECOMPUTE_SCRIPT.read_text(encoding="utf-8"), mimetype="text/x-python",
                    headers={"Content-Disposition": "attachment; filename=public_recompute.py"})
