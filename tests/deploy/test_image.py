"""The platform image: built from the repository's Dockerfile (tests/deploy/conftest.py) and run as production
runs it: migrations, the web, the commands the deployment uses."""

from __future__ import annotations

import json
import secrets
import socket
import time
import urllib.error
import urllib.request
import uuid

import pytest
import yaml

from tests.deploy.conftest import LABEL, LABEL_VALUE, ROOT, docker_cli
from tests.services import require_redis

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def run_once(image: str, cleanup, *command: str, env: dict[str, str] | None = None, volume: str | None = None,
             network: str = "none", timeout: float = 120) -> str:
    """Run COMMAND in a fresh container of the image (as the image's user) and return its output."""
    name = f"govmarket-test-{uuid.uuid4().hex[:10]}"
    cleanup["containers"].append(name)
    args = ["run", "--rm", "--name", name, "--label", f"{LABEL}={LABEL_VALUE}", "--network", network]
    for key, value in (env or {}).items():
        args += ["--env", f"{key}={value}"]
    if volume:
        args += ["--volume", f"{volume}:/var/lib/govmarket"]
    proc = docker_cli(*args, image, *command, timeout=timeout, check=False)
    assert proc.returncode == 0, f"{' '.join(command)} exited {proc.returncode}:\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}"
    return proc.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_image_is_configured_for_production(image, cleanup):
    config = json.loads(docker_cli("image", "inspect", image).stdout)[0]["Config"]
    assert config["User"] == "govmarket"
    assert config["Cmd"][0] == "gunicorn" and config["Cmd"][-1] == "marketplace.wsgi:app"
    assert "healthz" in " ".join(config["Healthcheck"]["Test"])
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["GOVMARKET_ENV"] == "production" and env["GOVMARKET_INSTANCE_PATH"] == "/var/lib/govmarket"
    assert env["PATH"].startswith("/opt/venv/bin:")

    # Not root, and every program it is started with comes from the virtualenv.
    programs = "python pip gunicorn govmarket govapp bwrap pg_dump pg_restore"
    out = run_once(image, cleanup, "sh", "-c", f"id -un; id -u; for p in {programs}; do command -v $p; done")
    user, uid, *programs = out.split()
    assert (user, uid) == ("govmarket", "10001")
    assert programs[:5] == [f"/opt/venv/bin/{p}" for p in ("python", "pip", "gunicorn", "govmarket", "govapp")]
    assert programs[5:] == ["/usr/bin/bwrap", "/usr/bin/pg_dump", "/usr/bin/pg_restore"]  # pg_*: `govmarket backup`

    # The PDF reports (WeasyPrint on Pango, billing/reports.py) find the Chinese font the report asks for and
    # embed it: a Chinese line rendered in the image names Noto Sans CJK SC among its fonts.
    out = run_once(image, cleanup, "python", "-c", (
        "from weasyprint import HTML\n"
        "pdf = HTML(string='<html lang=zh-CN><body style=\"font-family: Noto Sans CJK SC\">政务应用市场结算报表'"
        "'</body></html>').write_pdf(uncompressed_pdf=True)\n"
        "print(pdf[:5].decode()); print(b'NotoSansCJK' in pdf)"))
    assert out.split("\n")[:2] == ["%PDF-", "True"], out


def test_every_command_the_deployment_uses_exists(image, cleanup):
    """The commands compose.yaml and docs/operations.md start the image with."""
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    commands = [service["command"] for service in compose["services"].values()
                if service.get("image") == "${GOVMARKET_IMAGE:-govmarket:latest}" and "command" in service]
    assert ["govmarket", "db", "upgrade", "heads"] in commands
    assert ["govmarket", "worker", "sandbox"] in commands
    commands += [["govmarket", "sandbox", "worker"], ["govmarket", "sandbox", "sweep"], ["govmarket", "backup", "create"],
                 ["govmarket", "backup", "restore"], ["govmarket", "ledger", "verify"]]
    # Each command's --help through the console script's own group, in one process (the app loads once).
    check = (
        "import contextlib, io, json, os\n"
        "from marketplace.cli import cli\n"
        "for command in json.loads(os.environ['COMMANDS']):\n"
        "    assert command[0] == 'govmarket', command\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        code = cli.main([*command[1:], '--help'], prog_name='govmarket', standalone_mode=False)\n"
        "    assert code == 0, (command, code)\n"
        "    print('exists:', *command)\n")
    # Production settings (the app refuses to load without them); nothing here connects to the database.
    env = {"GOVMARKET_SECRET_KEY": "x" * 32, "DATABASE_URL": "postgresql://govmarket@127.0.0.1:1/govmarket",
           "COMMANDS": json.dumps(commands), "CHECK": check}
    out = run_once(image, cleanup, "sh", "-c", 'set -e; govmarket --help; gunicorn --version; python -c "$CHECK"', env=env)
    for group in ("db", "worker", "sandbox", "departments", "backup", "ledger"):
        assert f"\n  {group} " in out, out
    assert [line for line in out.splitlines() if line.startswith("exists:")] == [
        "exists: " + " ".join(command) for command in commands], out


