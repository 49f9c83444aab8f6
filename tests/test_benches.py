"""Each bench runs, small, and prints the JSON its issue names (issue 25, "Bench output
(contract, checked as written)"). Two benches stopped running unnoticed when the schema and the
`check` line grew (go-live's `held_on`, the indicators): a bench nobody can run measures nothing.
The figures themselves are never asserted here: they are the benches' to print."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def bench(name: str, *args: str, timeout: float = 300) -> list[dict]:
    """Run `bench/NAME` with `--json`; the JSON objects it printed, one per line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CCHC_", "PREFECT_"))}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / name), *args, "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    objects = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert objects, done.stdout[-2000:]
    return objects


def test_sweep_bench_prints_its_ratio_to_the_raw_floor():
    [row] = bench("sweep.py", "--items", "3000", "--due", "40", "--pairs", "1")
    assert row["items"] == 3000 and row["due"] == 40 and row["database"] == "sqlite"
    assert row["sweep_s"] > 0 and row["floor_s"] > 0 and row["ratio"] > 0


def test_notify_bench_prints_its_ratio_to_the_bare_loop():
    [row] = bench("notify.py", "--messages", "40", "--pairs", "1")
    assert row["messages"] == 40 and row["database"] == "sqlite" and row["ratio"] > 0


def test_cli_bench_prints_each_command_against_its_floor():
    rows = bench("cli.py", "--pairs", "3")
    assert [r["command"].split()[0] for r in rows] == ["plan", "obligations", "items", "check"]
    for row in rows:
        assert row["seconds"] > 0 and row["floor_seconds"] > 0 and row["floor_ratio"] > 0


@pytest.mark.prefect
def test_prefect_bench_prints_the_flow_overhead():
    rows = bench("prefect_overhead.py", "--items", "40", "--late", "4", "--runs", "1")
    assert [(r["open_items"], r["late"]) for r in rows] == [(0, 0), (40, 0), (40, 4)]
    for row in rows:
        assert row["prefect_database"] == "sqlite" and row["overhead_p90"] is not None
