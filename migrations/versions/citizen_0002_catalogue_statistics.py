"""citizen: kept catalogue statistics per app and per service item, filled from the existing cases and ratings

Revision ID: citizen_0002
Revises: citizen_0001
Create Date: 2026-11-22 03:10:00.000000

"""
import statistics

from alembic import op
import sqlalchemy as sa
import core.time
from core.time import utcnow


# revision identifiers, used by Alembic.
revision = 'citizen_0002'
down_revision = 'citizen_0001'
branch_labels = None
depends_on = None

MEDIAN_SAMPLE = 1000
DIMENSIONS = ('tangibility', 'reliability', 'responsiveness', 'assurance', 'empathy')


def upgrade():
    app_statistics = op.create_table('app_statistics',
    sa.Column('app_id', sa.Integer(), nullable=False),
    sa.Column('completed', sa.BigInteger(), nullable=False),
    sa.Column('median_handling_seconds', sa.BigInteger(), nullable=True),
    sa.Column('ratings', sa.BigInteger(), nullable=False),
    sa.Column('stars_sum', sa.BigInteger(), nullable=False),
    sa.Column('stars_1', sa.BigInteger(), nullable=False),
    sa.Column('stars_2', sa.BigInteger(), nullable=False),
    sa.Column('stars_3', sa.BigInteger(), nullable=False),
    sa.Column('stars_4', sa.BigInteger(), nullable=False),
    sa.Column('stars_5', sa.BigInteger(), nullable=False),
    sa.Column('tangibility_sum', sa.BigInteger(), nullable=False),
    sa.Column('reliability_sum', sa.BigInteger(), nullable=False),
    sa.Column('responsiveness_sum', sa.BigInteger(), nullable=False),
    sa.Column('assurance_sum', sa.BigInteger(), nullable=False),
    sa.Column('empathy_sum', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', core.time.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('completed >= 0 AND ratings >= 0', name=op.f('ck_app_statistics_counts_nonnegative')),
    sa.CheckConstraint('ratings = stars_1 + stars_2 + stars_3 + stars_4 + stars_5', name=op.f('ck_app_statistics_distribution_adds_up')),
    sa.ForeignKeyConstraint(['app_id'], ['apps.id'], name=op.f('fk_app_statistics_app_id_apps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('app_id', name=op.f('pk_app_statistics'))
    )
    item_statistics = op.create_table('service_item_statistics',
    sa.Column('service_item_id', sa.Integer(), nullable=False),
    sa.Column('completed', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', core.time.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('completed >= 0', name=op.f('ck_service_item_statistics_completed_nonnegative')),
    sa.ForeignKeyConstraint(['service_item_id'], ['service_items.id'], name=op.f('fk_service_item_statistics_service_item_id_service_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('service_item_id', name=op.f('pk_service_item_statistics'))
    )
    _fill(app_statistics, item_statistics)


def _fill(app_statistics, item_statistics):
    """The statistics of the cases and ratings already recorded (as `govmarket statistics rebuild` computes
    them; written out here so that the migration does not depend on the code of a later version)."""
    bind = op.get_bind()
    transactions = sa.table('transactions', sa.column('id', sa.Integer), sa.column('app_id', sa.Integer),
                            sa.column('service_item_id', sa.Integer), sa.column('status', sa.String),
                            sa.column('started_at', core.time.UTCDateTime(timezone=True)),
                            sa.column('completed_at', core.time.UTCDateTime(timezone=True)))
    ratings = sa.table('ratings', sa.column('app_id', sa.Integer), sa.column('stars', sa.Integer),
                       sa.column('hidden_at'), sa.column('under_review', sa.Boolean),
                       *(sa.column(name, sa.Integer) for name in DIMENSIONS))
    done = transactions.c.status == 'completed'
    completed = dict(bind.execute(sa.select(transactions.c.app_id, sa.func.count()).where(done)
                                  .group_by(transactions.c.app_id)).all())
    figures = {}
    for row in bind.execute(
            sa.select(ratings.c.app_id, sa.func.count(), sa.func.sum(ratings.c.stars),
                      *(sa.func.sum(sa.case((ratings.c.stars == n, 1), else_=0)) for n in range(1, 6)),
                      *(sa.func.sum(ratings.c[name]) for name in DIMENSIONS))
            .where(ratings.c.hidden_at.is_(None), ratings.c.under_review.is_(False)).group_by(ratings.c.app_id)):
        names = ('ratings', 'stars_sum', 'stars_1', 'stars_2', 'stars_3', 'stars_4', 'stars_5',
                 *(f'{name}_sum' for name in DIMENSIONS))
        figures[row[0]] = {name: int(value or 0) for name, value in zip(names, row[1:], strict=True)}

    stamp = utcnow()
    zero = dict.fromkeys(('ratings', 'stars_sum', 'stars_1', 'stars_2', 'stars_3', 'stars_4', 'stars_5',
                          *(f'{name}_sum' for name in DIMENSIONS)), 0)
    rows = []
    for app_id in sorted(set(completed) | set(figures)):
        spans = bind.execute(sa.select(transactions.c.started_at, transactions.c.completed_at)
                             .where(done, transactions.c.app_id == app_id)
                             .order_by(transactions.c.completed_at.desc(), transactions.c.id.desc())
                             .limit(MEDIAN_SAMPLE)).all()
        seconds = [(end - start).total_seconds() for start, end in spans]
        rows.append({'app_id': app_id, 'completed': int(completed.get(app_id, 0)),
                     'median_handling_seconds': int(statistics.median(seconds)) if seconds else None,
                     'updated_at': stamp, **figures.get(app_id, zero)})
    if rows:
        op.bulk_insert(app_statistics, rows)
    items = bind.execute(sa.select(transactions.c.service_item_id, sa.func.count()).where(done)
                         .group_by(transactions.c.service_item_id)).all()
    if items:
        op.bulk_insert(item_statistics, [{'service_item_id': item_id, 'completed': int(n), 'updated_at': stamp}
                                         for item_id, n in items])


def downgrade():
    op.drop_table('service_item_statistics')
    op.drop_table('app_statistics')
