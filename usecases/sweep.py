"""The sweep: make the database what the plan says it should be at instant t.

Level-triggered: each run recomputes what must exist by t and creates only what is missing, so
retries, missed runs, catch-up after downtime and two runners racing are all harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Engine, and_, or_, select
from sqlmodel import Session

from models.db import transaction
from models.store import (
    insert_missing,
    log_event,
    outbox_rows,
    queue_notices,
    transition,
    upsert,
)
from models.tables import OpeningMark, Outbox, WorkItem
from schedules.dates import local_date
from schedules.notices import opening_notices, step_notices
from schedules.occurrences import Occurrence
from schedules.plan import Plan
from schedules.timeline import Step, current_step, state_at, step_index
from schedules.transitions import ItemEvent
from schedules.vocabulary import OPEN_STATUSES

BATCH = 500


@dataclass
class SweepReport:
    at: datetime
    opened: list[tuple[int, str, str, str]] = field(default_factory=list)
    """(item id, obligation, unit, period) of items this sweep opened."""
    advanced: list[tuple[int, str, str]] = field(default_factory=list)
    """(item id, step, status) of items this sweep moved to a later step."""
    queued: int = 0
    """Outbox rows queued."""


def sweep(plan: Plan, engine: Engine, at: datetime) -> SweepReport:
    """One sweep as of `at` (aware).

    1. open the items whose opening date has come (per obligation, only occurrences not yet
       looked at, see `OpeningMark`), each with the step it has reached by `at`;
    2. move every open item whose next action instant has passed to its current step, queueing
       that step's notifications only: after downtime an item gets one notice, not a burst.
    """
    report = SweepReport(at)
    open_due_items(plan, engine, at, report)
    advance_items(plan, engine, at, report)
    return report


def open_due_items(plan: Plan, engine: Engine, at: datetime, report: SweepReport) -> None:
    today = local_date(at, plan.zone)
    commune = plan.commune
    with transaction(engine) as session:
        marks = {
            m.obligation: m
            for m in session.exec(
                select(OpeningMark).where(OpeningMark.commune == commune.code)
            ).scalars()
        }
    for oid in plan.schedules:
        fingerprint = plan.fingerprint(oid)
        mark = marks.get(oid)
        if mark is not None and mark.fingerprint == fingerprint:
            if mark.opened_through >= today:
                continue
            since = mark.opened_through + timedelta(days=1)
        else:
            # Not clamped to the plan's first day: an item due early in the plan may open
            # before it, and the first sweep opens it.
            since = today - timedelta(days=commune.catch_up_days)
        due_now = plan.acted_on(since, today, obligation=oid, by="opens")
        with transaction(engine) as session:
            _open(plan, session, due_now, at, report)
            _advance_mark(session, commune.code, oid, fingerprint, today)


def open_period(
    plan: Plan, engine: Engine, obligation: str, period: str, at: datetime
) -> SweepReport:
    """Open the items of one occurrence (every lead unit) if missing: what a scheduled opening
    run does. Occurrences the engine does not act on (`Plan.acted_on`) are left alone."""
    report = SweepReport(at)
    found = [
        o
        for o in plan.acted_on(
            plan.commune.plan_start, local_date(at, plan.zone), obligation=obligation, by="opens"
        )
        if o.period.key == period
    ]
    with transaction(engine) as session:
        _open(plan, session, found, at, report)
    return report


def _open(
    plan: Plan, session: Session, occurrences: list[Occurrence], at: datetime, report: SweepReport
) -> None:
    for occ in occurrences:
        ob = plan.obligations[occ.obligation]
        steps = plan.timeline(occ.obligation, occ.due.due, at)
        now = current_step(steps, at)
        row = dict(
            commune=plan.commune.code,
            obligation=occ.obligation,
            unit=occ.unit,
            period=occ.period.key,
            title=ob.title,
            window_start=occ.period.window_start,
            window_end=occ.period.window_end,
            opens_on=occ.opens,
            due=occ.due.due,
            nominal_due=occ.due.nominal,
            adhoc=False,
            opened_at=at,
            **state_at(steps, now),
        )
        for item_id in insert_missing(session, WorkItem, [row]):
            report.opened.append((item_id, occ.obligation, occ.unit, occ.period.key))
            log_event(
                session,
                item_id,
                at,
                "opened",
                period=occ.period.key,
                due=occ.due.due.isoformat(),
                step=steps[now].name,
            )
            report.queued += queue_opening(plan, session, item_id, occ.unit, steps[now], at)


def queue_opening(
    plan: Plan, session: Session, item_id: int, unit: str, reached: Step, at: datetime
) -> int:
    """Queue the mails of an item just opened (`schedules.notices.opening_notices`)."""
    return queue_notices(session, item_id, opening_notices(plan, unit, reached), at)


def _advance_mark(session: Session, commune: str, oid: str, fingerprint: str, today: date):
    upsert(
        session,
        OpeningMark,
        dict(commune=commune, obligation=oid, fingerprint=fingerprint, opened_through=today),
    )


def advance_items(plan: Plan, engine: Engine, at: datetime, report: SweepReport) -> None:
    """Process, batch by batch, the open items whose next action instant is not after `at`.

    The read follows the index (commune, next_action_at), paged by (next_action_at, id): its
    cost grows with the items due, not with the history.
    """
    cursor: tuple[datetime, int] | None = None
    while True:
        query = select(WorkItem).where(
            WorkItem.commune == plan.commune.code,
            WorkItem.next_action_at <= at,
            WorkItem.status.in_(OPEN_STATUSES),
        )
        if cursor is not None:
            query = query.where(
                or_(
                    WorkItem.next_action_at > cursor[0],
                    and_(WorkItem.next_action_at == cursor[0], WorkItem.id > cursor[1]),
                )
            )
        query = query.order_by(WorkItem.next_action_at, WorkItem.id).limit(BATCH)
        with transaction(engine) as session:
            items = session.exec(query).scalars().all()
            notices: list[dict] = []
            for item in items:
                notices += _advance(plan, session, item, at, report)
            report.queued += len(insert_missing(session, Outbox, notices))
        if len(items) < BATCH:
            return
        cursor = (items[-1].next_action_at, items[-1].id)


def _advance(
    plan: Plan, session: Session, item: WorkItem, at: datetime, report: SweepReport
) -> list[dict]:
    """Move one item to the step it has reached; return the notifications to queue."""
    steps = plan.timeline(item.obligation, item.due, item.opened_at)
    done = step_index(steps, item.step)
    now = max(current_step(steps, at), done)
    # Compare-and-set on the step: if another runner moved the item first, leave it to it.
    moved = transition(
        session, item.id, ItemEvent.ADVANCE, at_step=item.step, **state_at(steps, now)
    )
    if not moved or now == done:
        return []
    reached = steps[now]
    skipped = [s.name for s in steps[done + 1 : now]]
    log_event(session, item.id, at, reached.kind, step=reached.name, skipped=skipped)
    report.advanced.append((item.id, reached.name, reached.status))
    if item.unit not in plan.units:
        reason = f"unit {item.unit} is no longer in the config"
        log_event(session, item.id, at, "undeliverable", step=reached.name, reason=reason)
    return outbox_rows(item.id, step_notices(plan, item.unit, reached), at)
