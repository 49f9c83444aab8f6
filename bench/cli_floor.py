"""The library floor of a read-only command, for bench/cli.py: what any program printing the same
bytes has to spend in the libraries cchc uses, with none of cchc's code.

    python bench/cli_floor.py COMMAND CONFIG EXPECTED [DATABASE_URL]

It imports click, PyYAML (its C loader) and pydantic; reads every config file with the C loader
and validates it with pydantic models of the files' shape (units and people with e-mail
addresses checked by email-validator, obligations with their schedules); builds Vietnam's public
holidays (the `holidays` package's Vietnam alone, not its ~250 countries) for the plan's years;
expands the plan's periods with dateutil's rrule; then, by command:

- `plan`, `obligations`: the table of EXPECTED (cchc's output, written before the timing),
  cell by cell, through tabulate and click;
- `items`: the same, after reading the work items with SQLAlchemy Core (no ORM) from the
  database (their ids must be the table's);
- `check`: every mail template compiled by jinja2 (notifications/templates/), then the line of
  a valid config, with the counts of units, obligations, schedules and indicators it found.

What the floor is given is the table's cells: the due-date arithmetic and the words are cchc's
own work (a few thousand date additions), not a library's. Exit 3 when its output would
differ from EXPECTED (the bench checks the bytes too).
"""

from __future__ import annotations

import sys
from pathlib import Path

COMMAND, CONFIG, EXPECTED = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
DATABASE_URL = sys.argv[4] if len(sys.argv) > 4 else ""
TEMPLATES = Path(__file__).resolve().parent.parent / "notifications" / "templates"


def vietnam():
    """holidays' Vietnam class, loaded without the package's other countries."""
    import importlib
    import importlib.util
    import types

    spec = importlib.util.find_spec("holidays")
    roots = list(spec.submodule_search_locations)
    countries = [root + "/countries" for root in roots]
    for name, paths in (("holidays", roots), ("holidays.countries", countries)):
        stub = types.ModuleType(name)
        stub.__path__ = paths
        sys.modules[name] = stub
    return importlib.import_module("holidays.countries.vietnam").Vietnam


def config():
    """The config's files, read and validated; (commune, units, obligations, indicators)."""
    import yaml
    from pydantic import BaseModel, ConfigDict, EmailStr

    class Loose(BaseModel):
        model_config = ConfigDict(extra="allow")

    class Person(Loose):
        name: str
        email: EmailStr

    class Unit(Loose):
        code: str
        name: str
        email: EmailStr
        head: Person | None = None

    class Commune(Loose):
        code: str
        name: str
        plan_start: str
        plan_end: str
        contact: Person | None = None
        leadership: list[Person] = []

    class Obligation(Loose):
        id: str
        title: str
        kind: str
        lead: list[str] | str | None = None
        coordinators: list[str] | str | None = None
        schedule: dict | None = None
        policy: dict | None = None

    class Indicator(Loose):
        id: str
        ref: str
        name: str
        measure: str
        target: float
        by: int
        reported_in: str
        reported_by: list[str]

    class ConfigFile(Loose):
        commune: Commune | None = None
        units: list[Unit] | None = None
        obligations: list[Obligation] | None = None
        indicators: list[Indicator] | None = None
        calendar: dict | None = None

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    commune, units, obligations, indicators = None, [], [], []
    for path in sorted(CONFIG.glob("*.yaml")):
        data = yaml.load(path.read_bytes(), Loader=loader)  # noqa: S506  (the C safe loader)
        data = {k: v for k, v in data.items() if k in ConfigFile.model_fields}
        data = _strings(data)
        parsed = ConfigFile.model_validate(data)
        commune = parsed.commune or commune
        units += parsed.units or []
        obligations += parsed.obligations or []
        indicators += parsed.indicators or []
    return commune, units, obligations, indicators


def _strings(value):
    """Dates and clock times as the strings the models take (the loader makes them objects)."""
    if isinstance(value, dict):
        return {k: _strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strings(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def calendar(commune):
    """Public holidays of the plan's years, and the plan's months expanded by rrule."""
    from datetime import date

    from dateutil.rrule import MONTHLY, rrule

    first, last = int(commune.plan_start[:4]), int(commune.plan_end[:4])
    days_off = dict(vietnam()(years=range(first - 1, last + 2), language="vi"))
    months = list(rrule(MONTHLY, dtstart=date(first, 1, 1), until=date(last, 12, 31)))
    return days_off, months


def table_cells(text: str) -> tuple[list[str], list[list[str]]]:
    """A tabulate "simple" table read back: its headers and its rows' cells."""
    import re

    lines = text.rstrip("\n").split("\n")
    spans = [(m.start(), m.end()) for m in re.finditer(r"-+", lines[1])]
    spans[-1] = (spans[-1][0], None)

    def cells(line: str) -> list[str]:
        return [line[a:b].strip() for a, b in spans]

    return cells(lines[0]), [cells(line) for line in lines[2:]]


def table(text: str) -> str:
    from tabulate import tabulate

    headers, rows = table_cells(text)
    return tabulate(rows, headers=headers, tablefmt="simple")


def item_ids() -> list[int]:
    """The work items' ids, by SQLAlchemy Core."""
    from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, select

    work_item = Table(
        "work_item",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("commune", String),
        Column("obligation", String),
        Column("unit", String),
        Column("period", String),
        Column("status", String),
        Column("due", String),
        Column("title", String),
    )
    engine = create_engine(DATABASE_URL)
    with engine.connect() as connection:
        rows = connection.execute(select(work_item).order_by(work_item.c.id)).all()
    return [row.id for row in rows]


def templates() -> int:
    """Every mail template compiled by jinja2."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    environment = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined)
    names = environment.list_templates(extensions=["j2"])
    for name in names:
        environment.get_template(name)
    return len(names)


def main() -> None:
    import click

    expected = EXPECTED.read_text(encoding="utf-8")
    commune, units, obligations, indicators = config()
    calendar(commune)
    if COMMAND == "check":
        scheduled = sum(1 for o in obligations if o.schedule)
        templates()
        out = (
            f"Cấu hình hợp lệ: {len(units)} đơn vị, {len(obligations)} nhiệm vụ "
            f"({scheduled} có lịch)"
            + (f", {len(indicators)} chỉ tiêu" if indicators else "")
            + f" trong {CONFIG}; mọi mẫu thư đều dựng được"
        )
    else:
        out = table(expected)
        if COMMAND == "items":
            shown = [int(row[0]) for row in table_cells(expected)[1]]
            if sorted(shown) != sorted(item_ids()):
                sys.exit(3)
    if out + "\n" != expected:
        sys.exit(3)
    click.echo(out)


if __name__ == "__main__":
    main()
