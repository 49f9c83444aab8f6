"""directives, extensions, and the due dates an honest verdict needs

Revision ID: 0011
Revises: 0010
Create Date: 2027-01-04 09:00:00.000000

`directive`: a directive (văn bản chỉ đạo) the office acts on, one work item per lead unit
(`work_item.directive_id`). `extension`: a unit's request for more time, or a grant.
`work_item.original_due`: the first due date in force; `work_item.judged_due`: the due date in
force when the first version arrived, against which `on_time` was judged.

Existing rows: `original_due` is the due date before the first return (the `returned` event's
`previous_due`), else `due`; an item with a version was judged against that date, and a
returned item takes back its first version's verdict (a return used to reset it).
"""
from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'directive',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('commune', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('number', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('issued_on', sa.Date(), nullable=False),
        sa.Column('issuer', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('task', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('product', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('due', sa.Date(), nullable=False),
        sa.Column('obligation', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('units', sa.JSON(), nullable=False),
        sa.Column('coordinators', sa.JSON(), nullable=False),
        sa.Column('file_name', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('file_size', sa.Integer(), nullable=True),
        sa.Column('file_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('file_path', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('file_type', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column('recorded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('recorded_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('commune', 'number', 'issued_on', name='uq_directive_document'),
    )
    op.create_table(
        'extension',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('requested_by', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column('requested_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('proposed_due', sa.Date(), nullable=True),
        sa.Column('decided_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('decision_note', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('previous_due', sa.Date(), nullable=True),
        sa.Column('granted_due', sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(['item_id'], ['work_item.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('item_id', 'seq', name='uq_extension_seq'),
    )
    op.create_index(op.f('ix_extension_item_id'), 'extension', ['item_id'], unique=False)
    op.add_column('work_item', sa.Column('original_due', sa.Date(), nullable=True))
    op.add_column('work_item', sa.Column('judged_due', sa.Date(), nullable=True))
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite takes an inline REFERENCES on a NULL column; alembic would copy work_item into
        # a new table and drop the old one, which the rows referring to it forbid.
        op.execute('ALTER TABLE work_item ADD COLUMN directive_id INTEGER REFERENCES directive (id)')
    else:
        op.add_column('work_item', sa.Column('directive_id', sa.Integer(), nullable=True))
        op.create_foreign_key(
            'fk_work_item_directive_id', 'work_item', 'directive', ['directive_id'], ['id']
        )
    op.create_index(
        op.f('ix_work_item_directive_id'), 'work_item', ['directive_id'], unique=False
    )
    _backfill()


def _backfill() -> None:
    bind = op.get_bind()
    item = sa.table(
        'work_item',
        sa.column('id', sa.Integer()),
        sa.column('due', sa.Date()),
        sa.column('original_due', sa.Date()),
        sa.column('judged_due', sa.Date()),
        sa.column('on_time', sa.Boolean()),
    )
    event = sa.table(
        'event',
        sa.column('id', sa.Integer()),
        sa.column('item_id', sa.Integer()),
        sa.column('kind', sa.String()),
        sa.column('detail', sa.JSON()),
    )
    deliverable = sa.table(
        'deliverable',
        sa.column('item_id', sa.Integer()),
        sa.column('version', sa.Integer()),
        sa.column('on_time', sa.Boolean()),
    )
    bind.execute(item.update().values(original_due=item.c.due))
    first_return: dict[int, str] = {}
    returns = sa.select(event.c.item_id, event.c.detail).where(event.c.kind == 'returned')
    for item_id, detail in bind.execute(returns.order_by(event.c.id)):
        previous = (detail or {}).get('previous_due')
        if item_id is not None and previous and item_id not in first_return:
            first_return[item_id] = previous
    for item_id, previous in first_return.items():
        bind.execute(
            item.update()
            .where(item.c.id == item_id)
            .values(original_due=date.fromisoformat(previous))
        )
    has_version = sa.exists().where(deliverable.c.item_id == item.c.id)
    bind.execute(item.update().where(has_version).values(judged_due=item.c.original_due))
    for item_id in first_return:
        first = bind.execute(
            sa.select(deliverable.c.on_time)
            .where(deliverable.c.item_id == item_id)
            .order_by(deliverable.c.version)
            .limit(1)
        ).scalar()
        if first is not None:
            bind.execute(item.update().where(item.c.id == item_id).values(on_time=first))


def downgrade() -> None:
    op.drop_index(op.f('ix_work_item_directive_id'), table_name='work_item')
    if op.get_bind().dialect.name != 'sqlite':
        op.drop_constraint('fk_work_item_directive_id', 'work_item', type_='foreignkey')
    with op.batch_alter_table('work_item', schema=None) as batch_op:
        batch_op.drop_column('directive_id')
        batch_op.drop_column('judged_due')
        batch_op.drop_column('original_due')
    op.drop_index(op.f('ix_extension_item_id'), table_name='extension')
    op.drop_table('extension')
    op.drop_table('directive')
