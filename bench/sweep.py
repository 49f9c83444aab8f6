"""Benchmark: the sweep against a raw-driver floor that makes the same changes.

Issue 25, goal 1: a sweep costs at most 1.3× a raw-driver floor, at 2 million work items with
1,000 and 20,000 of them due, on SQLite and on PostgreSQL. For one database (a SQLite file in a
temp dir, or with `--database-url` a scratch PostgreSQL database dropped afterwards) it bulk-loads
`--items` work items of the shipped plan (default 2,000,000, the scale of every commune of a
province over 5 years; `--open-fraction` of them open) with the largest of `--due` due at the
sweep's instant t, then for each count of `--due` (default 1,000 and 20,000; the extra due rows
are set aside, their next action moved past t, for the smaller counts) measures:

1. `--pairs` (default 3; a configuration whose pairs take less than 20 s goes on, up to three
   times as many, while it has taken less) alternating pairs, after one warm-up of each (the
   first configuration of the database): `usecases.sweep.sweep` at t
   (the sweep as `cchc sweep` runs it: the opening phase, steady, then every due item advanced),
   and the **raw-driver floor**: the same state changes through the database's own driver
   (sqlite3 or psycopg), no SQLAlchemy: the hand-written indexed query, cchc's own timeline and
   notice functions for the values (`Plan.timeline`, `schedules.notices.step_notices`,
   `models.store.outbox_rows`), then one executemany UPDATE of the items, one executemany
   INSERT of their events, one of their outbox rows, one commit. The pairs alternate their
   order (sweep first, then floor first, ...). After each run the end state (the due items'
   status, step, escalation level and next action; every event and outbox row written, all
   columns but their ids) is read back and compared with the other's; then the state is put
   back (and, on PostgreSQL, the tables vacuumed). Prints each pair and the ratio sweep ÷ floor,
   min / median / max;
2. a statement profile of one more sweep: every statement's execute, fetch and commit timed at
   the driver (a connection and cursor class of the driver's own), grouped by statement, as a
   share of the sweep's time: no statement should take more than a third of it.

The configuration's JSON (`--json`, one object per due count, last lines): `items`, `due`,
`database`, `sweep_s`, `floor_s` (medians), `ratio` (the median of the pairs' ratios),
`ratio_min`, `ratio_max`, `ratios`, `pairs`, `identical` (pairs whose end states matched),
`target`, `met`, `top_statement`, `top_share`, `load` (the 1-minute load average at the start).

Synthetic rows. The shipped plan (config/) is used as is, so real policies, calendars and
recipients apply. Its scheduled obligations' (obligation, lead unit) pairs are reused with
synthetic period keys (`2028-s0001234`), which keeps the unique key (commune, obligation, unit,
period) unique; the sweep never reads a period key when it advances an item.

- closed history (1 - open fraction): due dates spread from the plan's start up to t, status
  `closed`, `next_action_at` NULL; ids in due-date order, as a real database grows;
- open, not yet due: due within 60 days after t, step `opened`, `next_action_at` after t;
- due (spread among the open rows): due dates around t, each at the step before the one its
  real timeline has reached at t, with `next_action_at` the instant of that step: what a daily
  sweep finds, one step to take per item.

Rows are bulk-loaded (executemany on SQLite, COPY on PostgreSQL); values go through the columns'
own SQLAlchemy bind processors so they are stored exactly as the ORM stores them. On PostgreSQL
the tables are ANALYZEd after loading, as autovacuum would; SQLite gets no ANALYZE, as cchc never
runs one.

    .venv/bin/python bench/sweep.py                                  # SQLite, 2M items
    .venv/bin/python bench/sweep.py \\
        --database-url postgresql://postgres@127.0.0.1:5432/test      # scratch db, dropped after
    .venv/bin/python bench/sweep.py --items 200000 --due 2000 --cprofile
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import hashlib
import json
import os
import pstats
import re
import sqlite3
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from scratch import scratch_database  # bench/scratch.py
from sqlalchemy import Engine, event, insert
from sqlalchemy.engine import make_url

from models.db import ensure_schema, make_engine, normalise_url
from models.store import outbox_rows
from models.tables import OpeningMark, WorkItem
from schedules.dates import local_date, local_instant
from schedules.notices import step_notices
from schedules.occurrences import opening_date
from schedules.plan import Plan
from schedules.plan_loader import load_plan
from schedules.timeline import current_step, state_at, step_index
from schedules.vocabulary import OPEN_STATUSES
from usecases.sweep import sweep

ROOT = Path(__file__).resolve().parent.parent
AT = datetime.fromisoformat("2030-06-17T07:30:00+07:00").astimezone(UTC)
"""The sweep's instant: a Monday morning sweep, four and a half years into the plan."""

