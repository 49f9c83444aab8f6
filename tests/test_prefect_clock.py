"""The clock of `cchc run`: schedule texts from the plan, the RRULE trigger, and the real
APScheduler machinery driven over a compressed span (a virtual clock), checked against the dates
`cchc plan` prints. No Prefect here: each test runs in milliseconds."""

from __future__ import annotations

import json
import pickle
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import apscheduler.executors.base
import apscheduler.schedulers.base
import pytest
import yaml
from apscheduler.executors.debug import DebugExecutor
from apscheduler.schedulers.base import BaseScheduler
from click.testing import CliRunner
from dateutil.rrule import rrulestr
from support import remove_obligation

import flows.engine
from cchc.cli import main
from cchc.runtime.settings import Settings
from flows.engine import EngineState, configure, job_id, next_due, reload
from flows.trigger import RRuleTrigger
from schedules.city import City
from schedules.clock import (
    MAX_RULE_LENGTH,
    SWEEP,
    opening_schedule,
    plan_schedules,
    sweep_schedule,
    sweep_schedules,
)
from schedules.plan_loader import load_plan

VN = ZoneInfo("Asia/Ho_Chi_Minh")
MORNING = time(7, 30)
ESCALATING = time(14, 0)
"""The shipped config's `defaults.escalation_time`."""


