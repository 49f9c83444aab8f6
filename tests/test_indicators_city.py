"""A city's indicators: a set shared by every commune (a file of the city's folder), each
commune's figures, the city's aggregate, the league table's reporting rates and the communes
furthest from target."""

from __future__ import annotations

from city_support import commune_codes, write_city
from sqlalchemy import select

from models.db import ensure_schema, make_engine, transaction
from models.tables import WorkItem
from notifications.city_pages import league_description
from schedules.city_loader import load_city
from schedules.dates import parse_instant
from usecases.indicator_report import city_rows, read_rows
from usecases.indicator_values import enter_values
from usecases.league import league
from usecases.sweep import sweep_communes

SHARED = """\
indicators:
  - id: ho-so-cong-viec-tren-mang
    ref: "Mục II.6.a, ý 5"
    name: "Tỷ lệ hồ sơ công việc được xử lý trên môi trường mạng"
    reported_by: [ALL]
    measure: ratio
    numerator: "Số hồ sơ xử lý trên mạng"
    denominator: "Tổng số hồ sơ"
    target: 100
    by: 2030
    reported_in: bao-cao-cchc-dinh-ky
"""


def test_a_city_shares_indicators_and_ranks_its_communes(tmp_path, sqlite_url):
    folder = write_city(tmp_path / "city", commune_codes(2))
    (folder / "indicators.yaml").write_text(SHARED, encoding="utf-8")
    city = load_city(folder)
    engine = make_engine(sqlite_url)
    ensure_schema(engine)
    plans = list(city.plans.values())
    sweep_communes(plans, engine, parse_instant("2027-03-02T07:30"))
    with transaction(engine) as s:
        items = s.scalars(
            select(WorkItem).where(
                WorkItem.obligation == "bao-cao-cchc-dinh-ky", WorkItem.period == "2027-Q1"
            )
        ).all()
    at = parse_instant("2027-03-10T09:00")
    figures = {"xa001": "9/10", "xa002": "5/10"}
    reported = {"xa001": 0, "xa002": 0}
    for item in items:
        if item.commune == "xa002" and reported["xa002"]:
            continue  # one unit of xa002 reports, the others do not
        texts = {"ho-so-cong-viec-tren-mang": figures[item.commune]}
        enter_values(city.plans[item.commune], engine, item.id, texts, at, item.unit)
        reported[item.commune] += 1
    rows = read_rows(plans, engine, 2027)
    commune = {r.commune: r for r in rows if r.unit == "ALL" and r.period == "2027-Q1"}
    assert commune["xa001"].value == 90.0 and commune["xa002"].value == 50.0
    expected = {c: sum(1 for i in items if i.commune == c) for c in figures}
    assert commune["xa002"].expected == expected["xa002"] and commune["xa002"].reported == 1
    [whole] = [r for r in city_rows(plans, rows, city.code) if r.period == "2027-Q1"]
    assert whole.commune == city.code
    assert (whole.numerator, whole.denominator) == (
        9 * reported["xa001"] + 5,
        10 * (reported["xa001"] + 1),
    )
    assert whole.reported == reported["xa001"] + 1
    table = league(city, engine, 2027, parse_instant("2027-03-11T07:30"))
    by_code = {row["commune"]: row for row in table.rows()}
    assert by_code["xa001"]["indicator_reporting_rate"] == 1.0
    assert by_code["xa002"]["indicator_reported"] == 1
    assert by_code["xa002"]["indicator_gap"] == 50.0
    assert by_code["xa001"]["indicator_gap"] == 10.0
    # A commune's own table (one row) keeps the city's totals, indicators included.
    mine = table.only("xa002")
    assert mine.total_indicators() == table.total_indicators() != mine.communes[0].indicators
    assert mine.total() == table.total()
    text = league_description(table)
    assert (
        "Xa mục tiêu chỉ tiêu nhất: xã XA002 (thiếu 50 điểm %), xã XA001 (thiếu 10 điểm %)" in text
    )
    engine.dispose()
