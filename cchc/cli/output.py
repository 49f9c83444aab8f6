"""Rows to text: a table for people (dd/mm/yyyy, local times), JSON and CSV for scripts."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from schedules.dates import VN_ZONE, vn_date, vn_datetime


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    show: Callable[[Any], str] | None = None
    """How a table shows the value (default `for_people`); JSON and CSV keep the value."""
    of_row: bool = False
    """`show` is given the whole row: for a label that depends on other fields."""


def for_people(value: Any, zone: ZoneInfo = VN_ZONE) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return vn_datetime(value, zone)
    if isinstance(value, date):
        return vn_date(value)
    if isinstance(value, bool):
        return "có" if value else "không"
    if isinstance(value, float):
        return f"{value:.0%}"
    return str(value)


def for_scripts(value: Any, zone: ZoneInfo = VN_ZONE) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(zone).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def render(
    rows: Sequence[dict[str, Any]], fmt: str, columns: Sequence[Column], zone: ZoneInfo = VN_ZONE
) -> str:
    if fmt == "json":
        data = [{k: for_scripts(v, zone) for k, v in row.items()} for row in rows]
        return json.dumps(data, ensure_ascii=False, indent=2)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=[c.key for c in columns], extrasaction="ignore")
        writer.writeheader()
        writer.writerows({k: for_scripts(v, zone) for k, v in row.items()} for row in rows)
        return out.getvalue().rstrip("\n")
    from tabulate import tabulate

    def cell(c: Column, row: dict[str, Any]) -> str:
        if c.show is None:
            return for_people(row.get(c.key), zone)
        return c.show(row if c.of_row else row.get(c.key))

    table = [[cell(c, row) for c in columns] for row in rows]
    return tabulate(table, headers=[c.header for c in columns], tablefmt="simple")
