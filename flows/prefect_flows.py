"""cchc's Prefect flows: a thin shell over the core use cases (usecases.sweep, usecases.lifecycle).

- one opening flow per kind of obligation (`cchc-open-periodic-report`, ...), parameterised by
  obligation and period: opens the period's items (every lead unit), queues their opening mail,
  publishes a table of what it opened and emits `cchc.item.opened`;
- `cchc-sweep`: opens what is due, moves items along their timeline (reminders, overdue,
  escalation), delivers the outbox (a task with retries), publishes the status tables and the
  Vietnamese summary, emits `cchc.item.overdue|escalated|opened`; its final state is a
  Completed state named by its lateness ("18 việc quá hạn"), the run tagged per late unit;
- `cchc-close`: attaches a deliverable and closes the item, emits `cchc.item.closed`;
- `cchc-item-changed`: after the intake or the command line changed items (handed in,
  accepted, returned, waived), emits their event and refreshes the status tables;
- `cchc-open-ad-hoc`: opens an ad hoc item by hand (a directive arrived).

Work is batched: a sweep makes a fixed number of task runs (open, advance, deliver, publish)
whatever the number of items; the core works through items in batches inside each task. Tasks
take and return plain data; the plan and database come from `runtime()`.

Importing this module imports Prefect: only commands that run flows import it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.states import Completed, State
from sqlalchemy import Engine, select

from flows import artifacts
from flows.mail import deliver_mail
from flows.settings import Settings
from models.db import transaction
from models.tables import WorkItem
from schedules.dates import local_date
from schedules.plan import Plan, load_plan
from schedules.vocabulary import OPEN_STATUSES, ItemStatus
from usecases.errors import UserError
from usecases.lifecycle import open_ad_hoc
from usecases.reporting import open_counts
from usecases.review import Submission, attach
from usecases.sweep import SweepReport, advance_items, open_due_items, open_period

FLOW_PREFIX = "cchc-"
SWEEP_FLOW = "cchc-sweep"
CLOSE_FLOW = "cchc-close"
ADHOC_FLOW = "cchc-open-ad-hoc"
CHANGED_FLOW = "cchc-item-changed"
CHANGE_WORDS = {
    "closed": "nộp",
    "accepted": "chấp nhận",
    "returned": "trả lại",
    "waived": "miễn",
}
"""The changes made outside a sweep (`flows.status`), as a run name says them."""


# --- the plan and database a run works on -----------------------------------------------------


@dataclass
class Runtime:
    plan: Plan
    engine: Engine
    settings: Settings


_pinned: Runtime | None = None
_loaded: Runtime | None = None


def use_runtime(plan: Plan, engine: Engine, settings: Settings) -> Runtime:
    """Pin what runs in this process use: the embedded engine pins its validated plan (an
    invalid edit on disk never reaches a run), tests pin theirs."""
    global _pinned
    _pinned = Runtime(plan, engine, settings)
    return _pinned


def release_runtime() -> None:
    global _pinned
    _pinned = None


def runtime() -> Runtime:
    """The pinned runtime, else one loaded once per process from the environment (CCHC_CONFIG,
    CCHC_DATABASE_URL): what a worker's flow-run process does."""
    global _loaded
    if _pinned is not None:
        return _pinned
    if _loaded is None:
        from models.db import ensure_schema, make_engine

        settings = Settings.from_env()
        engine = make_engine(settings.database_url)
        ensure_schema(engine)
        _loaded = Runtime(load_plan(settings.config_dir), engine, settings)
    return _loaded


def instant(at: datetime | str | None) -> datetime:
    """`at` as aware UTC; None means the run's scheduled instant (a late run still acts as of
    its schedule), or now outside a run. A naive `at` is wall time in the commune's zone."""
    if at is None:
        scheduled = flow_run.scheduled_start_time
        return (
            datetime.fromtimestamp(scheduled.timestamp(), UTC) if scheduled else datetime.now(UTC)
        )
    if isinstance(at, str):  # a run name sees the parameters as the API sent them
        at = datetime.fromisoformat(at)
    if at.tzinfo is None:  # wall time in the commune's zone, as on the command line
        at = at.replace(tzinfo=runtime().plan.zone)
    return at.astimezone(UTC)


