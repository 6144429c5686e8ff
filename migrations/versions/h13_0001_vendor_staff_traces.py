"""marketplace: vendor staff traces for the staff rating signal

Revision ID: h13_0001
Revises: roles_0004
Create Date: 2026-12-03 17:10:00.000000

"""
from alembic import op
import sqlalchemy as sa
import core.time


# revision identifiers, used by Alembic.
revision = 'h13_0001'
down_revision = 'roles_0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('vendor_staff_networks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('vendor_id', sa.Integer(), nullable=False),
    sa.Column('network_hash', sa.String(length=64), nullable=False),
    sa.Column('first_seen_at', core.time.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', core.time.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['vendor_id'], ['vendors.id'], name=op.f('fk_vendor_staff_networks_vendor_id_vendors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vendor_staff_networks')),
    sa.UniqueConstraint('vendor_id', 'network_hash', name='uq_vendor_staff_networks_vendor_network')
    )
    with op.batch_alter_table('vendor_staff_networks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vendor_staff_networks_last_seen_at'), ['last_seen_at'], unique=False)

    op.create_table('vendor_staff_citizens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('vendor_id', sa.Integer(), nullable=False),
    sa.Column('citizen_id', sa.Integer(), nullable=False),
    sa.Column('first_seen_at', core.time.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', core.time.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['citizen_id'], ['users.id'], name=op.f('fk_vendor_staff_citizens_citizen_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['vendor_id'], ['vendors.id'], name=op.f('fk_vendor_staff_citizens_vendor_id_vendors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vendor_staff_citizens')),
    sa.UniqueConstraint('vendor_id', 'citizen_id', name='uq_vendor_staff_citizens_vendor_citizen')
    )
    with op.batch_alter_table('vendor_staff_citizens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vendor_staff_citizens_citizen_id'), ['citizen_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_vendor_staff_citizens_last_seen_at'), ['last_seen_at'], unique=False)


def downgrade():
    with op.batch_alter_table('vendor_staff_citizens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vendor_staff_citizens_last_seen_at'))
        batch_op.drop_index(batch_op.f('ix_vendor_staff_citizens_citizen_id'))
    op.drop_table('vendor_staff_citizens')
    with op.batch_alter_table('vendor_staff_networks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vendor_staff_networks_last_seen_at'))
    op.drop_table('vendor_staff_networks')
