"""The finance report's figures, the payout file and the CSV, to the fen, for a settled quarter worked by hand:

- order 1 (department 10, 200 fen, budget 100,000 yuan): app 11 (vendor 101) 120 transactions and 40 ratings
  summing 184, app 12 (vendor 102) 5 transactions, unrated. 40 ≥ 20 ratings, so m = 4.6; both apps stand at 4.6
  → ×1.12: 120 × 200 × 1.12 = 26,880 fen and 5 × 200 × 1.12 = 1,120 fen.
- order 2 (department 20, 150 fen, budget 20 yuan): app 21 (vendor 101) 30 transactions, unrated at the default
  prior 4 → ×1: 4,500 fen demanded, capped at 2,000.
- awards: only app 11 has ≥ 100 transactions and ≥ 30 ratings: first prize, 100,000 yuan.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from fractions import Fraction

import pytest

from billing import reports, services
from billing.models import LedgerHead
from core.extensions import db
from tests.billing.conftest import AFTER_Q3, FINANCE, Q3, record, usage_rows


@pytest.fixture
def settled(app_ctx, source):
    source.add_order(1, department_id=10, fee=200, budget=10_000_000)
    terms = source.add_order(2, department_id=20, fee=150, budget=2_000)
    source.order_terms[2] = dataclasses.replace(terms, department_name="")  # named from its id in the report
    source.add_app(11, 1, 101)
    source.add_app(12, 1, 102)
    source.add_app(21, 2, 101)
    source.rate(11, 40, 184)
    record(usage_rows(1, 11, 101, 120) + usage_rows(1, 12, 102, 5) + usage_rows(2, 21, 101, 30))
    services.settlement_post(FINANCE, Q3, now=AFTER_Q3)
    return reports.build_finance_report(Q3)


def test_app_rows(settled):
    assert [(a.app_id, a.app_name, a.vendor_id, a.vendor_name, a.order_id, a.order_title, a.department_id,
             a.department_name, a.completed, a.late, a.ratings, a.bayesian_rating, a.multiplier, a.paid_fen,
             a.award_rank, a.award_fen, a.total_fen) for a in settled.apps] == [
        (11, "App 11", 101, "Vendor 101", 1, "Order 1", 10, "Department 10", 120, 0, 40, "4.6000", "1.1200", 26_880,
         1, 10_000_000, 10_026_880),
        (12, "App 12", 102, "Vendor 102", 1, "Order 1", 10, "Department 10", 5, 0, 0, "4.6000", "1.1200", 1_120,
         None, 0, 1_120),
        (21, "App 21", 101, "Vendor 101", 2, "Order 2", 20, "Department 20", 30, 0, 0, "4.0000", "1.0000", 2_000,
         None, 0, 2_000),
    ]
    assert [a.app_id for a in settled.awards] == [11]
    assert (settled.paid_fen, settled.award_fen, settled.total_fen) == (30_000, 10_000_000, 10_030_000)


def groups(items):
    return [(g.key, g.name, g.completed, g.paid_fen, g.award_fen, g.total_fen, g.budget_fen, g.capped, g.apps)
            for g in items]


def test_groups_by_department_order_and_vendor(settled):
    assert groups(settled.departments) == [(10, "Department 10", 125, 28_000, 10_000_000, 10_028_000, 10_000_000, False, 2),
                                           (20, "Department 20", 30, 2_000, 0, 2_000, 2_000, False, 1)]
    assert groups(settled.orders) == [(1, "Order 1", 125, 28_000, 10_000_000, 10_028_000, 10_000_000, False, 2),
                                      (2, "Order 2", 30, 2_000, 0, 2_000, 2_000, True, 1)]
    assert groups(settled.vendors) == [(101, "Vendor 101", 150, 28_880, 10_000_000, 10_028_880, 0, False, 2),
                                       (102, "Vendor 102", 5, 1_120, 0, 1_120, 0, False, 1)]


def test_runs_and_ledger_head(settled):
    assert [(r["scope"], r["total_fen"]) for r in settled.runs] == [("order:1", 28_000), ("order:2", 2_000),
                                                                     ("awards", 10_000_000)]
    assert all(len(r["snapshot_sha256"]) == 64 and r["posted_at"] for r in settled.runs)
    head = db.session.get(LedgerHead, 1)
    assert settled.ledger_head == (head.seq, head.hash) == (6, head.hash)
    assert (settled.quarter_code, settled.currency) == (Q3, "CNY")


def test_csv(settled):
    assert reports.finance_report_csv(settled).splitlines() == [
        "\ufeffquarter,department_id,department,order_id,order,vendor_id,vendor,app_id,app,completed,late,ratings,"
        "bayesian_rating,multiplier,paid_fen,award_rank,award_fen,total_fen,currency",
        "2026Q3,10,Department 10,1,Order 1,101,Vendor 101,11,App 11,120,0,40,4.6000,1.1200,26880,1,10000000,10026880,CNY",
        "2026Q3,10,Department 10,1,Order 1,102,Vendor 102,12,App 12,5,0,0,4.6000,1.1200,1120,,0,1120,CNY",
        "2026Q3,20,Department 20,2,Order 2,101,Vendor 101,21,App 21,30,0,0,4.0000,1.0000,2000,,0,2000,CNY",
    ]


def test_payout_rows_and_file(settled):
    rows = reports.payout_rows(Q3)
    assert rows == [reports.PayoutRow(101, "vendor_payable:vendor:101", 10_028_880, "CNY", "#2–#6"),
                    reports.PayoutRow(102, "vendor_payable:vendor:102", 1_120, "CNY", "#2–#2")]
    assert reports.payout_csv(Q3, rows).splitlines() == [
        "\ufeffreference,vendor_id,payable_account,amount_fen,amount_yuan,currency,entries",
        "GOVMARKET-2026Q3-V101,101,vendor_payable:vendor:101,10028880,100288.80,CNY,#2–#6",
        "GOVMARKET-2026Q3-V102,102,vendor_payable:vendor:102,1120,11.20,CNY,#2–#2",
    ]
    assert reports.payout_rows("2026Q2") == []


def test_a_quarter_without_runs_is_an_empty_report(app_ctx):
    empty = reports.build_finance_report("2001Q1")
    assert (empty.apps, empty.runs, empty.currency, empty.total_fen) == ([], [], "CNY", 0)


def test_amounts_and_ratings_as_text():
    assert reports.rating_text(Fraction(49, 12)) == "4.0833"
    assert reports.rating_text("1/8", 2) == "0.12"  # half to even
    assert reports.rating_text("3/8", 2) == "0.38"
    assert reports.yuan(-5) == "-0.05"
    assert reports.yuan(123456, "USD") == "1,234.56"
    assert reports.money_text(123456) == "¥1,234.56"
    assert reports.money_text(5, "USD") == "USD 0.05"


def test_awards_are_listed_by_rank_not_by_app(app_ctx, source):
    # Both apps qualify (100 transactions, 30 ratings); app 12's five stars rank it above app 11's three.
    source.add_order(1, department_id=10, fee=1, budget=10_000_000)
    source.add_app(11, 1, 101)
    source.add_app(12, 1, 102)
    source.rate(11, 30, 90)
    source.rate(12, 30, 150)
    record(usage_rows(1, 11, 101, 100) + usage_rows(1, 12, 102, 100))
    services.settlement_post(FINANCE, Q3, now=AFTER_Q3)
    report = reports.build_finance_report(Q3)
    assert [(a.app_id, a.award_rank, a.award_fen) for a in report.awards] == [(12, 1, 10_000_000), (11, 2, 5_000_000)]


def test_csv_starts_with_a_bom_and_escapes_what_a_spreadsheet_would_run(app_ctx, source):
    source.add_order(1, department_id=10, fee=200, budget=10_000_000, title="+食品经营许可")
    source.add_app(11, 1, 101, name="@SUM(A1:A9)", vendor_name='=HYPERLINK("http://x.example","点我")')
    record(usage_rows(1, 11, 101, 3))
    services.settlement_post(FINANCE, Q3, now=AFTER_Q3)
    text = reports.finance_report_csv(reports.build_finance_report(Q3))
    assert text.encode("utf-8").startswith(b"\xef\xbb\xbfquarter,")
    row = next(csv.reader(io.StringIO(text.splitlines()[1])))
    assert row[4] == "'+食品经营许可" and row[6] == "'=HYPERLINK(\"http://x.example\",\"点我\")" and row[8] == "'@SUM(A1:A9)"
    assert [reports.csv_cell(v) for v in ("-0.05", "-3/8", 7, "-", "\tx", "a=b")] == ["-0.05", "-3/8", 7, "'-", "'\tx", "a=b"]
