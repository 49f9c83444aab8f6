"""One work item of a commune: finding it, and closing it when its product is handed in or
accepted. Below both `usecases.lifecycle` and `usecases.handin`, which close items."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from models.store import (
    cancel_pending,
    escalations_sent_to,
    log_event,
    queue_notices,
    transition,
)
from models.tables import WorkItem, saved_id
from schedules.dates import local_date
from schedules.notices import closed_notices, correction_notices
from schedules.occurrences import DueDate
from schedules.plan import Plan
from schedules.timeline import Step, current_step, state_at
from schedules.transitions import ItemEvent
from schedules.vocabulary import EventKind, ItemStatus, StepKind
from usecases.errors import unknown_item


def get_item(session: Session, plan: Plan, item_id: int) -> WorkItem:
    """The plan's commune's item `item_id`; UserError when there is none."""
    item = session.get(WorkItem, item_id)
    if item is None or item.commune != plan.commune.code:
        raise unknown_item(item_id)
    return item


def close_item(
    plan: Plan,
    session: Session,
    item: WorkItem,
    at: datetime,
    by: str | None,
    received_at: datetime | None = None,
) -> bool:
    """Close an open item (compare-and-set), cancel what was queued for it and tell the unit and
    the standing office. The first version decides the verdict (`schedules.timeliness`): on
    time is judged at `received_at` (default `at`: a document received earlier through the
    document-management system is judged by its date) against the due date in force, which is
    kept as `judged_due`; an item returned and closed again keeps its verdict. False, and
    nothing done, when another request closed it first."""
    item_id = saved_id(item)
    first = item.on_time is None
    on_time = plan.received_on_time(item.due, received_at or at) if first else item.on_time
    judged: dict[str, Any] = {"judged_due": item.due} if first else {}
    closed = transition(
        session,
        item_id,
        ItemEvent.CLOSE,
        status=ItemStatus.CLOSED,
        step=StepKind.CLOSED,
        closed_at=at,
        on_time=on_time,
        next_action_at=None,
        **judged,
    )
    if not closed:
        return False
    cancel_pending(session, item_id, at)
    log_event(session, item_id, at, EventKind.CLOSED, actor=by or "admin", on_time=on_time)
    queue_notices(session, item_id, closed_notices(plan, item.unit, obligation=item.obligation), at)
    if item.escalation_level:  # those told of its escalations hear it arrived
        told = escalations_sent_to(session, item_id)
        queue_notices(
            session, item_id, correction_notices(plan, item.unit, told, item.obligation), at
        )
    return True


def ad_hoc_row(
    plan: Plan,
    obligation: str,
    unit: str,
    effective: DueDate,
    at: datetime,
    **fields: Any,
) -> tuple[dict[str, Any], list[Step], int]:
    """The `work_item` row of an item opened by hand at `at` (`open_ad_hoc`, a directive's),
    due on `effective`, at the step of its timeline it has reached; `fields`: its title,
    period, window start and any other column. Returns the row, the timeline and the index of
    the current step."""
    steps = plan.timeline(obligation, effective.due, at)
    now = current_step(steps, at)
    today = local_date(at, plan.zone)
    row = dict(
        commune=plan.commune.code,
        obligation=obligation,
        unit=unit,
        window_start=today,
        window_end=effective.due,
        opens_on=today,
        due=effective.due,
        nominal_due=effective.nominal,
        original_due=effective.due,
        adhoc=True,
        opened_at=at,
        **state_at(steps, now),
    )
    return row | fields, steps, now
