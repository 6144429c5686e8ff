"""Finance reports built from posted settlement runs and the ledger: the quarterly finance report (by
department, order, vendor and app, with awards and charts) as data, CSV, SVG charts and PDF; the payout
file; the public transparency figures. Amounts are integer fen throughout; ratings are shown rounded
(half-even, 4 decimals) for reading only — the exact values are in the runs.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import sqlalchemy as sa
from flask import current_app, has_request_context
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from markupsafe import Markup, escape

from billing.models import Account, JournalEntry, LedgerHead, Posting, SettlementLine, SettlementRun
from billing.source import EXTENSION_KEY
from core.extensions import db
from core.money import Money


def rating_text(exact: str | Fraction, places: int = 4) -> str:
    value = Fraction(exact)
    quantum = Decimal(1).scaleb(-places)
    return str((Decimal(value.numerator) / Decimal(value.denominator)).quantize(quantum, rounding=ROUND_HALF_EVEN))


def yuan(fen: int, currency: str = "CNY") -> str:
    return Money(int(fen), currency).format()


def money_text(fen: int, currency: str = "CNY") -> str:
    """An amount for people to read: ¥1,234.56 in yuan, the same in every language; other currencies by code."""
    money = Money(int(fen), currency)
    return "¥" + money.format() if currency == "CNY" else f"{currency} {money.format()}"


@dataclass
class AppRow:
    app_id: int
    app_name: str
    vendor_id: int
    vendor_name: str
    order_id: int
    order_title: str
    department_id: int
    department_name: str
    completed: int = 0
    late: int = 0
    ratings: int = 0
    bayesian_rating: str = ""
    multiplier: str = ""
    paid_fen: int = 0
    award_rank: int | None = None
    award_fen: int = 0

    @property
    def total_fen(self) -> int:
        return self.paid_fen + self.award_fen


@dataclass
class Group:
    key: int
    name: str
    completed: int = 0
    paid_fen: int = 0
    award_fen: int = 0
    budget_fen: int = 0
    capped: bool = False
    apps: int = 0

    @property
    def total_fen(self) -> int:
        return self.paid_fen + self.award_fen


@dataclass
class FinanceReport:
    quarter_code: str
    currency: str
    apps: list[AppRow] = field(default_factory=list)
    departments: list[Group] = field(default_factory=list)
    orders: list[Group] = field(default_factory=list)
    vendors: list[Group] = field(default_factory=list)
    awards: list[AppRow] = field(default_factory=list)
    runs: list[dict] = field(default_factory=list)
    ledger_head: tuple[int, str] = (0, "")

    @property
    def paid_fen(self) -> int:
        return sum(a.paid_fen for a in self.apps)

    @property
    def award_fen(self) -> int:
        return sum(a.award_fen for a in self.apps)

    @property
    def total_fen(self) -> int:
        return self.paid_fen + self.award_fen


def app_facts(app_ids: list[int]) -> dict:
    """The marketplace's facts (names, vendor name) of these apps when it is plugged in; {} otherwise."""
    source = current_app.extensions.get(EXTENSION_KEY)
    if source is None or not app_ids:
        return {}
    return dict(source.apps(app_ids))


def _names(app_ids: list[int]) -> dict[int, tuple[str, str]]:
    """App and vendor names from the marketplace when it is plugged in; ids otherwise."""
    return {a: (f.name, f.vendor_name) for a, f in app_facts(app_ids).items()}


