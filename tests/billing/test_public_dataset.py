"""The public dataset of a settled quarter and the standard-library script that recomputes it: the script, run
by a plain ``python -I`` with nothing of the platform importable, reproduces every payout of the docs' worked
example to the fen from the dataset alone, verifies the exported ledger chain, and catches a changed amount or
hash. The dataset publishes no names or e-mail addresses of staff."""

from __future__ import annotations

import ast
import copy
import csv
import io
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from billing import dataset as public
from billing import ledger, services
from billing.models import Account, JournalEntry
from core.extensions import db
from tests.billing.conftest import AFTER_Q3, FINANCE, Q3, Actor, record, usage_rows
from tests.billing.test_finance_doc import number, table, worked_example_inputs

SCRIPT = public.RECOMPUTE_SCRIPT


def run_script(path: Path, *args: str) -> subprocess.CompletedProcess:
    # -I: isolated mode, no PYTHONPATH, no user site, not even the script's folder's parent: the platform is
    # not importable, so the script can only work from the standard library and the file.
    return subprocess.run([sys.executable, "-I", str(SCRIPT), str(path), *args], capture_output=True, text=True,
                          timeout=60, cwd=path.parent, check=False)


@pytest.fixture
def published(app_ctx, source, tmp_path):
    worked_example_inputs(source)
    source.excluded[(Q3, 11)] = (3, 2)  # three ratings hidden by a moderator, two awaiting review
    services.settlement_post(Actor("finance", 7), Q3, now=AFTER_Q3)
    data = services.transparency_dataset(None, Q3)
    path = tmp_path / f"dataset-{Q3}.json"
    path.write_text(public.as_json(data), encoding="utf-8")
    return data, path


def test_the_script_recomputes_the_worked_example_fen_for_fen_from_the_dataset_alone(published):
    data, path = published
    result = run_script(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith("OK: ") and "DIFFERS" not in result.stdout
    # Every payout of docs/finance.md is in the dataset and was recomputed by the script.
    paid = {a["app_id"]: a["paid_fen"] for o in data["orders"] for a in o["apps"]}
    assert paid == {number(r["app"]): number(r["paid (fen)"]) for r in table("payouts")}
    for app_id, fen in paid.items():
        assert f"app {app_id} (App {app_id}): paid {fen} fen, recomputed {fen} ok" in result.stdout
    winners = {c["app_id"]: c["prize_fen"] for c in data["awards"]["candidates"] if c["rank"]}
    assert winners == {number(r["app"]): number(r["prize (fen)"]) for r in table("awards")}
    assert {p["vendor_id"]: p["amount_fen"] for p in data["payouts"]} == {
        number(r["vendor"]): number(r["amount (fen)"]) for r in table("vendors")}


def test_the_dataset_holds_every_input_of_the_formula(published):
    data, _ = published
    order1 = next(o for o in data["orders"] if o["order_id"] == 1)
    assert order1["terms"]["fee_fen"] == 200 and order1["terms"]["quarterly_budget_fen"] == 500_000
    assert order1["order_mean"] == {"members": [{"app_id": 11, "ratings": 400, "stars_sum": 1840},
                                                {"app_id": 12, "ratings": 10, "stars_sum": 50},
                                                {"app_id": 13, "ratings": 80, "stars_sum": 240}],
                                    "ratings": 490, "stars_sum": 2130, "default_used": False, "m": "213/49"}
    app11 = next(a for a in order1["apps"] if a["app_id"] == 11)
    assert (app11["hidden_ratings"], app11["under_review_ratings"]) == (3, 2)
    app12 = next(a for a in order1["apps"] if a["app_id"] == 12)
    assert (app12["hidden_ratings"], app12["under_review_ratings"]) == (0, 0)
    assert (app12["completed"], app12["flagged"], app12["ratings"], app12["stars_sum"]) == (300, 20, 10, 50)
    assert (app12["floor_fen"], app12["leftover_fen"], app12["paid_fen"]) == (66_775, 1, 66_776)
    order2 = next(o for o in data["orders"] if o["order_id"] == 2)
    assert order2["capped"] and order2["total_fen"] == 100_000
    certified = {c["app_id"]: c["certified_at"] for c in data["awards"]["candidates"]}
    assert certified[11].startswith("2026-01-01T00:00:00")
    head = data["ledger"]["quarter_head"]
    assert head == data["ledger"]["ledger_head_at_export"] == {"seq": len(data["ledger"]["entries"]),
                                                                "hash": ledger.verify().head_hash}


def tamper_paid(data):
    data["orders"][0]["apps"][0]["paid_fen"] += 1


def tamper_posting(data):
    entry = next(e for e in data["ledger"]["entries"] if e["kind"] == "settlement")
    entry["postings"][1][2] += 100  # one fen-amount of one posting


def tamper_hash(data):
    data["ledger"]["entries"][1]["hash"] = "0" * 64


def tamper_input(data):
    data["orders"][1]["apps"][0]["stars_sum"] += 1  # a rating input, so the published rating no longer follows


@pytest.mark.parametrize("tamper", [tamper_paid, tamper_posting, tamper_hash, tamper_input])
def test_a_changed_amount_hash_or_input_is_caught(published, tamper):
    data, path = published
    forged = copy.deepcopy(data)
    tamper(forged)
    path.write_text(json.dumps(forged, ensure_ascii=False), encoding="utf-8")
    result = run_script(path, "--quiet")
    assert result.returncode == 1, result.stdout
    assert "DIFFERS: " in result.stdout and result.stdout.splitlines()[-1].startswith("MISMATCH")


def test_the_script_reports_an_unreadable_file(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"format": "something else"}', encoding="utf-8")
    result = run_script(path)
    assert result.returncode == 2 and "govmarket-transparency-1" in result.stderr


def test_the_script_imports_only_the_standard_library():
    tree = ast.parse(SCRIPT.read_text(encoding="utf-8"))
    modules = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
               for alias in node.names}
    modules |= {node.module.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module}
    assert modules and modules <= set(sys.stdlib_module_names) | {"__future__"}, modules


