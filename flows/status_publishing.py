"""The status pages runs publish: after a sweep, each commune's summary and, when they may show
something else than when last published, its status tables (and, for a city, the city's summary
and league); after a change made outside a sweep (the intake, the command line, a close run),
the tables of the items' communes. Each rewrite of a commune's tables is recorded in the page
log (`models.pages`), which is what lets the next sweep leave unchanged tables alone.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.settings import PREFECT_API_URL
from sqlalchemy import func, select
from sqlmodel import col

from flows import artifacts
from flows.item_reads import by_commune, chunks, open_items_now, read_items
from flows.runtime_state import Runtime, prefect_location, runtime
from models.db import transaction
from models.pages import LEAGUE, STATUS, PageLog, last_event_id, mark_published, page_log
from models.tables import Outbox, WorkItem, saved_id
from notifications.city_pages import league_fingerprint
from notifications.office_links import late_links, office_link
from notifications.status_pages import status_fingerprint
from notifications.sweep_summary import (
    city_late_message,
    city_late_tags,
    late_message,
    late_tags,
)
from schedules.dates import VN_ZONE, local_date
from schedules.plan import Plan
from schedules.vocabulary import ItemChange, ItemStatus
from usecases.reporting import open_counts_by_commune

Opened = list[tuple[int, str, str, str]]
"""The items a sweep opened: (id, ...) rows of `SweepReport.opened`."""
Advanced = list[tuple[int, str, str]]
"""The items a sweep moved: (id, step, status) rows of `SweepReport.advanced`."""


def _server() -> str | None:
    """The Prefect API the pages go to (part of their fingerprint: another server has none)."""
    return PREFECT_API_URL.value()


def _tables_published(
    rt: Runtime, plan: Plan, at: datetime, last_event: int, fingerprint: str
) -> None:
    """After a commune's status tables: its consolidated report's view and its indicators (they
    follow the same items), and the page log's record of what the tables were written from."""
    artifacts.publish_consolidated(plan, rt.engine, at)
    artifacts.publish_indicators(plan, rt.engine, at)
    day = local_date(at, plan.zone)
    mark_published(rt.engine, STATUS, plan.commune.code, day, last_event, fingerprint, at)


# --- after a sweep ---------------------------------------------------------------------------


def _queued_by_commune(rt: Runtime, at: datetime, communes: dict[int, str], queued: int) -> Counter:
    """The mails this sweep queued, by commune: the outbox rows created at `at` for the items
    it opened or moved (the only ones a sweep queues for; read by the indexed item id)."""
    if not rt.city.is_city:
        return Counter({rt.plans[0].commune.code: queued})
    found: Counter = Counter()
    for chunk in chunks(list(communes)):
        query = (
            select(col(Outbox.item_id), func.count())
            .where(col(Outbox.item_id).in_(chunk), col(Outbox.created_at) == at)
            .group_by(col(Outbox.item_id))
        )
        with transaction(rt.engine) as session:
            for item_id, n in session.execute(query).all():
                found[communes[item_id]] += n
    return found


def _item_events(
    plan: Plan, at: datetime, opened: Opened, advanced: Advanced, touched: list[WorkItem]
) -> dict[str, int]:
    """One event per kind and unit of what the sweep did to the commune's items; the number
    emitted by kind."""
    moved = {item_id: status for item_id, _, status in advanced}
    opened_ids = {item_id for item_id, *_ in opened}
    changed = [i for i in touched if i.id in moved]

    def emit(kind: ItemChange, items: list[WorkItem]) -> int:
        return artifacts.emit_item_events(plan, kind, items, at)

    return {
        "opened": emit(ItemChange.OPENED, [i for i in touched if i.id in opened_ids]),
        "overdue": emit(
            ItemChange.OVERDUE, [i for i in changed if moved[saved_id(i)] == ItemStatus.OVERDUE]
        ),
        "escalated": emit(
            ItemChange.ESCALATED, [i for i in changed if moved[saved_id(i)] == ItemStatus.ESCALATED]
        ),
    }


