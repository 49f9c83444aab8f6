"""Quarantine on the Prefect side (issue 23): a city's sweep run with one commune's files broken
serves every commune (the broken one on its last valid config), its final state and summary
name the quarantined commune, the city's summary page lists it with FILE:LINE, and the
`cchc.commune.quarantined` event it emits fires the "commune quarantined" automation that tells
the city's admin (under `prefect_test_harness`: a real temporary Prefect server; a real SQLite
file)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from city_support import make_city
from sqlalchemy import select
from support import latest_artifact, prefect_call, runtime_env, wait_automation_triggered

from cchc.runtime.settings import Settings
from flows.deploy_automations import automation_names, automations
from models.db import ensure_schema, make_engine, transaction
from models.tables import WorkItem
from notifications import sweep_summary
from schedules.dates import parse_instant
from usecases.quarantine import load_serving_city, remember_applied

pytestmark = pytest.mark.prefect


def test_the_sweep_names_the_quarantined_commune_and_tells_the_admin(
    harness, tmp_path, sqlite_url, monkeypatch
):
    from flows import prefect_flows as pf

    runtime_env(monkeypatch, tmp_path / "data")
    folder = tmp_path / "city"
    valid = make_city(folder, 3, code="hpq")
    engine = make_engine(sqlite_url)
    ensure_schema(engine)
    since = datetime.now(UTC)
    remember_applied(engine, valid, since)  # a first valid writing command
    ids = {}
    for automation in automations(valid):
        ids[automation.name] = prefect_call(lambda c, a=automation: c.create_automation(a))

    path = folder / "communes" / "xa003" / "units.yaml"
    text = path.read_text(encoding="utf-8")
    line = text[: text.index("code: VP")].count("\n") + 1
    path.write_text(text.replace("code: VP", "code: vp", 1), encoding="utf-8")
    city = load_serving_city(folder, engine)
    assert [q.code for q in city.quarantined] == ["xa003"] and "xa003" in city.plans
    pf.use_runtime(city, engine, Settings.from_env(str(folder)))
    try:
        state = pf.sweep_flow(at=parse_instant("2027-03-02T07:30"), return_state=True)
    finally:
        pf.release_runtime()
    assert state.is_completed(), state.message
    assert "1 xã bị cách ly do cấu hình lỗi: xa003" in state.message
    run = prefect_call(lambda c: c.read_flow_run(state.state_details.flow_run_id))
    assert "cách ly" in run.tags
    (row,) = state.result()["quarantined"]
    assert row["commune"] == "xa003" and not row["paused"]
    assert row["problems"][0].startswith(f"{path}:{line}:")
    with transaction(engine) as session:
        communes = set(session.exec(select(WorkItem.commune)).scalars())
    assert {"xa001", "xa002", "xa003"} <= communes  # the broken one on its last valid files

    page = latest_artifact(sweep_summary.city_summary_key(city)).data
    assert "Xã bị cách ly do cấu hình lỗi" in page and "units.yaml" in page
    names = automation_names(city)
    [found] = prefect_call(lambda c: c.read_automations_by_name(names.commune_quarantined))
    assert found.trigger.expect == {"cchc.commune.quarantined"}
    assert wait_automation_triggered(ids[names.commune_quarantined], since, 30), "did not fire"
    engine.dispose()
