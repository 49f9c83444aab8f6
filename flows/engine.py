"""`cchc run`: the embedded engine on one machine.

An APScheduler clock fires, as Prefect flow runs recorded in the server that PREFECT_API_URL
names (`make run` starts one on 127.0.0.1:4200), each obligation's opening flow at its opening
instants and the sweep each working-day morning, for every commune of the config (a single
commune, or a city's). *When* lives in schedules.clock (one `ClockSchedule` per job, read by an
`RRuleTrigger`; the jobs follow the obligations and sweep times, not the communes); *what* lives
in flows.prefect_flows over the core. A catch-up sweep runs at start. SIGHUP (or `cchc reload`)
re-reads the config: an invalid config is refused and the running one stays. SIGTERM / SIGINT
stop after the current run. A refused reload and a sweep the clock missed are events in Prefect
(`cchc.config.refused`, `cchc.sweep.skipped`), which `cchc deploy`'s automations tell the admin.

Prefect is imported only when the engine starts, never when this module is imported.
"""

from __future__ import annotations

import logging
import signal
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine

from cchc.runtime.control import holding_pid_file
from cchc.runtime.settings import Settings
from flows.trigger import RRuleTrigger
from models.blobs import remove_stale_temp
from notifications.city_pages import city_count
from notifications.event_payloads import config_refused_event, sweep_skipped_event
from notifications.template_sets import TemplatesInvalid, adopt, checked_templates
from schedules.city import City
from schedules.clock import SWEEP, ClockSchedule, city_schedules
from schedules.dates import vn_datetime
from schedules.vocabulary import ObligationKind
from schedules.yamlsource import ConfigInvalid
from usecases.errors import UserError
from usecases.quarantine import load_serving_city, remember_applied
from usecases.served import WrongDatabase, check_served

log = logging.getLogger("cchc.engine")

MISFIRE_GRACE = 6 * 3600
"""A fire missed by less than this (machine asleep, a long run before it) still runs once."""


@dataclass
class EngineState:
    city: City
    db: Engine
    settings: Settings
    stop: bool = False
    reload: bool = False
    reloads: list[bool] = field(default_factory=list)
    """Outcome of each reload (True: applied, False: refused)."""


def job_id(schedule: ClockSchedule) -> str:
    """Openings sort before the sweep, so at a shared instant the opening runs go first and
    their tables show the items they opened (the sweep would open them too: level-triggered)."""
    return schedule.slug if schedule.flow == SWEEP else f"open:{schedule.slug}"


def fire(flow: str, obligation: str | None = None, at: datetime | None = None) -> None:
    """What every clock job calls (importable, plain arguments): one Prefect flow run as of `at`
    (default: now), tagged like the deployments' runs (`scope_tags`). A failed run is recorded
    as Failed in Prefect and logged here; the clock goes on."""
    from prefect import tags

    from flows import prefect_flows

    now = at or datetime.now(UTC)
    try:
        with tags(*prefect_flows.scope_tags(prefect_flows.runtime().city)):
            if flow == SWEEP:
                prefect_flows.sweep_flow(at=now)
            else:
                prefect_flows.opening_flow(ObligationKind(flow))(obligation=obligation, at=now)
    except Exception as exc:  # noqa: BLE001  (the run's state says the rest)
        log.error("%s %s failed: %s", flow, obligation or "", exc)


def configure(scheduler: BaseScheduler, city: City) -> dict[str, list[str]]:
    """Make the scheduler's jobs the communes' schedules: add new ones, replace changed ones,
    remove those no longer wanted. Returns the job ids by change."""
    wanted = {job_id(s): s for s in city_schedules(city.select(None))}
    current = {job.id: job for job in scheduler.get_jobs()}
    diff: dict[str, list[str]] = {"added": [], "changed": [], "removed": []}
    for jid, schedule in wanted.items():
        trigger = RRuleTrigger.of(schedule)
        args = (schedule.flow, schedule.parameters.get("obligation"))
        job = current.get(jid)
        if job is not None and job.trigger == trigger and tuple(job.args) == args:
            continue
        scheduler.add_job(
            "flows.engine:fire",
            trigger,
            args=args,
            id=jid,
            name=f"{schedule.flow} {schedule.slug}",
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=MISFIRE_GRACE,
        )
        diff["changed" if job is not None else "added"].append(jid)
    for jid in sorted(current.keys() - wanted.keys()):
        scheduler.remove_job(jid)
        diff["removed"].append(jid)
    return diff


