"""The opening flows: one per kind of obligation (`cchc-open-periodic-report`, ...),
parameterised by obligation and period. A run opens the period's items (every lead unit) in every
commune whose opening day it is, queues their opening mail, publishes a table of what it opened
per commune (and, in a city, the city's) and emits `cchc.item.opened`; a self-scoring run also
publishes the yearly scorecard.

The flows are module attributes `open_<kind>` (`OPENING_FLOWS`); `flows.prefect_flows` re-exports
them, and the deployments' entrypoints name them there.
"""

from __future__ import annotations

import logging
from datetime import datetime

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from flows import artifacts
from flows.item_reads import by_commune, read_items
from flows.runtime_state import Runtime, instant, runtime
from notifications.city_pages import city_count
from schedules.dates import local_date
from schedules.occurrences import latest_opening
from schedules.vocabulary import ItemChange, ObligationKind
from usecases.errors import UserError
from usecases.sweep import SweepReport, open_period

FLOW_PREFIX = "cchc-"


def opening_flow_name(kind: ObligationKind) -> str:
    return FLOW_PREFIX + "open-" + kind.replace("_", "-")


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


def _periods(todo: dict[str, list[str]]) -> list[str]:
    """The periods of `todo`, each once, in order."""
    return list(dict.fromkeys(p for ps in todo.values() for p in ps))


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
    opened = by_commune(read_items(rt.engine, item_ids))
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
            period = period or ", ".join(_periods(todo))
            communes = f" · {city_count(rt.city, todo)}" if rt.city.is_city else ""
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
        periods = _periods(todo)
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
