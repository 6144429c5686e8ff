"""Private PostgreSQL and Redis instances the fault tests may stop and restart, and a small published market.

The shared services on 5432/6379 serve other engineers and CI jobs: fault tests never touch them. Each private
instance lives in a temporary directory on a free loopback port and is stopped at the end."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.services import missing, port_open

PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if port_open("127.0.0.1", port):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {seconds}s")


class PrivateRedis:
    """``redis-server`` with an append-only file, as production runs it, so a restart keeps the queue."""

    def __init__(self, binary: str, directory: Path):
        self.binary, self.dir, self.port = binary, directory, free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
             "--appendfsync", "always", "--dir", str(self.dir), "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
        self.proc = None


class PrivatePostgres:
    """A throwaway cluster made by ``initdb`` and run by ``pg_ctl`` as the postgres user (initdb refuses root)."""

    def __init__(self, bindir: str, directory: Path):
        self.bindir, self.dir, self.port = bindir, directory, free_port()
        self.data = directory / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str) -> None:
        cmd = [os.path.join(self.bindir, args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120)

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._as_postgres("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                          "--no-sync")
        with open(self.data / "postgresql.conf", "a") as fh:
            fh.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.dir}'\n"
                     "fsync = off\nmax_connections = 60\n")

    def start(self) -> None:
        self._as_postgres("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "-t", "60", "start")

    def restart(self) -> None:
        self._as_postgres("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "-t", "60",
                          "-m", "fast", "restart")

    def stop(self) -> None:
        self._as_postgres("pg_ctl", "-D", str(self.data), "-w", "-t", "60", "-m", "immediate", "stop")


@pytest.fixture
def private_redis():
    binary = shutil.which("redis-server")
    if not binary:
        missing("redis-server", "not on PATH (apt-get install redis-server)")
    directory = Path(tempfile.mkdtemp(prefix="govmarket-faults-redis-"))
    server = PrivateRedis(binary, directory)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def private_postgres():
    bindirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bindirs or not os.path.exists(os.path.join(bindirs[-1], "initdb")):
        missing("PostgreSQL server binaries", "no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql)")
    directory = Path(tempfile.mkdtemp(prefix="govmarket-faults-pg-"))
    os.chmod(directory, 0o755)
    server = PrivatePostgres(bindirs[-1], directory)
    server.init()
    server.start()
    yield server
    try:
        server.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@dataclass
class Market:
    app_id: int
    app_slug: str
    order_id: int
    vendor_id: int
    citizens: list = field(default_factory=list)  # (user id, email)


def build_market(citizens: int) -> Market:
    """One department with an open order, one published app, and ``citizens`` citizens who log in by password.
    Call inside an app context on a migrated database."""
    from core.auth import SYSTEM
    from core.extensions import db
    from core.ids import resident_id_check_char, uscc_check_char
    from marketplace.accounts import services as accounts
    from marketplace.accounts.models import User
    from marketplace.catalogue import services as catalogue
    from marketplace.orders import services as orders
    from marketplace.vendors import services as vendors
    from tests.marketplace.citizen_world import publish
    from tests.marketplace.conftest import contract_doc, suite_doc

    dept = catalogue.department_create(SYSTEM, code="dept-load", name="负载局", name_en="Load Bureau")
    item = catalogue.service_item_create(SYSTEM, department_id=dept.id, code="item-load", name="负载事项",
                                         time_limit_days=10)
    first17 = "91310000MA1FL0009"
    vendor = vendors.vendor_create(SYSTEM, name="Vendor Load", credit_code=first17 + uscc_check_char(first17))
    member = accounts.user_create(SYSTEM, email="vendor@load.example.cn", display_name="vendor", password=PASSWORD,
                                  role="vendor_member", vendor_id=vendor.id)
    order = orders.order_create(SYSTEM, service_item_id=item.id, slug="order-load", title="Order load",
                                contract=contract_doc(), fee_per_transaction_fen=200, quarterly_budget_fen=10_000_000,
                                dept_scopes=["person.read"], citizen_scopes=["name"])
    orders.suite_add(SYSTEM, order.id, suite_doc("order-load"))
    orders.order_publish(SYSTEM, order.id)
    app = vendors.app_create(db.session.get(User, member.id), order_id=order.id, name="Load App", slug="load-app")
    publish(app)
    market = Market(app_id=app.id, app_slug=app.slug, order_id=order.id, vendor_id=vendor.id)
    for i in range(citizens):
        rid17 = f"110105199003{200 + i:03d}45"
        user = accounts.user_create(SYSTEM, email=f"citizen{i}@load.example.cn", display_name=f"citizen {i}",
                                    role="citizen", password=PASSWORD, resident_id=rid17 + resident_id_check_char(rid17))
        market.citizens.append((user.id, user.email))
    return market
