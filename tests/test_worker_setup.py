"""A worker is `pip install` of cchc plus settings (issue 23): the deployments name their flows
by module path (Prefect's `EntrypointType.MODULE_PATH`) and record nothing of the deploying
machine; the config reaches a worker as a folder (CCHC_CONFIG) or as the snapshot the database
keeps (CCHC_CONFIG_SOURCE=database). No Prefect server: the specs `cchc deploy` writes, and a
worker's runtime as its flow-run process loads it."""

from __future__ import annotations

from pathlib import Path

import pytest
from city_support import commune_codes, write_city
from support import cli_env, run_cchc

from cchc.runtime.settings import Settings
from flows.deploy_plan import wanted
from schedules.city_loader import load_city


@pytest.fixture
def city_folder(tmp_path: Path) -> Path:
    return write_city(tmp_path / "city", commune_codes(3))


def test_deployments_name_flows_by_module_path_and_no_folder(city_folder, tmp_path):
    from prefect.flows import Flow, load_flow_from_entrypoint

    city = load_city(city_folder)
    specs = wanted(city, Settings.from_env(str(city_folder)), None)
    assert specs and all(spec.job_variables == {} for spec in specs)
    for spec in specs:
        assert ":" not in spec.entrypoint and spec.entrypoint.startswith("flows.prefect_flows.")
        assert isinstance(load_flow_from_entrypoint(spec.entrypoint), Flow)  # what a worker does
    [sweep] = [s for s in specs if s.name.endswith("-sweep")]
    assert sweep.entrypoint == "flows.prefect_flows.sweep_flow"

    folder_mode = wanted(city, Settings.from_env(str(city_folder)), tmp_path)  # --folder
    assert folder_mode[0].job_variables == {
        "working_dir": str(tmp_path.resolve()),
        "env": {"CCHC_CONFIG": str(city_folder.resolve())},
    }


def test_a_deployment_names_the_kinds_of_commune_it_serves(tmp_path):
    """Hải Phòng has xã, phường and đặc khu: its deployments serve "các xã, phường, đặc khu",
    not "các xã", and an ad hoc run asks to choose among them; a city of xã only says "xã"."""
    mixed = load_city(write_city(tmp_path / "mixed", commune_codes(5), kinds=True))
    xa_only = load_city(write_city(tmp_path / "xa", commune_codes(2)))
    for city, kinds in ((mixed, "xã, phường, đặc khu"), (xa_only, "xã")):
        specs = wanted(city, Settings.from_env(str(city.folder)), None)
        [sweep] = [s for s in specs if s.name.endswith("-sweep")]
        assert f" — các {kinds} của " in sweep.description
        ad_hoc = [s for s in specs if "chạy thủ công" in s.description]
        assert ad_hoc and all(f"chọn {kinds} (commune), " in s.description for s in ad_hoc)


def test_a_worker_reads_the_config_the_database_keeps(city_folder, tmp_path, sqlite_url):
    run_cchc(cli_env(tmp_path / "data", sqlite_url, CCHC_CONFIG=str(city_folder)), "init-db")
    from flows import runtime_state

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CCHC_DATABASE_URL", sqlite_url)
        mp.setenv("CCHC_DATA_DIR", str(tmp_path / "worker"))
        mp.setenv("CCHC_CONFIG", str(tmp_path / "no-such-folder"))  # another machine: no folder
        mp.setenv("CCHC_CONFIG_SOURCE", "database")
        runtime_state.release_runtime()
        mp.setattr(runtime_state, "_loaded", None)
        rt = runtime_state.runtime()
        assert rt.city.code == "haiphong"
        assert sorted(rt.city.plans) == ["xa001", "xa002", "xa003"]
        assert rt.city.office is not None
        rt.engine.dispose()


def test_a_worker_without_any_config_in_the_database_says_so(tmp_path, sqlite_url):
    from flows import runtime_state
    from usecases.errors import UserError

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CCHC_DATABASE_URL", sqlite_url)
        mp.setenv("CCHC_DATA_DIR", str(tmp_path / "worker"))
        mp.setenv("CCHC_CONFIG_SOURCE", "database")
        runtime_state.release_runtime()
        mp.setattr(runtime_state, "_loaded", None)
        with pytest.raises(UserError, match="chưa có cấu hình nào"):
            runtime_state.runtime()


def test_a_fanned_out_sweeps_changes_read_back_by_commune(city_folder, tmp_path, sqlite_url):
    """What a city's parent run reports of its groups' runs: read from the log and outbox."""
    from sqlalchemy import func, select

    from models.db import make_engine, transaction
    from models.tables import Outbox, WorkItem
    from schedules.dates import parse_instant
    from usecases.sweep_groups import commune_groups, sweep_changes

    assert commune_groups(["xa003", "xa001", "xa002"], 2) == [["xa001", "xa002"], ["xa003"]]
    env = cli_env(tmp_path / "data", sqlite_url, CCHC_CONFIG=str(city_folder))
    run_cchc(env, "sweep", "--at", "2027-03-02T07:30", "--no-mail")
    engine = make_engine(sqlite_url)
    changes = sweep_changes(engine, parse_instant("2027-03-02T07:30"))
    with transaction(engine) as session:
        items = dict(
            session.execute(select(WorkItem.commune, func.count()).group_by(WorkItem.commune)).all()
        )
        mails = session.execute(select(func.count()).select_from(Outbox)).scalar_one()
    engine.dispose()
    assert dict(changes["opened"]) == items and set(items) >= {"xa001", "xa002", "xa003"}
    assert sum(changes["queued"].values()) == mails > 0
