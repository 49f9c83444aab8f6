"""A whole city in one deployment: check, plan and the peak morning sweep, against 114 copies.

Generates a city of `--communes` (default 114) communes from the shipped plan
(tests/city_support.py: each commune extends the shipped plan as a template, has 7 to 10 units,
some a local day off), then measures, each command as a user runs it (a fresh `cchc` process,
wall seconds and peak memory):

1. `cchc check` of the whole city (target: under 5 s);
2. `cchc plan` of the whole city for the plan's five years, as JSON (target: under 5 s);
3. the quarter's peak morning: on 02/03/2027 at 07:30 every commune's Q1 reports open (about
   1,000 items and their mails, delivered to a local aiosmtpd sink). One `cchc sweep` of the
   city's deployment, against what 114 separate deployments spend: a `cchc sweep` of each
   commune's folder on its own database (measured on `--sample` communes and scaled to all;
   target: city ÷ sum ≤ 0.1). Both databases are primed by a sweep the day before, so the
   measured sweep does only that morning's work.

Prints a table, or with `--json` one JSON object per measure: `measure`, `seconds`, `target`,
`met`, and for the sweep `city_s`, `sum_s` (scaled), `sampled`, `opened`, `mails`, `ratio`,
`max_rss_mb`; then the task runs of one Prefect sweep flow run for cities of 3 and 30 communes
(`task_runs`, target: equal; on a temporary Prefect server; `--no-prefect` skips it).

    .venv/bin/python bench/city.py [--communes 114] [--sample 8] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from city_support import commune_codes, write_city  # noqa: E402  (tests/city_support.py)
from notify import free_port, start_sink  # noqa: E402  (bench/notify.py)

PRIME_AT = "2027-03-01T07:30"
PEAK_AT = "2027-03-02T07:30"
"""Q1 2027: the units' reports (due 16/03) open 10 working days before, on 02/03."""
SECONDS_TARGET = 5.0
RATIO_TARGET = 0.1


def cchc(config: Path, data: Path, port: int, *args: str) -> tuple[float, int, str]:
    """Run `cchc --config CONFIG ARGS` in a fresh process: (wall seconds, peak RSS in MB,
    stdout). Exits on a failure."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CCHC_", "PREFECT_"))}
    env |= {
        "CCHC_DATA_DIR": str(data),
        "CCHC_SMTP_HOST": "127.0.0.1",
        "CCHC_SMTP_PORT": str(port),
        "CCHC_SMTP_FROM": "cchc@bench.example",
    }
    script = Path(sys.executable).with_name("cchc")
    argv = ["/usr/bin/time", "-f", "%M", str(script), "--config", str(config), *args]
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"cchc {' '.join(args)}: exit {done.returncode}\n{done.stderr}")
    rss_kb = int(done.stderr.strip().splitlines()[-1])
    return seconds, rss_kb // 1024, done.stdout


def sweep_counts(output: str) -> tuple[int, int]:
    """(items opened, mails handed over) from `cchc sweep`'s output."""
    opened = re.search(r"mở (\d+) việc", output)
    mails = re.search(r"Gửi thư qua .*?: (\d+) thư", output)
    return int(opened.group(1)) if opened else 0, int(mails.group(1)) if mails else 0


def peak_sweep(config: Path, data: Path, port: int) -> tuple[float, int, str]:
    """Prime a fresh database the day before, then time the peak morning's sweep."""
    cchc(config, data, port, "init-db")
    cchc(config, data, port, "sweep", "--at", PRIME_AT)
    return cchc(config, data, port, "sweep", "--at", PEAK_AT)


