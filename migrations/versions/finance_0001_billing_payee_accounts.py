"""billing: payee accounts of vendors, for the ISO 20022 bank payout file

Revision ID: finance_0001
Revises: billing_0002
Create Date: 2026-12-03 13:40:00

"""
from alembic import op
import sqlalchemy as sa
import core.time


# revision identifiers, used by Alembic.
revision = 'finance_0001'
down_revision = 'billing_0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "billing_payee_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vendor_id", sa.Integer(), nullable=False),
        sa.Column("holder_name", sa.String(length=140), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("account_number", sa.String(length=34), nullable=False),
        sa.Column("bank_code", sa.String(length=12), nullable=False),
        sa.Column("bank_name", sa.String(length=140), nullable=False),
        sa.Column("updated_at", core.time.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_payee_accounts")),
        sa.UniqueConstraint("vendor_id", name=op.f("uq_billing_payee_accounts_vendor_id")),
    )


def downgrade():
    op.drop_table("billing_payee_accounts")
