"""Use cases on one work item: open by hand (ad hoc), attach a deliverable and close, waive,
return a deliverable for correction."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Engine, func, select, update
from sqlmodel import Session

from models.db import transaction
from models.store import cancel_pending, insert_missing, log_event, queue_notifications
from models.tables import OPEN_STATUSES, Event, Outbox, WorkItem
from schedules.dates import end_of_day, local_date, vn_date
from schedules.plan import Plan
from usecases.errors import UserError
from usecases.sweep import current_step, item_steps, queue_opening, state_at


def get_item(session: Session, plan: Plan, item_id: int) -> WorkItem:
    item = session.get(WorkItem, item_id)
    if item is None or item.commune != plan.commune.code:
        raise UserError(f"no work item {item_id} (không có nhiệm vụ số {item_id})")
    return item


def open_adhoc(
    plan: Plan,
    engine: Engine,
    obligation: str,
    unit: str,
    due: date,
    at: datetime,
    actor: str = "admin",
) -> WorkItem:
    """Open an item by hand (a directive arrived); its period key is its due date."""
    if obligation not in plan.obligations:
        raise UserError(f"unknown obligation '{obligation}' (nhiệm vụ không tồn tại)")
    if unit not in plan.units:
        raise UserError(f"unknown unit '{unit}' (đơn vị không tồn tại)")
    today = local_date(at, plan.zone)
    if due < today:
        raise UserError(f"due date {vn_date(due)} is in the past (hạn đã qua)")
    steps = item_steps(plan, obligation, due, at)
    now = current_step(steps, at)
    row = dict(
        commune=plan.commune.code,
        obligation=obligation,
        unit=unit,
        period=due.isoformat(),
        title=plan.obligations[obligation].title,
        window_start=today,
        window_end=due,
        opens_on=today,
        due=due,
        adhoc=True,
        opened_at=at,
        **state_at(steps, now),
    )
    with transaction(engine) as session:
        ids = insert_missing(session, WorkItem, [row])
        if not ids:
            raise UserError(
                f"'{obligation}' for {unit} due {vn_date(due)} is already open (đã có nhiệm vụ này)"
            )
        log_event(session, ids[0], at, "opened", actor=actor, adhoc=True, due=due.isoformat())
        queue_opening(plan, session, ids[0], unit, steps[now], at)
        return session.get(WorkItem, ids[0])


def received_on_time(plan: Plan, due: date, at: datetime) -> bool:
    """The one rule of timeliness: received by the end of the due date, local time."""
    return at < end_of_day(due, plan.zone)


def close_item(plan: Plan, session: Session, item: WorkItem, at: datetime, by: str | None) -> None:
    """Close an open item (compare-and-set), cancel what was queued for it and tell the unit and
    the standing office; does nothing if another request closed it first."""
    on_time = received_on_time(plan, item.due, at)
    closed = session.execute(
        update(WorkItem)
        .where(WorkItem.id == item.id, WorkItem.status.in_(OPEN_STATUSES))
        .values(status="closed", step="closed", closed_at=at, on_time=on_time, next_action_at=None)
    ).rowcount
    if closed != 1:
        return
    cancel_pending(session, item.id, at)
    log_event(session, item.id, at, "closed", actor=by or "admin", on_time=on_time)
    recipients = [
        plan.units[u].email for u in (item.unit, plan.commune.standing_office) if u in plan.units
    ]
    queue_notifications(session, item.id, "closed", "closed", list(dict.fromkeys(recipients)), at)


def waive(
    plan: Plan, engine: Engine, item_id: int, reason: str, at: datetime, actor: str = "admin"
) -> WorkItem:
    reason = reason.strip()
    if not reason:
        raise UserError("a reason is required to waive an item (cần nêu lý do)")
    with transaction(engine) as session:
        item = get_item(session, plan, item_id)
        if item.status not in OPEN_STATUSES:
            raise UserError(f"item {item_id} is {item.status}, not open (nhiệm vụ không còn mở)")
        waived = session.execute(
            update(WorkItem)
            .where(WorkItem.id == item_id, WorkItem.status.in_(OPEN_STATUSES))
            .values(status="waived", step="waived", waived_reason=reason, next_action_at=None)
        ).rowcount
        if waived != 1:
            raise UserError(f"item {item_id} was closed meanwhile (nhiệm vụ vừa được đóng)")
        cancel_pending(session, item_id, at)
        log_event(session, item_id, at, "waived", actor=actor, reason=reason)
        session.flush()
        session.refresh(item)
        return item


def return_deliverable(
    plan: Plan,
    engine: Engine,
    item_id: int,
    reason: str,
    new_due: date,
    at: datetime,
    actor: str | None = None,
) -> WorkItem:
    """The standing office refuses a deliverable: reopen the item with a new due date.

    1. only a closed item can be returned, with a reason and a due date not in the past (a day
       off moves to the next working day when the obligation's policy shifts due dates);
    2. the item's outbox rows so far are renamed (`archive_outbox_steps`), so the new round's
       reminders, due-day notice, escalations and `closed` mail are queued afresh;
    3. the item reopens at the step its timeline, recomputed for the new due date, has reached
       by `at`, with no mail for the steps passed: the `returned` mail says it all;
    4. a `returned` mail is queued for the unit, copied to the standing office; the event is
       logged with the reason and both due dates.
    """
    reason = " ".join(reason.split())
    if not reason:
        raise UserError("a reason is required to return a deliverable (cần nêu lý do trả lại)")
    if new_due < local_date(at, plan.zone):
        raise UserError(f"due date {vn_date(new_due)} is in the past (hạn đã qua)")
    with transaction(engine) as session:
        return reopen_returned(plan, session, item_id, reason, new_due, at, actor)


def reopen_returned(
    plan: Plan,
    session: Session,
    item_id: int,
    reason: str,
    new_due: date,
    at: datetime,
    actor: str | None = None,
) -> WorkItem:
    """Steps 1-4 of `return_deliverable` inside the caller's transaction."""
    item = get_item(session, plan, item_id)
    if item.status != "closed":
        raise UserError(
            f"item {item_id} is {item.status}: only a closed item can be returned "
            "(chỉ trả lại được nhiệm vụ đã nộp sản phẩm)"
        )
    previous_due = item.due  # the ORM update below refreshes `item`
    if plan.policy(item.obligation).shift == "next_working_day":
        new_due = plan.calendar.next_working_day(new_due)  # BLDS, as for any due date
    earlier_returns = session.execute(
        select(func.count()).where(Event.item_id == item_id, Event.kind == "returned")
    ).scalar_one()
    rounds = earlier_returns + 1
    steps = item_steps(plan, item.obligation, new_due, item.opened_at)
    now = current_step(steps, at)
    reopened = session.execute(
        update(WorkItem)
        .where(WorkItem.id == item_id, WorkItem.status == "closed")
        .values(due=new_due, closed_at=None, on_time=None, **state_at(steps, now))
    ).rowcount
    if reopened != 1:
        raise UserError(f"item {item_id} changed meanwhile (nhiệm vụ vừa thay đổi)")
    archive_outbox_steps(session, item_id, rounds)
    step = f"returned-{rounds}"
    log_event(
        session,
        item_id,
        at,
        "returned",
        actor=actor or plan.commune.standing_office,
        step=step,
        reason=reason,
        due=new_due.isoformat(),
        previous_due=previous_due.isoformat(),
    )
    if item.unit in plan.units:
        office = plan.units.get(plan.commune.standing_office)
        queue_notifications(
            session,
            item_id,
            step,
            "returned",
            [str(plan.units[item.unit].email)],
            at,
            cc=[str(office.email)] if office else [],
        )
    session.flush()
    session.refresh(item)
    return item


def archive_outbox_steps(session: Session, item_id: int, round_no: int) -> int:
    """Rename the item's outbox rows `STEP#n` before the item starts a new round (a returned
    deliverable): the outbox key (item, step, recipient) would otherwise take the new round's
    `reminder-5`, `due`, ... for mails already sent and silently queue nothing. Rows already
    renamed keep their name. Returns the number of rows renamed."""
    earlier = session.execute(
        select(Outbox.id, Outbox.step).where(Outbox.item_id == item_id, Outbox.step.not_like("%#%"))
    ).all()
    for row_id, step in earlier:
        session.execute(
            update(Outbox).where(Outbox.id == row_id).values(step=f"{step[:28]}#{round_no}")
        )
    return len(earlier)
