"""``govmarket billing …`` and ``govmarket ledger …``: settlement, reports and ledger checks from a shell.

Commands act as the platform itself (core.auth.SYSTEM); who may run them is who may run the shell.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import current_app, render_template
from flask.cli import AppGroup

from billing import reports, services, tasks
from core.auth import SYSTEM
from core.errors import DomainError

billing_cli = AppGroup("billing", help="Usage metering, quarterly settlement and finance reports.")
ledger_cli = AppGroup("ledger", help="The double-entry ledger: verification, balances, statements.")


def _fail(exc: DomainError) -> None:
    click.echo(f"error: {exc.message}", err=True)
    sys.exit(2)


def _progress(step: str, detail: dict) -> None:
    if step == "order":
        click.echo(f"[{detail['n']}/{detail['of']}] order {detail['order_id']} …", err=True)
    elif step == "computed":
        click.echo(f"    computed: {detail['apps']} apps, {reports.yuan(detail['total_fen'])} yuan", err=True)
    elif step == "entries_written":
        click.echo("    ledger entries written", err=True)
    elif step == "awards":
        click.echo("awards …", err=True)
    elif step == "awards_ranked":
        click.echo(f"    winners: {detail['winners']}", err=True)


@billing_cli.command("settle")
@click.option("--quarter", "code", required=True, help="Quarter code, e.g. 2026Q3.")
@click.option("--preview/--post", default=True, help="Preview (default, changes nothing) or post to the ledger.")
@click.option("--order", "order_ids", type=int, multiple=True, help="Only this order (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the preview as JSON.")
def settle(code: str, preview: bool, order_ids: tuple[int, ...], as_json: bool) -> None:
    """Preview or post the settlement of a quarter."""
    try:
        if preview:
            click.echo(f"previewing {code} …", err=True)
            result = services.settlement_preview(SYSTEM, code, order_ids=list(order_ids) or None)
            if as_json:
                from billing.api import preview_doc

                click.echo(json.dumps(preview_doc(result), ensure_ascii=False, indent=2))
                return
            for order in result.orders.values():
                click.echo(f"order {order.order_id}: budget {reports.yuan(order.budget)}, paid {reports.yuan(order.total)}"
                           + (" (capped)" if order.capped else ""))
                for line in order.lines:
                    click.echo(f"  app {line.app_id:>6} vendor {line.vendor_id:>6} completed {line.completed:>8} "
                               f"late {line.late:>5} rating {reports.rating_text(line.bayesian_rating)} "
                               f"×{reports.rating_text(line.multiplier)} → {reports.yuan(line.amount):>14}")
            for award in result.awards:
                click.echo(f"award #{award.rank}: app {award.candidate.app_id} {reports.yuan(award.prize.minor)}")
            click.echo(f"total {reports.yuan(result.total_fen)} yuan (preview: nothing posted)")
        else:
            outcome = services.settlement_post(SYSTEM, code, order_ids=list(order_ids) or None, progress=_progress)
            click.echo(f"{code}: posted runs {outcome.posted}, already posted {outcome.already_posted}, "
                       f"settled={outcome.settled}")
    except DomainError as exc:
        _fail(exc)


@billing_cli.command("settle-due")
def settle_due() -> None:
    """Settle every quarter whose grace period has ended (what the scheduled job does)."""
    click.echo(f"settled: {tasks.settle_due_quarters() or 'nothing due'}")


@billing_cli.command("schedule")
def schedule() -> None:
    """Schedule the quarter-end settlement job on RQ (idempotent)."""
    job_id = tasks.schedule_next_settlement()
    click.echo(f"scheduled {job_id}" if job_id else
               "QUEUE_MODE is not rq: run `govmarket billing settle-due` from cron instead")


@billing_cli.command("close")
@click.option("--quarter", "code", required=True)
def close(code: str) -> None:
    """Close a settled quarter: nothing in it can change afterwards."""
    try:
        click.echo(f"{services.quarter_close(SYSTEM, code).code} closed")
    except DomainError as exc:
        _fail(exc)


@billing_cli.command("recompute")
@click.option("--run", "run_id", type=int, required=True)
def recompute(run_id: int) -> None:
    """Recompute a posted run from its snapshot and compare with the posted figures."""
    try:
        result = services.settlement_recompute(SYSTEM, run_id)
    except DomainError as exc:
        _fail(exc)
    click.echo("matches" if result.figures_match else "DIFFERS:\n  " + "\n  ".join(result.differences))
    sys.exit(0 if result.figures_match else 1)


@billing_cli.command("report")
@click.option("--quarter", "code", required=True)
@click.option("--format", "fmt", type=click.Choice(["csv", "pdf", "html"]), default="csv")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def report(code: str, fmt: str, output: Path) -> None:
    """Export the quarter's finance report."""
    try:
        data = services.finance_report(SYSTEM, code)
    except DomainError as exc:
        _fail(exc)
    if fmt == "csv":
        output.write_text(reports.finance_report_csv(data), encoding="utf-8")
    elif fmt == "pdf":
        output.write_bytes(reports.finance_report_pdf(data))
    else:
        with current_app.test_request_context(f"/finance/quarters/{code}/report"):
            output.write_text(render_template("billing/report.html", actor=SYSTEM, report=data,
                                              charts=reports.report_charts(data)), encoding="utf-8")
    click.echo(f"wrote {output} ({len(data.apps)} apps, {reports.yuan(data.total_fen)} yuan)")


