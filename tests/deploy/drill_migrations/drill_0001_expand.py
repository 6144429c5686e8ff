"""drill: expand — a nullable column on a hot table, its index built concurrently, the old rows backfilled in
batches (tests/deploy/test_migration_drill.py; the pattern docs/operations.md prescribes for real migrations).

Revision ID: drill_0001
Revises:
Create Date: 2026-12-03 00:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = "drill_0001"
down_revision = None
branch_labels = ("drill",)
depends_on = "marketplace_0001"

BATCH = 200


def upgrade():
    # Adding a nullable column without a default only changes the catalogue, but it needs a moment's ACCESS
    # EXCLUSIVE lock; waiting for it must not queue every writer behind the migration: give up after 2 s instead
    # (the operator runs it again).
    op.execute("SET LOCAL lock_timeout = '2s'")
    op.add_column("apps", sa.Column("drill_note", sa.Text(), nullable=True))
    with op.get_context().autocommit_block():
        # CONCURRENTLY: built without blocking writes (and outside a transaction, as PostgreSQL requires).
        op.create_index("ix_apps_drill_note", "apps", ["drill_note"], postgresql_concurrently=True)
        # The old rows, in short transactions of BATCH rows: no long row locks against the serving version.
        bind = op.get_bind()
        while bind.execute(sa.text(
                "UPDATE apps SET drill_note = 'from ' || slug WHERE id IN "
                "(SELECT id FROM apps WHERE drill_note IS NULL ORDER BY id LIMIT :batch)"), {"batch": BATCH}).rowcount:
            pass


def downgrade():
    op.drop_index("ix_apps_drill_note", table_name="apps")
    op.drop_column("apps", "drill_note")
