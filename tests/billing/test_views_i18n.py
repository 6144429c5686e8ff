"""The finance pages, the transparency page and the finance report speak Chinese by default and English with
?lang=en; amounts read ¥1,234.56 in both."""

import io
import re

import pdfplumber
import pytest

from billing import services
from core.money import Money
from tests.billing.conftest import FINANCE, Q3
from tests.billing.test_api import csrf, login, people, settle  # noqa: F401  (people is a fixture)

AMOUNT = re.compile(r"¥\d{1,3}(?:,\d{3})*\.\d{2}\b")


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def yuan(fen: int) -> str:
    return "¥" + Money(fen).format()


@pytest.fixture
def finance_pages(client, people):  # noqa: F811
    settle(people)
    login(client, people["emails"]["finance"])
    run_id = services.settlement_runs(FINANCE, Q3)[0].id
    account_id = services.ledger_trial_balance(FINANCE)[0].account_id
    total = services.finance_report(FINANCE, Q3).total_fen
    return {
        "/finance/": ("季度费用核算", "Quarterly settlement"),
        f"/finance/quarters/{Q3}": ("已过账的结算批次", "Posted settlement runs"),
        f"/finance/quarters/{Q3}/preview": (f"{Q3} 结算预览", f"Settlement preview {Q3}"),
        f"/finance/quarters/{Q3}/report": (f"{Q3} 结算报告", f"Finance report {Q3}"),
        "/finance/ledger": ("试算平衡", "Trial balance"),
        f"/finance/runs/{run_id}": (f"结算批次 #{run_id}", f"Settlement run #{run_id}"),
        f"/finance/ledger/accounts/{account_id}": ("对账单", "Statement"),
        f"/finance/vendors/{people['vendor']}/statement?quarter={Q3}": ("对账单", "Payable balance"),
    }, total


def test_every_finance_page_is_chinese_by_default_and_english_on_request(client, finance_pages):
    pages, _total = finance_pages
    for url, (chinese, english) in pages.items():
        html = page(client, url)
        assert '<html lang="zh-CN">' in html and chinese in html, url
        assert english not in html, f"{url} still shows {english!r} in Chinese"
        joiner = "&" if "?" in url else "?"
        html_en = page(client, f"{url}{joiner}lang=en")
        assert '<html lang="en">' in html_en and english in html_en, url
        assert chinese not in html_en, f"{url} shows {chinese!r} in English"
        client.get("/?lang=zh_CN")  # back to Chinese for the next page


def test_finance_words_follow_the_domain_register(client, finance_pages):
    html = page(client, "/finance/ledger")
    for word in ("总账", "分录链校验", "试算平衡", "借方", "贷方", "最新分录", "冲销", "应付厂商款"):
        assert word in html, word
    quarter = page(client, f"/finance/quarters/{Q3}")
    assert "已结算" in quarter and "透明度公示页" in quarter and "关账 2026Q3（不可撤销）" in quarter
    report = page(client, f"/finance/quarters/{Q3}/report")
    for word in ("按部门", "按求购订单", "按厂商", "按应用", "预算", "奖励", "办件数", "贝叶斯评分", "各厂商结算金额"):
        assert word in report, word
    assert "By vendor" not in report and "yuan" not in report


def test_amounts_read_as_yuan_with_two_decimals_in_both_languages(client, finance_pages):
    _pages, total = finance_pages
    for lang in ("zh_CN", "en"):
        report = page(client, f"/finance/quarters/{Q3}/report?lang={lang}")
        assert yuan(total) in report, lang
        amounts = AMOUNT.findall(report)
        assert len(amounts) > 10, "every amount in the tables and charts carries ¥ and two decimals"
        ledger = page(client, "/finance/ledger")
        assert AMOUNT.search(ledger) and not re.search(r"<td class=\"num\">-?\d", ledger), "no bare amounts"


