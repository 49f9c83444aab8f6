"""`make run` takes the intake's port like Prefect's (INTAKE_PORT), and `cchc report` counts as of
`--at`: both as the Makefile, `--help`, the README and the admin guide (docs/admin.md) say."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from support import cli_env, run_cchc

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
ADMIN_GUIDE = (ROOT / "docs" / "admin.md").read_text(encoding="utf-8")


def make_run_recipe(**variables: str) -> str:
    """What `make run` would execute (`make -n`: nothing runs)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    done = subprocess.run(
        ["make", "-n", "run", *(f"{k}={v}" for k, v in variables.items())],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_run_starts_the_intake_on_intake_port():
    recipe = make_run_recipe(INTAKE_PORT="8099", PREFECT_PORT="4301")
    assert re.search(r"cchc serve-intake --host 127\.0\.0\.1 --port 8099\b", recipe), recipe
    # The links in mails point at that port unless CCHC_PUBLIC_URL says otherwise.
    assert "CCHC_INTAKE_ADDRESS=127.0.0.1:8099" in recipe
    # ... without marking a production set-up: CCHC_PUBLIC_URL would require CCHC_SECRET.
    assert "CCHC_PUBLIC_URL" not in recipe
    assert "--port 4301" in recipe
    default = make_run_recipe()
    assert "--port 8080" in default and "--port 4200" in default


def test_the_readme_says_how_to_move_the_intake():
    assert "INTAKE_PORT=8090 make run" in README


def test_report_takes_at_as_its_help_and_the_admin_guide_say(plan, sqlite_url, tmp_path):
    env = cli_env(tmp_path / "data", sqlite_url)
    assert "--at" in run_cchc(env, "report", "--help").stdout
    [row] = [line for line in ADMIN_GUIDE.splitlines() if line.startswith("| `cchc report")]
    assert "[--at DATETIME]" in row

    run_cchc(env, "init-db")
    run_cchc(env, "sweep", "--at", "2026-12-02T07:30", "--no-mail")

    def totals(at: str) -> dict:
        rows = json.loads(run_cchc(env, "report", "--year", "2026", "--format", "json",
                                   "--at", at).stdout)  # fmt: skip
        return {k: sum(r[k] for r in rows) for k in ("pending", "overdue_open")}

    before, after = totals("2026-12-10T12:00"), totals("2026-12-20T12:00")
    assert before["pending"] > 0 and before["overdue_open"] == 0
    assert after["overdue_open"] == before["pending"] and after["pending"] == 0
