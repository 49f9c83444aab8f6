"""Read-only views of the outbox, for `cchc outbox` and `cchc items`."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import Engine, select
from sqlmodel import col

from models.db import transaction
from models.store import rounds_by_item
from models.tables import Outbox, WorkItem
from schedules.notices import digest_addresses, in_digest
from schedules.plan import Plan
from schedules.step_names import parse_step


def list_outbox(
    plan: Plan, engine: Engine, status: str | None = None, item_id: int | None = None
) -> list[dict]:
    from notifications.message import message_id  # the email package: not for `cchc items`

    query = (
        select(Outbox, col(WorkItem.unit))
        .join(WorkItem, col(WorkItem.id) == col(Outbox.item_id))
        .where(col(WorkItem.commune) == plan.commune.code)
    )
    if status is not None:
        query = query.where(col(Outbox.status) == status)
    if item_id is not None:
        query = query.where(col(Outbox.item_id) == item_id)
    with transaction(engine) as session:
        found = session.execute(query.order_by(col(Outbox.id))).all()
        rounds = rounds_by_item(session, {row.item_id for row, _ in found})
    digest_to = digest_addresses(plan)

    def msg_id(row: Outbox) -> str | None:
        """The id the mail was sent with; not sent yet, the id it will have, or None for a row
        that goes out in a digest (whose id names the whole digest)."""
        if row.message_id is not None:
            return row.message_id
        if in_digest(row.recipient, row.cc, digest_to):
            return None
        name = parse_step(row.step)  # as `notifications.mail.row_message_id`
        round_no = name.archived - 1 if name.archived else rounds.get(row.item_id, 0)
        step = str(replace(name, archived=None))
        to = row.addressed_to or row.recipient
        return message_id(plan.commune.code, row.item_id, step, to, round_no)

    return [
        {
            "id": row.id,
            "item_id": row.item_id,
            "unit": unit,
            "kind": row.kind,
            "step": row.step,
            "recipient": row.recipient,
            "cc": row.cc,
            "addressed_to": row.addressed_to,
            "status": row.status,
            "attempts": row.attempts,
            "created_at": row.created_at,
            "send_after": row.send_after,
            "sent_at": row.sent_at,
            "last_error": row.last_error,
            "message_id": msg_id(row),
        }
        for row, unit in found
    ]
