#!/usr/bin/env python3
"""Recompute a quarter's settlement of the Open Government App Market from its public dataset alone.

    python3 public_recompute.py dataset-2026Q3.json

Standard library only (Python 3.11+), no import from the platform: anyone can read it and run it. It takes the
inputs the dataset publishes (each order's terms, each app's counted usage, rating count and star sum, the apps
that make up the order's mean), applies the published formula (docs/finance.md) with exact rational arithmetic,
and compares every intermediate figure and every payout, to the fen, with what was published and posted. It
then verifies the exported stretch of the hash-chained ledger: every entry's sha256 over the canonical JSON,
every link, every entry's balance, and that the ledger's postings pay exactly the published amounts.

Exit status 0 when everything matches, 1 when anything differs (each difference is printed), 2 when the file
cannot be read as a dataset.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import defaultdict
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal
from fractions import Fraction
from itertools import pairwise

FORMAT = "govmarket-transparency-1"
BP = 10_000


class Check:
    """Collects comparisons; a mismatch is a problem, named with where it is."""

    def __init__(self, verbose: bool) -> None:
        self.verbose = verbose
        self.problems: list[str] = []
        self.compared = 0

    def same(self, where: str, published, recomputed) -> bool:
        self.compared += 1
        if published != recomputed:
            self.problems.append(f"{where}: published {published}, recomputed {recomputed}")
            return False
        return True

    def fail(self, message: str) -> None:
        self.problems.append(message)

    def say(self, message: str) -> None:
        if self.verbose:
            print(message)


# --- the formula -----------------------------------------------------------------------------------------

def multiplier(rating: Fraction, table: list[dict]) -> Fraction:
    """Linear between the table's points, flat beyond the first and the last."""
    points = [(Fraction(p["stars"]), p["multiplier_bp"]) for p in table]
    if rating <= points[0][0]:
        return Fraction(points[0][1], BP)
    for (s0, k0), (s1, k1) in pairwise(points):
        if rating <= s1:
            return (k0 + (rating - s0) / (s1 - s0) * (k1 - k0)) / BP
    return Fraction(points[-1][1], BP)


