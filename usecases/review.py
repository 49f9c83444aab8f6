"""Use cases of the intake: a unit hands in a version of its product (one or more files), the
standing office accepts it or returns it.

Timeliness: a version is on time when it is received by the end of the item's due date in force
then (Asia/Ho_Chi_Minh); the first version the office accepts decides the item's `on_time`.
Until the office has accepted one, the item's `on_time` is the provisional verdict set when it
closed. Waived items take no versions and count against no unit.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Engine, func, select, update
from sqlmodel import Session, col

from models.blobs import StoredBlob, store_blob
from models.db import rowcount, transaction
from models.housekeeping import discard_unrecorded
from models.store import log_event
from models.tables import Contribution, Deliverable, WorkItem
from schedules.dates import local_date, vn_date
from schedules.plan import Plan
from schedules.transitions import ItemEvent, allowed
from schedules.vocabulary import OPEN_STATUSES, DeliverableStatus, EventKind, ItemStatus
from usecases.coordinators import item_coordinators
from usecases.errors import StorageFull, UserError
from usecases.handin import (
    Files,
    IncomingFile,
    Submission,
    file_columns,
    record_version,
    taking_hand_in,
)
from usecases.items import close_item, get_item
from usecases.lifecycle import reopen_returned

MAX_NOTE = 2000
OFFICE = "standing_office"


def versions(engine: Engine, item_id: int) -> dict[int, list[Deliverable]]:
    """The item's versions, oldest first, each with its files in order."""
    with transaction(engine) as session:
        rows = session.scalars(
            select(Deliverable)
            .where(col(Deliverable.item_id) == item_id)
            .order_by(col(Deliverable.version), col(Deliverable.part))
        )
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
    max_versions: int | None = None,
) -> Submission:
    """Hand in a version of the product for an item.

    1. refuse when the item is not the unit's, or waived;
    2. store every file's bytes (by sha256, fsynced): nothing is recorded before they are safe;
    3. record them as the item's next version, or find them a double submit, and close the
       item or mail a receipt (`usecases.handin.record_version`); past `max_versions`, refuse
       (a double submit of the last version is still answered with it).

    A refusal after step 2 removes the files it stored; a full or read-only data folder is
    `StorageFull`."""
    if not files:
        raise UserError("Chưa chọn tệp nào để nộp.")
    note = _clean_note(note)
    with transaction(engine) as session:
        _check_open_to(session, plan, item_id, unit)
    parts = _store(engine, data_dir, files, max_bytes)
    try:
        return record_version(
            plan, engine, item_id, unit, Files(parts, note), at, max_versions=max_versions
        )
    except BaseException:
        discard_unrecorded(engine, [blob for _, blob in parts])
        raise


def _clean_note(note: str | None) -> str | None:
    """The unit's note, trimmed and cut to MAX_NOTE characters; None when blank."""
    return (note or "").strip()[:MAX_NOTE] or None


def _store(
    engine: Engine, data_dir: Path, files: list[IncomingFile], max_bytes: int | None
) -> list[tuple[IncomingFile, StoredBlob]]:
    """Store every file's bytes (by sha256, fsynced) before anything is recorded; the same file
    chosen twice is one part. On any failure the files stored so far are removed again."""
    blobs: list[StoredBlob] = []
    try:
        for incoming in files:
            blobs.append(_store_one(data_dir, incoming, max_bytes))
    except BaseException:
        discard_unrecorded(engine, blobs)
        raise
    parts: list[tuple[IncomingFile, StoredBlob]] = []
    seen: set[str] = set()
    for incoming, blob in zip(files, blobs, strict=True):
        if blob.sha256 not in seen:
            seen.add(blob.sha256)
            parts.append((incoming, blob))
    return parts


def _store_one(data_dir: Path, incoming: IncomingFile, max_bytes: int | None) -> StoredBlob:
    """One file's bytes stored; UserError when it cannot be read, is empty or too large,
    StorageFull when the data folder refuses the write."""
    try:
        stream = open(incoming.path, "rb")  # noqa: SIM115  (closed below; read errors apart)
    except IsADirectoryError:
        raise UserError(f"{incoming.path} là thư mục, không phải tệp") from None
    except OSError as exc:
        raise UserError(f"Không đọc được tệp {incoming.path}: {exc.strerror}") from None
    with stream:
        try:
            return store_blob(data_dir / "deliverables", stream, max_bytes)
        except ValueError as exc:
            raise UserError(f"{incoming.name}: {exc} (tệp rỗng hoặc quá lớn)") from None
        except OSError as exc:
            raise StorageFull(exc) from exc


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
    note = _clean_note(note)
    with transaction(engine) as session:
        item = get_item(session, plan, item_id)
        if unit not in item_coordinators(session, plan, item):
            raise UserError(f"Đơn vị {unit} không phối hợp thực hiện nhiệm vụ số {item_id}.")
        if item.status not in OPEN_STATUSES:
            raise UserError(
                "Nhiệm vụ đã kết thúc: đơn vị chủ trì đã nộp sản phẩm hoặc nhiệm vụ được miễn; "
                "hệ thống không nhận thêm nội dung phối hợp."
            )
    parts = _store(engine, data_dir, files, max_bytes)
    try:
        return _record_contributions(engine, item_id, unit, parts, note, at)
    except BaseException:
        discard_unrecorded(engine, [blob for _, blob in parts])
        raise


