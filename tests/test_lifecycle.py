"""The life of work items on real databases (a SQLite file and PostgreSQL): open, remind,
overdue, escalate, close, waive, ad hoc; idempotency, catch-up and racing sweeps."""

from __future__ import annotations

import threading
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from support import find_item

from models.db import ensure_schema, make_engine, transaction
from models.tables import Deliverable, Event, Outbox, WorkItem
from schedules.dates import parse_instant
from usecases.errors import UserError
from usecases.lifecycle import open_ad_hoc, waive
from usecases.review import attach
from usecases.sweep import sweep

REPORT = "bao-cao-cchc-dinh-ky"
# Q1 2027 for each unit: opens 02/03/2027, reminders 09/03 and 12/03, due 16/03 (Tuesday),
# overdue from 17/03 00:00, escalation to the head 18/03, to the leadership 23/03.


def t(text: str) -> datetime:
    return parse_instant(text)


def snapshot(engine) -> dict[str, int]:
    with transaction(engine) as s:
        return {
            model.__tablename__: s.execute(select(func.count()).select_from(model)).scalar()
            for model in (WorkItem, Outbox, Event, Deliverable)
        }


def item(engine, obligation=REPORT, unit="VP", period="2027-Q1") -> WorkItem:
    return find_item(engine, obligation, unit, period)


def outbox_steps(engine, item_id: int, copies: bool = False) -> list[tuple[str, str]]:
    """(step, recipient) of the item's outbox rows; the rows of copies (Cc) only with
    `copies`."""
    with transaction(engine) as s:
        rows = s.exec(select(Outbox).where(Outbox.item_id == item_id).order_by(Outbox.id))
        return [(o.step, o.recipient) for o in rows.scalars() if copies or not o.addressed_to]


def test_a_quarter_sweep_by_sweep(plan, engine):
    sweep(plan, engine, t("2027-03-01T07:30"))
    with transaction(engine) as s:
        assert not s.exec(select(WorkItem).where(WorkItem.period == "2027-Q1")).first()
    report = sweep(plan, engine, t("2027-03-02T07:30"))
    opened = {(o, u, p) for _, o, u, p in report.opened}
    assert {(REPORT, u, "2027-Q1") for u in plan.lead_units(REPORT)} <= opened
    vp = item(engine)
    assert (vp.status, vp.step, vp.due) == ("open", "opened", date(2027, 3, 16))
    assert (vp.window_start, vp.window_end) == (date(2026, 12, 15), date(2027, 3, 14))

    expected = [
        ("2027-03-09T07:30", "reminder-5", "open"),
        ("2027-03-12T07:30", "reminder-2", "open"),
        ("2027-03-16T07:30", "due", "open"),
        ("2027-03-17T00:00", "overdue", "overdue"),
        # Escalations go out at 14:00 (`escalation_time`): the morning's sweep does not.
        ("2027-03-17T07:30", "overdue", "overdue"),
        # The ladder ends by the consolidated report's due date, 18/03 (config: `before`).
        ("2027-03-17T14:00", "escalation-1", "escalated"),
        ("2027-03-18T14:00", "escalation-2", "escalated"),
    ]
    for at, step, status in expected:
        sweep(plan, engine, t(at))
        vp = item(engine)
        assert (vp.step, vp.status) == (step, status), at
    assert vp.escalation_level == 2 and vp.next_action_at is None

    units = plan.units
    leaders = [p.email for p in plan.commune.leadership if p.in_charge]
    assert outbox_steps(engine, vp.id) == [
        ("opened", units["VP"].email),
        ("reminder-5", units["VP"].email),
        ("reminder-2", units["VP"].email),
        ("due", units["VP"].email),
        ("overdue", units["VP"].email),
        ("escalation-1", units["VP"].head.email),
    ] + [("escalation-2", a) for a in leaders]
    with transaction(engine) as s:
        cc = (
            s.exec(
                select(Outbox.cc).where(
                    Outbox.item_id == vp.id,
                    Outbox.step == "escalation-1",
                    Outbox.addressed_to.is_(None),
                )
            )
            .scalars()
            .one()
        )
    # The standing office and the unit itself in copy: a unit keeps hearing of its late item.
    assert cc == [units["VHXH"].email, units["VP"].email]
    # Each copy has its own row, to track its delivery.
    copies = outbox_steps(engine, vp.id, copies=True)
    assert ("escalation-1", units["VHXH"].email) in copies
    assert ("escalation-1", units["VP"].email) in copies


