"""cchc's Prefect flows under `prefect_test_harness` (a real temporary Prefect server and
database for this module; heartbeat off): opening runs, the sweep, closing, ad hoc, with their
artifacts, events, task-run counts and failure states."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import date, timedelta

import pytest
from intake_support import pdf_bytes
from sqlalchemy import func, select
from support import latest_artifact, live_plan, prefect_call, recent_flow_runs, runtime_env

from cchc.runtime.settings import Settings
from models.db import ensure_schema, make_engine, transaction
from models.tables import Outbox, WorkItem
from notifications import status_pages, sweep_summary
from schedules.dates import parse_instant
from schedules.occurrences import current_periods

pytestmark = pytest.mark.prefect

VN_02_12 = parse_instant("2026-12-02T07:30")
"""The first working morning on which the 2026 annual report (due 16/12/2026) opens."""


@pytest.fixture
def pf(harness):
    from flows import prefect_flows

    yield prefect_flows
    prefect_flows.release_runtime()


def _runtime(pf, plan, url: str, tmp_path, monkeypatch):
    runtime_env(monkeypatch, tmp_path / "data", url)
    settings = Settings.from_env(str(plan.folder))
    engine = make_engine(url)
    ensure_schema(engine)
    return pf.use_runtime(plan, engine, settings)


@pytest.fixture
def rt(pf, plan, sqlite_url, tmp_path, monkeypatch):
    """Flows work on a fresh SQLite file; mail goes to .eml files (no SMTP host)."""
    runtime = _runtime(pf, plan, sqlite_url, tmp_path, monkeypatch)
    yield runtime
    runtime.engine.dispose()


@pytest.fixture
def events(monkeypatch):
    """Events the flows emit, captured where `flows.artifacts` looks `emit_event` up."""
    import prefect.events

    seen: list[dict] = []
    monkeypatch.setattr(prefect.events, "emit_event", lambda **kw: seen.append(kw))
    return seen


def table_rows(artifact) -> list[dict]:
    data = artifact.data
    return json.loads(data) if isinstance(data, str) else data


def flow_run(state):
    run_id = state.state_details.flow_run_id
    return prefect_call(lambda c: c.read_flow_run(run_id))


def task_run_names(state, expected: int, timeout: float = 15.0) -> list[str]:
    """Task runs recorded for a flow run (the server records them from events: poll)."""
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
            return sorted(r.name for r in runs)
        time.sleep(0.3)


def count(engine, model, *where) -> int:
    with transaction(engine) as session:
        return session.execute(select(func.count()).select_from(model).where(*where)).scalar()


def test_opening_run_opens_the_period_and_publishes_its_table(pf, rt, plan, events):
    units = plan.lead_units("bao-cao-cchc-dinh-ky")
    state = pf.open_periodic_report(
        obligation="bao-cao-cchc-dinh-ky", at=VN_02_12, return_state=True
    )
    assert state.is_completed(), state.message
    result = state.result()
    assert result["periods"] == ["2026"] and len(result["opened"]) == len(units)
    assert flow_run(state).name == "bao-cao-cchc-dinh-ky · 2026"
    assert count(rt.engine, WorkItem, WorkItem.obligation == "bao-cao-cchc-dinh-ky") == len(units)
    assert count(rt.engine, Outbox, Outbox.kind == "opened") == len(units)  # queued, not sent

    artifact = latest_artifact(status_pages.opened_key(plan, "bao-cao-cchc-dinh-ky"))
    rows = table_rows(artifact)
    assert sorted(r["Đơn vị"] for r in rows) == sorted(units)
    assert {r["Kỳ"] for r in rows} == {"2026"} and {r["Hạn"] for r in rows} == {"16/12/2026"}
    assert "mở" in artifact.description

    opened = [e for e in events if e["event"] == "cchc.item.opened"]
    assert sorted(e["resource"]["cchc.unit"] for e in opened) == sorted(units)
    assert all(e["payload"]["items"][0]["period"] == "2026" for e in opened)

    # Run again: nothing new, and the table says so.
    again = pf.open_periodic_report(obligation="bao-cao-cchc-dinh-ky", period="2026", at=VN_02_12)
    assert again["opened"] == []
    assert "không có việc mới" in latest_artifact(artifact.key).description


def test_opening_run_of_the_wrong_kind_fails_visibly(pf, rt):
    from usecases.errors import UserError

    state = pf.open_annual_plan(obligation="bao-cao-cchc-dinh-ky", at=VN_02_12, return_state=True)
    assert state.is_failed()
    with pytest.raises(UserError, match="wrong flow"):
        state.result()


def test_every_scheduled_kind_has_an_opening_flow(pf, plan):
    kinds = {plan.obligations[oid].kind for oid in plan.schedules}
    assert kinds <= set(pf.OPENING_FLOWS)
    for kind, fl in pf.OPENING_FLOWS.items():
        assert getattr(pf, f"open_{kind}") is fl
        assert fl.name == pf.opening_flow_name(kind)


def test_sweep_publishes_status_and_summary_and_emits_transitions(pf, rt, plan, events):
    first = pf.sweep_flow(at=VN_02_12, return_state=True)
    assert first.is_completed(), first.message
    assert flow_run(first).name == "sweep · 2026-12-02 07:30"
    opened = first.result()["opened"]
    assert opened > 0

    table = latest_artifact(status_pages.open_items_key(plan))
    rows = table_rows(table)
    assert len(rows) == opened
    assert {r["Tình trạng"] for r in rows} == {"trong hạn"}
    codes = list(plan.units)
    assert [codes.index(r["Đơn vị"]) for r in rows] == sorted(
        codes.index(r["Đơn vị"]) for r in rows
    )

    overdue = pf.sweep_flow(
        at=parse_instant("2026-12-17T00:30")
    )  # after the due date ended, before the morning escalation
    assert overdue["advanced"] > 0
    escalated = pf.sweep_flow(at=parse_instant("2026-12-22T07:30"))
    assert escalated["advanced"] > 0
    # The consolidated report's view of the units' reports (issue 9): every unit, missing ones.
    consolidated = table_rows(latest_artifact(status_pages.consolidated_key(plan)))
    units = {plan.units[u].name for u in plan.lead_units("bao-cao-cchc-dinh-ky")}
    assert {r["Đơn vị"] for r in consolidated} >= units
    assert any(r["Báo cáo của đơn vị"].startswith("chưa nộp") for r in consolidated)

    rows = table_rows(latest_artifact(status_pages.open_items_key(plan)))
    assert any(r["Tình trạng"].startswith("quá hạn, đã báo cáo cấp trên") for r in rows)
    summary = latest_artifact(sweep_summary.sweep_summary_key(plan))
    assert summary.type == "markdown"
    assert "# Kết quả rà soát lúc 22/12/2026 07:30" in summary.data
    assert "## Chuyển cấp" in summary.data and "## Việc đang mở theo đơn vị" in summary.data
    assert "thư đã gửi" in summary.data  # the delivery ran (to .eml files here)

    kinds = {e["event"] for e in events}
    assert {"cchc.item.opened", "cchc.item.overdue", "cchc.item.escalated"} <= kinds
    escalations = [e for e in events if e["event"] == "cchc.item.escalated"]
    keys = [(e["occurred"], e["resource"]["prefect.resource.id"]) for e in escalations]
    assert len(set(keys)) == len(keys)  # one event per unit and run, items in its payload
    items = [e for e in events if e["event"].startswith("cchc.item.")]
    assert all(e["resource"]["prefect.resource.id"].startswith("cchc.maodien.unit.") for e in items)
    # Each sweep that ended well says so (what the "sweep missing" automation waits for).
    done = [e for e in events if e["event"] == "cchc.sweep.completed"]
    assert len(done) == 3 and done[0]["resource"]["cchc.city"] == "maodien"
    assert "occurred" not in done[0]  # now, not the sweep's instant: see sweep_completed_event


def test_task_runs_per_sweep_do_not_grow_with_items(pf, rt, plan):
    """A task run costs about 22 ms of server CPU: a sweep makes the same few whatever it does."""
    quiet = pf.sweep_flow(at=parse_instant("2026-11-30T07:30"), return_state=True)
    busy = pf.sweep_flow(at=parse_instant("2026-12-22T07:30"), return_state=True)
    assert quiet.result()["opened"] <= 2 and busy.result()["opened"] >= 8
    expected = ["advance", "deliver", "open-due", "publish-status"]
    for state in (quiet, busy):
        names = task_run_names(state, len(expected))
        assert [n.rsplit("-", 1)[0] for n in names] == expected


def test_failed_delivery_is_retried_then_fails_the_sweep_after_publishing(
    pf, rt, plan, monkeypatch
):
    calls = []

    def broken(plans, engine, settings, at, force=False):
        calls.append(at)
        raise OSError("SMTP server unreachable")

    from flows import sweep_run

    monkeypatch.setattr(sweep_run, "deliver_communes", broken)
    monkeypatch.setattr(sweep_run, "deliver", sweep_run.deliver.with_options(retry_delay_seconds=0))
    state = pf.sweep_flow(at=VN_02_12, return_state=True)
    assert state.is_failed()
    assert len(calls) == 4  # one try and three retries
    summary = latest_artifact(sweep_summary.sweep_summary_key(plan)).data
    assert "THẤT BẠI" in summary and "02/12/2026 07:30" in summary
    assert count(rt.engine, WorkItem) > 0  # the sweep's own work stands


def test_close_flow_closes_the_item_and_emits_closed(pf, rt, plan, events, tmp_path):
    pf.sweep_flow(at=VN_02_12)
    with transaction(rt.engine) as session:
        item = session.exec(select(WorkItem).limit(1)).scalars().one()
    report = tmp_path / "bao-cao.pdf"
    report.write_bytes(b"%PDF-1.4 bao cao")
    at = parse_instant("2026-12-10T09:15")
    state = pf.close_flow(item.id, str(report), by=item.unit, at=at, return_state=True)
    done = state.result()
    assert done.closed_item and done.item.status == "closed" and done.item.on_time is True
    assert done.version == 1 and done.files[0].original_name == "bao-cao.pdf"
    run = flow_run(state)
    assert run.name == f"close · #{item.id} · 2026-12-10 09:15"
    # the tags of the commune's sweep runs, and the item's unit (before: none)
    assert {"cchc", "commune:maodien", f"unit:{item.unit}"} <= set(run.tags)
    ev = [e for e in events if e["event"] == "cchc.item.closed"]
    assert len(ev) == 1 and ev[0]["payload"]["items"][0]["id"] == item.id
    # A second version does not close again, nor emit.
    pf.close_flow(item.id, str(report), at=parse_instant("2026-12-11T09:00"))
    assert len([e for e in events if e["event"] == "cchc.item.closed"]) == 1


def test_mail_waiting_a_day_raises_mail_stuck(pf, rt, plan, events):
    """A mail tried and still pending a day after it was queued (a template broken after
    `cchc check`, a server that does not take it) raises `cchc.mail.stuck` at each sweep,
    which `cchc deploy`'s automation mails the admin (before: nothing told anyone)."""
    from sqlalchemy import update

    pf.sweep_flow(at=VN_02_12, send=False)
    with transaction(rt.engine) as session:
        row_id = session.execute(select(func.min(Outbox.id))).scalar()
        session.execute(
            update(Outbox)
            .where(Outbox.id == row_id)
            .values(
                attempts=4,
                last_error="cannot build the mail: reminder.txt.j2:3: unexpected end",
                send_after=parse_instant("2027-01-01T00:00"),  # not due: left pending
            )
        )
    pf.sweep_flow(at=VN_02_12 + timedelta(hours=20))
    assert not [e for e in events if e["event"] == "cchc.mail.stuck"]
    pf.sweep_flow(at=VN_02_12 + timedelta(days=1))
    [stuck] = [e for e in events if e["event"] == "cchc.mail.stuck"]
    assert stuck["resource"]["cchc.city"] == "maodien" and stuck["payload"]["count"] == 1
    [row] = stuck["payload"]["rows"]
    assert row["outbox_id"] == row_id and "reminder.txt.j2:3" in row["error"]


