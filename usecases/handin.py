"""Recording a version of an item's product, however it is handed in: files (the intake's
upload, `cchc attach`) or an official document's number and date (received through the
document-management system, `cchc receive`). One rule for both, `record_version`:

1. only a unit of the plan hands in, and a waived item takes nothing;
2. when the item is closed and already holds the same hand-in, it is a repeat: nothing is
   recorded and that version is the answer (files: the newest version, not returned, has the
   same files, a double submit; a document: any version not returned records it);
3. otherwise the next version is recorded, judged on time by when it was received (by the end
   of the item's due date in force then), and the event `received` is logged;
4. an open item (a first hand-in, or one returned and reopened) closes, and its `closed` mail
   is the unit's receipt; a closed item keeps its result and the unit is mailed a receipt of
   the later version.

The ways of handing in differ only in what a version holds and when it was received: the
commands `Files` and `Document`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from models.blobs import StoredBlob
from models.db import transaction
from models.store import latest_version, log_event, queue_notices
from models.tables import Deliverable, WorkItem, saved_id
from schedules.dates import local_date, local_instant, vn_date
from schedules.documents import document_title
from schedules.notices import closed_notices
from schedules.plan import Plan
from schedules.transitions import ItemEvent, allowed
from schedules.vocabulary import DeliverableStatus, EventKind, ItemStatus
from usecases.errors import UserError, unknown_unit
from usecases.items import close_item, get_item


@dataclass(frozen=True)
class IncomingFile:
    """A file to hand in: its bytes at `path` (read, never moved), the name to show, and the
    type its content was found to be."""

    name: str
    path: Path
    file_type: str | None = None
    signature: dict[str, Any] | None = None
    """What was found of its digital signatures (a PDF), as `Deliverable.signature` keeps it."""


def file_columns(incoming: IncomingFile, blob: StoredBlob) -> dict[str, Any]:
    """The columns that record a stored file: a version's part, a coordinating unit's
    contribution."""
    return {
        "original_name": incoming.name,
        "size": blob.size,
        "sha256": blob.sha256,
        "stored_path": str(blob.path),
        "file_type": incoming.file_type,
    }


class HandIn(Protocol):
    """A way of handing in a version (a command of `record_version`)."""

    def repeat_in(
        self, session: Session, item_id: int, newest: list[Deliverable]
    ) -> list[Deliverable] | None:
        """The version (its parts) that already holds this hand-in, when handing it in again
        is a repeat; `newest`: the item's newest version."""
        ...

    def received_at(self, plan: Plan, at: datetime) -> datetime:
        """When it was received, recorded at `at`: on time is judged by it."""
        ...

    def rows(self, **common: Any) -> list[Deliverable]:
        """The version's parts; `common` holds what every part of a version shares."""
        ...

    def event(self, rows: list[Deliverable]) -> dict[str, Any]:
        """What the `received` event says of the version, beyond its number and verdict."""
        ...


@dataclass(frozen=True)
class Files:
    """Files handed in, their bytes already stored (by sha256, fsynced): one part each, in
    order, with the unit's note. Received when recorded."""

    parts: list[tuple[IncomingFile, StoredBlob]]
    note: str | None = None

    def repeat_in(
        self, session: Session, item_id: int, newest: list[Deliverable]
    ) -> list[Deliverable] | None:
        """The newest version, not returned, with exactly these files (a double submit)."""
        if not newest or newest[0].status == DeliverableStatus.RETURNED:
            return None
        same = {d.sha256 for d in newest} == {blob.sha256 for _, blob in self.parts}
        return newest if same else None

    def received_at(self, plan: Plan, at: datetime) -> datetime:
        return at

    def rows(self, **common: Any) -> list[Deliverable]:
        return [
            Deliverable(
                **common,
                **file_columns(*part),
                part=n,
                note=self.note,
                signature=part[0].signature,
            )
            for n, part in enumerate(self.parts, start=1)
        ]

    def event(self, rows: list[Deliverable]) -> dict[str, Any]:
        files = [
            {"name": r.original_name, "sha256": r.sha256, "size": r.size, "type": r.file_type}
            for r in rows
        ]
        return {"files": files}


@dataclass(frozen=True)
class Document:
    """An official document received through the document-management system: its number and
    date, no file (one part: `size` 0, `sha256` and `stored_path` empty). Received on its
    date."""

    number: str
    day: date

    def repeat_in(
        self, session: Session, item_id: int, newest: list[Deliverable]
    ) -> list[Deliverable] | None:
        """Any version, not returned, recording this document (number and date): a document
        is one version, whatever came in between."""
        query = select(Deliverable).where(
            col(Deliverable.item_id) == item_id,
            col(Deliverable.doc_number) == self.number,
            col(Deliverable.doc_date) == self.day,
            col(Deliverable.status) != DeliverableStatus.RETURNED,
        )
        found = session.execute(query.order_by(col(Deliverable.version)).limit(1)).scalars().first()
        return [found] if found is not None else None

    def received_at(self, plan: Plan, at: datetime) -> datetime:
        """Now if the document is dated today, else the start of its day (any instant of the
        day is judged alike; the time is not known)."""
        if self.day == local_date(at, plan.zone):
            return at
        return local_instant(self.day, time(0), plan.zone)

    def rows(self, **common: Any) -> list[Deliverable]:
        return [
            Deliverable(
                **common,
                part=1,
                original_name=f"{document_title(self.number)} ngày {vn_date(self.day)}",
                size=0,
                sha256="",
                stored_path="",
                doc_number=self.number,
                doc_date=self.day,
            )
        ]

    def event(self, rows: list[Deliverable]) -> dict[str, Any]:
        return {"document": {"number": self.number, "date": self.day.isoformat()}}


