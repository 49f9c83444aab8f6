"""The sweep: make the database what the plan says it should be at instant t.

Level-triggered: each run recomputes what must exist by t and creates only what is missing, so
retries, missed runs, catch-up after downtime and two runners racing are all harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, or_, select
from sqlmodel import Session, col

from models.db import transaction
from models.store import (
    insert_missing,
    log_event,
    log_events,
    outbox_rows,
    queue_notices,
    queue_rows,
    transition_many,
    upsert,
)
from models.tables import OpeningMark, WorkItem, table_of
from schedules.dates import local_date
from schedules.notices import opening_notices, step_notices
from schedules.occurrences import Occurrence
from schedules.plan import Plan
from schedules.timeline import Step, current_step, state_at, step_index
from schedules.transitions import ItemEvent
from schedules.vocabulary import OPEN_STATUSES, EventKind, ItemStatus, StepKind
from usecases.golive import go_live_of, waive_superseded
from usecases.overview import queue_overviews

BATCH = 2000
"""Items advanced per transaction: few commits (SQLite syncs its log at each), a transaction
short enough that the intake's writes wait for it a fraction of a second, and on PostgreSQL
rows enough per statement (`models.bulk`) while two runners still share the work."""


@dataclass
class SweepReport:
    at: datetime
    opened: list[tuple[int, str, str, str]] = field(default_factory=list)
    """(item id, obligation, unit, period) of items this sweep opened."""
    advanced: list[tuple[int, str, str]] = field(default_factory=list)
    """(item id, step, status) of items this sweep moved to a later step."""
    queued: int = 0
    """Outbox rows queued."""
    communes: dict[int, str] = field(default_factory=dict)
    """The commune of each item opened or moved, or whose quarterly overview was queued (a
    city's sweep covers many)."""
    held: list[tuple[int, str, str, str]] = field(default_factory=list)
    """(item id, obligation, unit, period) of items opened held: due before the commune's
    go-live date (`usecases.golive`), not mailed until the office sorts them out."""
    superseded: list[int] = field(default_factory=list)
    """Held reports this sweep waived: a later held report of the unit covers them."""


def sweep(plan: Plan, engine: Engine, at: datetime) -> SweepReport:
    """One commune's sweep as of `at` (aware): `sweep_communes` of that commune alone."""
    return sweep_communes([plan], engine, at)


def sweep_communes(plans: Sequence[Plan], engine: Engine, at: datetime) -> SweepReport:
    """One sweep of every commune of `plans` as of `at` (aware).

    1. open the items whose opening date has come (per obligation, only occurrences not yet
       looked at, see `OpeningMark`), each with the step it has reached by `at`;
    2. move every open item whose next action instant has passed to its current step, queueing
       that step's notifications only: after downtime an item gets one notice, not a burst.
       One read for all communes, paged: its cost follows the items due, not the communes;
    3. queue each quarter's overview to the leaders whose sending day has come
       (`usecases.overview`), once.
    """
    report = SweepReport(at)
    marks = opening_marks(engine)
    for plan in plans:
        if opening_due(plan, marks.get(plan.commune.code, {}), at):
            open_due_items(plan, engine, at, report)
    advance_items(plans, engine, at, report)
    for plan in plans:
        overviews = queue_overviews(plan, engine, at)
        report.queued += sum(overviews.values())
        report.communes |= dict.fromkeys(overviews, plan.commune.code)
    return report


def opening_marks(engine: Engine) -> dict[str, dict[str, tuple[str, date]]]:
    """Every opening mark, by commune and obligation: (fingerprint, opened through). One read
    for the whole city, so that a commune with nothing to open costs no transaction."""
    mark = table_of(OpeningMark).c
    query = select(mark.commune, mark.obligation, mark.fingerprint, mark.opened_through)
    found: dict[str, dict[str, tuple[str, date]]] = {}
    with engine.connect() as connection:
        for commune, obligation, fingerprint, through in connection.execute(query):
            found.setdefault(commune, {})[obligation] = (fingerprint, through)
    return found


def opening_due(plan: Plan, marks: dict[str, tuple[str, date]], at: datetime) -> bool:
    """Whether `open_due_items` has anything to look at: an obligation of the plan whose mark is
    missing, of another fingerprint, or behind the day of `at` (read before any lock: the
    opening itself reads the marks again in its transaction)."""
    today = local_date(at, plan.zone)
    for oid in plan.schedules:
        mark = marks.get(oid)
        if mark is None or mark[0] != plan.fingerprint(oid) or mark[1] < today:
            return True
    return False


def open_due_items(plan: Plan, engine: Engine, at: datetime, report: SweepReport) -> None:
    """Open the commune's items whose opening date has come, in one transaction with the
    obligations' marks (nothing to write on a day already looked at)."""
    today = local_date(at, plan.zone)
    commune = plan.commune
    held_before = len(report.held)
    with transaction(engine) as session:
        go_live = go_live_of(plan, session, at)
        marks = {
            m.obligation: m
            for m in session.scalars(
                select(OpeningMark).where(col(OpeningMark.commune) == commune.code)
            )
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
            _open(plan, session, due_now, at, report, go_live)
            _advance_mark(session, commune.code, oid, fingerprint, today)
        if len(report.held) > held_before:  # this commune held some: waive the covered ones
            report.superseded += waive_superseded(plan, session, go_live, at)


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
        go_live = go_live_of(plan, session, at)
        _open(plan, session, found, at, report, go_live)
        if report.held:
            report.superseded += waive_superseded(plan, session, go_live, at)
    return report


def _open(
    plan: Plan,
    session: Session,
    occurrences: list[Occurrence],
    at: datetime,
    report: SweepReport,
    go_live: date,
) -> None:
    """Open the items of `occurrences` that are missing: held when due before `go_live`
    (`usecases.golive`), else at the step reached by `at`, with their opening mails; an item
    opened late close to its due date is due `min_notice` working days after it opened
    (`Plan.notice_deadline`), the plan's date kept as `original_due`."""
    for occ in occurrences:
        if occ.due.due < go_live:
            _hold(plan, session, occ, at, report, go_live)
            continue
        ob = plan.obligations[occ.obligation]
        grace = plan.notice_deadline(occ.obligation, occ.due.due, at, occ.opens)
        due = grace or occ.due.due
        steps = plan.timeline(occ.obligation, due, at)
        now = current_step(steps, at)
        row = dict(
            _row(plan, occ, ob.title, at),
            due=due,
            nominal_due=grace or occ.due.nominal,
            **state_at(steps, now),
        )
        for item_id in insert_missing(session, WorkItem, [row]):
            report.opened.append((item_id, occ.obligation, occ.unit, occ.period.key))
            report.communes[item_id] = plan.commune.code
            extra: dict[str, Any] = (
                {"plan_due": occ.due.due.isoformat(), "notice": True} if grace else {}
            )
            log_event(
                session,
                item_id,
                at,
                EventKind.OPENED,
                period=occ.period.key,
                due=due.isoformat(),
                step=steps[now].name,
                **extra,
            )
            report.queued += queue_opening(
                plan, session, item_id, occ.obligation, occ.unit, steps[now], at, due
            )


def _row(plan: Plan, occ: Occurrence, title: str, at: datetime) -> dict:
    """The columns of an occurrence's item that do not depend on its state."""
    return dict(
        commune=plan.commune.code,
        obligation=occ.obligation,
        unit=occ.unit,
        period=occ.period.key,
        title=title,
        window_start=occ.period.window_start,
        window_end=occ.period.window_end,
        opens_on=occ.opens,
        nominal_due=occ.due.nominal,
        original_due=occ.due.due,
        adhoc=False,
        opened_at=at,
    )


def _hold(
    plan: Plan, session: Session, occ: Occurrence, at: datetime, report: SweepReport, go_live: date
) -> None:
    """Open an item due before the go-live date held: no step, no mail, no next action."""
    title = plan.obligations[occ.obligation].title
    row = dict(
        _row(plan, occ, title, at),
        due=occ.due.due,
        status=ItemStatus.HELD,
        step=StepKind.HELD,
        escalation_level=0,
        next_action_at=None,
        held_on=go_live,
    )
    for item_id in insert_missing(session, WorkItem, [row]):
        report.held.append((item_id, occ.obligation, occ.unit, occ.period.key))
        report.communes[item_id] = plan.commune.code
        log_event(
            session,
            item_id,
            at,
            EventKind.HELD,
            period=occ.period.key,
            due=occ.due.due.isoformat(),
            go_live=go_live.isoformat(),
        )


def queue_opening(
    plan: Plan,
    session: Session,
    item_id: int,
    obligation: str,
    unit: str,
    reached: Step,
    at: datetime,
    due: date,
) -> int:
    """Queue the mails of an item due on `due` just opened at `at`
    (`schedules.notices.opening_notices`); its coordinating units are asked for their inputs
    only while their date lies ahead (`Plan.asks_inputs_on_opening`)."""
    asks = plan.asks_inputs_on_opening(obligation, due, at)
    notices = opening_notices(plan, obligation, unit, reached, None if asks else [])
    return queue_notices(session, item_id, notices, at)


def _advance_mark(session: Session, commune: str, oid: str, fingerprint: str, today: date):
    upsert(
        session,
        OpeningMark,
        dict(commune=commune, obligation=oid, fingerprint=fingerprint, opened_through=today),
    )


def advance_items(plans: Sequence[Plan], engine: Engine, at: datetime, report: SweepReport) -> None:
    """Process, batch by batch, the open items of `plans`' communes whose next action instant
    is not after `at`.

    The read follows the index (commune, next_action_at) for one commune and
    (next_action_at) for several, paged by (next_action_at, id): its cost grows with the
    items due, not with the history nor the number of communes.
    """
    by_code = {plan.commune.code: plan for plan in plans}
    moves = _Moves(by_code, at)
    cursor: tuple[datetime, int] | None = None
    item = table_of(WorkItem).c
    communes = (
        item.commune == next(iter(by_code)) if len(by_code) == 1 else item.commune.in_(by_code)
    )
    while True:
        query = select(
            item.id, item.commune, item.obligation, item.unit, item.step, item.due,
            item.opened_at, item.next_action_at,
        ).where(communes, item.next_action_at <= at, item.status.in_(OPEN_STATUSES))  # fmt: skip
        if cursor is not None:
            query = query.where(
                or_(
                    item.next_action_at > cursor[0],
                    and_(item.next_action_at == cursor[0], item.id > cursor[1]),
                )
            )
        # PostgreSQL: rows another runner holds are its own to move (SQLite: one writer).
        query = query.order_by(item.next_action_at, item.id).limit(BATCH)
        query = query.with_for_update(skip_locked=True)
        with transaction(engine) as session:
            rows = session.execute(query).all()
            _advance_batch(moves, session, rows, at, report)
        if len(rows) < BATCH:
            return
        cursor = (rows[-1].next_action_at, rows[-1].id)


@dataclass(frozen=True)
class _Move:
    """Where an item goes from a step at `at`: its new columns, and the step it reaches with
    the steps it skips (None when it stays where it is)."""

    state: dict[str, Any]
    reached: Step | None
    skipped: list[str]


class _Moves:
    """An item's move, computed once per distinct (timeline, step): every item of an
    obligation due the same day and opened at the same instant has the same timeline, and
    every unit of it the same notices (what `Plan.timeline` and `step_notices` would give each
    item again)."""

    def __init__(self, plans: dict[str, Plan], at: datetime):
        self.plans, self.at = plans, at
        self._moves: dict[tuple, _Move] = {}
        self._outbox: dict[tuple, list[dict[str, Any]]] = {}

    def move(self, commune: str, obligation: str, due: date, opened_at: datetime, step: str):
        key = (commune, obligation, due, opened_at, step)
        found = self._moves.get(key)
        if found is None:
            steps = self.plans[commune].timeline(obligation, due, opened_at)
            done = step_index(steps, step)
            now = max(current_step(steps, self.at), done)
            reached = steps[now] if now != done else None
            skipped = [s.name for s in steps[done + 1 : now]]
            found = self._moves[key] = _Move(state_at(steps, now), reached, skipped)
        return found

    def outbox(
        self, item_id: int, commune: str, obligation: str, unit: str, step: Step
    ) -> list[dict[str, Any]]:
        """The outbox rows of an item reaching `step` (`step_notices`, `outbox_rows`)."""
        key = (commune, obligation, unit, step)
        found = self._outbox.get(key)
        if found is None:
            notices = step_notices(self.plans[commune], obligation, unit, step)
            found = self._outbox[key] = outbox_rows(0, notices, self.at)
        return [{**row, "item_id": item_id} for row in found]


def _advance_batch(
    moves: _Moves, session: Session, rows, at: datetime, report: SweepReport
) -> None:
    """Move a batch of items to the steps they have reached, in three statements: one
    compare-and-set UPDATE (guarded by each item's step), one INSERT of their events, one of
    their outbox rows. Only the items this runner moved log and queue."""
    found = [
        (row, moves.move(row.commune, row.obligation, row.due, row.opened_at, row.step))
        for row in rows
    ]
    moved = transition_many(
        session, ItemEvent.ADVANCE, [(row.id, row.step, move.state) for row, move in found]
    )
    events, notices = [], []
    for row, move in found:
        step = move.reached
        if step is None or row.id not in moved:
            continue
        detail = {"step": step.name, "skipped": move.skipped}
        events.append(dict(item_id=row.id, at=at, kind=step.kind, detail=detail))
        report.advanced.append((row.id, step.name, step.status))
        report.communes[row.id] = row.commune
        if row.unit not in moves.plans[row.commune].units:
            reason = f"unit {row.unit} is no longer in the config"
            detail = {"step": step.name, "reason": reason}
            events.append(dict(item_id=row.id, at=at, kind=EventKind.UNDELIVERABLE, detail=detail))
        notices += moves.outbox(row.id, row.commune, row.obligation, row.unit, step)
    log_events(session, events)
    report.queued += queue_rows(session, notices)
