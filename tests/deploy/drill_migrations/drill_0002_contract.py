"""drill: contract — the column goes, once no running version reads it (tests/deploy/test_migration_drill.py).

Revision ID: drill_0002
Revises: drill_0001
Create Date: 2026-12-03 00:00:01.000000
"""
from alembic import op

revision = "drill_0002"
down_revision = "drill_0001"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("SET LOCAL lock_timeout = '2s'")
    op.drop_index("ix_apps_drill_note", table_name="apps")
    op.drop_column("apps", "drill_note")


def downgrade():
    raise NotImplementedError("a contract step is not undone; restore from a backup")
