"""billing: settlement lines of a closed quarter are frozen

Lines were already append-only; this also refuses new lines added to a run of a closed quarter.

Revision ID: billing_0002
Revises: billing_0001
Create Date: 2026-11-22 00:05:04.209078

"""
from alembic import op
import sqlalchemy as sa
import core.time


# revision identifiers, used by Alembic.
revision = 'billing_0002'
down_revision = 'billing_0001'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""CREATE FUNCTION billing_refuse_closed_line() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF EXISTS (SELECT 1 FROM billing_settlement_runs r JOIN billing_quarters q ON q.code = r.quarter_code
                     WHERE r.id = NEW.run_id AND q.closed_at IS NOT NULL) THEN
            RAISE EXCEPTION 'billing: the run''s quarter is closed; nothing in a closed quarter changes';
          END IF;
          RETURN NEW;
        END $$""")
        op.execute("CREATE TRIGGER billing_settlement_lines_frozen BEFORE INSERT ON billing_settlement_lines "
                   "FOR EACH ROW EXECUTE FUNCTION billing_refuse_closed_line()")
    else:
        op.execute("""CREATE TRIGGER billing_settlement_lines_frozen BEFORE INSERT ON billing_settlement_lines
        WHEN EXISTS (SELECT 1 FROM billing_settlement_runs r JOIN billing_quarters q ON q.code = r.quarter_code
                     WHERE r.id = NEW.run_id AND q.closed_at IS NOT NULL)
        BEGIN SELECT RAISE(ABORT, 'billing: the quarter is closed; nothing in a closed quarter changes'); END""")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS billing_refuse_closed_line() CASCADE")
    else:
        op.execute("DROP TRIGGER IF EXISTS billing_settlement_lines_frozen")
