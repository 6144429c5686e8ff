"""The `govapp` command line: init, test, package, login, submit, status (and orders, register).

docs/vendors.md walks through them from an empty folder to a submitted app.
"""

from __future__ import annotations

import io
import json
import sys
import tarfile
import time
import tomllib
from pathlib import Path
from typing import Any

try:
    import click
    import yaml
except ImportError:  # the app runtime installs govapp-sdk without the [cli] extra
    sys.stderr.write("govapp: the command line needs the SDK's tools: pip install 'govapp-sdk[cli]'\n")
    raise SystemExit(2) from None

from govsuite import CaseResult, SuiteError, load_suite

from govapp.bundle import BundleError, build_bundle, load_manifest
from govapp.client import PlatformClient, PlatformError
from govapp.credentials import Credentials, credentials_path, load_credentials, save_credentials
from govapp.scaffold import ScaffoldError, create_app_folder


def fail(message: str, code: int = 1) -> None:
    """Print `message` in red on stderr and end the command with exit status `code`."""
    click.secho(f"govapp: {message}", fg="red", err=True)
    raise SystemExit(code)


def platform_client(platform: str | None = None) -> PlatformClient:
    """A `PlatformClient` with the token `govapp login` saved (or GOVAPP_PLATFORM and GOVAPP_TOKEN), for `platform`
    if given; ends the command with a message when not logged in or the token has expired."""
    creds = load_credentials()
    if creds is None:
        fail("not logged in: run `govapp login --platform URL --client-id ID` first (or set GOVAPP_PLATFORM and GOVAPP_TOKEN)")
    if creds.expired:
        fail(f"the token from {creds.platform} has expired: run `govapp login` again")
    return PlatformClient(platform or creds.platform, creds.token)