def test_ad_hoc_flow_opens_one_item(pf, rt, plan, events):
    state = pf.open_ad_hoc_flow(
        obligation="nhiem-vu-dot-xuat", unit="KT", due=date(2026, 12, 15), at=VN_02_12,
        return_state=True,
    )  # fmt: skip
    result = state.result()
    with transaction(rt.engine) as session:
        item = session.get(WorkItem, result["item"])
    assert item.adhoc and item.unit == "KT" and item.period == "2026-12-15"
    assert [e["event"] for e in events] == ["cchc.item.opened"]
    assert {"cchc", "commune:maodien", "unit:KT"} <= set(flow_run(state).tags)


@pytest.mark.postgres
def test_two_sweeps_at_once_make_no_duplicate_on_postgresql(
    pf, plan, pg_url, tmp_path, monkeypatch
):
    """Two runners (here two threads, each its own flow run) sweeping the same instant on one
    PostgreSQL database: the core's unique keys keep every item and mail single. (The commune
    live since its start: the items due before the sweep are opened, not held.)"""
    runtime = _runtime(pf, live_plan(plan), pg_url, tmp_path, monkeypatch)
    at = parse_instant("2026-12-22T07:30")
    results, errors = [], []
    barrier = threading.Barrier(2)

    def run():
        try:
            barrier.wait()
            results.append(pf.sweep_flow(at=at))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    items = count(runtime.engine, WorkItem)
    assert items > 0 and sum(r["opened"] for r in results) == items
    with transaction(runtime.engine) as session:
        keys = session.execute(
            select(WorkItem.obligation, WorkItem.unit, WorkItem.period, func.count())
            .group_by(WorkItem.obligation, WorkItem.unit, WorkItem.period)
            .having(func.count() > 1)
        ).all()
        mails = session.execute(
            select(Outbox.item_id, Outbox.step, Outbox.recipient, func.count())
            .group_by(Outbox.item_id, Outbox.step, Outbox.recipient)
            .having(func.count() > 1)
        ).all()
    assert keys == [] and mails == []
    assert sum(r["queued"] for r in results) == count(runtime.engine, Outbox)
    # Both delivered at once: every row went out once, none is left pending.
    assert count(runtime.engine, Outbox, Outbox.status != "sent") == 0
    assert len(list((tmp_path / "data" / "outbox").glob("*.eml"))) == count(runtime.engine, Outbox)
    runtime.engine.dispose()


