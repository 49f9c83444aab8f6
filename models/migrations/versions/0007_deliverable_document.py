"""deliverable: a version received through the document-management system, without a file

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 10:00:00.000000

`doc_number` is the official document's number and symbol ("số, ký hiệu văn bản", e.g.
12/BC-CAX) and `doc_date` its date, the date it was received: such a version has no bytes
(`size` 0, `sha256` and `stored_path` empty).
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('deliverable', schema=None) as batch_op:
        batch_op.add_column(sa.Column('doc_number', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('doc_date', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('deliverable', schema=None) as batch_op:
        batch_op.drop_column('doc_date')
        batch_op.drop_column('doc_number')
