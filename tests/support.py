"""Helpers shared by several test modules (real parts only: the database, the config folder,
Debian's chromium)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from models.db import transaction
from models.tables import WorkItem

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    # Without the background-networking flags Chromium keeps calling out through this
    # machine's closed network (see ../shared/stack-notes.md).
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


running_markers: set[str] = set()
"""The markers of the test being run (set by conftest.pytest_runtest_setup)."""


def launch_chromium(playwright):
    """Debian's chromium through Playwright: never `playwright install`. Only for a test marked
    `browser` (make test-fast deselects them)."""
    assert "browser" in running_markers, "a test that launches Chromium: mark it browser"
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def find_item(engine, obligation: str, unit: str, period: str) -> WorkItem:
    with transaction(engine) as s:
        query = select(WorkItem).where(
            WorkItem.obligation == obligation, WorkItem.unit == unit, WorkItem.period == period
        )
        return s.exec(query).scalars().one()


def with_shift(plan, shift: str):
    """The plan with the commune's default due-date `shift` replaced (an obligation that sets
    its own keeps it)."""
    defaults = plan.commune.defaults.model_copy(update={"shift": shift})
    return replace(plan, commune=plan.commune.model_copy(update={"defaults": defaults}))


def edit(path: Path, old: str, new: str) -> int:
    """Replace `old` (once) in `path`; return the 1-based line where it stood."""
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return line


def remove_obligation(config_dir: Path, oid: str) -> None:
    """Delete one obligation's block from the config folder's YAML files."""
    for path in Path(config_dir).glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        block = re.search(rf"^  - id: {re.escape(oid)}\n(?:(?!  - id: ).*\n)*", text, re.M)
        if block:
            path.write_text(text[: block.start()] + text[block.end() :], encoding="utf-8")
            return
    raise AssertionError(f"{oid} not found in {config_dir}")


ROOT = Path(__file__).resolve().parent.parent


def live_since_start(target: Path, source: Path | None = None) -> Path:
    """A copy of the shipped config (or `source`) at `target` whose commune went live on its
    `start` date (`go_live:`): a first sweep months later catches up on every item due since,
    as before go-live existed, instead of holding them for the office (tests/test_golive.py).
    For tests about other things that sweep a fresh database late."""
    shutil.copytree(source or ROOT / "config", target)
    return go_live_on_start(target)


def go_live_on_start(target: Path) -> Path:
    """`live_since_start` of the config folder `target`, in place."""
    commune = target / "commune.yaml"
    text = commune.read_text(encoding="utf-8")
    found = re.search(r"^  start: (\S+)\n", text, re.M)
    assert found, "commune.yaml has a start date"
    text = text[: found.end()] + f"  go_live: {found[1]}\n" + text[found.end() :]
    commune.write_text(text, encoding="utf-8")
    return target


def live_plan(plan):
    """The plan with its commune live since its `start` date (`go_live`): a first sweep months
    later catches up on every item due since instead of holding them (see `live_since_start`)."""
    return replace(plan, commune=plan.commune.model_copy(update={"go_live": plan.commune.start}))


def cli_env(data_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a `cchc` process on the shipped config and the given database."""
    return {
        **os.environ,
        "CCHC_DATA_DIR": str(data_dir),
        "CCHC_DATABASE_URL": database_url,
        "CCHC_CONFIG": str(ROOT / "config"),
        **extra,
    }


def runtime_env(monkeypatch, data_dir: Path, database_url: str | None = None) -> None:
    """The environment a runtime's `Settings.from_env` reads, through `monkeypatch`: no SMTP
    server (every CCHC_SMTP_ variable removed), data under `data_dir` and, when given, the
    database at `database_url`."""
    for name in [n for n in os.environ if n.startswith("CCHC_SMTP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CCHC_DATA_DIR", str(data_dir))
    if database_url is not None:
        monkeypatch.setenv("CCHC_DATABASE_URL", database_url)


def run_cchc(env: dict, *args: str, cwd=None, ok: bool = True) -> subprocess.CompletedProcess:
    """`cchc ARGS` run in this process (click's CliRunner) with exactly the environment `env`
    and the working directory `cwd`, answered as a finished process (returncode, stdout,
    stderr); with `ok`, fail the test on a non-zero exit. An exception the command lets out
    fails the test with its traceback (a real process would print it and exit 1). Starting a
    `cchc` process costs a second or more per call: `run_cchc_process` for the few tests that
    are about the real command."""
    from click.testing import CliRunner

    from cchc.cli import main

    with _environment(env), contextlib.chdir(cwd or os.getcwd()):
        result = CliRunner().invoke(main, list(args), prog_name="cchc", catch_exceptions=False)
    done = subprocess.CompletedProcess(
        ["cchc", *args], result.exit_code, result.stdout, result.stderr
    )
    if ok:
        assert done.returncode == 0, done.stderr
    return done


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    """`os.environ` is exactly `env` inside the block (what a new process would get)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_cchc_process(
    env: dict, *args: str, cwd=None, ok: bool = True
) -> subprocess.CompletedProcess:
    """Run the real `cchc` command (`python -m cchc.cli`) as its own process; with `ok`, fail
    the test on a non-zero exit."""
    done = subprocess.run(
        [sys.executable, "-m", "cchc.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if ok:
        assert done.returncode == 0, done.stderr
    return done


def run_python(code: str, env: dict[str, str]) -> None:
    """Run `code` in a new Python process (`python -c`) with exactly the environment `env`; fail
    the test, with the process's stderr, on a non-zero exit."""
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def prefect_call(fn):
    """`fn(client)` with a client of the Prefect API in force (the test harness's)."""
    import asyncio

    from prefect.client.orchestration import get_client

    async def go():
        async with get_client() as client:
            return await fn(client)

    return asyncio.run(go())


def latest_artifact(key: str):
    """The newest artifact of `key` (asserted to exist)."""
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    found = prefect_call(
        lambda c: c.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    )
    assert found, f"no artifact {key}"
    return found[0]


def recent_flow_runs(limit: int = 200) -> list:
    """The newest flow runs, newest first. (Unsorted, the API pages by random id: once the
    session's server holds more than `limit` runs, a run just made could be missing.)"""
    from prefect.client.schemas.sorting import FlowRunSort

    return prefect_call(
        lambda c: c.read_flow_runs(sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=limit)
    )


def automation_triggered(automation_id, since: datetime) -> list:
    """The `prefect.automation.triggered` events of the automation `automation_id` since
    `since`."""
    from prefect.events.filters import (
        EventFilter,
        EventNameFilter,
        EventOccurredFilter,
        EventResourceFilter,
    )

    page = prefect_call(
        lambda c: c.read_events(
            filter=EventFilter(
                occurred=EventOccurredFilter(since=since),
                event=EventNameFilter(name=["prefect.automation.triggered"]),
                resource=EventResourceFilter(id=[f"prefect.automation.{automation_id}"]),
            ),
            limit=50,
        )
    )
    return page.events


def wait_automation_triggered(automation_id, since: datetime, timeout: float) -> list:
    """`automation_triggered`, polled each second until it finds some or `timeout` seconds
    have passed."""
    deadline = time.monotonic() + timeout
    while True:
        found = automation_triggered(automation_id, since)
        if found or time.monotonic() > deadline:
            return found
        time.sleep(1)
