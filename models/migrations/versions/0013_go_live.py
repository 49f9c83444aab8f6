"""go live: the day of each commune's first sweep, and the items held at go-live

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 12:00:00.000000
"""
from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'go_live',
        sa.Column('commune', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('commune'),
    )
    with op.batch_alter_table('work_item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('held_on', sa.Date(), nullable=True))
    _record_first_sweeps()


def _record_first_sweeps() -> None:
    """A database that ran before this revision went live long ago: its go-live is the day
    its first item opened (local date, Asia/Ho_Chi_Minh), not the day of the upgrade."""
    zone = ZoneInfo('Asia/Ho_Chi_Minh')
    item = sa.table(
        'work_item',
        sa.column('commune', sa.String()),
        sa.column('opened_at', sqlmodel.sql.sqltypes.UTCDateTime()),
    )
    go_live = sa.table(
        'go_live',
        sa.column('commune', sa.String()),
        sa.column('day', sa.Date()),
        sa.column('at', sqlmodel.sql.sqltypes.UTCDateTime()),
    )
    bind = op.get_bind()
    first = bind.execute(
        sa.select(item.c.commune, sa.func.min(item.c.opened_at)).group_by(item.c.commune)
    ).all()
    rows = []
    for commune, at in first:
        if isinstance(at, str):  # SQLite without the column's type on an aggregate
            at = datetime.fromisoformat(at)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        rows.append({'commune': commune, 'day': at.astimezone(zone).date(), 'at': at})
    if rows:
        op.bulk_insert(go_live, rows)


def downgrade() -> None:
    with op.batch_alter_table('work_item', schema=None) as batch_op:
        batch_op.drop_column('held_on')
    op.drop_table('go_live')
