"""The billing API and web pages with real marketplace identities (OAuth 2 client-credentials tokens,
logged-in web sessions); the marketplace's orders/apps/ratings come from the billing test double."""

import base64
import re

import pytest

from core.auth import SYSTEM
from core.ids import uscc_check_char
from tests.billing.conftest import AFTER_Q3, FINANCE, Q3, record, usage_rows

PASSWORD = "correct horse battery"


@pytest.fixture
def people(app, client, source):
    from marketplace.accounts import services as accounts
    from marketplace.accounts.scopes import ROLE_SCOPES
    from marketplace.vendors import services as vendors

    vendor = vendors.vendor_create(SYSTEM, name="云帆科技", credit_code="91310000MA1FL0009"[:17]
                                   + uscc_check_char("91310000MA1FL0009"[:17]))
    other = vendors.vendor_create(SYSTEM, name="Other", credit_code="91310000MA1FL0008"[:17]
                                  + uscc_check_char("91310000MA1FL0008"[:17]))
    source.add_order(1, department_id=10, fee=200, budget=10_000_000, title="食品经营许可证核发")
    source.add_order(2, department_id=20, fee=150, budget=3_000)
    source.add_app(11, 1, vendor.id, name="食安通", vendor_name="云帆科技")
    source.add_app(21, 2, other.id)
    source.rate(11, 40, 180)
    tokens, emails = {}, {}
    for name, kw in {"finance": {"role": "finance"}, "auditor": {"role": "auditor"}, "admin": {"role": "admin"},
                     "vendor": {"role": "vendor_member", "vendor_id": vendor.id},
                     "other_vendor": {"role": "vendor_member", "vendor_id": other.id}}.items():
        user = accounts.user_create(SYSTEM, email=f"{name}@billing.example.cn", display_name=name, password=PASSWORD, **kw)
        client_obj, secret = accounts.client_create(user, name="t", scopes=sorted(ROLE_SCOPES[kw["role"]]))
        basic = base64.b64encode(f"{client_obj.client_id}:{secret}".encode()).decode()
        response = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                               headers={"Authorization": f"Basic {basic}"})
        tokens[name] = {"Authorization": f"Bearer {response.json['access_token']}"}
        emails[name] = user.email
    return {"tokens": tokens, "emails": emails, "vendor": vendor.id, "other": other.id}


def settle(people):
    record(usage_rows(1, 11, people["vendor"], 30) + usage_rows(2, 21, people["other"], 30))
    from billing import services

    services.settlement_post(FINANCE, Q3, now=AFTER_Q3)


def test_usage_batch_answers_each_record_and_refuses_floats(client, people):
    v = people["vendor"]
    records = [{"idempotency_key": "k1", "order_id": 1, "app_id": 11, "vendor_id": v, "transaction_ref": "T1",
                "occurred_at": "2026-11-20T10:00:00+08:00"},
               {"idempotency_key": "k2", "order_id": 1.0, "app_id": 11, "vendor_id": v, "transaction_ref": "T2",
                "occurred_at": "2026-11-20T10:00:00+08:00"},
               {"idempotency_key": "k3", "order_id": 1, "app_id": 11, "vendor_id": v, "transaction_ref": "T3",
                "occurred_at": "2026-11-20T10:00:00"}]
    response = client.post("/api/usage/batch", json={"records": records}, headers=people["tokens"]["admin"])
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["accepted"], body["rejected"]) == (1, 2)
    assert "floats are refused" in body["results"][1]["reason"]
    assert body["results"][2]["status"] == "rejected"
    again = client.post("/api/usage/batch", json={"records": records[:1]}, headers=people["tokens"]["admin"]).json
    assert again["duplicate"] == 1 and again["results"][0]["status"] == "duplicate"
    vendor_try = client.post("/api/usage/batch", json={"records": records[:1]}, headers=people["tokens"]["vendor"])
    assert vendor_try.status_code == 403


def test_usage_batch_refusals_name_the_problem(client, people):
    admin = {**people["tokens"]["admin"], "Content-Type": "application/json"}
    good = ('{"idempotency_key": "%s", "order_id": %s, "app_id": 11, "vendor_id": %d, "transaction_ref": "T",'
            ' "occurred_at": "2026-11-20T10:00:00+08:00"}')

    def post(body: str):
        return client.post("/api/usage/batch", data=body.encode(), headers=admin)

    broken = post('{"records": [' + good % ("j1", 1, people["vendor"]))
    assert broken.status_code == 400 and "json" in broken.json["detail"].lower()
    assert post('{"records": []}').status_code == 422
    not_an_object = post('{"records": [' + good % ("j2", 1, people["vendor"]) + ', 5]}')
    assert not_an_object.status_code == 422 and "records" in not_an_object.json["detail"]
    # Answered per record, as floats are: NaN (which the json module reads) and an integer beyond 64 bits.
    for key, order_id in (("j3", "NaN"), ("j4", "123456789012345678901234567890")):
        answer = post('{"records": [' + good % (key, order_id, people["vendor"]) + "]}")
        assert answer.status_code == 200, answer.json
        assert answer.json["rejected"] == 1 and "order_id" in answer.json["results"][0]["reason"]
    accepted = post('{"records": [' + good % ("j5", 1, people["vendor"]) + "]}").json
    assert accepted == {"accepted": 1, "duplicate": 0, "rejected": 0, "results": [
        {"index": 0, "idempotency_key": "j5", "status": "accepted", "reason": None, "settle_quarter": "2026Q4",
         "late": False}]}