CHUNK = 100_000
KEY_COLUMNS = ("commune", "obligation", "unit", "period", "title")
STATE_COLUMNS = tuple(
    c.name for c in WorkItem.__table__.columns if c.name not in KEY_COLUMNS + ("id",)
)
COLUMNS = KEY_COLUMNS + STATE_COLUMNS
INDEX = "ix_work_item_next_action"
TARGET = 1.3


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- synthetic rows -----------------------------------------------------------------------------


class RowMaker:
    """Work-item rows as tuples in `COLUMNS` order, already in the database's storage format.

    The state part of a row (dates, status, step, instants) depends on a few inputs only, so it
    is built once per distinct input and shared: generating 2 million rows takes seconds."""

    def __init__(self, plan: Plan, engine: Engine):
        self.plan = plan
        self.today = local_date(AT, plan.zone)
        self.pairs = [(oid, unit) for oid in plan.schedules for unit in plan.lead_units(oid)]
        columns = WorkItem.__table__.columns
        dialect = engine.dialect  # dialect_impl: the strings the ORM writes (SQLite compares text)
        self._processors = [
            columns[c].type.dialect_impl(dialect).bind_processor(dialect) for c in STATE_COLUMNS
        ]
        self._closed_state = functools.cache(self._make_closed_state)
        self._later_state = functools.cache(self._make_later_state)
        self._due_templates = self._make_due_templates()

    def closed(self, index: int, fraction: float) -> tuple:
        """A closed item due `fraction` of the way from the plan's start to t."""
        start = self.plan.commune.plan_start
        due = start + timedelta(days=int(fraction * (self.today - start).days))
        return self._key(index, due, "s") + self._closed_state(due, index % 11)

    def open_later(self, index: int) -> tuple:
        """An open item whose next step comes after t."""
        variant = index % (24 * 60)
        return self._key(index, self._later_due(variant), "s") + self._later_state(variant)

    def due(self, serial: int) -> tuple:
        """An open item whose next step's instant has passed at t."""
        oid, unit, due, state = self._due_templates[serial % len(self._due_templates)]
        title = self.plan.obligations[oid].title
        return (self.plan.commune.code, oid, unit, f"{due.year}-d{serial:07d}", title) + state

    def _key(self, index: int, due: date, tag: str) -> tuple:
        oid, unit = self.pairs[index % len(self.pairs)]
        period = f"{due.year}-{tag}{index // len(self.pairs):07d}"
        return (self.plan.commune.code, oid, unit, period, self.plan.obligations[oid].title)

    def _state(self, **values) -> tuple:
        values = (
            dict(
                adhoc=False,
                nominal_due=None,
                closed_at=None,
                on_time=None,
                waived_reason=None,
                original_due=values["due"],
                judged_due=None,
                directive_id=None,
                held_on=None,
            )
            | values
        )
        return tuple(
            values[c] if p is None or values[c] is None else p(values[c])
            for c, p in zip(STATE_COLUMNS, self._processors, strict=True)
        )

    def _morning(self, day: date) -> datetime:
        return local_instant(day, self.plan.commune.sweep_time, self.plan.zone)

    def _make_closed_state(self, due: date, variant: int) -> tuple:
        opened = self._morning(due - timedelta(days=14))
        return self._state(
            window_start=due - timedelta(days=90),
            window_end=due - timedelta(days=15),
            opens_on=due - timedelta(days=14),
            due=due,
            status="closed",
            step="closed",
            escalation_level=0,
            opened_at=opened,
            closed_at=opened + timedelta(days=7 + variant),
            on_time=variant < 9,
            next_action_at=None,
        )

    def _later_due(self, variant: int) -> date:
        return self.today + timedelta(days=1 + variant % 60)

    def _make_later_state(self, variant: int) -> tuple:
        due = self._later_due(variant)
        return self._state(
            window_start=due - timedelta(days=90),
            window_end=due - timedelta(days=15),
            opens_on=self.today,
            due=due,
            status="open",
            step="opened",
            escalation_level=0,
            opened_at=self._morning(self.today),
            next_action_at=AT + timedelta(hours=1 + variant),
        )

    def _make_due_templates(self) -> list[tuple[str, str, date, tuple]]:
        """(obligation, unit, due, state) for every pair and due date around t whose real
        timeline has a step at or before t: the item stands at the step before that one."""
        templates = []
        for offset in range(-12, 15):
            due = self.today + timedelta(days=offset)
            for oid, unit in self.pairs:
                opens_on = opening_date(due, self.plan.policy(oid), self.plan.calendar)
                opened_at = self._morning(opens_on)
                steps = self.plan.timeline(oid, due, opened_at)
                now = current_step(steps, AT)
                if now == 0 or opened_at > AT:
                    continue
                state = self._state(
                    window_start=due - timedelta(days=90),
                    window_end=due - timedelta(days=15),
                    opens_on=opens_on,
                    due=due,
                    opened_at=opened_at,
                    **state_at(steps, now - 1),
                )
                templates.append((oid, unit, due, state))
        return templates


