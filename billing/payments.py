"""The bank payout file: one ISO 20022 customer credit transfer initiation (``pain.001.001.03``) per quarter.

Why this format: pain.001 is the credit-transfer file banks import for bulk payments from corporate and
government accounts — Chinese banks' cash-management channels and CIPS accept it — and version 03 is the one
every bank that takes pain.001 at all still accepts. One payment information block (the treasury account,
``PAYOUT_DEBTOR_*``) holds one transaction per vendor: the amount the quarter's ledger entries credit its
payable account, to the vendor's registered payee account (bank by its CNAPS code, the vendor identified by its
unified social credit code), end-to-end reference ``GOVMARKET-<quarter>-V<vendor id>`` as in the CSV payout file.
``tests/billing/test_payments.py`` validates it against the schema.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from xml.etree import ElementTree as ET

from billing.models import PayeeAccount
from billing.reports import PayoutRow
from core.errors import Conflict, ValidationError

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"


def _text(parent: ET.Element, tag: str, value: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if value is not None:
        element.text = value
    return element


def _amount(fen: int) -> str:
    return str((Decimal(fen) / 100).quantize(Decimal("0.01")))


def pain001(quarter_code: str, rows: Sequence[PayoutRow], payees: Mapping[int, PayeeAccount], *, debtor_name: str,
            debtor_account: str, debtor_bank_code: str, now: datetime, execution_date: date) -> bytes:
    """The XML document (UTF-8). Raises ValidationError when a vendor has no payee account or the treasury
    account is not configured, Conflict when a vendor's balance for the quarter is negative (nothing to pay;
    a reversal left it owing)."""
    if not (debtor_name and debtor_account and debtor_bank_code):
        raise ValidationError("the bank payout file needs the treasury account it pays from: set "
                              "GOVMARKET_PAYOUT_DEBTOR_NAME, GOVMARKET_PAYOUT_DEBTOR_ACCOUNT and "
                              "GOVMARKET_PAYOUT_DEBTOR_BANK_CODE")
    owing = [r for r in rows if r.amount_fen < 0]
    if owing:
        raise Conflict("vendors " + ", ".join(f"{r.vendor_id} ({_amount(r.amount_fen)})" for r in owing)
                       + f" owe money for {quarter_code} after reversals; settle that before paying the quarter")
    paid = [r for r in rows if r.amount_fen > 0]
    missing = [r.vendor_id for r in paid if r.vendor_id not in payees]
    if missing:
        raise ValidationError(f"no payee account registered for vendors {missing}: register each with "
                              "`govmarket billing payee` before writing the bank file")
    currencies = {r.currency for r in paid}
    if len(currencies) > 1:
        raise ValidationError(f"one bank file pays in one currency; {quarter_code} has {sorted(currencies)}")
    currency = currencies.pop() if currencies else "CNY"
    total = _amount(sum(r.amount_fen for r in paid))
    # The message id is stable for the same content (a bank refuses a second file with the same id: a re-export
    # of the same payouts is recognised as a duplicate, a changed one is not).
    digest = hashlib.sha256(repr([(r.vendor_id, r.amount_fen) for r in paid]).encode()).hexdigest()[:10]
    message_id = f"GOVMARKET-{quarter_code}-{digest}"

    ET.register_namespace("", NAMESPACE)
    document = ET.Element(f"{{{NAMESPACE}}}Document")
    ns = f"{{{NAMESPACE}}}"

    def sub(parent, tag, value=None):
        return _text(parent, ns + tag, value)

    root = sub(document, "CstmrCdtTrfInitn")
    header = sub(root, "GrpHdr")
    sub(header, "MsgId", message_id)
    sub(header, "CreDtTm", now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    sub(header, "NbOfTxs", str(len(paid)))
    sub(header, "CtrlSum", total)
    sub(sub(header, "InitgPty"), "Nm", debtor_name[:140])
    info = sub(root, "PmtInf")
    sub(info, "PmtInfId", f"{message_id}-1")
    sub(info, "PmtMtd", "TRF")
    sub(info, "BtchBookg", "false")
    sub(info, "NbOfTxs", str(len(paid)))
    sub(info, "CtrlSum", total)
    sub(info, "ReqdExctnDt", execution_date.isoformat())
    sub(sub(info, "Dbtr"), "Nm", debtor_name[:140])
    _account_ns(info, ns, "DbtrAcct", debtor_account, currency)
    _agent_ns(info, ns, "DbtrAgt", debtor_bank_code)
    sub(info, "ChrgBr", "DEBT")
    for r in paid:
        payee = payees[r.vendor_id]
        tx = sub(info, "CdtTrfTxInf")
        ids = sub(tx, "PmtId")
        reference = f"GOVMARKET-{quarter_code}-V{r.vendor_id}"
        sub(ids, "InstrId", reference)
        sub(ids, "EndToEndId", reference)
        amount = sub(sub(tx, "Amt"), "InstdAmt", _amount(r.amount_fen))
        amount.set("Ccy", r.currency)
        _agent_ns(tx, ns, "CdtrAgt", payee.bank_code)
        creditor = sub(tx, "Cdtr")
        sub(creditor, "Nm", payee.holder_name[:140])
        other = sub(sub(sub(creditor, "Id"), "OrgId"), "Othr")
        sub(other, "Id", payee.credit_code)
        sub(sub(other, "SchmeNm"), "Prtry", "USCC")  # 统一社会信用代码
        _account_ns(tx, ns, "CdtrAcct", payee.account_number, r.currency)
        sub(sub(tx, "RmtInf"), "Ustrd", f"{quarter_code} 政务应用结算款 {reference}"[:140])
    ET.indent(document)
    return ET.tostring(document, encoding="utf-8", xml_declaration=True)


def _agent_ns(parent: ET.Element, ns: str, tag: str, bank_code: str) -> None:
    member = _text(_text(_text(parent, ns + tag), ns + "FinInstnId"), ns + "ClrSysMmbId")
    _text(_text(member, ns + "ClrSysId"), ns + "Cd", "CNAPS")
    _text(member, ns + "MmbId", bank_code)


def _account_ns(parent: ET.Element, ns: str, tag: str, number: str, currency: str) -> None:
    account = _text(parent, ns + tag)
    _text(_text(_text(account, ns + "Id"), ns + "Othr"), ns + "Id", number)
    _text(account, ns + "Ccy", currency)
