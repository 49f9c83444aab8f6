"""cchc for a whole city on the Prefect and engine side (issue 13): the schedules, the engine's
jobs and the deployments follow the obligations, not the communes; one sweep run serves every
commune by its own calendar; runs about one commune carry it; the self-monitoring automations
fire (under `prefect_test_harness`: a real temporary Prefect server; a real SQLite file).

The 3-commune city: xa002 has the city's calendar plus its own days off, 2027-03-15 (from
city_support) and, here, 2027-03-02: its 2027-Q1 periodic report is due 17/03/2027 (16/03 in
the others) and opens on 01/03/2027 (02/03 in the others).
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from city_support import make_city
from sqlalchemy import select
from support import (
    automation_triggered,
    latest_artifact,
    prefect_call,
    runtime_env,
    wait_automation_triggered,
)

from cchc.runtime.settings import Settings
from flows import artifacts
from flows.deploy import deploy
from flows.deploy_automations import automation_names, automations
from flows.deploy_plan import wanted
from flows.engine import configure
from models.db import ensure_schema, make_engine, transaction
from models.tables import WorkItem
from notifications import city_pages, sweep_summary
from schedules.city import City
from schedules.clock import SWEEP, city_schedules, openings_schedule, sweep_schedules
from schedules.dates import parse_instant

pytestmark = pytest.mark.prefect  # every test here but the clock's starts the harness

REPORT = "bao-cao-cchc-dinh-ky"
XA002_OPENS = parse_instant("2027-03-01T07:30")
OTHERS_OPEN = parse_instant("2027-03-02T07:30")


@pytest.fixture(scope="module")
def city3(tmp_path_factory) -> City:
    return make_city(tmp_path_factory.mktemp("city3"), 3)


@pytest.fixture(scope="module")
def city30(tmp_path_factory) -> City:
    return make_city(tmp_path_factory.mktemp("city30"), 30)


# ----- the clock: no Prefect -------------------------------------------------------------------


def test_schedules_and_engine_jobs_do_not_grow_with_communes(city3, city30):
    three, thirty = city_schedules(city3.select(None)), city_schedules(city30.select(None))
    assert [s.slug for s in three] == [s.slug for s in thirty]
    # The morning's sweep and the escalations' at 14:00, then one schedule per opening.
    assert [s.slug for s in three[:2]] == [SWEEP, "sweep-1400"]
    assert len(three) == 2 + sum(1 for s in three if s.flow != SWEEP)
    jobs = []
    for city in (city3, city30):
        scheduler = BackgroundScheduler(timezone="Asia/Ho_Chi_Minh")  # never started
        configure(scheduler, city)
        jobs.append(sorted(job.id for job in scheduler.get_jobs()))
    assert jobs[0] == jobs[1] and len(jobs[0]) == len(three)


def test_each_communes_calendar_reaches_the_shared_schedules(city3):
    plans = city3.select(None)
    opening = openings_schedule(plans, REPORT)
    instants = set(opening.instants(XA002_OPENS - timedelta(days=1), OTHERS_OPEN))
    assert instants == {XA002_OPENS, OTHERS_OPEN}  # xa002's own day, then the others'
    sweep, escalating = sweep_schedules(plans)  # 07:30, and 14:00 for the escalations
    assert escalating.slug == "sweep-1400"
    days = {
        i.date()
        for i in sweep.instants(parse_instant("2027-03-01T00:00"), parse_instant("2027-03-16"))
    }
    # 02/03 and 15/03 are working days in xa001: the city's sweep runs (xa002's items have no
    # step on its days off, so the sweep does nothing for it then).
    assert {date(2027, 3, 2), date(2027, 3, 15)} <= days


def test_the_office_of_the_city_is_served_too(city3):
    """The city office's own reports (city.yaml `reports`) open and are swept like a commune's."""
    assert city3.office is not None
    slugs = {s.slug for s in city_schedules(city3.select(None))}
    assert set(city3.office.schedules) <= slugs


# ----- Prefect: runs -------------------------------------------------------------------------


@pytest.fixture
def pf(harness):
    from flows import prefect_flows

    yield prefect_flows
    prefect_flows.release_runtime()


@pytest.fixture
def rt(pf, city3, sqlite_url, tmp_path, monkeypatch):
    runtime_env(monkeypatch, tmp_path / "data", sqlite_url)
    engine = make_engine(sqlite_url)
    ensure_schema(engine)
    runtime = pf.use_runtime(city3, engine, Settings.from_env(str(city3.folder)))
    yield runtime
    engine.dispose()


def run_of(state):
    return prefect_call(lambda c: c.read_flow_run(state.state_details.flow_run_id))


def task_names(state, expected: int, timeout: float = 15.0) -> list[str]:
    """Task runs recorded for a flow run (recorded from events: poll)."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    run_id = state.state_details.flow_run_id
    deadline = time.monotonic() + timeout
    while True:
        runs = prefect_call(
            lambda c: c.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
            )
        )
        if len(runs) >= expected or time.monotonic() > deadline:
            return sorted(r.name.rsplit("-", 1)[0] for r in runs)
        time.sleep(0.3)


