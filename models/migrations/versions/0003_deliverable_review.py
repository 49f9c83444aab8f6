"""deliverable review: parts of a version, content type, status, timeliness, review

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 21:10:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('deliverable', schema=None) as batch_op:
        batch_op.add_column(sa.Column('part', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('file_type', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch_op.add_column(sa.Column('on_time', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), server_default='received', nullable=False))
        batch_op.add_column(sa.Column('reviewed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('reviewed_by', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column('review_note', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.drop_constraint('uq_deliverable_version', type_='unique')
        batch_op.create_unique_constraint('uq_deliverable_part', ['item_id', 'version', 'part'])


def downgrade() -> None:
    with op.batch_alter_table('deliverable', schema=None) as batch_op:
        batch_op.drop_constraint('uq_deliverable_part', type_='unique')
        batch_op.create_unique_constraint('uq_deliverable_version', ['item_id', 'version'])
        batch_op.drop_column('review_note')
        batch_op.drop_column('reviewed_by')
        batch_op.drop_column('reviewed_at')
        batch_op.drop_column('status')
        batch_op.drop_column('on_time')
        batch_op.drop_column('file_type')
        batch_op.drop_column('part')
