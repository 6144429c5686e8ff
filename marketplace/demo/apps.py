"""The six sample apps entered by their vendors, uploaded, certified in the sandbox and — for the four that pass —
approved by the department and published. Certification runs here, synchronously, on the configured backend."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from core.extensions import db
from core.queue import InlineJobQueue
from core.storage import FileBlobStore
from marketplace.accounts.models import User
from marketplace.demo import bundles
from marketplace.demo.base import STAFF, one, vendor_email
from marketplace.demo.data import SAMPLE_APPS, SampleApp
from marketplace.orders.models import Order
from marketplace.transactions.services import published_version
from marketplace.vendors import services as vendors
from marketplace.vendors.models import App, AppVersion
from sandbox.services import certification_fail_orphans, certification_request

DEMO_VERSION = "1.0.0"


@contextmanager
def jobs_in_this_thread():
    """Run the jobs enqueued meanwhile (the certification of each upload) in the caller, before returning."""
    app = current_app._get_current_object()
    previous = app.extensions["job_queue"]
    app.extensions["job_queue"] = InlineJobQueue(app, synchronous=True)
    try:
        yield
    finally:
        app.extensions["job_queue"] = previous


def package_all(echo, samples: list[SampleApp] = SAMPLE_APPS, cache: Path | None = None) -> dict[str, Path]:
    """Each sample app's bundle, packaging the ones not cached yet (three at a time: pip waits on the network).
    The cache is the instance's ``demo-bundles`` folder unless given."""
    cache = cache or Path(current_app.config["INSTANCE_PATH"]) / "demo-bundles"
    missing = [a.folder for a in samples if not bundles.cached_bundle(cache, a.folder).is_file()]
    if missing:
        echo(f"  packaging {len(missing)} sample apps with `govapp package` (the first start downloads their "
             "wheels from PyPI; later starts reuse the bundles) …")
    with ThreadPoolExecutor(max_workers=3) as pool:
        built = dict(zip([a.folder for a in samples],
                         pool.map(lambda a: bundles.package(cache, a.folder), samples), strict=True))
    for folder, (path, fresh) in built.items():
        if fresh:
            echo(f"  packaged {folder} → {path.name} ({path.stat().st_size // 1024} KiB)")
    return {folder: path for folder, (path, _fresh) in built.items()}


def _user(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


def _latest_run(row: AppVersion):
    return vendors.latest_certification(row)


def _report(sample: SampleApp, row: AppVersion, started: float, echo) -> None:
    db.session.expire_all()
    run = _latest_run(row)
    summary = (run.report or {}).get("summary", {})
    echo(f" {summary.get('passed', '?')}/{summary.get('total', '?')} passed, p95 "
         f"{summary.get('latency_p95_ms', '?')} ms → {run.state} ({time.perf_counter() - started:.1f} s)"
         + (f": {run.error}" if run.error else ""))


def _certify(sample: SampleApp, row: AppVersion | None, upload: Callable[[], AppVersion], echo) -> AppVersion:
    """Upload the version if needed (its certification runs during the upload) and make sure it has a finished
    run, re-running one that ended in an infrastructure error or was cut off by a stopped seeder."""
    started = time.perf_counter()
    backend = current_app.config["SANDBOX_BACKEND"]
    if row is None:
        echo(f"  certifying {sample.name} ({sample.folder}, {backend}) …", nl=False)
        with warnings.catch_warnings():  # a library's deprecation notice would break the progress line
            warnings.simplefilter("ignore", DeprecationWarning)
            row = upload()
        _report(sample, row, started, echo)
        return row
    run = _latest_run(row)
    if run is not None and run.state in {"certified", "failed"}:
        return row
    certification_fail_orphans(None)  # a run left 'testing' by a seeder that was stopped becomes 'error'
    echo(f"  certifying {sample.name} ({sample.folder}, {backend}) again …", nl=False)
    order = row.app.order
    certification_request(None, row.id, row.bundle_sha256, order.current_suite.document, order.contract,
                          list(order.dept_scopes), vendor_id=row.app.vendor_id, department_id=order.department_id)
    _report(sample, row, started, echo)
    return row


def seed_apps(echo, *, only: set[str] | None = None, bundle_cache: Path | None = None) -> dict[str, App]:
    """Enter, upload, certify, approve and publish the sample apps (those whose folder is in ``only``, or all);
    returns them by folder. Idempotent. Needs the base (``seed_base``) in the database."""
    samples = [s for s in SAMPLE_APPS if only is None or s.folder in only]
    paths = package_all(echo, samples, bundle_cache)
    store = FileBlobStore(current_app.config["BUNDLE_STORE"])
    made: dict[str, App] = {}
    with jobs_in_this_thread():
        for sample in samples:
            developer = _user(vendor_email(sample.vendor))
            order = one(Order, slug=sample.order)
            app = one(App, slug=sample.folder) or vendors.app_create(
                developer, order_id=order.id, name=sample.name, slug=sample.folder, summary=sample.summary)
            made[sample.folder] = app
            row = db.session.scalar(sa.select(AppVersion).where(AppVersion.app_id == app.id,
                                                                AppVersion.version == DEMO_VERSION))

            def upload(developer=developer, app=app, sample=sample):
                with paths[sample.folder].open("rb") as stream:
                    return vendors.version_upload(developer, app.id, version=DEMO_VERSION, stream=stream, store=store,
                                                  max_bytes=current_app.config["MAX_BUNDLE_BYTES"])

            row = _certify(sample, row, upload, echo)
            status = vendors.version_status(row)
            if status == "certified":
                department = one(Order, slug=sample.order).department.code
                vendors.version_approve(_user(STAFF[department]), row.id)
                status = "approved"
            if status == "approved":
                vendors.version_publish(developer, row.id)
                echo(f"  {sample.name}: approved by the department and published")
    return made


def published(apps: dict[str, App]) -> dict[str, App]:
    """The sample apps live on the market."""
    return {folder: app for folder, app in apps.items() if published_version(app.id) is not None}