def current_periods(plan: Plan, obligation: str, at: datetime) -> list[str]:
    """The periods of `obligation` whose opening day is the latest one on or before `at`'s date
    (the run's own day when it fires on schedule), among occurrences the engine acts on."""
    today = local_date(at, plan.zone)
    found = plan.acted_on(plan.commune.plan_start, today, obligation=obligation, by="opens")
    if not found:
        return []
    latest = max(o.opens for o in found)
    return list(dict.fromkeys(o.period.key for o in found if o.opens == latest))


def _read_items(engine: Engine, ids: list[int]) -> list[WorkItem]:
    found: list[WorkItem] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        with transaction(engine) as session:
            found += session.exec(select(WorkItem).where(WorkItem.id.in_(chunk))).scalars().all()
    order = {item_id: i for i, item_id in enumerate(ids)}
    return sorted(found, key=lambda i: order[i.id])


def _open_items_now(plan: Plan, engine: Engine) -> list[WorkItem]:
    query = (
        select(WorkItem)
        .where(WorkItem.commune == plan.commune.code, WorkItem.status.in_(OPEN_STATUSES))
        .order_by(WorkItem.unit, WorkItem.due, WorkItem.id)
    )
    with transaction(engine) as session:
        return list(session.exec(query).scalars().all())


# --- opening runs --------------------------------------------------------------------------


@task(name="open-items", cache_policy=NO_CACHE, task_run_name="open {obligation} {periods}")
def open_items(obligation: str, periods: list[str], at: datetime) -> SweepReport:
    """Open every lead unit's item of each period (missing ones only) and queue the mails."""
    rt = runtime()
    report = SweepReport(at)
    for period in periods:
        one = open_period(rt.plan, rt.engine, obligation, period, at)
        report.opened += one.opened
        report.queued += one.queued
    return report


@task(name="publish-opened", cache_policy=NO_CACHE)
def opened_pages(obligation: str, periods: list[str], item_ids: list[int], at: datetime) -> str:
    rt = runtime()
    items = _read_items(rt.engine, item_ids)
    key = artifacts.publish_opened(rt.plan, obligation, periods, items)
    artifacts.emit_item_events(rt.plan, "opened", items, at)
    return key


@task(name="publish-scorecard", cache_policy=NO_CACHE)
def scorecard_page(periods: list[str], at: datetime) -> list[str]:
    """Evidence for the PAR INDEX self-scoring: each period's yearly on-time scorecard per unit
    and quarter (table and chart) as a markdown artifact with a stable key per year."""
    rt = runtime()
    years = sorted({int(p[:4]) for p in periods if p[:4].isdigit()})
    return [artifacts.publish_scorecard(rt.plan, rt.engine, year, at) for year in years]


def _opening_run_name() -> str:
    params = flow_run.parameters
    obligation = params.get("obligation", "?")
    period = params.get("period")
    if not period:
        try:
            at = instant(params.get("at"))
            period = ", ".join(current_periods(runtime().plan, obligation, at)) or "—"
        except Exception as exc:  # noqa: BLE001  (a name must never fail the run)
            logging.getLogger("cchc.flows").warning("run name: no period (%r)", exc)
            period = "?"
    return f"{obligation} · {period}"


