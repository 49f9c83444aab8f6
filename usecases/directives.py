"""Directives (văn bản chỉ đạo): the office records a document that tasks units ("Công văn số
125/SNV-CCHC ngày 18/03/2027 của Sở Nội vụ về …"); each lead unit owes one work item acting on
it, with the directive's task, product and due date, and its coordinating units asked for their
inputs. Several directives may task one unit on one day: each item's period is `vb-<id>`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from models.blobs import StoredBlob, store_blob
from models.db import transaction
from models.store import insert_missing, log_event, queue_notices
from models.tables import Directive, WorkItem, saved_id
from schedules.config_units import ALL_UNITS
from schedules.dates import local_date, vn_date
from schedules.documents import (
    EARLIEST,
    clean_doc_number,
    clean_text,
    directive_period,
    document_reference,
    document_title,
)
from schedules.notices import opening_notices
from schedules.plan import Plan
from schedules.vocabulary import EventKind
from usecases.coordinators import directive_coordinators
from usecases.errors import UserError
from usecases.items import ad_hoc_row
from usecases.review import IncomingFile

LIMITS = {"issuer": 200, "subject": 1000, "task": 2000, "product": 500}
"""Longest text each field takes (characters)."""


@dataclass(frozen=True)
class IssueDirective:
    """A directive to record (`cchc directive`, the office page's form): the document, what it
    asks of which units by when, and its file if any (its type found by the caller, as for an
    upload)."""

    number: str
    """Số, ký hiệu: "125/SNV-CCHC"."""
    issued_on: date
    issuer: str
    subject: str
    """Trích yếu."""
    due: date
    units: tuple[str, ...]
    """Lead units, one item each (ALL: every unit counted in "Các cơ quan, đơn vị")."""
    coordinators: tuple[str, ...] = ()
    task: str | None = None
    product: str | None = None
    file: IncomingFile | None = None
    obligation: str | None = None
    """The ad hoc obligation the items belong to (its policy); default: the plan's first."""


@dataclass
class IssuedDirective:
    directive: Directive
    items: list[WorkItem] = field(default_factory=list)
    """One per lead unit, in the order given."""


def issue_directive(
    plan: Plan,
    engine: Engine,
    command: IssueDirective,
    at: datetime,
    *,
    data_dir: Path | None = None,
    actor: str = "admin",
    max_bytes: int | None = None,
) -> IssuedDirective:
    """Record a directive and open its items.

    1. check the document (number shape, a date neither in the future nor absurd, issuer and
       subject), the due date (not past, not before the document), the units and the
       obligation; the same document (number and date) twice is refused;
    2. store the file's bytes by sha256 (fsynced) before anything is recorded;
    3. in one transaction: the directive, then per lead unit its item, due as the obligation's
       policy shifts the date off a day off, at the step its timeline has reached by `at`; its
       `opened` mail to the unit and a request for inputs to each coordinating unit.
    """
    values = _checked(plan, command, at)
    blob = _store_file(data_dir, command.file, max_bytes) if command.file else None
    with transaction(engine) as session:
        _refuse_repeat(session, plan, values["number"], values["issued_on"])
        directive = Directive(
            commune=plan.commune.code,
            recorded_at=at,
            recorded_by=actor,
            **values,
            **_file_columns(command.file, blob),
        )
        session.add(directive)
        session.flush()
        items = [_open_item(plan, session, directive, unit, at, actor) for unit in directive.units]
        for row in (directive, *items):
            session.expunge(row)
        return IssuedDirective(directive, items)


def _checked(plan: Plan, command: IssueDirective, at: datetime) -> dict:
    """The directive's columns, cleaned; UserError for what cannot be true."""
    try:
        number = clean_doc_number(command.number)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    today = local_date(at, plan.zone)
    if command.issued_on > today:
        raise UserError(
            f"Ngày văn bản {vn_date(command.issued_on)} chưa đến (hôm nay là {vn_date(today)})."
        )
    if command.issued_on < EARLIEST:
        raise UserError(f"Ngày văn bản {vn_date(command.issued_on)} không hợp lệ.")
    if command.due < today:
        raise UserError(f"Hạn {vn_date(command.due)} đã qua (hôm nay là {vn_date(today)}).")
    if command.due < command.issued_on:
        raise UserError(f"Hạn {vn_date(command.due)} trước ngày văn bản.")
    texts = {name: clean_text(getattr(command, name)) for name in LIMITS}
    for name, label in (("issuer", "cơ quan ban hành"), ("subject", "trích yếu")):
        if not texts[name]:
            raise UserError(f"Cần nhập {label} của văn bản.")
    for name, limit in LIMITS.items():
        if len(texts[name]) > limit:
            raise UserError(f"{name} dài quá {limit} ký tự.")
    units = _units(plan, command.units, "--unit")
    if not units:
        raise UserError("Cần ít nhất một đơn vị chủ trì (--unit).")
    coordinators = _units(plan, command.coordinators, "--coordinator")
    return dict(
        number=number,
        issued_on=command.issued_on,
        due=command.due,
        obligation=_obligation(plan, command.obligation),
        units=units,
        coordinators=coordinators,
        issuer=texts["issuer"],
        subject=texts["subject"],
        task=texts["task"] or None,
        product=texts["product"] or None,
    )


def _units(plan: Plan, codes: Iterable[str], option: str) -> list[str]:
    """The codes given, each once, ALL expanded; UserError naming unknown ones."""
    codes = [c.strip() for c in codes if c and c.strip()]
    unknown = [c for c in codes if c != ALL_UNITS and c not in plan.units]
    if unknown:
        known = ", ".join(plan.units)
        raise UserError(
            f"{option}: đơn vị không tồn tại: {', '.join(unknown)} (các mã đơn vị: {known})."
        )
    return plan.expand_units(codes)


def _obligation(plan: Plan, wanted: str | None) -> str:
    ad_hoc = [oid for oid, ob in plan.obligations.items() if ob.kind == "ad_hoc"]
    if wanted is None:
        if not ad_hoc:
            raise UserError(
                "Cấu hình chưa có nhiệm vụ đột xuất (kind: ad_hoc) cho văn bản chỉ đạo."
            )
        return ad_hoc[0]
    if wanted not in ad_hoc:
        known = ", ".join(ad_hoc) or "—"
        raise UserError(f"'{wanted}' không phải nhiệm vụ đột xuất; nhiệm vụ đột xuất: {known}.")
    return wanted


def _store_file(data_dir: Path | None, incoming: IncomingFile, max_bytes: int | None) -> StoredBlob:
    """The directive's file, stored like a deliverable's (by sha256, fsynced)."""
    if data_dir is None:
        raise UserError("no data folder to keep the directive's file in")
    try:
        with open(incoming.path, "rb") as stream:
            return store_blob(Path(data_dir) / "deliverables", stream, max_bytes)
    except ValueError as exc:
        raise UserError(f"{incoming.name}: {exc} (tệp rỗng hoặc quá lớn)") from None
    except IsADirectoryError:
        raise UserError(f"{incoming.path} là thư mục, không phải tệp") from None
    except OSError as exc:
        raise UserError(f"Không đọc được tệp {incoming.path}: {exc.strerror}") from None


def _file_columns(incoming: IncomingFile | None, blob: StoredBlob | None) -> dict:
    if incoming is None or blob is None:
        return {}
    return dict(
        file_name=clean_text(incoming.name)[:255] or blob.sha256,
        file_size=blob.size,
        file_sha256=blob.sha256,
        file_path=str(blob.path),
        file_type=incoming.file_type,
    )


def _refuse_repeat(session: Session, plan: Plan, number: str, issued_on: date) -> None:
    found = session.execute(
        select(col(Directive.id)).where(
            col(Directive.commune) == plan.commune.code,
            col(Directive.number) == number,
            col(Directive.issued_on) == issued_on,
        )
    ).scalar()
    if found is not None:
        raise UserError(
            f"Đã ghi nhận {document_title(number)} ngày {vn_date(issued_on)} (mã văn bản "
            f"{found}); không ghi lại lần nữa."
        )


def _open_item(
    plan: Plan, session: Session, directive: Directive, unit: str, at: datetime, actor: str
) -> WorkItem:
    oid = directive.obligation
    reference = document_reference(directive.number, directive.issued_on, directive.issuer)
    effective = plan.effective_due(oid, directive.due, reference)
    row, steps, now = ad_hoc_row(
        plan,
        oid,
        unit,
        effective,
        at,
        period=directive_period(saved_id(directive)),
        title=directive.task or directive.subject,
        window_start=min(directive.issued_on, local_date(at, plan.zone)),
        directive_id=directive.id,
    )
    [item_id] = insert_missing(session, WorkItem, [row])
    log_event(
        session,
        item_id,
        at,
        EventKind.OPENED,
        actor=actor,
        adhoc=True,
        directive={"id": directive.id, "number": directive.number},
        due=effective.due.isoformat(),
        basis=effective.basis,
    )
    coordinators = directive_coordinators(plan, directive.units, directive.coordinators, unit)
    if not plan.asks_inputs_on_opening(oid, effective.due, at):  # their date already come
        coordinators = []
    notices = opening_notices(plan, oid, unit, steps[now], coordinators)
    queue_notices(session, item_id, notices, at)
    item = session.get(WorkItem, item_id)
    assert item is not None, f"item {item_id} was just inserted"
    return item


# ----- reading ------------------------------------------------------------------------------


def get_directive(plan: Plan, engine: Engine, directive_id: int) -> Directive:
    with transaction(engine) as session:
        found = session.get(Directive, directive_id)
        if found is None or found.commune != plan.commune.code:
            raise UserError(f"Không có văn bản chỉ đạo mã {directive_id}.")
        session.expunge(found)
        return found


def list_directives(plan: Plan, engine: Engine, year: int | None = None) -> list[Directive]:
    """The commune's directives, newest first (of `year` by their date, if given)."""
    query = select(Directive).where(col(Directive.commune) == plan.commune.code)
    if year is not None:
        query = query.where(
            col(Directive.issued_on) >= date(year, 1, 1),
            col(Directive.issued_on) <= date(year, 12, 31),
        )
    with transaction(engine) as session:
        rows = list(
            session.execute(
                query.order_by(col(Directive.issued_on).desc(), col(Directive.id).desc())
            ).scalars()
        )
        for row in rows:
            session.expunge(row)
        return rows


def directive_items(engine: Engine, directive_id: int) -> list[WorkItem]:
    """The items of a directive, by unit."""
    query = select(WorkItem).where(col(WorkItem.directive_id) == directive_id)
    with transaction(engine) as session:
        rows = list(session.execute(query.order_by(col(WorkItem.unit))).scalars())
        for row in rows:
            session.expunge(row)
        return rows
