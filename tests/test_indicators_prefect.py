"""The consolidated report's Prefect artifact of indicators: after a sweep while the report is
open, `cchc-<commune>-indicators` shows each indicator for the commune and per unit against its
target."""

from __future__ import annotations

import pytest
from support import find_item, latest_artifact, runtime_env

from cchc.runtime.settings import Settings
from models.db import ensure_schema, make_engine
from notifications import status_pages
from schedules.dates import parse_instant
from usecases.indicator_values import enter_values

pytestmark = pytest.mark.prefect


@pytest.fixture
def pf(harness):
    from flows import prefect_flows

    yield prefect_flows
    prefect_flows.release_runtime()


def test_the_sweep_publishes_the_indicators_of_the_open_consolidated_report(
    pf, plan, sqlite_url, tmp_path, monkeypatch
):
    runtime_env(monkeypatch, tmp_path / "data", sqlite_url)
    engine = make_engine(sqlite_url)
    ensure_schema(engine)
    pf.use_runtime(plan, engine, Settings.from_env(str(plan.folder)))
    try:
        pf.sweep_flow(at=parse_instant("2027-03-02T07:30"))
        item = find_item(engine, "bao-cao-cchc-dinh-ky", "TTPVHCC", "2027-Q1")
        at = parse_instant("2027-03-10T09:00")
        texts = {"ho-so-truc-tuyen": "160/200", "tthc-thanh-toan-truc-tuyen": "12/12"}
        enter_values(plan, engine, item.id, texts, at, "TTPVHCC")
        pf.sweep_flow(at=parse_instant("2027-03-11T07:30"))
        page = latest_artifact(status_pages.indicators_key(plan))
        assert page.type == "markdown"
        quarter = page.data.split("## Chỉ tiêu của kế hoạch, quý I năm 2027")[1]
        online = next(
            line for line in quarter.splitlines() if "Tỷ lệ hồ sơ giải quyết trực tuyến" in line
        )
        assert "**Toàn xã** | 80 % | ≥ 85 %" in online
        assert r"chưa đạt \(còn thiếu 5 điểm %\)" in online
        assert "| TTPVHCC | 100 % |" in quarter
    finally:
        engine.dispose()
