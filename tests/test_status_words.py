"""One item status, one wording (issue 18): every status an item can be in at an instant reads
the same on every surface: the `cchc items` table, the unit's intake page and the office page
(the real app under uvicorn, driven with httpx), the mails' view of the item and the Prefect
status tables; and "is it late now" is `schedules.item_standing.standing`'s on all of them."""

from __future__ import annotations

import html
import re
from datetime import date, datetime, time, timedelta

import httpx
import pytest
from intake_support import Clock, LiveIntake, t
from support import cli_env, run_cchc

from cchc.intake.office_views import ALL_YEARS
from models.db import transaction
from models.tables import WorkItem
from notifications.item_view import item_view
from notifications.status_pages import late_items_table, open_items_table
from schedules.dates import local_date
from schedules.item_standing import standing
from schedules.vocabulary import ItemStatus

NOW = "2027-03-16T09:00"
"""A Tuesday: 15/03 was the last working day, 19/03 is the Friday ahead."""

CASES = {
    # case: (status, due, escalation level, on time, the words every surface shows)
    "open, not yet due": ("open", date(2027, 3, 19), 0, None, "trong hạn"),
    "open, due today": ("open", date(2027, 3, 16), 0, None, "đến hạn hôm nay"),
    "open past due, not yet swept": ("open", date(2027, 3, 15), 0, None, "quá hạn"),
    "overdue": ("overdue", date(2027, 3, 12), 0, None, "quá hạn"),
    "escalated once": (
        "escalated",
        date(2027, 3, 5),
        1,
        None,
        "quá hạn, đã báo cáo cấp trên (lần 1)",
    ),
    "escalated twice": (
        "escalated",
        date(2027, 2, 26),
        2,
        None,
        "quá hạn, đã báo cáo cấp trên (lần 2)",
    ),
    "closed on time": ("closed", date(2027, 3, 10), 0, True, "đã nộp, đúng hạn"),
    "closed late": ("closed", date(2027, 3, 10), 0, False, "đã nộp, sau hạn"),
    "waived": ("waived", date(2027, 3, 10), 0, None, "được miễn"),
}
LATE_DAYS = {
    "open past due, not yet swept": 1,
    "overdue": 2,
    "escalated once": 7,
    "escalated twice": 12,
}
"""Working days late on NOW (the other cases are not late)."""

STEP = {"open": "opened", "overdue": "overdue", "closed": "closed", "waived": "waived"}


def make_items(plan, engine) -> dict[str, WorkItem]:
    """One item per case, as the database holds it (a unit's monthly items of the report)."""
    items = {}
    with transaction(engine) as session:
        for n, (case, (status, due, level, on_time, _)) in enumerate(CASES.items(), start=1):
            opened = datetime.combine(due - timedelta(days=14), time(7, 30), plan.zone)
            item = WorkItem(
                commune=plan.commune.code,
                obligation="bao-cao-cchc-dinh-ky",
                unit="VP",
                period=f"2027-{n:02d}",
                title=f"Nhiệm vụ kiểm thử: {case}",
                window_start=date(2027, 1, 1),
                window_end=date(2027, 1, 31),
                opens_on=opened.date(),
                due=due,
                status=status,
                step=f"escalation-{level}" if level else STEP[status],
                escalation_level=level,
                opened_at=opened,
                closed_at=opened + timedelta(days=10) if status == "closed" else None,
                on_time=on_time,
                waived_reason="Không phát sinh" if status == "waived" else None,
            )
            session.add(item)
            session.flush()
            session.refresh(item)
            session.expunge(item)
            items[case] = item
    return items


@pytest.fixture
def engine(sqlite_engine):
    return sqlite_engine


@pytest.fixture
def items(plan, engine):
    return make_items(plan, engine)


def expected() -> dict[str, str]:
    return {case: words for case, (*_, words) in CASES.items()}


def by_case(items: dict[str, WorkItem], words_of_id: dict[int, str]) -> dict[str, str]:
    return {case: words_of_id[item.id] for case, item in items.items() if item.id in words_of_id}