def next_due(scheduler: BaseScheduler, now: datetime, count: int = 8) -> list[tuple[datetime, str]]:
    """The next `count` fire instants over all jobs, with their job ids."""
    found: list[tuple[datetime, str]] = []
    for job in scheduler.get_jobs():
        fire_at = None
        for _ in range(count):
            fire_at = job.trigger.get_next_fire_time(fire_at, now)
            if fire_at is None:
                break
            found.append((fire_at, job.id))
    return sorted(found)[:count]


def describe_next(city: City, upcoming: list[tuple[datetime, str]]) -> list[str]:
    zone = city.zone
    lines = []
    for fire_at, jid in upcoming:
        if not jid.startswith("open:"):
            lines.append(f"  {vn_datetime(fire_at, zone)}  sweep (rà soát)")
            continue
        what = jid.removeprefix("open:")
        periods, communes = _periods_opening(city, what, fire_at)
        what += f" · {', '.join(periods)}" if periods else ""
        what += f" · {city_count(city, communes)}" if city.is_city else ""
        lines.append(f"  {vn_datetime(fire_at, zone)}  {what}")
    return lines


def _periods_opening(city: City, obligation: str, fire_at: datetime) -> tuple[list[str], list[str]]:
    """The periods of `obligation` opening on `fire_at`'s day, and the communes they open in."""
    day = fire_at.astimezone(city.zone).date()
    periods: list[str] = []
    communes: list[str] = []
    for plan in city.select(None):
        found = plan.acted_on(day, day, obligation=obligation, by="opens")
        if found:
            communes.append(plan.commune.code)
        periods += [o.period.key for o in found]
    return list(dict.fromkeys(periods)), communes


def reload(scheduler: BaseScheduler, state: EngineState) -> bool:
    """Re-read the config, its mail templates with it (`cchc check`'s check). Invalid: log
    why (FILE:LINE: message), tell Prefect (`cchc.config.refused`), keep the running communes
    and templates. Valid: swap them in and update the jobs."""
    now = datetime.now(UTC)
    try:
        # A broken commune is quarantined (`schedules.quarantine`): the others take the edit.
        city = load_serving_city(state.settings.config_dir, state.db, state.settings.config_cache)
        sender = state.settings.smtp.sender
        checked = checked_templates(city.select(None), sender, now)
        if state.db is not None:  # a commune added: recorded in the database's stamp too
            check_served(state.db, city, now, record=True)
    except WrongDatabase as exc:  # the config now names another city
        log.error("config refused: %s", exc)
        state.reloads.append(False)
        return False
    except (ConfigInvalid, TemplatesInvalid) as exc:
        problems = exc.issues if isinstance(exc, ConfigInvalid) else exc.problems
        for problem in problems:
            log.error("%s", problem)
        log.error(
            "config refused: %d error(s); still running the previous config and mail templates "
            "(cấu hình không hợp lệ, giữ cấu hình đang chạy)",
            len(problems),
        )
        tell_prefect(config_refused_event(state.city, [str(p) for p in problems], now))
        state.reloads.append(False)
        return False
    adopt(checked)
    for quarantined in city.quarantined:
        log.warning("%s", " ".join(quarantined.lines()))
    if state.db is not None:  # the config applied: the last valid one from now on
        remember_applied(state.db, city, now)
    diff = configure(scheduler, city)
    state.city = city
    _pin(state)
    log.info(
        "config reloaded: added %s, changed %s, removed %s",
        diff["added"] or "-",
        diff["changed"] or "-",
        diff["removed"] or "-",
    )
    state.reloads.append(True)
    return True


def _pin(state: EngineState) -> None:
    from flows import prefect_flows

    prefect_flows.use_runtime(state.city, state.db, state.settings)


def prefect_location() -> tuple[str | None, str | None]:
    """(API URL, UI URL) of the configured Prefect server; (None, None) when none is set."""
    from flows.runtime_state import prefect_location as configured

    return configured()


def tell_prefect(event: dict) -> None:
    """Emit an event about the engine itself (not a run's) when a Prefect server is configured
    (a temporary one would lose it); a failure is logged, never stops the engine."""
    if prefect_location()[0] is None:
        return
    try:
        from prefect.events import emit_event

        emit_event(**event)
    except Exception as exc:  # noqa: BLE001  (an alert must not stop the clock)
        log.warning("Prefect not told %s: %r", event.get("event"), exc)


