"""marketplace: search words (synonyms) of a service item, kept by its department

Revision ID: roles_0002
Revises: roles_0001
Create Date: 2026-12-03 13:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'roles_0002'
down_revision = 'roles_0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('service_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('synonyms', sa.JSON(), server_default='[]', nullable=False))


def downgrade():
    with op.batch_alter_table('service_items', schema=None) as batch_op:
        batch_op.drop_column('synonyms')
