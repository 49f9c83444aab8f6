"""A commune's go-live: what its first run must not mail.

The go-live date is the config's `go_live`, else the day of the commune's first sweep as the
database recorded it (`GoLive`). An item due before it and not done is *held* (status `held`):
the sweep opens it without a mail, no step of its timeline is ever reached, no head or leader
hears of it, until the standing office sorts it out (`usecases.triage`: re-open with a fresh due
date, or waive). A period report held beside a later report of the same unit whose data window
covers it (Q1 when the 6-month report is held too; the 6-month when the annual is) is waived at
once, the reason stated: the unit is asked once, for the latest.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from models.db import transaction
from models.store import insert_if_absent, log_event, transition
from models.tables import GoLive, WorkItem, saved_id
from schedules.dates import local_date, vn_date
from schedules.periods import period_label
from schedules.plan import Plan
from schedules.transitions import ItemEvent
from schedules.vocabulary import REPORT_KINDS, EventKind, ItemStatus, StepKind

ENGINE = "engine"


def go_live_of(plan: Plan, session: Session, at: datetime) -> date:
    """The commune's go-live date: the config's `go_live`, else its first sweep's day, recorded
    now (`at`) when this is the first one (two runners racing record one day)."""
    if plan.commune.go_live is not None:
        return plan.commune.go_live
    code = plan.commune.code
    found = session.get(GoLive, code)
    if found is None:
        insert_if_absent(session, GoLive, dict(commune=code, day=local_date(at, plan.zone), at=at))
        found = session.get(GoLive, code)
        assert found is not None, "recorded in this transaction or by another runner"
    return found.day


def recorded_go_live(plan: Plan, engine: Engine) -> date | None:
    """The go-live date in force (None before the commune's first sweep), read only."""
    if plan.commune.go_live is not None:
        return plan.commune.go_live
    with transaction(engine) as session:
        found = session.get(GoLive, plan.commune.code)
        return found.day if found else None


def superseded_reason(item: WorkItem, later: WorkItem, go_live: date) -> str:
    """Why a held report is waived for a later one, as the event, the pages and `cchc triage`
    state it (Vietnamese)."""
    mine, theirs = period_label(item.period), period_label(later.period)
    return (
        f"Báo cáo {mine} được thay bằng báo cáo {theirs} (số liệu từ "
        f"{vn_date(later.window_start)} đến {vn_date(later.window_end)}, bao gồm kỳ này), cũng "
        f"quá hạn khi hệ thống bắt đầu vận hành ngày {vn_date(go_live)}: đơn vị chỉ cần nộp "
        f"báo cáo {theirs}."
    )


def superseding(plan: Plan, held: list[WorkItem]) -> dict[int, WorkItem]:
    """Held period reports → the latest held report of the same obligation and unit whose data
    window covers theirs (due later). Other items supersede nothing."""
    found: dict[int, WorkItem] = {}
    reports = [
        i
        for i in held
        if (ob := plan.obligations.get(i.obligation)) is not None and ob.kind in REPORT_KINDS
    ]
    for item in reports:
        covering = [
            other
            for other in reports
            if other.id != item.id
            and (other.obligation, other.unit) == (item.obligation, item.unit)
            and other.due > item.due
            and other.window_start <= item.window_start
            and other.window_end >= item.window_end
        ]
        if covering:
            found[saved_id(item)] = max(covering, key=lambda o: (o.window_end, o.due))
    return found


def waive_superseded(plan: Plan, session: Session, go_live: date, at: datetime) -> list[int]:
    """Waive every held report of the commune that a later held report covers, the reason
    stated (event `waived`, actor `engine`); returns their ids."""
    query = select(WorkItem).where(
        col(WorkItem.commune) == plan.commune.code, col(WorkItem.status) == ItemStatus.HELD
    )
    held = list(session.scalars(query))
    waived = []
    for item_id, later in superseding(plan, held).items():
        item = next(i for i in held if i.id == item_id)
        reason = superseded_reason(item, later, go_live)
        done = transition(
            session,
            item_id,
            ItemEvent.WAIVE,
            at_step=StepKind.HELD,
            status=ItemStatus.WAIVED,
            step=StepKind.WAIVED,
            waived_reason=reason,
            next_action_at=None,
        )
        if done:
            log_event(
                session,
                item_id,
                at,
                EventKind.WAIVED,
                actor=ENGINE,
                reason=reason,
                superseded_by=saved_id(later),
                go_live=go_live.isoformat(),
            )
            waived.append(item_id)
    return waived
