"""The city office's league table in the Prefect UI: `cchc-<city>-league`, a table artifact (one
row per commune, best first, Vietnamese headings), rewritten after each city sweep; its stable
key makes it the "latest standing" page, versioned."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from flows.artifacts import MAX_TABLE_ROWS
from schedules.city import City
from schedules.dates import VN_ZONE, local_date, vn_datetime
from usecases.league import COLUMNS, RATE_KEYS, TOTAL, League, league
from usecases.scorecard import percent

RATES = {"on_time_rate", *RATE_KEYS.values()}


def league_key(city: City) -> str:
    return f"cchc-{city.code}-league"


def league_table(lg: League) -> list[dict[str, Any]]:
    """The rows under their Vietnamese headings, rates as "87%" ("–": nothing due)."""
    return [
        {
            heading: percent(row[key]) if key in RATES else ("–" if row[key] is None else row[key])
            for key, heading in COLUMNS
        }
        for row in lg.rows()[:MAX_TABLE_ROWS]
    ]


def league_description(lg: League) -> str:
    total = lg.total()
    return (
        f"Xếp hạng thực hiện đúng hạn nhiệm vụ CCHC của các xã, phường năm {lg.year} — "
        f"{lg.city}, số liệu đến {vn_datetime(lg.at, VN_ZONE)}: {len(lg.communes)} xã, "
        f"{TOTAL.lower()} {percent(total.on_time_rate)} đúng hạn "
        f"({total.on_time}/{total.on_time + total.late + total.overdue_open} việc đã đến hạn)."
    )


def publish_league(city: City, engine: Engine, at: datetime) -> str:
    """Publish the league of the current year of `at` (Asia/Ho_Chi_Minh); returns its key."""
    from prefect.artifacts import create_table_artifact

    lg = league(city, engine, local_date(at, VN_ZONE).year, at)
    key = league_key(city)
    create_table_artifact(league_table(lg), key=key, description=league_description(lg))
    return key
