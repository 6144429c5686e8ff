"""marketplace: vendor applications and member invitations

Revision ID: roles_0004
Revises: roles_0003
Create Date: 2026-12-03 14:10:00.000000

"""
from alembic import op
import sqlalchemy as sa
import core.time


# revision identifiers, used by Alembic.
revision = 'roles_0004'
down_revision = 'roles_0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('vendor_applications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_name', sa.String(length=160), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=False),
    sa.Column('contact_name', sa.String(length=80), nullable=False),
    sa.Column('contact_email', sa.String(length=254), nullable=False),
    sa.Column('contact_phone', sa.String(length=20), nullable=False),
    sa.Column('licence_sha256', sa.String(length=64), nullable=False),
    sa.Column('licence_filename', sa.String(length=200), nullable=False),
    sa.Column('licence_size', sa.BigInteger(), nullable=False),
    sa.Column('submitted_at', core.time.UTCDateTime(), nullable=False),
    sa.Column('decided_at', core.time.UTCDateTime(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('approved', sa.Boolean(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('vendor_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_vendor_applications_decided_by_id_users')),
    sa.ForeignKeyConstraint(['vendor_id'], ['vendors.id'], name=op.f('fk_vendor_applications_vendor_id_vendors')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vendor_applications'))
    )
    with op.batch_alter_table('vendor_applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vendor_applications_credit_code'), ['credit_code'], unique=False)

    op.create_table('invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('vendor_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', core.time.UTCDateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('expires_at', core.time.UTCDateTime(), nullable=False),
    sa.Column('accepted_at', core.time.UTCDateTime(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_invitations_created_by_id_users')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_invitations_user_id_users')),
    sa.ForeignKeyConstraint(['vendor_id'], ['vendors.id'], name=op.f('fk_invitations_vendor_id_vendors')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitations')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_invitations_token_sha256'))
    )
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invitations_vendor_id'), ['vendor_id'], unique=False)


def downgrade():
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invitations_vendor_id'))
    op.drop_table('invitations')
    with op.batch_alter_table('vendor_applications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vendor_applications_credit_code'))
    op.drop_table('vendor_applications')
