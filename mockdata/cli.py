"""``python -m mockdata …`` (and ``govmarket mockdata …``): generate datasets, print scenarios, serve the department.

A plain click group, so it runs without the platform; the platform mounts the same group.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys
import threading
import time
from datetime import date
from pathlib import Path

import click
from joserfc.errors import JoseError

from mockdata.delegation import DelegationVerifier
from mockdata.generator import scenarios_for
from mockdata.output import FORMATS, write_dataset
from mockdata.records import ENTITIES
from mockdata.server import ServerLimits, start_service
from mockdata.service import DEFAULT_SIZE, SCOPES, DepartmentService
from mockdata.specs import all_specs, get_spec


def _spec(ctx: click.Context, param: click.Parameter, value: str):
    try:
        return get_spec(value)
    except KeyError as exc:
        raise click.BadParameter(exc.args[0]) from None


def _scopes(ctx: click.Context, param: click.Parameter, value: str) -> frozenset[str]:
    scopes = frozenset(s.strip() for s in value.split(",") if s.strip())
    unknown = scopes - set(SCOPES)
    if unknown:
        raise click.BadParameter(f"unknown scopes {', '.join(sorted(unknown))}; known: {', '.join(SCOPES)}")
    return scopes


def _day(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD") from None


def _check(spec, size: int) -> None:
    try:
        spec.check_size(size)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--size") from None
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None


spec_option = click.option("--spec", "spec", default="citizens-v1", show_default=True, callback=_spec,
                           help="Dataset spec name (see `specs`).")
seed_option = click.option("--seed", type=int, default=42, show_default=True, help="Seed: same seed, same bytes.")


@click.group(help="Deterministic mock data and the simulated department services.")
def cli() -> None:
    pass


@cli.command("specs", help="List the dataset specs.")
def specs_command() -> None:
    click.echo(json.dumps([spec.describe() for spec in all_specs()], ensure_ascii=False, indent=2))


@cli.command(help="Generate a dataset into DIR, streaming (JSONL per entity, or one SQLite file).")
@spec_option
@seed_option
@click.option("--size", type=int, default=DEFAULT_SIZE, show_default=True, help="Number of persons.")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Output directory.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="jsonl", show_default=True)
@click.option("--workers", type=int, default=None,
              help="Worker processes (default: the cores available, 1 for small sizes); never changes the bytes.")
@click.option("--entities", default=",".join(ENTITIES), show_default=True,
              help="Comma-separated entities to write (JSONL only); each file is the same whichever others are chosen.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def generate(spec, seed: int, size: int, out: Path, fmt: str, workers: int | None, entities: str, quiet: bool) -> None:
    chosen = tuple(e.strip() for e in entities.split(",") if e.strip())
    unknown = set(chosen) - set(ENTITIES)
    if unknown or not chosen:
        raise click.BadParameter(f"unknown entities {', '.join(sorted(unknown)) or '(none given)'}; "
                                 f"choose from {', '.join(ENTITIES)}", param_hint="--entities")
    if fmt == "sqlite" and set(chosen) != set(ENTITIES):
        raise click.BadParameter("a SQLite dataset always holds every entity; drop --entities or use --format jsonl",
                                 param_hint="--entities")
    _check(spec, size)
    if workers is None:
        workers = 1 if size <= 2 * spec.chunk_size else min(len(os.sched_getaffinity(0)), 8)
    started = time.perf_counter()
    with click.progressbar(length=size, label=f"{spec.name} seed {seed}", file=sys.stderr,
                           hidden=quiet, show_pos=True) as bar:
        path = write_dataset(spec, seed, size, out, fmt, workers=workers, progress=bar.update, entities=chosen)
    elapsed = time.perf_counter() - started
    click.echo(json.dumps({"output": str(path), "spec": spec.name, "seed": seed, "size": size, "format": fmt,
                           "entities": list(chosen),
                           "seconds": round(elapsed, 2), "persons_per_second": round(size / elapsed)}))


@cli.command(help="Print the named scenarios of a dataset as JSON.")
@spec_option
@seed_option
@click.option("--size", type=int, default=DEFAULT_SIZE, show_default=True,
              help="Number of persons (scenarios are the same for every size the spec allows).")
def scenarios(spec, seed: int, size: int) -> None:
    _check(spec, size)
    click.echo(json.dumps(scenarios_for(spec, seed), ensure_ascii=False, indent=2))


@cli.command(help="Serve the simulated department service on a unix socket or a loopback port until SIGTERM.")
@click.option("--socket", "socket_path", type=click.Path(dir_okay=False, path_type=Path), help="Unix socket to listen on.")
@click.option("--port", type=int, help="TCP port on 127.0.0.1 instead (0 picks a free one).")
@click.option("--control-socket", type=click.Path(dir_okay=False, path_type=Path),
              help="Separate unix socket for GET /calls, GET /scenarios, POST /reset.")
@click.option("--control-port", type=int, help="Separate TCP port on 127.0.0.1 for the control API.")
@click.option("--scopes", default="", callback=_scopes, help=f"Comma-separated granted scopes: {', '.join(SCOPES)}.")
@spec_option
@seed_option
@click.option("--size", type=int, default=DEFAULT_SIZE, show_default=True, help="Persons in the in-memory dataset.")
@click.option("--dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Serve this SQLite dataset file instead of generating one in memory.")
@click.option("--today", callback=_day, help="The department's date for decisions (default: the dataset's as_of).")
@click.option("--parent-pid", type=int,
              help="Stop when process PID (the one that started this service) is gone, even if it was killed.")
@click.option("--call-budget", type=int, help="Calls answered between two resets (one test case); more get 429.")
@click.option("--connections", type=int, default=ServerLimits.connections, show_default=True,
              help="Connections handled at once; more are closed at once.")
@click.option("--connection-seconds", type=float, default=ServerLimits.connection_seconds, show_default=True,
              help="A connection is cut this long after it was accepted.")
@click.option("--user", "uid", type=int,
              help="Once the dataset is built and the sockets bound, run as this (unprivileged) uid, with no groups.")
@click.option("--memory-bytes", type=int, help="Address-space limit (RLIMIT_AS) once serving.")
@click.option("--cpu-seconds", type=int, help="CPU-time limit (RLIMIT_CPU) once serving.")
@click.option("--open-files", type=int, help="Open-file limit (RLIMIT_NOFILE) once serving.")
@click.option("--delegation-jwks", help="JWKS (JSON text) of the issuer of department access tokens: every call "
              "must then carry a token of that issuer and is answered only inside it (mockdata.delegation).")
@click.option("--delegation-issuer", help="The issuer (iss) those tokens must name.")
@click.option("--delegation-app", help="The app (claim 'app') those tokens must name; another app's token is 403.")
def serve(socket_path, port, control_socket, control_port, scopes, spec, seed, size, dataset, today, parent_pid,
          call_budget, connections, connection_seconds, uid, memory_bytes, cpu_seconds, open_files, delegation_jwks,
          delegation_issuer, delegation_app) -> None:
    if (socket_path is None) == (port is None):
        raise click.UsageError("give exactly one of --socket and --port")
    if parent_pid is not None and os.getppid() != parent_pid:
        raise click.UsageError(f"process {parent_pid} is not this service's parent (it is gone already?)")
    verifier = None
    if delegation_jwks:
        try:
            verifier = DelegationVerifier(delegation_jwks, delegation_issuer or "", app=delegation_app)
        except (ValueError, JoseError) as exc:
            raise click.UsageError(f"--delegation-jwks/--delegation-issuer: {exc}") from exc
    if dataset is not None:
        service = DepartmentService.from_sqlite(dataset, scopes, today=today, call_budget=call_budget,
                                                delegation=verifier)
    else:
        _check(spec, size)
        service = DepartmentService.from_spec(spec.name, seed, size, scopes, today=today, call_budget=call_budget,
                                              delegation=verifier)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server = start_service(service, socket_path=socket_path, port=port, control_socket_path=control_socket,
                           control_port=control_port,
                           limits=ServerLimits(connections=connections, connection_seconds=connection_seconds))
    _confine(uid, memory_bytes=memory_bytes, cpu_seconds=cpu_seconds, open_files=open_files)
    click.echo(json.dumps({"ready": True, "address": server.address, "control_address": server.control_address,
                           "socket": str(socket_path) if socket_path else None,
                           "control_socket": str(control_socket) if control_socket else None,
                           "dataset": service.store.info, "scopes": sorted(scopes), "uid": os.getuid(),
                           "delegation": verifier is not None},
                          ensure_ascii=False))
    sys.stdout.flush()
    try:
        # A parent killed with SIGKILL sends nothing: once it is gone we are re-parented, and getppid() says so.
        while not stop.wait(0.2):
            if parent_pid is not None and os.getppid() != parent_pid:
                break
    finally:
        server.stop()


def _confine(uid: int | None, *, memory_bytes: int | None, cpu_seconds: int | None, open_files: int | None) -> None:
    """Set the limits, then drop to ``uid`` for good: no groups, no capabilities, no way to gain privileges.

    Done once everything the service needs from the disk is loaded (the dataset, every module a request uses,
    both sockets bound), so the uid needs no access to the interpreter's files — they may sit where only root
    reads (a home folder)."""
    for limit, value in ((resource.RLIMIT_AS, memory_bytes), (resource.RLIMIT_CPU, cpu_seconds),
                         (resource.RLIMIT_NOFILE, open_files)):
        if value is not None:
            resource.setrlimit(limit, (value, value))
    if uid is None:
        return
    import email.utils  # noqa: F401  (what answering a request imports late, loaded while the files are readable)
    import encodings.idna  # noqa: F401

    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # every thread (the C library applies it process-wide); capabilities go with root
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise click.ClickException("could not set no_new_privs")
    if os.getuid() != uid or os.geteuid() != uid or os.getgroups():
        raise click.ClickException(f"could not drop to uid {uid}")
