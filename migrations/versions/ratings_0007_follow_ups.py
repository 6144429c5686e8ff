"""ratings: a 差评 opens a follow-up (整改) with a deadline; one re-rating after it

Revision ID: ratings_0007
Revises: ratings_0006
Create Date: 2026-12-03 14:05:00.000000

"""
from alembic import op
import sqlalchemy as sa
import core.time


# revision identifiers, used by Alembic.
revision = 'ratings_0007'
down_revision = 'ratings_0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('rating_follow_ups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rating_id', sa.Integer(), nullable=False),
    sa.Column('opened_at', core.time.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', core.time.UTCDateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.Text(), nullable=True),
    sa.Column('answered_side', sa.String(length=16), nullable=True),
    sa.Column('answered_by_id', sa.Integer(), nullable=True),
    sa.Column('answered_at', core.time.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['answered_by_id'], ['users.id'], name=op.f('fk_rating_follow_ups_answered_by_id_users')),
    sa.ForeignKeyConstraint(['rating_id'], ['ratings.id'], name=op.f('fk_rating_follow_ups_rating_id_ratings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rating_follow_ups')),
    sa.UniqueConstraint('rating_id', name=op.f('uq_rating_follow_ups_rating_id'))
    )
    with op.batch_alter_table('rating_follow_ups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rating_follow_ups_due_at'), ['due_at'], unique=False)
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_stars', sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column('rerated_at', core.time.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    _foreign_keys(False)  # dropping columns recreates ratings on SQLite: its flags and replies must survive
    try:
        with op.batch_alter_table('ratings', schema=None) as batch_op:
            batch_op.drop_column('rerated_at')
            batch_op.drop_column('first_stars')
    finally:
        _foreign_keys(True)
    with op.batch_alter_table('rating_follow_ups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rating_follow_ups_due_at'))
    op.drop_table('rating_follow_ups')


def _foreign_keys(on: bool) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        raw = bind.connection.driver_connection
        raw.commit()
        raw.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
