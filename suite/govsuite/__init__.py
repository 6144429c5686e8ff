"""The acceptance suite format: loading, validation, scenario references, case evaluation, the pass rule, the case loop.

This package is THE definition of the suite format. `govapp test` and the platform's sandbox harness both
import it, so an app is judged the same way on a vendor's laptop and in certification. It is pure (no
network, no processes, no files except what the caller hands in) and needs only PyYAML, jsonschema and
jsonpath-ng. One module per topic:

==================  =====================================================================
``model``           Request, Case: one acceptance case as written
``loading``         Suite, load_suite, validate_suite_data, suite_schema
``references``      ``{{ scenarios.X.y }}`` replaced from the dataset's scenarios
``contract``        which operation of the OpenAPI contract serves a request; response schemas
``generation``      negative cases generated from the contract; the hidden delegation case
``evaluation``      HttpResponse, CaseResult, evaluate_case and the assertion kinds
``summary``         SuiteRun: the results of a run and the pass rule
``loop``            the one case loop, behind a Transport the caller implements
==================  =====================================================================

The flow of one run::

    suite = load_suite(path_or_text).resolve(scenarios)          # {{ scenarios.X.y }} -> values
    results = run_cases(suite.all_cases(contract), open_instance, contract)   # public, then hidden afresh
    run = SuiteRun(suite, results); run.passed

The JSON Schema of the format is `suite.schema.json` beside this file; docs/suite-format.md explains it.
"""

from govsuite.contract import check_response_schema, find_operation
from govsuite.errors import SuiteError
from govsuite.evaluation import (
    CaseResult,
    Failure,
    HttpResponse,
    check_jsonpath,
    check_submission,
    delegation_finding,
    evaluate_case,
    json_subset_mismatches,
)
from govsuite.generation import DELEGATION_CASE_ID, generate_contract_cases, generate_delegation_case
from govsuite.loading import Suite, load_suite, suite_schema, suite_sha256, validate_suite_data
from govsuite.loop import Exchange, Transport, run_case, run_cases
from govsuite.model import Case, Request
from govsuite.references import resolve_references
from govsuite.summary import SuiteRun, p95

__all__ = [
    "DELEGATION_CASE_ID",
    "Case",
    "CaseResult",
    "Exchange",
    "Failure",
    "HttpResponse",
    "Request",
    "Suite",
    "SuiteError",
    "SuiteRun",
    "Transport",
    "check_jsonpath",
    "check_response_schema",
    "check_submission",
    "delegation_finding",
    "evaluate_case",
    "find_operation",
    "generate_contract_cases",
    "generate_delegation_case",
    "json_subset_mismatches",
    "load_suite",
    "p95",
    "resolve_references",
    "run_case",
    "run_cases",
    "suite_schema",
    "suite_sha256",
    "validate_suite_data",
]
