"""ratings: appeals next to flags (kind), flags per account indexed for the rate limit; ratings under review count

Revision ID: ratings_0003
Revises: citizen_0002
Create Date: 2026-12-03 13:20:00.000000

A flag, an appeal or a manipulation signal no longer takes a rating out of the figures (only hiding does), so the
kept per-app rating figures are recomputed from the ratings that are not hidden.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'ratings_0003'
down_revision = 'citizen_0002'
branch_labels = None
depends_on = None

DIMENSIONS = ('tangibility', 'reliability', 'responsiveness', 'assurance', 'empathy')


def upgrade():
    with op.batch_alter_table('rating_flags', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=8), nullable=False, server_default='flag'))
        batch_op.create_check_constraint(op.f('ck_rating_flags_kind_known'), "kind IN ('flag', 'appeal')")
        batch_op.create_index(batch_op.f('ix_rating_flags_user_id'), ['user_id'], unique=False)
    _refill(sa.column('hidden_at').is_(None))


def downgrade():
    with op.batch_alter_table('rating_flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rating_flags_user_id'))
        batch_op.drop_constraint(op.f('ck_rating_flags_kind_known'), type_='check')
        batch_op.drop_column('kind')
    _refill(sa.and_(sa.column('hidden_at').is_(None), sa.column('under_review', sa.Boolean).is_(False)))


def _refill(counted):
    ratings = sa.table('ratings', sa.column('app_id'), sa.column('stars'), sa.column('hidden_at'),
                       sa.column('under_review', sa.Boolean), *(sa.column(d) for d in DIMENSIONS))
    stats = sa.table('app_statistics', sa.column('app_id'), sa.column('ratings'), sa.column('stars_sum'),
                     *(sa.column(f'stars_{n}') for n in range(1, 6)), *(sa.column(f'{d}_sum') for d in DIMENSIONS))
    bind = op.get_bind()
    zero = {'ratings': 0, 'stars_sum': 0, **{f'stars_{n}': 0 for n in range(1, 6)},
            **{f'{d}_sum': 0 for d in DIMENSIONS}}
    bind.execute(sa.update(stats).values(**zero))
    rows = bind.execute(
        sa.select(ratings.c.app_id, sa.func.count(), sa.func.sum(ratings.c.stars),
                  *(sa.func.sum(sa.case((ratings.c.stars == n, 1), else_=0)) for n in range(1, 6)),
                  *(sa.func.sum(ratings.c[d]) for d in DIMENSIONS))
        .where(counted).group_by(ratings.c.app_id)).all()
    for app_id, count, stars_sum, *rest in rows:
        values = {'ratings': count, 'stars_sum': stars_sum or 0,
                  **{f'stars_{n}': int(rest[n - 1] or 0) for n in range(1, 6)},
                  **{f'{d}_sum': int(rest[5 + i] or 0) for i, d in enumerate(DIMENSIONS)}}
        bind.execute(sa.update(stats).where(stats.c.app_id == app_id).values(**values))
