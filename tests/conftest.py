"""Shared fixtures: the shipped plan, and real databases (a SQLite file, PostgreSQL).

The tiers (markers, pyproject.toml): `postgres`, `prefect`, `browser`, `slow`. `make test-fast`
deselects all four. A test that uses what a tier needs without its marker is refused at
collection (`pytest_collection_modifyitems` below), so the fast loop cannot silently grow a
Prefect server, a PostgreSQL database or a browser."""

from __future__ import annotations

import ast
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import support

from models.db import ensure_schema, make_engine
from schedules.plan_loader import load_plan

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_CONFIG = ROOT / "config"
PG_ADMIN_URL = os.environ.get("CCHC_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session", autouse=True)
def config_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The compiled configs of the tests' commands (`schedules.compiled`) go to a folder of this
    session (each xdist worker its own), not the user's ~/.cache."""
    folder = tmp_path_factory.mktemp("config-cache")
    os.environ["CCHC_CONFIG_CACHE"] = str(folder)
    return folder


@pytest.fixture(scope="session")
def plan():
    return load_plan(SHIPPED_CONFIG)


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A private copy of the shipped config, for tests that edit it."""
    target = tmp_path / "config"
    shutil.copytree(SHIPPED_CONFIG, target)
    return target


def _pg_reachable() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except Exception as exc:  # noqa: BLE001  (any failure means: skip, and say why)
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}"


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def _pg_database(name: str) -> str:
    return f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"


def _fresh_pg_url(request: pytest.FixtureRequest, template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database (a unique name: safe under pytest-xdist), dropped afterwards."""
    if request.node.get_closest_marker("postgres") is None:
        pytest.fail(f"{request.node.nodeid} uses PostgreSQL: mark it @pytest.mark.postgres")
    reason = _pg_reachable()
    if reason:
        pytest.skip(reason)
    name = f"cchc_test_{uuid.uuid4().hex[:12]}"
    _pg_admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    yield _pg_database(name)
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(request):
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    yield from _fresh_pg_url(request)


@pytest.fixture(scope="session")
def migrated_pg_template() -> Iterator[str]:
    """A PostgreSQL database migrated once per session (per xdist worker), the template of
    `migrated_pg_url`; dropped at the end."""
    reason = _pg_reachable()
    if reason:
        pytest.skip(reason)
    name = f"cchc_template_{uuid.uuid4().hex[:12]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    engine = make_engine(_pg_database(name))
    ensure_schema(engine)
    engine.dispose()  # CREATE DATABASE ... TEMPLATE needs it without connections
    yield name
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def migrated_pg_url(request, migrated_pg_template):
    """`pg_url` with the schema already at the newest migration (a copy of the template)."""
    yield from _fresh_pg_url(request, template=migrated_pg_template)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """An empty SQLite file (no schema yet)."""
    return f"sqlite:///{tmp_path / 'cchc.db'}"


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory) -> Path:
    """A SQLite file migrated to the newest revision once per session (per xdist worker):
    running the migrations for every test cost more than most tests."""
    path = tmp_path_factory.mktemp("template") / "cchc.db"
    engine = make_engine(f"sqlite:///{path}")
    ensure_schema(engine)
    engine.dispose()  # the last connection checkpoints the WAL into the file
    assert not path.with_name("cchc.db-wal").exists()
    return path


