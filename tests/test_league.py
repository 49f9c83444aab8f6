"""The city office's league table, on a generated city of three communes driven through 2027 by
the real sweep, closed by the real hand-in (on time) and the document-management receipt (late):

- xa001 hands in everything before its due date, and is excused (waived) one Q1 item;
- xa002 hands in January's items on time, its Q1 items late (after they escalated), and leaves
  its Q2 items open: overdue at the league's instant;
- xa003 is never swept: no item at all, yet it is listed, unranked.
"""

from __future__ import annotations

import io
import json
import struct
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest
from city_support import commune_codes, write_city
from sqlalchemy import event, select
from support import latest_artifact

from models.db import ensure_schema, make_engine, transaction
from models.tables import Event, WorkItem
from notifications.documents.league import COLUMNS, columns, league_png, league_xlsx
from schedules.city_loader import load_city
from schedules.dates import local_date, parse_instant
from schedules.vocabulary import OPEN_STATUSES
from usecases.league import CommuneYear, League, league
from usecases.lifecycle import receive_document, waive
from usecases.review import attach
from usecases.scorecard import QUARTERS, build_scorecard
from usecases.sweep import sweep_communes

YEAR = 2027
AT = parse_instant("2027-07-01T07:30")
"""After the half-year reports fell due (16/06/2027), before Q3's."""


def t(text: str) -> datetime:
    return parse_instant(text)


def open_items(engine, code: str) -> list[WorkItem]:
    """The commune's open items due in YEAR."""
    with transaction(engine) as session:
        query = select(WorkItem).where(
            WorkItem.commune == code,
            WorkItem.status.in_(list(OPEN_STATUSES)),
            WorkItem.due >= date(YEAR, 1, 1),
            WorkItem.due <= date(YEAR, 12, 31),
        )
        return list(session.exec(query.order_by(WorkItem.id)).scalars())


def hand_in(city, engine, data_dir: Path, code: str, at: datetime) -> int:
    """The commune's units hand in every open item of YEAR at `at` (`cchc attach`: recorded
    and closed as an upload is)."""
    plan = city.plans[code]
    report = data_dir / "bao-cao.pdf"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_bytes(b"%PDF-1.4 bao cao\n")
    items = open_items(engine, code)
    for item in items:
        assert plan.received_on_time(item.due, at)
        assert attach(plan, engine, data_dir, item.id, report, at).closed_item
    return len(items)


def receive_late(city, engine, code: str, at: datetime) -> int:
    """Every open item of YEAR arrives through the document-management system, past its due."""
    plan = city.plans[code]
    items = open_items(engine, code)
    for n, item in enumerate(items, start=1):
        assert not plan.received_on_time(item.due, at)
        received = receive_document(plan, engine, item.id, f"{n}/BC-{item.unit}", None, at)
        assert received.closed_item
    return len(items)


def drive_city(city, engine, data_dir: Path) -> dict[str, int]:
    """The story of the module's docstring; returns how many items each step closed."""
    swept = [city.plans["xa001"], city.plans["xa002"]]
    done = {}
    sweep_communes(swept, engine, t("2027-01-04T07:30"))
    done["january"] = hand_in(city, engine, data_dir, "xa001", t("2027-01-05T09:00"))
    hand_in(city, engine, data_dir, "xa002", t("2027-01-05T09:00"))
    sweep_communes(swept, engine, t("2027-02-15T07:30"))
    hand_in(city, engine, data_dir, "xa001", t("2027-02-16T09:00"))
    hand_in(city, engine, data_dir, "xa002", t("2027-02-16T09:00"))
    sweep_communes(swept, engine, t("2027-03-10T07:30"))
    q1 = open_items(engine, "xa001")
    consolidated = next(i for i in q1 if i.obligation == "bao-cao-cchc-tong-hop")
    waive(city.plans["xa001"], engine, consolidated.id, "Sáp nhập đơn vị", t("2027-03-10T10:00"))
    hand_in(city, engine, data_dir, "xa001", t("2027-03-11T09:00"))
    sweep_communes(swept, engine, t("2027-03-25T07:30"))  # xa002's Q1 reports escalate
    done["xa002_late"] = receive_late(city, engine, "xa002", t("2027-03-25T10:00"))
    sweep_communes(swept, engine, t("2027-06-10T07:30"))
    hand_in(city, engine, data_dir, "xa001", t("2027-06-11T09:00"))
    sweep_communes(swept, engine, t("2027-06-30T07:30"))
    hand_in(city, engine, data_dir, "xa001", t("2027-06-30T09:00"))
    sweep_communes(swept, engine, AT)
    today = local_date(AT, city.plans["xa002"].zone)
    done["xa002_overdue"] = sum(i.due < today for i in open_items(engine, "xa002"))
    return done


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    """(city, engine, counts) on a real SQLite file, shared by the module's tests."""
    tmp = tmp_path_factory.mktemp("league")
    city = load_city(write_city(tmp / "city", commune_codes(3)))
    engine = make_engine(f"sqlite:///{tmp / 'cchc.db'}")
    ensure_schema(engine)
    done = drive_city(city, engine, tmp / "data")
    yield city, engine, done
    engine.dispose()


