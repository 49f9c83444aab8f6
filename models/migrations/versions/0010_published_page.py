"""published page: as of what each status page of the Prefect UI was last published

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 03:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'published_page',
        sa.Column('commune', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('page', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('fingerprint', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('commune', 'page'),
    )


def downgrade() -> None:
    op.drop_table('published_page')