@pytest.fixture
def migrated_sqlite_url(migrated_sqlite_template: Path, tmp_path: Path) -> str:
    """`sqlite_url` with the schema already at the newest migration (a copy of the template):
    the same file, so a test may ask for both."""
    target = tmp_path / "cchc.db"
    shutil.copyfile(migrated_sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def sqlite_engine(migrated_sqlite_url):
    """An engine on a migrated SQLite file, for the tests whose point is not the database."""
    engine = make_engine(migrated_sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request):
    """Each test that asks for it runs on both databases (the PostgreSQL one only in
    `make test`: marked `postgres`)."""
    if request.param == "sqlite":
        return request.getfixturevalue("migrated_sqlite_url")
    return request.getfixturevalue("migrated_pg_url")


@pytest.fixture
def engine(db_url):
    """An engine on `db_url`, its schema at the newest migration (both kinds come migrated)."""
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def smtp():
    """A real SMTP server on loopback that keeps what it receives (test_mail_support)."""
    from test_mail_support import running_smtp_server

    with running_smtp_server() as server:
        yield server


@pytest.fixture
def browser():
    """Debian's chromium driven by Playwright (`support.launch_chromium`: only for a test
    marked `browser`)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = support.launch_chromium(p)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def harness():
    """A temporary Prefect server (about 10 s to start on an idle machine), started by the first
    test that asks for it and shared by the session's (each xdist worker's: its port and
    database are its own, prefect_test_harness); analytics and heartbeat off (see
    ../shared/stack-notes: the heartbeat costs a second per flow call). Only tests marked
    `prefect` may use it (checked at collection)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        from prefect.settings import (
            PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
            PREFECT_SERVER_ANALYTICS_ENABLED,
            temporary_settings,
        )
        from prefect.testing.utilities import prefect_test_harness

        with (
            temporary_settings({PREFECT_SERVER_ANALYTICS_ENABLED: False}),
            prefect_test_harness(server_startup_timeout=180),  # a loaded machine
            temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
        ):
            yield


TIER_FIXTURES = {"harness": "prefect", "pg_url": "postgres", "migrated_pg_url": "postgres"}
"""A fixture that starts or needs what a tier is about -> the tier's marker."""


def _missing_tier(item: pytest.Item) -> list[str]:
    needs = [m for f, m in TIER_FIXTURES.items() if f in getattr(item, "fixturenames", ())]
    return [m for m in needs if item.get_closest_marker(m) is None]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse a test that uses the Prefect harness or PostgreSQL without the tier's marker:
    `make test-fast` deselects by marker, and must not start them. (Chromium: checked when
    launched, support.launch_chromium.) Then put the longest modules first, for
    `pytest -n 2 --dist loadfile --no-loadscope-reorder` (make test)."""
    unmarked = [
        f"{item.nodeid}: add @pytest.mark.{marker}"
        for item in items
        for marker in _missing_tier(item)
    ]
    if unmarked:
        raise pytest.UsageError("tests without their tier's marker:\n" + "\n".join(unmarked))
    items.sort(key=_start_early)


def _start_early(item: pytest.Item) -> int:
    """A real Prefect server first, then the harness, then the browser and slow tests, then the
    rest (a stable sort: the modules' order otherwise). xdist (`--dist loadfile`) hands each
    module to one worker (its module-scoped fixtures, such as test_prefect_server's real
    server, are built once) in the order of their first test: the longest start first, and no
    long one starts last while the other worker idles. (`--dist loadgroup` could keep every
    harness test on one worker, but with pytest 9.2 it silently groups nothing: pytest-xdist
    issue 1386.)"""
    marks = {m.name for m in item.iter_markers()}
    if {"prefect", "slow"} <= marks:
        return 0
    if "prefect" in marks:
        return 1
    return 2 if marks & {"browser", "slow"} else 3


def pytest_runtest_setup(item: pytest.Item) -> None:
    """The running test's markers, for the checks made when a tier's part starts
    (support.launch_chromium wants `browser`)."""
    support.running_markers = {m.name for m in item.iter_markers()}


def _excluded_markers(config: pytest.Config) -> set[str]:
    """The markers `-m` excludes when it reads `not a and not b ...` (make test-fast's), else
    none."""
    terms = [t.strip() for t in (config.getoption("markexpr") or "").split(" and ")]
    if not all(re.fullmatch(r"not \w+", t) for t in terms):
        return set()
    return {t.removeprefix("not ") for t in terms}


def _module_markers(path: Path) -> set[str]:
    """The `pytest.mark.X` names in a test module's `pytestmark` (read, not imported)."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
        ):
            return {
                n.attr
                for n in ast.walk(node.value)
                if isinstance(n, ast.Attribute) and getattr(n.value, "attr", None) == "mark"
            }
    return set()


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Do not even import a module whose every test `-m` deselects (its `pytestmark`): the
    Prefect modules import Prefect, seconds of every `make test-fast`."""
    if collection_path.suffix != ".py" or not collection_path.name.startswith("test_"):
        return None
    excluded = _excluded_markers(config)
    return True if excluded & _module_markers(collection_path) else None
