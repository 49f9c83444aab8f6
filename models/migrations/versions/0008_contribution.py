"""contribution: files a coordinating unit sends for the lead's item

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 11:00:00.000000

A coordinating unit uploads its input through its own signed link to the lead's item: stored
like a deliverable's file (by sha256), recorded here, never a version that closes the item.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'contribution',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('unit', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('original_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('stored_path', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('file_type', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column('note', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('received_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['item_id'], ['work_item.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_contribution_item_id'), 'contribution', ['item_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_contribution_item_id'), table_name='contribution')
    op.drop_table('contribution')