def plan_rows(config_dir, first: str, last: str) -> list[dict]:
    """What `cchc plan --format json` prints, parsed."""
    result = CliRunner().invoke(
        main,
        ["--config", str(config_dir), "plan", "--from", first, "--to", last, "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def expected_openings(config_dir, plan, first: date, last: date) -> dict[str, set[datetime]]:
    """Per obligation, the opening instants (`opens` at the sweep time) that `cchc plan` gives
    for the occurrences the engine acts upon (due on or after the commune's start date)."""
    rows = plan_rows(
        config_dir, plan.commune.start.isoformat(), (last + timedelta(400)).isoformat()
    )
    found: dict[str, set[datetime]] = {}
    for row in rows:
        opens = date.fromisoformat(row["opens"])
        if first <= opens <= last:
            at = datetime.combine(opens, MORNING, tzinfo=VN)
            found.setdefault(row["obligation"], set()).add(at)
    return found


def test_opening_schedules_list_the_days_cchc_plan_gives(plan, config_dir):
    expected = expected_openings(config_dir, plan, date(2026, 1, 1), date(2031, 12, 31))
    schedules = {s.slug: s for s in plan_schedules(plan) if s.flow != SWEEP}
    assert set(schedules) == set(expected)
    lo, hi = datetime(2026, 1, 1, tzinfo=VN), datetime(2032, 1, 1, tzinfo=VN)
    for oid, schedule in schedules.items():
        assert schedule.flow == plan.obligations[oid].kind
        assert schedule.parameters == {"obligation": oid}
        assert schedule.timezone == "Asia/Ho_Chi_Minh"
        assert schedule.rule.startswith("DTSTART:")  # explicit: never the server's 2020 default
        assert len(schedule.rule) <= MAX_RULE_LENGTH
        assert set(schedule.instants(lo, hi)) == expected[oid], oid


def test_opening_days_move_with_holidays_not_with_the_anchor(plan):
    """The 2027 annual plan is due 25/12/2026; Q1 2027's report follows its data window: their
    opening days are working days counted back from the (shifted) due dates, which no anchor
    RRULE shifted by a constant would give."""
    rule = rrulestr(opening_schedule(plan, "bao-cao-cchc-dinh-ky").rule, forceset=True)
    days = [d.date() for d in rule]
    assert all(plan.calendar.is_working_day(d) for d in days)
    gaps = {(b - a).days for a, b in zip(days, days[1:], strict=False)}
    assert len(gaps) > 2  # not a fixed stride


def test_sweep_schedule_is_every_working_morning(plan):
    schedule = sweep_schedule(plan)
    assert schedule.slug == SWEEP and schedule.parameters == {}
    assert "UNTIL=" in schedule.rule and "Z" not in schedule.rule  # local wall time throughout
    first, last = date(2026, 12, 1), date(2030, 12, 31)
    fired = {
        d.date()
        for d in schedule.instants(
            datetime.combine(first, time(0), VN), datetime.combine(last, time(23, 59), VN)
        )
    }
    days = [first + timedelta(n) for n in range((last - first).days + 1)]
    assert fired == {d for d in days if plan.calendar.is_working_day(d)}
    assert date(2027, 2, 8) not in fired  # Tết 2027
    assert all(
        i.timetz() == MORNING.replace(tzinfo=VN)
        for i in schedule.instants(datetime(2027, 1, 1, tzinfo=VN), datetime(2027, 2, 1, tzinfo=VN))
    )


def test_escalations_get_a_second_sweep_each_working_day(plan):
    """`defaults.escalation_time: "14:00"`: the sweep runs again at 14:00 on the same working
    days (`sweep-1400`), and the escalation steps of an item fall at that hour, so the 07:30
    sweep reminds and the 14:00 one escalates."""
    morning, afternoon = sweep_schedules([plan])
    assert (morning.slug, afternoon.slug) == (SWEEP, "sweep-1400")
    assert afternoon.flow == SWEEP and afternoon.parameters == {}
    span = datetime(2027, 3, 1, tzinfo=VN), datetime(2027, 3, 31, 23, 59, tzinfo=VN)
    first, second = morning.instants(*span), afternoon.instants(*span)
    assert [i.date() for i in first] == [i.date() for i in second]
    assert {i.timetz() for i in second} == {ESCALATING.replace(tzinfo=VN)}
    steps = plan.timeline("bao-cao-cchc-dinh-ky", date(2027, 3, 16), span[0])
    at = {s.name: s.at for s in steps}
    assert at["escalation-1"] == datetime(2027, 3, 17, 14, 0, tzinfo=VN)
    assert at["reminder-2"] == datetime(2027, 3, 12, 7, 30, tzinfo=VN)
    assert at["due"] == datetime(2027, 3, 16, 7, 30, tzinfo=VN)


def test_an_escalation_time_not_after_the_sweep_is_refused(config_dir):
    from schedules.yamlsource import ConfigInvalid

    path = config_dir / "commune.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('escalation_time: "14:00"', 'escalation_time: "07:00"'))
    with pytest.raises(ConfigInvalid) as refused:
        load_plan(config_dir)
    [issue] = refused.value.issues
    assert "commune.yaml" in str(issue) and "not later than sweep_time 07:30" in str(issue)
    path.write_text(text.replace('escalation_time: "14:00"', "escalation_time: 1400"))
    with pytest.raises(ConfigInvalid, match="is not a time HH:MM"):
        load_plan(config_dir)
    path.write_text(text.replace('    escalation_time: "14:00"\n', ""))
    assert [s.slug for s in sweep_schedules([load_plan(config_dir)])] == [SWEEP]


def test_worked_saturday_from_the_calendar_is_in_the_sweep(config_dir):
    path = config_dir / "calendar.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    year = data["calendar"].setdefault(2027, {"days_off": [], "working_days": []})
    year.setdefault("working_days", []).append(date(2027, 2, 20))
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    plan = load_plan(config_dir)
    assert plan.calendar.is_working_day(date(2027, 2, 20))
    instants = sweep_schedule(plan).instants(
        datetime(2027, 2, 20, tzinfo=VN), datetime(2027, 2, 21, tzinfo=VN)
    )
    assert instants == [datetime(2027, 2, 20, 7, 30, tzinfo=VN)]


def test_trigger_keeps_plain_state_and_fires_in_local_time(plan):
    schedule = opening_schedule(plan, "bao-cao-cchc-dinh-ky")
    trigger = RRuleTrigger.of(schedule)
    assert set(trigger.__getstate__().values()) == {1, schedule.rule, schedule.timezone}
    copy = pickle.loads(pickle.dumps(trigger))
    assert copy == trigger
    now = datetime(2026, 11, 28, 20, 0, tzinfo=ZoneInfo("UTC"))
    first = copy.get_next_fire_time(None, now)
    assert first == schedule.instants(now, now + timedelta(days=400))[0]
    assert first.utcoffset() == timedelta(hours=7) and first.time() == MORNING
    second = copy.get_next_fire_time(first, first)
    assert second > first
    with pytest.raises(ValueError):
        RRuleTrigger("RRULE:FREQ=SOMETIMES", "Asia/Ho_Chi_Minh")


class _VirtualClock:
    def __init__(self, start: datetime):
        self.now = start


def _virtual_datetime(clock: _VirtualClock):
    class VirtualDatetime(datetime):
        @classmethod
        def now(cls, tz=None):
            return clock.now.astimezone(tz) if tz else clock.now.replace(tzinfo=None)

    return VirtualDatetime


class _SteppedScheduler(BaseScheduler):
    """APScheduler's own job processing, stepped by the test instead of a thread."""

    def wakeup(self):
        pass

    def shutdown(self, wait=True):
        super().shutdown(wait)


def drive(plan, start: datetime, end: datetime, monkeypatch, on_step=None):
    """Run the engine's jobs (`configure`) on a virtual clock from `start` to `end`; returns the
    (instant, flow, obligation) of each fire, in order."""
    clock = _VirtualClock(start)
    virtual = _virtual_datetime(clock)
    monkeypatch.setattr(apscheduler.schedulers.base, "datetime", virtual)
    monkeypatch.setattr(apscheduler.executors.base, "datetime", virtual)
    fired: list[tuple[datetime, str, str | None]] = []
    monkeypatch.setattr(
        flows.engine,
        "fire",
        lambda flow, obligation=None: fired.append((clock.now, flow, obligation)),
    )
    scheduler = _SteppedScheduler(timezone=plan.zone, executors={"default": DebugExecutor()})
    configure(scheduler, City.of(plan))
    scheduler.start()
    steps = 0
    while clock.now < end:
        wait = scheduler._process_jobs()
        if wait is None:
            break
        clock.now = min(clock.now + timedelta(seconds=wait), end)
        steps += 1
        if on_step is not None:
            on_step(scheduler, clock.now)
    scheduler.shutdown(wait=False)
    assert steps < 5000
    return fired


def test_clock_fires_at_cchc_plan_dates_over_a_compressed_span(plan, config_dir, monkeypatch):
    start = datetime(2026, 11, 28, 12, 0, tzinfo=VN)
    end = datetime(2028, 3, 31, 23, 59, tzinfo=VN)
    fired = drive(plan, start, end, monkeypatch)

    expected = expected_openings(config_dir, plan, start.date(), end.date())
    got: dict[str, set[datetime]] = {}
    for at, flow, obligation in fired:
        if flow != SWEEP:
            assert flow == plan.obligations[obligation].kind
            got.setdefault(obligation, set()).add(at)
    assert got == expected
    assert sum(len(v) for v in got.values()) == sum(1 for *_, f, _o in fired if f != SWEEP)

    sweeps = [at for at, flow, _ in fired if flow == SWEEP]
    days = [start.date() + timedelta(n) for n in range((end.date() - start.date()).days + 1)]
    working = [d for d in days if plan.calendar.is_working_day(d)]
    # Each working day: the morning's sweep, and the afternoon's that escalates.
    for at in (MORNING, ESCALATING):
        assert [s.date() for s in sweeps if s.timetz() == at.replace(tzinfo=VN)] == working
    assert len(sweeps) == 2 * len(working)

    # At an instant shared with the sweep the opening runs go first (their tables then list
    # the items they opened).
    first_opening = min(at for at, flow, _ in fired if flow != SWEEP)
    same = [flow for at, flow, _ in fired if at == first_opening]
    assert same[-1] == SWEEP and SWEEP not in same[:-1]


def test_reload_mid_span_drops_a_removed_obligation(plan, config_dir, monkeypatch):
    remove_obligation(config_dir, "ke-hoach-ra-soat-vbqppl-hang-nam")
    edited = City.of(load_plan(config_dir))
    switch = datetime(2027, 6, 1, tzinfo=VN)
    done = []

    def on_step(scheduler, now):
        if now >= switch and not done:
            done.append(configure(scheduler, edited))

    fired = drive(
        plan,
        datetime(2026, 11, 28, tzinfo=VN),
        datetime(2028, 12, 31, tzinfo=VN),
        monkeypatch,
        on_step,
    )
    assert done[0]["removed"] == ["open:ke-hoach-ra-soat-vbqppl-hang-nam"]
    fires = [at for at, _flow, ob in fired if ob == "ke-hoach-ra-soat-vbqppl-hang-nam"]
    assert fires and all(at < switch for at in fires)


def test_reload_refuses_an_invalid_config_and_keeps_the_running_one(plan, config_dir):
    city = City.of(plan)
    scheduler = _SteppedScheduler(timezone=plan.zone, executors={"default": DebugExecutor()})
    configure(scheduler, city)
    before = {j.id: j.trigger for j in scheduler.get_jobs()}
    state = EngineState(city, None, Settings(config_dir, config_dir.parent / "var", "sqlite://"))
    pinned = []
    state_pin = flows.engine._pin
    flows.engine._pin = lambda s: pinned.append(s.city)
    try:
        units = config_dir / "units.yaml"
        good = units.read_text(encoding="utf-8")
        units.write_text(good.replace("code: VP", "code: vp"), encoding="utf-8")
        assert reload(scheduler, state) is False
        assert state.city is city and not pinned
        assert {j.id: j.trigger for j in scheduler.get_jobs()} == before

        units.write_text(good, encoding="utf-8")
        remove_obligation(config_dir, "do-luong-su-hai-long")
        assert reload(scheduler, state) is True
        assert state.city is not city and pinned == [state.city]
        assert "open:do-luong-su-hai-long" not in {j.id for j in scheduler.get_jobs()}
        assert state.reloads == [False, True]
    finally:
        flows.engine._pin = state_pin


def test_a_refused_reload_and_a_missed_sweep_are_told_to_prefect(plan, config_dir, monkeypatch):
    """`cchc.config.refused` with the problems, `cchc.sweep.skipped` with the missed instant
    (an opening's missed fire is the next sweep's business); `cchc deploy`'s automations mail
    the admin on each. Before: a log line only, or nothing."""
    from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent

    told: list[dict] = []
    monkeypatch.setattr(flows.engine, "tell_prefect", told.append)
    monkeypatch.setattr(flows.engine, "_pin", lambda state: None)
    city = City.of(plan)
    scheduler = _SteppedScheduler(timezone=plan.zone, executors={"default": DebugExecutor()})
    configure(scheduler, city)
    state = EngineState(city, None, Settings(config_dir, config_dir.parent / "var", "sqlite://"))
    units = config_dir / "units.yaml"
    units.write_text(units.read_text(encoding="utf-8").replace("code: VP", "code: vp"), "utf-8")
    assert reload(scheduler, state) is False
    [refused] = told
    assert refused["event"] == "cchc.config.refused"
    assert refused["resource"]["cchc.city"] == plan.commune.code
    assert refused["payload"]["count"] >= 1
    assert all("units.yaml:" in p for p in refused["payload"]["problems"])

    listener = flows.engine.on_missed(state)
    missed = datetime(2027, 3, 2, 7, 30, tzinfo=VN)
    listener(JobExecutionEvent(EVENT_JOB_MISSED, "open:bao-cao-cchc-dinh-ky", "default", missed))
    assert len(told) == 1
    listener(JobExecutionEvent(EVENT_JOB_MISSED, job_id(sweep_schedule(plan)), "default", missed))
    skipped = told[-1]
    assert skipped["event"] == "cchc.sweep.skipped"
    assert skipped["payload"]["scheduled"] == missed.isoformat()


def test_job_ids_and_next_due(plan):
    city = City.of(plan)
    scheduler = _SteppedScheduler(timezone=plan.zone, executors={"default": DebugExecutor()})
    diff = configure(scheduler, city)
    assert SWEEP in diff["added"] and "open:bao-cao-cchc-dinh-ky" in diff["added"]
    assert configure(scheduler, city) == {"added": [], "changed": [], "removed": []}
    assert job_id(sweep_schedule(plan)) == SWEEP
    upcoming = next_due(scheduler, datetime(2026, 11, 28, 21, 0, tzinfo=ZoneInfo("UTC")), 5)
    assert upcoming[0] == (datetime(2026, 11, 30, 7, 30, tzinfo=VN), SWEEP)  # Monday
    assert [at for at, _ in upcoming] == sorted(at for at, _ in upcoming)
