"""The cadences of Vietnamese reporting the config can express (docs/admin.md "Editing the plan"):
data windows offset from the calendar (`window_start_day`), due dates after the period
(`day_of_month_after`, `working_days_after_period_end`), month-granular deadlines
(`shift: previous_working_day`), the checks that refuse what cannot be meant, and items that
open before the plan's first day. The example config `config/examples/` is the worked example."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import edit
from test_config_errors import assert_error, run_check

from cchc.cli import main
from models.db import ensure_schema, make_engine
from schedules.calendar import WorkingCalendar
from schedules.config_obligations import DueRule, Schedule
from schedules.dates import parse_instant
from schedules.occurrences import compile_schedule, nominal_due
from schedules.plan_loader import load_plan
from usecases.item_list import list_items
from usecases.sweep import sweep

EXAMPLES = Path(__file__).resolve().parent.parent / "config" / "examples"


def windows(schedule: dict, anchor: date):
    compiled = compile_schedule(Schedule.model_validate(schedule), date(2027, 1, 1))
    period = compiled.period(anchor)
    return period.key, period.window_start, period.window_end


def test_window_start_day_offsets_the_data_window():
    monthly = {"every": "monthly", "window_start_day": 15}
    assert windows(monthly, date(2027, 2, 28)) == ("2027-02", date(2027, 1, 15), date(2027, 2, 14))
    assert windows(monthly, date(2027, 1, 31)) == ("2027-01", date(2026, 12, 15), date(2027, 1, 14))
    quarterly = {"every": "quarterly", "window_start_day": 15}
    assert windows(quarterly, date(2027, 3, 31)) == (
        "2027-Q1",
        date(2026, 12, 15),
        date(2027, 3, 14),
    )
    half = {"every": "semiannual", "window_start_day": 20}
    assert windows(half, date(2027, 12, 31)) == ("2027-H2", date(2027, 6, 20), date(2027, 12, 19))
    annual = {"every": "annual", "window_start_day": 15}
    assert windows(annual, date(2027, 12, 31)) == ("2027", date(2026, 12, 15), date(2027, 12, 14))
    assert windows({"every": "monthly"}, date(2027, 2, 28))[1:] == (
        date(2027, 2, 1),
        date(2027, 2, 28),
    )  # without it, the calendar month


def test_due_rules_after_the_period():
    cal = WorkingCalendar(2027, 2028)
    compiled = compile_schedule(Schedule(every="quarterly"), date(2027, 1, 1))
    q1, q4 = compiled.period(date(2027, 3, 31)), compiled.period(date(2027, 12, 31))
    assert nominal_due(DueRule(day_of_month_after=20), q1, date(2027, 3, 31), cal) == (
        date(2027, 4, 20),
        "ngày 20 tháng sau kỳ",
    )
    assert nominal_due(DueRule(day_of_month_after=20), q4, date(2027, 12, 31), cal)[0] == date(
        2028, 1, 20
    )
    month = compile_schedule(Schedule(every="monthly"), date(2027, 1, 1)).period(date(2027, 1, 31))
    assert nominal_due(DueRule(day_of_month_after=31), month, date(2027, 1, 31), cal)[0] == date(
        2027, 2, 28
    )  # February has no 31st: its last day
    feb = compile_schedule(Schedule(every="monthly"), date(2027, 1, 1)).period(date(2027, 2, 28))
    found, basis = nominal_due(DueRule(working_days_after_period_end=5), feb, feb.end, cal)
    assert found == date(2027, 3, 5) and basis == ("05 ngày làm việc sau ngày cuối kỳ 28/02/2027")


def test_previous_working_day_ends_a_month_granular_deadline(plan):
    # I.1 of the shipped plan: "2026 - 02/2027", due within February 2027.
    [occ] = plan.occurrences(
        date(2027, 1, 1), date(2027, 12, 31), obligation="ra-soat-vbqppl-chinh-quyen-2-cap"
    )
    assert (occ.due.nominal, occ.due.due) == (date(2027, 2, 28), date(2027, 2, 26))
    assert occ.due.basis.endswith(
        "28/02/2027 là ngày nghỉ (Chủ nhật), chuyển sang ngày làm việc liền trước"
    )
    assert plan.calendar.previous_working_day(date(2027, 2, 10)) == date(2027, 2, 3)  # Tết


def test_the_example_config_checks_and_plans_as_its_comments_say(tmp_path):
    result = run_check(EXAMPLES, tmp_path)
    assert result.exit_code == 0, result.output
    out = CliRunner().invoke(
        main,
        ["--config", str(EXAMPLES), "plan", "--from", "2027-01-01", "--to", "2028-01-31"]
        + ["--format", "json"],
    )
    assert out.exit_code == 0, out.output
    rows = {(r["obligation"], r["unit"], r["period"]): r for r in json.loads(out.output)}

    def shown(obligation, unit, period):
        r = rows[(obligation, unit, period)]
        return r["window_start"], r["window_end"], r["due"]

    assert shown("bao-cao-thang", "VP", "2027-02") == ("2027-01-15", "2027-02-14", "2027-02-18")
    assert shown("bao-cao-thang", "KT", "2027-04")[2] == "2027-04-19"  # 18/04 is a Sunday
    assert shown("bao-cao-quy", "VHXH", "2027-Q1") == ("2027-01-01", "2027-03-31", "2027-04-20")
    assert shown("bao-cao-quy", "VHXH", "2027-Q4")[2] == "2028-01-20"
    assert shown("ra-soat-thu-tuc", "VP", "2027-10-31")[2] == "2027-10-29"
    plan = load_plan(EXAMPLES)
    assert plan.calendar.is_working_day(date(2027, 2, 20))  # the override: Saturday worked


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        (
            "due: {day_of_last_month: 18}",
            "due: {day_of_last_month: 10}",
            "due",
            ["2027-01: due 11/01/2027 is not after its data window closes on 14/01/2027"],
        ),
        (
            "      every: quarterly\n",
            "      rrule: FREQ=YEARLY;BYMONTH=3,6,9,12;BYMONTHDAY=-1\n",
            "rrule",
            ["rrule needs period"],
        ),
        (
            "      every: monthly\n",
            "      every: quarterly-cchc\n",
            "window_start_day",
            ["window_start_day goes with every: monthly | quarterly | semiannual | annual only"],
        ),
    ],
)
def test_check_refuses_schedules_that_cannot_be_meant(tmp_path, old, new, field, words):
    import shutil

    config = tmp_path / "config"
    shutil.copytree(EXAMPLES, config)
    path = config / "obligations.yaml"
    line = edit(path, old, new)
    text = path.read_text(encoding="utf-8").splitlines()
    # The error names the obligation's schedule (the line of the key at fault or its block).
    candidates = [i + 1 for i, ln in enumerate(text) if ln.strip().startswith(("schedule", field))]
    result = run_check(config, tmp_path)
    assert result.exit_code != 0, result.output
    lines = [ln for ln in result.output.splitlines() if ln.startswith(str(path))]
    assert lines, result.output
    where = int(lines[0].split(":")[1])
    assert where in candidates and abs(where - line) <= 4, (where, line, result.output)
    for word in words:
        assert word in result.output, result.output
    assert_error(result, str(path), where, *words)


def test_an_item_opening_before_the_plan_starts_is_opened_by_the_first_sweep(config_dir, tmp_path):
    """Due 15/01/2027, it opens 10 working days earlier (31/12/2026), before `plan_start`
    2027-01-01: `cchc plan` lists it, and the first sweep of the plan opens it."""
    commune = config_dir / "commune.yaml"
    edit(commune, "plan_start: 2026-01-01", "plan_start: 2027-01-01")
    edit(commune, "start: 2026-12-01", "start: 2027-01-01")
    annex = config_dir / "obligations-annex.yaml"
    annex.write_text(
        annex.read_text(encoding="utf-8")
        + """
  - id: nhiem-vu-dau-ky
    title: "Nhiệm vụ đầu kỳ kế hoạch"
    kind: one_off
    ref: "Mục thử nghiệm"
    lead: [VP]
    product: "Báo cáo"
    timing: "15/01/2027"
    schedule: {once: 2027-01-15}