def _opening_flow(kind: str, description: str):
    def open_obligation(
        obligation: str, period: str | None = None, at: datetime | None = None
    ) -> dict:
        rt = runtime()
        plan = rt.plan
        ob = plan.obligations.get(obligation)
        if ob is None or obligation not in plan.schedules:
            raise UserError(f"'{obligation}' is no scheduled obligation of the config")
        if ob.kind != kind:
            raise UserError(f"'{obligation}' is a {ob.kind}, not a {kind}: wrong flow")
        when = instant(at)
        periods = [period] if period else current_periods(plan, obligation, when)
        report = open_items(obligation, periods, when)
        ids = [item_id for item_id, *_ in report.opened]
        opened_pages(obligation, periods, ids, when)
        if kind == "self_scoring":
            scorecard_page(periods, when)
        get_run_logger().info(
            "%s %s: opened %d item(s), queued %d mail(s)",
            obligation,
            ", ".join(periods) or "—",
            len(ids),
            report.queued,
        )
        return {
            "obligation": obligation,
            "periods": periods,
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


def opening_flow_name(kind: str) -> str:
    return FLOW_PREFIX + "open-" + kind.replace("_", "-")


open_periodic_report = _opening_flow(
    "periodic_report", "Mở kỳ báo cáo định kỳ CCHC (quý I, 6 tháng, quý III, năm) của các đơn vị"
)
open_consolidated_report = _opening_flow(
    "consolidated_report", "Mở kỳ báo cáo tổng hợp CCHC của xã (cơ quan thường trực)"
)
open_annual_plan = _opening_flow("annual_plan", "Mở việc xây dựng kế hoạch CCHC năm")
open_review_plan = _opening_flow(
    "review_plan", "Mở việc xây dựng kế hoạch rà soát / theo dõi thi hành pháp luật năm"
)
open_self_scoring = _opening_flow("self_scoring", "Mở việc tự đánh giá, chấm điểm PAR INDEX")
open_survey = _opening_flow("survey", "Mở việc đo lường sự hài lòng của người dân, tổ chức")
open_self_inspection = _opening_flow("self_inspection", "Mở việc tự kiểm tra công tác CCHC")
open_training = _opening_flow("training", "Mở việc cử cán bộ tham gia bồi dưỡng CCHC")
open_annual_task = _opening_flow("annual_task", "Mở nhiệm vụ hằng năm của Phụ lục")
open_one_off = _opening_flow("one_off", "Mở nhiệm vụ có thời hạn một lần")
open_final_summary = _opening_flow("final_summary", "Mở việc tổng kết Kế hoạch")

OPENING_FLOWS = {
    "periodic_report": open_periodic_report,
    "consolidated_report": open_consolidated_report,
    "annual_plan": open_annual_plan,
    "review_plan": open_review_plan,
    "self_scoring": open_self_scoring,
    "survey": open_survey,
    "self_inspection": open_self_inspection,
    "training": open_training,
    "annual_task": open_annual_task,
    "one_off": open_one_off,
    "final_summary": open_final_summary,
}
"""Kind of obligation -> its opening flow (module attribute `open_<kind>`, the entrypoint)."""


def opening_flow(kind: str):
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
    rt = runtime()
    report = SweepReport(at)
    open_due_items(rt.plan, rt.engine, at, report)
    return report


@task(name="advance", cache_policy=NO_CACHE)
def advance(at: datetime) -> SweepReport:
    rt = runtime()
    report = SweepReport(at)
    advance_items(rt.plan, rt.engine, at, report)
    return report


@task(name="deliver", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=[10, 60, 300])
def deliver(at: datetime, force: bool = False) -> dict | None:
    """Send what the outbox holds. Per-message trouble is the outbox's business (a row waits
    and retries, or fails and the standing office is told); an exception here (database, mail
    set-up) is retried by Prefect and, after the last retry, fails the task and so the sweep
    run: visible in the UI. Permanently failed rows emit `cchc.mail.failed`."""
    rt = runtime()
    report = deliver_mail(rt.plan, rt.engine, rt.settings, at, force)
    failed = report.failed
    if failed:
        artifacts.emit_mail_failed(rt.plan, failed, at)
    return {"line": artifacts.delivery_line(report), "failed": len(failed)}


@task(name="publish-status", cache_policy=NO_CACHE)
def status_pages(
    at: datetime,
    opened: list[tuple[int, str, str, str]],
    advanced: list[tuple[int, str, str]],
    queued: int,
    delivery: str | None,
) -> dict[str, int]:
    """The summary artifact (and the open-items table when this sweep changed something), and
    one event per kind and unit. Its cost follows what changed: the counts are one GROUP BY,
    the items read are those opened or moved."""
    rt = runtime()
    plan = rt.plan
    moved = {item_id: status for item_id, _, status in advanced}
    changed = _read_items(rt.engine, list(moved))
    opened_items = _read_items(rt.engine, [i for i, *_ in opened])
    counts = open_counts(plan, rt.engine)
    late = artifacts.late_counts(counts)
    open_now = _open_items_now(plan, rt.engine) if opened or advanced or late else None
    artifacts.publish_sweep(
        plan, at, opened, advanced, queued, opened_items + changed, counts, open_now, delivery
    )
    if open_now is not None:
        artifacts.publish_consolidated(plan, rt.engine, at)
    emitted = {
        "opened": artifacts.emit_item_events(plan, "opened", opened_items, at),
        "overdue": artifacts.emit_item_events(
            plan, "overdue", [i for i in changed if moved[i.id] == ItemStatus.OVERDUE], at
        ),
        "escalated": artifacts.emit_item_events(
            plan,
            "escalated",
            [i for i in changed if moved[i.id] == ItemStatus.ESCALATED],
            at,
        ),
    }
    name, message = artifacts.late_state(plan, counts)
    return emitted | {
        "open": sum(sum(c.values()) for c in counts.values()),
        "late": sum(late.values()),
        "state_name": name,
        "state_message": message,
        "tags": artifacts.late_tags(counts),
    }


def _sweep_run_name() -> str:
    try:
        at = instant(flow_run.parameters.get("at"))
        return f"sweep · {at.astimezone(runtime().plan.zone):%Y-%m-%d %H:%M}"
    except Exception as exc:  # noqa: BLE001  (a name must never fail the run)
        logging.getLogger("cchc.flows").warning("run name: no instant (%r)", exc)
        return "sweep"


@flow(
    name=SWEEP_FLOW,
    flow_run_name=_sweep_run_name,
    description="Rà soát mỗi sáng ngày làm việc: mở việc đến ngày, nhắc hạn, quá hạn, chuyển cấp, "
    "gửi thư; công bố bảng tình trạng theo đơn vị.",
)
def sweep_flow(at: datetime | None = None, send: bool = True) -> State:
    """One sweep as of `at` (default: the run's scheduled instant). Safe to run twice at once:
    the core's unique keys keep items and mails single. Ends in a Completed state that names
    the lateness ("18 việc quá hạn"): the run list is where the clerk looks first; its result
    is the summary dict."""
    when = instant(at)
    opened = open_due(when)
    advanced = advance(when)
    delivery_state = deliver(when, return_state=True) if send else None
    delivery_failed = delivery_state is not None and not delivery_state.is_completed()
    if delivery_failed:
        delivery = f"THẤT BẠI — {delivery_state.message or delivery_state.name}"
    else:
        outcome = delivery_state.result() if delivery_state is not None else None
        delivery = outcome["line"] if outcome else None
    queued = opened.queued + advanced.queued
    counts = status_pages(when, opened.opened, advanced.advanced, queued, delivery)
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
    if delivery_failed:
        raise RuntimeError(f"e-mail delivery failed after retries: {delivery_state.message}")
    tag_run(counts["tags"])
    return Completed(name=counts["state_name"], message=counts["state_message"], data=summary)


def tag_run(tags: list[str]) -> None:
    """Add `tags` to the current flow run (units with late items: `quá hạn:VP`). Tags are set
    when a run is created; these are known only at its end, so they go through the API. A
    failure is logged, never fails the sweep."""
    run_id = flow_run.id
    if not tags or run_id is None:
        return
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            current = client.read_flow_run(run_id).tags
            client.update_flow_run(run_id, tags=list(dict.fromkeys([*current, *tags])))
    except Exception as exc:  # noqa: BLE001  (the tags are a view; the sweep's work stands)
        get_run_logger().warning("could not tag the run with %s: %r", tags, exc)


# --- closing and ad hoc ----------------------------------------------------------------------


def _close_run_name() -> str:
    params = flow_run.parameters
    try:
        at = instant(params.get("at"))
        when = f"{at.astimezone(runtime().plan.zone):%Y-%m-%d %H:%M}"
    except Exception:  # noqa: BLE001
        when = "?"
    return f"close · #{params.get('item_id')} · {when}"


@task(name="attach", cache_policy=NO_CACHE)
def attach_deliverable(
    item_id: int, file: str, at: datetime, by: str | None, note: str | None
) -> Submission:
    rt = runtime()
    return attach(
        rt.plan, rt.engine, rt.settings.data_dir, item_id, Path(file), at, by=by, note=note
    )


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
    """Attach a deliverable to an item and close it; emits `cchc.item.closed` when this run
    closed it. Returns what `usecases.review.attach` did (a `Submission`)."""
    when = instant(at)
    done = attach_deliverable(item_id, file, when, by, note)
    if done.closed_item:
        changed_pages("closed", [done.item.id], when)
    return done


@task(name="publish-change", cache_policy=NO_CACHE)
def changed_pages(kind: str, item_ids: list[int], at: datetime) -> dict[str, str]:
    """The event of a change made outside a sweep, and the status tables without the items it
    closed (or with the items it reopened)."""
    rt = runtime()
    items = _read_items(rt.engine, item_ids)
    artifacts.emit_item_events(rt.plan, kind, items, at)
    artifacts.publish_consolidated(rt.plan, rt.engine, at)
    return artifacts.publish_status(rt.plan, _open_items_now(rt.plan, rt.engine), at)


def _changed_run_name() -> str:
    params = flow_run.parameters
    ids = ", ".join(f"#{i}" for i in params.get("item_ids") or [])
    try:
        at = instant(params.get("at"))
        when = f"{at.astimezone(runtime().plan.zone):%Y-%m-%d %H:%M}"
    except Exception:  # noqa: BLE001  (a name must never fail the run)
        when = "?"
    kind = params.get("kind")
    return f"{CHANGE_WORDS.get(kind, kind)} · {ids} · {when}"


@flow(
    name=CHANGED_FLOW,
    flow_run_name=_changed_run_name,
    description="Cập nhật bảng tình trạng khi đơn vị nộp sản phẩm, cơ quan thường trực chấp "
    "nhận hoặc trả lại, hoặc một việc được miễn.",
)
def item_changed_flow(kind: str, item_ids: list[int], at: datetime | None = None) -> dict:
    """Items changed outside a sweep (`kind` of `CHANGE_WORDS`): emit `cchc.item.<kind>` and
    refresh the open-items and late-items tables, so the UI does not wait for the next sweep."""
    if kind not in CHANGE_WORDS:
        raise UserError(f"unknown change {kind!r}")
    return changed_pages(kind, item_ids, instant(at))


def _adhoc_run_name() -> str:
    params = flow_run.parameters
    return f"{params.get('obligation')} · {params.get('unit')} · {params.get('due')}"


@flow(
    name=ADHOC_FLOW,
    flow_run_name=_adhoc_run_name,
    description="Mở việc đột xuất theo văn bản chỉ đạo (chọn đơn vị và hạn).",
)
def open_ad_hoc_flow(obligation: str, unit: str, due: date, at: datetime | None = None) -> dict:
    rt = runtime()
    when = instant(at)
    item = open_ad_hoc(rt.plan, rt.engine, obligation, unit, due, when)
    artifacts.publish_opened(rt.plan, obligation, [item.period], [item])
    artifacts.emit_item_events(rt.plan, "opened", [item], when)
    return {"item": item.id, "obligation": obligation, "unit": unit, "due": item.due.isoformat()}