class Person(Actor):
    @property
    def label(self) -> str:
        return "王小明 <wang.xiaoming@finance.example.cn>"


def test_no_name_or_email_is_published_and_older_entries_holding_one_are_withheld(app_ctx, source, tmp_path):
    worked_example_inputs(source)
    # An entry written before created_by became an opaque reference, in the quarter's stretch of the chain.
    treasury = ledger.account(ledger.TREASURY, "CNY")
    pool = ledger.account(ledger.AWARD_POOL, "CNY")
    ledger.entry_append(quarter_code=Q3, kind="adjustment", memo="old style", created_by="李四 <li.si@example.cn>",
                        postings=[ledger.PostingSpec(pool, 5), ledger.PostingSpec(treasury, -5)], now=AFTER_Q3)
    db.session.commit()
    services.settlement_post(Person("finance", 7), Q3, now=AFTER_Q3)
    data = services.transparency_dataset(None, Q3)
    text = public.as_json(data)
    assert "@" not in text and "王小明" not in text and "李四" not in text
    creators = [(e["kind"], e["created_by"], e["created_by_withheld"]) for e in data["ledger"]["entries"]]
    assert creators[0] == ("adjustment", None, True)
    assert {c[1:] for c in creators[1:]} == {("finance#7", False)}
    path = tmp_path / "d.json"
    path.write_text(text, encoding="utf-8")
    result = run_script(path)
    assert result.returncode == 0, result.stdout
    assert "1 withheld" in result.stdout
    assert db.session.query(Account).count() > 0


def test_nothing_is_published_before_the_quarter_is_settled(app_ctx, source):
    worked_example_inputs(source)
    assert services.transparency_dataset(None, Q3) is None
    services.settlement_post(FINANCE, Q3, order_ids=[1], now=AFTER_Q3)
    assert services.transparency_dataset(None, Q3) is None


def test_the_dataset_csv_has_a_bom_and_one_row_per_paid_app(published):
    data, _ = published
    text = public.as_csv(data)
    assert text.startswith("\ufeffquarter,order_id,")
    rows = text.splitlines()[1:]
    assert len(rows) == 6 and rows[0].startswith("2026Q3,1,食品经营许可证核发,")
    row = dict(zip(public.CSV_COLUMNS, next(csv.reader(io.StringIO(rows[0]))), strict=True))
    assert (row["app_id"], row["ratings"], row["stars_sum"], row["hidden_ratings"], row["paid_fen"]) == (
        "11", "400", "1840", "3", "268221")


def test_the_scripts_hash_is_the_ledgers_known_answer():
    import runpy

    from tests.billing.test_formats import ENTRY, ENTRY_SHA256

    script = runpy.run_path(str(SCRIPT))
    entry = {"seq": ENTRY["seq"], "quarter": ENTRY["quarter_code"], "kind": ENTRY["kind"], "memo": ENTRY["memo"],
             "run": ENTRY["settlement_run_id"], "reverses": None, "reason": None, "posting_count": 2,
             "created_at": ledger.hash_timestamp(ENTRY["created_at"]), "created_by": ENTRY["created_by"],
             "prev": ENTRY["prev_hash"], "postings": [list(p) for p in ENTRY["postings"]]}
    assert script["entry_hash"](entry) == ENTRY_SHA256


def test_a_reversal_booked_in_the_next_quarter_keeps_both_datasets_recomputable(app_ctx, source, tmp_path):
    source.add_order(1, fee=200, budget=10_000_000)
    source.add_app(11, 1, 101)
    source.add_app(12, 1, 102)
    source.rate(11, 40, 184)
    record(usage_rows(1, 11, 101, 120) + usage_rows(1, 12, 102, 5))
    services.settlement_post(FINANCE, Q3, now=AFTER_Q3)
    settlement_entry = db.session.query(JournalEntry).filter_by(kind="settlement").one()
    services.ledger_reverse(FINANCE, settlement_entry.id, "paid to the wrong vendor",
                            now=datetime(2026, 11, 2, tzinfo=UTC))
    services.settlement_post(FINANCE, "2026Q4", now=datetime(2027, 1, 5, tzinfo=UTC))
    for code in (Q3, "2026Q4"):
        data = services.transparency_dataset(None, code)
        path = tmp_path / f"{code}.json"
        path.write_text(public.as_json(data), encoding="utf-8")
        result = run_script(path, "--quiet")
        assert result.returncode == 0, (code, result.stdout)
    q4 = services.transparency_dataset(None, "2026Q4")
    assert {p["vendor_id"]: p["amount_fen"] for p in q4["payouts"]} == {101: -26_880, 102: -1_120}
    assert q4["ledger"]["entries"][0]["kind"] == "reversal"
