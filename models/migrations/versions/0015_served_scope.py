"""served scope: which city (or commune) and communes the database serves

Revision ID: 0015
Revises: 0012 (to be set to the last migration merged before it, 0013 or 0014, when the
branches are merged)
Create Date: 2026-12-07 12:30:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'served_scope',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('is_city', sa.Boolean(), nullable=False),
        sa.Column('communes', sa.JSON(), nullable=False),
        sa.Column('stamped_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('served_scope')
