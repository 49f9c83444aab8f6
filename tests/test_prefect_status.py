"""What the standing office sees in the Prefect UI, under `prefect_test_harness` (a real temporary
Prefect server): lateness on the run list (the sweep's final state and tags), the late-items table,
a summary in Vietnamese only, and the status tables refreshed when the intake or the command line
changes an item (after the response, never on read-only paths, not at all without a server)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from intake_support import Clock, LiveIntake, pdf_bytes, t
from sqlalchemy import select
from support import find_item, latest_artifact, prefect_call, recent_flow_runs, runtime_env

from cchc.runtime.settings import Settings
from models.db import ensure_schema, make_engine, transaction
from models.tables import WorkItem
from notifications import status_pages, sweep_summary

pytestmark = pytest.mark.prefect

LATE_SWEEP = "2026-12-22T07:30"
"""After the 2026 annual reports fell due (16/12/2026): escalations."""


@pytest.fixture
def pf(harness):
    from flows import prefect_flows

    yield prefect_flows
    prefect_flows.release_runtime()


@pytest.fixture
def rt(pf, plan, sqlite_url, tmp_path, monkeypatch):
    runtime_env(monkeypatch, tmp_path / "data", sqlite_url)
    engine = make_engine(sqlite_url)
    ensure_schema(engine)
    runtime = pf.use_runtime(plan, engine, Settings.from_env(str(plan.folder)))
    yield runtime
    engine.dispose()


@pytest.fixture
def events(monkeypatch):
    """Events as handed to Prefect's `emit_event` (they also go to the harness's server)."""
    import prefect.events

    seen: list[dict] = []
    real = prefect.events.emit_event

    def capture(**kw):
        seen.append(kw)
        return real(**kw)

    monkeypatch.setattr(prefect.events, "emit_event", capture)
    return seen


@pytest.fixture
def server_url(harness, monkeypatch):
    """PREFECT_API_URL in the environment, as `make run` sets it: the harness's server."""
    from prefect.settings import PREFECT_API_URL

    monkeypatch.setenv("PREFECT_API_URL", PREFECT_API_URL.value())
    return PREFECT_API_URL.value()


def latest(key: str):
    """The newest artifact of `key` and its data (a table's rows parsed)."""
    found = latest_artifact(key)
    table = found.type == "table" and isinstance(found.data, str)
    return found, (json.loads(found.data) if table else found.data)


def runs_named(pattern: str, timeout: float = 60.0) -> list:
    """Flow runs whose name matches, once they have finished (poll: background work)."""
    deadline = time.monotonic() + timeout
    while True:
        runs = recent_flow_runs()
        done = [r for r in runs if re.fullmatch(pattern, r.name) and r.state and r.state.is_final()]
        if done or time.monotonic() > deadline:
            return done
        time.sleep(0.3)


def late_in_db(engine) -> list[WorkItem]:
    with transaction(engine) as session:
        query = select(WorkItem).where(WorkItem.status.in_(["overdue", "escalated"]))
        return list(session.exec(query).scalars())


# ----- 15: lateness where the clerk looks first --------------------------------------------


def test_the_sweep_run_ends_completed_with_its_lateness_in_message_and_tags(pf, rt, plan):
    """Prefect's own state name (the dashboard counts it, automations match it); the count is
    in the message and the tags (before: a state named "17 việc quá hạn", green)."""
    pf.sweep_flow(at=t("2026-12-02T07:30"))
    quiet = pf.sweep_flow(at=t("2026-12-03T07:30"), return_state=True)
    assert quiet.is_completed() and quiet.name == "Completed"
    assert quiet.message == "Không có việc quá hạn."

    state = pf.sweep_flow(at=t(LATE_SWEEP), return_state=True)
    late = late_in_db(rt.engine)
    assert len(late) >= 2
    assert state.is_completed() and state.name == "Completed"
    assert state.message.startswith(f"{len(late)} việc quá hạn, ")
    escalated = sum(i.status == "escalated" for i in late)
    assert f"trong đó {escalated} việc đã báo cáo cấp trên" in state.message
    assert state.result()["late"] == len(late)  # the result is still the summary

    run = prefect_call(lambda c: c.read_flow_run(state.state_details.flow_run_id))
    assert run.state.name == "Completed" and run.state.message == state.message
    assert {tag for tag in run.tags if tag.startswith("quá hạn:")} == {
        f"quá hạn:{code}" for code in {i.unit for i in late}
    }