def prefect_task_runs(work: Path, sizes: list[int]) -> dict[int, int]:
    """Task runs of one city sweep flow run (the peak morning, after priming), per city size,
    on a temporary Prefect server (`prefect_test_harness`)."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.testing.utilities import prefect_test_harness

    from cchc.runtime.settings import Settings
    from flows import prefect_flows
    from models.db import ensure_schema, make_engine
    from schedules.city_loader import load_city
    from schedules.dates import parse_instant

    async def count(run_id) -> int:
        async with get_client() as client:
            flt = FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
            return len(await client.read_task_runs(flow_run_filter=flt))

    found = {}
    with prefect_test_harness(server_startup_timeout=60):
        for size in sizes:
            folder = write_city(work / f"prefect-{size}", commune_codes(size))
            data = work / f"prefect-data-{size}"
            os.environ["CCHC_DATA_DIR"] = str(data)
            engine = make_engine(f"sqlite:///{data}/cchc.db")
            ensure_schema(engine)
            prefect_flows.use_runtime(load_city(folder), engine, Settings.from_env(str(folder)))
            prefect_flows.sweep_flow(at=parse_instant(PRIME_AT))
            state = prefect_flows.sweep_flow(at=parse_instant(PEAK_AT), return_state=True)
            time.sleep(2)  # task runs are recorded from events
            found[size] = asyncio.run(count(state.state_details.flow_run_id))
            prefect_flows.release_runtime()
            engine.dispose()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--communes", type=int, default=114)
    parser.add_argument("--sample", type=int, default=8, help="separate deployments measured")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-prefect", action="store_true", help="skip the Prefect task-run count")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="cchc-bench-city-"))
    port = free_port()
    sink = start_sink(port)
    try:
        codes = commune_codes(args.communes)
        city = write_city(work / "city", codes)
        results = []
        check_s, _, _ = cchc(city, work / "none", port, "check")
        results.append(_seconds("check", check_s))
        plan_s, _, _ = cchc(
            city, work / "none", port, "plan", "--from", "2026-01-01", "--to", "2030-12-31",
            "--format", "json",
        )  # fmt: skip
        results.append(_seconds("plan", plan_s))

        city_s, rss, out = peak_sweep(city, work / "city-data", port)
        opened, mails = sweep_counts(out)
        step = max(len(codes) // max(args.sample, 1), 1)
        sampled = codes[::step][: args.sample]
        single_s = [
            peak_sweep(city / "communes" / code, work / f"data-{code}", port)[0] for code in sampled
        ]
        sum_s = sum(single_s) / len(single_s) * len(codes)
        ratio = city_s / sum_s
        results.append(
            {
                "measure": "peak_sweep",
                "seconds": round(city_s, 3),
                "city_s": round(city_s, 3),
                "sum_s": round(sum_s, 3),
                "sampled": len(sampled),
                "communes": len(codes),
                "opened": opened,
                "mails": mails,
                "ratio": round(ratio, 4),
                "max_rss_mb": rss,
                "target": RATIO_TARGET,
                "met": ratio <= RATIO_TARGET,
            }
        )
        if not args.no_prefect:
            with contextlib.redirect_stdout(sys.stderr):  # Prefect's log lines
                runs = prefect_task_runs(work, [3, 30])
            results.append(
                {
                    "measure": "prefect_task_runs",
                    "task_runs": {str(k): v for k, v in runs.items()},
                    "target": "equal",
                    "met": len(set(runs.values())) == 1,
                }
            )
    finally:
        sink.terminate()
        sink.wait(5)
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        for row in results:
            print(json.dumps(row))
        return
    print(f"city of {args.communes} communes (bench/city.py)")
    for row in results:
        verdict = "met" if row["met"] else "NOT met"
        if row["measure"] == "prefect_task_runs":
            counts = ", ".join(f"{n} communes: {v}" for n, v in row["task_runs"].items())
            print(f"  task runs of one Prefect sweep: {counts} (flat: {verdict})")
        elif row["measure"] == "peak_sweep":
            print(
                f"  peak morning sweep: city {row['city_s']:.2f} s ({row['opened']} items opened, "
                f"{row['max_rss_mb']} MB peak) vs {row['communes']} separate deployments "
                f"{row['sum_s']:.1f} s (scaled from {row['sampled']}): ratio {row['ratio']:.3f} "
                f"(target ≤ {RATIO_TARGET}: {verdict})"
            )
        else:
            print(
                f"  cchc {row['measure']:<6} {row['seconds']:.2f} s "
                f"(target < {SECONDS_TARGET:.0f} s: {verdict})"
            )


def _seconds(measure: str, seconds: float) -> dict:
    return {
        "measure": measure,
        "seconds": round(seconds, 3),
        "target": SECONDS_TARGET,
        "met": seconds < SECONDS_TARGET,
    }


if __name__ == "__main__":
    main()
