"""The capacity model of docs/capacity.md: from the benchmark figures (bench/README.md, docs/gateway.md,
docs/operations.md) and a few stated assumptions about citizens, to processes, cores and hosts per deployment size.

    .venv/bin/python bench/capacity.py            # print the tables
    .venv/bin/python bench/capacity.py --write    # rewrite them in docs/capacity.md (tests/deploy checks they agree)

When a benchmark improves, change its figure in MEASURED (with where it comes from) and run --write: every table
follows. Nothing here is measured at province scale; the model extrapolates per-core throughput linearly, which
holds for the stateless tiers (web, workers, serving hosts) and is stated as an assumption for PostgreSQL.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "capacity.md"


@dataclass(frozen=True)
class Figure:
    value: float
    unit: str
    source: str


# What the benchmarks measured on the 2-core development VM (shared, so pessimistic). Per core = figure / cores used.
MEASURED = {
    "gateway_proxied_rps_2core": Figure(432, "req/s", "bench/README.md, kept connections to the apps: PostgreSQL, "
                                        "gunicorn gthread 4×4 (the Dockerfile's), 32 concurrent, proxied p50 58 ms at "
                                        "load average 9; web, app, Redis, database and clients on the same 2 cores"),
    "catalogue_page_ms": Figure(23, "ms", "bench/README.md, catalogue pages: item page median at 10,000 apps / "
                                "1,000,000 ratings, PostgreSQL, one request at a time"),
    "journey_ops_per_s_2core": Figure(33, "ops/s", "docs/operations.md, faults and load: 8 clients, PostgreSQL, every "
                                      "step of the citizen journey including password logins, all on 2 cores"),
    "journey_cases_per_min_2core": Figure(228, "cases/min", "the same run: cases applied, completed and rated in 60 s"),
    "gateway_reads_per_request": Figure(0, "queries", "bench/README.md, gateway overhead: a steady proxied request "
                                        "reads the shared cache, not the database (was 5 reads)"),
    "certification_docker_s": Figure(13.2, "s", "bench/README.md, a whole certification of 200 cases on docker "
                                     "(wheel install, start, cases), one sandbox CPU"),
    "usage_ingest_per_s": Figure(21926, "events/s", "bench/README.md, billing: usage events through the service, "
                                 "PostgreSQL, 2-core VM, 10,000,000 events at load 7-14 (41,716 at load 1-4)"),
    "settlement_preview_10m_s": Figure(4.34, "s", "bench/README.md, billing: preview of a quarter of 10,000,000 events"),
    "app_instance_start_docker_s": Figure(10.8, "s", "docs/gateway.md, figures: cold start of a served app on docker "
                                          "(worst of the range)"),
}

# Assumptions about use, not measurements: change them to the province's own figures.
ASSUMED = {
    "cases_per_resident_per_year": Figure(36.5, "cases", "1,000,000 cases a day for 10,000,000 residents"),
    "working_hours_per_day": Figure(8, "h", "cases arrive in office hours"),
    "peak_factor": Figure(3, "×", "the busiest hour over the mean office hour (Monday mornings, deadlines)"),
    "gateway_requests_per_case": Figure(30, "req", "pages, assets and API calls a citizen's app makes per case"),
    "platform_pages_per_case": Figure(10, "req", "login, catalogue, app page, launch, consent, cases, rating"),
    "core_headroom": Figure(0.6, "", "plan each core at 60 % of its measured throughput"),
    "apps_published": Figure(1000, "apps", "a province: ~100 service items with ~10 competing apps each"),
    "app_instance_memory_gib": Figure(0.25, "GiB", "the sandbox memory limit per instance (sandbox/backends)"),
    "serving_host_memory_gib": Figure(64, "GiB", "memory of one serving host"),
    "versions_per_app_per_month": Figure(4, "uploads", "each upload is certified once"),
    "suite_retest_hours": Figure(4, "h", "a new suite version re-tests every published app of its order within"),
    "sandbox_host_cores": Figure(16, "cores", "one sandbox host; one certification per core at a time"),
    "web_process_cores": Figure(1, "core", "a gunicorn process with threads uses about one core"),
}

SIZES = {"county": 100_000, "city": 1_000_000, "province": 10_000_000}


def f(name: str) -> float:
    return (MEASURED.get(name) or ASSUMED[name]).value


def model(residents: int) -> dict[str, float]:
    cases_per_day = residents * f("cases_per_resident_per_year") / 365
    mean_cases_per_s = cases_per_day / (f("working_hours_per_day") * 3600)
    peak_cases_per_s = mean_cases_per_s * f("peak_factor")
    headroom = f("core_headroom")
    # Web: gateway requests at the measured proxied rate (which includes the app's and the database's share of the
    # same 2 cores, so it is pessimistic for the web alone), platform pages at the catalogue page's rate.
    gateway_rps = peak_cases_per_s * f("gateway_requests_per_case")
    pages_rps = peak_cases_per_s * f("platform_pages_per_case")
    gateway_per_core = f("gateway_proxied_rps_2core") / 2 * headroom
    pages_per_core = 1000 / f("catalogue_page_ms") * headroom
    web_cores = gateway_rps / gateway_per_core + pages_rps / pages_per_core
    web_processes = max(2, math.ceil(web_cores / f("web_process_cores")))
    # Published apps grow slower than residents (the same services everywhere, fewer competitors in small places).
    apps = f("apps_published") * min(1.0, residents / SIZES["province"]) ** 0.5
    # Serving hosts: the same per-request work again on the serving hop (the measured proxied figure already
    # counts the app), and memory for every app's instance (all apps warm at the peak).
    serving_cores = gateway_rps / gateway_per_core
    serving_hosts_memory = apps * f("app_instance_memory_gib") / f("serving_host_memory_gib")
    serving_hosts = max(2, math.ceil(max(serving_hosts_memory, serving_cores / f("sandbox_host_cores"))))
    # Sandbox hosts: uploads spread over the month (8-hour days), and a suite re-test of every app.
    certs_per_hour = apps * f("versions_per_app_per_month") / (22 * f("working_hours_per_day"))
    cert_core_hours_retest = apps * f("certification_docker_s") / 3600
    sandbox_cores = max(certs_per_hour * f("certification_docker_s") / 3600, cert_core_hours_retest / f("suite_retest_hours"))
    sandbox_hosts = max(1, math.ceil(sandbox_cores / f("sandbox_host_cores")))
    # The database: the journey run's measured cases per minute on 2 cores is the one whole-platform figure.
    journey_cases_per_s_per_core = f("journey_cases_per_min_2core") / 60 / 2 * headroom
    usage_ingest_share = peak_cases_per_s / f("usage_ingest_per_s")
    gateway_reads_per_s = gateway_rps * f("gateway_reads_per_request")
    return {"residents": residents, "cases_per_day": cases_per_day, "peak_cases_per_s": peak_cases_per_s,
            "gateway_rps": gateway_rps, "pages_rps": pages_rps, "web_cores": web_cores, "web_processes": web_processes,
            "serving_cores": serving_cores, "serving_hosts": serving_hosts, "apps": apps,
            "certs_per_hour": certs_per_hour, "sandbox_cores": sandbox_cores, "sandbox_hosts": sandbox_hosts,
            "all_in_cores": peak_cases_per_s / journey_cases_per_s_per_core, "usage_ingest_share": usage_ingest_share,
            "gateway_reads_per_s": gateway_reads_per_s,
            "settlement_preview_s": f("settlement_preview_10m_s") * (cases_per_day * 91 / 10_000_000)}


def tables() -> str:
    lines = ["| input | value | from |", "|---|---|---|"]
    for name, fig in MEASURED.items():
        lines.append(f"| `{name}` (measured) | {fig.value:g} {fig.unit} | {fig.source} |")
    for name, fig in ASSUMED.items():
        lines.append(f"| `{name}` (assumed) | {fig.value:g} {fig.unit} | {fig.source} |")
    lines += ["", "| | " + " | ".join(SIZES) + " |", "|---|" + "---|" * len(SIZES)]
    rows = [("residents", "residents", "{:,.0f}"), ("cases a day", "cases_per_day", "{:,.0f}"),
            ("peak cases/s", "peak_cases_per_s", "{:.1f}"), ("peak gateway req/s", "gateway_rps", "{:,.0f}"),
            ("peak platform pages/s", "pages_rps", "{:,.0f}"), ("web cores", "web_cores", "{:.1f}"),
            ("web processes (≥ 2)", "web_processes", "{:.0f}"), ("serving-host cores", "serving_cores", "{:.1f}"),
            ("serving hosts (≥ 2)", "serving_hosts", "{:.0f}"), ("published apps", "apps", "{:,.0f}"),
            ("certifications/hour", "certs_per_hour", "{:.1f}"), ("sandbox cores", "sandbox_cores", "{:.1f}"),
            ("sandbox hosts", "sandbox_hosts", "{:.0f}"),
            ("cores for the measured journey, all-in", "all_in_cores", "{:.1f}"),
            ("database reads/s from the gateway", "gateway_reads_per_s", "{:,.0f}"),
            ("usage ingest used at peak", "usage_ingest_share", "{:.2%}"),
            ("settlement preview of a quarter", "settlement_preview_s", "{:.1f} s")]
    results = {size: model(residents) for size, residents in SIZES.items()}
    for label, key, fmt in rows:
        lines.append(f"| {label} | " + " | ".join(fmt.format(results[s][key]) for s in SIZES) + " |")
    return "\n".join(lines)


def write(path: Path = DOC) -> None:
    text = path.read_text("utf-8")
    start = text.index("\n", text.index("<!-- capacity-tables:start")) + 1
    end = text.index("<!-- capacity-tables:end")
    path.write_text(text[:start] + tables() + "\n" + text[end:], "utf-8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the tables in docs/capacity.md")
    if parser.parse_args().write:
        write()
    else:
        print(tables())
