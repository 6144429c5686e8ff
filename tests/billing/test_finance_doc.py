"""The worked example of docs/finance.md, computed by the real code: the doc's input tables drive the
test, and every figure in its output tables must come out to the fen."""

from pathlib import Path

import sqlalchemy as sa

from billing import reports, services
from billing.models import Account
from core.extensions import db
from tests.billing.conftest import AFTER_Q3, AUDITOR, FINANCE, Q3, record, usage_rows

DOC = Path(__file__).resolve().parents[2] / "docs" / "finance.md"


def table(name: str) -> list[dict[str, str]]:
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"<!-- worked-example:{name} -->") + 1
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    header, body = rows[0], rows[2:]
    return [dict(zip(header, row, strict=True)) for row in body]


def number(text: str) -> int:
    return int(text.replace(",", ""))


def worked_example_inputs(source) -> None:
    """The doc's input tables, as the marketplace's data and recorded (and flagged) usage."""
    for row in table("orders"):
        source.add_order(number(row["order"]), department_id=number(row["department"]), fee=number(row["fee (fen)"]),
                         budget=number(row["budget (fen)"]), title=row["title"])
    flagged_keys = []
    for row in table("apps"):
        app_id, order_id, vendor_id = number(row["app"]), number(row["order"]), number(row["vendor"])
        source.add_app(app_id, order_id, vendor_id)
        source.rate(app_id, number(row["ratings"]), number(row["Σ stars"]))
        flagged = number(row["flagged"])
        rows = usage_rows(order_id, app_id, vendor_id, number(row["completed"]) + flagged)
        record(rows)
        flagged_keys += [r["idempotency_key"] for r in rows[:flagged]]
    services.usage_flag(FINANCE, flagged_keys, "worked example: manipulated usage")


def test_the_worked_example_in_the_finance_doc_is_what_the_code_pays(app_ctx, source):
    worked_example_inputs(source)
    preview = services.settlement_preview(FINANCE, Q3)
    lines = {line.app_id: (order_id, line) for order_id, o in preview.orders.items() for line in o.lines}
    expected = table("payouts")
    assert sorted(lines) == sorted(number(r["app"]) for r in expected)
    for row in expected:
        order_id, line = lines[number(row["app"])]
        assert order_id == number(row["order"]) and line.vendor_id == number(row["vendor"])
        assert reports.rating_text(line.bayesian_rating) == row["bayesian rating"]
        assert reports.rating_text(line.multiplier) == row["multiplier"]
        assert reports.rating_text(line.exact_amount, 2) == row["exact amount (fen)"]
        assert line.amount == number(row["paid (fen)"]), row

    awards = [(a.rank, a.candidate.app_id, a.candidate.vendor_id, reports.rating_text(a.score), a.prize.minor)
              for a in preview.awards]
    assert awards == [(number(r["rank"]), number(r["app"]), number(r["vendor"]), r["score"], number(r["prize (fen)"]))
                      for r in table("awards")]

    outcome = services.settlement_post(FINANCE, Q3, now=AFTER_Q3)
    assert outcome.settled
    rows, csv_text = services.payout_file(AUDITOR, Q3)
    assert {r.vendor_id: r.amount_fen for r in rows} == {number(r["vendor"]): number(r["amount (fen)"])
                                                          for r in table("vendors")}
    assert "GOVMARKET-2026Q3-V101,101,vendor_payable:vendor:101,15323897,153238.97,CNY" in csv_text
    balances = {b.code: b.balance for b in services.ledger_trial_balance(AUDITOR, Q3)}
    assert balances["treasury"] == -18_600_000
    budget_1 = db.session.scalar(sa.select(Account.code).where(Account.order_id == 1))
    assert balances[budget_1] == 139_387
    assert sum(balances.values()) == 0
