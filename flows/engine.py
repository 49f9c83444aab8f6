"""`cchc run`: the long-running engine. An APScheduler clock fires the sweep each working-day
morning and at each opening instant; a catch-up sweep runs at start. The clock only decides
*when*; what a sweep does lives in flows.sweep."""

from __future__ import annotations

import logging
import signal
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger

from schedules.calendar import WorkingCalendar
from schedules.dates import local_date, local_instant, vn_datetime
from schedules.plan import Plan

log = logging.getLogger("cchc.engine")


class WorkingMorningsTrigger(BaseTrigger):
    """Fires at `at` (local wall time) on every working day, and at each of `extra` instants."""

    def __init__(
        self, calendar: WorkingCalendar, zone: ZoneInfo, at: time, extra: list[datetime] = ()
    ):
        self.calendar, self.zone, self.at = calendar, zone, at
        self.extra = sorted(extra)

    def get_next_fire_time(self, previous_fire_time, now):
        start = previous_fire_time + timedelta(microseconds=1) if previous_fire_time else now
        day = local_date(start, self.zone)
        while True:
            candidate = local_instant(day, self.at, self.zone)
            if candidate >= start and self.calendar.is_working_day(day):
                break
            day += timedelta(days=1)
        later = next((e for e in self.extra if e >= start), None)
        fire = min(candidate, later) if later else candidate
        return fire.astimezone(self.zone)

    def __str__(self) -> str:
        return f"working days at {self.at:%H:%M} ({self.zone.key})"


def opening_instants(plan: Plan, after: datetime) -> list[datetime]:
    today = local_date(after, plan.zone)
    days = {o.opens for o in plan.occurrences(today, plan.commune.plan_end, by="opens")}
    return sorted(local_instant(d, plan.commune.sweep_time, plan.zone) for d in days)


def make_trigger(plan: Plan, now: datetime) -> WorkingMorningsTrigger:
    return WorkingMorningsTrigger(
        plan.calendar, plan.zone, plan.commune.sweep_time, opening_instants(plan, now)
    )


def run_engine(plan: Plan, engine, settings) -> None:
    from flows.sweep import sweep

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    def sweep_now() -> None:
        report = sweep(plan, engine, datetime.now(UTC))
        log.info(
            "sweep: opened %d, advanced %d, queued %d",
            len(report.opened),
            len(report.advanced),
            report.queued,
        )

    scheduler = BlockingScheduler(timezone=plan.zone)
    now = datetime.now(UTC)
    trigger = make_trigger(plan, now)
    scheduler.add_job(
        sweep_now, trigger, id="sweep", coalesce=True, max_instances=1, misfire_grace_time=6 * 3600
    )

    def stop(signum, _frame):
        log.info("signal %s: stopping", signal.Signals(signum).name)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("catch-up sweep at start")
    sweep_now()
    upcoming, fire = [], None
    for _ in range(3):
        fire = trigger.get_next_fire_time(fire, now)
        upcoming.append(vn_datetime(fire))
    log.info("engine running on %s; next sweeps: %s", settings.database_url, ", ".join(upcoming))
    scheduler.start()
    log.info("engine stopped")