def rows(maker: RowMaker, items: int, open_fraction: float, due_rows: int) -> Iterator[tuple]:
    """Closed history first, then the open items with the due ones spread among them."""
    open_items = max(round(items * open_fraction), due_rows)
    closed_items = items - open_items
    for i in range(closed_items):
        yield maker.closed(i, i / max(closed_items, 1))
    every = max(open_items // max(due_rows, 1), 1)
    serial = 0
    for j in range(open_items):
        index = closed_items + j
        if j % every == 0 and serial < due_rows:
            yield maker.due(serial)
            serial += 1
        else:
            yield maker.open_later(index)


# --- loading ------------------------------------------------------------------------------------


def load(engine: Engine, row_iter: Iterator[tuple], total: int) -> None:
    started = time.perf_counter()
    done = 0
    while True:
        chunk = [row for _, row in zip(range(CHUNK), row_iter, strict=False)]
        if not chunk:
            break
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                _copy(conn, chunk)
            else:
                marks = ", ".join("?" for _ in COLUMNS)
                sql = f"INSERT INTO work_item ({', '.join(COLUMNS)}) VALUES ({marks})"
                conn.exec_driver_sql(sql, chunk)
        done += len(chunk)
        log(f"  loaded {done:>9,} / {total:,} rows ({time.perf_counter() - started:.0f} s)")
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE work_item")


def _copy(conn, chunk: list[tuple]) -> None:
    driver = conn.connection.driver_connection
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY work_item ({', '.join(COLUMNS)}) FROM STDIN") as copy,
    ):
        for row in chunk:
            copy.write_row(row)


def set_opening_marks(engine: Engine, plan: Plan) -> None:
    """Every obligation opened through t's date, with its current fingerprint: steady state."""
    today = local_date(AT, plan.zone)
    marks = [
        dict(
            commune=plan.commune.code,
            obligation=oid,
            fingerprint=plan.fingerprint(oid),
            opened_through=today,
        )
        for oid in plan.schedules
    ]
    with engine.begin() as conn:
        conn.execute(insert(OpeningMark.__table__), marks)


# --- the raw driver ------------------------------------------------------------------------------

OPEN = ", ".join(f"'{s.value}'" for s in OPEN_STATUSES)
FAR = AT + timedelta(days=3650)
"""Where the due rows a smaller configuration sets aside wait: long after t."""


