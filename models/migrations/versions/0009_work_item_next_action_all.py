"""work item: an index on the next action instant alone, for a city's sweep over every commune

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 02:00:00.000000
"""
from collections.abc import Sequence

from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_work_item_next_action_all', 'work_item', ['next_action_at', 'id'])


def downgrade() -> None:
    op.drop_index('ix_work_item_next_action_all', table_name='work_item')
