"""`cchc-sweep`: sweeps every commune (opens what is due, moves items along their timeline:
reminders, overdue, escalation), delivers the outbox (a task with retries), publishes the pages
(`flows.status_publishing`), emits `cchc.item.overdue|escalated|opened`, `cchc.mail.stuck` while
mail has waited a day and, at its end, `cchc.sweep.completed`. Its final state is Prefect's
Completed, its message counting what is late ("18 việc quá hạn, ..."), the run tagged with the
late units (communes in a city) that have most late items, a bounded number
(`notifications.sweep_summary.LATE_TAGS`: a run with over 100 tags can never reach its final
state), and linked to the late-items tables. Its artifacts are bounded too
(CCHC_ARTIFACTS_PER_RUN, `flows.status_publishing.status_pages`).
A city's quarantined communes (`schedules.quarantine`) are named in its message, its result
(`quarantined`) and the city's summary page; the run is tagged `cách ly` and emits
`cchc.commune.quarantined`.

Work is batched: a sweep makes a fixed number of task runs (open, advance, deliver, publish, and
the league for a city) whatever the number of items or communes; the core works through items in
batches inside each task.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import FlowRun
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
from usecases.sweep_groups import commune_groups

SWEEP_FLOW = "cchc-sweep"
QUARANTINE_TAG = "cách ly"
"""The tag of a sweep run that served its city with some commune quarantined (one tag, however
many: the communes are in its result, its city page and `cchc.commune.quarantined`)."""


@task(name="open-due", cache_policy=NO_CACHE)
def open_due(at: datetime, communes: list[str] | None = None) -> SweepReport:
    """Open what is due in every commune (each by its own calendar and opening marks), or in
    the `communes` of a group."""
    rt = runtime()
    report = SweepReport(at)
    for plan in rt.group(communes):
        open_due_items(plan, rt.engine, at, report)
    return report


@task(name="advance", cache_policy=NO_CACHE)
def advance(at: datetime, communes: list[str] | None = None) -> SweepReport:
    """Move every commune's items that are due along their timelines: one paged read for all
    (or for the `communes` of a group)."""
    rt = runtime()
    report = SweepReport(at)
    advance_items(rt.group(communes), rt.engine, at, report)
    return report


@task(name="deliver", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=[10, 60, 300])
def deliver(at: datetime, force: bool = False, communes: list[str] | None = None) -> dict | None:
    """Send what the outbox holds, for every commune (or the `communes` of a group). Per-message
    trouble is the outbox's business (a row waits and retries, or fails and the standing office
    is told); an exception here (database, mail set-up) is retried by Prefect and, after the
    last retry, fails the task and so the sweep run: visible in the UI. Permanently failed rows
    emit `cchc.mail.failed`, rows that still wait a day after they were queued
    `cchc.mail.stuck`, one event per commune."""
    rt = runtime()
    plans = rt.group(communes)
    report = deliver_communes(plans, rt.engine, rt.settings, at, force)
    failed = report.failed
    for commune, rows in _failed_by_commune(rt, failed).items():
        artifacts.emit_mail_failed(rt.plan_of(commune), rows, at, city=rt.city.code)
    codes = [plan.commune.code for plan in plans]
    for commune, rows in waiting_mail(rt.engine, at - STUCK_AFTER, codes).items():
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


def _delivered(
    at: datetime, send: bool, communes: list[str] | None = None
) -> tuple[str | None, State | None]:
    """Deliver (unless not `send`): the line the pages show, and the task's state when it
    failed after its retries (the sweep publishes first, then fails)."""
    if not send:
        return None, None
    state = deliver(at, communes=communes, return_state=True)
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
def sweep_flow(
    at: datetime | None = None, send: bool = True, communes: list[str] | None = None
) -> State:
    """One sweep of every commune as of `at` (default: the run's scheduled instant). Safe to
    run twice at once: the core's unique keys keep items and mails single. Ends in a Completed
    state (Prefect's name: the dashboard and automations on `prefect.flow-run.Completed` see
    every sweep) whose message counts what is late ("18 việc quá hạn, ..."); its result is the
    summary dict. A sweep that ends well emits `cchc.sweep.completed`, which the "sweep
    missing" automation of `cchc deploy` waits for.

    A deployed city sweep of more communes than CCHC_SWEEP_GROUP fans out (`_fan_out`): one
    sub-run of this deployment per group of communes, which the work pool's workers share, so
    a worker added is capacity added. `communes`: the group a sub-run sweeps (its own pages,
    no city pages)."""
    rt = runtime()
    when = instant(at)
    if communes is None and _fans_out(rt):
        return _fan_out(rt, when, send)
    whole = communes is None
    swept = _sweep(when, send, communes, city_pages=whole, league=whole and rt.city.is_city)
    counts = swept.counts
    summary: dict[str, Any] = {
        "at": when.isoformat(),
        "opened": len(swept.opened.opened),
        "advanced": len(swept.advanced.advanced),
        "queued": swept.opened.queued + swept.advanced.queued,
        "open": counts["open"],
        "late": counts["late"],
        "delivery": swept.delivery,
        "artifacts": counts["artifacts"],
        "deferred": counts["deferred"],
    }
    if communes is not None:
        summary["communes"] = communes
    message = _with_quarantine(rt, summary, counts["state_message"])
    get_run_logger().info("sweep %s", summary)
    if swept.failed is not None:
        raise RuntimeError(f"e-mail delivery failed after retries: {swept.failed.message}")
    tag_run(counts["tags"] + ([QUARANTINE_TAG] if rt.city.quarantined else []))
    if communes is None:
        artifacts.emit_commune_quarantined(rt.city, when)
        artifacts.emit_sweep_completed(rt.city, summary)
    return Completed(message=message, data=summary)


@dataclass(frozen=True)
class _Swept:
    opened: SweepReport
    advanced: SweepReport
    delivery: str | None
    failed: State | None
    """The deliver task's state when it failed after its retries."""
    counts: dict[str, Any]
    """What `status_pages` published and counted."""


def _sweep(
    when: datetime, send: bool, communes: list[str] | None, *, city_pages: bool, league: bool
) -> _Swept:
    """Open, advance, deliver (unless not `send`) and publish, for every commune or the
    `communes` given; with `league`, the city's league table too (a view: if it fails, the
    sweep's work stands)."""
    opened = open_due(when, communes)
    advanced = advance(when, communes)
    delivery, failed = _delivered(when, send, communes)
    counts = status_pages(
        when,
        opened.opened,
        advanced.advanced,
        opened.communes | advanced.communes,
        opened.queued + advanced.queued,
        delivery,
        communes,
        city_pages=city_pages,
    )
    if league:
        state = league_page(when, return_state=True)
        if not state.is_completed():
            get_run_logger().warning("league not published: %s", state.message)
    return _Swept(opened, advanced, delivery, failed, counts)


def _with_quarantine(rt: Runtime, summary: dict[str, Any], message: str) -> str:
    """The summary's `quarantined` communes (`schedules.quarantine`: their files are invalid;
    each on its last valid files, or paused), and the final state's message naming them."""
    line = quarantine_line(rt.city)
    if line is None:
        return message
    summary["quarantined"] = quarantined_rows(rt.city)
    get_run_logger().warning("%s", line)
    return f"{message}; {line}" if message else line


# --- a city's sweep in groups ----------------------------------------------------------------

GROUP_POLL_SECONDS = 2.0
GROUP_WAIT_SECONDS = 3 * 3600
"""How long a fanned-out sweep waits for its groups' runs to end."""
UNTAKEN = "UNTAKEN"
"""A group's run no worker took within CCHC_SWEEP_GROUP_WAIT: cancelled, the parent sweeps the
group itself."""
UNTAKEN_MESSAGE = "Không có worker nhận kịp: lượt rà soát chính tự rà soát nhóm này"
"""The cancelled group run's state message, in the Prefect UI."""


def _fans_out(rt: Runtime) -> bool:
    """A deployed run of a city larger than one group (CCHC_SWEEP_GROUP; 0: never)."""
    from prefect.runtime import deployment

    size = rt.settings.sweep_group
    return bool(
        rt.city.is_city and size and len(rt.city.plans) > size and deployment.id is not None
    )


def _fan_out(rt: Runtime, when: datetime, send: bool) -> State:
    """The parent run of a city's sweep: one sub-run of this deployment per group of
    communes (`usecases.sweep_groups.commune_groups`: the same groups each morning), taken by
    whichever workers of the pool are free; then, once they all ended, the city office's own
    items and the city's pages (its summary counts every commune, from what the groups did;
    the league). Ends Completed with the city's lateness, or Failed naming the groups whose
    run did not complete (their communes are swept again by the next sweep: level-triggered)."""
    from prefect.deployments import run_deployment
    from prefect.runtime import deployment

    groups = commune_groups(list(rt.city.plans), rt.settings.sweep_group)
    runs = [
        run_deployment(
            deployment.id,
            parameters={"at": when.isoformat(), "send": send, "communes": group},
            timeout=0,
            as_subflow=True,
            tags=[f"nhóm:{index}/{len(groups)}"],
        )
        for index, group in enumerate(groups, 1)
    ]
    get_run_logger().info("%d communes in %d sub-runs", len(rt.city.plans), len(runs))
    ids = [cast(FlowRun, run).id for run in runs]  # a sync flow: no coroutine
    ended = _wait_for(ids, rt.settings.sweep_group_wait)
    for index, state in enumerate(ended):
        if state == UNTAKEN:  # the pool had no worker free for it: this run's slot sweeps it
            get_run_logger().warning(
                "group %d/%d not taken by a worker within %d s: swept by this run",
                index + 1,
                len(groups),
                rt.settings.sweep_group_wait,
            )
            alone = _sweep(when, send, groups[index], city_pages=False, league=False)
            ended[index] = "FAILED" if alone.failed is not None else "COMPLETED"
    office = [rt.city.office.commune.code] if rt.city.office else []
    swept = _sweep(when, send, office, city_pages=True, league=True)
    counts, delivery, failed = swept.counts, swept.delivery, swept.failed
    broken = [
        f"nhóm {index} ({groups[index - 1][0]}–{groups[index - 1][-1]}): {state}"
        for index, state in enumerate(ended, 1)
        if state != "COMPLETED"
    ]
    summary: dict[str, Any] = {
        "at": when.isoformat(),
        "groups": len(groups),
        "failed_groups": len(broken),
        "open": counts["open"],
        "late": counts["late"],
        "delivery": delivery,
    }
    message = _with_quarantine(rt, summary, counts["state_message"])
    get_run_logger().info("sweep %s", summary)
    tag_run(counts["tags"] + ([QUARANTINE_TAG] if rt.city.quarantined else []))
    if broken:
        raise RuntimeError("sweep groups did not complete: " + "; ".join(broken))
    if failed is not None:
        raise RuntimeError(f"e-mail delivery failed after retries: {failed.message}")
    artifacts.emit_commune_quarantined(rt.city, when)
    artifacts.emit_sweep_completed(rt.city, summary)
    return Completed(message=message, data=summary)


def _wait_for(run_ids: list, start_within: float) -> list[str]:
    """The final state type of each run (polled), "TIMEOUT" for those still not ended after
    GROUP_WAIT_SECONDS, `UNTAKEN` for those still scheduled (no worker took them) after
    `start_within` seconds: those are cancelled (a worker taking one at that instant sweeps
    its communes twice, which the core's unique keys make harmless)."""
    import time

    from prefect.client.orchestration import get_client
    from prefect.states import Cancelled

    ended: dict = {}
    started = time.monotonic()
    deadline = started + GROUP_WAIT_SECONDS
    with get_client(sync_client=True) as client:
        while len(ended) < len(run_ids) and time.monotonic() < deadline:
            for run_id in run_ids:
                if run_id in ended:
                    continue
                state = client.read_flow_run(run_id).state
                if state is not None and state.is_final():
                    ended[run_id] = state.type.value
                elif (
                    state is not None
                    and state.is_scheduled()
                    and time.monotonic() - started >= start_within
                ):
                    client.set_flow_run_state(
                        run_id,
                        Cancelled(message=UNTAKEN_MESSAGE),
                        force=True,
                    )
                    ended[run_id] = UNTAKEN
            if len(ended) < len(run_ids):
                time.sleep(GROUP_POLL_SECONDS)
    return [ended.get(run_id, "TIMEOUT") for run_id in run_ids]