class Raw:
    """A connection of the database's own driver (sqlite3 or psycopg), no SQLAlchemy, with the
    settings cchc's engine gives its connections (SQLite: foreign keys on, a busy timeout;
    the file is already in WAL mode). Values are written as SQLAlchemy stores them: on SQLite
    instants as `YYYY-MM-DD HH:MM:SS.ffffff` (UTC) and dates as ISO text; JSON as `json.dumps`
    text."""

    def __init__(self, url: str):
        parsed = make_url(normalise_url(url))
        self.sqlite = parsed.get_backend_name() == "sqlite"
        if self.sqlite:
            self.conn: Any = sqlite3.connect(str(parsed.database), timeout=30, isolation_level=None)
            self.conn.execute("PRAGMA busy_timeout=30000")
            self.conn.execute("PRAGMA foreign_keys=ON")
        else:
            import psycopg

            info = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
            self.conn = psycopg.connect(info)

    def sql(self, text: str) -> str:
        """`text` with `?` marks, in the driver's parameter style."""
        return text if self.sqlite else text.replace("?", "%s")

    def begin(self) -> None:
        if self.sqlite:
            self.conn.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        if self.sqlite:
            self.conn.execute("COMMIT")
        else:
            self.conn.commit()

    def instant(self, value: datetime | None) -> Any:
        if value is None or not self.sqlite:
            return value
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    def read_instant(self, value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def read_date(self, value: Any) -> date:
        return date.fromisoformat(value) if isinstance(value, str) else value

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        cursor = self.conn.cursor()
        cursor.execute(self.sql(sql), params)
        found = cursor.fetchall()
        cursor.close()
        return found

    def close(self) -> None:
        self.conn.close()


def floor_query(raw: Raw) -> str:
    """The hand-written indexed query; on SQLite with the index pinned (`INDEXED BY`): without
    statistics SQLite prefers the equality on `commune`, which every row matches."""
    pinned = f" INDEXED BY {INDEX}" if raw.sqlite else ""
    return (
        f"SELECT id, obligation, unit, step, due, opened_at FROM work_item{pinned}"
        f" WHERE commune = ? AND next_action_at <= ? AND status IN ({OPEN})"
    )


FLOOR_UPDATE = (
    "UPDATE work_item SET status = ?, step = ?, escalation_level = ?, next_action_at = ?"
    " WHERE id = ?"
)
FLOOR_EVENT = "INSERT INTO event (item_id, at, kind, actor, detail) VALUES (?, ?, ?, ?, ?)"
FLOOR_OUTBOX = (
    "INSERT INTO outbox (item_id, step, kind, recipient, cc, status, created_at, send_after,"
    " attempts, addressed_to) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def raw_floor(raw: Raw, plan: Plan) -> tuple[float, int]:
    """The sweep's state changes through the raw driver, in one transaction: the seconds it
    took and the items it moved to a later step."""
    started = time.perf_counter()
    at = raw.instant(AT)
    raw.begin()
    cursor = raw.conn.cursor()
    cursor.execute(raw.sql(floor_query(raw)), (plan.commune.code, at))
    updates, events, outbox = [], [], []
    for item_id, oid, unit, done_name, due, opened_at in cursor.fetchall():
        steps = plan.timeline(oid, raw.read_date(due), raw.read_instant(opened_at))
        done = step_index(steps, done_name)
        now = max(current_step(steps, AT), done)
        state = state_at(steps, now)
        updates.append(
            (
                str(state["status"]),
                state["step"],
                state["escalation_level"],
                raw.instant(state["next_action_at"]),
                item_id,
            )
        )
        if now == done:
            continue
        step = steps[now]
        skipped = [s.name for s in steps[done + 1 : now]]
        detail = json.dumps({"step": step.name, "skipped": skipped})
        events.append((item_id, at, str(step.kind), "engine", detail))
        if unit not in plan.units:
            reason = json.dumps(
                {"step": step.name, "reason": f"unit {unit} is no longer in the config"}
            )
            events.append((item_id, at, "undeliverable", "engine", reason))
        for row in outbox_rows(item_id, step_notices(plan, oid, unit, step), AT):
            outbox.append(
                (item_id, row["step"], str(row["kind"]), row["recipient"], json.dumps(row["cc"]),
                 "pending", at, at, 0, row["addressed_to"])
            )  # fmt: skip
    cursor.executemany(raw.sql(FLOOR_UPDATE), updates)
    cursor.executemany(raw.sql(FLOOR_EVENT), events)
    cursor.executemany(raw.sql(FLOOR_OUTBOX), outbox)
    cursor.close()
    raw.commit()
    return time.perf_counter() - started, len({e[0] for e in events})


# --- the state a run starts from, and the state it leaves --------------------------------------


@dataclass
class Saved:
    """What a sweep changes, to put back: the due rows' state and the last event / outbox ids."""

    rows: list[tuple]
    """(status, step, escalation_level, next_action_at, id) of each due row, as stored."""
    event_id: int
    outbox_id: int


def save_state(raw: Raw, plan: Plan) -> Saved:
    rows = raw.rows(
        "SELECT status, step, escalation_level, next_action_at, id FROM work_item"
        f" WHERE commune = ? AND next_action_at <= ? AND status IN ({OPEN})",
        (plan.commune.code, raw.instant(AT)),
    )
    event_id = raw.rows("SELECT coalesce(max(id), 0) FROM event")[0][0]
    outbox_id = raw.rows("SELECT coalesce(max(id), 0) FROM outbox")[0][0]
    return Saved(rows, event_id, outbox_id)


PG_RESTORE = (
    "UPDATE work_item AS w SET status = v.status, step = v.step,"
    " escalation_level = v.level, next_action_at = v.next"
    " FROM unnest(%s::text[], %s::text[], %s::int[], %s::timestamptz[], %s::int[])"
    " AS v(status, step, level, next, id) WHERE w.id = v.id"
)


def restore_state(raw: Raw, saved: Saved) -> None:
    """Undo a run: the due rows' state back, its events and outbox rows gone; on PostgreSQL
    the event and outbox tables vacuumed, so that no run pays for the dead rows of the one
    before (work_item is not: vacuuming its 2 million rows' indexes after every run would take
    longer than the runs; its due rows' dead versions weigh on the sweep and floor alike)."""
    raw.begin()
    cursor = raw.conn.cursor()
    if raw.sqlite:
        cursor.executemany(FLOOR_UPDATE, saved.rows)
    else:  # one statement: faster than the floor's executemany, and not measured
        cursor.execute(PG_RESTORE, [list(column) for column in zip(*saved.rows, strict=True)])
    cursor.execute(raw.sql("DELETE FROM outbox WHERE id > ?"), (saved.outbox_id,))
    cursor.execute(raw.sql("DELETE FROM event WHERE id > ?"), (saved.event_id,))
    cursor.close()
    raw.commit()
    if not raw.sqlite:  # the unique index of outbox would otherwise check each new row
        raw.conn.autocommit = True  # against the dead ones of every run before
        try:
            raw.conn.execute("VACUUM event, outbox")
        finally:
            raw.conn.autocommit = False


def end_state(raw: Raw, saved: Saved) -> str:
    """A digest of what a run left: the due rows' state, the events and outbox rows it wrote
    (every column but their ids, instants in UTC, JSON parsed), in a canonical order."""
    due_ids = {row[-1] for row in saved.rows}
    first = min(due_ids, default=0)
    items = [
        (i, s, st, lv, _iso(raw, n))
        for i, s, st, lv, n in raw.rows(
            "SELECT id, status, step, escalation_level, next_action_at FROM work_item"
            + (" WHERE id >= ?" if raw.sqlite else " WHERE id = ANY(?)"),
            (first,) if raw.sqlite else (sorted(due_ids),),
        )
        if i in due_ids
    ]
    events = [
        (i, _iso(raw, at), kind, actor, _json(detail))
        for i, at, kind, actor, detail in raw.rows(
            "SELECT item_id, at, kind, actor, detail FROM event WHERE id > ?", (saved.event_id,)
        )
    ]
    outbox = [
        tuple(_iso(raw, v) if c in (6, 7, 10, 11) else _json(v) if c == 4 else v
              for c, v in enumerate(row))
        for row in raw.rows(
            "SELECT item_id, step, kind, recipient, cc, status, created_at, send_after, attempts,"
            " last_error, sent_at, claimed_until, claim_token, addressed_to, message_id"
            " FROM outbox WHERE id > ?",
            (saved.outbox_id,),
        )
    ]  # fmt: skip
    text = repr((sorted(items), sorted(events, key=repr), sorted(outbox, key=repr)))
    return hashlib.sha256(text.encode()).hexdigest()


def _iso(raw: Raw, value: Any) -> str | None:
    """An instant as stored: SQLite's text as it is (its queries compare the text), a
    PostgreSQL timestamptz in UTC."""
    if value is None or isinstance(value, str):
        return value
    return value.astimezone(UTC).isoformat()


def _json(value: Any) -> str:
    return json.dumps(json.loads(value) if isinstance(value, str) else value, sort_keys=True)


def set_aside(raw: Raw, saved: Saved, keep: int) -> list[tuple]:
    """Leave `keep` of the due rows due (spread among them), the others' next action moved past
    t; returns what to put back (`restore_aside`)."""
    rows = sorted(saved.rows, key=lambda r: r[-1])
    every = len(rows) / max(keep, 1)
    kept = {round(i * every) for i in range(keep)}
    aside = [(r[3], r[-1]) for n, r in enumerate(rows) if n not in kept]
    _set_next_action(raw, [(raw.instant(FAR), i) for _, i in aside])
    return aside


def restore_aside(raw: Raw, aside: list[tuple]) -> None:
    _set_next_action(raw, aside)


def _set_next_action(raw: Raw, params: list[tuple]) -> None:
    raw.begin()
    cursor = raw.conn.cursor()
    if raw.sqlite:
        cursor.executemany("UPDATE work_item SET next_action_at = ? WHERE id = ?", params)
    elif params:
        cursor.execute(
            "UPDATE work_item AS w SET next_action_at = v.next FROM unnest(%s::timestamptz[],"
            " %s::int[]) AS v(next, id) WHERE w.id = v.id",
            [list(column) for column in zip(*params, strict=True)],
        )
    cursor.close()
    raw.commit()


# --- a statement profile at the driver ---------------------------------------------------------


class StatementClock:
    """Seconds and calls per statement (`statement_kind`), each execute, fetch and commit timed
    where the driver does it: a SQLite SELECT's rows are read at fetch time, PostgreSQL's at
    execute time, and a commit is where SQLite writes its log."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def timed(self, kind: str, call: Callable, *args, **kwargs):
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            self.seconds[kind] += time.perf_counter() - started

    def classes(self, sqlite: bool) -> tuple[type, type]:
        """A (connection, cursor) class pair of the driver's that report to this clock."""
        clock = self
        if sqlite:
            base_conn, base_cursor = sqlite3.Connection, sqlite3.Cursor
        else:
            import psycopg

            base_conn, base_cursor = psycopg.Connection, psycopg.Cursor

        class Cursor(base_cursor):  # type: ignore[valid-type, misc]
            kind = "?"

            def execute(self, sql, *args, **kwargs):
                self.kind = statement_kind(sql)
                clock.calls[self.kind] += 1
                return clock.timed(self.kind, super().execute, sql, *args, **kwargs)

            def executemany(self, sql, *args, **kwargs):
                self.kind = statement_kind(sql)
                clock.calls[self.kind] += 1
                return clock.timed(self.kind, super().executemany, sql, *args, **kwargs)

            def fetchone(self):
                return clock.timed(self.kind, super().fetchone)

            def fetchmany(self, *args, **kwargs):
                return clock.timed(self.kind, super().fetchmany, *args, **kwargs)

            def fetchall(self):
                return clock.timed(self.kind, super().fetchall)

        class Connection(base_conn):  # type: ignore[valid-type, misc]
            if sqlite:

                def cursor(self, factory=Cursor):
                    return super().cursor(factory)

            def commit(self):
                clock.calls["COMMIT"] += 1
                return clock.timed("COMMIT", super().commit)

        return Connection, Cursor

    def attach(self, engine: Engine) -> None:
        """Make `engine`'s new connections report to this clock."""
        sqlite = engine.dialect.name == "sqlite"
        connection, cursor = self.classes(sqlite)

        @event.listens_for(engine, "do_connect")
        def _connect(dialect, record, cargs, cparams):
            if sqlite:
                cparams["factory"] = connection
                return None
            cparams["cursor_factory"] = cursor
            return connection.connect(*cargs, **cparams)

    def lines(self, total: float) -> list[str]:
        out = []
        for kind in sorted(self.seconds, key=self.seconds.__getitem__, reverse=True):
            seconds = self.seconds[kind]
            out.append(
                f"{kind:<24} {self.calls[kind]:>6} x {seconds:8.3f} s {seconds / total:6.1%}"
            )
        spent = sum(self.seconds.values())
        out.append(
            f"{'(not in the driver)':<24} {'':>8} {total - spent:8.3f} s {1 - spent / total:6.1%}"
        )
        return out

    def top(self, total: float) -> tuple[str, float]:
        kind = max(self.seconds, key=self.seconds.__getitem__)
        return kind, self.seconds[kind] / total


def statement_kind(sql: str) -> str:
    found = re.match(r"\s*(INSERT INTO|UPDATE|DELETE FROM)\s+(\w+)", sql, re.I) or re.match(
        r"\s*(SELECT)\b.*?\bFROM\s+(\w+)", sql, re.S | re.I
    )
    if found:
        return f"{found[1].upper()} {found[2]}"
    return sql.split(None, 1)[0].upper() if sql.strip() else "?"


def profile_sweep(url: str, plan: Plan, raw: Raw, saved: Saved, cprofile: bool) -> dict:
    """One sweep on an engine whose connections report to a `StatementClock`."""
    clock = StatementClock()
    engine = make_engine(url)
    clock.attach(engine)
    profiler = cProfile.Profile() if cprofile else None
    try:
        with engine.connect():
            pass  # the connection exists before the clock starts, as in the measured pairs
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        sweep(plan, engine, AT)
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - started
    finally:
        engine.dispose()
        restore_state(raw, saved)
    print(f"  statement profile of one sweep ({seconds:.3f} s; execute + fetch + commit):")
    for line in clock.lines(seconds):
        print(f"    {line}")
    if profiler:
        print("  cProfile of that sweep (top 30 by internal time):")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    top, share = clock.top(seconds)
    return dict(top_statement=top, top_share=round(share, 3), profile_s=round(seconds, 4))


# --- one configuration -------------------------------------------------------------------------


SHORT, SHORT_PAIRS = 20.0, 3
"""A configuration whose `--pairs` took less than SHORT seconds goes on, up to SHORT_PAIRS times
as many pairs, while it has taken less: runs of a few tenths of a second are at the mercy of the
machine's scheduler."""


def alternate(engine: Engine, raw: Raw, plan: Plan, pairs: int, warm_up: bool) -> dict:
    """After one warm-up of each (`warm_up`: the first configuration of a database),
    `pairs` alternating (sweep, floor) pairs on the same state, each run's end state compared
    with the others'."""
    saved = save_state(raw, plan)
    chores = [0.0]

    def run_sweep() -> tuple[float, int, str]:
        started = time.perf_counter()
        report = sweep(plan, engine, AT)
        seconds = time.perf_counter() - started
        return seconds, len(report.advanced), put_back()

    def run_floor() -> tuple[float, int, str]:
        seconds, moved = raw_floor(raw, plan)
        return seconds, moved, put_back()

    def put_back() -> str:
        started = time.perf_counter()
        digest = end_state(raw, saved)
        restore_state(raw, saved)
        chores[0] += time.perf_counter() - started
        return digest

    if warm_up:
        run_sweep()
        run_floor()
    sweeps, floors, ratios, identical, reference, advanced = [], [], [], 0, None, 0
    started, n = time.perf_counter(), 0
    while n < pairs or (n < SHORT_PAIRS * pairs and time.perf_counter() - started < SHORT):
        order = (run_sweep, run_floor) if n % 2 == 0 else (run_floor, run_sweep)
        results = {run: run() for run in order}
        (sweep_s, moved, sweep_end), (floor_s, floor_moved, floor_end) = (
            results[run_sweep],
            results[run_floor],
        )
        reference = reference or sweep_end
        advanced = advanced or moved
        assert moved == floor_moved == advanced, (moved, floor_moved, advanced)
        same = sweep_end == floor_end == reference
        identical += same
        sweeps.append(sweep_s)
        floors.append(floor_s)
        ratios.append(sweep_s / floor_s)
        first = "sweep" if n % 2 == 0 else "floor"
        print(
            f"  pair {n + 1} ({first} first): sweep {sweep_s:.3f} s, floor {floor_s:.3f} s, "
            f"ratio {sweep_s / floor_s:.2f}, end state {'identical' if same else 'DIFFERENT'}",
            flush=True,
        )
        n += 1
    log(f"  (reading back and putting back the state: {chores[0]:.1f} s in all)")
    return dict(
        sweep_s=statistics.median(sweeps),
        floor_s=statistics.median(floors),
        ratio=statistics.median(ratios),
        ratio_min=min(ratios),
        ratio_max=max(ratios),
        ratios=ratios,
        pairs=len(ratios),
        advanced=advanced,
        identical=identical,
    )


def bench_database(args, plan: Plan, url: str) -> list[dict]:
    dues = sorted(set(args.due))
    engine = make_engine(url)
    database = engine.dialect.name
    results = []
    try:
        ensure_schema(engine)
        maker = RowMaker(plan, engine)
        log(f"loading {args.items:,} work items, {dues[-1]:,} of them due at {AT.isoformat()}")
        load(engine, rows(maker, args.items, args.open_fraction, dues[-1]), args.items)
        set_opening_marks(engine, plan)
        log("loaded")
        raw = Raw(url)
        try:
            everything = save_state(raw, plan)
            for due in dues:
                print(f"\n=== {database}: {args.items:,} work items, {due:,} due ===", flush=True)
                aside = set_aside(raw, everything, due)
                try:
                    load_average = os.getloadavg()[0]
                    found = alternate(engine, raw, plan, args.pairs, due == dues[0])
                    profile = profile_sweep(url, plan, raw, save_state(raw, plan), args.cprofile)
                finally:
                    restore_aside(raw, aside)
                print(
                    f"  sweep {found['sweep_s']:.3f} s, floor {found['floor_s']:.3f} s (medians); "
                    f"sweep ÷ floor {found['ratio_min']:.2f}/{found['ratio']:.2f}/"
                    f"{found['ratio_max']:.2f} (min/median/max); end states identical in "
                    f"{found['identical']} of {found['pairs']} pairs; top statement "
                    f"{profile['top_statement']} {profile['top_share']:.0%}",
                    flush=True,
                )
                results.append(
                    dict(
                        items=args.items,
                        due=found["advanced"],
                        database=database,
                        sweep_s=round(found["sweep_s"], 4),
                        floor_s=round(found["floor_s"], 4),
                        ratio=round(found["ratio"], 3),
                        ratio_min=round(found["ratio_min"], 3),
                        ratio_median=round(found["ratio"], 3),
                        ratio_max=round(found["ratio_max"], 3),
                        ratios=[round(r, 3) for r in found["ratios"]],
                        pairs=found["pairs"],
                        identical=found["identical"],
                        target=TARGET,
                        met=found["ratio"] <= TARGET,
                        load=round(load_average, 2),
                    )
                    | profile
                )
        finally:
            raw.close()
    finally:
        engine.dispose()
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--items", type=int, default=2_000_000, help="work items (history)")
    parser.add_argument(
        "--due",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1_000, 20_000],
        help="items due at t, comma-separated (default 1000,20000): one configuration each",
    )
    parser.add_argument("--open-fraction", type=float, default=0.05, help="share still open")
    parser.add_argument(
        "--database-url",
        help="postgresql://user@host/db: create a scratch database there (default: SQLite)",
    )
    parser.add_argument("--pairs", type=int, default=3, help="alternating (sweep, floor) pairs")
    parser.add_argument(
        "--cprofile", action="store_true", help="also print a cProfile of the profiled sweep"
    )
    parser.add_argument(
        "--json", action="store_true", help="also print one JSON object per configuration"
    )
    args = parser.parse_args(argv)
    if args.pairs < 3 and not args.json:
        print("note: fewer than 3 pairs (min/median/max need 3)")
    if max(args.due) > args.items * args.open_fraction:
        parser.error("--due cannot exceed the open items (--items × --open-fraction)")

    plan = load_plan(ROOT / "config")
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"cchc sweep vs raw-driver floor on {backend}: plan {plan.commune.code}, "
        f"t = {AT.isoformat()}, load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    with scratch_database(args.database_url) as url:
        results = bench_database(args, plan, url)

    print("\n=== the sweep against the raw-driver floor (same state changes) ===")
    print(
        f"{'database':>10} {'items':>10} {'due':>7} {'sweep s':>9} {'floor s':>9} "
        f"{'ratio min/med/max':>20} {'identical':>10} {'top statement':>30}"
    )
    for r in results:
        top = f"{r['top_statement']} {r['top_share']:.0%}"
        print(
            f"{r['database']:>10} {r['items']:>10,} {r['due']:>7,} {r['sweep_s']:>9.3f} "
            f"{r['floor_s']:>9.3f} {r['ratio_min']:>8.2f}/{r['ratio']:.2f}/{r['ratio_max']:.2f} "
            f"{r['identical']:>6}/{r['pairs']:<3} {top:>30}  "
            f"(≤ {TARGET}: {'met' if r['met'] else 'NOT met'})"
        )
    if args.json:
        for r in results:
            print(json.dumps(r))


if __name__ == "__main__":
    main()
