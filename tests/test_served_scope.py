"""The database records which city and communes it serves (issue 23): the first `init-db` or
writing command stamps it; a command or a worker whose config names another city, or communes
the database was not set up for, is refused with a Vietnamese message saying how to fix it,
and nothing is written. (Real SQLite files; `cchc` through click's runner.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from city_support import commune_codes, write_city
from sqlalchemy import func, select
from support import ROOT, cli_env, run_cchc

from models.db import make_engine, transaction
from models.scope import served_scope
from models.tables import WorkItem

SWEEP = ("sweep", "--at", "2027-03-20T08:00", "--no-mail")


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    """Two generated cities of the same code: 3 communes and 5 (a worker once took the larger
    one's run against the smaller one's database)."""
    return {
        "small": write_city(tmp_path / "small", commune_codes(3)),
        "large": write_city(tmp_path / "large", commune_codes(5)),
    }


def env_for(tmp_path: Path, config: Path, database: str) -> dict[str, str]:
    return cli_env(tmp_path / "data", database, CCHC_CONFIG=str(config))


def item_count(url: str) -> int:
    engine = make_engine(url)
    with transaction(engine) as session:
        count = session.execute(select(func.count()).select_from(WorkItem)).scalar_one()
    engine.dispose()
    return count


def test_a_database_serves_the_city_that_stamped_it(folders, tmp_path, sqlite_url):
    small = env_for(tmp_path, folders["small"], sqlite_url)
    large = env_for(tmp_path, folders["large"], sqlite_url)
    done = run_cchc(small, "init-db")
    assert "Ghi nhận: cơ sở dữ liệu phục vụ thành phố haiphong" in done.stdout
    stamp = served_scope(make_engine(sqlite_url))
    assert stamp is not None and stamp.code == "haiphong" and stamp.is_city
    assert stamp.communes == ["haiphong", "xa001", "xa002", "xa003"]
    run_cchc(small, *SWEEP)
    before = item_count(sqlite_url)
    assert before

    # The larger city's config against the smaller city's database: refused, nothing written.
    refused = run_cchc(large, *SWEEP, ok=False)
    assert refused.returncode == 1
    assert "phục vụ 4 xã của thành phố mã 'haiphong'" in refused.stderr
    assert "thêm 2 xã chưa được ghi nhận (xa004, xa005)" in refused.stderr
    assert "CCHC_DATABASE_URL" in refused.stderr and "`cchc init-db`" in refused.stderr
    assert item_count(sqlite_url) == before

    # A worker's flow-run process (its runtime loaded from the environment) refuses the same.
    from flows import runtime_state
    from usecases.served import WrongDatabase

    with pytest.MonkeyPatch.context() as mp:
        for name, value in large.items():
            mp.setenv(name, value)
        runtime_state.release_runtime()
        mp.setattr(runtime_state, "_loaded", None)
        with pytest.raises(WrongDatabase, match="chưa được ghi nhận"):
            runtime_state.runtime()

    # Fewer communes than stamped (one commune's command) is fine; adding communes is the
    # admin's step: init-db records them, then the larger city sweeps.
    run_cchc(small, *SWEEP, "--commune", "xa002")
    recorded = run_cchc(large, "init-db")
    assert "mới ghi nhận: 2" in recorded.stdout
    run_cchc(large, *SWEEP)
    assert item_count(sqlite_url) > before


def test_another_citys_database_is_refused_until_rebound(folders, tmp_path, sqlite_url):
    city = env_for(tmp_path, folders["small"], sqlite_url)
    commune = env_for(tmp_path, ROOT / "config", sqlite_url)  # the shipped single commune
    run_cchc(commune, *SWEEP)  # the first writing command stamps an unstamped database
    stamp = served_scope(make_engine(sqlite_url))
    assert stamp is not None and not stamp.is_city and len(stamp.communes) == 1
    before = item_count(sqlite_url)

    for args in [SWEEP, ("init-db",)]:
        refused = run_cchc(city, *args, ok=False)
        assert refused.returncode == 1
        assert f"phục vụ xã mã '{stamp.code}'" in refused.stderr
        assert "không phải thành phố mã 'haiphong'" in refused.stderr
        assert "`cchc init-db --rebind`" in refused.stderr
    assert item_count(sqlite_url) == before
    run_cchc(city, "init-db", "--rebind")
    assert served_scope(make_engine(sqlite_url)).code == "haiphong"  # type: ignore[union-attr]
