"""Vendor pages: my apps, entering an app, an app's versions, uploading a bundle."""

from __future__ import annotations

import io
import re
from pathlib import Path

from core.extensions import db
from marketplace.vendors.models import App, AppVersion
from tests.marketplace.conftest import minimal_bundle
from tests.marketplace.webpages import csrf_token, login, submit, text


def _upload(client, app_id, version="1.0.0", payload=None, filename="app-1.0.0.tar.gz"):
    payload = minimal_bundle(version) if payload is None else payload
    return submit(client, f"/apps/{app_id}", {"version": version, "bundle": (io.BytesIO(payload), filename)},
                  action=f"/apps/{app_id}/versions", content_type="multipart/form-data")


def test_my_apps_lists_only_my_vendors_apps(world, client):
    login(client, "vendor_a")
    mine = text(client.get("/apps"))
    assert "App A" in mine and "我的应用" in mine
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, "vendor_b")
    assert "App A" not in text(client.get("/apps"))
    assert client.get(f"/apps/{world.ids['app_a']}").status_code == 404, "another vendor's app does not exist for them"


def test_departments_see_apps_for_their_orders_only(world, client):
    login(client, "staff_a")
    assert "App A" in text(client.get("/apps")) and client.get(f"/apps/{world.ids['app_a']}").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, "staff_b")
    assert "App A" not in text(client.get("/apps")) and client.get(f"/apps/{world.ids['app_a']}").status_code == 404


def test_app_pages_need_a_login_and_only_vendors_enter_apps(world, client):
    assert client.get("/apps").status_code == 401
    login(client, "staff_a")
    assert client.get("/apps/new").status_code == 403


def test_vendor_enters_an_app_for_an_open_order(world, client):
    login(client, "vendor_b")
    form = text(client.get(f"/apps/new?order_id={world.ids['order_a']}"))
    assert f'<option selected value="{world.ids["order_a"]}">' in form or re.search(
        rf'<option[^>]*value="{world.ids["order_a"]}"[^>]*selected', form)
    assert "Order draft-a" not in form, "drafts are not offered"
    response = submit(client, "/apps/new", {"order_id": world.ids["order_a"], "name": "快办", "slug": "kuai-ban",
                                            "summary": "Fewer fields."})
    assert response.status_code == 302
    app = db.session.query(App).filter_by(slug="kuai-ban").one()
    assert app.vendor_id == world.ids["org_b"] and app.order_id == world.ids["order_a"]
    assert "快办" in text(client.get(response.headers["Location"]))


def test_bad_or_taken_slug_shows_the_error_and_writes_nothing(world, client):
    login(client, "vendor_b")
    before = db.session.query(App).count()
    bad = submit(client, "/apps/new", {"order_id": world.ids["order_a"], "name": "X", "slug": "Not A Label"})
    assert bad.status_code == 422 and 'id="slug-error"' in text(bad)
    taken = submit(client, "/apps/new", {"order_id": world.ids["order_a"], "name": "X", "slug": "app-a"})
    assert taken.status_code == 409 and re.search(r'id="slug-error">.*is taken', text(taken), re.S)
    assert db.session.query(App).count() == before


def test_upload_a_version_stores_the_bundle_by_hash(world, client, app):
    login(client, "vendor_a")
    page = text(client.get(f"/apps/{world.ids['app_a']}"))
    assert 'enctype="multipart/form-data"' in page and "0.9.0" in page, "the world's first version is listed"
    response = _upload(client, world.ids["app_a"])
    assert response.status_code == 302, text(response)
    row = db.session.query(AppVersion).filter_by(app_id=world.ids["app_a"], version="1.0.0").one()
    assert row.version == "1.0.0" and row.bundle_size == len(minimal_bundle("1.0.0"))
    assert (Path(app.config["BUNDLE_STORE"]) / row.bundle_sha256[:2] / row.bundle_sha256).is_file()
    detail = text(client.get(f"/apps/{world.ids['app_a']}"))
    assert "1.0.0" in detail and "已上传" in detail and row.bundle_sha256[:12] in detail
    again = _upload(client, world.ids["app_a"])
    assert again.status_code == 409 and re.search(r'id="version-error">.*uploaded already', text(again), re.S)


def test_upload_form_errors_and_oversize_bundles_write_nothing(world, client, app, monkeypatch):
    before = db.session.query(AppVersion).count()
    login(client, "vendor_a")
    missing = submit(client, f"/apps/{world.ids['app_a']}", {"version": "1.0.0"},
                     action=f"/apps/{world.ids['app_a']}/versions", content_type="multipart/form-data")
    assert missing.status_code == 422 and "请选择应用包文件" in text(missing)
    wrong_type = _upload(client, world.ids["app_a"], filename="app.zip")
    assert wrong_type.status_code == 422 and "id=\"bundle-error\"" in text(wrong_type)
    monkeypatch.setitem(app.config, "MAX_BUNDLE_BYTES", 100)
    too_big = _upload(client, world.ids["app_a"])
    assert too_big.status_code == 413 and "exceeds the limit of 100 bytes" in text(too_big)
    huge = _upload(client, world.ids["app_a"], payload=b"\0" * (200 * 1024))
    assert huge.status_code == 413, "refused while arriving, before the form is parsed"
    assert db.session.query(AppVersion).count() == before


def test_other_roles_get_no_upload_form_and_cannot_upload(world, client):
    before = db.session.query(AppVersion).count()
    login(client, "staff_a")
    assert 'name="bundle"' not in text(client.get(f"/apps/{world.ids['app_a']}"))
    token = csrf_token(client, "/")
    response = client.post(f"/apps/{world.ids['app_a']}/versions", content_type="multipart/form-data",
                           data={"csrf_token": token, "version": "1.0.0", "bundle": (io.BytesIO(b"x" * 10), "a.tar.gz")})
    assert response.status_code == 403 and db.session.query(AppVersion).count() == before


def test_the_new_app_form_shows_the_real_address_an_app_gets(world, client, app):
    login(client, "vendor_a")
    page = text(client.get("/apps/new"))
    assert f"<code>http://my-app.{app.config['APPS_DOMAIN']}/</code>" in page and ".apps.." not in page