""",
        encoding="utf-8",
    )
    plan = load_plan(config_dir)
    [occ] = plan.occurrences(date(2027, 1, 1), date(2027, 1, 31), obligation="nhiem-vu-dau-ky")
    assert occ.opens < plan.commune.plan_start
    engine = make_engine(f"sqlite:///{tmp_path / 'cchc.db'}")
    ensure_schema(engine)
    sweep(plan, engine, parse_instant("2027-01-04T07:30"))  # the plan's first working morning
    opened = [i for i in list_items(plan, engine) if i.obligation == "nhiem-vu-dau-ky"]
    assert [(i.unit, i.due, i.status) for i in opened] == [("VP", date(2027, 1, 15), "open")]
    engine.dispose()


@pytest.mark.parametrize("written", ["0730", "450", '"7:30"', '"7h30"'])
def test_a_sweep_time_that_is_not_hh_mm_is_refused(config_dir, tmp_path, written):
    """pydantic reads a number as seconds: 450 would sweep at 00:07:30, silently."""
    line = edit(config_dir / "commune.yaml", 'sweep_time: "07:30"', f"sweep_time: {written}")
    assert_error(
        run_check(config_dir, tmp_path),
        str(config_dir / "commune.yaml"),
        line,
        "is not a time HH:MM: write it quoted",
        "giờ phải viết HH:MM",
    )


def test_a_one_off_moved_earlier_ends_its_time_with_its_due_date():
    plan = load_plan(EXAMPLES)
    [occ] = plan.occurrences(date(2027, 10, 1), date(2027, 10, 31), obligation="ra-soat-thu-tuc")
    assert (occ.period.window_start, occ.period.window_end) == (date(2027, 1, 1), occ.due.due)
    assert occ.due.due == date(2027, 10, 29)