def report_items(engine) -> dict[str, WorkItem]:
    """The 2027-Q1 periodic report of unit VP, by commune."""
    with transaction(engine) as session:
        query = select(WorkItem).where(
            WorkItem.obligation == REPORT, WorkItem.period == "2027-Q1", WorkItem.unit == "VP"
        )
        return {i.commune: i for i in session.exec(query).scalars()}


def test_one_sweep_run_serves_every_commune_by_its_own_calendar(pf, rt, city3):
    first = pf.sweep_flow(at=XA002_OPENS, return_state=True)
    assert first.is_completed(), first.message
    assert set(report_items(rt.engine)) == {"xa002"}  # only its opening day has come
    state = pf.sweep_flow(at=OTHERS_OPEN, return_state=True)
    assert state.is_completed(), state.message
    assert run_of(state).name == "sweep · 2027-03-02 07:30"
    items = report_items(rt.engine)
    assert set(items) == {"xa001", "xa002", "xa003"}
    assert items["xa002"].due == date(2027, 3, 17) and items["xa002"].opens_on == date(2027, 3, 1)
    assert items["xa001"].due == items["xa003"].due == date(2027, 3, 16)

    # The same few task runs however many communes: the league is the city's one more.
    expected = ["advance", "deliver", "open-due", "publish-league", "publish-status"]
    assert task_names(state, len(expected)) == expected

    # Each commune's pages keep their keys; the city has its own.
    for code in city3.plans:
        rows = latest_artifact(f"cchc-{code}-open-items").data
        assert str(items[code].id) in rows
        assert f"xã {code.upper()}" in latest_artifact(f"cchc-{code}-sweep-summary").data
    summary = latest_artifact(sweep_summary.city_summary_key(city3)).data
    assert "Thành phố Hải Phòng — 3 xã" in summary and "## Theo xã" in summary
    assert all(code in summary for code in city3.plans)  # Markdown-escaped: \\(xa001\\)
    assert "thư đã gửi" in summary  # one delivery run for the city, on the city's page
    assert "thư đã gửi" not in latest_artifact("cchc-xa001-sweep-summary").data
    latest_artifact("cchc-haiphong-league")


def test_opening_runs_open_each_commune_on_its_own_day(pf, rt, city3):
    early = pf.open_periodic_report(obligation=REPORT, at=XA002_OPENS, return_state=True)
    assert early.is_completed(), early.message
    assert early.result()["communes"] == ["xa002"]
    assert run_of(early).name == f"{REPORT} · 2027-Q1 · 1 xã"
    state = pf.open_periodic_report(obligation=REPORT, at=OTHERS_OPEN, return_state=True)
    result = state.result()
    assert result["communes"] == ["xa001", "xa003"] and result["periods"] == ["2027-Q1"]
    assert set(report_items(rt.engine)) == {"xa001", "xa002", "xa003"}
    opened = latest_artifact(f"cchc-xa003-opened-{REPORT}")
    assert "2027-Q1" in opened.data and "16/03/2027" in opened.data
    city_rows = latest_artifact(city_pages.city_opened_key(city3, REPORT)).data
    assert "xa001" in city_rows and "xa003" in city_rows and "xa002" not in city_rows


