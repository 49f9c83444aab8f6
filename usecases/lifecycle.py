"""Use cases on one work item: open by hand (ad hoc), record a document received through the
document-management system (and close), waive, return a deliverable for correction."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Engine, func, select, update
from sqlmodel import Session, col

from models.db import transaction
from models.store import (
    cancel_pending,
    insert_missing,
    log_event,
    queue_notices,
    returns_so_far,
    rounds_so_far,
    transition,
)
from models.tables import Deliverable, Outbox, WorkItem
from schedules.config_units import ALL_UNITS
from schedules.dates import local_date, vn_date
from schedules.documents import EARLIEST, clean_doc_number
from schedules.notices import returned_notices
from schedules.plan import Plan
from schedules.step_names import ARCHIVE_MARK, format_step, parse_step
from schedules.timeline import current_step, state_at
from schedules.transitions import ItemEvent, allowed
from schedules.vocabulary import (
    CITY_RETURN,
    REPORT_KINDS,
    DeliverableStatus,
    EventKind,
    ItemStatus,
    MailKind,
    ObligationKind,
    StepKind,
)
from usecases.errors import UserError, unknown_unit
from usecases.handin import Document, Submission, record_version
from usecases.items import ad_hoc_row, get_item
from usecases.sweep import queue_opening


def open_ad_hoc(
    plan: Plan,
    engine: Engine,
    obligation: str,
    unit: str,
    due: date,
    at: datetime,
    actor: str = "admin",
) -> WorkItem:
    """Open an ad hoc item by hand (a directive arrived): due on `due` as the obligation's
    policy makes it (`Plan.effective_due`: a day off moves to the next working day); its period
    key is that due date."""
    ob = plan.obligations.get(obligation)
    if ob is None:
        raise UserError(f"Không có nhiệm vụ mã '{obligation}' trong kế hoạch")
    if ob.kind != ObligationKind.AD_HOC:
        ad_hoc = (
            ", ".join(o for o, x in plan.obligations.items() if x.kind == ObligationKind.AD_HOC)
            or "—"
        )
        raise UserError(
            f"'{obligation}' là nhiệm vụ có lịch ({ob.kind}), không phải nhiệm vụ đột xuất: hệ "
            f"thống tự mở các nhiệm vụ này; chỉ mở bằng tay được nhiệm vụ đột xuất: {ad_hoc}"
        )
    if unit == ALL_UNITS:
        raise UserError(
            f"'{ALL_UNITS}' không phải một đơn vị: mở cho từng đơn vị, ví dụ --unit "
            f"{next(iter(plan.units), 'VP')}"
        )
    if unit not in plan.units:
        raise unknown_unit(unit)
    today = local_date(at, plan.zone)
    if due < today:
        raise UserError(f"Hạn {vn_date(due)} đã qua: chọn từ hôm nay trở đi")
    effective = plan.effective_due(obligation, due)
    row, steps, now = ad_hoc_row(
        plan, obligation, unit, effective, at, period=effective.due.isoformat(), title=ob.title
    )
    with transaction(engine) as session:
        ids = insert_missing(session, WorkItem, [row])
        if not ids:
            raise UserError(
                f"Đã có nhiệm vụ '{obligation}' của {unit} hạn {vn_date(effective.due)} đang mở"
            )
        log_event(
            session,
            ids[0],
            at,
            EventKind.OPENED,
            actor=actor,
            adhoc=True,
            due=effective.due.isoformat(),
            basis=effective.basis,
        )
        queue_opening(plan, session, ids[0], obligation, unit, steps[now], at, effective.due)
        item = session.get(WorkItem, ids[0])
        assert item is not None, "inserted in this transaction"
        return item


def receive_document(
    plan: Plan,
    engine: Engine,
    item_id: int,
    number: str,
    day: date | None,
    at: datetime,
    by: str | None = None,
) -> Submission:
    """The product came through the document-management system: record a version without a
    file (the document's number and date) and close the item as a hand-in does
    (`usecases.handin.record_version`).

    What cannot be true is refused: a number without the shape "số/ký hiệu" (an example is
    given), a date in the future, absurd (before 2000), or before the item's work could be
    done (`_earliest_document`). On time is judged by the document's date, the day it was
    received (by the end of the due date, local time: `Plan.received_on_time`); the item is
    closed at `at`. The same document again on a closed item is a repeat and changes nothing;
    another document is the next version, with its own receipt."""
    try:
        number = clean_doc_number(number)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    today = local_date(at, plan.zone)
    day = day or today
    if day > today:
        raise UserError(
            f"Ngày văn bản {vn_date(day)} chưa đến (hôm nay là {vn_date(today)}): "
            "hãy nhập ngày đã nhận văn bản."
        )
    if day < EARLIEST:
        raise UserError(f"Ngày văn bản {vn_date(day)} không hợp lệ: hãy kiểm tra lại.")
    with transaction(engine) as session:
        earliest, why = _earliest_document(plan, get_item(session, plan, item_id))
    if earliest is not None and day < earliest:
        raise UserError(
            f"Ngày văn bản {vn_date(day)} trước {why} ({vn_date(earliest)}): văn bản này không "
            "thể là sản phẩm của nhiệm vụ; hãy kiểm tra số và ngày văn bản."
        )
    return record_version(plan, engine, item_id, by, Document(number, day), at)


def _earliest_document(plan: Plan, item: WorkItem) -> tuple[date | None, str]:
    """The first date a document answering the item can bear, and what it is: a report is
    written once its data window has closed (its last day); a directive's item answers a
    document issued first. Other items: no bound (a plan may be issued before its year)."""
    ob = plan.obligations.get(item.obligation)
    if ob is not None and ob.kind in REPORT_KINDS:
        return item.window_end, "ngày chốt số liệu của kỳ báo cáo"
    if item.directive_id is not None:
        return item.window_start, "ngày của văn bản chỉ đạo"
    return None, ""


def waive(
    plan: Plan,
    engine: Engine,
    item_id: int,
    reason: str,
    at: datetime,
    actor: str = "admin",
    at_step: str | None = None,
) -> WorkItem:
    """Waive an item with a reason; with `at_step`, only while it is still at that step (a
    held item, say: compare-and-set, so one another request re-opened meanwhile stays open)."""
    reason = reason.strip()
    if not reason:
        raise UserError("Cần nêu lý do miễn nhiệm vụ.")
    with transaction(engine) as session:
        item = get_item(session, plan, item_id)
        if not allowed(item.status, ItemEvent.WAIVE):
            raise UserError(f"Nhiệm vụ số {item_id} không còn mở ({item.status})")
        waived = transition(
            session,
            item_id,
            ItemEvent.WAIVE,
            status=ItemStatus.WAIVED,
            step=StepKind.WAIVED,
            waived_reason=reason,
            next_action_at=None,
            at_step=at_step,
        )
        if not waived and at_step is not None:
            raise UserError(f"Nhiệm vụ số {item_id} vừa thay đổi; hãy xem lại trước khi miễn.")
        if not waived:
            raise UserError(f"Nhiệm vụ số {item_id} vừa được đóng")
        cancel_pending(session, item_id, at)
        log_event(session, item_id, at, EventKind.WAIVED, actor=actor, reason=reason)
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

    1. only a closed item can be returned, with a reason and a due date not in the past; the
       new due date is in force as `Plan.effective_due` makes it (a day off moves to the next
       working day when the obligation's policy shifts due dates);
    2. the item's outbox rows so far are renamed (`archive_outbox_steps`), so the new round's
       reminders, due-day notice, escalations and `closed` mail are queued afresh;
    3. the item reopens at the step its timeline, recomputed for the new due date, has reached
       by `at`, with no mail for the steps passed: the `returned` mail says it all;
    4. a `returned` mail is queued for the unit, copied to the standing office; the event is
       logged with the reason and both due dates.

    A return is not an extension: the item keeps its verdict (`on_time`, judged when its first
    version arrived) and the new due date is a completion deadline. Once the office accepted a
    version, the item is settled: it cannot be returned.
    """
    reason = " ".join(reason.split())
    if not reason:
        raise UserError("Cần nêu lý do trả lại.")
    if new_due < local_date(at, plan.zone):
        raise UserError(f"Hạn mới {vn_date(new_due)} đã qua; hãy chọn từ hôm nay trở đi.")
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
    by_city: bool = False,
) -> WorkItem:
    """Steps 1-4 of `return_deliverable` inside the caller's transaction. `by_city`: the city
    office returned it (the event says `by: city`)."""
    item = get_item(session, plan, item_id)
    if not allowed(item.status, ItemEvent.REOPEN):
        raise UserError(
            f"Nhiệm vụ số {item_id} đang ở trạng thái {item.status}: chỉ trả lại được nhiệm "
            "vụ đã nộp sản phẩm (closed)"
        )
    accepted = accepted_version(session, item_id)
    if accepted is not None:
        raise UserError(
            f"Nhiệm vụ số {item_id} đã được chấp nhận phiên bản {accepted}: không trả lại được; "
            "các bản nộp sau chỉ được lưu (item already accepted)."
        )
    previous_due = item.due
    effective = plan.effective_due(item.obligation, new_due)
    rounds = returns_so_far(session, item_id) + 1
    steps = plan.timeline(item.obligation, effective.due, item.opened_at)
    now = current_step(steps, at)
    reopened = transition(
        session,
        item_id,
        ItemEvent.REOPEN,
        due=effective.due,
        nominal_due=effective.nominal,
        closed_at=None,
        **state_at(steps, now),
    )
    if not reopened:
        raise UserError(f"Nhiệm vụ số {item_id} vừa thay đổi")
    archive_outbox_steps(session, item_id, rounds_so_far(session, item_id) + 1)
    step = format_step(StepKind.RETURNED, rounds)
    log_event(
        session,
        item_id,
        at,
        EventKind.RETURNED,
        actor=actor or plan.commune.standing_office,
        step=step,
        reason=reason,
        due=effective.due.isoformat(),
        previous_due=previous_due.isoformat(),
        **({"by": CITY_RETURN} if by_city else {}),
    )
    queue_notices(session, item_id, returned_notices(plan, item.unit, rounds), at)
    session.flush()
    session.refresh(item)
    return item


