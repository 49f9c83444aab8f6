"""Read-only commands against their library floor: CPU time of `cchc plan`, `obligations`, `items`
and `check` next to a program that prints the same bytes using only the libraries they need.

Each command runs as its own process, the way a user runs it (the `cchc` entry point next to
this interpreter), on the shipped config (`--config config/`) and a scratch SQLite database (a
temp CCHC_DATA_DIR: `cchc init-db`, then one `cchc sweep --at 2027-03-10T08:00 --no-mail` so
items and outbox rows exist). Its floor is `bench/cli_floor.py` (read its docstring): click,
PyYAML's C loader, pydantic models of the config files, Vietnam's holidays alone, dateutil and
tabulate; SQLAlchemy Core for `items`; jinja2 compiling the mail templates for `check`. The
floor's output must be byte for byte the command's (checked on every run: the bench stops
otherwise).

What is measured is each child's CPU time (user + sys, `resource.getrusage(RUSAGE_CHILDREN)`
deltas), not wall time, so a busy machine disturbs it less. After one warm-up of each (bytecode,
page caches, cchc's compiled config), `--pairs` rounds (default 5, at least 3) run each command
and its floor side by side, the order alternating from one round to the next; each round's
ratio is command ÷ floor. `python -c pass` is measured in each round too, for reference.
`--no-cache` runs cchc with CCHC_CONFIG_CACHE=off (the config read from YAML every time, as
before the compiled config).

Targets: `plan`, `obligations`, `items` at most 1.3x their floor, `check` at most 1.5x.

Prints a table: median CPU seconds of the command and of its floor, the ratio of the medians,
and min / median / max of the per-round ratios. `--json` prints one JSON object per command
per line instead: `command`, `pairs`, `seconds` (median), `floor_seconds` (median),
`floor_ratio` (the median of the per-round ratios), `floor_ratio_min`, `floor_ratio_max`,
`python_pass_seconds`, `target`, `met`. About a minute on an idle 2-core machine.

    .venv/bin/python bench/cli.py [--pairs 5] [--json] [--no-cache]
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
FLOOR = Path(__file__).resolve().parent / "cli_floor.py"

COMMANDS: list[tuple[str, float]] = [
    ("plan --from 2027-01-01 --to 2027-12-31", 1.3),
    ("obligations --at 2027-03-10T08:00", 1.3),
    ("items --at 2027-03-10T08:00", 1.3),
    ("check", 1.5),
]
"""Each read-only command (arguments after `cchc --config config/`) and its target ratio."""

SEED = (["init-db"], ["sweep", "--at", "2027-03-10T08:00", "--no-mail"])


def cchc_argv() -> list[str]:
    """How a user runs cchc with this interpreter: its console script, else the same import."""
    script = Path(sys.executable).with_name("cchc")
    if script.exists():
        return [sys.executable, str(script)]
    return [sys.executable, "-c", "import sys; from cchc.cli import main; sys.exit(main())"]


def environment(data_dir: str, cache: bool) -> dict[str, str]:
    """The caller's environment with the scratch data folder, and no other CCHC_ or PREFECT_
    variable (bytecode is written and read as usual)."""
    skip = ("CCHC_", "PREFECT_", "PYTHONDONTWRITEBYTECODE", "PYTHONPROFILEIMPORTTIME")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    return env | {"CCHC_DATA_DIR": data_dir} | ({} if cache else {"CCHC_CONFIG_CACHE": "off"})


def run(argv: list[str], env: dict[str, str]) -> tuple[float, bytes]:
    """Run argv to completion: the CPU seconds (user + sys) it used, and its stdout. Exits on a
    failure."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, stdin=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(argv)}: exit {done.returncode}\n{done.stderr.decode(errors='replace')}"
        )
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), done.stdout


Times = dict[str, list[float]]