def test_settling_and_closing_say_so_in_the_chosen_language(client, people):  # noqa: F811
    from tests.billing.conftest import record, usage_rows

    record(usage_rows(1, 11, people["vendor"], 3))
    login(client, people["emails"]["finance"])
    quarter = page(client, f"/finance/quarters/{Q3}")
    assert "过账 2026Q3 季度结算" in quarter
    settled = client.post(f"/finance/quarters/{Q3}/settlement", data={"csrf_token": csrf(quarter)},
                          follow_redirects=True).get_data(as_text=True)
    assert "2026Q3：已过账 3 个结算批次，0 个此前已过账；本季度已结算" in settled
    closed = client.post(f"/finance/quarters/{Q3}/close?lang=en", data={"csrf_token": csrf(settled)},
                         follow_redirects=True).get_data(as_text=True)
    assert "2026Q3 is closed: nothing in it can change any more" in closed and "已关账" not in closed


def test_transparency_page_is_chinese_by_default_and_english_on_request(client, people):  # noqa: F811
    settle(people)
    report = services.transparency_report(None, Q3)
    chinese = page(client, f"/transparency/{Q3}")
    assert f"{Q3} 政务应用结算公示" in chinese and "各应用办件量、评价与结算金额" in chinese and "贝叶斯平均分" in chinese
    assert (f"本季度按件计费 {yuan(report.paid_fen)}，奖励 {yuan(report.award_fen)}，合计 {yuan(report.total_fen)}"
            in chinese)
    assert "食安通" in chinese and "Public figures" not in chinese and "订单均分" in chinese
    assert ("本季度适用的条款：每件 ¥2.00，季度预算 ¥100,000.00，"
            "评分系数表 1.0★ ×0.50, 3.0★ ×0.80, 4.0★ ×1.00, 5.0★ ×1.20") in chinese
    assert f"{Q3} 各应用按件计费金额（不含奖励），元" in chinese, "the chart's title too"
    assert f'href="/transparency/{Q3}/dataset.json"' in chinese and 'href="/transparency/public_recompute.py"' in chinese
    assert 'href="/transparency/">结算公示数据</a>' in chinese, "every page's footer links the public data"
    english = page(client, f"/transparency/{Q3}?lang=en")
    assert f"Public figures {Q3}" in english and f"{yuan(report.award_fen)} in awards" in english
    assert "政务应用结算公示" not in english and f"Usage payments per app {Q3} (awards not included)" in english
    assert "尚未公示" in page(client, "/transparency/2031Q1?lang=zh_CN")
    assert "has not been published yet" in page(client, "/transparency/2031Q1?lang=en")


def test_the_chart_and_the_table_show_the_same_usage_amounts(client, people):  # noqa: F811
    settle(people)
    html = page(client, f"/transparency/{Q3}?lang=en")
    chart = html[html.index("<svg"):html.index("</svg>")]
    for row in services.transparency_report(None, Q3).apps:
        assert f">{yuan(row.paid_fen)}</text>" in chart, "the chart shows usage payments, as the table does"
        assert f'<td class="num">{yuan(row.paid_fen)}</td>' in html


def test_dataset_downloads_and_the_index_of_settled_quarters(client, people):  # noqa: F811
    assert client.get(f"/transparency/{Q3}/dataset.json").status_code == 404
    settle(people)
    data = client.get(f"/transparency/{Q3}/dataset.json")
    assert data.status_code == 200 and data.json["format"] == "govmarket-transparency-1"
    csv_file = client.get(f"/transparency/{Q3}/dataset.csv")
    assert csv_file.data.startswith(b"\xef\xbb\xbfquarter,") and csv_file.mimetype == "text/csv"
    script = client.get("/transparency/public_recompute.py")
    assert script.status_code == 200 and b"def recompute(" in script.data
    assert f'href="/transparency/{Q3}"' in page(client, "/transparency/")


