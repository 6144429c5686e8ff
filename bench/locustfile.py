"""Locust scenario of the citizen path (bench/load_test.py starts the platform and runs it; see bench/README.md).

    .venv/bin/locust -f bench/locustfile.py --host http://127.0.0.1:PORT     # against a platform you started

Users (weights): **Browser** (anonymous: catalogue home, search in Chinese, pinyin and English, an item's apps
side by side, an app's page with its ratings), **Citizen** (logs in as a mock persona, browses and compares,
launches the sample app through the gateway — consent was given at setup — uses it on its own origin, and
checks their cases and to-do list), and in the background **Staff** (a department's feedback page) — all
through gunicorn, PostgreSQL, Redis and the sandboxed app.

Settings from the environment (bench/load_test.py sets them): ``LOAD_APP_SLUG`` (the served app),
``LOAD_APPS_DOMAIN`` (its host suffix, with the port), ``LOAD_ITEMS`` (item codes, comma-separated),
``LOAD_PERSONAS`` (resident ids that consented), ``LOAD_STAFF`` (``email:password`` of department staff).
Request names group what is compared: ``platform:`` pages and ``gateway:`` requests to the app's origin.
"""

from __future__ import annotations

import os
import random
import re

from locust import HttpUser, between, task

SLUG = os.environ.get("LOAD_APP_SLUG", "ssc-kabao")
APPS_DOMAIN = os.environ.get("LOAD_APPS_DOMAIN", "apps.localhost:5000")
ITEMS = [c for c in os.environ.get("LOAD_ITEMS", "").split(",") if c]
PERSONAS = [p for p in os.environ.get("LOAD_PERSONAS", "").split(",") if p]
STAFF = os.environ.get("LOAD_STAFF", "")
QUERIES = ["社会保障卡", "shebao", "食品经营许可", "spjy", "licence", "social security card", "营业执照", "kaiban"]
CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    if not found:
        raise RuntimeError("no CSRF token on the page")
    return found.group(1)


class Browser(HttpUser):
    """An anonymous visitor comparing services and apps."""

    weight = 3
    wait_time = between(1, 3)

    @task(3)
    def search(self):
        self.client.get("/services/search", params={"q": random.choice(QUERIES)}, name="platform: search")

    @task(4)
    def compare(self):
        if ITEMS:
            self.client.get(f"/services/items/{random.choice(ITEMS)}", name="platform: item page")

    @task(1)
    def home(self):
        self.client.get("/services", name="platform: catalogue home")

    @task(1)
    def app_page(self):
        self.client.get(f"/services/apps/{SLUG}", name="platform: app page")


class Citizen(HttpUser):
    """A logged-in citizen: compares, launches the app through the gateway, uses it, checks their cases."""

    weight = 6
    wait_time = between(1, 3)

    def on_start(self):
        page = self.client.get("/identity/personas", name="platform: persona login page")
        resident_id = random.choice(PERSONAS)
        self.client.post("/identity/personas", data={"resident_id": resident_id, "csrf_token": csrf_of(page.text)},
                         name="platform: persona login", allow_redirects=False)
        self.in_app = False

    def launch(self):
        page = self.client.get(f"/apps/{SLUG}/launch", name="platform: launch page")
        if page.status_code != 200:  # counted as a failure by Locust already
            return
        with self.client.post(f"/apps/{SLUG}/launch", data={"csrf_token": csrf_of(page.text)},
                              name="platform: launch", allow_redirects=False, catch_response=True) as answer:
            location = answer.headers.get("Location", "")
            if answer.status_code != 303 or "/_gateway/launch" not in location:
                answer.failure(f"launch answered {answer.status_code} to {location!r}")
                return
        path = location[location.index("/_gateway/launch"):]
        with self.client.get(path, headers={"Host": f"{SLUG}.{APPS_DOMAIN}"}, name="gateway: redeem launch code",
                             allow_redirects=False, catch_response=True) as redeemed:
            if redeemed.status_code != 303:
                redeemed.failure(f"redeem answered {redeemed.status_code}")
                return
        self.in_app = True

    @task(5)
    def use_app(self):
        if not self.in_app:
            self.launch()
            return
        with self.client.get("/", headers={"Host": f"{SLUG}.{APPS_DOMAIN}"}, name="gateway: app page",
                             catch_response=True) as answer:
            if answer.status_code == 401:  # the session ended: launch again
                self.in_app = False
                answer.success()

    @task(2)
    def compare(self):
        if ITEMS:
            self.client.get(f"/services/items/{random.choice(ITEMS)}", name="platform: item page")

    @task(1)
    def search(self):
        self.client.get("/services/search", params={"q": random.choice(QUERIES)}, name="platform: search")

    @task(1)
    def my_cases(self):
        self.client.get("/my/cases", name="platform: my cases")

    @task(1)
    def todo(self):
        self.client.get("/my/todo", name="platform: my to-do")


class Staff(HttpUser):
    """Department staff in the background: the ratings and complaints to answer."""

    weight = 1
    wait_time = between(2, 5)

    def on_start(self):
        email, _, password = STAFF.partition(":")
        page = self.client.get("/login", name="platform: staff login page")
        self.client.post("/login", data={"email": email, "password": password, "csrf_token": csrf_of(page.text)},
                         name="platform: staff login", allow_redirects=False)

    @task
    def feedback(self):
        self.client.get("/feedback", name="platform: feedback (staff)")