SWEEP_TAGS = ("cchc", "city:haiphong")
"""The tags of the city's sweep runs (its deployments', the engine's `scope_tags`)."""


def test_runs_about_one_commune_carry_it(pf, rt, city3, tmp_path, monkeypatch):
    from prefect.settings import PREFECT_API_URL

    from flows.status import item_changed
    from usecases.errors import UserError

    refused = pf.open_ad_hoc_flow(
        obligation="nhiem-vu-dot-xuat", unit="KT", due=date(2027, 3, 20), at=OTHERS_OPEN,
        return_state=True,
    )  # fmt: skip
    assert refused.is_failed()
    with pytest.raises(UserError, match="give the commune"):
        refused.result()
    state = pf.open_ad_hoc_flow(
        obligation="nhiem-vu-dot-xuat", unit="KT", due=date(2027, 3, 20), at=OTHERS_OPEN,
        commune="xa003", return_state=True,
    )  # fmt: skip
    item_id = state.result()["item"]
    run = run_of(state)
    assert run.name == "xa003 · nhiem-vu-dot-xuat · KT · 2027-03-20"
    assert set(SWEEP_TAGS) | {"commune:xa003", "unit:KT"} <= set(run.tags)

    report = tmp_path / "bao-cao.pdf"
    report.write_bytes(b"%PDF-1.4 bao cao")
    closed = pf.close_flow(
        item_id, str(report), at=parse_instant("2027-03-05T09:15"), return_state=True
    )
    assert closed.result().closed_item
    run = run_of(closed)
    assert run.name == f"xa003 · close · #{item_id} · 2027-03-05 09:15"
    assert set(SWEEP_TAGS) | {"commune:xa003", "unit:KT"} <= set(run.tags)

    # From the intake or the command line (flows.status), told which city the process serves.
    monkeypatch.setenv("PREFECT_API_URL", PREFECT_API_URL.value())
    pf.release_runtime()
    plan = city3.plan_of("xa003")
    at = parse_instant("2027-03-06T08:00")
    assert item_changed(plan, rt.engine, rt.settings, "accepted", [item_id], at, city=city3)
    runs = prefect_call(lambda c: c.read_flow_runs(limit=200))
    [changed] = [r for r in runs if r.name == f"xa003 · chấp nhận · #{item_id} · 2027-03-06 08:00"]
    # the tags of the city's sweep runs, though the intake and the command line start it bare
    assert set(SWEEP_TAGS) | {"commune:xa003", "unit:KT"} <= set(changed.tags)


def versions(key: str) -> int:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    return len(
        prefect_call(
            lambda c: c.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
            )
        )
    )


def test_a_city_sweep_rewrites_only_the_pages_that_changed(pf, rt, city3):
    """The league and each commune's tables are rewritten when their items changed or the day
    did: a change in one commune rewrites its tables and the league, not the others'."""
    from usecases.lifecycle import waive

    keys = [f"cchc-{code}-open-items" for code in city3.plans] + ["cchc-haiphong-league"]
    pf.sweep_flow(at=OTHERS_OPEN)
    before = {key: versions(key) for key in keys}
    assert all(before.values())
    again = pf.sweep_flow(at=OTHERS_OPEN + timedelta(hours=8))
    assert (again["opened"], again["advanced"]) == (0, 0)
    assert {key: versions(key) for key in keys} == before

    item = report_items(rt.engine)["xa002"]
    waive(city3.plan_of("xa002"), rt.engine, item.id, "Không phát sinh", OTHERS_OPEN)
    pf.sweep_flow(at=OTHERS_OPEN + timedelta(hours=9))
    after = {key: versions(key) for key in keys}
    assert {key: after[key] - before[key] for key in keys} == {
        "cchc-xa001-open-items": 0,
        "cchc-xa002-open-items": 1,
        "cchc-xa003-open-items": 0,
        "cchc-haiphong-league": 1,
    }
    assert str(item.id) not in latest_artifact("cchc-xa002-open-items").data

    pf.sweep_flow(at=OTHERS_OPEN + timedelta(days=1))  # a new day: every page once
    assert {key: versions(key) - after[key] for key in keys} == {key: 1 for key in keys}


