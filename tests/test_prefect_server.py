"""The real parts, end to end (slow: about a minute in all). One `prefect server` on PostgreSQL
(a fresh database, 127.0.0.1:5432) serves the module:

- `cchc deploy` registers the deployments, their next instants match `cchc plan`, a second deploy
  changes nothing, an obligation removed from the config is paused;
- a `prefect worker` runs an opening run and a sweep from those deployments to Completed;
- `cchc run` (the embedded engine) records its catch-up sweep there, refuses an invalid config on
  reload, applies a valid one, stops on SIGTERM;
- headless Chromium (Debian's package, driven by Playwright) finds the sweep's artifact in the UI.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import PG_ADMIN_URL, _pg_reachable
from support import CHROMIUM, launch_chromium, remove_obligation

from notifications.status_pages import open_items_key
from notifications.sweep_summary import sweep_summary_key
from schedules.plan_loader import load_plan

pytestmark = [pytest.mark.slow, pytest.mark.prefect, pytest.mark.postgres]

BIN = Path(sys.executable).parent
VN = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass
class Server:
    url: str
    log: Path
    home: Path

    @property
    def api(self) -> str:
        return f"{self.url}/api"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(api: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api}/health", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def _stop(proc: subprocess.Popen, timeout: float = 20) -> None:
    """Stop a process this module started, with the children it started (its own session)."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    reason = _pg_reachable()
    if reason:
        pytest.skip(reason)
    import psycopg

    name = f"cchc_prefect_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.split("://", 1)[1].rsplit("/", 1)[0]
    port = _free_port()
    home = tmp_path_factory.mktemp("prefect-home")
    url = f"http://127.0.0.1:{port}"
    env = dict(
        os.environ,
        PREFECT_HOME=str(home),
        PREFECT_SERVER_DATABASE_CONNECTION_URL=f"postgresql+asyncpg://{base}/{name}",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_UI_API_URL=f"{url}/api",
    )
    env.pop("PREFECT_API_URL", None)
    log = home / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        started = time.monotonic()
        while not _healthy(f"{url}/api"):
            if proc.poll() is not None or time.monotonic() - started > 120:
                pytest.fail(f"prefect server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        print(f"prefect server on PostgreSQL up in {time.monotonic() - started:.1f} s")
        yield Server(url, log, home)
    finally:
        _stop(proc)
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def cli_env(server: Server, config_dir: Path, tmp_path: Path, **extra) -> dict[str, str]:
    env = dict(
        os.environ,
        PREFECT_API_URL=server.api,
        PREFECT_HOME=str(server.home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        CCHC_CONFIG=str(config_dir),
        CCHC_DATA_DIR=str(tmp_path / "var"),
    )
    env.pop("CCHC_DATABASE_URL", None)
    env.update(extra)
    return env


def cchc(*args: str, env: dict, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "cchc"), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def client_call(server: Server, fn):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    async def go():
        async with get_client() as client:
            return await fn(client)

    with temporary_settings({PREFECT_API_URL: server.api}):
        return asyncio.run(go())


def cchc_deployments(server: Server, plan) -> dict:
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags

    found = client_call(
        server,
        lambda c: c.read_deployments(
            deployment_filter=DeploymentFilter(
                tags=DeploymentFilterTags(all_=["cchc", f"commune:{plan.commune.code}"])
            )
        ),
    )
    return {d.name: d for d in found}


def scheduled_runs(server: Server, deployment_ids: list) -> dict:
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    runs = client_call(
        server,
        lambda c: c.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=deployment_ids)),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
            ),
            limit=200,
        ),
    )
    found: dict = {}
    for run in runs:
        found.setdefault(run.deployment_id, set()).add(run.expected_start_time)
    return found


