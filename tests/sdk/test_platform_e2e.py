"""The vendor's whole loop against the real platform, following docs/vendors.md: `govapp login`, `orders`,
`register`, `package`, `submit --wait` — the platform certifies the upload in its bubblewrap sandbox on the
embedded in-process queue and `govapp` follows it live until it is certified."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_app, upgrade
from tests.live import served
from tests.services import require_bwrap

ROOT = Path(__file__).resolve().parents[2]
GOVAPP = str(Path(sys.executable).parent / "govapp")


@pytest.fixture
def platform(fresh_database_url, tmp_path):
    require_bwrap()
    app = make_app(fresh_database_url, tmp_path / "instance", QUEUE_MODE="inline", SANDBOX_BACKEND="bwrap",
                   SANDBOX_RUNS="/run/govmarket-sandbox-test")
    upgrade(app)
    from core.extensions import db
    from core.time import utcnow
    from marketplace.accounts import services as accounts
    from marketplace.accounts.models import User
    from marketplace.accounts.scopes import ROLE_SCOPES
    from marketplace.demo.base import seed_base
    from marketplace.demo.timeline import timeline

    with app.app_context():
        seed_base(timeline(utcnow()))
        vendor = db.session.query(User).filter_by(email="dev@haichuan.example.cn").one()
        client, secret = accounts.client_create(vendor, name="CI upload", scopes=sorted(ROLE_SCOPES[vendor.role]))
        credentials = (client.client_id, secret)
    with served(app) as port:
        yield f"http://127.0.0.1:{port}", credentials


def govapp(*args, cwd, env, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([GOVAPP, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_a_vendor_logs_in_registers_submits_and_follows_certification(platform, tmp_path):
    url, (client_id, client_secret) = platform
    env = {**os.environ, "GOVAPP_CONFIG": str(tmp_path / "govapp-config"), "GOVAPP_CLIENT_SECRET": client_secret}
    app_dir = tmp_path / "shiantong"
    shutil.copytree(ROOT / "examples" / "food-shiantong", app_dir)

    login = govapp("login", "--platform", url, "--client-id", client_id, cwd=app_dir, env=env)
    assert login.returncode == 0, login.stderr
    assert oct(os.stat(tmp_path / "govapp-config").st_mode & 0o777) == "0o600" or (tmp_path / "govapp-config").is_dir()

    orders = govapp("orders", cwd=app_dir, env=env)
    assert orders.returncode == 0 and "food-licence" in orders.stdout, orders.stderr

    registered = govapp("register", "--slug", "shiantong-e2e", "--summary", "一次提交", cwd=app_dir, env=env)
    assert registered.returncode == 0, registered.stderr
    app_id = next(word for word in registered.stdout.split() if word.isdigit())

    bundle = tmp_path / "shiantong.tar.gz"
    packaged = govapp("package", "--out", str(bundle), str(app_dir), cwd=app_dir, env=env)
    assert packaged.returncode == 0, packaged.stderr

    submitted = govapp("submit", str(bundle), "--app", app_id, "--wait", cwd=app_dir, env=env, timeout=600)
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    assert "certified" in submitted.stdout and "Report: CERTIFIED: " in submitted.stdout, submitted.stdout

    again = govapp("submit", str(bundle), "--app", app_id, cwd=app_dir, env=env)
    assert again.returncode != 0
    assert "bump the version" in (again.stdout + again.stderr)
