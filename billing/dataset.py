"""A settled quarter's public dataset: every input of the published formula, every figure it produced, the
quarter's ledger entries and the chain head, as JSON and CSV.

Built from what was posted (the runs' snapshots and lines, the ledger), never from live marketplace data, so
it reads the same tomorrow as today; only the names of apps, vendors and departments come from the
marketplace. ``billing/public_recompute.py`` (standard library only) reproduces every payout from it to the
fen and verifies the exported chain; docs/finance.md ("The public dataset") defines each field.

Personal data is not published: a ledger entry's ``created_by`` is an opaque reference (``finance#7``, the
role and the account number; the audit log says who that is). Entries written before that rule, whose
``created_by`` holds a name or an e-mail address, are published with ``created_by: null`` and
``created_by_withheld: true``: their links and balance are still checked, their own hash cannot be.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa
from flask import current_app

from billing import formula, ledger, reports, settlement
from billing.models import Account, JournalEntry, LedgerHead, Posting, Quarter, SettlementRun, UsageEvent
from billing.source import EXTENSION_KEY, AppFacts, QuarterSpan
from core.extensions import db

DATASET_FORMAT = "govmarket-transparency-1"
RECOMPUTE_SCRIPT = Path(__file__).with_name("public_recompute.py")
# What a ledger entry's created_by may hold to be published as is: a role and an account number, or "system".
OPAQUE_ACTOR = re.compile(r"^(system|[a-z_]+#\d+)$")


def actor_reference(actor) -> str:
    """How billing records who acted, in the ledger and on runs: ``role#id`` or ``system`` — never a name or an
    e-mail address, because the ledger is published."""
    if actor is None or getattr(actor, "id", None) is None:
        return "system"
    return f"{actor.role}#{actor.id}"


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def _q(value) -> str:
    """An exact rational as text: '4', '-3/8' (Python's Fraction notation)."""
    return str(Fraction(value))


def _names(app_ids: list[int]) -> Mapping[int, AppFacts]:
    return reports.app_facts(app_ids)


class RatingExclusions(Protocol):
    """Optional on the settlement source: per app, the quarter's ratings hidden by a moderator (not counted) and
    awaiting review (still counted until a moderator hides them), as they stand when the dataset is exported."""

    def rating_exclusions(self, span: QuarterSpan, app_ids: Collection[int]) -> Mapping[int, tuple[int, int]]: ...


def _exclusions(quarter: Quarter, app_ids: list[int]) -> Mapping[int, tuple[int, int]] | None:
    source = current_app.extensions.get(EXTENSION_KEY)
    method = getattr(source, "rating_exclusions", None)
    if method is None or not app_ids:
        return None
    return method(QuarterSpan(quarter.code, quarter.starts_at, quarter.ends_at), app_ids)


@dataclass(frozen=True)
class Split:
    share: Fraction
    floor: int
    remainder: Fraction
    leftover: int


def _split(total: int, exact: dict[int, Fraction]) -> dict[int, Split]:
    """Each app's exact share T·a/D, its whole fen and remainder (for the published explanation)."""
    demand = sum(exact.values(), Fraction(0))
    out = {}
    for app_id, a in exact.items():
        share = total * a / demand if demand else Fraction(0)
        floor = share.numerator // share.denominator
        out[app_id] = Split(share, floor, share - floor, 0)
    return out


def _flagged_usage(quarter_code: str) -> dict[int, int]:
    t = UsageEvent.__table__
    rows = db.session.execute(sa.select(t.c.app_id, sa.func.count()).where(
        t.c.settle_quarter_code == quarter_code, t.c.flagged_at.is_not(None)).group_by(t.c.app_id))
    return {int(a): int(n) for a, n in rows}


def _order_doc(run: SettlementRun, names: Mapping[int, AppFacts], flagged: dict[int, int],
               exclusions: Mapping[int, tuple[int, int]] | None) -> dict:
    snap = run.snapshot
    terms = snap["order"]
    result = settlement.settle_order_snapshot(snap)
    ratings = {r[0]: r for r in snap["ratings"]}
    members = [a for a in sorted(snap["order_apps"]) if a in ratings]
    mean_n = sum(ratings[a][1] for a in members)
    mean_stars = sum(ratings[a][2] for a in members)
    splits = _split(result.total, {line.app_id: line.exact_amount for line in result.lines})
    posted = {line.app_id: line.amount_fen for line in run.lines}
    apps = []
    for line in result.lines:
        facts = names.get(line.app_id)
        s = splits[line.app_id]
        dist = ratings[line.app_id][3] if line.app_id in ratings else [0, 0, 0, 0, 0]
        apps.append({
            "app_id": line.app_id, "app_name": facts.name if facts else "", "vendor_id": line.vendor_id,
            "vendor_name": facts.vendor_name if facts else "",
            "completed": line.completed, "late": line.late, "flagged": flagged.get(line.app_id, 0),
            "ratings": line.ratings, "stars_sum": line.stars_sum, "stars_distribution": list(dist),
            "hidden_ratings": None if exclusions is None else exclusions.get(line.app_id, (0, 0))[0],
            "under_review_ratings": None if exclusions is None else exclusions.get(line.app_id, (0, 0))[1],
            "bayesian_rating": _q(line.bayesian_rating), "multiplier": _q(line.multiplier),
            "exact_amount_fen": _q(line.exact_amount), "share_fen": _q(s.share), "floor_fen": s.floor,
            "remainder_fen": _q(s.remainder), "leftover_fen": posted.get(line.app_id, 0) - s.floor,
            "paid_fen": posted.get(line.app_id, 0),
        })
    return {
        "order_id": terms["order_id"], "title": terms.get("title", ""), "department_id": terms["department_id"],
        "department_name": terms.get("department_name", ""),
        "terms": {"currency": terms["currency"], "fee_fen": terms["fee_fen"],
                  "quarterly_budget_fen": terms["quarterly_budget_fen"],
                  "multiplier_table": [{"stars": s, "multiplier_bp": bp} for s, bp in terms["multiplier_table"]],
                  "award_eligible": terms["award_eligible"]},
        "run": {"id": run.id, "posted_at": _iso(run.posted_at), "snapshot_sha256": run.snapshot_sha256,
                "formula_version": run.formula_version},
        "order_mean": {
            "members": [{"app_id": a, "ratings": ratings[a][1], "stars_sum": ratings[a][2]} for a in members],
            "ratings": mean_n, "stars_sum": mean_stars,
            "default_used": mean_n < snap["parameters"]["min_ratings_for_order_mean"],
            "m": _q(result.prior_mean),
        },
        "demand_fen": _q(result.demand), "budget_fen": result.budget, "total_fen": run.total_fen,
        "capped": run.capped, "apps": apps,
    }


def _awards_doc(run: SettlementRun | None, names: Mapping[int, AppFacts]) -> dict | None:
    if run is None:
        return None
    winners = {line.app_id: line for line in run.lines}
    candidates = []
    for app_id, vendor_id, order_id, completed, ratings, rating, certified in run.snapshot["candidates"]:
        candidate = formula.AwardCandidate(app_id, vendor_id, order_id, completed, ratings, Fraction(rating), None)
        eligible = formula.award_eligible(candidate)
        facts = names.get(app_id)
        candidates.append({
            "app_id": app_id, "app_name": facts.name if facts else "", "vendor_id": vendor_id,
            "vendor_name": facts.vendor_name if facts else "", "order_id": order_id, "completed": completed,
            "ratings": ratings, "bayesian_rating": rating, "certified_at": certified, "eligible": eligible,
            "score": str(formula.award_score(Fraction(rating), completed)) if eligible else None,
            "rank": winners[app_id].award_rank if app_id in winners else None,
            "prize_fen": winners[app_id].amount_fen if app_id in winners else 0,
        })
    return {"run": {"id": run.id, "posted_at": _iso(run.posted_at), "snapshot_sha256": run.snapshot_sha256,
                    "formula_version": run.formula_version},
            "currency": run.snapshot["currency"], "total_fen": run.total_fen, "candidates": candidates}


def _entry_doc(row: dict, postings: list[tuple]) -> dict:
    created_by = row["created_by"]
    withheld = not OPAQUE_ACTOR.match(created_by or "")
    created_at = row["created_at"] if row["created_at"].tzinfo else row["created_at"].replace(tzinfo=UTC)
    return {
        "seq": row["seq"], "quarter": row["quarter_code"], "kind": row["kind"], "memo": row["memo"],
        "run": row["settlement_run_id"], "reverses": row["reverses_entry_id"], "reason": row["reason"],
        "posting_count": row["posting_count"], "created_at": ledger.hash_timestamp(created_at),
        "created_by": None if withheld else created_by, "created_by_withheld": withheld,
        "prev": row["prev_hash"], "hash": row["hash"],
        "postings": [list(p) for p in sorted(postings)],
    }


def _ledger_doc(quarter_code: str) -> dict:
    """The contiguous stretch of the chain from the quarter's first entry to its last (entries of other quarters
    in between included, so every link can be checked), and the head."""
    e, p, a = JournalEntry.__table__, Posting.__table__, Account.__table__
    lo, hi = db.session.execute(sa.select(sa.func.min(e.c.seq), sa.func.max(e.c.seq))
                        .where(e.c.quarter_code == quarter_code)).one()
    entries = []
    if lo is not None:
        rows = db.session.execute(sa.select(e).where(e.c.seq >= lo, e.c.seq <= hi).order_by(e.c.seq)).mappings().all()
        by_entry: dict[int, list[tuple]] = defaultdict(list)
        for r in db.session.execute(sa.select(p.c.entry_id, p.c.line_no, a.c.code, p.c.amount, p.c.currency, p.c.app_id,
                                      p.c.memo).join(a, a.c.id == p.c.account_id)
                            .where(p.c.entry_id.in_([row["id"] for row in rows]))):
            by_entry[r.entry_id].append((r.line_no, r.code, int(r.amount), r.currency, r.app_id, r.memo))
        entries = [_entry_doc(dict(row), by_entry.get(row["id"], [])) for row in rows]
    head = db.session.get(LedgerHead, 1)
    accounts = db.session.execute(sa.select(a.c.code, a.c.kind, a.c.order_id, a.c.vendor_id)
                          .where(a.c.code.in_({row[1] for en in entries for row in en["postings"]}))
                          .order_by(a.c.code)).all() if entries else []
    return {
        "hash_algorithm": "sha256 over the canonical JSON of docs/finance.md (The ledger hash)",
        "anchor_prev": entries[0]["prev"] if entries else None,
        "entries": entries,
        "quarter_head": {"seq": entries[-1]["seq"], "hash": entries[-1]["hash"]} if entries else None,
        "ledger_head_at_export": {"seq": head.seq, "hash": head.hash} if head else None,
        "accounts": [{"code": c, "kind": k, "order_id": o, "vendor_id": v} for c, k, o, v in accounts],
    }


def build(quarter_code: str, *, now: datetime | None = None) -> dict | None:
    """The quarter's public dataset, or None while the quarter is not settled."""
    quarter = db.session.scalar(sa.select(Quarter).where(Quarter.code == quarter_code))
    if quarter is None or quarter.settled_at is None:
        return None
    runs = list(db.session.scalars(sa.select(SettlementRun).where(SettlementRun.quarter_code == quarter_code)
                                   .order_by(SettlementRun.id)))
    order_runs = [r for r in runs if r.order_id is not None]
    awards_run = next((r for r in runs if r.scope == "awards"), None)
    app_ids = sorted({line.app_id for r in runs for line in r.lines}
                     | {row[0] for r in order_runs for row in r.snapshot["usage"]}
                     | {c[0] for c in (awards_run.snapshot["candidates"] if awards_run else [])})
    names = _names(app_ids)
    flagged = _flagged_usage(quarter_code)
    exclusions = _exclusions(quarter, app_ids)
    parameters = (order_runs[0] if order_runs else awards_run).snapshot["parameters"] if runs else formula.parameters()
    return {
        "format": DATASET_FORMAT,
        "quarter": {"code": quarter.code, "starts_at": _iso(quarter.starts_at), "ends_at": _iso(quarter.ends_at),
                    "grace_ends_at": _iso(quarter.grace_ends_at), "settled_at": _iso(quarter.settled_at),
                    "closed_at": _iso(quarter.closed_at), "time_zone_of_quarter": "Asia/Shanghai (UTC+8)"},
        "exported_at": _iso(now or datetime.now(UTC)),
        "parameters": parameters,
        "orders": [_order_doc(r, names, flagged, exclusions) for r in order_runs],
        "awards": _awards_doc(awards_run, names),
        "payouts": [{"vendor_id": p.vendor_id, "account": p.account_code, "amount_fen": p.amount_fen,
                     "currency": p.currency} for p in reports.payout_rows(quarter_code)],
        "ledger": _ledger_doc(quarter_code),
    }


def as_json(dataset: dict) -> str:
    return json.dumps(dataset, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


CSV_COLUMNS = ["quarter", "order_id", "order", "department", "fee_fen", "budget_fen", "order_mean_m", "demand_fen",
               "total_fen", "capped", "app_id", "app", "vendor_id", "vendor", "completed", "late", "flagged",
               "ratings", "stars_sum", "hidden_ratings", "under_review_ratings", "bayesian_rating", "multiplier",
               "exact_amount_fen", "remainder_fen", "paid_fen", "award_rank", "award_fen"]


def as_csv(dataset: dict) -> str:
    """One row per paid app (the JSON holds everything else); UTF-8 with BOM, names escaped against formulas."""
    awards = {c["app_id"]: c for c in (dataset["awards"] or {}).get("candidates", []) if c["rank"]}
    rows = []
    for o in dataset["orders"]:
        for a in o["apps"]:
            award = awards.get(a["app_id"])
            rows.append([dataset["quarter"]["code"], o["order_id"], o["title"], o["department_name"],
                         o["terms"]["fee_fen"], o["budget_fen"], o["order_mean"]["m"], o["demand_fen"],
                         o["total_fen"], o["capped"], a["app_id"], a["app_name"], a["vendor_id"], a["vendor_name"],
                         a["completed"], a["late"], a["flagged"], a["ratings"], a["stars_sum"],
                         "" if a["hidden_ratings"] is None else a["hidden_ratings"],
                         "" if a["under_review_ratings"] is None else a["under_review_ratings"], a["bayesian_rating"],
                         a["multiplier"], a["exact_amount_fen"], a["remainder_fen"], a["paid_fen"],
                         award["rank"] if award else "", award["prize_fen"] if award else 0])
    return reports.csv_text(CSV_COLUMNS, rows)