@pytest.fixture(scope="module")
def table(story) -> League:
    city, engine, _ = story
    return league(city, engine, YEAR, AT)


def by_code(lg: League) -> dict[str, dict]:
    return {row["commune"]: row for row in lg.rows()}


def escalated_items(engine, code: str) -> int:
    """Oracle: the commune's items due in YEAR, not waived, with an escalation in the log."""
    with transaction(engine) as session:
        query = (
            select(WorkItem.id)
            .join(Event, Event.item_id == WorkItem.id)
            .where(
                WorkItem.commune == code,
                WorkItem.status != "waived",
                WorkItem.due >= date(YEAR, 1, 1),
                WorkItem.due <= date(YEAR, 12, 31),
                Event.kind == "escalation",
            )
            .distinct()
        )
        return len(session.execute(query).all())


def test_every_commune_is_ranked_best_first_the_one_without_items_last(table):
    rows = table.rows()
    assert [r["commune"] for r in rows] == ["xa001", "xa002", "xa003"]
    assert [r["rank"] for r in rows] == [1, 2, None]
    assert [r["name"] for r in rows] == ["xã XA001", "xã XA002", "xã XA003"]
    assert list(rows[0]) == [key for key, _ in COLUMNS]
    best, worst, empty = rows
    assert best["on_time_rate"] == 1.0
    assert 0 < worst["on_time_rate"] < 1
    assert {k: v for k, v in empty.items() if k not in ("commune", "name", "rank")} == {
        "due": 0,
        "on_time": 0,
        "on_time_extended": 0,
        "late": 0,
        "overdue_open": 0,
        "pending": 0,
        "waived": 0,
        "escalated": 0,
        "on_time_rate": None,
        "q1_rate": None,
        "q2_rate": None,
        "q3_rate": None,
        "q4_rate": None,
        "indicator_expected": 0,
        "indicator_reported": 0,
        "indicator_on_time": 0,
        "indicator_reporting_rate": None,
        "indicator_on_time_rate": None,
        "indicators_met": 0,
        "indicators_with_data": 0,
        "indicator_gap": None,
    }


def test_counts_follow_the_story_and_quarter_rates_the_due_dates(story, table):
    _, engine, done = story
    rows = by_code(table)
    best, worst = rows["xa001"], rows["xa002"]
    assert (best["late"], best["overdue_open"], best["waived"], best["escalated"]) == (0, 0, 1, 0)
    assert best["q1_rate"] == best["q2_rate"] == 1.0
    assert worst["late"] == done["xa002_late"] > 0
    assert worst["overdue_open"] == done["xa002_overdue"] > 0
    assert worst["q2_rate"] == 0.0  # every Q2 item left open past its due date
    # Q1: January's on time, March's reports late.
    assert 0 < worst["q1_rate"] < 1
    # Nothing of Q3 or Q4 has fallen due by 01/07.
    assert worst["q3_rate"] is None and worst["q4_rate"] is None
    assert worst["escalated"] == escalated_items(engine, "xa002") > 0


def matches_scorecards(city, engine, lg: League) -> None:
    """Per commune, the figures of the per-unit report (`year_report`, summed by the scorecard)
    and of the scorecard's quarters."""
    keys = ("due", "on_time", "late", "overdue_open", "pending", "waived")
    for row in lg.communes:
        card = build_scorecard(city.plans[row.code], engine, YEAR, lg.at)
        total, quarters = card.total(), card.total_quarters()
        assert {k: getattr(row.year, k) for k in keys} == {k: getattr(total, k) for k in keys}
        assert row.on_time_rate == total.on_time_rate
        for q in QUARTERS:
            assert row.quarters[q].on_time_rate == quarters[q].on_time_rate, (row.code, q)


def test_each_commune_matches_its_own_scorecard(story, table):
    city, engine, _ = story
    matches_scorecards(city, engine, table)


@pytest.mark.postgres
def test_the_same_on_postgresql(pg_url, tmp_path):
    city = load_city(write_city(tmp_path / "city", commune_codes(3)))
    engine = make_engine(pg_url)
    ensure_schema(engine)
    try:
        drive_city(city, engine, tmp_path / "data")
        lg = league(city, engine, YEAR, AT)
        assert [(r["commune"], r["rank"]) for r in lg.rows()] == [
            ("xa001", 1),
            ("xa002", 2),
            ("xa003", None),
        ]
        assert lg.communes[1].escalated == escalated_items(engine, "xa002") > 0
        matches_scorecards(city, engine, lg)
    finally:
        engine.dispose()


