"""What the standing office sees in the Prefect UI: status tables, a Vietnamese summary of what
changed, and the events that automations hook. This module only hands them to Prefect; what
they hold is built in `notifications` (`status_pages`, `sweep_summary`, `city_pages`,
`event_payloads`). Artifact keys are stable, so each key is a versioned "latest status" page:

- `cchc-<commune>-open-items`: every open, overdue or escalated item, by unit (rewritten by each
  change made by the intake or the command line, and by a sweep when it may show something else
  than when last published: the commune's items changed, or the day did; see `models.pages`);
- `cchc-<commune>-late-items`: the overdue and escalated items, latest first, with unit names
  (with the open-items table);
- `cchc-<commune>-sweep-summary`: what the last sweep changed, in Vietnamese (each sweep);
- `cchc-<commune>-opened-<obligation>`: the items an opening run opened.

A city's config adds the city's own pages (`cchc-<city>-...`, the city's code):

- `cchc-<city>-sweep-summary`: what the last sweep changed, one row per commune;
- `cchc-<city>-opened-<obligation>`: what an opening run opened, one row per commune;
- `cchc-<city>-league`: the communes ranked by their on-time record (`publish_league`).

Lateness also shows on the run list: the sweep run ends in a Completed state (Prefect's name,
so the dashboard and automations see it as any) whose message counts what is late ("18 việc quá
hạn, ...": `notifications.sweep_summary.late_message`), tagged with each unit that has late items
(`late_tags`); in a city, with each commune that has late items (`city_late_message`,
`city_late_tags`). Each sweep run links (link artifacts, `notifications.office_links`) to the
late-items tables and, when CCHC_PUBLIC_URL is set, to the intake's office page.

Events (`notifications.event_payloads`): one `cchc.item.<kind>` per kind and unit per run, one
`cchc.mail.failed` per commune and run whose delivery gave up on some mail, one
`cchc.mail.stuck` per commune and sweep while some mail has waited a day, one
`cchc.sweep.completed` per sweep that ended well.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from notifications.city_pages import city_opened_page, league_page
from notifications.event_payloads import (
    item_events,
    mail_failed_event,
    mail_stuck_event,
    sweep_completed_event,
)
from notifications.markdown_text import md_cells, md_text
from notifications.office_links import Link
from notifications.status_pages import (
    ItemLike,
    Page,
    consolidated_page,
    indicators_page,
    opened_page,
    scorecard_page,
    status_pages,
)
from notifications.sweep_summary import city_summary_page, sweep_summary_page
from schedules.city import City
from schedules.dates import VN_ZONE, local_date
from schedules.plan import Plan
from schedules.vocabulary import ItemChange
from usecases.league import league
from usecases.scorecard import build_scorecard


def publish(page: Page) -> str:
    """One artifact under the page's key: a table, or markdown; returns the key."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    # The UI renders the description and a table's cells as Markdown: config names stay text.
    description = md_text(page.description)
    if isinstance(page.content, str):
        create_markdown_artifact(page.content, key=page.key, description=description)
    else:
        create_table_artifact(md_cells(page.content), key=page.key, description=description)
    return page.key


def publish_links(links: list[Link]) -> int:
    """Link artifacts on the current run (no key: they belong to the run, on its Artifacts
    tab); returns how many."""
    from prefect.artifacts import create_link_artifact

    for link in links:
        create_link_artifact(link.url, link_text=link.text, description=link.description)
    return len(links)


def publish_sweep(
    plan: Plan,
    at: datetime,
    opened: list[tuple[int, str, str, str]],
    advanced: list[tuple[int, str, str]],
    queued: int,
    touched: Sequence[ItemLike],
    counts: dict[str, Counter],
    open_items: list[ItemLike] | None,
    delivery: str | None = None,
) -> dict[str, str]:
    """The sweep's artifacts; returns their keys. The open-items and late-items tables are
    rewritten only when `open_items` is given (they may show something else than when last
    published: `flows.status_publishing._commune_pages` decides): the pages cost what
    changed."""
    keys = {} if open_items is None else publish_status(plan, open_items, at)
    summary = sweep_summary_page(plan, at, opened, advanced, queued, touched, counts, delivery)
    return {"summary": publish(summary)} | keys


def publish_status(plan: Plan, open_items: list[ItemLike], at: datetime) -> dict[str, str]:
    """The two status tables as of `at`: every open item by unit, and the late ones latest
    first. Returns their keys ("table", "late")."""
    return {name: publish(page) for name, page in status_pages(plan, open_items, at).items()}


def publish_opened(
    plan: Plan, obligation: str, periods: list[str], items: Sequence[ItemLike]
) -> str:
    return publish(opened_page(plan, obligation, periods, items))


def publish_scorecard(plan: Plan, engine: Engine, year: int, at: datetime) -> str:
    """A Prefect markdown artifact (stable key per year): the table and the chart, inline."""
    return publish(scorecard_page(plan, build_scorecard(plan, engine, year, at)))


def publish_consolidated(plan: Plan, engine: Engine, at: datetime) -> str | None:
    """The consolidated report's view of the units' reports, when one is open."""
    page = consolidated_page(plan, engine, at)
    return None if page is None else publish(page)


def publish_indicators(plan: Plan, engine: Engine, at: datetime) -> str | None:
    """The indicators of the open consolidated reports' periods against their targets."""
    page = indicators_page(plan, engine, at)
    return None if page is None else publish(page)


def publish_city_sweep(
    city: City,
    at: datetime,
    changes: dict[str, Counter],
    counts: dict[str, dict[str, Counter]],
    delivery: str | None,
) -> str:
    return publish(city_summary_page(city, at, changes, counts, delivery))


def publish_city_opened(
    city: City, obligation: str, todo: dict[str, list[str]], opened: dict[str, int], at: datetime
) -> str:
    """The city's view of an opening run: one row per commune it served."""
    return publish(city_opened_page(city, obligation, todo, opened, at))


def publish_league(city: City, engine: Engine, at: datetime) -> str:
    """Publish the league of the current year of `at` (Asia/Ho_Chi_Minh); returns its key."""
    return publish(league_page(city, league(city, engine, local_date(at, VN_ZONE).year, at)))


def emit_item_events(plan: Plan, kind: ItemChange, items: Iterable[ItemLike], at: datetime) -> int:
    """Emit the events of `item_events`; returns how many were emitted."""
    from prefect.events import emit_event

    events = item_events(plan, kind, items, at)
    for kwargs in events:
        emit_event(**kwargs)
    return len(events)


def emit_mail_failed(
    plan: Plan, failed: list[tuple], at: datetime, city: str | None = None
) -> None:
    from prefect.events import emit_event

    emit_event(**mail_failed_event(plan, failed, at, city))


def emit_mail_stuck(plan: Plan, stuck: list[tuple], at: datetime, city: str | None = None) -> None:
    from prefect.events import emit_event

    emit_event(**mail_stuck_event(plan, stuck, at, city))


def emit_sweep_completed(city: City, summary: dict[str, Any]) -> None:
    from prefect.events import emit_event

    emit_event(**sweep_completed_event(city, summary))
