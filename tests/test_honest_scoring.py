"""Honest on-time scoring on real databases (a SQLite file and PostgreSQL): a return is not an
extension. The first version decides the verdict against the due date in force when it arrived;
the return's date is a completion deadline; once a version is accepted, later versions are kept
but change nothing; the first due date in force is never forgotten (schema 0011 restores it on
existing rows)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from alembic import command
from office_support import reload, t
from sqlalchemy import text
from support import find_item

from models.db import _alembic_config, make_engine, upgrade
from schedules.timeliness import Verdict, timeliness_label, verdict
from usecases.errors import UserError
from usecases.lifecycle import return_deliverable
from usecases.reporting import UnitYear, year_report
from usecases.review import IncomingFile, accept_version, return_version, submit
from usecases.scorecard import build_scorecard
from usecases.sweep import sweep

REPORT = "bao-cao-cchc-dinh-ky"
# VP's Q1 2027 report: due Tuesday 16/03/2027, escalated 17/03 and 18/03 (at 14:00).


@pytest.fixture
def vp(plan, engine):
    sweep(plan, engine, t("2027-03-02T07:30"))
    return find_item(engine, REPORT, "VP", "2027-Q1")


def hand_in(plan, engine, tmp_path: Path, item, at: str, name: str):
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(f"%PDF-1.7 {name}".encode())
    return submit(
        plan, engine, tmp_path / "data", item.id, item.unit,
        [IncomingFile(f"{name}.pdf", path, "pdf")], t(at),
    )  # fmt: skip


def vp_row(plan, engine, at: str):
    return next(r for r in year_report(plan, engine, 2027, t(at)) if r.unit == "VP")


def test_a_late_report_returned_and_completed_in_time_stays_late(plan, engine, vp, tmp_path):
    """The verified defect: late v1, a return, v2 before the return's date: "closed on time"
    and 1/1 100 % before; late now, and the first due date kept."""
    for at in ("2027-03-17T14:00", "2027-03-18T14:00"):  # the escalations' hour
        sweep(plan, engine, t(at))
    assert reload(engine, vp.id).escalation_level == 2
    first = hand_in(plan, engine, tmp_path, vp, "2027-03-19T10:00", "v1")
    assert first.item.on_time is False and first.item.judged_due == date(2027, 3, 16)
    reopened = return_deliverable(
        plan, engine, vp.id, "Thiếu số liệu", date(2027, 3, 30), t("2027-03-22T09:00")
    )
    assert (reopened.status, reopened.due, reopened.original_due, reopened.on_time) == (
        "open",
        date(2027, 3, 30),
        date(2027, 3, 16),
        False,
    )
    assert timeliness_label(reopened, date(2027, 3, 23)) == "quá hạn, phải hoàn thiện"
    second = hand_in(plan, engine, tmp_path, vp, "2027-03-25T10:00", "v2")
    assert second.closed_item and second.files[0].on_time is True  # in time for completion
    done = reload(engine, vp.id)
    assert (done.status, done.on_time, done.judged_due, done.original_due) == (
        "closed",
        False,
        date(2027, 3, 16),
        date(2027, 3, 16),
    )
    assert verdict(done) == Verdict.LATE and timeliness_label(done, date(2027, 3, 25)) == "quá hạn"
    row = vp_row(plan, engine, "2027-03-31T12:00")
    assert (row.on_time, row.on_time_extended, row.late, row.on_time_rate) == (0, 0, 1, 0.0)
    card = build_scorecard(plan, engine, 2027, t("2027-03-31T12:00"))
    assert card.quarters["VP"]["Q1"].late == 1


def test_an_on_time_report_returned_stays_on_time_with_a_completion_deadline(
    plan, engine, vp, tmp_path
):
    hand_in(plan, engine, tmp_path, vp, "2027-03-15T10:00", "v1")
    reopened = return_version(
        plan, engine, vp.id, 1, "Thiếu phụ lục", date(2027, 3, 19), t("2027-03-16T09:00")
    )
    assert (reopened.status, reopened.on_time) == ("open", True)
    assert timeliness_label(reopened, date(2027, 3, 18)) == "đúng hạn, phải hoàn thiện"
    assert timeliness_label(reopened, date(2027, 3, 22)) == "đúng hạn, quá hạn hoàn thiện"
    # Still open past the completion deadline: counted by its verdict, not as overdue.
    counted = UnitYear("VP", "VP")
    counted.count(reload(engine, vp.id), date(2027, 3, 22))
    assert (counted.on_time, counted.late, counted.overdue_open, counted.pending) == (1, 0, 0, 0)
    late_v2 = hand_in(plan, engine, tmp_path, vp, "2027-03-23T10:00", "v2")
    assert late_v2.files[0].on_time is False and reload(engine, vp.id).on_time is True


def test_once_accepted_later_versions_change_nothing(plan, engine, vp, tmp_path):
    hand_in(plan, engine, tmp_path, vp, "2027-03-15T10:00", "v1")
    accept_version(plan, engine, vp.id, 1, t("2027-03-16T09:00"))
    later = hand_in(plan, engine, tmp_path, vp, "2027-03-18T10:00", "v2")
    assert later.created and later.version == 2 and later.was_closed and not later.closed_item
    item = reload(engine, vp.id)
    assert (item.status, item.on_time) == ("closed", True)
    with pytest.raises(UserError, match="đã được chấp nhận phiên bản 1"):
        return_version(plan, engine, vp.id, 2, "Sửa", date(2027, 3, 25), t("2027-03-18T11:00"))
    with pytest.raises(UserError, match="đã được chấp nhận phiên bản 1"):
        return_deliverable(plan, engine, vp.id, "Sửa", date(2027, 3, 25), t("2027-03-18T11:00"))
    accept_version(plan, engine, vp.id, 2, t("2027-03-18T12:00"))
    item = reload(engine, vp.id)
    assert (item.status, item.on_time, item.judged_due) == ("closed", True, date(2027, 3, 16))


def test_an_item_counts_in_the_year_of_its_first_due_date(plan, engine):
    from usecases.directives import IssueDirective, issue_directive
    from usecases.extensions import GrantExtension, grant_extension

    directive = IssueDirective(
        number="301/SNV-CCHC",
        issued_on=date(2027, 12, 20),
        issuer="Sở Nội vụ",
        subject="tổng kết năm",
        due=date(2027, 12, 29),
        units=("KT",),
    )
    [item] = issue_directive(plan, engine, directive, t("2027-12-20T09:00")).items
    grant_extension(
        plan, engine, GrantExtension(item.id, date(2028, 1, 5), "Nghỉ Tết Dương lịch"),
        t("2027-12-21T09:00"),
    )  # fmt: skip
    kt_2027 = next(r for r in year_report(plan, engine, 2027, t("2027-12-31")) if r.unit == "KT")
    kt_2028 = next(r for r in year_report(plan, engine, 2028, t("2027-12-31")) if r.unit == "KT")
    # Not due yet on 31/12/2027: pending, not "đến hạn".
    assert (kt_2027.due, kt_2027.pending, kt_2028.due) == (0, 1, 0)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db_url(request):
    """A database with no schema yet (not the migrated template): the test migrates it."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


