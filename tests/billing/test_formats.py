"""Known answers for the formats an outsider recomputes: the ledger's hash chain and the settlement snapshots.

Fixed inputs, fixed expected bytes and digests, written down once (docs/formats.md describes each format). A
change to a key name, the key order, a separator, the timestamp layout or the text encoding breaks every
verifier outside the platform, so it must fail here first; a deliberate change of format is a new version.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

import sqlalchemy as sa

from billing import formula, ledger, services, settlement
from billing.calendar import quarter_span
from billing.models import GENESIS_HASH, JournalEntry, SettlementRun
from billing.source import AppFacts, OrderTerms, RatingStats
from core.extensions import db
from core.money import Money
from tests.billing.conftest import AFTER_Q3, DEFAULT_TABLE, FINANCE, Q3, record, usage_rows

CHINA = timezone(timedelta(hours=8))

# --- the ledger ----------------------------------------------------------------------------------------

ENTRY = dict(seq=1, quarter_code="2026Q3", kind="settlement", memo="2026Q3 usage payments of 食品经营许可证核发",
             settlement_run_id=7, reverses_entry_id=None, reason=None, posting_count=2,
             created_at=datetime(2026, 10, 5, 20, 0, 0, 123456, tzinfo=CHINA), created_by="finance#7",
             prev_hash=GENESIS_HASH,
             postings=[(2, "vendor_payable:vendor:101", 1500, "CNY", 11, "app 11: 3 transactions"),
                       (1, "department_budget:order:1", -1500, "CNY", None, "usage payments")])
ENTRY_CANONICAL = (
    '{"created_at":"2026-10-05T12:00:00.123456Z","created_by":"finance#7","kind":"settlement",'
    '"memo":"2026Q3 usage payments of 食品经营许可证核发","posting_count":2,'
    '"postings":[[1,"department_budget:order:1",-1500,"CNY",null,"usage payments"],'
    '[2,"vendor_payable:vendor:101",1500,"CNY",11,"app 11: 3 transactions"]],'
    '"prev":"0000000000000000000000000000000000000000000000000000000000000000","quarter":"2026Q3",'
    '"reason":null,"reverses":null,"run":7,"seq":1}'
)
ENTRY_SHA256 = "f72600bba0a6c18b1badf9937be446341b6c15252cbdaf869aff834d7d22fb4a"


def test_genesis_is_64_zeros():
    assert GENESIS_HASH == "0" * 64


def test_entry_hash_known_answer():
    assert hashlib.sha256(ENTRY_CANONICAL.encode("utf-8")).hexdigest() == ENTRY_SHA256
    assert ledger.entry_digest(**ENTRY) == ENTRY_SHA256


def test_every_field_of_an_entry_is_in_its_hash():
    changes = {"seq": 2, "quarter_code": "2026Q4", "kind": "award", "memo": "x", "settlement_run_id": 8,
               "reverses_entry_id": 3, "reason": "r", "posting_count": 3, "created_by": "finance#8",
               "created_at": ENTRY["created_at"] + timedelta(microseconds=1), "prev_hash": "1" * 64,
               "postings": [(1, "department_budget:order:1", -1500, "CNY", None, "usage payments"),
                            (2, "vendor_payable:vendor:101", 1500, "CNY", 12, "app 11: 3 transactions")]}
    digests = {name: ledger.entry_digest(**{**ENTRY, name: value}) for name, value in changes.items()}
    assert ENTRY_SHA256 not in digests.values()
    assert len(set(digests.values())) == len(changes)


def test_a_chain_of_appended_entries_has_known_hashes(app_ctx):
    now = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)
    budget = ledger.account("department_budget", "CNY", order_id=1, department_id=10, name="Budget of order 1")
    treasury = ledger.account(ledger.TREASURY, "CNY", name="Treasury")
    vendor = ledger.account("vendor_payable", "CNY", vendor_id=101, name="Payable to vendor 101")
    assert (budget.code, treasury.code, vendor.code) == ("department_budget:order:1", "treasury",
                                                          "vendor_payable:vendor:101")
    first = ledger.entry_append(quarter_code=Q3, kind="appropriation", memo="2026Q3 budget of order 1",
                                postings=[ledger.PostingSpec(budget, 10_000), ledger.PostingSpec(treasury, -10_000)],
                                created_by="finance#7", settlement_run_id=None, now=now)
    second = ledger.entry_append(quarter_code=Q3, kind="settlement", memo="2026Q3 usage payments of order 1",
                                 postings=[ledger.PostingSpec(budget, -1500, memo="usage payments"),
                                           ledger.PostingSpec(vendor, 1500, app_id=11, memo="app 11")],
                                 created_by="finance#7", now=now + timedelta(seconds=1))
    assert (first.seq, first.prev_hash) == (1, GENESIS_HASH)
    assert first.hash == ledger.entry_digest(
        seq=1, quarter_code=Q3, kind="appropriation", memo="2026Q3 budget of order 1", settlement_run_id=None,
        reverses_entry_id=None, reason=None, posting_count=2, created_at=now, created_by="finance#7",
        prev_hash=GENESIS_HASH, postings=[(1, "department_budget:order:1", 10_000, "CNY", None, ""),
                                          (2, "treasury", -10_000, "CNY", None, "")])
    assert first.hash == FIRST_SHA256
    assert (second.seq, second.prev_hash, second.hash) == (2, FIRST_SHA256, SECOND_SHA256)
    report = ledger.verify()
    assert report.ok and (report.entries_checked, report.head_seq, report.head_hash) == (2, 2, SECOND_SHA256)


FIRST_SHA256 = "00e889d47d11f2bbf7cf1983090ce6251ac40dc67fc53be623837239bbc2f0a4"
SECOND_SHA256 = "2a774c933e4924e53603df4c11ca149fcfad78bc724c54d3921e22b744346539"


def test_a_long_memo_is_stored_as_it_is_hashed(app_ctx):
    treasury = ledger.account(ledger.TREASURY, "CNY")
    pool = ledger.account(ledger.AWARD_POOL, "CNY")
    entry = ledger.entry_append(quarter_code=Q3, kind="award_funding", memo="备" * 501,
                                postings=[ledger.PostingSpec(pool, 1, memo="m" * 301), ledger.PostingSpec(treasury, -1)],
                                created_by="finance#7", now=datetime(2026, 10, 5, tzinfo=UTC))
    assert entry.memo == "备" * 500
    stored = db.session.execute(sa.select(JournalEntry.memo).where(JournalEntry.id == entry.id)).scalar_one()
    assert stored == "备" * 500
    assert ledger.verify().ok


AWARD_SCORE_9_2_400 = Decimal("26.972826422879561336328055893072073788950717944229")  # 4.5 × ln 401 at 100 digits


# --- settlement snapshots ------------------------------------------------------------------------------

TERMS = OrderTerms(1, 10, Money(200), Money(1_000_000), DEFAULT_TABLE, True, "食品经营许可证核发", "市场监督管理局")
CERTIFIED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def quarter_inputs() -> settlement.QuarterInputs:
    return settlement.QuarterInputs(
        quarter_span(Q3), {1: TERMS},
        {1: [formula.AppUsage(12, 102, 3, 1), formula.AppUsage(11, 101, 5, 0)]},
        {11: AppFacts(11, 101, 1, CERTIFIED, "食安通", "海川数智"), 12: AppFacts(12, 102, 1, None, "易食证", "云岭软件"),
         13: AppFacts(13, 103, 1, datetime(2026, 2, 1, tzinfo=UTC), "App 13", "Vendor 103")},
        {1: [11, 12, 13]},
        {11: RatingStats(11, 4, 18, (0, 0, 0, 2, 2)), 13: RatingStats(13, 1, 5, (0, 0, 0, 0, 1))})


PARAMETERS = {
    "award_min_completed": 100, "award_min_ratings": 30, "award_prizes_fen": [10000000, 5000000, 3000000],
    "award_score_precision": 50, "default_prior_mean": "4", "formula_version": "govmarket-settlement-1",
    "min_ratings_for_order_mean": 20, "prior_weight": 20,
    "rounding_rules": {
        "award_prize": "FIXED_PRIZES (integer fen, no rounding)",
        "award_score": "DECIMAL_50_HALF_EVEN (ranking only, never money)",
        "bayesian_rating": "EXACT_RATIONAL (no rounding)",
        "order_payout": "LARGEST_REMAINDER_HALF_EVEN_TOTAL: total = min(budget, round_half_even(sum of exact amounts)); "
                        "each app gets floor(total × exact_i / sum); leftover fen go one each to the largest "
                        "remainders, ties by more completed transactions, then lower app id",
        "rating_multiplier": "EXACT_RATIONAL (linear interpolation between table points, clamped; no rounding)",
    },
}
QUARTER = {"code": "2026Q3", "starts_at": "2026-06-30T16:00:00+00:00", "ends_at": "2026-09-30T16:00:00+00:00"}
ORDER_SNAPSHOT = {
    "kind": "order",
    "quarter": QUARTER,
    "parameters": PARAMETERS,
    "order": {"order_id": 1, "department_id": 10, "currency": "CNY", "fee_fen": 200, "quarterly_budget_fen": 1000000,
              "multiplier_table": [["1", 5000], ["3", 8000], ["4", 10000], ["5", 12000]], "award_eligible": True,
              "title": "食品经营许可证核发", "department_name": "市场监督管理局"},
    "usage": [[11, 101, 5, 0], [12, 102, 3, 1]],
    "order_apps": [11, 12, 13],
    "ratings": [[11, 4, 18, [0, 0, 0, 2, 2]], [13, 1, 5, [0, 0, 0, 0, 1]]],
}
ORDER_SNAPSHOT_SHA256 = "28142e88f801d10133979d68819050c3a34dac9cea7f513fcbc1d26daedf4003"
AWARDS_SNAPSHOT = {
    "kind": "awards",
    "quarter": QUARTER,
    "parameters": PARAMETERS,
    "currency": "CNY",
    "candidates": [[11, 101, 1, 5, 4, "49/12", "2026-01-02T03:04:05+00:00"], [12, 102, 1, 3, 0, "4", None]],
}
AWARDS_SNAPSHOT_SHA256 = "ada543f9f73623d0d9a95dd6c9b5267839d3c837de0e6a92cef521f29dbcd794"


def test_order_snapshot_known_answer():
    snapshot = settlement.order_snapshot(quarter_inputs(), 1)
    assert snapshot == ORDER_SNAPSHOT
    assert settlement.canonical_sha256(snapshot) == ORDER_SNAPSHOT_SHA256


def test_award_score_known_answer():
    # (9/2) × ln(401) to 50 significant digits, half to even: 10 guard digits, not the default 28-digit context.
    assert formula.award_score(Fraction(9, 2), 400) == AWARD_SCORE_9_2_400
    assert len(AWARD_SCORE_9_2_400.as_tuple().digits) == 50


def test_award_score_near_a_midpoint_follows_the_ten_guard_digits():
    # A rating chosen so that r × ln(101) lies within a few units of the 60th digit of a 50-digit midpoint: there
    # the guard digits decide the last digit. The published rule (10 guard digits, half to even at each step)
    # gives …790; the correctly rounded value (and 11 guard digits) would give …791. A verifier must follow the rule.
    rating = Fraction(Decimal("4.00000000000000000000000000000000000000000000000001755106387"))
    assert formula.award_score(rating, 100) == Decimal("18.460482067365037803536793067651956627563530348790")


def test_canonical_json_is_sorted_compact_utf8():
    document = {"b": [1, None, True], "a": {"d": "食", "c": "2"}}
    expected = '{"a":{"c":"2","d":"食"},"b":[1,null,true]}'.encode()
    assert settlement.canonical_sha256(document) == hashlib.sha256(expected).hexdigest()


def test_awards_snapshot_known_answer():
    preview = settlement.compute(quarter_inputs())
    assert preview.awards_snapshot == AWARDS_SNAPSHOT
    assert settlement.canonical_sha256(preview.awards_snapshot) == AWARDS_SNAPSHOT_SHA256
    assert preview.order_snapshots == {1: ORDER_SNAPSHOT}


def test_the_snapshot_settles_to_known_figures():
    # App 11: (20 × 4 + 18) / (20 + 4) = 49/12 stars → ×(1 + (1/12) × 0.2) = ×61/60 → 5 × 200 × 61/60 = 1016⅔ fen.
    # App 12 (unrated, the prior 4 since the order has 5 < 20 ratings): 4 transactions × 200 × 1 = 800 fen.
    # Total round(1816⅔) = 1817 under the budget; floors 1016 + 800, the leftover fen to app 11 (remainder ⅔).
    result = settlement.settle_order_snapshot(ORDER_SNAPSHOT)
    assert (result.order_id, result.department_id, result.currency, result.budget) == (1, 10, "CNY", 1_000_000)
    assert (result.prior_mean, result.demand, result.total, result.capped) == (4, Fraction(5450, 3), 1817, False)
    assert [(x.app_id, x.completed, x.late, x.bayesian_rating, x.multiplier, x.exact_amount, x.amount)
            for x in result.lines] == [(11, 5, 0, Fraction(49, 12), Fraction(61, 60), Fraction(3050, 3), 1017),
                                       (12, 3, 1, Fraction(4), Fraction(1), Fraction(800), 800)]


def test_a_snapshot_round_trips_its_terms():
    assert settlement._terms_from(settlement._terms_doc(TERMS)) == TERMS
    legacy = {k: v for k, v in ORDER_SNAPSHOT["order"].items() if k not in ("title", "department_name")}
    terms = settlement._terms_from(legacy)
    assert (terms.title, terms.department_name) == ("", "")


def test_the_awards_snapshot_ranks_to_known_winners():
    candidates = [[5, 105, 2, 400, 40, "9/2", "2026-03-01T00:00:00+00:00"],
                  [6, 106, 2, 400, 40, "9/2", "2026-02-01T00:00:00+08:00"],
                  [7, 107, 2, 400, 40, "9/2", None], [8, 108, 2, 99, 40, "5", None]]
    awards = settlement.rank_awards_snapshot({**AWARDS_SNAPSHOT, "candidates": candidates, "currency": "CNY"})
    assert [(a.rank, a.candidate.app_id, a.prize) for a in awards] == [
        (1, 6, Money(10_000_000)), (2, 5, Money(5_000_000)), (3, 7, Money(3_000_000))]
    assert awards[0].candidate.certified_at == datetime(2026, 1, 31, 16, tzinfo=UTC)
    assert awards[0].candidate.bayesian_rating == Fraction(9, 2)


def test_a_posted_run_stores_the_snapshot_and_its_known_hash(app_ctx, source):
    source.order_terms[1] = TERMS
    source.app_facts.update(quarter_inputs().apps)
    source.ratings[(Q3, 11)] = RatingStats(11, 4, 18, (0, 0, 0, 2, 2))
    source.ratings[(Q3, 13)] = RatingStats(13, 1, 5, (0, 0, 0, 0, 1))
    record(usage_rows(1, 11, 101, 5) + usage_rows(1, 12, 102, 4))
    services.settlement_post(FINANCE, Q3, now=AFTER_Q3)
    runs = {r.scope: r for r in db.session.scalars(sa.select(SettlementRun).where(SettlementRun.quarter_code == Q3))}
    order_run = runs["order:1"]
    assert order_run.snapshot == {**ORDER_SNAPSHOT, "usage": [[11, 101, 5, 0], [12, 102, 4, 0]]}
    assert order_run.snapshot_sha256 == POSTED_ORDER_SHA256
    assert {(line.app_id, line.amount_fen) for line in order_run.lines} == {(11, 1017), (12, 800)}
    assert runs["awards"].snapshot["candidates"] == [[11, 101, 1, 5, 4, "49/12", "2026-01-02T03:04:05+00:00"],
                                                     [12, 102, 1, 4, 0, "4", None]]
    assert runs["awards"].snapshot_sha256 == POSTED_AWARDS_SHA256
    assert services.settlement_recompute(FINANCE, order_run.id).snapshot_intact


POSTED_ORDER_SHA256 = "dbb65089b6feb96cb9f9c660c90c22a389173dd40fc8aa18f2dfac3924b6fadf"
POSTED_AWARDS_SHA256 = "ba687c53b2724d2560ea28e59377f5239c2c36dcc3e3816a657490dc9c02774d"