# ----- Prefect: deployments and automations ---------------------------------------------------


def _settings(city: City) -> Settings:
    return Settings.from_env(str(city.folder))


def _deployments(tag: str) -> dict:
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags

    found = prefect_call(
        lambda c: c.read_deployments(
            deployment_filter=DeploymentFilter(tags=DeploymentFilterTags(all_=[tag]))
        )
    )
    return {d.name: d for d in found}


def test_deployments_do_not_grow_with_communes(harness, city3, city30, tmp_path):
    names = [s.name for s in wanted(city3, _settings(city3), tmp_path)]
    assert names == [s.name for s in wanted(city30, _settings(city30), tmp_path)]
    three = deploy(city3, _settings(city3), dry_run=True, working_dir=tmp_path)
    thirty = deploy(city30, _settings(city30), dry_run=True, working_dir=tmp_path)
    assert three.added == thirty.added == names
    assert _deployments("city:haiphong") == {}  # a dry run writes nothing

    done = deploy(city30, _settings(city30), working_dir=tmp_path)
    assert len(done.added) == len(names)
    assert sorted(_deployments("city:haiphong")) == sorted(names)
    sweep = _deployments("city:haiphong")["haiphong-sweep"]
    # The morning's sweep and the afternoon's that escalates (`escalation_time: "14:00"`).
    assert [s.schedule.timezone for s in sweep.schedules] == ["Asia/Ho_Chi_Minh"] * 2
    assert {name for name, how in done.automations if how == "+"} == set(automation_names(city30))

    again = deploy(city30, _settings(city30), working_dir=tmp_path)
    assert "0 added, 0 changed, 0 removed" in again.lines()[-1]
    assert [how for _, how in again.automations] == ["="] * len(automation_names(city30))
    assert not any("automation" in line for line in again.lines())


def test_the_automations_watch_the_sweep_and_the_mail(harness, city3, tmp_path, monkeypatch):
    from prefect.automations import Posture
    from prefect.blocks.notifications import SlackWebhook

    city = make_city(tmp_path / "hpm", 1, code="hpm")
    deploy(city, _settings(city), working_dir=tmp_path)
    names = automation_names(city)
    [sweep] = prefect_call(lambda c: c.read_automations_by_name(names.sweep_missing))
    assert sweep.trigger.posture == Posture.Proactive
    assert sweep.trigger.within == timedelta(minutes=45)
    assert sweep.trigger.expect == {"cchc.sweep.completed"}
    assert sweep.trigger.after == {"prefect.flow-run.Pending", "prefect.flow-run.Late"}
    assert [a.type for a in sweep.actions] == ["do-nothing"]  # no block configured
    [mail] = prefect_call(lambda c: c.read_automations_by_name(names.mail_failed))
    assert mail.trigger.expect == {"cchc.mail.failed"} and mail.enabled
    # Mail stuck a day, a sweep the engine's clock missed, a config refused at reload: each
    # tells the admin too (before: only "sweep missing" and "mail failed" existed).
    for name, event in [
        (names.mail_stuck, "cchc.mail.stuck"),
        (names.sweep_skipped, "cchc.sweep.skipped"),
        (names.config_refused, "cchc.config.refused"),
    ]:
        [found] = prefect_call(lambda c, n=name: c.read_automations_by_name(n))
        assert found.trigger.expect == {event} and found.enabled
        assert found.trigger.posture == Posture.Reactive
        assert found.trigger.match.model_dump() == {"cchc.city": "hpm"}

    # With a notification block (made in the UI; here by code), a deploy updates them all.
    SlackWebhook(url="https://hooks.example.invalid/cchc").save("cchc-hpm", overwrite=True)
    monkeypatch.setenv("CCHC_ALERT_BLOCK", "slack-webhook/cchc-hpm")
    changed = deploy(city, _settings(city), working_dir=tmp_path)
    assert [how for _, how in changed.automations] == ["~"] * len(names)
    for name in names:
        [found] = prefect_call(lambda c, n=name: c.read_automations_by_name(n))
        assert [a.type for a in found.actions] == ["send-notification"]
    assert len(prefect_call(lambda c: c.read_automations_by_name(names.sweep_missing))) == 1
    monkeypatch.setenv("CCHC_ALERT_BLOCK", "slack-webhook/missing")
    from usecases.errors import UserError

    with pytest.raises(UserError, match="no such Prefect block"):
        deploy(city, _settings(city), working_dir=tmp_path)


