"""billing: a closed quarter refuses new usage events once per INSERT statement, not once per row

The row trigger looked the quarter up for every inserted event (a 5,000-event batch: 5,000 lookups, ~40 % of
the insert's time on PostgreSQL); an AFTER INSERT statement trigger over the inserted rows (a transition table)
refuses the same inserts with the same message, in one query. Updates and deletes keep the row trigger.

Revision ID: billing_perf_0003
Revises: finance_0001
Create Date: 2026-12-03 14:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'billing_perf_0003'
down_revision = 'finance_0001'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite's trigger is a WHEN clause per row already (billing_usage_events_frozen_insert)
    op.execute("DROP TRIGGER billing_usage_events_frozen ON billing_usage_events")
    op.execute("CREATE TRIGGER billing_usage_events_frozen BEFORE UPDATE OR DELETE ON billing_usage_events "
               "FOR EACH ROW EXECUTE FUNCTION billing_refuse_closed()")
    op.execute("""CREATE FUNCTION billing_refuse_closed_usage_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      qcode text;
    BEGIN
      SELECT n.settle_quarter_code INTO qcode FROM billing_new_usage_events n
        JOIN billing_quarters q ON q.code = n.settle_quarter_code WHERE q.closed_at IS NOT NULL LIMIT 1;
      IF FOUND THEN
        RAISE EXCEPTION 'billing: quarter % is closed; nothing in a closed quarter changes', qcode;
      END IF;
      RETURN NULL;
    END $$""")
    op.execute("CREATE TRIGGER billing_usage_events_frozen_insert AFTER INSERT ON billing_usage_events "
               "REFERENCING NEW TABLE AS billing_new_usage_events "
               "FOR EACH STATEMENT EXECUTE FUNCTION billing_refuse_closed_usage_insert()")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER billing_usage_events_frozen_insert ON billing_usage_events")
    op.execute("DROP FUNCTION billing_refuse_closed_usage_insert()")
    op.execute("DROP TRIGGER billing_usage_events_frozen ON billing_usage_events")
    op.execute("CREATE TRIGGER billing_usage_events_frozen BEFORE INSERT OR UPDATE OR DELETE ON billing_usage_events "
               "FOR EACH ROW EXECUTE FUNCTION billing_refuse_closed()")