def flow_run_events(run_ids: list, prefix: str, expected: int, timeout: float = 30.0) -> list:
    """The events of these flow runs whose name starts with `prefix`, as the server stored them
    (automations see these; poll: events arrive in the background)."""
    from prefect.events.filters import (
        EventFilter,
        EventNameFilter,
        EventOccurredFilter,
        EventResourceFilter,
    )

    ids = [f"prefect.flow-run.{run_id}" for run_id in run_ids]
    since = datetime.now(UTC) - timedelta(hours=1)
    deadline = time.monotonic() + timeout
    while True:
        page = prefect_call(
            lambda c: c.read_events(
                filter=EventFilter(
                    occurred=EventOccurredFilter(since=since),
                    event=EventNameFilter(prefix=[prefix]),
                    resource=EventResourceFilter(id=ids),
                ),
                limit=50,
            )
        )
        if len(page.events) >= expected or time.monotonic() > deadline:
            return page.events
        time.sleep(0.5)


def test_an_automation_on_completed_sees_every_sweep(pf, rt, plan):
    """Each sweep emits `prefect.flow-run.Completed`, late items or not (before: one event
    type per count, `prefect.flow-run.17 việc quá hạn`, which an automation on Completed
    never saw)."""
    states = [
        pf.sweep_flow(at=t(at), return_state=True)
        for at in ("2026-12-02T07:30", "2026-12-03T07:30", LATE_SWEEP, "2026-12-23T07:30")
    ]
    run_ids = [s.state_details.flow_run_id for s in states]
    found = flow_run_events(run_ids, "prefect.flow-run.", expected=3 * len(run_ids))
    final = {e.resource.id: e.event for e in found if not e.event.endswith(("Pending", "Running"))}
    assert final == {
        f"prefect.flow-run.{run_id}": "prefect.flow-run.Completed" for run_id in run_ids
    }


def test_every_sweep_run_links_to_the_late_items_and_the_office_page(
    pf, plan, sqlite_url, tmp_path, monkeypatch
):
    """The office's view of lateness is a page it can bookmark (`cchc-<commune>-late-items`),
    linked from every sweep run, and so is the intake's office page when it is public."""
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    runtime_env(monkeypatch, tmp_path / "data")
    monkeypatch.setenv("CCHC_PUBLIC_URL", "https://cchc.maodien.example/nop")
    monkeypatch.setenv("CCHC_SECRET", "a-long-enough-secret-for-links")
    engine = make_engine(sqlite_url)
    ensure_schema(engine)
    pf.use_runtime(plan, engine, Settings.from_env(str(plan.folder)))
    for at in ("2026-12-02T07:30", LATE_SWEEP):
        state = pf.sweep_flow(at=t(at), return_state=True)
        run_id = state.state_details.flow_run_id
        links = prefect_call(
            lambda c, r=run_id: c.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[r]))
            )
        )
        # a link artifact is stored as markdown: "[text](url)"
        urls = {a.data.split("](")[-1].rstrip(")") for a in links if a.data.startswith("[")}
        late_page = f"/artifacts/key/{status_pages.late_items_key(plan)}"
        assert any(u.endswith(late_page) and u.startswith("http") for u in urls), urls
        assert "https://cchc.maodien.example/nop/office" in urls, urls
    engine.dispose()


def test_the_late_items_table_is_sorted_by_lateness_with_unit_names(pf, rt, plan):
    pf.sweep_flow(at=t("2026-12-02T07:30"))
    pf.sweep_flow(at=t("2026-12-17T07:30"))
    pf.sweep_flow(at=t("2027-01-12T07:30"))
    artifact, rows = latest(status_pages.late_items_key(plan))
    late = late_in_db(rt.engine)
    assert len(rows) == len(late) and len(rows) >= 2
    days = [r["Trễ (ngày làm việc)"] for r in rows]
    assert days == sorted(days, reverse=True) and days[0] > days[-1] > 0
    names = {u.name for u in plan.units.values()}
    assert {r["Đơn vị"] for r in rows} <= names
    assert f"{len(late)} việc" in artifact.description


def test_the_sweep_summary_has_no_server_path_nor_english(pf, rt, plan, tmp_path):
    pf.sweep_flow(at=t("2026-12-02T07:30"))
    pf.sweep_flow(at=t("2026-12-17T07:30"))
    pf.sweep_flow(at=t(LATE_SWEEP))
    _, text = latest(sweep_summary.sweep_summary_key(plan))
    assert "## Chuyển cấp" in text and "thư đã gửi" in text
    assert str(tmp_path) not in text and "/outbox" not in text
    english = re.findall(
        r"\b(files in|reminder|escalation|overdue|opened|due|closed|returned)(-\d+)?\b", text
    )
    assert english == []


# ----- 14: changes made outside a sweep reach Prefect ---------------------------------------


