"""The standing office sorts out what was held at go-live (`usecases.golive`): re-open a held
item with a fresh due date (its normal ladder then runs from it: opening mail, reminders, due
day, overdue, escalations), or waive it with a reason. Each decision is an event; nothing is
mailed for a held item before it."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Engine, select
from sqlmodel import col

from models.db import transaction
from models.store import log_event, transition
from models.tables import WorkItem
from schedules.dates import local_date, vn_date
from schedules.documents import clean_text
from schedules.plan import Plan
from schedules.timeline import current_step, state_at
from schedules.transitions import ItemEvent
from schedules.vocabulary import EventKind, ItemStatus, StepKind
from usecases.errors import UserError
from usecases.items import get_item
from usecases.lifecycle import waive
from usecases.sweep import queue_opening

OFFICE = "standing_office"
MAX_REASON = 2000


def held_items(plan: Plan, engine: Engine, decided: bool = False) -> list[WorkItem]:
    """The commune's items held at go-live still waiting for the office, by due date; with
    `decided`, every item ever held (re-opened, waived, closed since) too."""
    query = select(WorkItem).where(col(WorkItem.commune) == plan.commune.code)
    if decided:
        query = query.where(col(WorkItem.held_on).is_not(None))
    else:
        query = query.where(col(WorkItem.status) == ItemStatus.HELD)
    with transaction(engine) as session:
        found = list(session.scalars(query.order_by(col(WorkItem.due), col(WorkItem.id))))
        for item in found:
            session.expunge(item)
        return found


def _reason(text: str | None, required: str | None) -> str:
    reason = clean_text(text)
    if required and not reason:
        raise UserError(required)
    if len(reason) > MAX_REASON:
        raise UserError(f"Lý do dài quá {MAX_REASON} ký tự.")
    return reason


def _held(item: WorkItem) -> None:
    if item.status != ItemStatus.HELD:
        raise UserError(
            f"Nhiệm vụ số {item.id} không phải việc tồn đọng đang chờ xử lý (trạng thái "
            f"{item.status}): xem danh sách bằng `cchc triage`."
        )


def reopen_held(
    plan: Plan,
    engine: Engine,
    item_id: int,
    new_due: date,
    reason: str | None,
    at: datetime,
    actor: str = OFFICE,
) -> WorkItem:
    """Re-open a held item with a fresh due date (not in the past; moved off a day off as the
    obligation's policy says, `Plan.effective_due`). In one transaction: the item opens anew at
    `at` (compare-and-set from `held`), at the step its timeline for the new date has reached,
    its plan's due date kept as `original_due`; a `resumed` event records the decision (both
    dates, the reason); its opening mails are queued (the unit, its coordinating units while
    their date lies ahead). The ladder then runs as for any item."""
    reason = _reason(reason, None)
    today = local_date(at, plan.zone)
    if new_due < today:
        raise UserError(f"Hạn mới {vn_date(new_due)} đã qua: chọn từ hôm nay trở đi.")
    with transaction(engine) as session:
        item = get_item(session, plan, item_id)
        _held(item)
        effective = plan.effective_due(item.obligation, new_due)
        steps = plan.timeline(item.obligation, effective.due, at)
        now = current_step(steps, at)
        moved = transition(
            session,
            item_id,
            ItemEvent.RESUME,
            at_step=StepKind.HELD,
            due=effective.due,
            nominal_due=effective.nominal,
            opened_at=at,
            **state_at(steps, now),
        )
        if not moved:
            raise UserError(f"Nhiệm vụ số {item_id} vừa thay đổi; hãy thử lại.")
        log_event(
            session,
            item_id,
            at,
            EventKind.RESUMED,
            actor=actor,
            due=effective.due.isoformat(),
            plan_due=(item.original_due or item.due).isoformat(),
            basis=effective.basis,
            reason=reason,
        )
        queue_opening(
            plan, session, item_id, item.obligation, item.unit, steps[now], at, effective.due
        )
        session.flush()
        session.refresh(item)
        session.expunge(item)
        return item


def waive_held(
    plan: Plan, engine: Engine, item_id: int, reason: str, at: datetime, actor: str = OFFICE
) -> WorkItem:
    """Waive a held item with a reason (`usecases.lifecycle.waive`: event `waived`), only while
    it is still held: one the office re-opened meanwhile (another tab, the command line) stays
    open."""
    reason = _reason(reason, "Cần nêu lý do miễn nhiệm vụ.")
    with transaction(engine) as session:
        _held(get_item(session, plan, item_id))  # the clear message; the waive checks again
    return waive(plan, engine, item_id, reason, at, actor=actor, at_step=StepKind.HELD)
