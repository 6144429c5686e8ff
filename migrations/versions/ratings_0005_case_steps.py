"""transactions: the department's steps — accepted (已受理), under review (审查中), not accepted (不予受理) — and the result

Revision ID: ratings_0005
Revises: ratings_0004
Create Date: 2026-12-03 13:50:00.000000

"""
from alembic import op
import sqlalchemy as sa
import core.time


# revision identifiers, used by Alembic.
revision = 'ratings_0005'
down_revision = 'ratings_0004'
branch_labels = None
depends_on = None

OLD = "status IN ('started', 'submitted', 'completed', 'rejected', 'failed')"
NEW = ("status IN ('started', 'submitted', 'accepted', 'under_review', 'completed', 'rejected', 'not_accepted', "
       "'failed')")


def upgrade():
    _foreign_keys(False)
    try:
        _upgrade()
    finally:
        _foreign_keys(True)


def _upgrade():
    with op.batch_alter_table('transactions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('accepted_at', core.time.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('result', sa.String(length=200), nullable=True))
        batch_op.drop_constraint(op.f('ck_transactions_status_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_transactions_status_known'), NEW)


def downgrade():
    _foreign_keys(False)
    try:
        _downgrade()
    finally:
        _foreign_keys(True)


def _downgrade():
    op.execute("UPDATE transactions SET status = 'submitted' WHERE status IN ('accepted', 'under_review')")
    op.execute("UPDATE transactions SET status = 'rejected' WHERE status = 'not_accepted'")
    with op.batch_alter_table('transactions', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_transactions_status_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_transactions_status_known'), OLD)
        batch_op.drop_column('result')
        batch_op.drop_column('accepted_at')


def _foreign_keys(on: bool) -> None:
    """SQLite recreates a table to change it; with foreign keys on, dropping the old table would delete the rows
    that reference it (transaction_events and rating flags cascade). The pragma only takes effect outside a
    transaction, so what SQLite holds open is committed first (SQLite has no transactional DDL in Alembic anyway)."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        raw = bind.connection.driver_connection
        raw.commit()
        raw.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