def _commune_pages(
    rt: Runtime,
    plan: Plan,
    at: datetime,
    opened: Opened,
    advanced: Advanced,
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
    code = plan.commune.code
    fingerprint = status_fingerprint(plan, _server())
    current = log.is_current(code, local_date(at, plan.zone), fingerprint)
    open_now = open_items_now(plan, rt.engine) if opened or advanced or not current else None
    if summary:
        artifacts.publish_sweep(
            plan, at, opened, advanced, queued, touched, counts, open_now, delivery
        )
    elif open_now is not None:
        artifacts.publish_status(plan, open_now, at)
    if open_now is not None:
        _tables_published(rt, plan, at, log.last_event, fingerprint)
    return _item_events(plan, at, opened, advanced, touched)


def _by_commune_of(rows: list, communes: dict[int, str]) -> defaultdict[str, list]:
    """Rows whose first column is an item id, by the item's commune."""
    found: defaultdict[str, list] = defaultdict(list)
    for row in rows:
        found[communes[row[0]]].append(row)
    return found


def _late_outcome(
    rt: Runtime, at: datetime, changes: dict[str, Counter], counts: dict, delivery: str | None
) -> tuple[str, list[str]]:
    """The sweep run's final state's message and tags from the lateness, and its links to
    where the office looks (`notifications.office_links`); for a city, after the city's
    summary."""
    links = late_links(rt.city, counts, prefect_location()[1])
    office = office_link(rt.settings.intake.public_url)
    artifacts.publish_links(links + ([office] if office else []))
    if rt.city.is_city:
        artifacts.publish_city_sweep(rt.city, at, changes, counts, delivery)
        return city_late_message(rt.city, counts), city_late_tags(counts)
    [only] = counts.values()
    return late_message(rt.plans[0], only), late_tags(only)


@task(name="publish-status", cache_policy=NO_CACHE)
def status_pages(
    at: datetime,
    opened: Opened,
    advanced: Advanced,
    communes: dict[int, str],
    queued: int,
    delivery: str | None,
) -> dict[str, Any]:
    """Each commune's pages (`_commune_pages`), and for a city the city's summary; the run's
    final state's message and its tags from the lateness."""
    rt = runtime()
    log = page_log(rt.engine, STATUS, [p.commune.code for p in rt.plans])  # before any read
    touched = by_commune(read_items(rt.engine, [i for i, *_ in opened + advanced]))
    queued_by = _queued_by_commune(rt, at, communes, queued)
    city = rt.city.is_city
    opened_by, advanced_by = _by_commune_of(opened, communes), _by_commune_of(advanced, communes)
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
    changes = {
        "opened": Counter(communes[i] for i, *_ in opened),
        "advanced": Counter(communes[i] for i, *_ in advanced),
        "queued": queued_by,
    }
    message, tags = _late_outcome(rt, at, changes, counts, delivery)
    every = [c for unit_counts in counts.values() for c in unit_counts.values()]
    return dict(emitted) | {
        "open": sum(sum(c.values()) for c in every),
        "late": sum(c[ItemStatus.OVERDUE] + c[ItemStatus.ESCALATED] for c in every),
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


# --- after a change made outside a sweep -----------------------------------------------------


@task(name="publish-change", cache_policy=NO_CACHE)
def changed_pages(kind: ItemChange, item_ids: list[int], at: datetime) -> dict[str, dict[str, str]]:
    """The event of a change made outside a sweep, and the status tables of the items'
    communes without the items it closed (or with the items it reopened). Returns the tables'
    keys by commune."""
    rt = runtime()
    keys = {}
    last_event = last_event_id(rt.engine)  # before the items are read: see models.pages
    for commune, items in by_commune(read_items(rt.engine, item_ids)).items():
        plan = rt.plan_of(commune)
        artifacts.emit_item_events(plan, kind, items, at)
        keys[commune] = artifacts.publish_status(plan, open_items_now(plan, rt.engine), at)
        _tables_published(rt, plan, at, last_event, status_fingerprint(plan, _server()))
    return keys
