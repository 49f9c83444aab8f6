"""Benchmark: does a sweep cost what the work due costs, whatever the history?

docs/development.md promises "cost follows the work due": each open item stores `next_action_at`
(indexed), each obligation an `opening_mark`, so a sweep should read only the rows whose instant
has passed. This script checks that promise on a database the size of every commune of a
province over the 5 years of a plan (2 million work items by default, 5% of them open).

For each history size (a quarter of --items, then --items, with the same number of rows due)
it builds a fresh database, then measures at one instant t:

1. the hand-written indexed query that selects the rows needing action
   (`WHERE commune = ? AND next_action_at <= ? AND status IN (...)`), median of 5 runs, with
   its query plan, to show it searches `ix_work_item_next_action`;
2. one full `sweep(plan, engine, t)` in steady state (opening marks up to date, so only the
   advance phase has work), with the SQL it issued, grouped by statement, and the plan of its
   own selection query; then the ratios sweep / query and (the sweep's SELECTs on work_item) /
   query, the like-for-like comparison: the rest of the sweep is per-item work and writes;
3. a second sweep at the same t (nothing left to do: the sweep's fixed cost, "idle");
4. the opening phase alone, cold (opening marks deleted, as after a config change), which looks
   back `catch_up_days` and opens the real occurrences of the shipped plan.

The sweep times, and the idle sweep times, should be about the same for both history sizes:
that is the check, printed last as large / small (1.0 = independent of the history).

Synthetic rows. The shipped plan (config/) is used as is, so the sweep sees the rows and real
policies, calendars and recipients apply. Its 14 scheduled obligations have 19 (obligation, lead
unit) pairs; every row reuses one of these pairs with a synthetic period key (`2028-s0001234`),
which keeps the unique key (commune, obligation, unit, period) unique. The sweep never reads a
period key when it advances an item, and the opening phase only opens real period keys, so the
synthetic keys never collide with it. A synthetic config with hundreds of units was not needed:
unit codes play no part in how the sweep selects rows.

- closed history (1 - open fraction): due dates spread from the plan's start up to t, status
  `closed`, `next_action_at` NULL; ids in due-date order, as a real database grows;
- open, not yet due: due within 60 days after t, step `opened`, `next_action_at` after t;
- due (open fraction x due fraction of --items, spread among the open rows): due dates around t,
  each at the step before the one its real timeline has reached at t, with `next_action_at` the
  instant of that step: what a daily sweep finds, one step to take per item.

Rows are bulk-loaded (executemany on SQLite, COPY on PostgreSQL); values go through the columns'
own SQLAlchemy bind processors so they are stored exactly as the ORM stores them. On PostgreSQL
the table is ANALYZEd after loading, as autovacuum would; SQLite gets no ANALYZE, as cchc never
runs one.

    .venv/bin/python bench/sweep.py                      # SQLite file in a temp dir, 2M items
    .venv/bin/python bench/sweep.py --items 500000 \\
        --database-url postgresql://postgres@127.0.0.1:5432/test   # scratch db, dropped after
    .venv/bin/python bench/sweep.py --items 200000 --profile      # cProfile of the sweep
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import pstats
import re
import statistics
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from scratch import scratch_database  # bench/scratch.py
from sqlalchemy import Engine, bindparam, delete, event, func, insert, select, text, update

from models.db import ensure_schema, make_engine
from models.store import outbox_rows
from models.tables import Event, OpeningMark, Outbox, WorkItem
from schedules.dates import local_date, local_instant
from schedules.notices import step_notices
from schedules.occurrences import opening_date
from schedules.plan import Plan
from schedules.plan_loader import load_plan
from schedules.timeline import current_step, state_at, step_index
from schedules.vocabulary import OPEN_STATUSES
from usecases.sweep import SweepReport, open_due_items, sweep

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
QUERY = (
    "SELECT * FROM work_item WHERE commune = :commune AND next_action_at <= :at"
    f" AND status IN ({', '.join(repr(s.value) for s in OPEN_STATUSES)})"
)


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
            dict(adhoc=False, nominal_due=None, closed_at=None, on_time=None, waived_reason=None)
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


# --- measuring ----------------------------------------------------------------------------------


def explain_prefix(engine: Engine) -> str:
    return "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "


def plan_lines(found) -> list[str]:
    """The text of EXPLAIN's rows (the last column on SQLite, the only one on PostgreSQL)."""
    return [str(row[-1]) for row in found]