def cli_table(cells: str) -> dict[int, dict[str, str]]:
    """The rows of a `tabulate` "simple" table by their first cell (an id), cut into cells at
    the columns its dashed rule marks (a cell may hold spaces)."""
    lines = cells.splitlines()
    rule = next(i for i, line in enumerate(lines) if set(line) <= {"-", " "} and "-" in line)
    spans = [m.span() for m in re.finditer(r"-+", lines[rule])]
    headers = [lines[rule - 1][a:b].strip() for a, b in spans]
    rows = {}
    for line in lines[rule + 1 :]:
        row = dict(zip(headers, (line[a:b].strip() for a, b in spans), strict=True))
        rows[int(row["ID"])] = row
    return rows


def test_the_standing_of_every_case(plan, items):
    today = local_date(t(NOW), plan.zone)
    found = {case: standing(item, today, plan.calendar) for case, item in items.items()}
    assert {case: s.label for case, s in found.items()} == expected()
    assert {case: s.days_late for case, s in found.items() if s.late} == LATE_DAYS
    assert [case for case, s in found.items() if s.due_today] == ["open, due today"]
    assert {status.label for status in ItemStatus} == {
        "trong hạn",
        "quá hạn",
        "quá hạn, đã báo cáo cấp trên",
        "đã nộp",
        "được miễn",
        "tồn đọng trước khi vận hành, chờ xử lý",
    }


def test_every_status_reads_the_same_on_every_surface(plan, engine, items, sqlite_url, tmp_path):
    at = t(NOW)
    today = local_date(at, plan.zone)
    surfaces: dict[str, dict[str, str]] = {}

    # The command line's `items` table (the JSON keeps the stored status: a contract).
    env = cli_env(tmp_path / "cli", sqlite_url)
    table = cli_table(run_cchc(env, "items", "--at", NOW, cwd=tmp_path).stdout)
    surfaces["cchc items"] = by_case(items, {i: r["Trạng thái"] for i, r in table.items()})

    # The intake: the unit's page of each item, and the standing office's page.
    with LiveIntake(plan, engine, tmp_path / "data", Clock(at)) as live:
        unit_pages = {}
        for case, item in items.items():
            page = httpx.get(live.link(item), timeout=30)
            assert page.status_code == 200, case
            [words] = re.findall(r'<p class="status status-\w+">(.*?)</p>', page.text)
            unit_pages[case] = html.unescape(words)
        surfaces["unit page"] = unit_pages
        office = httpx.get(f"{live.office()}&year={ALL_YEARS}", timeout=30)  # closed too
        assert office.status_code == 200
        listed = re.findall(
            r'<article class="office-item" id="item-(\d+)">.*?'
            r'<span class="status status-\w+">(.*?)</span>',
            office.text,
            flags=re.DOTALL,
        )
        surfaces["office page"] = by_case(items, {int(i): html.unescape(w) for i, w in listed})

    # What a mail states of the item.
    surfaces["mail view"] = {
        case: item_view(plan, item, today).status_label for case, item in items.items()
    }

    # The Prefect status tables: the open items (those still owed) and the late ones.
    owed = [item for item in items.values() if ItemStatus(item.status).is_open]
    rows = open_items_table(plan, owed, at)
    surfaces["Prefect open items"] = by_case(items, {r["Mã việc"]: r["Tình trạng"] for r in rows})
    late = late_items_table(plan, owed, at)
    surfaces["Prefect late items"] = by_case(items, {r["Mã việc"]: r["Tình trạng"] for r in late})

    want = expected()
    for surface, words in surfaces.items():
        assert words == {case: want[case] for case in words}, surface
    for surface in ("cchc items", "unit page", "office page", "mail view"):
        assert set(surfaces[surface]) == set(CASES), surface
    open_cases = {case for case, (status, *_) in CASES.items() if ItemStatus(status).is_open}
    assert set(surfaces["Prefect open items"]) == open_cases
    assert set(surfaces["Prefect late items"]) == set(LATE_DAYS)
    assert {r["Mã việc"]: r["Trễ (ngày làm việc)"] for r in late} == {
        items[case].id: days for case, days in LATE_DAYS.items()
    }