def build_finance_report(quarter_code: str) -> FinanceReport:
    runs = list(db.session.scalars(sa.select(SettlementRun).where(SettlementRun.quarter_code == quarter_code)
                                   .order_by(SettlementRun.id)))
    currency = runs[0].currency if runs else "CNY"
    report = FinanceReport(quarter_code, currency)
    rows: dict[int, AppRow] = {}
    orders: dict[int, Group] = {}
    order_meta: dict[int, tuple[str, int, str]] = {}
    for run in runs:
        if run.order_id is not None:
            terms = run.snapshot["order"]
            order_meta[run.order_id] = (terms.get("title") or f"Order {run.order_id}", terms["department_id"],
                                        terms.get("department_name") or f"Department {terms['department_id']}")
            orders[run.order_id] = Group(run.order_id, order_meta[run.order_id][0], budget_fen=run.budget_fen or 0,
                                         capped=run.capped)
        report.runs.append({"id": run.id, "scope": run.scope, "total_fen": run.total_fen,
                            "snapshot_sha256": run.snapshot_sha256, "posted_at": run.posted_at})
    lines = list(db.session.scalars(sa.select(SettlementLine).join(SettlementRun)
                                    .where(SettlementRun.quarter_code == quarter_code).order_by(SettlementLine.id)))
    names = _names(sorted({line.app_id for line in lines}))
    for line in lines:
        title, dept_id, dept_name = order_meta.get(line.order_id, (f"Order {line.order_id}", 0, ""))
        app_name, vendor_name = names.get(line.app_id, (f"App {line.app_id}", f"Vendor {line.vendor_id}"))
        row = rows.setdefault(line.app_id, AppRow(line.app_id, app_name, line.vendor_id, vendor_name, line.order_id,
                                                  title, dept_id, dept_name))
        if line.award_rank is None:
            row.completed, row.late, row.ratings = line.completed, line.late, line.ratings
            row.bayesian_rating, row.multiplier = rating_text(line.bayesian_rating), rating_text(line.multiplier)
            row.paid_fen += line.amount_fen
        else:
            row.award_rank, row.award_fen = line.award_rank, line.amount_fen
    report.apps = sorted(rows.values(), key=lambda r: (r.order_id, -r.total_fen, r.app_id))
    report.awards = sorted((r for r in rows.values() if r.award_rank), key=lambda r: r.award_rank)
    departments: dict[int, Group] = {}
    vendors: dict[int, Group] = {}
    for r in report.apps:
        for groups, key, name in ((departments, r.department_id, r.department_name), (vendors, r.vendor_id, r.vendor_name)):
            g = groups.setdefault(key, Group(key, name))
            g.completed += r.completed + r.late
            g.paid_fen += r.paid_fen
            g.award_fen += r.award_fen
            g.apps += 1
        if r.order_id in orders:
            o = orders[r.order_id]
            o.completed += r.completed + r.late
            o.paid_fen += r.paid_fen
            o.award_fen += r.award_fen
            o.apps += 1
    for order_id, (_title, dept_id, _dept_name) in order_meta.items():
        if dept_id in departments:
            departments[dept_id].budget_fen += orders[order_id].budget_fen
    report.departments = sorted(departments.values(), key=lambda g: g.key)
    report.orders = sorted(orders.values(), key=lambda g: g.key)
    report.vendors = sorted(vendors.values(), key=lambda g: (-g.total_fen, g.key))
    head = db.session.get(LedgerHead, 1)
    report.ledger_head = (head.seq, head.hash) if head else (0, "")
    return report


# --- CSV -----------------------------------------------------------------------------------------------

# A cell a spreadsheet would read as a formula starts with one of these (OWASP "CSV injection"); a plain number
# such as -0.05 or an exact ratio such as -3/8 is data, not a formula, and stays as it is.
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"^-?\d+(\.\d+)?(/\d+)?$")


def csv_cell(value):
    """A cell as written: numbers as they are; text that a spreadsheet would run as a formula (a vendor
    named ``=HYPERLINK(…)``) gets a leading apostrophe, which Excel and LibreOffice show as text."""
    if isinstance(value, str) and value.startswith(FORMULA_LEADS) and not PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def csv_text(header: list[str], rows) -> str:
    """CSV for people's spreadsheets: a UTF-8 byte-order mark first (without it Excel on Chinese Windows reads
    the file as GBK and shows mojibake), CRLF-free lines, every text cell escaped by ``csv_cell``."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return out.getvalue()


APP_COLUMNS = ["quarter", "department_id", "department", "order_id", "order", "vendor_id", "vendor", "app_id", "app",
               "completed", "late", "ratings", "bayesian_rating", "multiplier", "paid_fen", "award_rank", "award_fen",
               "total_fen", "currency"]


def finance_report_csv(report: FinanceReport) -> str:
    return csv_text(APP_COLUMNS, (
        [report.quarter_code, r.department_id, r.department_name, r.order_id, r.order_title, r.vendor_id,
         r.vendor_name, r.app_id, r.app_name, r.completed, r.late, r.ratings, r.bayesian_rating, r.multiplier,
         r.paid_fen, r.award_rank or "", r.award_fen, r.total_fen, report.currency] for r in report.apps))


@dataclass(frozen=True)
class PayoutRow:
    vendor_id: int
    account_code: str
    amount_fen: int
    currency: str
    entries: str


def payout_rows(quarter_code: str) -> list[PayoutRow]:
    """What each vendor is owed from the quarter's entries (usage, awards and reversals booked in it)."""
    p, a, e = Posting.__table__, Account.__table__, JournalEntry.__table__
    seqs = sa.func.min(e.c.seq), sa.func.max(e.c.seq)
    query = (sa.select(a.c.vendor_id, a.c.code, sa.func.sum(p.c.amount), a.c.currency, *seqs)
             .join(p, p.c.account_id == a.c.id).join(e, e.c.id == p.c.entry_id)
             .where(a.c.kind == "vendor_payable", e.c.quarter_code == quarter_code)
             .group_by(a.c.vendor_id, a.c.code, a.c.currency).order_by(a.c.vendor_id))
    return [PayoutRow(v, code, int(total), cur, f"#{lo}–#{hi}") for v, code, total, cur, lo, hi in db.session.execute(query)]