def hand_written_query(engine: Engine, pinned: bool = True) -> str:
    """QUERY; on SQLite with the index pinned (`INDEXED BY`): without statistics SQLite prefers
    the equality on `commune`, the first column of the unique key, which every row matches."""
    if pinned and engine.dialect.name == "sqlite":
        return QUERY.replace("FROM work_item", f"FROM work_item INDEXED BY {INDEX}")
    return QUERY


def time_query(engine: Engine, plan: Plan) -> tuple[float, int, list[str], list[str]]:
    """Median seconds of the hand-written query (5 runs), rows it returns, its plan, and the
    plan the same query gets without the index pinned."""
    at = bindparam("at", type_=WorkItem.__table__.c.next_action_at.type)
    query = text(hand_written_query(engine)).bindparams(at)
    params = dict(commune=plan.commune.code, at=AT)
    times, count = [], 0
    for _ in range(5):
        with engine.connect() as conn:
            started = time.perf_counter()
            count = len(conn.execute(query, params).all())
            times.append(time.perf_counter() - started)
    with engine.connect() as conn:
        plans = [
            plan_lines(conn.execute(text(explain_prefix(engine) + sql).bindparams(at), params))
            for sql in (hand_written_query(engine), hand_written_query(engine, pinned=False))
        ]
    return statistics.median(times), count, *plans


class StatementLog:
    """Count and time every SQL statement an engine runs, grouped by verb and table."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.count: dict[str, int] = defaultdict(int)
        self.seconds: dict[str, float] = defaultdict(float)
        self.advance_select: tuple[str, object] | None = None
        self._started = 0.0

    def __enter__(self) -> StatementLog:
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        self._started = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        kind = statement_kind(statement)
        self.count[kind] += 1
        self.seconds[kind] += time.perf_counter() - self._started
        if kind == "SELECT work_item" and "next_action_at" in statement:
            self.advance_select = self.advance_select or (statement, parameters)

    def lines(self) -> list[str]:
        return [
            f"{kind:<28} {self.count[kind]:>6} x  {self.seconds[kind]:8.3f} s"
            for kind in sorted(self.seconds, key=self.seconds.get, reverse=True)
        ]

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


def statement_kind(sql: str) -> str:
    found = re.match(r"\s*(INSERT INTO|UPDATE|DELETE FROM)\s+(\w+)", sql) or re.match(
        r"\s*(SELECT)\b.*?\bFROM\s+(\w+)", sql, re.S
    )
    return f"{found[1]} {found[2]}" if found else sql.split(None, 1)[0].upper()


def time_sweep(
    engine: Engine, plan: Plan, profile: bool
) -> tuple[float, SweepReport, StatementLog]:
    profiler = cProfile.Profile() if profile else None
    with StatementLog(engine) as statements:
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        report = sweep(plan, engine, AT)
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - started
    if profiler:
        print("\n  cProfile of the sweep (top 25 by cumulative time):")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    return seconds, report, statements


def time_cold_opening(engine: Engine, plan: Plan) -> tuple[float, int]:
    with engine.begin() as conn:
        conn.execute(delete(OpeningMark.__table__))
    report = SweepReport(AT)
    started = time.perf_counter()
    open_due_items(plan, engine, AT, report)
    return time.perf_counter() - started, len(report.opened)


# --- the bulk-SQL floor and alternating measurement ---------------------------------------------


@dataclass
class Saved:
    """What a sweep changes, to put back: the due rows' state and the last event / outbox ids."""

    rows: list[dict]
    event_id: int
    outbox_id: int