def test_finance_previews_and_posts_auditors_only_read(client, people):
    record(usage_rows(1, 11, people["vendor"], 30))
    t = people["tokens"]
    assert client.get(f"/api/billing/quarters/{Q3}/preview", headers=t["auditor"]).status_code == 403
    preview = client.get(f"/api/billing/quarters/{Q3}/preview", headers=t["finance"])
    assert preview.status_code == 200 and preview.json["orders"][0]["lines"][0]["completed"] == 30
    assert client.post(f"/api/billing/quarters/{Q3}/settlement", json={}, headers=t["auditor"]).status_code == 403
    float_ids = client.post(f"/api/billing/quarters/{Q3}/settlement", json={"order_ids": [1.5]}, headers=t["finance"])
    assert float_ids.status_code == 422
    assert client.get("/api/billing/ledger/verify", headers=t["auditor"]).json["ok"] is True
    assert client.get("/api/billing/ledger/verify", headers=t["vendor"]).status_code == 403


def test_posting_through_the_api_is_idempotent_and_recomputable(client, people, monkeypatch):
    record(usage_rows(1, 11, people["vendor"], 30))
    from billing import services

    real_post = services.settlement_post
    monkeypatch.setattr(services, "settlement_post", lambda actor, code, **kw: real_post(actor, code, now=AFTER_Q3, **kw))
    t = people["tokens"]
    first = client.post(f"/api/billing/quarters/{Q3}/settlement", json={}, headers=t["finance"]).json
    second = client.post(f"/api/billing/quarters/{Q3}/settlement", json={}, headers=t["finance"]).json
    assert first["settled"] and first["posted"] and second["posted"] == []
    assert sorted(second["already_posted"]) == sorted(first["posted"])
    run_id = first["posted"][0]
    assert client.get(f"/api/billing/runs/{run_id}/recompute", headers=t["auditor"]).json["figures_match"] is True
    entries = client.get("/api/billing/ledger/entries", headers=t["auditor"]).json
    settlement = next(e for e in entries if e["kind"] == "settlement")
    assert sum(p["amount_fen"] for p in settlement["postings"]) == 0
    reversal = client.post(f"/api/billing/ledger/entries/{settlement['id']}/reversal", json={"reason": "wrong app"},
                           headers=t["finance"])
    assert reversal.status_code == 201 and reversal.json["reverses_entry_id"] == settlement["id"]


def test_vendors_see_only_their_own_statement_and_the_public_sees_transparency(client, people):
    settle(people)
    t = people["tokens"]
    own = client.get(f"/api/billing/vendors/{people['vendor']}/statement?quarter={Q3}", headers=t["vendor"])
    assert own.status_code == 200 and own.json["balance_fen"] > 0
    assert client.get(f"/api/billing/vendors/{people['other']}/statement", headers=t["vendor"]).status_code == 403
    public = client.get(f"/api/billing/transparency/{Q3}").json
    assert public["published"] and {a["app_name"] for a in public["apps"]} >= {"食安通"}
    assert client.get("/api/billing/transparency/2031Q1").json["published"] is False
    page = client.get(f"/transparency/{Q3}")  # no one signed in
    assert page.status_code == 200 and "食安通" in page.get_data(as_text=True)
    assert "not been published" in client.get("/transparency/2031Q1?lang=en").get_data(as_text=True)


def test_reports_download_as_csv_and_pdf(client, people):
    settle(people)
    t = people["tokens"]
    csv_text = client.get(f"/api/billing/quarters/{Q3}/report.csv", headers=t["auditor"]).get_data(as_text=True)
    assert csv_text.splitlines()[0].startswith("\ufeffquarter,department_id")
    assert "食安通" in csv_text
    pdf = client.get(f"/api/billing/quarters/{Q3}/report.pdf", headers=t["auditor"])
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    payouts = client.get(f"/api/billing/quarters/{Q3}/payouts.csv", headers=t["finance"]).get_data(as_text=True)
    assert f"GOVMARKET-{Q3}-V{people['vendor']}" in payouts
    assert client.get(f"/api/billing/quarters/{Q3}/payouts.csv", headers=t["vendor"]).status_code == 403


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def login(client, email):
    token = csrf(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token}).status_code == 302


def test_finance_pages_by_role(client, people):
    settle(people)
    login(client, people["emails"]["auditor"])
    report = client.get(f"/finance/quarters/{Q3}/report?lang=en")  # English; the cookie keeps it
    assert report.status_code == 200
    html = report.get_data(as_text=True)
    assert "<svg" in html and "食安通" in html and "By vendor" in html
    ledger_page = client.get("/finance/ledger").get_data(as_text=True)
    assert "entries verify" in ledger_page and "Reverse" not in ledger_page  # auditors cannot correct
    assert client.get(f"/finance/quarters/{Q3}/preview").status_code == 403
    client.post("/logout", data={"csrf_token": csrf(ledger_page)})
    login(client, people["emails"]["vendor"])
    assert client.get(f"/finance/vendors/{people['vendor']}/statement").status_code == 200
    assert client.get(f"/finance/vendors/{people['other']}/statement").status_code == 403
    assert client.get("/finance/ledger").status_code == 403
    assert "食安通" in client.get(f"/transparency/{Q3}").get_data(as_text=True)


def test_the_settle_form_needs_the_finance_role_and_a_csrf_token(client, people):
    record(usage_rows(1, 11, people["vendor"], 3))
    login(client, people["emails"]["finance"])
    page = client.get(f"/finance/quarters/{Q3}?lang=en").get_data(as_text=True)
    assert "Post settlement of 2026Q3" in page  # 2026Q3 has ended: the quarter is in grace, ready to settle
    assert client.post(f"/finance/quarters/{Q3}/settlement").status_code == 400  # no CSRF token
    posted = client.post(f"/finance/quarters/{Q3}/settlement", data={"csrf_token": csrf(page)})
    assert posted.status_code == 302
    assert "settled" in client.get(f"/finance/quarters/{Q3}").get_data(as_text=True)
