"""Use cases of the intake: a unit hands in a version of its product (one or more files), the
standing office accepts it or returns it.

Timeliness: a version is on time when it is received by the end of the item's due date in force
then (Asia/Ho_Chi_Minh); the first version the office accepts decides the item's `on_time`.
Until the office has accepted one, the item's `on_time` is the provisional verdict set when it
closed. Waived items take no versions and count against no unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from models.blobs import StoredBlob, store_blob
from models.db import transaction
from models.store import latest_version, log_event, queue_notices
from models.tables import Contribution, Deliverable, WorkItem
from schedules.dates import local_date, vn_date
from schedules.notices import closed_notices
from schedules.plan import Plan
from schedules.transitions import ItemEvent, allowed
from schedules.vocabulary import OPEN_STATUSES, DeliverableStatus, ItemStatus
from usecases.coordinators import item_coordinators
from usecases.errors import UserError
from usecases.lifecycle import close_item, get_item, reopen_returned

MAX_NOTE = 2000
OFFICE = "standing_office"


@dataclass(frozen=True)
class IncomingFile:
    """A file to hand in: its bytes at `path` (read, never moved), the name to show, and the
    type its content was found to be."""

    name: str
    path: Path
    file_type: str | None = None


@dataclass
class Submission:
    item: WorkItem
    version: int
    files: list[Deliverable] = field(default_factory=list)
    created: bool = True
    """False when the same files were already received (a double submit): nothing was added."""
    closed_item: bool = False
    """This version closed the item."""
    was_closed: bool = False
    """The item was already closed: the files are kept as a later version, its result stands."""


def versions(engine: Engine, item_id: int) -> dict[int, list[Deliverable]]:
    """The item's versions, oldest first, each with its files in order."""
    with transaction(engine) as session:
        rows = session.exec(
            select(Deliverable)
            .where(Deliverable.item_id == item_id)
            .order_by(Deliverable.version, Deliverable.part)
        ).scalars()
        found: dict[int, list[Deliverable]] = {}
        for row in rows:
            found.setdefault(row.version, []).append(row)
        return found


def submit(
    plan: Plan,
    engine: Engine,
    data_dir: Path,
    item_id: int,
    unit: str,
    files: list[IncomingFile],
    at: datetime,
    note: str | None = None,
    max_bytes: int | None = None,
) -> Submission:
    """Hand in a version of the product for an item.

    1. refuse when the item is not the unit's, or waived;
    2. store every file's bytes (by sha256, fsynced): nothing is recorded before they are safe;
    3. in one transaction: when the item is closed and its newest version (not returned) holds
       exactly these files, it is a double submit and that version is the answer; otherwise
       record the next version, mail a receipt to the unit, and close the item if it is open.
    """
    if not files:
        raise UserError("Chưa chọn tệp nào để nộp.")
    note = (note or "").strip()[:MAX_NOTE] or None
    with transaction(engine) as session:
        _check_open_to(session, plan, item_id, unit)
    parts = _store(data_dir, files, max_bytes)
    for attempt in range(3):
        try:
            return _record(plan, engine, item_id, unit, parts, at, note)
        except IntegrityError:
            # Another request took this version number at the same instant (a double click):
            # look again, it is most likely the same files.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _store(
    data_dir: Path, files: list[IncomingFile], max_bytes: int | None
) -> list[tuple[IncomingFile, StoredBlob]]:
    """Store every file's bytes (by sha256, fsynced) before anything is recorded; the same file
    chosen twice is one part."""
    blobs = []
    for incoming in files:
        try:
            with open(incoming.path, "rb") as stream:
                blobs.append(store_blob(data_dir / "deliverables", stream, max_bytes))
        except ValueError as exc:
            raise UserError(f"{incoming.name}: {exc} (tệp rỗng hoặc quá lớn)") from None
        except IsADirectoryError:
            raise UserError(f"{incoming.path} is a folder, not a file (không phải tệp)") from None
        except OSError as exc:
            raise UserError(
                f"cannot read {incoming.path}: {exc.strerror} (không đọc được tệp)"
            ) from None
    parts: list[tuple[IncomingFile, StoredBlob]] = []
    seen: set[str] = set()
    for incoming, blob in zip(files, blobs, strict=True):
        if blob.sha256 not in seen:
            seen.add(blob.sha256)
            parts.append((incoming, blob))
    return parts


