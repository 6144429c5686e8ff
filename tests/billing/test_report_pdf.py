"""The finance report PDF a treasury would file: its table layout fits (every word of every page extracted with its
box by pdfplumber, and no two boxes overlap), every page is numbered, the PDF is tagged (PDF/UA-1: a structure
tree, marked content, the language), and long Chinese names of vendors, apps and orders print whole."""

from __future__ import annotations

import io
import itertools

import pdfplumber
import pytest

from billing import reports, services
from tests.billing.conftest import AFTER_Q3, FINANCE, Q3, record, usage_rows

LONG_VENDOR = "海川数智科技（上海）股份有限公司政务软件事业部华东区域交付中心"
LONG_APP = "食安通 · 食品经营许可一次办好智能申报助手（企业版）"
LONG_ORDER = "食品经营许可证核发 · 在线申请应用（含新办、延续、变更、补办与注销）"


@pytest.fixture
def report(app_ctx, source):
    source.add_order(1, department_id=10, fee=200, budget=90_000_000, title=LONG_ORDER)
    source.add_order(2, department_id=20, fee=150, budget=3_000, title="社保卡申领")
    for n in range(12):  # enough apps for the tables to run onto a second page
        app_id = 100 + n
        order = 1 if n % 3 else 2
        source.add_app(app_id, order, 500 + n % 4, name=f"{LONG_APP}{n}" if n % 2 else f"卡宝 {n}",
                       vendor_name=f"{LONG_VENDOR}{n % 4}")
        source.rate(app_id, 30 + n, 4 * (30 + n))
        record(usage_rows(order, app_id, 500 + n % 4, 100 + 10 * n))
    services.settlement_post(FINANCE, Q3, now=AFTER_Q3)
    return reports.build_finance_report(Q3)


def overlaps(a: dict, b: dict, slack: float = 0.5) -> bool:
    return (min(a["x1"], b["x1"]) - max(a["x0"], b["x0"]) > slack
            and min(a["bottom"], b["bottom"]) - max(a["top"], b["top"]) > slack)


def test_the_pdf_table_layout_fits_every_page_is_numbered_and_it_is_tagged(report):
    data = reports.finance_report_pdf(report)
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        pages = len(pdf.pages)
        assert pages >= 2
        text = ""
        for number, page in enumerate(pdf.pages, start=1):
            words = page.extract_words()
            assert len(words) > 10
            clashes = [(a["text"], b["text"]) for a, b in itertools.combinations(words, 2) if overlaps(a, b)]
            assert not clashes, f"page {number}: words print over each other: {clashes[:5]}"
            off = [w["text"] for w in words if w["x0"] < 0 or w["x1"] > page.width]
            assert not off, f"page {number}: text off the page: {off} {page.width}"
            page_text = page.extract_text()
            assert f"{number} / {pages}" in page_text, f"page {number} has no page number"
            text += page_text
        catalog = pdf.doc.catalog
        assert "StructTreeRoot" in catalog and catalog["MarkInfo"]["Marked"] is True, "the PDF is tagged"
        assert catalog["Lang"] in (b"zh-CN", "zh-CN")
    # Outside a request (as the CLI prints it) the report is in Chinese, the platform's default.
    assert f"{Q3} 结算报告" in text and "按部门" in text and "By department" not in text
    flat = text.replace("\n", "")
    for name in (LONG_VENDOR, LONG_APP, LONG_ORDER):
        assert name in flat, f"{name} is printed whole (wrapped, never cut)"


def test_overlapping_words_are_detected():
    word = {"x0": 10, "x1": 50, "top": 10, "bottom": 20}
    assert overlaps(word, {"x0": 40, "x1": 90, "top": 12, "bottom": 22})
    assert not overlaps(word, {"x0": 50, "x1": 90, "top": 10, "bottom": 20})  # side by side
    assert not overlaps(word, {"x0": 10, "x1": 50, "top": 20, "bottom": 30})  # the next line
