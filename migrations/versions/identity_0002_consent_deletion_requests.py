"""identity: citizens' deletion requests to an app's vendor (issue #12.3)

Revision ID: identity_0002_consent
Revises: identity_oauth_0002
Create Date: 2026-12-03 14:00:00

"""
from alembic import op
import sqlalchemy as sa
import core.time


# revision identifiers, used by Alembic.
revision = 'identity_0002_consent'
down_revision = 'identity_oauth_0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('identity_deletion_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('app_id', sa.Integer(), nullable=False),
    sa.Column('vendor_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', core.time.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', core.time.UTCDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', core.time.UTCDateTime(timezone=True), nullable=True),
    sa.Column('completed_by_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.CheckConstraint('completed_at IS NULL OR note IS NOT NULL', name=op.f('ck_identity_deletion_requests_completed_has_note')),
    sa.CheckConstraint('due_at > requested_at', name=op.f('ck_identity_deletion_requests_due_after_request')),
    sa.ForeignKeyConstraint(['app_id'], ['apps.id'], name=op.f('fk_identity_deletion_requests_app_id_apps')),
    sa.ForeignKeyConstraint(['completed_by_id'], ['users.id'], name=op.f('fk_identity_deletion_requests_completed_by_id_users')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_identity_deletion_requests_user_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['vendor_id'], ['vendors.id'], name=op.f('fk_identity_deletion_requests_vendor_id_vendors')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_deletion_requests'))
    )
    with op.batch_alter_table('identity_deletion_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_deletion_requests_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_deletion_requests_vendor_id'), ['vendor_id'], unique=False)


def downgrade():
    with op.batch_alter_table('identity_deletion_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_deletion_requests_vendor_id'))
        batch_op.drop_index(batch_op.f('ix_identity_deletion_requests_user_id'))
    op.drop_table('identity_deletion_requests')
