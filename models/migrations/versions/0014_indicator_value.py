"""indicator value: the figures units report with their reports, append-only

Revision ID: 0014
Revises: 0012 (to be set to 0013 when the branches are merged)
Create Date: 2026-12-07 12:15:00.000000

Each change of an indicator's value for an item is a new row with who and when; the newest row
of (item, indicator) is the value in force.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'indicator_value',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('commune', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('indicator', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('unit', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('period', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('numerator', sa.Float(), nullable=True),
        sa.Column('denominator', sa.Float(), nullable=True),
        sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('confirmed', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.ForeignKeyConstraint(['item_id'], ['work_item.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(
        'ix_indicator_value_item', 'indicator_value', ['item_id', 'indicator', 'id'], unique=False
    )


def downgrade() -> None:
    op.drop_index('ix_indicator_value_item', table_name='indicator_value')
    op.drop_table('indicator_value')