def measure(pairs: int, cache: bool) -> tuple[list[float], Times, Times]:
    """CPU seconds of `python -c pass`, of each command and of its floor, `pairs` rounds."""
    cchc = cchc_argv() + ["--config", str(CONFIG)]
    passing = [sys.executable, "-c", "pass"]
    with tempfile.TemporaryDirectory(prefix="cchc-bench-cli-") as data_dir:
        env = environment(data_dir, cache)
        for args in SEED:
            run(cchc + args, env)
        database = f"sqlite:///{Path(data_dir) / 'cchc.db'}"
        argvs, floors, expected_bytes = {}, {}, {}
        for command, _ in COMMANDS:
            argvs[command] = cchc + command.split()
            expected = Path(data_dir) / f"{command.split()[0]}.expected"
            _, output = run(argvs[command], env)  # the warm-up, and the bytes to print
            expected.write_bytes(output)
            expected_bytes[command] = output
            floors[command] = [sys.executable, str(FLOOR), command.split()[0], str(CONFIG)]
            floors[command] += [str(expected), database]
            _, floor_output = run(floors[command], env)
            if floor_output != output:
                raise SystemExit(f"the floor of `cchc {command}` prints other bytes than it")
        run(passing, env)
        baseline: list[float] = []
        seconds: Times = {command: [] for command in argvs}
        floor_seconds: Times = {command: [] for command in argvs}
        for round_ in range(pairs):
            baseline.append(run(passing, env)[0])
            for command in argvs:
                order = [(argvs, seconds), (floors, floor_seconds)]
                for argv_of, times in order if round_ % 2 == 0 else reversed(order):
                    spent, output = run(argv_of[command], env)
                    if output != expected_bytes[command]:
                        raise SystemExit(f"`{' '.join(argv_of[command])}` printed other bytes")
                    times[command].append(spent)
    return baseline, seconds, floor_seconds


def results(baseline: list[float], seconds: Times, floor_seconds: Times) -> list[dict]:
    rows = []
    for command, target in COMMANDS:
        times, floors = seconds[command], floor_seconds[command]
        ratios = [t / f for t, f in zip(times, floors, strict=True)]
        ratio = statistics.median(ratios)
        rows.append(
            {
                "command": command,
                "pairs": len(times),
                "seconds": round(statistics.median(times), 4),
                "floor_seconds": round(statistics.median(floors), 4),
                "floor_ratio": round(ratio, 2),
                "floor_ratio_min": round(min(ratios), 2),
                "floor_ratio_max": round(max(ratios), 2),
                "python_pass_seconds": round(statistics.median(baseline), 4),
                "target": target,
                "met": ratio <= target,
            }
        )
    return rows


def table(rows: list[dict], pairs: int) -> str:
    base = rows[0]["python_pass_seconds"]
    lines = [
        f"CPU seconds (user + sys), median of {pairs} pairs; python -c pass: {base:.3f} s "
        f"({sys.executable})",
        f"{'command':<45} {'seconds':>8} {'floor':>8} {'min':>6} {'median':>6} {'max':>6}  target",
    ]
    for r in rows:
        verdict = f"<= {r['target']:g}x " + ("met" if r["met"] else "NOT met")
        lines.append(
            f"cchc {r['command']:<40} {r['seconds']:>8.3f} {r['floor_seconds']:>8.3f}"
            f" {r['floor_ratio_min']:>5.2f}x {r['floor_ratio']:>5.2f}x"
            f" {r['floor_ratio_max']:>5.2f}x  {verdict}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5, help="rounds of pairs (default 5, min 3)")
    parser.add_argument("--json", action="store_true", help="one JSON object per command")
    parser.add_argument(
        "--no-cache", action="store_true", help="cchc without its compiled config (read YAML)"
    )
    args = parser.parse_args()
    if args.pairs < 3:
        parser.error("--pairs must be at least 3")
    rows = results(*measure(args.pairs, cache=not args.no_cache))
    if args.json:
        for row in rows:
            print(json.dumps(row))
    else:
        print(table(rows, args.pairs))


if __name__ == "__main__":
    main()
