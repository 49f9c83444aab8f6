"""cchc's Prefect flows: a thin shell over the core use cases (usecases.sweep, usecases.lifecycle).

A run serves the communes of the runtime's `City` (a single commune's config is a city of one):

- one opening flow per kind of obligation (`cchc-open-periodic-report`, ...), parameterised by
  obligation and period: opens the period's items (every lead unit) in every commune whose
  opening day it is, queues their opening mail, publishes a table of what it opened per commune
  and emits `cchc.item.opened`;
- `cchc-sweep`: sweeps every commune (opens what is due, moves items along their timeline:
  reminders, overdue, escalation), delivers the outbox (a task with retries), publishes each
  commune's Vietnamese summary and, when they may have changed since last published (its items
  or the day did), its status tables (and, for a city, the city's summary and league), emits
  `cchc.item.overdue|escalated|opened` and, at its end, `cchc.sweep.completed`; its final state
  is a Completed state named by its lateness ("18 việc quá hạn"), the run tagged per late unit
  (per late commune in a city);
- `cchc-close`: attaches a deliverable and closes the item, emits `cchc.item.closed`;
- `cchc-item-changed`: after the intake or the command line changed items (handed in,
  accepted, returned, waived), emits their event and refreshes the status tables;
- `cchc-open-ad-hoc`: opens an ad hoc item by hand (a directive arrived).

Work is batched: a sweep makes a fixed number of task runs (open, advance, deliver, publish,
and the league for a city) whatever the number of items or communes; the core works through
items in batches inside each task. Tasks take and return plain data; the communes and database
come from `runtime()`. In a city, the runs that concern one commune (close, item changed, ad
hoc) carry it first in their name and as a `commune:<code>` tag.

Importing this module imports Prefect: only commands that run flows import it.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.settings import PREFECT_API_URL
from prefect.states import Completed, State
from sqlalchemy import Engine, func, select
from sqlmodel import col

from cchc.runtime.courier import deliver_communes
from cchc.runtime.settings import Settings
from flows import artifacts
from models.db import transaction
from models.pages import LEAGUE, STATUS, PageLog, last_event_id, mark_published, page_log
from models.store import communes_of
from models.tables import Outbox, WorkItem, saved_id, table_of
from notifications.city_pages import league_fingerprint
from notifications.status_pages import ItemLike, status_fingerprint
from notifications.sweep_summary import (
    city_late_state,
    city_late_tags,
    delivery_line,
    late_state,
    late_tags,
)
from schedules.city import City, load_city
from schedules.dates import VN_ZONE, local_date
from schedules.occurrences import latest_opening
from schedules.plan import Plan
from schedules.vocabulary import OPEN_STATUSES, ItemChange, ItemStatus, ObligationKind
from usecases.errors import UserError
from usecases.lifecycle import open_ad_hoc
from usecases.reporting import open_counts_by_commune
from usecases.review import Submission, attach
from usecases.sweep import SweepReport, advance_items, open_due_items, open_period

FLOW_PREFIX = "cchc-"
SWEEP_FLOW = "cchc-sweep"
CLOSE_FLOW = "cchc-close"
ADHOC_FLOW = "cchc-open-ad-hoc"
CHANGED_FLOW = "cchc-item-changed"
CHANGE_WORDS = {
    ItemChange.CLOSED: "nộp",
    ItemChange.ACCEPTED: "chấp nhận",
    ItemChange.RETURNED: "trả lại",
    ItemChange.WAIVED: "miễn",
}
"""The changes made outside a sweep (`flows.status`), as a run name says them."""


# --- the communes and database a run works on ------------------------------------------------


@dataclass
class Runtime:
    city: City
    engine: Engine
    settings: Settings

    @property
    def plans(self) -> list[Plan]:
        """Every plan the runs serve: the communes', then the city office's own (its reports
        that sum up the communes'), if any."""
        return self.city.select(None)

    @property
    def zone(self) -> ZoneInfo:
        return self.city.zone

    def plan_of(self, commune: str | None) -> Plan:
        """The plan of `commune` (the city's code: the city office's); None names the only
        commune (refused in a city)."""
        if commune is None:
            if self.city.is_city:
                raise UserError(
                    f"this config serves {len(self.city.plans)} communes: give the commune "
                    "(chọn xã: tham số commune)"
                )
            return self.plans[0]
        plan = self.city.plan_of(commune)
        if plan is None:
            raise UserError(
                f"unknown commune '{commune}' (xã không tồn tại); known: "
                + ", ".join(p.commune.code for p in self.plans)
            )
        return plan

    def plan_of_item(self, item_id: int) -> Plan:
        """The plan of the item's commune (the only plan when the item is unknown: the use case
        then refuses it in its own words)."""
        if not self.city.is_city:
            return self.plans[0]
        found = communes_of(self.engine, [item_id])
        return self.plan_of(next(iter(found))) if found else self.plans[0]

    def named(self, commune: str) -> str:
        """A run name's prefix for a run that concerns one commune: its code, in a city."""
        return f"{commune} · " if self.city.is_city else ""


_pinned: Runtime | None = None
_loaded: Runtime | None = None


def use_runtime(city: City | Plan, engine: Engine, settings: Settings) -> Runtime:
    """Pin what runs in this process use: the embedded engine pins its validated communes (an
    invalid edit on disk never reaches a run), tests pin theirs. A single commune's `Plan` is
    taken as a city of one."""
    global _pinned
    _pinned = Runtime(City.of(city) if isinstance(city, Plan) else city, engine, settings)
    return _pinned


def release_runtime() -> None:
    global _pinned
    _pinned = None


def runtime() -> Runtime:
    """The pinned runtime, else one loaded once per process from the environment (CCHC_CONFIG,
    a commune's or a city's folder, and CCHC_DATABASE_URL): what a worker's flow-run process
    does."""
    global _loaded
    if _pinned is not None:
        return _pinned
    if _loaded is None:
        from models.db import ensure_schema, make_engine

        settings = Settings.from_env()
        engine = make_engine(settings.database_url)
        ensure_schema(engine)
        _loaded = Runtime(load_city(settings.config_dir), engine, settings)
    return _loaded


def scope_tags(city: City) -> tuple[str, ...]:
    """The tags of everything cchc registers or runs for these communes: `commune:<code>` for
    a single commune, `city:<code>` for a city (deployments, their runs, the engine's runs)."""
    return ("cchc", f"{'city' if city.is_city else 'commune'}:{city.code}")


def instant(at: datetime | str | None) -> datetime:
    """`at` as aware UTC; None means the run's scheduled instant (a late run still acts as of
    its schedule), or now outside a run. A naive `at` is wall time in the communes' zone."""
    if at is None:
        scheduled = flow_run.scheduled_start_time
        return (
            datetime.fromtimestamp(scheduled.timestamp(), UTC) if scheduled else datetime.now(UTC)
        )
    if isinstance(at, str):  # a run name sees the parameters as the API sent them
        at = datetime.fromisoformat(at)
    if at.tzinfo is None:  # wall time in the communes' zone, as on the command line
        at = at.replace(tzinfo=runtime().zone)
    return at.astimezone(UTC)


def openings(
    rt: Runtime, obligation: str, period: str | None, at: datetime
) -> dict[str, list[str]]:
    """What an opening run of `obligation` opens, by commune: `period` in every commune that
    schedules the obligation when given; else each commune's current periods (a single
    commune's, even none: its run says so), in a city only for the communes whose opening day
    is the run's day (the communes' calendars differ: the others open at their own instants,
    and the morning sweep opens whatever is due anyway)."""
    plans = [p for p in rt.plans if obligation in p.schedules]
    if period:
        return {p.commune.code: [period] for p in plans}
    today = local_date(at, rt.zone)
    todo = {}
    for plan in plans:
        day, periods = latest_opening(plan, obligation, at)
        if not rt.city.is_city or (periods and day == today):
            todo[plan.commune.code] = periods
    return todo


def _check_obligation(rt: Runtime, obligation: str, kind: ObligationKind) -> None:
    kinds = {p.obligations[obligation].kind for p in rt.plans if obligation in p.schedules}
    if not kinds:
        raise UserError(f"'{obligation}' is no scheduled obligation of the config")
    wrong = sorted(kinds - {kind})
    if wrong:
        raise UserError(f"'{obligation}' is a {', '.join(wrong)}, not a {kind}: wrong flow")


def _read_items(engine: Engine, ids: list[int]) -> list[WorkItem]:
    found: list[WorkItem] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        with transaction(engine) as session:
            found += session.scalars(select(WorkItem).where(col(WorkItem.id).in_(chunk))).all()
    order = {item_id: i for i, item_id in enumerate(ids)}
    return sorted(found, key=lambda i: order[saved_id(i)])


def _by_commune(items: list[WorkItem]) -> dict[str, list[WorkItem]]:
    found: dict[str, list[WorkItem]] = defaultdict(list)
    for item in items:
        found[item.commune].append(item)
    return found


def _open_items_now(plan: Plan, engine: Engine) -> list[ItemLike]:
    """The commune's open items, as plain rows (the tables read their columns only: no ORM
    objects, a fifth of the cost for a commune's thousands)."""
    table = table_of(WorkItem)
    item = table.c
    query = (
        select(table)
        .where(item.commune == plan.commune.code, item.status.in_(OPEN_STATUSES))
        .order_by(item.unit, item.due, item.id)
    )
    with transaction(engine) as session:
        return list(session.execute(query).all())


# --- opening runs --------------------------------------------------------------------------


@task(name="open-items", cache_policy=NO_CACHE, task_run_name="open {obligation}")
def open_items(obligation: str, todo: dict[str, list[str]], at: datetime) -> SweepReport:
    """Open every lead unit's item of each commune's periods (missing ones only) and queue the
    mails."""
    rt = runtime()
    report = SweepReport(at)
    for commune, periods in todo.items():
        for period in periods:
            one = open_period(rt.plan_of(commune), rt.engine, obligation, period, at)
            report.opened += one.opened
            report.queued += one.queued
            report.communes.update(one.communes)
    return report


@task(name="publish-opened", cache_policy=NO_CACHE)
def opened_pages(
    obligation: str, todo: dict[str, list[str]], item_ids: list[int], at: datetime
) -> list[str]:
    """Each commune's table of what the run opened (and, in a city, the city's: one row per
    commune), and the `cchc.item.opened` events."""
    rt = runtime()
    opened = _by_commune(_read_items(rt.engine, item_ids))
    keys = []
    for commune, periods in todo.items():
        plan = rt.plan_of(commune)
        keys.append(artifacts.publish_opened(plan, obligation, periods, opened.get(commune, [])))
        artifacts.emit_item_events(plan, ItemChange.OPENED, opened.get(commune, []), at)
    office = rt.city.office
    if rt.city.is_city and not (office and obligation in office.obligations):
        counts = {code: len(opened.get(code, [])) for code in todo}
        keys.append(artifacts.publish_city_opened(rt.city, obligation, todo, counts, at))
    return keys


@task(name="publish-scorecard", cache_policy=NO_CACHE)
def scorecard_page(todo: dict[str, list[str]], at: datetime) -> list[str]:
    """Evidence for the PAR INDEX self-scoring: each period's yearly on-time scorecard per unit
    and quarter (table and chart) as a markdown artifact with a stable key per commune and year."""
    rt = runtime()
    keys = []
    for commune, periods in todo.items():
        years = sorted({int(p[:4]) for p in periods if p[:4].isdigit()})
        plan = rt.plan_of(commune)
        keys += [artifacts.publish_scorecard(plan, rt.engine, year, at) for year in years]
    return keys


def _opening_run_name() -> str:
    params = flow_run.parameters
    obligation = params.get("obligation", "?")
    period = params.get("period")
    communes = ""
    try:
        rt = runtime()
        if not period or rt.city.is_city:
            todo = openings(rt, obligation, period, instant(params.get("at")))
            period = period or ", ".join(dict.fromkeys(p for ps in todo.values() for p in ps))
            communes = f" · {len(todo)} xã" if rt.city.is_city else ""
    except Exception as exc:  # noqa: BLE001  (a name must never fail the run)
        logging.getLogger("cchc.flows").warning("run name: no period (%r)", exc)
        period = period or "?"
    return f"{obligation} · {period or '—'}{communes}"


def _opening_flow(kind: ObligationKind, description: str):
    def open_obligation(
        obligation: str, period: str | None = None, at: datetime | None = None
    ) -> dict:
        rt = runtime()
        _check_obligation(rt, obligation, kind)
        when = instant(at)
        todo = openings(rt, obligation, period, when)
        report = open_items(obligation, todo, when)
        ids = [item_id for item_id, *_ in report.opened]
        opened_pages(obligation, todo, ids, when)
        if kind == ObligationKind.SELF_SCORING:
            scorecard_page(todo, when)
        periods = list(dict.fromkeys(p for ps in todo.values() for p in ps))
        get_run_logger().info(
            "%s %s: opened %d item(s) in %d commune(s), queued %d mail(s)",
            obligation,
            ", ".join(periods) or "—",
            len(ids),
            len(todo),
            report.queued,
        )
        return {
            "obligation": obligation,
            "periods": periods,
            "communes": list(todo),
            "opened": ids,
            "queued": report.queued,
        }

    open_obligation.__name__ = open_obligation.__qualname__ = f"open_{kind}"
    return flow(
        name=opening_flow_name(kind),
        flow_run_name=_opening_run_name,
        description=description,
        validate_parameters=True,
    )(open_obligation)


def opening_flow_name(kind: ObligationKind) -> str:
    return FLOW_PREFIX + "open-" + kind.replace("_", "-")


open_periodic_report = _opening_flow(
    ObligationKind.PERIODIC_REPORT,
    "Mở kỳ báo cáo định kỳ CCHC (quý I, 6 tháng, quý III, năm) của các đơn vị",
)
open_consolidated_report = _opening_flow(
    ObligationKind.CONSOLIDATED_REPORT, "Mở kỳ báo cáo tổng hợp CCHC của xã (cơ quan thường trực)"
)
open_annual_plan = _opening_flow(ObligationKind.ANNUAL_PLAN, "Mở việc xây dựng kế hoạch CCHC năm")
open_review_plan = _opening_flow(
    ObligationKind.REVIEW_PLAN,
    "Mở việc xây dựng kế hoạch rà soát / theo dõi thi hành pháp luật năm",
)
open_self_scoring = _opening_flow(
    ObligationKind.SELF_SCORING, "Mở việc tự đánh giá, chấm điểm PAR INDEX"
)
open_survey = _opening_flow(
    ObligationKind.SURVEY, "Mở việc đo lường sự hài lòng của người dân, tổ chức"
)
open_self_inspection = _opening_flow(
    ObligationKind.SELF_INSPECTION, "Mở việc tự kiểm tra công tác CCHC"
)
open_training = _opening_flow(ObligationKind.TRAINING, "Mở việc cử cán bộ tham gia bồi dưỡng CCHC")
open_annual_task = _opening_flow(ObligationKind.ANNUAL_TASK, "Mở nhiệm vụ hằng năm của Phụ lục")
open_one_off = _opening_flow(ObligationKind.ONE_OFF, "Mở nhiệm vụ có thời hạn một lần")
open_final_summary = _opening_flow(ObligationKind.FINAL_SUMMARY, "Mở việc tổng kết Kế hoạch")

OPENING_FLOWS = {
    ObligationKind.PERIODIC_REPORT: open_periodic_report,
    ObligationKind.CONSOLIDATED_REPORT: open_consolidated_report,
    ObligationKind.ANNUAL_PLAN: open_annual_plan,
    ObligationKind.REVIEW_PLAN: open_review_plan,
    ObligationKind.SELF_SCORING: open_self_scoring,
    ObligationKind.SURVEY: open_survey,
    ObligationKind.SELF_INSPECTION: open_self_inspection,
    ObligationKind.TRAINING: open_training,
    ObligationKind.ANNUAL_TASK: open_annual_task,
    ObligationKind.ONE_OFF: open_one_off,
    ObligationKind.FINAL_SUMMARY: open_final_summary,
}
"""Kind of obligation -> its opening flow (module attribute `open_<kind>`, the entrypoint)."""


def opening_flow(kind: ObligationKind):
    try:
        return OPENING_FLOWS[kind]
    except KeyError:
        raise UserError(f"no opening flow for obligations of kind '{kind}'") from None


def entrypoint(flow_attr: str) -> str:
    """Module-style entrypoint: workers import the installed package, whatever their folder."""
    return f"{__name__}:{flow_attr}"


# --- the sweep -------------------------------------------------------------------------------


@task(name="open-due", cache_policy=NO_CACHE)
def open_due(at: datetime) -> SweepReport:
    """Open what is due in every commune (each by its own calendar and opening marks)."""
    rt = runtime()
    report = SweepReport(at)
    for plan in rt.plans:
        open_due_items(plan, rt.engine, at, report)
    return report


@task(name="advance", cache_policy=NO_CACHE)
def advance(at: datetime) -> SweepReport:
    """Move every commune's items that are due along their timelines: one paged read for all."""
    rt = runtime()
    report = SweepReport(at)
    advance_items(rt.plans, rt.engine, at, report)
    return report


@task(name="deliver", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=[10, 60, 300])
def deliver(at: datetime, force: bool = False) -> dict | None:
    """Send what the outbox holds, for every commune. Per-message trouble is the outbox's
    business (a row waits and retries, or fails and the standing office is told); an exception
    here (database, mail set-up) is retried by Prefect and, after the last retry, fails the task
    and so the sweep run: visible in the UI. Permanently failed rows emit `cchc.mail.failed`,
    one event per commune."""
    rt = runtime()
    report = deliver_communes(rt.plans, rt.engine, rt.settings, at, force)
    failed = report.failed
    for commune, rows in _failed_by_commune(rt, failed).items():
        artifacts.emit_mail_failed(rt.plan_of(commune), rows, at, city=rt.city.code)
    return {"line": delivery_line(report), "failed": len(failed)}


def _failed_by_commune(rt: Runtime, failed: list[tuple]) -> dict[str, list[tuple]]:
    """The failed outbox rows (outbox id first) by their item's commune."""
    if not failed:
        return {}
    if not rt.city.is_city:
        return {rt.plans[0].commune.code: failed}
    ids = [row[0] for row in failed]
    query = (
        select(col(Outbox.id), col(WorkItem.commune))
        .join(WorkItem, col(WorkItem.id) == col(Outbox.item_id))
        .where(col(Outbox.id).in_(ids))
    )
    with transaction(rt.engine) as session:
        commune_of = dict(session.execute(query).all())
    found: dict[str, list[tuple]] = defaultdict(list)
    for row in failed:
        if row[0] in commune_of:
            found[commune_of[row[0]]].append(row)
    return found


def _queued_by_commune(rt: Runtime, at: datetime, communes: dict[int, str], queued: int) -> Counter:
    """The mails this sweep queued, by commune: the outbox rows created at `at` for the items
    it opened or moved (the only ones a sweep queues for; read by the indexed item id)."""
    if not rt.city.is_city:
        return Counter({rt.plans[0].commune.code: queued})
    found: Counter = Counter()
    ids = list(communes)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = (
            select(col(Outbox.item_id), func.count())
            .where(col(Outbox.item_id).in_(chunk), col(Outbox.created_at) == at)
            .group_by(col(Outbox.item_id))
        )
        with transaction(rt.engine) as session:
            for item_id, n in session.execute(query).all():
                found[communes[item_id]] += n
    return found


def _commune_pages(
    rt: Runtime,
    plan: Plan,
    at: datetime,
    opened: list[tuple[int, str, str, str]],
    advanced: list[tuple[int, str, str]],
    queued: int,
    touched: list[WorkItem],
    delivery: str | None,
    log: PageLog,
    counts: dict[str, Counter],
    summary: bool = True,
) -> dict[str, int]:
    """One commune's sweep pages: the summary artifact, the status tables when they may show
    something else than when last published, and one event per kind and unit. Returns the
    events emitted by kind. Its cost follows what changed: `counts` (open items by unit and
    status) come read for every commune at once, the items read are those opened or moved,
    and the open items are read only when the tables are rewritten:

    1. the sweep opened or moved items of this commune, or
    2. some other change reached its items since (the intake, the command line, an opening
       run: an event after the one `log` recorded), or
    3. the day changed (states and working days late count from "today"), or the config the
       tables name (`status_fingerprint`), or nothing was published yet.

    Without `summary` (the city office's own items, whose row is in the city's summary under
    the same key) only the tables."""
    moved = {item_id: status for item_id, _, status in advanced}
    opened_ids = {item_id for item_id, *_ in opened}
    code = plan.commune.code
    day = local_date(at, plan.zone)
    fingerprint = status_fingerprint(plan, _server())
    stale = bool(opened or advanced) or not log.is_current(code, day, fingerprint)
    open_now = _open_items_now(plan, rt.engine) if stale else None
    if summary:
        artifacts.publish_sweep(
            plan, at, opened, advanced, queued, touched, counts, open_now, delivery
        )
    elif open_now is not None:
        artifacts.publish_status(plan, open_now, at)
    if open_now is not None:
        artifacts.publish_consolidated(plan, rt.engine, at)
        mark_published(rt.engine, STATUS, code, day, log.last_event, fingerprint, at)
    changed = [i for i in touched if i.id in moved]
    emitted = {
        "opened": artifacts.emit_item_events(
            plan, ItemChange.OPENED, [i for i in touched if i.id in opened_ids], at
        ),
        "overdue": artifacts.emit_item_events(
            plan,
            ItemChange.OVERDUE,
            [i for i in changed if moved[saved_id(i)] == ItemStatus.OVERDUE],
            at,
        ),
        "escalated": artifacts.emit_item_events(
            plan,
            ItemChange.ESCALATED,
            [i for i in changed if moved[saved_id(i)] == ItemStatus.ESCALATED],
            at,
        ),
    }
    return emitted


def _server() -> str | None:
    """The Prefect API the pages go to (part of their fingerprint: another server has none)."""
    return PREFECT_API_URL.value()


@task(name="publish-status", cache_policy=NO_CACHE)
def status_pages(
    at: datetime,
    opened: list[tuple[int, str, str, str]],
    advanced: list[tuple[int, str, str]],
    communes: dict[int, str],
    queued: int,
    delivery: str | None,
) -> dict[str, Any]:
    """Each commune's pages (`_commune_pages`), and for a city the city's summary; the run's
    final state (name, message) and tags from the lateness."""
    rt = runtime()
    log = page_log(rt.engine, STATUS, [p.commune.code for p in rt.plans])  # before any read
    opened_ids = [i for i, *_ in opened]
    touched = _by_commune(_read_items(rt.engine, opened_ids + [i for i, *_ in advanced]))
    queued_by = _queued_by_commune(rt, at, communes, queued)
    city = rt.city.is_city
    opened_by: dict[str, list[tuple[int, str, str, str]]] = defaultdict(list)
    advanced_by: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for row in opened:
        opened_by[communes[row[0]]].append(row)
    for move in advanced:
        advanced_by[communes[move[0]]].append(move)
    counts = open_counts_by_commune(rt.plans, rt.engine)
    emitted: Counter = Counter()
    for plan in rt.plans:
        code = plan.commune.code
        events = _commune_pages(
            rt,
            plan,
            at,
            opened_by[code],
            advanced_by[code],
            queued_by[code],
            touched.get(code, []),
            None if city else delivery,  # a city's delivery is one run: on the city's page
            log,
            counts[code],
            summary=not city or code != rt.city.code,
        )
        emitted.update(events)
    if city:
        changes = {
            "opened": Counter(communes[i] for i, *_ in opened),
            "advanced": Counter(communes[i] for i, *_ in advanced),
            "queued": queued_by,
        }
        artifacts.publish_city_sweep(rt.city, at, changes, counts, delivery)
        name, message = city_late_state(rt.city, counts)
        tags = city_late_tags(counts)
    else:
        [only] = counts.values()
        name, message = late_state(rt.plans[0], only)
        tags = late_tags(only)
    every = [c for unit_counts in counts.values() for c in unit_counts.values()]
    return dict(emitted) | {
        "open": sum(sum(c.values()) for c in every),
        "late": sum(c[ItemStatus.OVERDUE] + c[ItemStatus.ESCALATED] for c in every),
        "state_name": name,
        "state_message": message,
        "tags": tags,
    }


@task(name="publish-league", cache_policy=NO_CACHE)
def league_page(at: datetime) -> str | None:
    """The city office's league table (`cchc-<city>-league`), after a city sweep, when it may
    show something else than when last published: an item of some commune changed since, or
    the day, or the communes (as `_commune_pages` decides for the status tables). Returns its
    key, None when left as it was."""
    rt = runtime()
    city = rt.city.code
    log = page_log(rt.engine, LEAGUE, [city])
    day = local_date(at, VN_ZONE)
    fingerprint = league_fingerprint(rt.city, _server())
    if log.is_current(city, day, fingerprint, communes=[*rt.city.plans, city]):
        return None
    key = artifacts.publish_league(rt.city, rt.engine, at)
    mark_published(rt.engine, LEAGUE, city, day, log.last_event, fingerprint, at)
    return key


def _sweep_run_name() -> str:
    try:
        at = instant(flow_run.parameters.get("at"))
        return f"sweep · {at.astimezone(runtime().zone):%Y-%m-%d %H:%M}"
    except Exception as exc:  # noqa: BLE001  (a name must never fail the run)
        logging.getLogger("cchc.flows").warning("run name: no instant (%r)", exc)
        return "sweep"


@flow(
    name=SWEEP_FLOW,
    flow_run_name=_sweep_run_name,
    description="Rà soát mỗi sáng ngày làm việc: mở việc đến ngày, nhắc hạn, quá hạn, chuyển cấp, "
    "gửi thư; công bố bảng tình trạng theo đơn vị (và theo xã, với cấu hình cấp thành phố).",
)
def sweep_flow(at: datetime | None = None, send: bool = True) -> State:
    """One sweep of every commune as of `at` (default: the run's scheduled instant). Safe to
    run twice at once: the core's unique keys keep items and mails single. Ends in a Completed
    state that names the lateness ("18 việc quá hạn"): the run list is where the clerk looks
    first; its result is the summary dict. A sweep that ends well emits `cchc.sweep.completed`,
    which the "sweep missing" automation of `cchc deploy` waits for."""
    rt = runtime()
    when = instant(at)
    opened = open_due(when)
    advanced = advance(when)
    delivery_state = deliver(when, return_state=True) if send else None
    failed = None if delivery_state is None or delivery_state.is_completed() else delivery_state
    delivery: str | None
    if failed is not None:
        delivery = f"THẤT BẠI — {failed.message or failed.name}"
    else:
        outcome = delivery_state.result() if delivery_state is not None else None
        delivery = outcome["line"] if outcome else None
    queued = opened.queued + advanced.queued
    communes = opened.communes | advanced.communes
    counts = status_pages(when, opened.opened, advanced.advanced, communes, queued, delivery)
    if rt.city.is_city:
        league = league_page(when, return_state=True)
        if not league.is_completed():  # a view: the sweep's work stands
            get_run_logger().warning("league not published: %s", league.message)
    summary = {
        "at": when.isoformat(),
        "opened": len(opened.opened),
        "advanced": len(advanced.advanced),
        "queued": queued,
        "open": counts["open"],
        "late": counts["late"],
        "delivery": delivery,
    }
    get_run_logger().info("sweep %s", summary)
    if failed is not None:
        raise RuntimeError(f"e-mail delivery failed after retries: {failed.message}")
    tag_run(counts["tags"])
    artifacts.emit_sweep_completed(rt.city, summary)
    return Completed(name=counts["state_name"], message=counts["state_message"], data=summary)


def tag_run(tags: list[str]) -> None:
    """Add `tags` to the current flow run (units with late items: `quá hạn:VP`; the commune a
    run concerns: `commune:xa001`). Tags are set when a run is created; these are known only
    once it runs, so they go through the API. A failure is logged, never fails the run."""
    run_id = flow_run.id
    if not tags or run_id is None:
        return
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            current = client.read_flow_run(run_id).tags
            client.update_flow_run(run_id, tags=list(dict.fromkeys([*current, *tags])))
    except Exception as exc:  # noqa: BLE001  (the tags are a view; the run's work stands)
        get_run_logger().warning("could not tag the run with %s: %r", tags, exc)


def _tag_commune(rt: Runtime, commune: str) -> None:
    """In a city, a run that concerns one commune is tagged with it (a single commune's runs
    carry its deployment's `commune:` tag already)."""
    if rt.city.is_city:
        tag_run([f"commune:{commune}"])


# --- closing and ad hoc ----------------------------------------------------------------------


def _when(at) -> str:
    try:
        return f"{instant(at).astimezone(runtime().zone):%Y-%m-%d %H:%M}"
    except Exception:  # noqa: BLE001  (a name must never fail the run)
        return "?"


def _commune_of_items(ids: list[int]) -> str:
    """A run name's commune prefix for these items (`Runtime.named`); empty when unknown."""
    try:
        rt = runtime()
        if not rt.city.is_city or not ids:
            return ""
        return rt.named(rt.plan_of_item(int(ids[0])).commune.code)
    except Exception:  # noqa: BLE001  (a name must never fail the run)
        return ""


def _close_run_name() -> str:
    params = flow_run.parameters
    item_id = params.get("item_id")
    return f"{_commune_of_items([item_id])}close · #{item_id} · {_when(params.get('at'))}"


@task(name="attach", cache_policy=NO_CACHE)
def attach_deliverable(
    item_id: int, file: str, at: datetime, by: str | None, note: str | None
) -> Submission:
    rt = runtime()
    plan = rt.plan_of_item(item_id)
    _tag_commune(rt, plan.commune.code)
    return attach(plan, rt.engine, rt.settings.data_dir, item_id, Path(file), at, by=by, note=note)


@flow(
    name=CLOSE_FLOW,
    flow_run_name=_close_run_name,
    description="Nhận sản phẩm của một việc và đóng việc.",
)
def close_flow(
    item_id: int,
    file: str,
    by: str | None = None,
    note: str | None = None,
    at: datetime | None = None,
):
    """Attach a deliverable to an item (of any commune of the runtime) and close it; emits
    `cchc.item.closed` when this run closed it. Returns what `usecases.review.attach` did (a
    `Submission`)."""
    when = instant(at)
    done = attach_deliverable(item_id, file, when, by, note)
    if done.closed_item:
        changed_pages(ItemChange.CLOSED, [item_id], when)
    return done


@task(name="publish-change", cache_policy=NO_CACHE)
def changed_pages(kind: ItemChange, item_ids: list[int], at: datetime) -> dict[str, dict[str, str]]:
    """The event of a change made outside a sweep, and the status tables of the items'
    communes without the items it closed (or with the items it reopened). Returns the tables'
    keys by commune."""
    rt = runtime()
    keys = {}
    last_event = last_event_id(rt.engine)  # before the items are read: see models.pages
    for commune, items in _by_commune(_read_items(rt.engine, item_ids)).items():
        plan = rt.plan_of(commune)
        artifacts.emit_item_events(plan, kind, items, at)
        artifacts.publish_consolidated(plan, rt.engine, at)
        keys[commune] = artifacts.publish_status(plan, _open_items_now(plan, rt.engine), at)
        day, fingerprint = local_date(at, plan.zone), status_fingerprint(plan, _server())
        mark_published(rt.engine, STATUS, commune, day, last_event, fingerprint, at)
    return keys


def _changed_run_name() -> str:
    params = flow_run.parameters
    item_ids = params.get("item_ids") or []
    ids = ", ".join(f"#{i}" for i in item_ids)
    kind = params.get("kind")
    word = CHANGE_WORDS.get(kind, kind)
    return f"{_commune_of_items(item_ids)}{word} · {ids} · {_when(params.get('at'))}"


@flow(
    name=CHANGED_FLOW,
    flow_run_name=_changed_run_name,
    description="Cập nhật bảng tình trạng khi đơn vị nộp sản phẩm, cơ quan thường trực chấp "
    "nhận hoặc trả lại, hoặc một việc được miễn.",
)
def item_changed_flow(
    kind: ItemChange, item_ids: list[int], at: datetime | None = None
) -> dict[str, dict[str, str]]:
    """Items changed outside a sweep (`kind` of `CHANGE_WORDS`): emit `cchc.item.<kind>` and
    refresh the open-items and late-items tables, so the UI does not wait for the next sweep."""
    if kind not in CHANGE_WORDS:
        raise UserError(f"unknown change {kind!r}")
    rt = runtime()
    communes = communes_of(rt.engine, item_ids) if rt.city.is_city else {}
    if len(communes) == 1:
        _tag_commune(rt, next(iter(communes)))
    return changed_pages(kind, item_ids, instant(at))


def _adhoc_run_name() -> str:
    params = flow_run.parameters
    commune = params.get("commune")
    prefix = f"{commune} · " if commune else ""
    return f"{prefix}{params.get('obligation')} · {params.get('unit')} · {params.get('due')}"


@flow(
    name=ADHOC_FLOW,
    flow_run_name=_adhoc_run_name,
    description="Mở việc đột xuất theo văn bản chỉ đạo (chọn đơn vị và hạn; với cấu hình cấp "
    "thành phố, chọn cả xã).",
)
def open_ad_hoc_flow(
    obligation: str,
    unit: str,
    due: date,
    at: datetime | None = None,
    commune: str | None = None,
) -> dict:
    """Open an ad hoc item for `unit` of `commune` (which may be left out when the config
    serves one commune)."""
    rt = runtime()
    plan = rt.plan_of(commune)
    _tag_commune(rt, plan.commune.code)
    when = instant(at)
    item = open_ad_hoc(plan, rt.engine, obligation, unit, due, when)
    artifacts.publish_opened(plan, obligation, [item.period], [item])
    artifacts.emit_item_events(plan, ItemChange.OPENED, [item], when)
    return {
        "item": item.id,
        "commune": plan.commune.code,
        "obligation": obligation,
        "unit": unit,
        "due": item.due.isoformat(),
    }