def test_the_automations_fire(pf, tmp_path, sqlite_url, monkeypatch):
    """End to end on the harness's server, with a short window (20 s for 45 min): a sweep run
    that started and never ended fires "sweep missing", one that ended well does not; a
    `cchc.mail.failed` of the city fires "mail failed"."""
    from prefect import tags
    from prefect.client.schemas.objects import StateType
    from prefect.settings import PREFECT_API_URL
    from prefect.states import Pending

    from flows.engine import tell_prefect
    from notifications.event_payloads import config_refused_event

    since = datetime.now(UTC)
    ok_city = make_city(tmp_path / "ok", 1, code="hpok")
    stuck_city = make_city(tmp_path / "stuck", 1, code="hpstuck")
    grace = timedelta(seconds=20)
    ids = {}
    for city in (ok_city, stuck_city):
        for automation in automations(city, grace=grace):
            ids[automation.name] = prefect_call(lambda c, a=automation: c.create_automation(a))

    # A run a worker took and lost: Pending, never completed.
    prefect_call(
        lambda c: c.create_flow_run(
            pf.sweep_flow, tags=list(pf.scope_tags(stuck_city)), state=Pending()
        )
    )
    # A sweep that ends well, as the engine runs it (tagged like the deployments' runs).
    monkeypatch.setenv("CCHC_DATA_DIR", str(tmp_path / "data"))
    engine = make_engine(sqlite_url)
    ensure_schema(engine)
    pf.use_runtime(ok_city, engine, Settings.from_env(str(ok_city.folder)))
    with tags(*pf.scope_tags(ok_city)):
        state = pf.sweep_flow(at=parse_instant("2026-11-02T07:30"), return_state=True)
    assert state.type == StateType.COMPLETED, state.message
    assert "city:hpok" in run_of(state).tags  # so its start opened a window, as the stuck one's
    plan = ok_city.plan_of("xa001")
    artifacts.emit_mail_failed(plan, [(1, "vp@xa001.example", "550 no such user")], since, "hpok")
    # The engine refused a reload (it tells the server PREFECT_API_URL names: the harness's).
    monkeypatch.setenv("PREFECT_API_URL", PREFECT_API_URL.value())
    problem = "communes/xa001/templates/reminder.txt.j2:3: unexpected end of template"
    tell_prefect(config_refused_event(ok_city, [problem], since))

    stuck_sweep, *_ = automation_names(stuck_city)
    ok = automation_names(ok_city)
    ok_sweep, ok_mail = ok.sweep_missing, ok.mail_failed
    assert wait_automation_triggered(ids[ok_mail], since, 30), "mail failed did not fire"
    assert wait_automation_triggered(ids[ok.config_refused], since, 30), (
        "config refused did not fire"
    )
    assert automation_triggered(ids[ok.mail_stuck], since) == []
    assert wait_automation_triggered(ids[stuck_sweep], since, 60), "sweep missing did not fire"
    # The ok sweep's window has ended too (proactive triggers are evaluated every 5 s): its
    # `cchc.sweep.completed` arrived in it.
    time.sleep(
        max(0.0, (since + grace + timedelta(seconds=12) - datetime.now(UTC)).total_seconds())
    )
    assert automation_triggered(ids[ok_sweep], since) == []
    engine.dispose()