def payout_csv(quarter_code: str, rows: list[PayoutRow]) -> str:
    return csv_text(["reference", "vendor_id", "payable_account", "amount_fen", "amount_yuan", "currency", "entries"],
                    ([f"GOVMARKET-{quarter_code}-V{r.vendor_id}", r.vendor_id, r.account_code, r.amount_fen,
                      yuan(r.amount_fen, r.currency).replace(",", ""), r.currency, r.entries] for r in rows))


# --- charts --------------------------------------------------------------------------------------------

def fit_label(text: str, width: float, font_size: float) -> str:
    """``text`` shortened with an ellipsis to fit ``width`` px: a CJK (wide) character takes a whole em, others
    about 0.6 em — so a long Chinese vendor name never runs off the chart's left edge."""
    def ems(ch: str) -> float:
        return 1.0 if unicodedata.east_asian_width(ch) in ("W", "F") else 0.6

    budget = width / font_size
    if sum(ems(ch) for ch in text) <= budget:
        return text
    out, used = "", 1.0  # room for the ellipsis
    for ch in text:
        if used + ems(ch) > budget:
            break
        out, used = out + ch, used + ems(ch)
    return out + "…"


def bar_chart_svg(title: str, items: list[tuple[str, int]], currency: str = "CNY", width: int = 640) -> Markup:
    """A horizontal bar chart of amounts in fen, as inline SVG (no scripts, no external resources)."""
    bar_h, gap, label_w, top = 22, 6, 200, 28
    height = top + len(items) * (bar_h + gap) + 10
    peak = max((v for _, v in items), default=0) or 1
    # Scales down to the width of a phone (viewBox + width 100%), never wider than drawn.
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="100%" style="max-width:{width}px" '
             f'viewBox="0 0 {width} {height}" aria-label="{escape(title)}" class="chart">',
             f'<title>{escape(title)}</title>',
             f'<text x="0" y="18" font-size="14" font-weight="bold">{escape(title)}</text>']
    span = width - label_w - 120
    for i, (label, value) in enumerate(items):
        y = top + i * (bar_h + gap)
        w = max(1, value * span // peak) if value else 0
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" font-size="12" text-anchor="end">'
                     f'<title>{escape(label)}</title>{escape(fit_label(label, label_w - 10, 12))}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}" fill="#2b6cb0"/>')
        parts.append(f'<text x="{label_w + w + 6}" y="{y + 15}" font-size="12">{escape(money_text(value, currency))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every text in it went through escape())


def report_charts(report: FinanceReport) -> dict[str, Markup]:
    return {
        "vendors": bar_chart_svg(_("Paid per vendor (usage + awards), yuan"),
                                 [(v.name, v.total_fen) for v in report.vendors][:15], report.currency),
        "orders": bar_chart_svg(_("Paid per order against its budget, yuan"),
                                [(o.name, o.paid_fen) for o in report.orders][:15], report.currency),
    }


# --- PDF -----------------------------------------------------------------------------------------------

def finance_report_pdf(report: FinanceReport) -> bytes:
    """The finance report as a tagged PDF (PDF/UA-1: headings, tables and their header cells are marked up, the
    language is declared), landscape A4 with page numbers, laid out by WeasyPrint from an HTML table layout whose
    cells wrap (Noto CJK, so Chinese names print). In the request's language; outside a request (the CLI) in
    Chinese, the platform's default."""
    if has_request_context():
        return _finance_report_pdf(report)
    with force_locale("zh_CN"):
        return _finance_report_pdf(report)


def _finance_report_pdf(report: FinanceReport) -> bytes:
    from weasyprint import HTML  # loads Pango through cffi: only the PDF needs it, not every process at start

    # The template alone, without the site's context processors (the CLI prints outside any request).
    template = current_app.jinja_env.get_template("billing/report_print.html")
    html = template.render(report=report, charts=report_charts(report), printed_at=datetime.now(UTC),
                           html_lang="en" if str(get_locale()).startswith("en") else "zh-CN")
    return HTML(string=html).write_pdf(pdf_variant="pdf/ua-1")
