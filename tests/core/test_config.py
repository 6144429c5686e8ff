from pathlib import Path

import pytest

from core.config import load_config, settings_table

DOCS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def test_operations_doc_lists_every_setting():
    text = DOCS.read_text("utf-8")
    start = text.index("<!-- settings-table:start")
    block = text[text.index("\n", start) + 1:text.index("<!-- settings-table:end")].strip()
    assert block == settings_table().strip(), (
        "the settings table is stale: python -c 'import core.config as c; c.update_operations_doc()'")


def test_environment_overrides_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("GOVMARKET_MAX_BUNDLE_BYTES", "1234")
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/db")
    cfg = load_config(str(tmp_path))
    assert cfg["MAX_BUNDLE_BYTES"] == 1234
    assert cfg["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"


def test_production_refuses_insecure_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("GOVMARKET_ENV", "production")
    monkeypatch.delenv("GOVMARKET_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        load_config(str(tmp_path))
    monkeypatch.setenv("GOVMARKET_SECRET_KEY", "x" * 40)
    with pytest.raises(RuntimeError, match="PostgreSQL"):
        load_config(str(tmp_path))
