"""marketplace: moderation of order questions (hidden with a reason, kept)

Revision ID: roles_0001
Revises: security_0001
Create Date: 2026-12-03 13:20:00.000000

"""
from alembic import op
import sqlalchemy as sa
import core.time


# revision identifiers, used by Alembic.
revision = 'roles_0001'
down_revision = 'security_0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('order_questions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hidden_at', core.time.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('hidden_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('hidden_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_order_questions_hidden_by_id_users', 'users', ['hidden_by_id'], ['id'])


def downgrade():
    with op.batch_alter_table('order_questions', schema=None) as batch_op:
        batch_op.drop_constraint('fk_order_questions_hidden_by_id_users', type_='foreignkey')
        batch_op.drop_column('hidden_by_id')
        batch_op.drop_column('hidden_reason')
        batch_op.drop_column('hidden_at')