def accepted_version(session: Session, item_id: int) -> int | None:
    """The first version of the item the office accepted, if any."""
    query = select(func.min(Deliverable.version)).where(
        col(Deliverable.item_id) == item_id, col(Deliverable.status) == DeliverableStatus.ACCEPTED
    )
    return session.execute(query).scalar()


def archive_outbox_steps(session: Session, item_id: int, round_no: int) -> int:
    """Rename the item's outbox rows `STEP#n` before the item starts a new round (a returned
    deliverable, an extension granted): the outbox key (item, step, recipient) would otherwise
    take the new round's `reminder-5`, `due`, ... for mails already sent and silently queue
    nothing. Rows already
    renamed keep their name, and so does the leaders' overview (once per quarter, whatever
    the report's rounds). Returns the number of rows renamed."""
    earlier = session.execute(
        select(col(Outbox.id), col(Outbox.step)).where(
            col(Outbox.item_id) == item_id,
            col(Outbox.step).not_like(f"%{ARCHIVE_MARK}%"),
            # The quarter's overview hangs on its consolidated report's item, not its round.
            col(Outbox.kind) != MailKind.OVERVIEW,
        )
    ).all()
    for row_id, step in earlier:
        name = parse_step(step)
        archived = format_step(
            name.kind, name.number, undelivered=name.undelivered, archived=round_no
        )
        session.execute(update(Outbox).where(Outbox.id == row_id).values(step=archived))
    return len(earlier)
