"""marketplace: acceptance suites keep the one suite hash the certification report records

The order page showed sha256 of the suite as compact JSON while reports hashed json.dumps' default separators;
both now use govsuite.suite_sha256 (docs/formats.md). Stored hashes are recomputed from the stored documents.

Revision ID: roles_0003
Revises: roles_0002
Create Date: 2026-12-03 14:00:00.000000

"""
import hashlib
import json

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'roles_0003'
down_revision = 'roles_0002'
branch_labels = None
depends_on = None

suites = sa.table('acceptance_suites', sa.column('id', sa.Integer), sa.column('document', sa.JSON),
                  sa.column('sha256', sa.String))


def _rehash(dump):
    bind = op.get_bind()
    for row in bind.execute(sa.select(suites.c.id, suites.c.document)).all():
        digest = hashlib.sha256(dump(row.document).encode('utf-8')).hexdigest()
        bind.execute(suites.update().where(suites.c.id == row.id).values(sha256=digest))


def upgrade():
    _rehash(lambda doc: json.dumps(doc, sort_keys=True, ensure_ascii=False))


def downgrade():
    _rehash(lambda doc: json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(',', ':')))