def pdf_text(data: bytes) -> str:
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        return "\n".join(p.extract_text() for p in pdf.pages)


def test_the_pdf_report_prints_the_same_texts_in_the_chosen_language(client, people):  # noqa: F811
    settle(people)
    login(client, people["emails"]["auditor"])
    pdf = client.get(f"/finance/quarters/{Q3}/report.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    chinese = pdf_text(pdf.data)
    assert f"{Q3} 结算报告" in chinese and "按厂商" in chinese and "By vendor" not in chinese
    assert "各厂商结算金额（按件计费 + 奖励），元" in chinese and "第 1 / 1 页" not in chinese
    assert AMOUNT.search(chinese)
    english = pdf_text(client.get(f"/finance/quarters/{Q3}/report.pdf?lang=en").data)
    assert f"Finance report {Q3}" in english and "By vendor" in english and "按厂商" not in english
    assert "Page 1 / " in english


def test_finance_pages_say_where_a_quarter_stands_in_words_and_china_time(client, people):  # noqa: F811
    login(client, people["emails"]["finance"])
    client.get("/?lang=zh_CN")
    open_quarter = page(client, "/finance/quarters/2031Q1")
    assert "本季度于 2031-03-31 24:00" not in open_quarter  # a real time, not a made-up one
    assert "2031-04-01 00:00（北京时间） 起可过账" in open_quarter and "disabled" in open_quarter
    settle(people)
    preview = page(client, f"/finance/quarters/{Q3}/preview")
    assert "尚未过账" not in preview and f"{Q3} 已结算并过账" in preview and "食安通" in preview
    quarter = page(client, f"/finance/quarters/{Q3}")
    assert "（北京时间）" in quarter and "UTC" not in quarter.split("<main", 1)[1].replace("UTC+8", "")
    assert "食品经营许可证核发" in quarter, "runs are named by their order"
    ledger_page = page(client, "/finance/ledger")
    assert "vendor_payable:vendor:" not in ledger_page.split("<tbody>", 1)[1].split("title=")[0]
    assert "应付厂商款：云帆科技" in ledger_page and "订单预算：食品经营许可证核发" in ledger_page and "国库" in ledger_page
    assert "食安通：30 件" in ledger_page, "memos in Chinese, naming the app"
    run_id = services.settlement_runs(FINANCE, Q3)[0].id
    assert "精确分数，不做舍入" in page(client, f"/finance/runs/{run_id}")


def test_vendor_statement_is_titled_by_the_vendor_and_names_apps_and_orders(client, people):  # noqa: F811
    settle(people)
    login(client, people["emails"]["vendor"])
    client.get("/?lang=zh_CN")
    statement = page(client, f"/finance/vendors/{people['vendor']}/statement?quarter={Q3}")
    assert "<h1>云帆科技 对账单 — 2026Q3</h1>" in statement
    assert "<td>食安通</td><td>食品经营许可证核发</td>" in statement
    apps = page(client, "/apps")
    assert f'href="/finance/vendors/{people["vendor"]}/statement"' in apps


def test_accounts_opened_before_names_in_words_still_read_in_words(app):
    from billing.ledger import BalanceRow
    from billing.views import account_label_filter

    with app.test_request_context("/?lang=zh_CN"):
        rows = [BalanceRow(1, "department_budget:order:3", "department_budget", "Budget of 开餐馆", "CNY", 0, 0),
                BalanceRow(2, "vendor_payable:vendor:4", "vendor_payable", "Payable to vendor 4", "CNY", 0, 0),
                BalanceRow(3, "department_budget:order:5", "department_budget", "department_budget:order:5", "CNY", 0, 0),
                BalanceRow(4, "treasury", "treasury", "Treasury", "CNY", 0, 0)]
        assert [account_label_filter(r) for r in rows] == [
            "订单预算：开餐馆", "应付厂商款：厂商 4", "订单预算：求购订单 5", "国库"]