def test_same_sweep_twice_changes_nothing(plan, engine):
    sweep(plan, engine, t("2027-03-16T07:30"))
    before = snapshot(engine)
    again = sweep(plan, engine, t("2027-03-16T07:30"))
    assert (again.opened, again.advanced, again.queued) == ([], [], 0)
    assert snapshot(engine) == before


def test_catch_up_after_ten_days_sends_one_notice_per_item(plan, engine):
    sweep(plan, engine, t("2027-03-02T07:30"))
    vp = item(engine)
    report = sweep(plan, engine, t("2027-03-19T08:00"))  # 10 working days later, down meanwhile
    assert (vp.id, "escalation-2", "escalated") in report.advanced
    steps = [s for s, _ in outbox_steps(engine, vp.id)]
    assert steps == ["opened", "escalation-2"]
    with transaction(engine) as s:
        event = (
            s.exec(select(Event).where(Event.item_id == vp.id, Event.kind == "escalation"))
            .scalars()
            .one()
        )
    assert event.detail["skipped"] == ["reminder-5", "reminder-2", "due", "overdue", "escalation-1"]


def test_first_run_opens_nothing_due_before_the_start_date(plan, engine):
    report = sweep(plan, engine, t("2026-12-20T07:30"))
    assert report.opened
    with transaction(engine) as s:
        earliest = s.execute(select(func.min(WorkItem.due))).scalar()
    assert earliest >= plan.commune.start


def test_item_opened_late_is_overdue_at_once(plan, engine):
    # Live since February, then down from before the quarter opened until after its due date
    # (a first sweep on 17/03 would hold it instead: tests/test_golive.py).
    sweep(plan, engine, t("2027-02-01T09:00"))
    sweep(plan, engine, t("2027-03-17T09:00"))
    vp = item(engine)
    assert (vp.status, vp.step) == ("overdue", "overdue")
    assert [s for s, _ in outbox_steps(engine, vp.id)] == ["opened"]


def test_attach_closes_on_time_and_late(plan, engine, tmp_path):
    sweep(plan, engine, t("2027-03-02T07:30"))
    doc = tmp_path / "bao-cao-quy-1.pdf"
    doc.write_bytes(b"%PDF-1.7 report")
    vp = item(engine, unit="VP")
    done = attach(plan, engine, tmp_path / "data", vp.id, doc, t("2027-03-16T23:59"), by="VP")
    closed, deliverable = done.item, done.files[0]
    assert done.closed_item and done.created
    assert (closed.status, closed.on_time, closed.next_action_at) == ("closed", True, None)
    stored = Path(deliverable.stored_path)
    assert stored.read_bytes() == doc.read_bytes() and stored.name == deliverable.sha256

    kt = item(engine, unit="KT")
    late = attach(plan, engine, tmp_path / "data", kt.id, doc, t("2027-03-17T00:00")).item
    assert (late.status, late.on_time) == ("closed", False)

    # a later version is kept without reopening; nothing more is sent to a closed item
    doc.write_bytes(b"%PDF-1.7 corrected")
    again = attach(plan, engine, tmp_path / "data", vp.id, doc, t("2027-03-18T10:00"))
    assert (again.item.status, again.item.on_time, again.version) == ("closed", True, 2)
    assert not again.closed_item and again.was_closed
    sweep(plan, engine, t("2027-03-25T07:30"))
    steps = [s for s, _ in outbox_steps(engine, vp.id)]
    assert steps[-1] == "closed-v2"  # the unit's receipt for the later version
    assert "closed" in steps and not any(s.startswith(("reminder", "escalation")) for s in steps)


def test_close_cancels_what_was_queued_but_not_sent(plan, engine, tmp_path):
    sweep(plan, engine, t("2027-03-09T07:30"))
    vp = item(engine)
    doc = tmp_path / "x.pdf"
    doc.write_bytes(b"%PDF")
    attach(plan, engine, tmp_path / "data", vp.id, doc, t("2027-03-09T09:00"))
    with transaction(engine) as s:
        statuses = dict(
            s.execute(
                select(Outbox.step, Outbox.status).where(
                    Outbox.item_id == vp.id, Outbox.recipient == plan.units["VP"].email
                )
            ).all()
        )
    assert statuses == {"opened": "cancelled", "closed": "pending"}