def on_missed(state: EngineState):
    """The scheduler's listener for a missed fire (past `MISFIRE_GRACE`: the machine asleep,
    the engine busy): a sweep that will not run is logged and told to Prefect."""

    def listener(event: JobExecutionEvent) -> None:
        if event.job_id.startswith("open:"):  # the next sweep opens what it would have
            return
        when = vn_datetime(event.scheduled_run_time, state.city.zone)
        log.error("the sweep of %s was missed (bỏ lỡ lần rà soát): the next one catches up", when)
        tell_prefect(sweep_skipped_event(state.city, event.scheduled_run_time, datetime.now(UTC)))

    return listener


def run_engine(city: City, engine: Engine, settings: Settings) -> None:
    """Run the communes of `city` until SIGTERM / SIGINT.

    1. refuse to start when another engine runs on the same data folder; hold the pid file
       (locked while the engine runs);
    2. pin the communes for the flows, add one job per schedule, say where the UI is and what
       is due next;
    3. catch-up sweep (downtime is harmless: the sweep is level-triggered);
    4. start the clock; on SIGHUP reload, on SIGTERM / SIGINT stop after the current run.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    for noisy in ("httpx", "apscheduler"):  # one line per HTTP request / job added
        logging.getLogger(noisy).setLevel(logging.WARNING)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:  # the templates are part of the config: checked, and in use from now on
        adopt(checked_templates(city.select(None), settings.smtp.sender, datetime.now(UTC)))
    except TemplatesInvalid as exc:
        raise UserError(exc.lines()) from None
    with holding_pid_file(settings):  # refuses while another engine runs on the folder
        remove_stale_temp(settings.data_dir)  # left by a process killed while writing (logged)
        _run(EngineState(city, engine, settings))


def _run(state: EngineState) -> None:
    api, ui = prefect_location()
    if api:
        log.info("Prefect UI: %s (API %s)", ui, api)
    else:
        log.warning(
            "no Prefect server configured (PREFECT_API_URL): runs go to a temporary server and "
            "are lost at exit; `make run` starts a local one on 127.0.0.1:4200"
        )
    _pin(state)
    scheduler = BackgroundScheduler(
        timezone=state.city.zone,
        # One run at a time: the runs share one database, and at a shared instant the openings
        # (sorted first) run before the sweep.
        executors={"default": ThreadPoolExecutor(max_workers=1)},
    )
    configure(scheduler, state.city)
    scheduler.add_listener(on_missed(state), EVENT_JOB_MISSED)

    def on_signal(signum, _frame):
        if signum == signal.SIGHUP:
            state.reload = True
        else:
            state.stop = True

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    log.info(
        "engine on %s, config %s; next due:\n%s",
        state.settings.database_url,
        Path(state.settings.config_dir).resolve(),
        "\n".join(describe_next(state.city, next_due(scheduler, datetime.now(UTC)))),
    )
    catch_up(scheduler, state.city)
    log.info("engine running (SIGHUP or `cchc reload`: re-read the config; SIGTERM: stop)")
    while not state.stop:
        time.sleep(0.25)
        if state.reload:
            state.reload = False
            if reload(scheduler, state):
                upcoming = next_due(scheduler, datetime.now(UTC))
                log.info("next due:\n%s", "\n".join(describe_next(state.city, upcoming)))
    log.info("stopping: waiting for the current run")
    scheduler.shutdown(wait=True)
    log.info("engine stopped")


def catch_up(scheduler: BaseScheduler, city: City) -> None:
    """The catch-up sweep, then the clock. Each job's first instant is its first one after the
    instant the catch-up acted as of, not after the catch-up ended: an instant that passed
    while it ran (started at 07:29:40, the 07:30 sweep) is not lost but runs as soon as the
    clock starts, and the log says so."""
    log.info("catch-up sweep at start")
    at = datetime.now(UTC)
    fire(SWEEP, at=at)
    now = datetime.now(UTC)
    for job in scheduler.get_jobs():
        first = job.trigger.get_next_fire_time(at, at)  # strictly after `at`
        if first is None:
            continue
        scheduler.modify_job(job.id, next_run_time=first)
        if first <= now:
            log.warning(
                "%s of %s passed during the catch-up sweep: it runs now",
                "the sweep" if job.id == SWEEP else job.id,
                vn_datetime(first, city.zone),
            )
    scheduler.start()