def contribute(
    plan: Plan,
    engine: Engine,
    data_dir: Path,
    item_id: int,
    unit: str,
    files: list[IncomingFile],
    at: datetime,
    note: str | None = None,
    max_bytes: int | None = None,
) -> list[Contribution]:
    """A coordinating unit sends its input for the lead's item: the files are stored and
    recorded as contributions (event `contributed`); the item's state does not change. Refused
    when `unit` does not coordinate the item, or the item is no longer open."""
    if not files:
        raise UserError("Chưa chọn tệp nào để gửi.")
    note = (note or "").strip()[:MAX_NOTE] or None
    with transaction(engine) as session:
        item = get_item(session, plan, item_id)
        if unit not in item_coordinators(session, plan, item):
            raise UserError(
                f"Đơn vị {unit} không phối hợp thực hiện nhiệm vụ số {item_id} (not a "
                "coordinating unit of this item)."
            )
        if item.status not in OPEN_STATUSES:
            raise UserError(
                "Nhiệm vụ đã kết thúc: đơn vị chủ trì đã nộp sản phẩm hoặc nhiệm vụ được miễn; "
                "hệ thống không nhận thêm nội dung phối hợp."
            )
    parts = _store(data_dir, files, max_bytes)
    with transaction(engine) as session:
        rows = [
            Contribution(
                item_id=item_id,
                unit=unit,
                original_name=incoming.name,
                size=blob.size,
                sha256=blob.sha256,
                stored_path=str(blob.path),
                file_type=incoming.file_type,
                note=note,
                received_at=at,
            )
            for incoming, blob in parts
        ]
        session.add_all(rows)
        session.flush()
        log_event(
            session,
            item_id,
            at,
            "contributed",
            actor=unit,
            files=[{"name": r.original_name, "sha256": r.sha256, "size": r.size} for r in rows],
        )
        for row in rows:
            session.expunge(row)
    return rows


def contributions(engine: Engine, item_id: int) -> list[Contribution]:
    """The coordinating units' files for an item, oldest first."""
    with transaction(engine) as session:
        query = select(Contribution).where(Contribution.item_id == item_id)
        rows = list(session.execute(query.order_by(Contribution.id)).scalars())
        for row in rows:
            session.expunge(row)
    return rows


def attach(
    plan: Plan,
    engine: Engine,
    data_dir: Path,
    item_id: int,
    file: Path,
    at: datetime,
    by: str | None = None,
    note: str | None = None,
) -> Submission:
    """An admin hands in one file for the item's unit (`cchc attach`, the close flow): recorded
    and closed exactly as an upload, without the intake's content check. The submission says
    what happened (a new version or a repeat, whether it closed the item)."""
    with transaction(engine) as session:
        unit = by or get_item(session, plan, item_id).unit
    if unit not in plan.units:
        raise UserError(f"unknown unit '{unit}' (đơn vị không tồn tại)")
    file = Path(file)
    return submit(plan, engine, data_dir, item_id, unit, [IncomingFile(file.name, file)], at, note)


def _check_open_to(session: Session, plan: Plan, item_id: int, unit: str) -> WorkItem:
    item = get_item(session, plan, item_id)
    if item.unit != unit:
        raise UserError(
            f"Nhiệm vụ số {item_id} không phải của đơn vị {unit} (no such item for this unit)."
        )
    if item.status == ItemStatus.WAIVED:
        raise UserError(
            f"Nhiệm vụ đã được miễn ({item.waived_reason or 'không nêu lý do'}): "
            "hệ thống không nhận sản phẩm cho nhiệm vụ này."
        )
    return item


def _record(plan, engine, item_id, unit, parts, at, note) -> Submission:
    with transaction(engine) as session:
        item = _check_open_to(session, plan, item_id, unit)
        latest = latest_version(session, item_id)
        same = latest and {d.sha256 for d in latest} == {blob.sha256 for _, blob in parts}
        # A double submit finds the item closed by the first one; an item reopened since (a
        # return) takes the same files again as a new version. The item is read again after
        # the versions: its first read may predate the first request's commit (PostgreSQL,
        # read committed), and that request wrote its version and the closing together.
        session.refresh(item)
        was_closed = item.status == ItemStatus.CLOSED
        if same and latest[0].status != DeliverableStatus.RETURNED and was_closed:
            return Submission(item, latest[0].version, latest, created=False)
        version = (latest[0].version if latest else 0) + 1
        on_time = plan.received_on_time(item.due, at)
        rows = [
            Deliverable(
                item_id=item_id,
                version=version,
                part=n,
                original_name=incoming.name,
                size=blob.size,
                sha256=blob.sha256,
                stored_path=str(blob.path),
                file_type=incoming.file_type,
                submitted_by=unit,
                received_at=at,
                note=note,
                on_time=on_time,
                status=DeliverableStatus.RECEIVED,
            )
            for n, (incoming, blob) in enumerate(parts, start=1)
        ]
        session.add_all(rows)
        session.flush()
        log_event(
            session,
            item_id,
            at,
            "received",
            actor=unit,
            version=version,
            on_time=on_time,
            files=[
                {"name": r.original_name, "sha256": r.sha256, "size": r.size, "type": r.file_type}
                for r in rows
            ],
        )
        closed_now = False
        if allowed(item.status, ItemEvent.CLOSE):
            # its `closed` mail is the unit's receipt
            closed_now = close_item(plan, session, item, at, unit)
        else:
            # A later version of a closed item: its own receipt (the `closed` mail states the
            # newest version handed in).
            queue_notices(session, item_id, closed_notices(plan, unit, later_version=version), at)
        session.flush()
        session.refresh(item)
        return Submission(
            item, version, rows, created=True, closed_item=closed_now, was_closed=was_closed
        )