def test_waive_stops_the_item(plan, engine):
    sweep(plan, engine, t("2027-03-02T07:30"))
    vp = item(engine)
    waived = waive(plan, engine, vp.id, "Đơn vị sáp nhập", t("2027-03-03T10:00"))
    assert (waived.status, waived.waived_reason, waived.next_action_at) == (
        "waived",
        "Đơn vị sáp nhập",
        None,
    )
    sweep(plan, engine, t("2027-03-30T07:30"))
    assert [s for s, _ in outbox_steps(engine, vp.id)] == ["opened"]
    with pytest.raises(UserError, match=r"không còn mở \(waived\)"):
        waive(plan, engine, vp.id, "again", t("2027-03-30T10:00"))
    with pytest.raises(UserError, match="Cần nêu lý do miễn"):
        waive(plan, engine, vp.id + 1, "   ", t("2027-03-30T10:00"))


def test_ad_hoc_item(plan, engine):
    at = t("2027-05-10T09:00")
    adhoc = open_ad_hoc(plan, engine, "nhiem-vu-dot-xuat", "TTPVHCC", date(2027, 5, 20), at)
    assert (adhoc.adhoc, adhoc.period, adhoc.status) == (True, "2027-05-20", "open")
    assert [s for s, _ in outbox_steps(engine, adhoc.id)] == ["opened"]
    before = snapshot(engine)
    for args, why in [
        (("nhiem-vu-dot-xuat", "TTPVHCC", date(2027, 5, 20)), "đang mở"),
        (("nhiem-vu-dot-xuat", "NOPE", date(2027, 5, 20)), "Không có đơn vị mã 'NOPE'"),
        (("khong-co", "VP", date(2027, 5, 20)), "Không có nhiệm vụ mã 'khong-co'"),
        (("nhiem-vu-dot-xuat", "VP", date(2027, 5, 1)), "đã qua"),
        (("bao-cao-cchc-dinh-ky", "VP", date(2027, 5, 20)), "không phải nhiệm vụ đột xuất"),
        (("nhiem-vu-dot-xuat", "ALL", date(2027, 5, 20)), "'ALL' không phải một đơn vị"),
    ]:
        with pytest.raises(UserError, match=why):
            open_ad_hoc(plan, engine, *args, at)
    assert snapshot(engine) == before
    sweep(plan, engine, t("2027-05-21T07:30"))
    assert item(engine, "nhiem-vu-dot-xuat", "TTPVHCC", "2027-05-20").status == "overdue"


def test_bad_attachments_change_nothing(plan, engine, tmp_path):
    sweep(plan, engine, t("2027-03-02T07:30"))
    vp = item(engine)
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    before = snapshot(engine)
    for item_id, path, why in [
        (999999, empty, "Không có nhiệm vụ số 999999"),
        (vp.id, empty, "tệp rỗng"),
        (vp.id, tmp_path / "missing.pdf", "Không đọc được tệp"),
        (vp.id, tmp_path, "là thư mục, không phải tệp"),
    ]:
        with pytest.raises(UserError, match=why):
            attach(plan, engine, tmp_path / "data", item_id, path, t("2027-03-03T10:00"))
    assert snapshot(engine) == before
    assert item(engine).status == "open"


@pytest.mark.postgres
def test_two_sweeps_racing_make_no_duplicates(plan, pg_url, tmp_path):
    """Two runners (separate engines, separate connections) sweep the same instant at once."""
    engines = [make_engine(pg_url) for _ in range(2)]
    ensure_schema(engines[0])
    reference = make_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    errors: list[BaseException] = []

    def run(engine, at):
        try:
            sweep(plan, engine, at)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    try:
        for at in ("2027-03-02T07:30", "2027-03-12T07:30", "2027-03-18T07:30"):
            threads = [threading.Thread(target=run, args=(e, t(at))) for e in engines]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
        assert not errors, errors
        ensure_schema(reference)
        for at in ("2027-03-02T07:30", "2027-03-12T07:30", "2027-03-18T07:30"):
            sweep(plan, reference, t(at))
        raced, alone = snapshot(engines[0]), snapshot(reference)
        assert raced["work_item"] == alone["work_item"]
        assert raced == alone
    finally:
        for e in engines + [reference]:
            e.dispose()


def test_one_sweep_finishes_every_batch(plan, engine, monkeypatch):
    """Items due at the same instants, in batches smaller than the work: nothing is left over."""
    import usecases.sweep

    monkeypatch.setattr(usecases.sweep, "BATCH", 4)
    sweep(plan, engine, t("2027-03-02T07:30"))
    first = sweep(plan, engine, t("2027-03-18T07:30"))
    assert len(first.advanced) > 4
    again = sweep(plan, engine, t("2027-03-18T07:30"))
    assert (again.advanced, again.queued) == ([], 0)
