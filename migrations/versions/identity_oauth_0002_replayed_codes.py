"""identity: a used mark on authorization codes and the code each provider token came from (a replay revokes them)

Revision ID: identity_oauth_0002
Revises: identity_0001
Create Date: 2026-12-03 13:30:00.000000

"""
from alembic import op
import sqlalchemy as sa
import core.time


# revision identifiers, used by Alembic.
revision = 'identity_oauth_0002'
down_revision = 'identity_0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('identity_oidc_codes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('used_at', core.time.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('identity_oidc_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('code_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_identity_oidc_tokens_code_id'), ['code_id'], unique=False)


def downgrade():
    with op.batch_alter_table('identity_oidc_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_oidc_tokens_code_id'))
        batch_op.drop_column('code_id')
    with op.batch_alter_table('identity_oidc_codes', schema=None) as batch_op:
        batch_op.drop_column('used_at')
