"""The bank payout file: an ISO 20022 pain.001.001.03 credit transfer that validates against the standard's schema
(the XSD shipped by sepaxml) and pays each vendor exactly what the quarter's entries credit it, to its registered
payee account; refused while a vendor has no payee account or the treasury account is not configured."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import sepaxml
import xmlschema

from billing import reports, services
from core.errors import ValidationError
from core.ids import uscc_check_char
from tests.billing.conftest import AFTER_Q3, AUDITOR, FINANCE, Q3, record, usage_rows

XSD = Path(sepaxml.__file__).parent / "schemas" / "pain.001.001.03.xsd"
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
TREASURY = {"PAYOUT_DEBTOR_NAME": "某市财政局国库", "PAYOUT_DEBTOR_ACCOUNT": "11001018400053000001",
            "PAYOUT_DEBTOR_BANK_CODE": "011100000003"}


def uscc(n: int) -> str:
    first = f"91310000MA1FL{n:04d}"
    return first + uscc_check_char(first)


@pytest.fixture
def settled(app_ctx, source):
    source.add_order(1, fee=200, budget=10_000_000)
    source.add_app(11, 1, 101)
    source.add_app(12, 1, 102)
    source.rate(11, 40, 184)
    record(usage_rows(1, 11, 101, 120) + usage_rows(1, 12, 102, 5))
    services.settlement_post(FINANCE, Q3, now=AFTER_Q3)


def register(vendor_id: int, holder: str) -> None:
    services.payee_set(FINANCE, vendor_id, holder_name=holder, credit_code=uscc(vendor_id),
                       account_number=f"6222 0000 0000 {vendor_id:04d}", bank_code="102100099996",
                       bank_name="中国工商银行")


def test_the_bank_file_validates_against_the_pain001_schema_and_pays_what_the_ledger_credits(settled):
    register(101, "海川数智科技有限公司")
    register(102, "云岭软件股份有限公司")
    data = services.payout_bank_file(AUDITOR, Q3, config=TREASURY, now=AFTER_Q3)
    xmlschema.XMLSchema(str(XSD)).validate(data.decode("utf-8"))
    doc = ET.fromstring(data)
    expected = {r.vendor_id: r.amount_fen for r in reports.payout_rows(Q3)}
    assert expected == {101: 10_026_880, 102: 1_120}
    paid = {}
    for tx in doc.iterfind(".//p:CdtTrfTxInf", NS):
        vendor = int(tx.findtext("p:PmtId/p:EndToEndId", namespaces=NS).rsplit("-V", 1)[1])
        amount = tx.find("p:Amt/p:InstdAmt", NS)
        assert amount.get("Ccy") == "CNY"
        paid[vendor] = int(amount.text.replace(".", ""))
        assert tx.findtext("p:Cdtr/p:Id/p:OrgId/p:Othr/p:Id", namespaces=NS) == uscc(vendor)
        assert tx.findtext("p:CdtrAcct/p:Id/p:Othr/p:Id", namespaces=NS) == f"622200000000{vendor:04d}"
        assert tx.findtext("p:CdtrAgt/p:FinInstnId/p:ClrSysMmbId/p:MmbId", namespaces=NS) == "102100099996"
    assert paid == expected
    assert doc.findtext(".//p:GrpHdr/p:CtrlSum", namespaces=NS) == "100280.00"
    assert doc.findtext(".//p:GrpHdr/p:NbOfTxs", namespaces=NS) == "2"
    assert doc.findtext(".//p:DbtrAcct/p:Id/p:Othr/p:Id", namespaces=NS) == TREASURY["PAYOUT_DEBTOR_ACCOUNT"]
    assert doc.findtext(".//p:ReqdExctnDt", namespaces=NS) == "2026-10-05"
    # The same payouts give the same message id (a bank refuses the duplicate).
    again = services.payout_bank_file(AUDITOR, Q3, config=TREASURY, now=AFTER_Q3)
    assert ET.fromstring(again).findtext(".//p:MsgId", namespaces=NS) == doc.findtext(".//p:MsgId", namespaces=NS)


def test_the_schema_catches_a_broken_file(settled):
    register(101, "海川数智科技有限公司")
    register(102, "云岭软件股份有限公司")
    data = services.payout_bank_file(AUDITOR, Q3, config=TREASURY, now=AFTER_Q3).decode("utf-8")
    broken = data.replace("<PmtMtd>TRF</PmtMtd>", "<PmtMtd>CASH</PmtMtd>")
    assert not xmlschema.XMLSchema(str(XSD)).is_valid(broken)


def test_refused_without_a_payee_account_or_a_treasury_account(settled):
    register(101, "海川数智科技有限公司")
    with pytest.raises(ValidationError, match=r"no payee account registered for vendors \[102\]"):
        services.payout_bank_file(AUDITOR, Q3, config=TREASURY, now=AFTER_Q3)
    register(102, "云岭软件股份有限公司")
    with pytest.raises(ValidationError, match="GOVMARKET_PAYOUT_DEBTOR_ACCOUNT"):
        services.payout_bank_file(AUDITOR, Q3, config={}, now=AFTER_Q3)


def test_payee_accounts_are_checked_and_only_finance_registers_them(app_ctx):
    from core.errors import Forbidden

    with pytest.raises(ValidationError, match="unified social credit code"):
        services.payee_set(FINANCE, 1, holder_name="x", credit_code="91310000MA1FL00000",
                           account_number="622200001", bank_code="102100099996")
    with pytest.raises(ValidationError, match="CNAPS"):
        services.payee_set(FINANCE, 1, holder_name="x", credit_code=uscc(1), account_number="622200001",
                           bank_code="1021")
    with pytest.raises(Forbidden):
        services.payee_set(AUDITOR, 1, holder_name="x", credit_code=uscc(1), account_number="622200001",
                           bank_code="102100099996")