def save_state(engine: Engine, plan: Plan) -> Saved:
    c = WorkItem.__table__.c
    with engine.connect() as conn:
        rows = (
            conn.execute(
                select(c.id, c.status, c.step, c.escalation_level, c.next_action_at).where(
                    c.commune == plan.commune.code,
                    c.next_action_at <= AT,
                    c.status.in_([s.value for s in OPEN_STATUSES]),
                )
            )
            .mappings()
            .all()
        )
        event_id = conn.execute(select(func.coalesce(func.max(Event.id), 0))).scalar_one()
        outbox_id = conn.execute(select(func.coalesce(func.max(Outbox.id), 0))).scalar_one()
    return Saved([dict(r) for r in rows], event_id, outbox_id)


def state_update():
    """One executemany UPDATE of an item's state by id (`_id`, `v_status`, `v_step`, ...)."""
    table = WorkItem.__table__
    return (
        update(table)
        .where(table.c.id == bindparam("_id"))
        .values({k: bindparam(f"v_{k}") for k in STATE})
    )


STATE = ("status", "step", "escalation_level", "next_action_at")
"""The columns a sweep's advance changes."""


def restore_state(engine: Engine, saved: Saved) -> None:
    """Undo a sweep's advance phase: the rows' state back, its events and outbox rows gone."""
    stmt = state_update()
    params = [
        {"_id": r["id"], **{f"v_{k}": v for k, v in r.items() if k != "id"}} for r in saved.rows
    ]
    with engine.begin() as conn:
        if params:
            conn.execute(stmt, params)
        conn.execute(delete(Outbox.__table__).where(Outbox.id > saved.outbox_id))
        conn.execute(delete(Event.__table__).where(Event.id > saved.event_id))


def bulk_floor(engine: Engine, plan: Plan) -> tuple[float, int]:
    """The same state changes as the sweep's advance phase, by hand: the hand-written query,
    cchc's own timeline and notice functions for the values, then one executemany UPDATE, one
    executemany INSERT of events, one of outbox rows (no compare-and-set, no ORM)."""
    table = WorkItem.__table__
    at = bindparam("at", type_=table.c.next_action_at.type)
    query = text(hand_written_query(engine)).bindparams(at)
    started = time.perf_counter()
    with engine.begin() as conn:
        rows = conn.execute(query, dict(commune=plan.commune.code, at=AT)).mappings().all()
        updates, events, outbox = [], [], []
        for row in rows:
            steps = plan.timeline(
                row["obligation"], _as_date(row["due"]), _as_instant(row["opened_at"])
            )
            done = step_index(steps, row["step"])
            now = max(current_step(steps, AT), done)
            updates.append(
                {"_id": row["id"], **{f"v_{k}": v for k, v in state_at(steps, now).items()}}
            )
            if now == done:
                continue
            step = steps[now]
            skipped = [s.name for s in steps[done + 1 : now]]
            events.append(
                dict(
                    item_id=row["id"],
                    at=AT,
                    kind=step.kind,
                    actor="engine",
                    detail={"step": step.name, "skipped": skipped},
                )
            )
            outbox += outbox_rows(
                row["id"], step_notices(plan, row["obligation"], row["unit"], step), AT
            )
        stmt = state_update()
        if updates:
            conn.execute(stmt, updates)
        if events:
            conn.execute(insert(Event.__table__), events)
        if outbox:
            conn.execute(insert(Outbox.__table__), outbox)
    return time.perf_counter() - started, len(events)


