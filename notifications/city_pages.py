"""A city's own pages in the Prefect UI (`cchc-<city>-...`, the city's code), built as plain
data (`notifications.status_pages.Page`): what an opening run opened, one row per commune
(`opened-<obligation>`), and the league table (`league`: one row per commune, best first,
rewritten after each city sweep). The city's sweep summary is `notifications.sweep_summary`'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from notifications.documents.house_style import percent
from notifications.documents.league import RATE_COLUMNS, columns
from notifications.status_pages import MAX_TABLE_ROWS, Page, fingerprint
from schedules.city import City
from schedules.commune_kinds import communes_count
from schedules.dates import VN_ZONE, vn_datetime
from schedules.indicators import vn_number
from schedules.plan import Plan
from usecases.league import TOTAL, League, short_name


def commune_label(plan: Plan) -> str:
    """ "xã Mao Điền (maodien)": how a city's pages name a commune."""
    return f"{short_name(plan.commune.name)} ({plan.commune.code})"


def city_count(city: City, codes: Iterable[str]) -> str:
    """ "60 xã, 40 phường": the communes `codes` of `city`, counted by kind (the city office's
    code, if there, as "cơ quan thành phố")."""
    codes = list(codes)
    counted = communes_count(str(city.plans[c].commune.kind) for c in codes if c in city.plans)
    if any(c not in city.plans for c in codes):
        return f"{counted} và cơ quan thành phố" if counted != "0 xã" else "cơ quan thành phố"
    return counted


def city_opened_key(city: City, obligation: str) -> str:
    return f"cchc-{city.code}-opened-{obligation}"


def city_opened_table(
    city: City, todo: dict[str, list[str]], opened: dict[str, int]
) -> list[dict[str, Any]]:
    """One row per commune an opening run served: its periods and how many items it opened."""
    return [
        {
            "Xã, phường, đặc khu": commune_label(city.known_plan(code)),
            "Kỳ": ", ".join(periods),
            "Mở mới": opened.get(code, 0),
            "Mã": code,
        }
        for code, periods in list(todo.items())[:MAX_TABLE_ROWS]
    ]


def city_opened_page(
    city: City, obligation: str, todo: dict[str, list[str]], opened: dict[str, int], at: datetime
) -> Page:
    """The city's view of an opening run: one row per commune it served."""
    having = [p for p in city.select(None) if obligation in p.obligations]
    title = having[0].obligations[obligation].title if having else obligation
    return Page(
        city_opened_key(city, obligation),
        city_opened_table(city, todo, opened) or [{"Kết quả": "Chưa có đơn vị nào đến ngày mở kỳ"}],
        f"{title} — mở {sum(opened.values())} việc ở {city_count(city, todo)} "
        f"({vn_datetime(at, city.zone)})",
    )


# --- the league table --------------------------------------------------------------------------


def league_key(city: City) -> str:
    return f"cchc-{city.code}-league"


def league_fingerprint(city: City, server: str | None) -> str:
    """What the league table shows besides the items and the day: the communes and their names."""
    return fingerprint([(code, p.commune.name) for code, p in city.plans.items()], server)


def league_table(lg: League) -> list[dict[str, Any]]:
    """The rows under their Vietnamese headings, rates as "87%" ("–": nothing due)."""
    return [
        {
            heading: percent(row[key])
            if key in RATE_COLUMNS
            else ("–" if row[key] is None else row[key])
            for key, heading in columns(lg)
        }
        for row in lg.rows()[:MAX_TABLE_ROWS]
    ]


def league_description(lg: League) -> str:
    total = lg.total()
    return (
        f"Xếp hạng thực hiện đúng hạn nhiệm vụ CCHC của các {lg.kinds_phrase} năm {lg.year} — "
        f"{lg.city}, số liệu đến {vn_datetime(lg.at, VN_ZONE)}: {lg.count_text}, "
        f"{TOTAL.lower()} {percent(total.on_time_rate)} đúng hạn "
        f"({total.on_time}/{total.on_time + total.late + total.overdue_open} việc đã đến hạn)."
        + furthest_from_target(lg)
    )


def furthest_from_target(lg: League, count: int = 3) -> str:
    """ " Xa mục tiêu chỉ tiêu nhất: xã A (thiếu 12,5 điểm %), …" — the communes whose
    indicators fall furthest short of their targets on average; "" when none has data."""
    rated = [c for c in lg.communes if c.indicators.rated]
    rated.sort(key=lambda c: (-(c.indicators.gaps / c.indicators.rated), c.code))
    shown = [
        f"{c.name} (thiếu {vn_number(c.indicators.gaps / c.indicators.rated)} điểm %)"
        for c in rated[:count]
        if c.indicators.gaps > 0
    ]
    return f" Xa mục tiêu chỉ tiêu nhất: {', '.join(shown)}." if shown else ""


def league_page(city: City, lg: League) -> Page:
    """The city office's league table (`cchc-<city>-league`): its stable key makes it the
    "latest standing" page, versioned."""
    return Page(league_key(city), league_table(lg), league_description(lg))
