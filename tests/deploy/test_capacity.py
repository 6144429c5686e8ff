"""docs/capacity.md shows what bench/capacity.py computes from the benchmark figures it names."""

from __future__ import annotations

import importlib

from tests.deploy.conftest import ROOT


def load_model():
    """A fresh copy of the model (a test may change its inputs)."""
    return importlib.reload(importlib.import_module("bench.capacity"))


def test_the_capacity_page_shows_the_model_of_the_current_figures():
    capacity = load_model()
    assert capacity.tables() in (ROOT / "docs" / "capacity.md").read_text("utf-8"), \
        "docs/capacity.md is stale: run `.venv/bin/python bench/capacity.py --write`"


def test_the_model_follows_its_inputs():
    """A better gateway figure means fewer web processes; a province needs more than a county."""
    capacity = load_model()
    before = capacity.model(10_000_000)
    county = capacity.model(100_000)
    assert county["web_processes"] < before["web_processes"] and county["peak_cases_per_s"] < 2
    figure = capacity.MEASURED["gateway_proxied_rps_2core"]
    capacity.MEASURED["gateway_proxied_rps_2core"] = capacity.Figure(figure.value * 2, figure.unit, figure.source)
    after = capacity.model(10_000_000)
    assert after["web_processes"] < before["web_processes"] and after["serving_cores"] < before["serving_cores"]
    assert round(before["cases_per_day"]) == 1_000_000
