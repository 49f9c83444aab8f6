"""Extensions of a due date (gia hạn).

A unit asks through its link, with a reason and a proposed date, before its due date has
passed; the standing office grants or refuses. The office may also grant on its own (`cchc
extend`). A grant moves the due date (shifted off a day off like any due date), recomputes the
item's next step (reminders and escalations run to the new date, an overdue item may be in time
again) and keeps `original_due`: an item then done on time is "đúng hạn (được gia hạn)"
(`schedules.timeliness`). Every step is an event; the unit hears of each decision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar

from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from models.db import rowcount, transaction
from models.store import cancel_pending, log_event, queue_notices, rounds_so_far, transition
from models.tables import Extension, WorkItem, saved_id
from schedules.dates import end_of_day, local_date, vn_date
from schedules.documents import clean_text
from schedules.notices import extension_notices
from schedules.occurrences import DueDate
from schedules.plan import Plan
from schedules.timeline import current_step, state_at
from schedules.transitions import ItemEvent
from schedules.vocabulary import (
    OPEN_STATUSES,
    EventKind,
    ExtensionStatus,
    ItemStatus,
    MailKind,
    StepKind,
)
from usecases.coordinators import item_coordinators
from usecases.errors import UserError
from usecases.lifecycle import archive_outbox_steps, get_item

OFFICE = "standing_office"
MAX_REASON = 2000
SUPERSEDED = (MailKind.REMINDER, MailKind.DUE, MailKind.OVERDUE, MailKind.ESCALATION)
"""Mails still queued for the old due date that a grant cancels (the new round sends its own)."""
T = TypeVar("T")


@dataclass(frozen=True)
class RequestExtension:
    """A unit asks for more time (through its link)."""

    item_id: int
    unit: str
    until: date
    reason: str


@dataclass(frozen=True)
class GrantExtension:
    """The office grants an extension until `until` (`cchc extend ITEM --until D --reason R`):
    the item's pending request if it has one (or `request`, an `Extension` id), else a grant
    of its own."""

    item_id: int
    until: date
    reason: str
    actor: str = OFFICE
    request: int | None = None


@dataclass(frozen=True)
class RefuseExtension:
    """The office refuses the item's pending request (or `request`, an `Extension` id)."""

    item_id: int
    reason: str
    actor: str = OFFICE
    request: int | None = None


@dataclass
class ExtensionOutcome:
    item: WorkItem
    """As it stands after the step."""
    extension: Extension


def request_extension(
    plan: Plan, engine: Engine, command: RequestExtension, at: datetime
) -> ExtensionOutcome:
    """Record a unit's request and tell the standing office. Refused when the item is not the
    unit's or not open, its due date has passed, the date is not after it, or a request is
    already waiting."""
    reason = _reason(command.reason, "Cần nêu lý do đề nghị gia hạn.")

    def record() -> ExtensionOutcome:
        with transaction(engine) as session:
            item = get_item(session, plan, command.item_id)
            if item.unit != command.unit:
                raise UserError(
                    f"Nhiệm vụ số {item.id} không phải của đơn vị {command.unit} (no such item "
                    "for this unit)."
                )
            _check_open(item)
            if at >= end_of_day(item.due, plan.zone):
                raise UserError(
                    f"Hạn nộp {vn_date(item.due)} đã qua: không gửi đề nghị gia hạn được nữa; "
                    "đề nghị đơn vị liên hệ cơ quan thường trực."
                )
            _check_later(command.until, item.due, "Ngày đề nghị gia hạn")
            item_id = saved_id(item)
            waiting = _pending(session, item_id)
            if waiting is not None:
                assert waiting.proposed_due is not None, "a unit's request proposes a date"
                raise UserError(
                    f"Đơn vị đã đề nghị gia hạn đến ngày {vn_date(waiting.proposed_due)}; đề "
                    "nghị đang chờ cơ quan thường trực xem xét."
                )
            row = Extension(
                item_id=item_id,
                seq=_next_seq(session, item_id),
                status=ExtensionStatus.PENDING,
                requested_by=command.unit,
                requested_at=at,
                reason=reason,
                proposed_due=command.until,
            )
            session.add(row)
            session.flush()
            log_event(
                session,
                item_id,
                at,
                EventKind.EXTENSION_REQUESTED,
                actor=command.unit,
                seq=row.seq,
                until=command.until.isoformat(),
                reason=reason,
            )
            notices = extension_notices(plan, item.unit, StepKind.REQUESTED, row.seq)
            queue_notices(session, item_id, notices, at)
            return _outcome(session, item, row)

    return _retrying(record)