def read_document(path: Path) -> Any:
    """The YAML or JSON document at `path`; ends the command with a message when it cannot be read or parsed."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")
    except yaml.YAMLError as exc:
        fail(f"{path} is not valid YAML or JSON: {exc}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="govapp-sdk")
def main() -> None:
    """Build, test, package and submit apps for the Open Government App Market."""


# ---------------------------------------------------------------------------------------------- init


@main.command()
@click.argument("folder", type=click.Path(path_type=Path), default=".")
@click.option("--order", required=True, help="The order's id or slug, e.g. food-licence.")
@click.option("--name", help="The app's name (default: the folder's name).")
@click.option("--suite", "suite_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A local suite file instead of fetching the order's suite from the platform.")
@click.option("--contract", "contract_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A local OpenAPI contract instead of fetching the order from the platform.")
def init(folder: Path, order: str, name: str | None, suite_file: Path | None, contract_file: Path | None) -> None:
    """Create a new app for ORDER in FOLDER (empty or new)."""
    name = name or folder.resolve().name
    if contract_file:
        contract = read_document(contract_file)
        scopes = list((contract.get("x-govapp") or {}).get("dept_scopes") or [])
        suite = load_suite(suite_file) if suite_file else None
    else:
        with platform_client() as client:
            try:
                details = client.get_order(order)
                suite = load_suite(client.get_suite(order)) if not suite_file else load_suite(suite_file)
            except PlatformError as exc:
                fail(f"cannot fetch order {order}: {exc}")
        contract = details.get("contract") or {}
        scopes = list(details.get("dept_scopes") or (contract.get("x-govapp") or {}).get("dept_scopes") or [])
    try:
        written = create_app_folder(folder, name=name, order=order, contract=contract, suite=suite, scopes=scopes)
    except ScaffoldError as exc:
        fail(str(exc))
    click.echo(f"Created {name} for order {order} in {folder}:")
    for path in written:
        click.echo(f"  {path.relative_to(folder)}")
    click.echo("Next: pip install -r requirements.txt, write app.py, then `govapp test`.")


# ---------------------------------------------------------------------------------------------- test


def _print_result(result: CaseResult, verbose: bool) -> None:
    if result.passed:
        if verbose:
            click.echo(click.style("✓ ", fg="green") + f"{result.case_id} [{result.category}] {result.latency_ms:.0f} ms")
        return
    click.secho(result.diff(), fg="red")


@main.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path), default=".")
@click.option("--suite", "suite_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Suite file (default: suite.yaml in the app folder, else fetched from the platform).")
@click.option("--contract", "contract_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="OpenAPI contract (default: contract.openapi.yaml in the app folder).")
@click.option("--from-platform", is_flag=True, help="Fetch the order's current suite and contract from the platform.")
@click.option("--case", "case_ids", multiple=True, help="Run only these case ids (repeatable).")
@click.option("--public-only", is_flag=True,
              help="Skip hidden cases: those a local suite file may hold, and the generated delegation case.")
@click.option("--no-generated", is_flag=True, help="Skip the cases generated from the contract.")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
@click.option("-v", "--verbose", is_flag=True, help="List passing cases too.")
def test(folder: Path, suite_file: Path | None, contract_file: Path | None, from_platform: bool,
         case_ids: tuple[str, ...], public_only: bool, no_generated: bool, as_json: bool, verbose: bool) -> None:
    """Run the order's cases against the app in FOLDER, as the platform's sandbox does."""
    from govapp.runner import RunnerError, run_suite_locally

    try:
        manifest = load_manifest(folder)
    except BundleError as exc:
        fail(str(exc))
    contract = None
    scopes = list(manifest.scopes)
    if from_platform or (suite_file is None and not (folder / "suite.yaml").exists()):
        with platform_client() as client:
            try:
                details = client.get_order(manifest.order)
                suite = load_suite(client.get_suite(manifest.order))
            except (PlatformError, SuiteError) as exc:
                fail(f"cannot fetch the suite of order {manifest.order}: {exc}")
        contract = details.get("contract")
        scopes = list(details.get("dept_scopes") or scopes)
    else:
        try:
            suite = load_suite(suite_file or folder / "suite.yaml")
        except SuiteError as exc:
            fail(str(exc))
    contract_path = contract_file or (folder / "contract.openapi.yaml")
    if contract is None and contract_path.exists():
        contract = read_document(contract_path)
    if contract is not None and not from_platform:
        scopes = list((contract.get("x-govapp") or {}).get("dept_scopes") or scopes)

    def choose(resolved):
        cases = resolved.all_cases(None if no_generated else contract, department_scopes=scopes)
        if public_only:
            cases = [c for c in cases if c.visibility == "public"]
        if case_ids:
            unknown = set(case_ids) - {c.id for c in cases}
            if unknown:
                fail(f"no case {', '.join(sorted(unknown))} in suite {resolved.name}")
            cases = [c for c in cases if c.id in case_ids]
        return cases

    if not as_json:
        click.echo(f"Testing {manifest.name} {manifest.version} against suite {suite.name} v{suite.version} "
                   f"(dataset {suite.dataset['spec']} seed {suite.dataset['seed']}, scopes {', '.join(scopes) or 'none'})")
    try:
        local = run_suite_locally(folder.resolve(), manifest.entrypoint, suite, scopes=scopes, contract=contract,
                                  cases=choose, app_name=manifest.name, order=manifest.order, fields=manifest.fields,
                                  required_fields=manifest.required_fields,
                                  on_result=None if as_json else (lambda r: _print_result(r, verbose)))
    except RunnerError as exc:
        fail(str(exc))
    except SuiteError as exc:
        fail(str(exc))
    run = local.run
    if as_json:
        click.echo(json.dumps(run.to_dict(public_diffs_only=False), ensure_ascii=False, indent=2))
    else:
        for category, (ok, total) in run.by_category().items():
            click.echo(f"  {category:<16} {ok}/{total}")
        if suite.hidden_counts:
            hidden = ", ".join(f"{k} {v}" for k, v in suite.hidden_counts.items())
            click.echo(f"  (the platform also runs hidden cases: {hidden})")
        click.secho(run.summary(), fg="green" if run.passed and run.passed_count == run.total else "red")
    if not run.passed or run.passed_count != run.total:
        raise SystemExit(1)


# ---------------------------------------------------------------------------------------------- package


@main.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path), default=".")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Bundle path (default dist/NAME-VERSION.tar.gz).")
@click.option("--arch", default="x86_64", show_default=True, help="CPU architecture of the platform's sandbox.")
@click.option("--pip-arg", "pip_args", multiple=True, help="Extra argument for `pip download` (e.g. --index-url=...).")
def package(folder: Path, out: Path | None, arch: str, pip_args: tuple[str, ...]) -> None:
    """Build the bundle: govapp.toml, the source and wheels for every dependency."""
    click.echo(f"Packaging {folder.resolve()} (collecting wheels for the sandbox, {arch}) …")
    try:
        path, digest, wheels = build_bundle(folder, out, arch=arch, pip_args=list(pip_args))
    except BundleError as exc:
        fail(str(exc))
    click.echo(f"  wheels: {', '.join(wheels)}")
    click.echo(f"Bundle {path} ({path.stat().st_size / 1024:.0f} KiB)\n  sha256 {digest}")


# ---------------------------------------------------------------------------------------------- platform


@main.command()
@click.option("--platform", "platform_url", required=True, envvar="GOVAPP_PLATFORM", help="The platform's base URL.")
@click.option("--client-id", required=True, envvar="GOVAPP_CLIENT_ID")
@click.option("--client-secret", prompt=True, hide_input=True, envvar="GOVAPP_CLIENT_SECRET")
@click.option("--scope", default=None, help="Space-separated scopes to ask for (default: all the client may have).")
def login(platform_url: str, client_id: str, client_secret: str, scope: str | None) -> None:
    """Get a token with your API client's credentials and keep it for the other commands."""
    try:
        token = PlatformClient.fetch_token(platform_url, client_id, client_secret, scope)
    except PlatformError as exc:
        fail(f"login refused: {exc}")
    path = save_credentials(Credentials(platform_url.rstrip("/"), token["access_token"], token.get("expires_at"), client_id))
    scopes = token.get("scope") or "(default scopes)"
    click.echo(f"Logged in to {platform_url} as client {client_id}; scopes {scopes}; token kept in {path}")