def test_runtime_loads_from_the_environment_once(pf, plan, sqlite_url, tmp_path, monkeypatch):
    """What a worker's flow-run process does: no pinned runtime, CCHC_* from its environment."""
    monkeypatch.setenv("CCHC_CONFIG", str(plan.folder))
    monkeypatch.setenv("CCHC_DATABASE_URL", sqlite_url)
    from flows import runtime_state

    monkeypatch.setattr(runtime_state, "_loaded", None)
    pf.release_runtime()
    first = pf.runtime()
    assert first is pf.runtime() and first.city.code == "maodien" and not first.city.is_city
    assert str(first.engine.url).endswith("cchc.db")
    first.engine.dispose()


def test_current_periods_follow_the_opening_days(plan):
    report = "bao-cao-cchc-dinh-ky"
    assert current_periods(plan, report, parse_instant("2026-12-01T12:00")) == []
    assert current_periods(plan, report, VN_02_12) == ["2026"]
    assert current_periods(plan, report, parse_instant("2027-01-20T12:00")) == ["2026"]


def test_attach_from_the_cli_runs_the_close_flow_when_a_server_is_set(
    pf, plan, sqlite_url, tmp_path, monkeypatch, events
):
    from click.testing import CliRunner
    from prefect.settings import PREFECT_API_URL

    from cchc.cli import main

    runtime = _runtime(pf, plan, sqlite_url, tmp_path, monkeypatch)
    pf.sweep_flow(at=VN_02_12)
    with transaction(runtime.engine) as session:
        item = session.exec(select(WorkItem).limit(1)).scalars().one()
    file = tmp_path / "bao-cao.docx"
    file.write_bytes(pdf_bytes("bao cao"))  # attach checks the content (issue 11, 9)
    monkeypatch.setenv("PREFECT_API_URL", PREFECT_API_URL.value())  # the harness's server
    result = CliRunner().invoke(
        main,
        [
            "--config",
            str(plan.folder),
            "attach",
            str(item.id),
            str(file),
            "--at",
            "2026-12-03T10:00",
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"Nhiệm vụ số {item.id}: đã nộp (closed), đúng hạn" in result.output
    assert [e["event"] for e in events if e["event"] == "cchc.item.closed"] == ["cchc.item.closed"]
    runs = recent_flow_runs(50)
    assert f"close · #{item.id} · 2026-12-03 10:00" in {r.name for r in runs}


def test_deploy_needs_a_server(config_dir, tmp_path):
    env = dict(os.environ, PREFECT_HOME=str(tmp_path / "prefect"), CCHC_CONFIG=str(config_dir))
    env.pop("PREFECT_API_URL", None)
    out = subprocess.run(
        [sys.executable, "-m", "cchc.cli", "deploy"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert out.returncode == 1 and "set PREFECT_API_URL" in out.stderr, out.stderr


def test_a_sweep_that_changes_nothing_does_not_rewrite_the_open_items_table(pf, rt, plan):
    """The status pages cost what changed: a sweep with nothing due publishes its summary, with
    the counts by unit, and leaves the open-items table as the last change made it."""
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    def versions(key: str) -> int:
        found = prefect_call(
            lambda c: c.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
            )
        )
        return len(found)

    first = pf.sweep_flow(at=VN_02_12)
    assert first["opened"] > 0
    table, summary = status_pages.open_items_key(plan), sweep_summary.sweep_summary_key(plan)
    before = versions(table), versions(summary)
    again = pf.sweep_flow(at=VN_02_12)  # nothing left to do at the same instant
    assert (again["opened"], again["advanced"], again["open"]) == (0, 0, first["open"])
    assert (versions(table), versions(summary)) == (before[0], before[1] + 1)
    text = latest_artifact(summary).data
    assert "**Không có thay đổi.**" in text and "## Việc đang mở theo đơn vị" in text
