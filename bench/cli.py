"""Start-up cost of the read-only commands, as a multiple of a bare `python -c pass`.

A read-only command (`check`, `plan`, `items`, `report`, `outbox`) should answer in a blink: its
cost is mostly what it imports. Each one runs as its own process, the way a user runs it (the
`cchc` entry point next to this interpreter), on the shipped config (`--config config/`) and a
scratch SQLite database (a temp CCHC_DATA_DIR: `cchc init-db`, then one
`cchc sweep --at 2027-03-10T08:00 --no-mail` so items and outbox rows exist). What is measured
is the child's CPU time (user + sys, from `resource.getrusage(RUSAGE_CHILDREN)` deltas), not
wall time, so a busy machine disturbs it less. `python -c pass`, same interpreter, is measured
the same way in the same run, interleaved with the commands (one round runs everything once),
and each command's cost is given as a ratio to it.

Targets: `plan` and `items` at most 8x `python -c pass`, `check` at most 12x.

Prints a table of median CPU seconds and the ratio (median command / median `python -c pass`),
with the min / median / max of the per-round ratios (each round's command against the same
round's `python -c pass`). `--json` prints one JSON object per command per line instead:
`command`, `runs`, `seconds` (median), `python_pass_seconds` (median), `ratio`, `min`, `median`,
`max` (of the per-round ratios), `target` (null when none) and `met`.

    .venv/bin/python bench/cli.py [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"

COMMANDS: list[tuple[str, float | None]] = [
    ("--help", None),
    ("check", 12.0),
    ("plan --from 2027-01-01 --to 2027-12-31", 8.0),
    ("items", 8.0),
    ("report --year 2027", None),
    ("outbox", None),
]
"""Each read-only command (arguments after `cchc --config config/`) and its target ratio."""

PASS = "python -c pass"
SEED = (["init-db"], ["sweep", "--at", "2027-03-10T08:00", "--no-mail"])


def cchc_argv() -> list[str]:
    """How a user runs cchc with this interpreter: its console script, else the same import."""
    script = Path(sys.executable).with_name("cchc")
    if script.exists():
        return [sys.executable, str(script)]
    return [sys.executable, "-c", "import sys; from cchc.cli import main; sys.exit(main())"]


def environment(data_dir: str) -> dict[str, str]:
    """The caller's environment with the scratch data folder, and no other CCHC_ or PREFECT_
    variable (bytecode is written and read as usual)."""
    skip = ("CCHC_", "PREFECT_", "PYTHONDONTWRITEBYTECODE", "PYTHONPROFILEIMPORTTIME")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    return env | {"CCHC_DATA_DIR": data_dir}


def cpu_seconds(argv: list[str], env: dict[str, str]) -> float:
    """Run argv to completion; the CPU seconds (user + sys) it used. Exits on a failure."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, stdin=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(argv)}: exit {done.returncode}\n{done.stderr.decode(errors='replace')}"
        )
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(runs: int) -> tuple[list[float], dict[str, list[float]]]:
    """CPU seconds of `python -c pass` and of each command, `runs` times, interleaved."""
    cchc = cchc_argv() + ["--config", str(CONFIG)]
    passing = [sys.executable, "-c", "pass"]
    with tempfile.TemporaryDirectory(prefix="cchc-bench-cli-") as data_dir:
        env = environment(data_dir)
        for args in SEED:
            cpu_seconds(cchc + args, env)
        argvs = {command: cchc + command.split() for command, _ in COMMANDS}
        for argv in [passing, *argvs.values()]:  # warm-up: bytecode and page caches
            cpu_seconds(argv, env)
        baseline: list[float] = []
        seconds: dict[str, list[float]] = {command: [] for command in argvs}
        for _ in range(runs):
            baseline.append(cpu_seconds(passing, env))
            for command, argv in argvs.items():
                seconds[command].append(cpu_seconds(argv, env))
    return baseline, seconds


def results(baseline: list[float], seconds: dict[str, list[float]]) -> list[dict]:
    base = statistics.median(baseline)
    rows = []
    for command, target in COMMANDS:
        times = seconds[command]
        ratios = [t / b for t, b in zip(times, baseline, strict=True)]
        ratio = statistics.median(times) / base
        rows.append(
            {
                "command": command,
                "runs": len(times),
                "seconds": round(statistics.median(times), 4),
                "python_pass_seconds": round(base, 4),
                "ratio": round(ratio, 2),
                "min": round(min(ratios), 2),
                "median": round(statistics.median(ratios), 2),
                "max": round(max(ratios), 2),
                "target": target,
                "met": None if target is None else ratio <= target,
            }
        )
    return rows


def table(rows: list[dict], runs: int) -> str:
    base = rows[0]["python_pass_seconds"]
    lines = [
        f"CPU seconds (user + sys), median of {runs} runs; {PASS}: {base:.3f} s ({sys.executable})",
        f"{'command':<42} {'seconds':>8} {'ratio':>7} {'min':>7} {'median':>7} {'max':>7}  target",
    ]
    for r in rows:
        verdict = (
            ""
            if r["target"] is None
            else f"<= {r['target']:g}x " + ("met" if r["met"] else "NOT met")
        )
        lines.append(
            f"cchc {r['command']:<37} {r['seconds']:>8.3f} {r['ratio']:>6.1f}x"
            f" {r['min']:>6.1f}x {r['median']:>6.1f}x {r['max']:>6.1f}x  {verdict}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each command (default 5)")
    parser.add_argument("--json", action="store_true", help="one JSON object per command")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    baseline, seconds = measure(args.runs)
    rows = results(baseline, seconds)
    if args.json:
        for row in rows:
            print(json.dumps(row))
    else:
        print(table(rows, args.runs))


if __name__ == "__main__":
    main()
