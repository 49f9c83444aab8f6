"""Prefect at a city's size (issue 23): a city's sweep run always reaches its final state, its
tags bounded (Prefect's server refuses the final state of a run carrying over 100 tags) and its
artifacts bounded per run (CCHC_ARTIFACTS_PER_RUN; the communes whose pages did not fit go first
in the next sweep). Under `prefect_test_harness` with a generated city (tests/city_support.py)
on a real SQLite file.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from city_support import commune_codes, write_city
from support import prefect_call, runtime_env

from cchc.runtime.settings import Settings
from models.db import ensure_schema, make_engine
from notifications.office_links import LATE_LINKS
from notifications.sweep_summary import LATE_TAG, LATE_TAG_MORE, LATE_TAGS
from schedules.city_loader import load_city
from schedules.dates import parse_instant

pytestmark = pytest.mark.prefect

COMMUNES = 16
BUDGET = 20
"""CCHC_ARTIFACTS_PER_RUN here: less than a day's first sweep of 16 communes needs (2 tables
each, and the consolidated report's view while one is open)."""
OPENS = parse_instant("2027-03-02T07:30")
"""Every commune's Q1 reports open (due 16/03/2027)."""
LATE = parse_instant("2027-03-25T07:30")
"""Every commune's Q1 reports are late."""


@pytest.fixture
def pf(harness):
    from flows import prefect_flows

    yield prefect_flows
    prefect_flows.release_runtime()


@pytest.fixture
def city_rt(pf, tmp_path: Path, sqlite_url, monkeypatch):
    runtime_env(monkeypatch, tmp_path / "data", sqlite_url)
    monkeypatch.setenv("CCHC_ARTIFACTS_PER_RUN", str(BUDGET))
    city = load_city(write_city(tmp_path / "city", commune_codes(COMMUNES)))
    engine = make_engine(sqlite_url)
    ensure_schema(engine)
    yield pf.use_runtime(city, engine, Settings.from_env(str(city.folder)))
    engine.dispose()


def run_artifacts(flow_run_id) -> list:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    return prefect_call(
        lambda c: c.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    )


def sweep(pf, at):
    """One sweep flow run as of `at`: (its summary, the run as the server holds it, the
    artifacts it wrote)."""
    state = pf.sweep_flow(at=at, return_state=True)
    assert state.is_completed(), state.message
    run_id = state.state_details.flow_run_id
    run = prefect_call(lambda c: c.read_flow_run(run_id))
    return state.result(), run, run_artifacts(run_id)


def test_a_city_sweep_keeps_its_tags_and_artifacts_bounded(pf, city_rt):
    summary, run, written = sweep(pf, OPENS)
    assert summary["opened"] > COMMUNES  # every commune had work
    assert summary["artifacts"] <= BUDGET and summary["deferred"] > 0
    assert len(written) <= BUDGET
    first_deferred = summary["deferred"]

    # The next sweep the same day publishes what waited, first.
    again, run, written = sweep(pf, OPENS + timedelta(hours=1))
    assert again["opened"] == again["advanced"] == 0
    assert len(written) <= BUDGET and again["deferred"] < first_deferred
    while again["deferred"]:
        again, run, written = sweep(pf, OPENS + timedelta(hours=2))
    quiet, run, written = sweep(pf, OPENS + timedelta(hours=3))
    assert quiet["artifacts"] == 0 and quiet["deferred"] == 0  # nothing changed: no page
    # no commune's page: the run's links to the worst communes' tables and the city's summary
    assert {a.key for a in written if a.key} == {"cchc-haiphong-sweep-summary"}
    assert len(written) <= LATE_LINKS + 2

    # Every commune late: a bounded number of tags, the run in its final state on the server.
    late, run, written = sweep(pf, LATE)
    assert late["late"] >= COMMUNES
    assert run.state_type.value == "COMPLETED"
    late_tags = [tag for tag in run.tags if tag.startswith(LATE_TAG)]
    assert len(late_tags) == LATE_TAGS + 1 and LATE_TAG_MORE in late_tags
    assert len(run.tags) <= LATE_TAGS + 5
    assert len(written) <= BUDGET
    links = [a for a in written if a.type == "link"]
    assert len(links) <= LATE_LINKS + 1