@dataclass
class Submission:
    """What a hand-in did: the item, the version recorded (or found: a repeat) and its parts
    in order (a document's version has one, without a file)."""

    item: WorkItem
    version: int
    files: list[Deliverable] = field(default_factory=list)
    created: bool = True
    """False when the same hand-in was already received (a double submit): nothing was added."""
    closed_item: bool = False
    """This version closed the item."""
    was_closed: bool = False
    """The item was already closed: the version is kept as a later one, its result stands."""

    @property
    def deliverable(self) -> Deliverable:
        """The version's first part (a document's only one)."""
        return self.files[0]


def taking_hand_in(
    session: Session, plan: Plan, item_id: int, by: str | None
) -> tuple[WorkItem, str]:
    """The item and the unit handing in (`by`, default the item's unit); UserError when the
    unit is not the plan's or the item is waived."""
    item = get_item(session, plan, item_id)
    unit = by or item.unit
    if unit not in plan.units:
        raise unknown_unit(unit)
    if item.status == ItemStatus.WAIVED:
        raise UserError(
            f"Nhiệm vụ số {item_id} đã được miễn ({item.waived_reason or 'không nêu lý do'}): "
            "hệ thống không nhận sản phẩm cho nhiệm vụ này."
        )
    return item, unit


def record_version(
    plan: Plan,
    engine: Engine,
    item_id: int,
    by: str | None,
    handed: HandIn,
    at: datetime,
    max_versions: int | None = None,
) -> Submission:
    """Record what `by` (default the item's unit) hands in at `at`, in one transaction: steps
    1-4 of this module's rule. Hand-ins of one item are serialized (`lock_item`): concurrent
    uploads each become a version of their own, or the repeat of the one before; none fails.
    `max_versions`: refuse (UserError) a new version past that many (a repeat is still one)."""
    with transaction(engine) as session:
        lock_item(session, item_id)
        item, unit = taking_hand_in(session, plan, item_id, by)
        latest = latest_version(session, item_id)
        was_closed = item.status == ItemStatus.CLOSED
        repeated = handed.repeat_in(session, item_id, latest) if was_closed else None
        if repeated:
            return Submission(item, repeated[0].version, repeated, created=False)
        version = (latest[0].version if latest else 0) + 1
        if max_versions is not None and version > max_versions:
            raise UserError(too_many_versions(item_id, max_versions))
        received = handed.received_at(plan, at)
        on_time = plan.received_on_time(item.due, received)
        rows = handed.rows(
            item_id=item_id,
            version=version,
            submitted_by=unit,
            received_at=received,
            on_time=on_time,
            status=DeliverableStatus.RECEIVED,
        )
        session.add_all(rows)
        session.flush()
        log_event(
            session,
            item_id,
            at,
            EventKind.RECEIVED,
            actor=unit,
            version=version,
            on_time=on_time,
            **handed.event(rows),
        )
        closed_now = _close_or_receipt(plan, session, item, unit, version, received, at)
        session.flush()
        session.refresh(item)
        return Submission(item, version, rows, closed_item=closed_now, was_closed=was_closed)


def lock_item(session: Session, item_id: int) -> None:
    """Hold the item's row until the transaction ends, so hand-ins of one item take their
    turns: PostgreSQL locks the row (`SELECT … FOR UPDATE`; hand-ins of other items go on);
    SQLite holds its write lock from the transaction's start already (`models.db`)."""
    session.execute(select(col(WorkItem.id)).where(col(WorkItem.id) == item_id).with_for_update())


def too_many_versions(item_id: int, limit: int) -> str:
    """The refusal of a version past the limit, in Vietnamese."""
    return (
        f"Nhiệm vụ số {item_id} đã nhận đủ {limit} phiên bản sản phẩm qua đường liên kết: hệ "
        "thống không nhận thêm. Nếu cần nộp lại, hãy liên hệ cơ quan thường trực về cải cách "
        "hành chính. Không có tệp nào được lưu."
    )


def _close_or_receipt(
    plan: Plan,
    session: Session,
    item: WorkItem,
    unit: str,
    version: int,
    received: datetime,
    at: datetime,
) -> bool:
    """Close the open item (its `closed` mail is the unit's receipt); for a later version of a
    closed item, queue its own receipt (the `closed` mail states the newest version handed
    in). True when this closed the item."""
    if allowed(item.status, ItemEvent.CLOSE):
        return close_item(plan, session, item, at, unit, received_at=received)
    queue_notices(session, saved_id(item), closed_notices(plan, unit, version, item.obligation), at)
    return False