def _as_date(value):
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _as_instant(value):
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def alternate(engine: Engine, plan: Plan, pairs: int) -> dict:
    """After one warm-up of each, `pairs` alternating (sweep, floor) measurements on the same
    state: the ratio sweep / floor of each pair, and their times."""
    saved = save_state(engine, plan)
    sweep(plan, engine, AT)
    restore_state(engine, saved)
    bulk_floor(engine, plan)
    restore_state(engine, saved)
    sweeps, floors, ratios = [], [], []
    for _ in range(pairs):
        started = time.perf_counter()
        report = sweep(plan, engine, AT)
        sweep_s = time.perf_counter() - started
        restore_state(engine, saved)
        floor_s, floor_moved = bulk_floor(engine, plan)
        restore_state(engine, saved)
        assert floor_moved == len(report.advanced), (floor_moved, len(report.advanced))
        sweeps.append(sweep_s)
        floors.append(floor_s)
        ratios.append(sweep_s / floor_s)
    return dict(
        sweep_s=statistics.median(sweeps),
        floor_s=statistics.median(floors),
        ratio=statistics.median(ratios),
        ratio_min=min(ratios),
        ratio_max=max(ratios),
        advanced=len(report.advanced),
    )


# --- one history size ---------------------------------------------------------------------------


def bench_size(args, plan: Plan, items: int, due_rows: int) -> dict:
    print(f"\n=== {items:,} work items, {due_rows:,} due at {AT.isoformat()} ===", flush=True)
    with scratch_database(args.database_url) as url:
        engine = make_engine(url)
        try:
            ensure_schema(engine)
            maker = RowMaker(plan, engine)
            load(engine, rows(maker, items, args.open_fraction, due_rows), items)
            set_opening_marks(engine, plan)
            floor = alternate(engine, plan, args.pairs)
            print(
                f"  sweep vs bulk-SQL floor ({args.pairs} alternating pairs after a warm-up): "
                f"sweep {floor['sweep_s']:.3f} s, floor {floor['floor_s']:.3f} s, ratio "
                f"{floor['ratio_min']:.2f}/{floor['ratio']:.2f}/{floor['ratio_max']:.2f} "
                "(min/median/max)",
                flush=True,
            )
            return measure(engine, plan, args.profile) | {"floor": floor}
        finally:
            engine.dispose()


def show_plan(title: str, lines: list[str]) -> None:
    print(f"  {title}:")
    for line in lines:
        print(f"      {line}")