def test_an_intake_close_accept_and_return_reach_prefect_after_the_response(
    pf, rt, plan, server_url, events, tmp_path, monkeypatch
):
    import prefect.events

    # The close's event waits for the unit's answer: were the upload waiting for Prefect, it
    # would wait in vain (20 s), and say so.
    answered, after_the_answer = threading.Event(), []
    capture = prefect.events.emit_event

    def once_answered(**kw):
        if kw.get("event") == "cchc.item.closed":
            after_the_answer.append(answered.wait(20))
        return capture(**kw)

    monkeypatch.setattr(prefect.events, "emit_event", once_answered)
    pf.sweep_flow(at=t("2026-12-02T07:30"))
    item = find_item(rt.engine, "bao-cao-cchc-dinh-ky", "VP", "2026")
    _, rows = latest(status_pages.open_items_key(plan))
    assert item.id in {r["Mã việc"] for r in rows}
    pf.release_runtime()  # the intake pins its own

    with LiveIntake(plan, rt.engine, tmp_path / "data", Clock(t("2026-12-10T09:15"))) as live:
        response = httpx.post(
            live.link(item),
            files=[("files", ("bao-cao.pdf", pdf_bytes(), "application/pdf"))],
            timeout=30,
        )
        answered.set()
        assert response.status_code == 303
        assert runs_named(rf"nộp · #{item.id} · 2026-12-10 09:15")
        # The run told Prefect after the unit had its answer: the upload did not wait for it.
        assert after_the_answer == [True]
        _, rows = latest(status_pages.open_items_key(plan))
        assert item.id not in {r["Mã việc"] for r in rows}
        closed = [e for e in events if e["event"] == "cchc.item.closed"]
        assert [e["payload"]["items"][0]["id"] for e in closed] == [item.id]

        office = httpx.get(live.office(), timeout=30)
        token = re.search(r'name="t" value="([^"]+)"', office.text).group(1)
        base = f"{live.base}/office/items/{item.id}/versions/1"
        back = httpx.post(
            f"{base}/return",
            data={"t": token, "reason": "Thiếu số liệu quý IV", "due": "2026-12-18"},
            timeout=30,
        )
        assert back.status_code == 200, back.text
        assert runs_named(rf"trả lại · #{item.id} · .*")
        _, rows = latest(status_pages.open_items_key(plan))
        assert item.id in {r["Mã việc"] for r in rows}  # open again, listed again
        assert [e["event"] for e in events][-1] == "cchc.item.returned"

        httpx.post(
            live.link(item),
            files=[("files", ("bao-cao-v2.pdf", pdf_bytes("v2"), "application/pdf"))],
            timeout=30,
        )
        ok = httpx.post(f"{base.removesuffix('/1')}/2/accept", data={"t": token}, timeout=30)
        assert ok.status_code == 200, ok.text
        assert runs_named(rf"chấp nhận · #{item.id} · .*")
        assert "cchc.item.accepted" in [e["event"] for e in events]


def test_the_command_line_return_and_waive_reach_prefect(
    pf, rt, plan, sqlite_url, server_url, events, tmp_path
):
    from click.testing import CliRunner

    from cchc.cli import main

    pf.sweep_flow(at=t("2026-12-02T07:30"))
    waived = find_item(rt.engine, "bao-cao-cchc-dinh-ky", "KT", "2026")
    cli = ["--config", str(plan.folder)]
    result = CliRunner().invoke(
        main, [*cli, "waive", str(waived.id), "--reason", "Không phát sinh", "--at", "2026-12-03"]
    )
    assert result.exit_code == 0, result.output
    assert runs_named(rf"miễn · #{waived.id} · 2026-12-03 00:00")
    assert [e["event"] for e in events][-1] == "cchc.item.waived"
    _, rows = latest(status_pages.open_items_key(plan))
    assert waived.id not in {r["Mã việc"] for r in rows}

    item = find_item(rt.engine, "bao-cao-cchc-dinh-ky", "VP", "2026")
    file = tmp_path / "bao-cao.pdf"
    file.write_bytes(pdf_bytes())
    done = CliRunner().invoke(
        main, [*cli, "attach", str(item.id), str(file), "--at", "2026-12-04T10:00"]
    )
    assert done.exit_code == 0, done.output
    _, rows = latest(status_pages.open_items_key(plan))
    assert item.id not in {r["Mã việc"] for r in rows}  # the close flow refreshed the table
    back = CliRunner().invoke(
        main,
        [*cli, "return", str(item.id), "--reason", "Thiếu phụ lục", "--due", "2026-12-18"]
        + ["--at", "2026-12-05T10:00"],
    )
    assert back.exit_code == 0, back.output
    assert runs_named(rf"trả lại · #{item.id} · 2026-12-05 10:00")
    assert [e["event"] for e in events][-1] == "cchc.item.returned"
    _, rows = latest(status_pages.open_items_key(plan))
    assert item.id in {r["Mã việc"] for r in rows}


