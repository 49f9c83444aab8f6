"""deliverable signature: what the intake found of a PDF's digital signatures

Revision ID: 0012
Revises: 0010 (to be set to the directives migration, 0011, when the branches are merged)
Create Date: 2026-12-07 06:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('deliverable', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signature', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('deliverable', schema=None) as batch_op:
        batch_op.drop_column('signature')
