"""The sweep: make the database what the plan says it should be at instant t.

Level-triggered: each run recomputes what must exist by t and creates only what is missing, so
retries, missed runs, catch-up after downtime and two runners racing are all harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Engine, and_, or_, select, update
from sqlmodel import Session

from models.db import transaction
from models.store import insert_missing, log_event, outbox_rows, upsert
from models.tables import OPEN_STATUSES, OpeningMark, Outbox, WorkItem
from schedules.dates import local_date
from schedules.occurrences import Occurrence
from schedules.plan import Plan
from schedules.timeline import Step, current_step, step_index, timeline

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
            since = max(commune.plan_start, today - timedelta(days=commune.catch_up_days))
        due_now = [
            o
            for o in plan.occurrences(since, today, obligation=oid, by="opens")
            if o.due.due >= commune.start
        ]
        with transaction(engine) as session:
            _open(plan, session, due_now, at, report)
            _advance_mark(session, commune.code, oid, fingerprint, today)


def open_period(
    plan: Plan, engine: Engine, obligation: str, period: str, at: datetime
) -> SweepReport:
    """Open the items of one occurrence (every lead unit) if missing: what a scheduled opening
    run does. Occurrences due before the commune's start date are left alone."""
    report = SweepReport(at)
    today = local_date(at, plan.zone)
    found = [
        o
        for o in plan.occurrences(
            plan.commune.plan_start, plan.commune.plan_end, obligation=obligation, by="opens"
        )
        if o.period.key == period and o.opens <= today and o.due.due >= plan.commune.start
    ]
    with transaction(engine) as session:
        _open(plan, session, found, at, report)
    return report


def _open(
    plan: Plan, session: Session, occurrences: list[Occurrence], at: datetime, report: SweepReport
) -> None:
    for occ in occurrences:
        ob = plan.obligations[occ.obligation]
        steps = item_steps(plan, occ.obligation, occ.due.due, at)
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
    plan: Plan, session: Session, item_id: int, unit: str, now: Step, at: datetime
) -> int:
    """The assignment mail to the unit; an item opened already escalated also escalates now."""
    notices = outbox_rows(item_id, "opened", "opened", [plan.units[unit].email], at)
    if now.kind == "escalation":
        notices += step_notifications(plan, session, item_id, unit, now, at)
    return len(insert_missing(session, Outbox, notices))


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
    steps = item_steps(plan, item.obligation, item.due, item.opened_at)
    done = step_index(steps, item.step)
    now = max(current_step(steps, at), done)
    # Compare-and-set on the step: if another runner moved the item first, leave it to it.
    changed = session.execute(
        update(WorkItem)
        .where(
            WorkItem.id == item.id, WorkItem.step == item.step, WorkItem.status.in_(OPEN_STATUSES)
        )
        .values(**state_at(steps, now))
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1 or now == done:
        return []
    skipped = [s.name for s in steps[done + 1 : now]]
    log_event(session, item.id, at, steps[now].kind, step=steps[now].name, skipped=skipped)
    report.advanced.append((item.id, steps[now].name, steps[now].status))
    return step_notifications(plan, session, item.id, item.unit, steps[now], at)


def step_notifications(
    plan: Plan, session: Session, item_id: int, unit: str, step: Step, at: datetime
) -> list[dict]:
    """Outbox rows for a step: the unit hears of its own item; an escalation goes to its
    targets with the standing office in copy."""
    if unit not in plan.units:
        log_event(
            session,
            item_id,
            at,
            "undeliverable",
            step=step.name,
            reason=f"unit {unit} is no longer in the config",
        )
        return []
    if step.kind != "escalation":
        return outbox_rows(item_id, step.name, step.kind, [plan.units[unit].email], at)
    office = plan.units[plan.commune.standing_office].email
    rows = outbox_rows(item_id, step.name, step.kind, plan.recipients(step.to, unit), at)
    if rows and office not in {r["recipient"] for r in rows}:
        rows[0]["cc"] = [office]  # one copy for the standing office, not one per leader
    return rows


def item_steps(plan: Plan, obligation: str, due: date, opened_at: datetime) -> list[Step]:
    return timeline(
        due, opened_at, plan.policy(obligation), plan.calendar, plan.zone, plan.commune.sweep_time
    )


def state_at(steps: list[Step], index: int) -> dict:
    step = steps[index]
    following = steps[index + 1] if index + 1 < len(steps) else None
    return dict(
        status=step.status,
        step=step.name,
        escalation_level=step.level,
        next_action_at=following.at if following else None,
    )