@main.command()
@click.option("--q", default=None, help="Search text.")
@click.option("--status", default="open", show_default=True)
def orders(q: str | None, status: str) -> None:
    """List the platform's orders you can build apps for."""
    with platform_client() as client:
        try:
            for order in client.iter_orders(status=status, q=q):
                click.echo(f"{order.get('id')!s:>5}  {order.get('slug', ''):<24} {order.get('title', '')}")
        except PlatformError as exc:
            fail(str(exc))


@main.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path), default=".")
@click.option("--name", "display_name", help="Display name in the market (default: the manifest's name).")
@click.option("--slug", help="Subdomain-safe identifier (default: the manifest's name).")
@click.option("--summary", default="", help="One line for citizens.")
def register(folder: Path, display_name: str | None, slug: str | None, summary: str) -> None:
    """Register the app in FOLDER for its order on the platform (once); prints the app id."""
    try:
        manifest = load_manifest(folder)
    except BundleError as exc:
        fail(str(exc))
    with platform_client() as client:
        try:
            order = client.get_order(manifest.order)
            app = client.create_app(order_id=order["id"], name=display_name or manifest.name,
                                    slug=slug or manifest.name.lower(), summary=summary)
        except PlatformError as exc:
            fail(f"cannot register the app: {exc}")
    click.echo(f"Registered app {app.get('id')} ({app.get('slug')}) for order {manifest.order}.")
    click.echo(f"Submit a version with: govapp submit dist/{manifest.name}-{manifest.version}.tar.gz --app {app.get('id')}")


