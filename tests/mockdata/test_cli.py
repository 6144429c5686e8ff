"""``python -m mockdata`` commands, and their mount on the platform as ``govmarket mockdata``."""

from __future__ import annotations

import json
import sqlite3

from click.testing import CliRunner

from mockdata.cli import cli
from mockdata.generator import scenarios_for
from mockdata.specs import CITIZENS_V1


def test_generate_jsonl_reports_what_it_wrote(tmp_path):
    result = CliRunner().invoke(cli, ["generate", "--spec", "citizens-v1", "--seed", "3", "--size", "300",
                                      "--out", str(tmp_path), "--quiet"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["size"] == 300 and summary["persons_per_second"] > 0
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"]["persons"] == 300
    assert json.loads((tmp_path / "scenarios.json").read_text(encoding="utf-8")) == scenarios_for(CITIZENS_V1, 3)


def test_generate_sqlite_holds_the_dataset_and_its_scenarios(tmp_path):
    result = CliRunner().invoke(cli, ["generate", "--seed", "3", "--size", "300", "--out", str(tmp_path),
                                      "--format", "sqlite"])
    assert result.exit_code == 0, result.output
    path = tmp_path / "citizens-v1-3-300.sqlite"
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM persons").fetchone()[0] == 300
        meta = dict(conn.execute("SELECT key, value FROM meta"))
    conn.close()
    assert meta["spec"] == "citizens-v1" and json.loads(meta["scenarios"]) == scenarios_for(CITIZENS_V1, 3)


def test_generate_only_some_entities(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["generate", "--size", "200", "--out", str(tmp_path), "--entities", "persons", "--quiet"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", "persons.jsonl", "scenarios.json"]
    result = runner.invoke(cli, ["generate", "--size", "200", "--out", str(tmp_path), "--entities", "pets"])
    assert result.exit_code == 2 and "pets" in result.output
    result = runner.invoke(cli, ["generate", "--size", "200", "--out", str(tmp_path), "--entities", "persons",
                                 "--format", "sqlite"])
    assert result.exit_code == 2 and "every entity" in result.output


def test_scenarios_prints_json(tmp_path):
    result = CliRunner().invoke(cli, ["scenarios", "--spec", "citizens-v1", "--seed", "42", "--size", "100"])
    assert result.exit_code == 0
    assert json.loads(result.output)["food_ok"]["expected"]["decision"] == "accepted"


def test_bad_input_is_explained():
    runner = CliRunner()
    result = runner.invoke(cli, ["scenarios", "--spec", "citizens-v9"])
    assert result.exit_code == 2 and "citizens-v1" in result.output
    result = runner.invoke(cli, ["generate", "--size", "10", "--out", "/tmp/never-written"])
    assert result.exit_code == 2 and "at least 100" in result.output
    result = runner.invoke(cli, ["serve", "--socket", "/tmp/x.sock", "--scopes", "person.write"])
    assert result.exit_code == 2 and "person.write" in result.output


def test_specs_lists_citizens_v1():
    result = CliRunner().invoke(cli, ["specs"])
    assert "citizens-v1" in [spec["name"] for spec in json.loads(result.output)]


def test_mounted_on_the_platform_cli(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["mockdata", "scenarios", "--size", "100"])
    assert result.exit_code == 0, result.output
    assert "ssc_minor" in json.loads(result.output)


def test_mockdata_runs_without_the_platform():
    # The SDK starts it as a subprocess: it must import nothing of core, marketplace, sandbox, billing or sdk.
    import subprocess
    import sys

    code = ("import sys, mockdata.cli, mockdata.server, mockdata.output; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'core', 'marketplace', 'sandbox', 'billing', 'govapp'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
