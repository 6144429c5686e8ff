"""ratings: the five quality dimensions optional (好差评: the overall level in one tap); per-dimension counts kept

Revision ID: ratings_0006
Revises: ratings_0005
Create Date: 2026-12-03 13:55:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'ratings_0006'
down_revision = 'ratings_0005'
branch_labels = None
depends_on = None

DIMENSIONS = ('tangibility', 'reliability', 'responsiveness', 'assurance', 'empathy')


def upgrade():
    _foreign_keys(False)
    try:
        _upgrade()
    finally:
        _foreign_keys(True)


def _upgrade():
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        for d in DIMENSIONS:
            batch_op.alter_column(d, existing_type=sa.SmallInteger(), nullable=True)
    with op.batch_alter_table('app_statistics', schema=None) as batch_op:
        for d in DIMENSIONS:
            batch_op.add_column(sa.Column(f'{d}_count', sa.BigInteger(), nullable=False, server_default='0'))
    # Every rating so far gave all five dimensions.
    op.execute(f"UPDATE app_statistics SET {', '.join(f'{d}_count = ratings' for d in DIMENSIONS)}")


def downgrade():
    _foreign_keys(False)
    try:
        _downgrade()
    finally:
        _foreign_keys(True)


def _downgrade():
    with op.batch_alter_table('app_statistics', schema=None) as batch_op:
        for d in DIMENSIONS:
            batch_op.drop_column(f'{d}_count')
    for d in DIMENSIONS:
        op.execute(f"UPDATE ratings SET {d} = stars WHERE {d} IS NULL")
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        for d in DIMENSIONS:
            batch_op.alter_column(d, existing_type=sa.SmallInteger(), nullable=False)


def _foreign_keys(on: bool) -> None:
    """SQLite recreates a table to change it; with foreign keys on, dropping the old table would delete the rows
    that reference it (transaction_events and rating flags cascade). The pragma only takes effect outside a
    transaction, so what SQLite holds open is committed first (SQLite has no transactional DDL in Alembic anyway)."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        raw = bind.connection.driver_connection
        raw.commit()
        raw.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