def test_without_a_server_a_change_does_not_load_prefect(plan, sqlite_url, tmp_path):
    """No PREFECT_API_URL: telling Prefect is a no-op that does not even import it (a temporary
    server would cost seconds per upload and record nothing anyone sees)."""
    code = (
        "import sys\n"
        "from datetime import datetime, UTC\n"
        "from flows.status import item_changed\n"
        "from cchc.runtime.settings import Settings\n"
        "from schedules.plan_loader import load_plan\n"
        f"plan = load_plan({str(plan.folder)!r})\n"
        "ran = item_changed(plan, None, Settings.from_env(), 'closed', [1], datetime.now(UTC))\n"
        "assert ran is False, ran\n"
        "assert 'prefect' not in sys.modules, 'prefect was imported'\n"
        "print('ok')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["CCHC_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


# ----- issue 12: the status tables cost what changed -----------------------------------------


def versions(key: str) -> int:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    return len(
        prefect_call(
            lambda c: c.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
            )
        )
    )


def tables(plan) -> dict[str, int]:
    """Versions of the tables a sweep rewrites only when they may have changed."""
    keys = status_pages.open_items_key(plan), status_pages.late_items_key(plan)
    return {key: versions(key) for key in (*keys, status_pages.consolidated_key(plan))}


def late_history(pf) -> None:
    """Sweeps up to 23/12/2026 07:30: the 2026 annual reports are late, most escalated. (The
    consolidated report opens on 04/12 as planned: opened later, close to its due date, it
    would be given a grace that moves its steps.)"""
    sweeps = ("2026-12-02T07:30", "2026-12-04T07:30", "2026-12-17T07:30", LATE_SWEEP)
    for at in (*sweeps, "2026-12-23T07:30"):
        pf.sweep_flow(at=t(at))


def test_a_second_sweep_the_same_day_with_nothing_changed_rewrites_no_table(pf, rt, plan):
    late_history(pf)
    before = tables(plan)
    assert all(before.values())
    again = pf.sweep_flow(at=t("2026-12-23T16:00"))
    assert (again["opened"], again["advanced"]) == (0, 0) and again["late"] >= 2
    assert tables(plan) == before  # late items no longer rewrite them on every sweep
    _, text = latest(sweep_summary.sweep_summary_key(plan))  # the summary is the sweep's own record
    assert "# Kết quả rà soát lúc 23/12/2026 16:00" in text and "**Không có thay đổi.**" in text


def test_a_change_made_outside_prefect_is_shown_by_the_next_sweep(pf, rt, plan):
    """A change Prefect was not told of (the command line without PREFECT_API_URL): its event
    makes the next sweep rewrite the tables, even with nothing due."""
    from usecases.lifecycle import waive

    late_history(pf)
    before = tables(plan)
    item = late_in_db(rt.engine)[0]
    waive(plan, rt.engine, item.id, "Không phát sinh", t("2026-12-23T15:00"))
    again = pf.sweep_flow(at=t("2026-12-23T16:00"))
    assert (again["opened"], again["advanced"]) == (0, 0)
    after = tables(plan)
    assert {key: after[key] - before[key] for key in before} == {key: 1 for key in before}
    for key in (status_pages.open_items_key(plan), status_pages.late_items_key(plan)):
        artifact, rows = latest(key)
        assert item.id not in {r["Mã việc"] for r in rows}
        assert "23/12/2026 16:00" in artifact.description


def test_a_new_day_rewrites_the_tables_once(pf, rt, plan):
    """Working days late count from "today": the first sweep of a day rewrites the tables even
    with nothing due, the next ones that day do not."""
    late_history(pf)
    _, rows = latest(status_pages.late_items_key(plan))
    late = {r["Mã việc"]: r["Trễ (ngày làm việc)"] for r in rows}
    before = tables(plan)
    day = pf.sweep_flow(at=t("2026-12-24T07:30"))
    assert (day["opened"], day["advanced"]) == (0, 0)
    after = tables(plan)
    assert {key: after[key] - before[key] for key in before} == {key: 1 for key in before}
    artifact, rows = latest(status_pages.late_items_key(plan))
    assert {r["Mã việc"]: r["Trễ (ngày làm việc)"] for r in rows} == {
        item_id: days + 1 for item_id, days in late.items()
    }
    assert "24/12/2026 07:30" in artifact.description
    pf.sweep_flow(at=t("2026-12-24T16:00"))
    assert tables(plan) == after