def test_the_migration_restores_the_first_due_date_and_the_first_verdict(empty_db_url):
    """Rows written before schema 0011: a returned item had lost its first due date (only the
    `returned` event kept it) and its verdict (reset to NULL by the return)."""
    engine = make_engine(empty_db_url)
    try:
        command.upgrade(_alembic_config(engine), "0010")
        with engine.begin() as c:
            c.execute(text(LEGACY_ITEMS))
            c.execute(text(LEGACY_VERSIONS))
            c.execute(text(LEGACY_RETURN))
        upgrade(engine)
        with engine.connect() as c:
            rows = c.execute(
                text(
                    "SELECT id, due, original_due, judged_due, on_time, directive_id "
                    "FROM work_item ORDER BY id"
                )  # fmt: skip
            ).all()
    finally:
        engine.dispose()
    got = [(r[0], str(r[1]), str(r[2]), r[3] and str(r[3]), r[4], r[5]) for r in rows]
    assert [(i, d, o, j, None if v is None else bool(v), x) for i, d, o, j, v, x in got] == [
        (1, "2027-03-30", "2027-03-16", "2027-03-16", False, None),  # returned, v1 late
        (2, "2027-03-16", "2027-03-16", "2027-03-16", True, None),  # closed on time
        (3, "2027-03-20", "2027-03-20", None, None, None),  # open, nothing handed in
    ]


LEGACY_ITEMS = """
INSERT INTO work_item (id, commune, obligation, unit, period, title, window_start, window_end,
    opens_on, due, adhoc, status, step, escalation_level, opened_at, on_time)
VALUES
 (1, 'maodien', 'x', 'VP', '2027-Q1', 't', '2026-12-15', '2027-03-14', '2027-03-02',
  '2027-03-30', false, 'open', 'opened', 0, '2027-03-02 00:30:00', NULL),
 (2, 'maodien', 'x', 'KT', '2027-Q1', 't', '2026-12-15', '2027-03-14', '2027-03-02',
  '2027-03-16', false, 'closed', 'closed', 0, '2027-03-02 00:30:00', true),
 (3, 'maodien', 'x', 'CA', '2027-Q1', 't', '2026-12-15', '2027-03-14', '2027-03-02',
  '2027-03-20', false, 'open', 'opened', 0, '2027-03-02 00:30:00', NULL)
"""
LEGACY_VERSIONS = """
INSERT INTO deliverable (item_id, version, part, original_name, size, sha256, stored_path,
    received_at, on_time, status)
VALUES (1, 1, 1, 'v1.pdf', 1, 'a', 'p', '2027-03-18 03:00:00', false, 'returned'),
       (2, 1, 1, 'v1.pdf', 1, 'b', 'p', '2027-03-15 03:00:00', true, 'received')
"""
LEGACY_RETURN = """
INSERT INTO event (item_id, at, kind, actor, detail)
VALUES (1, '2027-03-19 02:00:00', 'returned', 'VHXH',
        '{"previous_due": "2027-03-16", "due": "2027-03-30", "reason": "x"}')
"""