def test_image_migrates_and_serves(image, cleanup, fresh_database_url):
    """Migrations in a one-off container, then the image's own command (gunicorn) serving on the host network."""
    port = free_port()
    env = {"GOVMARKET_SECRET_KEY": secrets.token_hex(32), "PORT": str(port), "WEB_CONCURRENCY": "2",
           "GOVMARKET_LOG_FORMAT": "json"}
    if fresh_database_url.startswith("sqlite"):
        # The SQLite file in the image's instance path, on a volume the migration and the web share;
        # production refuses SQLite, so this is the image tried out in development mode.
        env |= {"GOVMARKET_ENV": "development", "GOVMARKET_QUEUE_MODE": "sync"}
        checks = {"database": "ok"}
    else:
        env |= {"DATABASE_URL": fresh_database_url, "REDIS_URL": require_redis()}
        checks = {"database": "ok", "redis": "ok"}
    volume = f"govmarket-test-{uuid.uuid4().hex[:10]}"
    cleanup["volumes"].append(volume)
    docker_cli("volume", "create", "--label", f"{LABEL}={LABEL_VALUE}", volume)

    # As compose.yaml's `migrate` service does before the web starts; then an account the web must show.
    run_once(image, cleanup, "sh", "-c", "govmarket db upgrade heads && govmarket departments create "
             "--code image-check --name 镜像检查局 --name-en 'Image Check'", env=env, volume=volume, network="host")

    name = f"govmarket-test-{uuid.uuid4().hex[:10]}"
    cleanup["containers"].append(name)
    args = ["run", "--detach", "--name", name, "--label", f"{LABEL}={LABEL_VALUE}", "--network", "host",
            "--volume", f"{volume}:/var/lib/govmarket", "--health-interval", "1s", "--health-start-period", "30s"]
    for key, value in env.items():
        args += ["--env", f"{key}={value}"]
    docker_cli(*args, image)  # no command: the image's CMD

    def logs() -> str:
        proc = docker_cli("logs", "--tail", "60", name, check=False)
        return proc.stdout + proc.stderr

    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    status = None
    while time.monotonic() < deadline:
        state = json.loads(docker_cli("inspect", "--format", "{{json .State}}", name).stdout)
        assert state["Running"], f"the container stopped (exit {state['ExitCode']}):\n{logs()}"
        try:
            status, _ = get(base + "/healthz")
        except OSError:
            status = None
        if status == 200 and state.get("Health", {}).get("Status") == "healthy":
            break
        time.sleep(0.5)
    assert status == 200, f"/healthz never answered 200 within 90 s:\n{logs()}"
    assert state["Health"]["Status"] == "healthy", f"the image's HEALTHCHECK did not pass: {state['Health']}\n{logs()}"

    status, body = get(base + "/readyz")
    assert status == 200, f"/readyz {status}: {body[:500]!r}\n{logs()}"
    assert json.loads(body)["checks"] == checks
    status, body = get(base + "/departments")  # the migrated tables and the department the CLI created
    assert status == 200, f"/departments {status}\n{logs()}"
    assert "镜像检查局" in body.decode()

    # The gunicorn master and its workers, all as the unprivileged user.
    top = docker_cli("top", name, "-o", "pid,uid,args").stdout.splitlines()[1:]  # docker top needs the pid
    gunicorns = [line for line in top if "gunicorn" in line]
    assert len(gunicorns) == 3, top  # the master and WEB_CONCURRENCY=2 workers
    assert {line.split()[1] for line in top} == {"10001"}, top