@billing_cli.command("payouts")
@click.option("--quarter", "code", required=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--format", "fmt", type=click.Choice(["csv", "pain001"]), default="csv", show_default=True,
              help="csv: one row per vendor; pain001: the ISO 20022 credit-transfer file for the treasury's bank")
def payouts(code: str, output: Path, fmt: str) -> None:
    """Write the quarter's payout file (CSV, one row per vendor, or the bank's pain.001 XML)."""
    try:
        rows, text = services.payout_file(SYSTEM, code)
        if fmt == "pain001":
            output.write_bytes(services.payout_bank_file(SYSTEM, code, config=current_app.config))
        else:
            output.write_text(text, encoding="utf-8")
    except DomainError as exc:
        _fail(exc)
    click.echo(f"wrote {output}: {len(rows)} vendors, {reports.yuan(sum(r.amount_fen for r in rows))} yuan")


@billing_cli.command("payee")
@click.option("--vendor", "vendor_id", type=int, required=True)
@click.option("--holder", required=True, help="the account holder's name, as the bank has it")
@click.option("--credit-code", required=True, help="the vendor's unified social credit code")
@click.option("--account", required=True, help="the account number")
@click.option("--bank-code", required=True, help="the bank's 12-digit CNAPS code")
@click.option("--bank-name", default="")
def payee(vendor_id: int, holder: str, credit_code: str, account: str, bank_code: str, bank_name: str) -> None:
    """Register the account a vendor's payouts go to (used by `payouts --format pain001`)."""
    try:
        services.payee_set(SYSTEM, vendor_id, holder_name=holder, credit_code=credit_code, account_number=account,
                           bank_code=bank_code, bank_name=bank_name)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"vendor {vendor_id} is paid to {bank_code} …{account[-4:]}")


@ledger_cli.command("verify")
def verify() -> None:
    """Walk the hash chain; exit 1 naming every altered, removed or inserted row."""
    result = services.ledger_verify(SYSTEM, progress=lambda n: click.echo(f"  {n} entries checked", err=True))
    if result.ok:
        click.echo(f"ok: {result.entries_checked} entries, head #{result.head_seq} {result.head_hash}")
        return
    click.echo(f"LEDGER DOES NOT VERIFY ({len(result.problems)} problems):", err=True)
    for problem in result.problems:
        click.echo(f"  - {problem}", err=True)
    sys.exit(1)


@ledger_cli.command("trial-balance")
@click.option("--quarter", "code", default=None)
def trial_balance(code: str | None) -> None:
    """Debits, credits and balance per account; the totals must be equal."""
    rows = services.ledger_trial_balance(SYSTEM, code)
    for r in rows:
        click.echo(f"{r.code:<40} {reports.yuan(r.debits):>18} {reports.yuan(r.credits):>18} {reports.yuan(r.balance):>18}")
    click.echo(f"{'total':<40} {reports.yuan(sum(r.debits for r in rows)):>18} "
               f"{reports.yuan(sum(r.credits for r in rows)):>18} {reports.yuan(sum(r.balance for r in rows)):>18}")


@ledger_cli.command("statement")
@click.option("--account", "account_code", required=True, help="e.g. vendor_payable:vendor:7")
@click.option("--quarter", "code", default=None)
def statement(account_code: str, code: str | None) -> None:
    """Every posting to an account with the running balance."""
    accounts = {a.code: a for a in services.ledger_accounts(SYSTEM)}
    if account_code not in accounts:
        click.echo(f"error: no account {account_code!r}; known: {', '.join(sorted(accounts)) or 'none'}", err=True)
        sys.exit(2)
    _account, lines = services.ledger_account_statement(SYSTEM, accounts[account_code].id, code)
    for line in lines:
        click.echo(f"#{line.entry_seq:<6} {line.quarter_code} {line.kind:<14} {reports.yuan(line.amount):>16} "
                   f"{reports.yuan(line.balance):>16}  {line.memo}")