def largest_remainder(total: int, weights: dict[int, Fraction], usage: dict[int, int]) -> dict[int, int]:
    """Hamilton's method: whole fen of each share, the fen left over one each to the largest remainders (ties:
    more transactions, then lower app id)."""
    weight_sum = sum(weights.values(), Fraction(0))
    if total == 0 or weight_sum == 0:
        return {app: 0 for app in weights}
    shares = {app: total * w / weight_sum for app, w in weights.items()}
    parts = {app: s.numerator // s.denominator for app, s in shares.items()}
    leftover = total - sum(parts.values())
    for app in sorted(weights, key=lambda a: (-(shares[a] - parts[a]), -usage[a], a))[:leftover]:
        parts[app] += 1
    return parts


def recompute_order(order: dict, params: dict, check: Check) -> dict[int, int]:
    where = f"order {order['order_id']}"
    terms = order["terms"]
    mean = order["order_mean"]
    n_all = sum(m["ratings"] for m in mean["members"])
    stars_all = sum(m["stars_sum"] for m in mean["members"])
    check.same(f"{where} ratings in the order mean", mean["ratings"], n_all)
    check.same(f"{where} stars in the order mean", mean["stars_sum"], stars_all)
    if n_all < params["min_ratings_for_order_mean"]:
        m = Fraction(params["default_prior_mean"])
    else:
        m = Fraction(stars_all, n_all)
    check.same(f"{where} order mean m", Fraction(mean["m"]), m)
    c = params["prior_weight"]
    exact: dict[int, Fraction] = {}
    usage: dict[int, int] = {}
    for app in order["apps"]:
        at = f"{where} app {app['app_id']}"
        rating = (c * m + app["stars_sum"]) / (c + app["ratings"])
        k = multiplier(rating, terms["multiplier_table"])
        usage[app["app_id"]] = app["completed"] + app["late"]
        exact[app["app_id"]] = usage[app["app_id"]] * terms["fee_fen"] * k
        check.same(f"{at} bayesian rating", Fraction(app["bayesian_rating"]), rating)
        check.same(f"{at} multiplier", Fraction(app["multiplier"]), k)
        check.same(f"{at} exact amount (fen)", Fraction(app["exact_amount_fen"]), exact[app["app_id"]])
    demand = sum(exact.values(), Fraction(0))
    total = min(terms["quarterly_budget_fen"], round(demand))  # Fraction.__round__ rounds half to even
    check.same(f"{where} demand (fen)", Fraction(order["demand_fen"]), demand)
    check.same(f"{where} total paid (fen)", order["total_fen"], total)
    check.same(f"{where} capped", order["capped"], demand > terms["quarterly_budget_fen"])
    paid = largest_remainder(total, exact, usage)
    for app in order["apps"]:
        ok = check.same(f"{where} app {app['app_id']} paid (fen)", app["paid_fen"], paid[app["app_id"]])
        check.say(f"  {where} app {app['app_id']} ({app['app_name']}): paid {app['paid_fen']} fen, recomputed "
                  f"{paid[app['app_id']]} {'ok' if ok else 'DIFFERS'}")
    return paid


def award_score(rating: Fraction, completed: int, precision: int) -> Decimal:
    work = Context(prec=precision + 10, rounding=ROUND_HALF_EVEN)
    score = work.multiply(work.divide(Decimal(rating.numerator), Decimal(rating.denominator)),
                          work.ln(Decimal(1 + completed)))
    return Context(prec=precision, rounding=ROUND_HALF_EVEN).plus(score)


def recompute_awards(awards: dict, params: dict, check: Check) -> dict[int, int]:
    eligible = []
    for cand in awards["candidates"]:
        ok = cand["completed"] >= params["award_min_completed"] and cand["ratings"] >= params["award_min_ratings"]
        check.same(f"award candidate app {cand['app_id']} eligible", cand["eligible"], ok)
        if ok:
            score = award_score(Fraction(cand["bayesian_rating"]), cand["completed"], params["award_score_precision"])
            check.same(f"award candidate app {cand['app_id']} score", cand["score"], str(score))
            certified = datetime.fromisoformat(cand["certified_at"]) if cand["certified_at"] else None
            eligible.append(((-score, -cand["completed"], (0, certified) if certified else (1, None),
                              cand["app_id"]), cand))
    eligible.sort(key=lambda pair: pair[0])
    prizes = {}
    for rank, ((_, cand), prize) in enumerate(zip(eligible, params["award_prizes_fen"], strict=False), start=1):
        prizes[cand["app_id"]] = prize
        check.same(f"award rank {rank}", cand["rank"], rank)
    for cand in awards["candidates"]:
        ok = check.same(f"award of app {cand['app_id']} (fen)", cand["prize_fen"], prizes.get(cand["app_id"], 0))
        if cand["rank"] or cand["app_id"] in prizes:
            check.say(f"  award #{cand['rank']} app {cand['app_id']} ({cand['app_name']}): {cand['prize_fen']} fen "
                      f"{'ok' if ok else 'DIFFERS'}")
    check.same("awards total (fen)", awards["total_fen"], sum(prizes.values()))
    return prizes


# --- the ledger ------------------------------------------------------------------------------------------

def entry_hash(entry: dict) -> str:
    """sha256 of the canonical serialisation (docs/finance.md, "The ledger hash")."""
    document = {key: entry[key] for key in ("seq", "quarter", "kind", "memo", "run", "reverses", "reason",
                                            "posting_count", "created_at", "created_by", "prev")}
    document["postings"] = sorted(entry["postings"])
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def verify_ledger(ledger: dict, check: Check) -> None:
    entries = ledger["entries"]
    prev, expected_seq = ledger["anchor_prev"], entries[0]["seq"] if entries else None
    withheld = 0
    for entry in entries:
        name = f"ledger entry #{entry['seq']} ({entry['kind']}, {entry['quarter']})"
        if entry["seq"] != expected_seq:
            check.fail(f"{name}: the chain jumps from #{expected_seq - 1} to #{entry['seq']}: entries are missing")
        if entry["prev"] != prev:
            check.fail(f"{name} does not link to the entry before it (prev {entry['prev'][:12]}…, expected "
                       f"{prev[:12]}…)")
        if entry.get("created_by_withheld"):
            withheld += 1  # written before created_by became an opaque reference: its own hash cannot be checked
        else:
            check.same(f"{name} hash", entry["hash"], entry_hash(entry))
        check.same(f"{name} posting count", entry["posting_count"], len(entry["postings"]))
        totals: dict[str, int] = defaultdict(int)
        for _line, _account, amount, currency, _app, _memo in entry["postings"]:
            totals[currency] += amount
        for currency, total in sorted(totals.items()):
            check.same(f"{name} balance in {currency} (fen)", 0, total)
        prev, expected_seq = entry["hash"], entry["seq"] + 1
    head = ledger["quarter_head"]
    if entries:
        check.same("quarter's chain head", (head["seq"], head["hash"]), (entries[-1]["seq"], entries[-1]["hash"]))
    check.say(f"  ledger: {len(entries)} entries, every link checked, {len(entries) - withheld} hashes recomputed"
              + (f" ({withheld} withheld: written with personal data before it was removed)" if withheld else "")
              + (f"; chain head #{head['seq']} {head['hash']}" if head else ""))


def ledger_pays(dataset: dict, check: Check) -> None:
    """What the quarter's settlement and award entries credit each app's vendor equals the published figures."""
    code = dataset["quarter"]["code"]
    by_run: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    budget_by_run: dict[int, int] = defaultdict(int)
    per_vendor: dict[int, int] = defaultdict(int)
    accounts = {a["code"]: a for a in dataset["ledger"]["accounts"]}
    for entry in dataset["ledger"]["entries"]:
        for _line, account, amount, _currency, app, _memo in entry["postings"]:
            kind = accounts.get(account, {}).get("kind")
            if entry["quarter"] == code and kind == "vendor_payable":
                per_vendor[accounts[account]["vendor_id"]] += amount
            if entry["run"] is None:
                continue
            if kind == "vendor_payable" and entry["kind"] in ("settlement", "award"):
                by_run[entry["run"]][app] += amount
            if kind == "department_budget" and entry["kind"] == "appropriation":
                budget_by_run[entry["run"]] += amount
    for order in dataset["orders"]:
        run = order["run"]["id"]
        posted = {app: fen for app, fen in by_run[run].items() if fen}
        published = {a["app_id"]: a["paid_fen"] for a in order["apps"] if a["paid_fen"]}
        check.same(f"order {order['order_id']}: ledger credits per app (fen)", published, dict(posted))
        check.same(f"order {order['order_id']}: budget appropriated (fen)", order["budget_fen"], budget_by_run[run])
    awards = dataset["awards"]
    if awards:
        posted = {app: fen for app, fen in by_run[awards["run"]["id"]].items() if fen}
        published = {c["app_id"]: c["prize_fen"] for c in awards["candidates"] if c["prize_fen"]}
        check.same("awards: ledger credits per app (fen)", published, dict(posted))
    check.same("payout file per vendor (fen)", {p["vendor_id"]: p["amount_fen"] for p in dataset["payouts"]},
               {v: fen for v, fen in per_vendor.items()})


def recompute(dataset: dict, verbose: bool = True) -> Check:
    if dataset.get("format") != FORMAT:
        raise ValueError(f"this script reads {FORMAT} datasets, not {dataset.get('format')!r}")
    check = Check(verbose)
    params = dataset["parameters"]
    check.say(f"{dataset['quarter']['code']}: formula {params['formula_version']}")
    for order in dataset["orders"]:
        recompute_order(order, params, check)
    if dataset["awards"]:
        recompute_awards(dataset["awards"], params, check)
    verify_ledger(dataset["ledger"], check)
    ledger_pays(dataset, check)
    return check


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", help="the quarter's dataset JSON (from /transparency/<quarter>/dataset.json)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only differences and the verdict")
    args = parser.parse_args(argv)
    try:
        with open(args.dataset, encoding="utf-8") as handle:
            dataset = json.load(handle)
        check = recompute(dataset, verbose=not args.quiet)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"cannot read {args.dataset} as a dataset: {exc!r}", file=sys.stderr)
        return 2
    for problem in check.problems:
        print(f"DIFFERS: {problem}")
    verdict = "MISMATCH" if check.problems else "OK"
    print(f"{verdict}: {check.compared} figures compared, {len(check.problems)} differ")
    return 1 if check.problems else 0


if __name__ == "__main__":
    sys.exit(main())
