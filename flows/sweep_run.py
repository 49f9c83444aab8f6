"""`cchc-sweep`: sweeps every commune (opens what is due, moves items along their timeline:
reminders, overdue, escalation), delivers the outbox (a task with retries), publishes the pages
(`flows.status_publishing`), emits `cchc.item.overdue|escalated|opened`, `cchc.mail.stuck` while
mail has waited a day and, at its end, `cchc.sweep.completed`. Its final state is Prefect's
Completed, its message counting what is late ("18 việc quá hạn, ..."), the run tagged per late
unit (per late commune in a city) and linked to the late-items tables. A city's quarantined
communes (`schedules.quarantine`) are named in its message, its result (`quarantined`) and the
city's summary page; the run is tagged `cách ly` and emits `cchc.commune.quarantined`.

Work is batched: a sweep makes a fixed number of task runs (open, advance, deliver, publish, and
the league for a city) whatever the number of items or communes; the core works through items in
batches inside each task.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.states import Completed, State
from sqlalchemy import select
from sqlmodel import col

from cchc.runtime.courier import deliver_communes
from flows import artifacts
from flows.runtime_state import Runtime, instant, runtime, tag_run
from flows.status_publishing import league_page, status_pages
from models.db import transaction
from models.store import waiting_mail
from models.tables import Outbox, WorkItem
from notifications.event_payloads import STUCK_AFTER
from notifications.quarantine_notice import quarantine_line, quarantined_rows
from notifications.sweep_summary import delivery_line
from usecases.sweep import SweepReport, advance_items, open_due_items

SWEEP_FLOW = "cchc-sweep"
QUARANTINE_TAG = "cách ly"
"""The tag of a sweep run that served its city with some commune quarantined (one tag, however
many: the communes are in its result, its city page and `cchc.commune.quarantined`)."""


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
    rows that still wait a day after they were queued `cchc.mail.stuck`, one event per
    commune."""
    rt = runtime()
    report = deliver_communes(rt.plans, rt.engine, rt.settings, at, force)
    failed = report.failed
    for commune, rows in _failed_by_commune(rt, failed).items():
        artifacts.emit_mail_failed(rt.plan_of(commune), rows, at, city=rt.city.code)
    communes = [plan.commune.code for plan in rt.plans]
    for commune, rows in waiting_mail(rt.engine, at - STUCK_AFTER, communes).items():
        artifacts.emit_mail_stuck(rt.plan_of(commune), rows, at, city=rt.city.code)
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


def _delivered(at: datetime, send: bool) -> tuple[str | None, State | None]:
    """Deliver (unless not `send`): the line the pages show, and the task's state when it
    failed after its retries (the sweep publishes first, then fails)."""
    if not send:
        return None, None
    state = deliver(at, return_state=True)
    if not state.is_completed():
        return f"THẤT BẠI — {state.message or state.name}", state
    outcome = state.result()
    return (outcome["line"] if outcome else None), None


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
    state (Prefect's name: the dashboard and automations on `prefect.flow-run.Completed` see
    every sweep) whose message counts what is late ("18 việc quá hạn, ..."); its result is the
    summary dict. A sweep that ends well emits `cchc.sweep.completed`, which the "sweep
    missing" automation of `cchc deploy` waits for."""
    rt = runtime()
    when = instant(at)
    opened = open_due(when)
    advanced = advance(when)
    delivery, failed = _delivered(when, send)
    queued = opened.queued + advanced.queued
    communes = opened.communes | advanced.communes
    counts = status_pages(when, opened.opened, advanced.advanced, communes, queued, delivery)
    if rt.city.is_city:
        league = league_page(when, return_state=True)
        if not league.is_completed():  # a view: the sweep's work stands
            get_run_logger().warning("league not published: %s", league.message)
    summary: dict[str, Any] = {
        "at": when.isoformat(),
        "opened": len(opened.opened),
        "advanced": len(advanced.advanced),
        "queued": queued,
        "open": counts["open"],
        "late": counts["late"],
        "delivery": delivery,
    }
    message = _with_quarantine(rt, summary, counts["state_message"])
    get_run_logger().info("sweep %s", summary)
    if failed is not None:
        raise RuntimeError(f"e-mail delivery failed after retries: {failed.message}")
    tag_run(counts["tags"] + ([QUARANTINE_TAG] if rt.city.quarantined else []))
    artifacts.emit_commune_quarantined(rt.city, when)
    artifacts.emit_sweep_completed(rt.city, summary)
    return Completed(message=message, data=summary)


def _with_quarantine(rt: Runtime, summary: dict[str, Any], message: str) -> str:
    """The summary's `quarantined` communes (`schedules.quarantine`: their files are invalid;
    each on its last valid files, or paused), and the final state's message naming them."""
    line = quarantine_line(rt.city)
    if line is None:
        return message
    summary["quarantined"] = quarantined_rows(rt.city)
    get_run_logger().warning("%s", line)
    return f"{message}; {line}" if message else line