def measure(engine: Engine, plan: Plan, profile: bool) -> dict:
    query_s, query_rows, query_plan, unpinned_plan = time_query(engine, plan)
    print(f"  query:  {query_s:.4f} s, {query_rows:,} rows (median of 5)")
    show_plan("query plan", query_plan)
    print(f"  query uses {INDEX}: {'yes' if any(INDEX in p for p in query_plan) else 'NO'}")
    if unpinned_plan != query_plan:
        show_plan("same query, index not pinned", unpinned_plan)

    sweep_s, report, statements = time_sweep(engine, plan, profile)
    print(
        f"  sweep:  {sweep_s:.3f} s, advanced {len(report.advanced):,} items, "
        f"opened {len(report.opened):,}, queued {report.queued:,} notifications"
    )
    print(f"  sweep / query: {sweep_s / query_s:,.0f}x")
    select_s = statements.seconds.get("SELECT work_item", 0.0)
    selects = statements.count.get("SELECT work_item", 0)
    print(
        f"  sweep's selection SQL: {select_s:.4f} s in {selects} queries, "
        f"{select_s / query_s:,.1f}x the hand-written query"
    )
    per_row = sweep_s / max(len(report.advanced), 1) * 1000
    print(f"  sweep per advanced item: {per_row:.2f} ms")
    print(f"  SQL issued by the sweep: {statements.total:.3f} s of {sweep_s:.3f} s")
    for line in statements.lines():
        print(f"    {line}")
    if statements.advance_select:
        sql, params = statements.advance_select
        with engine.connect() as conn:
            sweep_plan = plan_lines(conn.exec_driver_sql(explain_prefix(engine) + sql, params))
        show_plan("the sweep's own selection query", sweep_plan)

    idle_s, idle_report, _ = time_sweep(engine, plan, False)
    print(f"  second sweep at the same t: {idle_s:.3f} s, advanced {len(idle_report.advanced)}")
    cold_s, cold_opened = time_cold_opening(engine, plan)
    print(f"  cold opening phase (no opening marks): {cold_s:.3f} s, opened {cold_opened} items")
    return dict(
        query_s=query_s,
        query_rows=query_rows,
        sweep_s=sweep_s,
        select_s=select_s,
        advanced=len(report.advanced),
        idle_s=idle_s,
        cold_s=cold_s,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--items", type=int, default=2_000_000, help="work items (history)")
    parser.add_argument("--open-fraction", type=float, default=0.05, help="share still open")
    parser.add_argument(
        "--due-fraction", type=float, default=0.01, help="share of the open items due at t"
    )
    parser.add_argument(
        "--database-url",
        help="postgresql://user@host/db: create a scratch database there (default: SQLite)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="print a cProfile of the first sweep of each size"
    )
    parser.add_argument(
        "--pairs", type=int, default=3, help="alternating (sweep, floor) pairs per size"
    )
    parser.add_argument(
        "--json", action="store_true", help="also print one JSON object per size (last lines)"
    )
    args = parser.parse_args(argv)

    plan = load_plan(ROOT / "config")
    due_rows = max(round(args.items * args.open_fraction * args.due_fraction), 1)
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"cchc sweep benchmark on {backend}: plan {plan.commune.code}, t = {AT.isoformat()}")
    results = {n: bench_size(args, plan, n, due_rows) for n in (args.items // 4, args.items)}

    print("\n=== summary: the sweep's cost should follow the rows due, not the history ===")
    print(
        f"{'items':>10} {'due':>6} {'query s':>9} {'sweep s':>9} {'ratio':>7} "
        f"{'select s':>9} {'idle sweep s':>13} {'cold open s':>12}"
    )
    for items, r in results.items():
        print(
            f"{items:>10,} {r['query_rows']:>6,} {r['query_s']:>9.4f} {r['sweep_s']:>9.3f} "
            f"{r['sweep_s'] / r['query_s']:>6,.0f}x {r['select_s']:>9.4f} "
            f"{r['idle_s']:>13.3f} {r['cold_s']:>12.3f}"
        )
    print("\n=== the sweep against the bulk-SQL floor (same state changes, by hand) ===")
    print(f"{'items':>10} {'due':>6} {'sweep s':>9} {'floor s':>9} {'ratio min/med/max':>20}")
    for items, r in results.items():
        f = r["floor"]
        print(
            f"{items:>10,} {f['advanced']:>6,} {f['sweep_s']:>9.3f} {f['floor_s']:>9.3f} "
            f"{f['ratio_min']:>8.2f}/{f['ratio']:.2f}/{f['ratio_max']:.2f}"
        )
    small, large = results.values()
    print(
        f"{args.items:,} vs {args.items // 4:,} items, same rows due: "
        f"sweep {large['sweep_s'] / small['sweep_s']:.2f}x, "
        f"idle sweep {large['idle_s'] / small['idle_s']:.2f}x (1.0 = independent of the history)"
    )
    if args.json:
        import json

        database = "postgresql" if args.database_url else "sqlite"
        for items, r in results.items():
            f = r["floor"]
            print(
                json.dumps(
                    dict(
                        items=items,
                        due=f["advanced"],
                        database=database,
                        sweep_s=round(f["sweep_s"], 4),
                        floor_s=round(f["floor_s"], 4),
                        ratio=round(f["ratio"], 3),
                        ratio_min=round(f["ratio_min"], 3),
                        ratio_max=round(f["ratio_max"], 3),
                        idle_s=round(r["idle_s"], 4),
                    )
                )
            )


if __name__ == "__main__":
    main()