def _bundle_version(bundle: Path) -> str:
    with tarfile.open(bundle, "r:gz") as tar:
        member = tar.extractfile("govapp.toml")
        if member is None:
            fail(f"{bundle} has no govapp.toml; build it with `govapp package`")
        return str(tomllib.load(io.BytesIO(member.read()))["version"])


@main.command()
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--app", "app_id", required=True, envvar="GOVAPP_APP_ID", help="The app's id (from `govapp register`).")
@click.option("--version", "version", help="Version label (default: the bundle's govapp.toml).")
@click.option("--wait/--no-wait", default=False, help="Follow the certification until it ends.")
def submit(bundle: Path, app_id: str, version: str | None, wait: bool) -> None:
    """Upload BUNDLE as a new version of the app; certification starts on the platform."""
    version = version or _bundle_version(bundle)
    size = bundle.stat().st_size
    with platform_client() as client, click.progressbar(length=size, label=f"Uploading {bundle.name}",
                                                        file=sys.stderr) as bar:
        state = {"sent": 0}

        def progress(sent: int, total: int) -> None:
            bar.update(sent - state["sent"])
            state["sent"] = sent

        try:
            created = client.upload_version(app_id, version, bundle, progress=progress)
        except PlatformError as exc:
            fail(f"upload refused: {exc}")
    click.echo(f"Version {version} uploaded as {created.get('id')}: {created.get('status', 'uploaded')}")
    click.echo(f"Follow it with: govapp status {created.get('id')}")
    if wait:
        _follow(str(created.get("id")))


def _progress_text(progress: Any) -> str:
    if isinstance(progress, dict):
        done = progress.get("done", progress.get("cases_done"))
        total = progress.get("total", progress.get("cases_total"))
        if done is not None and total:
            width = 30
            filled = int(width * int(done) / int(total))
            return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
        return ", ".join(f"{k} {v}" for k, v in progress.items())
    if isinstance(progress, int | float):
        return f"{progress:.0f}%"
    return str(progress or "")


def _follow(version_id: str, poll: float = 2.0) -> dict:
    with platform_client() as client:
        started = time.monotonic()

        def show(version: dict) -> None:
            elapsed = time.monotonic() - started
            line = f"[{elapsed:5.0f}s] {version.get('status', '?'):<10} {_progress_text(version.get('progress'))}"
            click.echo(line)

        try:
            final = client.wait_for_version(version_id, poll_s=poll, on_update=show)
        except PlatformError as exc:
            fail(str(exc))
        try:
            report = client.get_report(version_id)
        except PlatformError:
            report = None
    if report:
        for line in report_lines(report):
            click.echo(line)
        for case in (report.get("report") or {}).get("cases", []):
            if not case.get("passed") and case.get("diff"):
                click.secho(case["diff"], fg="red")
    return final


def report_lines(document: dict) -> list[str]:
    """The certification report the platform's API returns ({state, error, report: {certified, summary, verdicts,
    hidden, suite, bundle_sha256, image_hash, cases}}) as lines a person reads."""
    report = document.get("report") or {}
    if not report:
        line = f"Report: none yet (run {document.get('state', 'unknown')})"
        return [line + (f": {document['error']}" if document.get("error") else "")]
    summary = report.get("summary") or {}
    passed, total = summary.get("passed", 0), summary.get("total", 0)
    ratio = float(summary.get("ratio") or 0)
    lines = [f"Report: {'CERTIFIED' if report.get('certified') else 'NOT CERTIFIED'}: {passed}/{total} cases passed "
             f"({ratio:.1%}), latency p95 {summary.get('latency_p95_ms', '?')} ms, "
             f"{summary.get('violations', 0)} scope violation(s)"]
    lines += [f"  - {reason}" for reason in summary.get("reasons") or []]
    lines += [f"  ! {name}: {detail}" for name, detail in (report.get("verdicts") or {}).items()]
    for category, counts in sorted((summary.get("by_category") or {}).items()):
        if isinstance(counts, list | tuple) and len(counts) == 2:
            lines.append(f"  {category}: {counts[0]}/{counts[1]}")
    for category, counts in (report.get("hidden") or {}).items():
        lines.append(f"  hidden {category}: {counts.get('passed', 0)}/{counts.get('total', 0)}")
    suite = report.get("suite") or {}
    if suite.get("sha256"):
        lines.append(f"  suite {suite.get('name', '')} v{suite.get('version', '?')} sha256 {suite['sha256']}")
    if report.get("bundle_sha256"):
        lines.append(f"  bundle sha256 {report['bundle_sha256']}")
    return lines


