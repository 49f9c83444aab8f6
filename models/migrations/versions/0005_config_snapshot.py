"""config snapshot: the last valid config applied to the database

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 17:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'config_snapshot',
        sa.Column('commune', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('fingerprint', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('files', sa.JSON(), nullable=False),
        sa.Column('saved_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('commune'),
    )


def downgrade() -> None:
    op.drop_table('config_snapshot')
