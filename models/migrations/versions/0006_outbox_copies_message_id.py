"""outbox: a row per copy (Cc) recipient, and the Message-ID actually sent

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 22:00:00.000000

Each Cc recipient of a mail gets its own outbox row (`addressed_to` names the mail's To), so a
copy refused with 4xx is retried and one refused for good is reported, like any recipient.
Pending rows with a copy get their copy rows here; rows already sent keep their note.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('addressed_to', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column('message_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))
    _copy_rows_of_pending_mails()


def _copy_rows_of_pending_mails() -> None:
    """One pending copy row per Cc address of each pending mail (the copy was never sent)."""
    outbox = sa.table(
        'outbox',
        sa.column('id', sa.Integer()),
        sa.column('item_id', sa.Integer()),
        sa.column('step', sa.String()),
        sa.column('kind', sa.String()),
        sa.column('recipient', sa.String()),
        sa.column('cc', sa.JSON()),
        sa.column('status', sa.String()),
        sa.column('created_at', sqlmodel.sql.sqltypes.UTCDateTime()),
        sa.column('send_after', sqlmodel.sql.sqltypes.UTCDateTime()),
        sa.column('attempts', sa.Integer()),
        sa.column('addressed_to', sa.String()),
    )
    bind = op.get_bind()
    pending = bind.execute(
        sa.select(outbox).where(outbox.c.status == 'pending', outbox.c.addressed_to.is_(None))
    ).mappings().all()
    taken = {
        (r.item_id, r.step, r.recipient.lower())
        for r in bind.execute(sa.select(outbox.c.item_id, outbox.c.step, outbox.c.recipient))
    }
    copies = []
    for row in pending:
        for cc in row['cc'] or []:
            key = (row['item_id'], row['step'], cc.lower())
            if key in taken:
                continue
            taken.add(key)
            copies.append(
                dict(
                    item_id=row['item_id'],
                    step=row['step'],
                    kind=row['kind'],
                    recipient=cc,
                    cc=list(row['cc']),
                    status='pending',
                    created_at=row['created_at'],
                    send_after=row['send_after'],
                    attempts=0,
                    addressed_to=row['recipient'],
                )
            )
    if copies:
        bind.execute(sa.insert(outbox), copies)


def downgrade() -> None:
    op.execute("DELETE FROM outbox WHERE addressed_to IS NOT NULL")
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('message_id')
        batch_op.drop_column('addressed_to')