def grant_extension(
    plan: Plan, engine: Engine, command: GrantExtension, at: datetime
) -> ExtensionOutcome:
    """Grant an extension: the item's due date moves to `until` as the obligation's policy
    shifts it, and in one transaction

    1. the item runs from the step its timeline for the new date has reached by `at` (no mail
       for the steps passed), its status as that step makes it (compare-and-set);
    2. the reminders and escalations still queued for the old date are cancelled, and the rows
       so far archived (`archive_outbox_steps`): the new round's are queued afresh;
    3. the request (or a grant of the office's own) is marked granted with both due dates, an
       `extension_granted` event logged, and a mail queued to the unit, copied to the office
       and the coordinating units.
    """
    reason = _reason(command.reason, "Cần nêu lý do gia hạn.")
    if command.until < local_date(at, plan.zone):
        raise UserError(f"Hạn gia hạn {vn_date(command.until)} đã qua.")

    def record() -> ExtensionOutcome:
        with transaction(engine) as session:
            item = get_item(session, plan, command.item_id)
            _check_open(item)
            effective = plan.effective_due(item.obligation, command.until)
            _check_later(effective.due, item.due, "Hạn gia hạn")
            item_id = saved_id(item)
            row = _to_decide(session, item_id, command.request)
            if row is None:
                row = Extension(item_id=item_id, seq=_next_seq(session, item_id), status="")
            previous = item.due
            _move_due(plan, session, item, effective, at)
            decided = dict(
                status=ExtensionStatus.GRANTED,
                decided_at=at,
                decided_by=command.actor,
                decision_note=reason,
                previous_due=previous,
                granted_due=effective.due,
            )
            _decide(session, row, decided)
            log_event(
                session,
                item_id,
                at,
                EventKind.EXTENSION_GRANTED,
                actor=command.actor,
                seq=row.seq,
                requested=row.requested_by is not None,
                previous_due=previous.isoformat(),
                due=effective.due.isoformat(),
                basis=effective.basis,
                reason=reason,
            )
            coordinators = item_coordinators(session, plan, item)
            notices = extension_notices(plan, item.unit, StepKind.EXTENDED, row.seq, coordinators)
            queue_notices(session, item_id, notices, at)
            return _outcome(session, item, row)

    return _retrying(record)


def refuse_extension(
    plan: Plan, engine: Engine, command: RefuseExtension, at: datetime
) -> ExtensionOutcome:
    """Refuse the item's pending request with a reason, and tell the unit (the office in copy);
    the due date stays."""
    reason = _reason(command.reason, "Cần nêu lý do không gia hạn.")
    with transaction(engine) as session:
        item = get_item(session, plan, command.item_id)
        item_id = saved_id(item)
        row = _to_decide(session, item_id, command.request)
        if row is None:
            raise UserError(f"Nhiệm vụ số {item.id} không có đề nghị gia hạn nào đang chờ.")
        decided = dict(
            status=ExtensionStatus.REFUSED,
            decided_at=at,
            decided_by=command.actor,
            decision_note=reason,
        )
        _decide(session, row, decided)
        log_event(
            session,
            item_id,
            at,
            EventKind.EXTENSION_REFUSED,
            actor=command.actor,
            seq=row.seq,
            until=row.proposed_due.isoformat() if row.proposed_due else None,
            reason=reason,
        )
        notices = extension_notices(plan, item.unit, StepKind.REFUSED, row.seq)
        queue_notices(session, item_id, notices, at)
        return _outcome(session, item, row)


def _move_due(
    plan: Plan, session: Session, item: WorkItem, effective: DueDate, at: datetime
) -> None:
    """Steps 1 and 2 of `grant_extension`."""
    steps = plan.timeline(item.obligation, effective.due, item.opened_at)
    item_id = saved_id(item)
    moved = transition(
        session,
        item_id,
        ItemEvent.EXTEND,
        at_step=item.step,
        due=effective.due,
        nominal_due=effective.nominal,
        **state_at(steps, current_step(steps, at)),
    )
    if not moved:
        raise UserError(f"Nhiệm vụ số {item.id} vừa thay đổi; hãy thử lại.")
    why = "due date extended before sending"
    cancel_pending(session, item_id, at, kinds=SUPERSEDED, why=why)
    archive_outbox_steps(session, item_id, rounds_so_far(session, item_id) + 1)


