"""ratings: signals relative to each app's own traffic: young-account mark on ratings, bombing and staff kinds

Revision ID: ratings_0004
Revises: ratings_0003
Create Date: 2026-12-03 13:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'ratings_0004'
down_revision = 'ratings_0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('young_account', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('rating_signals', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_rating_signals_kind_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_rating_signals_kind_known'),
                                         "kind IN ('burst', 'bombing', 'ring', 'device', 'staff')")


def downgrade():
    op.execute("DELETE FROM rating_signals WHERE kind IN ('bombing', 'staff')")
    with op.batch_alter_table('rating_signals', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_rating_signals_kind_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_rating_signals_kind_known'), "kind IN ('burst', 'ring', 'device')")
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.drop_column('young_account')