@main.command()
@click.argument("version_id")
@click.option("--once", is_flag=True, help="Print the current state and exit instead of following it.")
@click.option("--poll", default=2.0, show_default=True, help="Seconds between polls.")
def status(version_id: str, once: bool, poll: float) -> None:
    """Follow a version's certification live until it ends (exit 1 unless certified or later)."""
    if once:
        with platform_client() as client:
            try:
                version = client.get_version(version_id)
            except PlatformError as exc:
                fail(str(exc))
        click.echo(f"{version.get('status', '?')} {_progress_text(version.get('progress'))}")
        return
    final = _follow(version_id, poll)
    if final.get("status") not in ("certified", "approved", "published"):
        raise SystemExit(1)


@main.command("dev-token")
@click.option("--dir", "key_dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".govapp-dev"),
              show_default=True, help="Where the local signing key and its JWKS are kept (made on first use).")
@click.option("--sub", default="dev-citizen", show_default=True, help="The citizen's pseudonymous id for this app.")
@click.option("--claim", "claims", multiple=True, metavar="NAME=VALUE",
              help="A consented claim, e.g. --claim name=张三 --claim resident_id=110105199003074578 (repeatable).")
@click.option("--lifetime", default=3600, show_default=True, help="Seconds the token stays valid.")
def dev_token(key_dir: Path, sub: str, claims: tuple[str, ...], lifetime: int) -> None:
    """Print an identity token for trying the app locally, signed like the gateway's by a local key.

    Run the app with GOVAPP_JWKS and GOVAPP_ISSUER as printed (on stderr), then send the token as
    `Authorization: Bearer <token>`. The key stays in --dir, so tokens made later verify with the same JWKS."""
    from joserfc.jwk import ECKey

    from govapp.runner import LOCAL_ISSUER, TokenSigner

    values = {}
    for claim in claims:
        name, sep, value = claim.partition("=")
        if not sep or not name:
            fail(f"--claim {claim!r}: write it as NAME=VALUE, e.g. --claim name=张三")
        values[name.strip()] = value
    key_dir.mkdir(parents=True, exist_ok=True)
    key_file, jwks_file = key_dir / "dev-key.json", key_dir / "jwks.json"
    if key_file.exists():
        key = ECKey.import_key(json.loads(key_file.read_text("utf-8")))
    else:
        key = ECKey.generate_key("P-256", parameters={"kid": "govapp-test", "use": "sig", "alg": "ES256"})
        key_file.write_text(json.dumps(key.as_dict(private=True)), encoding="utf-8")
        key_file.chmod(0o600)
    signer = TokenSigner(LOCAL_ISSUER, lifetime_s=lifetime, key=key)
    jwks_file.write_text(json.dumps(signer.jwks()), encoding="utf-8")
    click.echo(signer.sign({"sub": sub, **values}))
    click.echo(f"export GOVAPP_JWKS={jwks_file.resolve()}\nexport GOVAPP_ISSUER={LOCAL_ISSUER}\n"
               "curl -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:8000/", err=True)


@main.command()
def whoami() -> None:
    """Show which platform and token the commands use."""
    creds = load_credentials()
    if creds is None:
        fail(f"not logged in (no {credentials_path()})")
    expires = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(creds.expires_at)) if creds.expires_at else "unknown"
    click.echo(f"{creds.platform} as {creds.client_id or 'token from the environment'}; token expires {expires}")


if __name__ == "__main__":
    main()
