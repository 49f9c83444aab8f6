"""Many rows in one statement, through the database driver: what the sweep writes per batch.

SQLAlchemy processes every parameter of every row of an executemany (type processors, the
compiled statement's parameter dicts): for the sweep's thousands of rows that cost more than
the database's own work (issue 25). Here the values are converted once per distinct value to
what SQLAlchemy itself would store (instants in UTC, on SQLite as `YYYY-MM-DD HH:MM:SS.ffffff`
text; dates as ISO text on SQLite; JSON as `json.dumps` text), then handed to the driver:

- SQLite: one executemany of the statement (the rows are written in-process; its row count is
  the sum of the rows each changed);
- PostgreSQL: one statement whose rows come from `unnest` of one array per column, instead of
  one statement per row: a single round trip and a single plan, and `RETURNING` / the row
  count tell exactly which rows it wrote.

Same statements, same guards, same conflict handling as the ORM's; only the way the values
travel differs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Sequence
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, Table, TypeDecorator
from sqlmodel import Session


class Bulk:
    """Bulk statements on one table, in the session's transaction."""

    def __init__(self, session: Session, table: Table):
        self.conn = session.connection()
        self.postgresql = self.conn.dialect.name == "postgresql"
        self.table = table
        self._converters: dict[str, Callable[[Any], Any] | None] = {}

    # --- values -----------------------------------------------------------------------------

    def converter(self, column: str) -> Callable[[Any], Any] | None:
        """The function giving `column`'s stored form of a Python value, memoised per value
        (a batch repeats its instants and copy lists); None when the driver takes the value as
        it is (text, a str enum, a number)."""
        if column not in self._converters:
            found = self._convert(column)
            self._converters[column] = None if found is None else _memoised(found)
        return self._converters[column]

    def _convert(self, column: str) -> Callable[[Any], Any] | None:
        kind = self.table.c[column].type
        if isinstance(kind, TypeDecorator):  # `UTCDateTime`: as its DateTime stores it
            kind = kind.impl_instance
        if isinstance(kind, JSON):
            return json.dumps
        if isinstance(kind, DateTime):
            return _pg_instant if self.postgresql else _sqlite_instant
        if isinstance(kind, Date) and not self.postgresql:
            return date.isoformat
        if isinstance(kind, Boolean) and not self.postgresql:
            return int
        return None

    def values(
        self,
        rows: Sequence[dict[str, Any]],
        columns: Sequence[str],
        fields: Sequence[str] | None = None,
    ) -> list[tuple]:
        """Each row's stored values of `columns`, in order, read from the row's `fields` (by
        default the columns' names)."""
        get = itemgetter(*(fields or columns))
        data = [get(row) for row in rows] if len(columns) > 1 else [(get(r),) for r in rows]
        converting = [(n, f) for n, f in enumerate(map(self.converter, columns)) if f]
        if not converting:
            return data
        converted = []
        for values in data:
            row = list(values)
            for n, convert in converting:
                row[n] = convert(row[n])
            converted.append(tuple(row))
        return converted

    # --- statements -------------------------------------------------------------------------

    def insert(self, rows: Sequence[dict[str, Any]], *, skip_conflicts: Sequence[str] = ()) -> int:
        """Insert `rows` (dicts with the same keys); with `skip_conflicts` (the columns of a
        unique key), a row whose key is taken is left out (ON CONFLICT (…) DO NOTHING: only
        that index is checked first). Returns the rows inserted."""
        if not rows:
            return 0
        columns = list(rows[0])
        names = ", ".join(columns)
        target = ", ".join(skip_conflicts)
        conflict = f" ON CONFLICT ({target}) DO NOTHING" if skip_conflicts else ""
        data = self.values(rows, columns)
        if self.postgresql:
            sql = f"INSERT INTO {self.table.name} ({names}) SELECT * FROM {self._unnest(columns)}"
            return self.conn.exec_driver_sql(sql + conflict, _arrays(data, len(columns))).rowcount
        marks = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {self.table.name} ({names}) VALUES ({marks}){conflict}"
        return self.conn.exec_driver_sql(sql, data).rowcount

    def update(
        self,
        key: str,
        guard: Sequence[str],
        changes: Sequence[str],
        rows: Sequence[dict[str, Any]],
        where: str = "",
    ) -> set[Any]:
        """Set `changes` of each row whose `key` and `guard` columns hold the row's values
        (`guard_<name>` in the row dict) and that matches the literal SQL `where` (its columns
        prefixed `{t}`); returns the keys of the rows updated. Each dict holds `key`,
        `guard_<g>` and the `changes`."""
        if not rows:
            return set()
        fields = [key, *(f"guard_{g}" for g in guard), *changes]
        types = [key, *guard, *changes]
        data = self.values(rows, types, fields)
        if self.postgresql:
            extra = " AND " + where.format(t="t.") if where else ""
            aliases = [f"v{n}" for n in range(len(fields))]
            new = aliases[1 + len(guard) :]
            sets = ", ".join(f"{c} = v.{a}" for c, a in zip(changes, new, strict=True))
            match = " AND ".join(
                f"t.{c} = v.{a}" for c, a in zip([key, *guard], aliases, strict=False)
            )
            sql = (
                f"UPDATE {self.table.name} AS t SET {sets} "
                f"FROM {self._unnest(types, aliases)} "
                f"WHERE {match}{extra} RETURNING t.{key}"
            )
            found = self.conn.exec_driver_sql(sql, _arrays(data, len(fields)))
            return set(found.scalars().all())
        extra = " AND " + where.format(t="") if where else ""
        sets = ", ".join(f"{c} = ?" for c in changes)
        match = " AND ".join(f"{c} = ?" for c in [key, *guard])
        sql = f"UPDATE {self.table.name} SET {sets} WHERE {match}{extra}"
        reordered = [(*row[1 + len(guard) :], *row[: 1 + len(guard)]) for row in data]
        changed = self.conn.exec_driver_sql(sql, reordered).rowcount
        if changed == len(rows):
            return {row[key] for row in rows}
        return self._still_at(key, changes, rows)

    def _still_at(
        self, key: str, changes: Sequence[str], rows: Sequence[dict[str, Any]]
    ) -> set[Any]:
        """Some rows were not updated (another runner changed them first): ours are those
        that now hold the values we wrote."""
        from sqlalchemy import select

        table = self.table
        wanted = {row[key]: tuple(row[c] for c in changes) for row in rows}
        query = select(table.c[key], *(table.c[c] for c in changes)).where(
            table.c[key].in_(list(wanted))
        )
        found = self.conn.execute(query).all()
        return {row[0] for row in found if tuple(row[1:]) == wanted[row[0]]}

    def _unnest(self, columns: Sequence[str], aliases: Sequence[str] | None = None) -> str:
        """`unnest(%s::type[], ...) AS v(...)`: one array parameter per column."""
        dialect = self.conn.dialect
        arrays = ", ".join(
            f"%b::{self.table.c[c].type.compile(dialect=dialect)}[]" for c in columns
        )
        return f"unnest({arrays}) AS v({', '.join(aliases or columns)})"


def _arrays(data: list[tuple], width: int) -> tuple[list[Any], ...]:
    """Rows as one list per column."""
    if not data:
        return tuple([] for _ in range(width))
    return tuple(list(column) for column in zip(*data, strict=True))


def _memoised(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    seen: dict[Hashable, Any] = {}

    def converted(value: Any) -> Any:
        if value is None:
            return None
        try:
            return seen[value]
        except KeyError:
            found = seen[value] = convert(value)
            return found
        except TypeError:  # unhashable: a JSON list (of text, memoised as a tuple) or dict
            if not isinstance(value, list):
                return convert(value)
        key = ("list", *value)
        try:
            return seen[key]
        except KeyError:
            found = seen[key] = convert(value)
            return found
        except TypeError:
            return convert(value)

    return converted


def _sqlite_instant(value: datetime) -> str:
    """As SQLAlchemy's SQLite DateTime stores an aware instant (`UTCDateTime`): UTC, no offset."""
    if value.utcoffset() is None:
        raise ValueError("an instant without a time zone")
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _pg_instant(value: datetime) -> datetime:
    if value.utcoffset() is None:
        raise ValueError("an instant without a time zone")
    return value.astimezone(UTC)