# ----- reading ------------------------------------------------------------------------------


def extensions_of(engine: Engine, item_id: int) -> list[Extension]:
    """The item's requests and grants, oldest first."""
    query = select(Extension).where(col(Extension.item_id) == item_id).order_by(col(Extension.seq))
    with transaction(engine) as session:
        rows = list(session.execute(query).scalars())
        for row in rows:
            session.expunge(row)
        return rows


def pending_requests(plan: Plan, engine: Engine) -> list[tuple[Extension, WorkItem]]:
    """The requests waiting for the office's decision, of items still open, oldest first."""
    query = (
        select(Extension, WorkItem)
        .join(WorkItem, col(WorkItem.id) == col(Extension.item_id))
        .where(
            col(WorkItem.commune) == plan.commune.code,
            col(WorkItem.status).in_(OPEN_STATUSES),
            col(Extension.status) == ExtensionStatus.PENDING,
        )
        .order_by(col(Extension.requested_at), col(Extension.id))
    )
    with transaction(engine) as session:
        rows = [(e, i) for e, i in session.execute(query).all()]
        for extension, item in rows:
            session.expunge(extension)
            session.expunge(item)
        return rows


# ----- helpers ------------------------------------------------------------------------------


def _reason(text: str | None, missing: str) -> str:
    reason = clean_text(text)
    if not reason:
        raise UserError(missing)
    if len(reason) > MAX_REASON:
        raise UserError(f"Lý do dài quá {MAX_REASON} ký tự.")
    return reason


def _check_open(item: WorkItem) -> None:
    if item.status == ItemStatus.WAIVED:
        raise UserError(f"Nhiệm vụ số {item.id} đã được miễn: không cần gia hạn.")
    if item.status == ItemStatus.HELD:
        raise UserError(
            f"Nhiệm vụ số {item.id} là việc tồn đọng trước khi vận hành, chờ cơ quan thường trực "
            "xử lý: mở lại với hạn mới bằng `cchc triage reopen` (held)."
        )
    if item.status not in OPEN_STATUSES:
        raise UserError(
            f"Nhiệm vụ số {item.id} đã nhận sản phẩm: không gia hạn được (item is {item.status})."
        )


def _check_later(day: date, due: date, what: str) -> None:
    if day <= due:
        raise UserError(f"{what} {vn_date(day)} phải sau hạn hiện hành {vn_date(due)}.")


def _pending(session: Session, item_id: int) -> Extension | None:
    query = select(Extension).where(
        col(Extension.item_id) == item_id, col(Extension.status) == ExtensionStatus.PENDING
    )
    return session.execute(query.order_by(col(Extension.seq).desc())).scalars().first()


def _to_decide(session: Session, item_id: int, request: int | None) -> Extension | None:
    """The request a decision settles: `request` (an id, which must be the item's and pending),
    else the item's pending one, else None."""
    if request is None:
        return _pending(session, item_id)
    row = session.get(Extension, request)
    if row is None or row.item_id != item_id:
        raise UserError(f"Nhiệm vụ số {item_id} không có đề nghị gia hạn mã {request}.")
    if row.status != ExtensionStatus.PENDING:
        raise UserError(f"Đề nghị gia hạn mã {request} đã được xem xét.")
    return row


def _decide(session: Session, row: Extension, values: dict) -> None:
    """Settle a pending request (compare-and-set: another decision may have come first), or
    record a grant of the office's own."""
    if row.id is None:
        for key, value in values.items():
            setattr(row, key, value)
        session.add(row)
        session.flush()
        return
    result = session.execute(
        update(Extension)
        .where(col(Extension.id) == row.id, col(Extension.status) == ExtensionStatus.PENDING)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if rowcount(result) != 1:
        raise UserError("Đề nghị gia hạn vừa được người khác xem xét.")
    session.refresh(row)


def _next_seq(session: Session, item_id: int) -> int:
    query = select(func.max(Extension.seq)).where(col(Extension.item_id) == item_id)
    return (session.execute(query).scalar() or 0) + 1


def _outcome(session: Session, item: WorkItem, row: Extension) -> ExtensionOutcome:
    session.flush()
    session.refresh(item)
    session.expunge(item)
    session.expunge(row)
    return ExtensionOutcome(item, row)


def _retrying(record: Callable[[], T]) -> T:
    """`record()`, again when another request took the same sequence number first."""
    for attempt in range(3):
        try:
            return record()
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")