def test_deploy_registers_schedules_matching_cchc_plan(server, config_dir, tmp_path):
    plan = load_plan(config_dir)
    env = cli_env(server, config_dir, tmp_path)
    started = time.monotonic()
    first = cchc("deploy", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    print(f"cchc deploy: {time.monotonic() - started:.1f} s\n{first.stdout}")
    assert f"+ {plan.commune.code}-sweep" in first.stdout

    # What `cchc plan` gives: each occurrence's opening day (at the sweep time, local).
    shown = cchc(
        "plan",
        "--from",
        plan.commune.start.isoformat(),
        "--to",
        "2031-12-31",
        "--format",
        "json",
        env=env,
        cwd=tmp_path,
    )
    assert shown.returncode == 0, shown.stderr
    expected: dict[str, set[datetime]] = {}
    for row in json.loads(shown.stdout):
        at = datetime.combine(date.fromisoformat(row["opens"]), dtime(7, 30), VN)
        expected.setdefault(row["obligation"], set()).add(at)

    deployments = cchc_deployments(server, plan)
    wanted = {f"{plan.commune.code}-{oid}" for oid in expected} | {f"{plan.commune.code}-sweep"}
    wanted |= {
        f"{plan.commune.code}-{o}" for o, ob in plan.obligations.items() if ob.kind == "ad_hoc"
    }
    assert set(deployments) == wanted
    now = datetime.now(UTC)
    from prefect.server.schemas.schedules import RRuleSchedule as ServerRRule

    for oid, instants in expected.items():
        dep = deployments[f"{plan.commune.code}-{oid}"]
        assert dep.parameters == {"obligation": oid}
        assert dep.entrypoint.startswith("flows.prefect_flows.open_")  # a module path
        assert dep.job_variables == {}  # nothing of the deploying machine's folders
        assert dep.work_pool_name == "cchc" and not dep.paused
        [schedule] = dep.schedules
        assert schedule.schedule.timezone == "Asia/Ho_Chi_Minh" and schedule.active
        # The server's own evaluation of the stored rule: the next instants `cchc plan` gives.
        upcoming = sorted(i for i in instants if i >= now)[:3]
        server_rule = ServerRRule(rrule=schedule.schedule.rrule, timezone="Asia/Ho_Chi_Minh")
        dates = asyncio.run(server_rule.get_dates(n=len(upcoming) or 1, start=now))
        assert [d.astimezone(VN) for d in dates][: len(upcoming)] == upcoming, oid

    # The scheduler service turns them into Scheduled runs (within its 100-day horizon).
    by_id = {d.id: name for name, d in deployments.items()}
    deadline = time.monotonic() + 60
    sweep_id = deployments[f"{plan.commune.code}-sweep"].id
    while True:
        runs = scheduled_runs(server, list(by_id))
        if sweep_id in runs or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert sweep_id in runs, "the scheduler created no sweep runs"
    for dep_id, instants in runs.items():
        name = by_id[dep_id].removeprefix(f"{plan.commune.code}-")
        local = {i.astimezone(VN) for i in instants}
        if name == "sweep":
            assert all(plan.calendar.is_working_day(i.date()) for i in local)
            # the morning sweep, and the escalations' at escalation_time (14:00)
            assert all(i.time() in (dtime(7, 30), dtime(14, 0)) for i in local)
        else:
            assert local <= expected[name], name
            assert min(local) == min(i for i in expected[name] if i >= now), name

    again = cchc("deploy", env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "0 added, 0 changed, 0 removed" in again.stdout, again.stdout

    # A deployment written by an earlier cchc (the ad hoc flow was `open_ad_hoc`): one deploy
    # brings it to the current entrypoint, and nothing else changes.
    from prefect.client.schemas.actions import DeploymentUpdate

    adhoc = deployments[f"{plan.commune.code}-nhiem-vu-dot-xuat"]
    assert adhoc.entrypoint == "flows.prefect_flows.open_ad_hoc_flow"
    old = DeploymentUpdate(entrypoint="flows.prefect_flows:open_ad_hoc")
    client_call(server, lambda c: c.update_deployment(adhoc.id, old))
    upgraded = cchc("deploy", env=env, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"~ {plan.commune.code}-nhiem-vu-dot-xuat (entrypoint)" in upgraded.stdout
    assert "0 added, 1 changed, 0 removed" in upgraded.stdout, upgraded.stdout
    now_adhoc = cchc_deployments(server, plan)[f"{plan.commune.code}-nhiem-vu-dot-xuat"]
    assert now_adhoc.entrypoint == "flows.prefect_flows.open_ad_hoc_flow"

    remove_obligation(config_dir, "kiem-tra-iso-9001")
    pruned = cchc("deploy", env=env, cwd=tmp_path)
    assert pruned.returncode == 0, pruned.stderr
    assert f"- {plan.commune.code}-kiem-tra-iso-9001 (paused" in pruned.stdout, pruned.stdout
    assert "0 added, 0 changed, 1 removed" in pruned.stdout
    paused = cchc_deployments(server, plan)[f"{plan.commune.code}-kiem-tra-iso-9001"]
    assert paused.paused
    assert scheduled_runs(server, [paused.id]) == {}  # its future runs went with it

    # A change of kind moves the deployment to another flow: the old one must not linger.
    annex = config_dir / "obligations-annex.yaml"
    text = annex.read_text(encoding="utf-8")
    at = text.index("  - id: do-luong-su-hai-long")
    annex.write_text(
        text[:at] + text[at:].replace("kind: survey", "kind: annual_task", 1), encoding="utf-8"
    )
    moved = cchc("deploy", env=env, cwd=tmp_path)
    assert moved.returncode == 0, moved.stderr
    assert f"~ {plan.commune.code}-do-luong-su-hai-long (flow" in moved.stdout, moved.stdout
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    same_name = client_call(
        server,
        lambda c: c.read_deployments(
            deployment_filter=DeploymentFilter(
                name=DeploymentFilterName(any_=[f"{plan.commune.code}-do-luong-su-hai-long"])
            )
        ),
    )
    assert [d.entrypoint for d in same_name] == ["flows.prefect_flows.open_annual_task"]


def _run_state(server: Server, run_id):
    return client_call(server, lambda c: c.read_flow_run(run_id))


def test_worker_runs_deployed_opening_and_sweep_to_completed(server, config_dir, tmp_path, pg_url):
    plan = load_plan(config_dir)
    env = cli_env(server, config_dir, tmp_path, CCHC_DATABASE_URL=pg_url)
    initialised = cchc("init-db", env=env, cwd=tmp_path)  # as documented: before any worker
    assert initialised.returncode == 0, initialised.stderr
    deployed = cchc("deploy", env=env, cwd=tmp_path)
    assert deployed.returncode == 0, deployed.stderr
    deployments = cchc_deployments(server, plan)

    # As the scheduler makes them: no `at`, the run acts as of its scheduled instant. The latest
    # opening instant already past (the worker only takes runs that are due).
    today = datetime.now(VN).date()
    past = [
        o
        for o in plan.occurrences(plan.commune.plan_start, today, by="opens")
        if o.due.due >= plan.commune.start
        and datetime.combine(o.opens, dtime(7, 30), VN) <= datetime.now(VN)
    ]
    latest = max(past, key=lambda o: o.opens) if past else None

    async def create(client):
        from prefect.states import Scheduled

        opening = await client.create_flow_run_from_deployment(
            deployments[f"{plan.commune.code}-bao-cao-cchc-dinh-ky"].id,
            parameters={"obligation": "bao-cao-cchc-dinh-ky", "at": "2026-12-02T07:30:00+07:00"},
        )
        sweep = await client.create_flow_run_from_deployment(
            deployments[f"{plan.commune.code}-sweep"].id,
            parameters={"at": "2026-12-22T07:30:00+07:00"},
        )
        if latest is None:
            return opening.id, sweep.id, None
        on_schedule = await client.create_flow_run_from_deployment(
            deployments[f"{plan.commune.code}-{latest.obligation}"].id,
            state=Scheduled(
                scheduled_time=datetime.combine(latest.opens, dtime(7, 30), VN).astimezone(UTC)
            ),
        )
        return opening.id, sweep.id, on_schedule.id

    opening_id, sweep_id, scheduled_id = client_call(server, create)
    started = time.monotonic()
    worker = subprocess.run(
        [str(BIN / "prefect"), "worker", "start", "--pool", "cchc", "--run-once"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        start_new_session=True,
    )
    print(f"worker --run-once: {time.monotonic() - started:.1f} s")
    assert worker.returncode == 0, worker.stdout[-3000:] + worker.stderr[-3000:]
    deadline = time.monotonic() + 60
    while True:
        runs = [_run_state(server, i) for i in (opening_id, sweep_id)]
        if all(r.state.is_final() for r in runs) or time.monotonic() > deadline:
            break
        time.sleep(1)
    opening, sweep = runs
    logs = worker.stdout[-4000:] + worker.stderr[-4000:]
    assert opening.state.is_completed(), logs
    assert sweep.state.is_completed(), logs
    assert opening.name == "bao-cao-cchc-dinh-ky · 2026"
    if scheduled_id is not None:
        run = _run_state(server, scheduled_id)
        assert run.state.is_completed(), logs
        assert run.name == f"{latest.obligation} · {latest.period.key}"
    assert sweep.name == "sweep · 2026-12-22 07:30"

    from models.db import make_engine
    from usecases.item_list import list_items

    engine = make_engine(pg_url)
    items = list_items(plan, engine)
    engine.dispose()
    assert {i.obligation for i in items} >= {"bao-cao-cchc-dinh-ky"}
    assert len({(i.obligation, i.unit, i.period) for i in items}) == len(items)


def _wait_for(path: Path, text: str, proc: subprocess.Popen, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        seen = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        if text in seen:
            return seen
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"no {text!r} in the engine's output:\n{seen[-4000:]}")
        time.sleep(0.2)


def test_cchc_run_records_runs_and_reloads_config(server, config_dir, tmp_path):
    plan = load_plan(config_dir)
    env = cli_env(server, config_dir, tmp_path)
    log = tmp_path / "engine.log"
    started = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "cchc"), "run"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        seen = _wait_for(log, "engine running", proc, 120)
        print(f"cchc run: ready in {time.monotonic() - started:.1f} s")
        assert f"Prefect UI: {server.url}" in seen
        assert "next due:" in seen and "sweep (rà soát)" in seen
        assert "sweep · " in seen and "Finished in state Completed" in seen

        # `cchc reload` checks first: an invalid config is refused, the engine is not signalled.
        units = config_dir / "units.yaml"
        good = units.read_text(encoding="utf-8")
        units.write_text(good.replace("code: VP", "code: vp"), encoding="utf-8")
        refused = cchc("reload", env=env, cwd=tmp_path)
        assert refused.returncode == 1 and "Cấu hình không hợp lệ" in refused.stderr
        # A SIGHUP anyway: the engine refuses it itself and keeps running.
        os.kill(proc.pid, signal.SIGHUP)
        _wait_for(log, "config refused", proc, 30)

        units.write_text(good, encoding="utf-8")
        remove_obligation(config_dir, "kiem-tra-iso-9001")
        applied = cchc("reload", env=env, cwd=tmp_path)
        assert applied.returncode == 0, applied.stderr
        assert f"(pid {proc.pid}) nạp lại cấu hình" in applied.stdout
        seen = _wait_for(log, "config reloaded", proc, 30)
        assert "removed ['open:kiem-tra-iso-9001']" in seen

        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(60) == 0
        assert "engine stopped" in log.read_text(encoding="utf-8")
        assert not (tmp_path / "var" / "cchc-run.pid").exists()
    finally:
        _stop(proc)

    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    arts = client_call(
        server,
        lambda c: c.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[open_items_key(plan), sweep_summary_key(plan)])
            )
        ),
    )
    assert {a.key for a in arts} == {open_items_key(plan), sweep_summary_key(plan)}
    runs = client_call(server, lambda c: c.read_flow_runs(limit=200))
    catch_up = [r for r in runs if r.name.startswith("sweep · ") and r.deployment_id is None]
    assert catch_up and all(r.state.is_completed() for r in catch_up)


@pytest.mark.browser
def test_ui_shows_the_sweep_artifact_in_chromium(server, plan, tmp_path):
    """Headless Chromium from Debian's package; Playwright never downloads a browser here."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} missing: apt-get install -y chromium (.ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api")
    key = open_items_key(plan)
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    if not client_call(
        server,
        lambda c: c.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        ),
    ):
        pytest.fail("no sweep artifact on the server: the tests before this one publish it")
    with sync_api.sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{server.url}/artifacts", wait_until="domcontentloaded")
            page.get_by_text(key).first.wait_for(timeout=60_000)
            page.screenshot(path=str(tmp_path / "artifacts.png"))
            page.get_by_text(key).first.click()  # the key's page: a timeline of versions
            page.locator('a[href*="/artifacts/artifact/"]').first.click()  # the latest one
            try:
                page.get_by_text("Tình trạng").first.wait_for(timeout=60_000)
            finally:
                page.screenshot(path=str(tmp_path / "artifact.png"), full_page=True)
            assert "Can't connect to Server API" not in page.content()
        finally:
            browser.close()
    print(f"screenshots: {tmp_path}/artifacts.png, {tmp_path}/artifact.png")