def _record_contributions(
    engine: Engine,
    item_id: int,
    unit: str,
    parts: list[tuple[IncomingFile, StoredBlob]],
    note: str | None,
    at: datetime,
) -> list[Contribution]:
    with transaction(engine) as session:
        rows = [
            Contribution(
                item_id=item_id, unit=unit, **file_columns(*part), note=note, received_at=at
            )
            for part in parts
        ]
        session.add_all(rows)
        session.flush()
        log_event(
            session,
            item_id,
            at,
            EventKind.CONTRIBUTED,
            actor=unit,
            files=[{"name": r.original_name, "sha256": r.sha256, "size": r.size} for r in rows],
        )
        for row in rows:
            session.expunge(row)
    return rows


def contributions(engine: Engine, item_id: int) -> list[Contribution]:
    """The coordinating units' files for an item, oldest first."""
    with transaction(engine) as session:
        query = select(Contribution).where(col(Contribution.item_id) == item_id)
        rows = list(session.execute(query.order_by(col(Contribution.id))).scalars())
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
    file_type: str | None = None,
    signature: dict | None = None,
) -> Submission:
    """An admin hands in one file for the item's unit (`cchc attach`, the close flow): recorded
    and closed exactly as an upload; the content check is the caller's (`file_type`: what it
    found, `signature`: its signatures' verdict). The submission says what happened (a new
    version or a repeat, whether it closed the item)."""
    with transaction(engine) as session:
        _item, unit = taking_hand_in(session, plan, item_id, by)
    file = Path(file)
    incoming = IncomingFile(file.name, file, file_type, signature)
    return submit(plan, engine, data_dir, item_id, unit, [incoming], at, note)


def _check_open_to(session: Session, plan: Plan, item_id: int, unit: str) -> WorkItem:
    """The item, when `unit` may hand in its product: the unit's own, not waived."""
    item = get_item(session, plan, item_id)
    if item.unit != unit:
        raise UserError(f"Nhiệm vụ số {item_id} không phải của đơn vị {unit}.")
    taking_hand_in(session, plan, item_id, unit)
    return item


def _version_rows(session: Session, item_id: int, version: int) -> list[Deliverable]:
    return list(
        session.scalars(
            select(Deliverable)
            .where(col(Deliverable.item_id) == item_id, col(Deliverable.version) == version)
            .order_by(col(Deliverable.part))
        )
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
    result = session.execute(
        update(Deliverable)
        .where(
            col(Deliverable.item_id) == item_id,
            col(Deliverable.version) == version,
            col(Deliverable.status) == DeliverableStatus.RECEIVED,
        )
        .values(status=status, reviewed_at=at, reviewed_by=actor, review_note=note)
    )
    return rowcount(result) > 0


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
                .where(col(WorkItem.id) == item_id)
                .values(on_time=on_time, judged_due=item.judged_due or item.due)
            )
        log_event(
            session,
            item_id,
            at,
            EventKind.ACCEPTED,
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
    by_city: bool = False,
) -> WorkItem:
    """The office returns the newest version with a reason: the version is marked returned,
    and in the same transaction the item reopens with the new due date (`Plan.effective_due`)
    and the unit is mailed (`usecases.lifecycle.reopen_returned`). `by_city`: the city office
    returns it (from its own page): its mail is the Sở's."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise UserError("Cần nêu lý do trả lại.")
    today = local_date(at, plan.zone)
    if new_due < today:
        raise UserError(f"Hạn mới {vn_date(new_due)} đã qua; hãy chọn từ hôm nay trở đi.")
    with transaction(engine) as session:
        item, _rows = _reviewable(session, plan, item_id, version)
        newest = session.execute(
            select(func.max(col(Deliverable.version))).where(col(Deliverable.item_id) == item_id)
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
        return reopen_returned(
            plan, session, item_id, reason, new_due, at, actor=actor, by_city=by_city
        )