def _version_rows(session: Session, item_id: int, version: int) -> list[Deliverable]:
    return list(
        session.exec(
            select(Deliverable)
            .where(Deliverable.item_id == item_id, Deliverable.version == version)
            .order_by(Deliverable.part)
        ).scalars()
    )


def _reviewable(session: Session, plan: Plan, item_id: int, version: int):
    item = get_item(session, plan, item_id)
    rows = _version_rows(session, item_id, version)
    if not rows:
        raise UserError(f"Nhiệm vụ số {item_id} không có phiên bản {version}.")
    if rows[0].status == DeliverableStatus.ACCEPTED:
        raise UserError(f"Phiên bản {version} đã được chấp nhận trước đó.")
    if rows[0].status == DeliverableStatus.RETURNED:
        raise UserError(f"Phiên bản {version} đã được trả lại trước đó.")
    if item.status == ItemStatus.WAIVED:
        raise UserError("Nhiệm vụ đã được miễn: không cần xem xét sản phẩm.")
    return item, rows


def _mark(
    session: Session,
    item_id: int,
    version: int,
    status: DeliverableStatus,
    at: datetime,
    actor: str,
    note: str | None = None,
) -> bool:
    """Compare-and-set: only a version still `received` changes; False if someone was first."""
    changed = session.execute(
        update(Deliverable)
        .where(
            Deliverable.item_id == item_id,
            Deliverable.version == version,
            Deliverable.status == DeliverableStatus.RECEIVED,
        )
        .values(status=status, reviewed_at=at, reviewed_by=actor, review_note=note)
    ).rowcount
    return changed > 0


def accept_version(
    plan: Plan, engine: Engine, item_id: int, version: int, at: datetime, actor: str = OFFICE
) -> WorkItem:
    """The office accepts a version. The item's verdict stays the one its first version got
    (`close_item`); only an item closed before verdicts were kept takes this version's."""
    with transaction(engine) as session:
        item, rows = _reviewable(session, plan, item_id, version)
        if not _mark(session, item_id, version, DeliverableStatus.ACCEPTED, at, actor):
            raise UserError(f"Phiên bản {version} vừa được xem xét bởi người khác.")
        decides = item.on_time is None
        on_time = item.on_time
        if decides:
            on_time = rows[0].on_time
            if on_time is None:  # attached by hand before versions were judged on receipt
                on_time = plan.received_on_time(item.due, rows[0].received_at)
        if allowed(item.status, ItemEvent.CLOSE):
            close_item(plan, session, item, at, actor, received_at=rows[0].received_at)
        if decides:
            session.execute(
                update(WorkItem)
                .where(WorkItem.id == item_id)
                .values(on_time=on_time, judged_due=item.judged_due or item.due)
            )
        log_event(
            session,
            item_id,
            at,
            "accepted",
            actor=actor,
            version=version,
            decides=decides,
            on_time=on_time,
        )
        session.flush()
        session.refresh(item)
        return item


def return_version(
    plan: Plan,
    engine: Engine,
    item_id: int,
    version: int,
    reason: str,
    new_due: date,
    at: datetime,
    actor: str = OFFICE,
) -> WorkItem:
    """The office returns the newest version with a reason: the version is marked returned,
    and in the same transaction the item reopens with the new due date (`Plan.effective_due`)
    and the unit is mailed (`usecases.lifecycle.reopen_returned`)."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise UserError("Cần nêu lý do trả lại.")
    today = local_date(at, plan.zone)
    if new_due < today:
        raise UserError(f"Hạn mới {vn_date(new_due)} đã qua; hãy chọn từ hôm nay trở đi.")
    with transaction(engine) as session:
        item, _rows = _reviewable(session, plan, item_id, version)
        newest = session.execute(
            select(func.max(Deliverable.version)).where(Deliverable.item_id == item_id)
        ).scalar()
        if version != newest:
            raise UserError(
                f"Chỉ trả lại được phiên bản mới nhất (phiên bản {newest}); phiên bản {version} "
                "đã có bản nộp sau."
            )
        if not allowed(item.status, ItemEvent.REOPEN):
            raise UserError(f"Nhiệm vụ số {item_id} đang mở lại, chưa có bản nộp để trả lại.")
        if not _mark(session, item_id, version, DeliverableStatus.RETURNED, at, actor, reason):
            raise UserError(f"Phiên bản {version} vừa được xem xét bởi người khác.")
        return reopen_returned(plan, session, item_id, reason, new_due, at, actor=actor)