def test_one_query_whatever_the_number_of_communes(story):
    city, engine, _ = story
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        if "work_item" in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        league(city, engine, YEAR, AT)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(statements) == 1
    assert "GROUP BY" in statements[0]


def test_equal_rates_share_a_rank_in_code_order(tmp_path):
    """Both swept communes hand in January's items on time: 100% each, rank 1 each."""
    city = load_city(write_city(tmp_path / "city", commune_codes(3)))
    engine = make_engine(f"sqlite:///{tmp_path / 'cchc.db'}")
    ensure_schema(engine)
    sweep_communes([city.plans["xa001"], city.plans["xa002"]], engine, t("2027-01-04T07:30"))
    for code in ("xa002", "xa001"):
        hand_in(city, engine, tmp_path / "data", code, t("2027-01-05T09:00"))
    lg = league(city, engine, YEAR, t("2027-01-20T07:30"))
    engine.dispose()
    assert [(r["commune"], r["rank"], r["on_time_rate"]) for r in lg.rows()] == [
        ("xa001", 1, 1.0),
        ("xa002", 1, 1.0),
        ("xa003", None, None),
    ]


def test_the_chart_is_a_png_one_line_per_commune(table):
    png = league_png(table)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    _, height = struct.unpack(">II", png[16:24])
    assert height >= 3.5 * 110  # the minimum height: three communes fit


def test_a_city_of_114_communes_stays_readable(table):
    """One bar per commune: the picture grows with the communes (about 22 px each)."""
    best = table.communes[0]
    rows = [
        CommuneYear(f"xa{n:03d}", f"xã Thứ {n}", best.year, best.quarters, rank=n + 1)
        for n in range(114)
    ]
    big = League(table.city, YEAR, AT, rows)
    _, height = struct.unpack(">II", league_png(big)[16:24])
    assert height / 114 >= 20


def test_a_countrys_chart_stays_a_page_or_two_tall(table):
    """3,321 communes: the best and the last 60 bars, a gap line between them (the table lists
    them all); a city within the limit keeps one bar per commune."""
    best = table.communes[0]
    rows = [
        CommuneYear(f"xa{n:04d}", f"xã Thứ {n}", best.year, best.quarters, rank=n + 1)
        for n in range(3321)
    ]
    kinds = {r.code: "phuong" if n % 3 else "xa" for n, r in enumerate(rows)}
    big = League(table.city, YEAR, AT, rows, kinds)
    _, height = struct.unpack(">II", league_png(big)[16:24])
    _, small = struct.unpack(">II", league_png(replace(big, communes=rows[:120]))[16:24])
    assert height <= small * 1.05 and height < 4000
    assert big.count_text == "1107 xã, 2214 phường" and columns(big)[2][1] == "Xã, phường"


def test_the_workbook_holds_the_table_the_chart_and_the_raw_rows(table):
    from openpyxl import load_workbook

    png = league_png(table)
    wb = load_workbook(io.BytesIO(league_xlsx(table, png)))
    assert wb.sheetnames == ["Xếp hạng", "Biểu đồ", "Dữ liệu"]
    ranked = wb["Xếp hạng"]
    assert "NĂM 2027" in ranked["A1"].value
    headers = [c.value for c in ranked[5]]
    assert headers == [heading for _, heading in columns(table)] and headers[2] == "Xã"
    body = [[c.value for c in row] for row in ranked.iter_rows(min_row=6, max_row=8)]
    assert [(r[0], r[1]) for r in body] == [(1, "xa001"), (2, "xa002"), (None, "xa003")]
    assert ranked.cell(9, 3).value == "Toàn thành phố"
    assert ranked.cell(9, 4).value == sum(r["due"] for r in table.rows())
    assert len(wb["Biểu đồ"]._images) == 1
    raw = wb["Dữ liệu"]
    keys = [c.value for c in raw[1]]
    assert keys == [key for key, _ in COLUMNS]
    assert [dict(zip(keys, [c.value for c in row], strict=True)) for row in raw.iter_rows(2)] == (
        table.rows()
    )


@pytest.mark.prefect
def test_the_league_is_published_as_the_citys_table_artifact(harness, story):
    from prefect import flow

    from flows.artifacts import publish_league

    city, engine, _ = story

    @flow
    def after_the_city_sweep() -> str:
        return publish_league(city, engine, AT)

    key = after_the_city_sweep()
    assert key == "cchc-haiphong-league"

    artifact = latest_artifact(key)  # the server is the session's: other tests publish it too
    assert artifact.type == "table"
    rows = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert [(r["Hạng"], r["Mã"]) for r in rows] == [(1, "xa001"), (2, "xa002"), ("–", "xa003")]
    assert rows[0]["Tỷ lệ đúng hạn"] == "100%"
    assert rows[2]["Quý I"] == "–"
    assert f"năm {local_date(AT, city.plans['xa001'].zone).year}" in artifact.description
    assert "Thành phố Hải Phòng" in artifact.description
