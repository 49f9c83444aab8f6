"""Bad config gets FILE:LINE: message and a non-zero exit; nothing is written."""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import edit

from cchc.cli import main
from schedules.plan_loader import load_plan
from schedules.yamlsource import ConfigInvalid


def run_check(config_dir: Path, tmp_path: Path):
    data_dir = tmp_path / "data"
    result = CliRunner().invoke(
        main, ["--config", str(config_dir), "check"], env={"CCHC_DATA_DIR": str(data_dir)}
    )
    assert not data_dir.exists(), "check must not write anything"
    return result


def assert_error(result, file: str, line: int, *words: str) -> None:
    assert result.exit_code != 0
    pattern = rf"{re.escape(file)}:{line}: .*"
    lines = [ln for ln in result.output.splitlines() if re.fullmatch(pattern, ln)]
    assert lines, result.output
    for word in words:
        assert any(word in ln for ln in lines), (word, result.output)


def test_shipped_config_is_valid(tmp_path):
    result = run_check(Path(__file__).parent.parent / "config", tmp_path)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Cấu hình hợp lệ:")


def test_malformed_yaml(config_dir, tmp_path):
    line = edit(config_dir / "units.yaml", "  - code: KT\n", "  - code: [KT\n")
    assert_error(
        run_check(config_dir, tmp_path), str(config_dir / "units.yaml"), line + 1, "malformed YAML"
    )


def test_unknown_unit(config_dir, tmp_path):
    line = edit(config_dir / "obligations-plan.yaml", "lead: [VHXH]", "lead: [VHXX]")
    assert_error(
        run_check(config_dir, tmp_path),
        str(config_dir / "obligations-plan.yaml"),
        line,
        "unknown unit 'VHXX'",
    )


def test_bad_rrule(config_dir, tmp_path):
    path = config_dir / "obligations-plan.yaml"
    line = edit(path, "every: quarterly-cchc", "rrule: FREQ=SOMETIMES;BYDAY=XX, period: date")
    assert_error(run_check(config_dir, tmp_path), str(path), line, "bad RRULE")


def test_rrule_that_never_fires(config_dir, tmp_path):
    path = config_dir / "obligations-plan.yaml"
    edit(path, "every: quarterly-cchc", "rrule: FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30, period: date")
    result = run_check(config_dir, tmp_path)
    assert result.exit_code != 0
    assert "never fires" in result.output


def test_impossible_date(config_dir, tmp_path):
    path = config_dir / "calendar.yaml"
    line = edit(path, "working_days: [2026-08-22]", "working_days: [2026-02-30]")
    assert_error(run_check(config_dir, tmp_path), str(path), line, "working_days")


def test_duplicate_obligation_id(config_dir, tmp_path):
    path = config_dir / "obligations-plan.yaml"
    line = edit(path, "id: bao-cao-cchc-tong-hop", "id: bao-cao-cchc-dinh-ky")
    assert_error(run_check(config_dir, tmp_path), str(path), line, "duplicate obligation id")


def test_missing_field(config_dir, tmp_path):
    path = config_dir / "units.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("    email: kinhte@maodien.example\n", "", 1), encoding="utf-8")
    result = run_check(config_dir, tmp_path)
    assert result.exit_code != 0
    assert "missing field 'email'" in result.output


def test_bad_email(config_dir, tmp_path):
    path = config_dir / "units.yaml"
    line = edit(path, "email: kinhte@maodien.example", "email: kinhte-at-maodien")
    assert_error(run_check(config_dir, tmp_path), str(path), line, "email")


def test_escalation_cycle(config_dir, tmp_path):
    path = config_dir / "commune.yaml"
    line = edit(path, "        to: [leadership]", "        to: [head]")
    assert_error(run_check(config_dir, tmp_path), str(path), line, "cycles back")


def test_working_day_override_on_a_working_day(config_dir, tmp_path):
    path = config_dir / "calendar.yaml"
    line = edit(path, "working_days: [2026-08-22]", "working_days: [2026-08-24]")
    assert_error(run_check(config_dir, tmp_path), str(path), line, "already a working day")


def test_every_error_is_reported_at_once(config_dir):
    edit(config_dir / "units.yaml", "email: kinhte@maodien.example", "email: nope")
    edit(config_dir / "obligations-plan.yaml", "lead: [VHXH]", "lead: 7")
    with pytest.raises(ConfigInvalid) as caught:
        load_plan(config_dir)
    files = {Path(i.file).name for i in caught.value.issues}
    assert files == {"units.yaml", "obligations-plan.yaml"}


def test_yaml_11_booleans_are_plain_strings(config_dir):
    """`on:` is a key, not True; `no` stays a string (YAML 1.2 booleans only)."""
    plan = load_plan(config_dir)
    annual = plan.obligations["ke-hoach-cchc-hang-nam"]
    assert annual.schedule.due.on == "12-25"


# ----- errors that point at the cause ---------------------------------------------------------


def error_lines(result) -> list[str]:
    """The FILE:LINE: lines of a failed check (not its summary)."""
    return [ln for ln in result.output.splitlines() if re.match(r"/.*:\d+: ", ln)]


@pytest.mark.parametrize(
    ("units_yaml", "holder", "key"),
    [
        ("", "commune.yaml", "commune:"),  # an empty units.yaml: said at the commune
        ("# units of the commune\nunits: []\n", "units.yaml", "units: []"),
        ("# units of the commune\nunits:\n", "units.yaml", "units:"),
    ],
)
def test_no_unit_is_said_once(config_dir, tmp_path, units_yaml, holder, key):
    (config_dir / "units.yaml").write_text(units_yaml, encoding="utf-8")
    text = (config_dir / holder).read_text(encoding="utf-8").splitlines()
    result = run_check(config_dir, tmp_path)
    assert_error(
        result,
        str(config_dir / holder),
        text.index(key) + 1,
        "no unit is defined (chưa khai báo đơn vị nào): add units to units.yaml",
    )
    assert len(error_lines(result)) == 1, result.output  # no "unknown unit" for each reference


def test_a_file_not_in_utf8_is_reported_at_its_first_bad_byte(config_dir, tmp_path):
    path = config_dir / "units.yaml"
    text = path.read_text(encoding="utf-8")
    before, after = text.split("Phòng Kinh tế", 1)
    before += "Phòng Kinh t"
    path.write_bytes(before.encode() + "ê".encode("latin-1") + after.encode())  # an ANSI editor
    column = len(before.rsplit("\n", 1)[1]) + 1
    assert_error(
        run_check(config_dir, tmp_path),
        str(path),
        before.count("\n") + 1,
        f"column {column}: byte 0xea is not UTF-8",
        "save the file as UTF-8 (lưu tệp dưới dạng UTF-8)",
    )


def test_utf16_is_refused_and_a_utf8_bom_accepted(config_dir, tmp_path):
    path = config_dir / "units.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_bytes(text.encode("utf-8-sig"))
    assert len(load_plan(config_dir).units) == 7
    path.write_bytes(text.encode("utf-16"))
    assert_error(run_check(config_dir, tmp_path), str(path), 1, "UTF-16", "lưu tệp dưới dạng")


@pytest.mark.parametrize(
    ("file", "old", "new", "words"),
    [
        (
            "units.yaml",
            "email: vanphong@maodien.example",
            "email: vanphong",
            ["units[2] (VP).email: value is not a valid email", "(địa chỉ thư điện tử không"],
        ),
        (
            "units.yaml",
            "  - code: VP\n",
            "  - code: Vp\n",
            ["units[2] (Vp).code: String should match pattern", "e.g. VHXH (mã đơn vị"],
        ),
        (
            "obligations-plan.yaml",
            "due: {working_days_after_window: 2}",
            "due: {working_days_after_window: hai}",
            [
                "obligations[1] (bao-cao-cchc-dinh-ky).schedule.due.working_days_after_window: "
                "Input should be a valid integer",
                "(phải là số nguyên)",
            ],
        ),
        (
            "obligations-plan.yaml",
            "schedule: {once: 2030-11-30}",
            "schedule: {once: 2030-11-31}",
            ["obligations[3] (tong-ket-ke-hoach-2030).schedule.once", "(phải là ngày YYYY-MM-DD)"],
        ),
        (
            "obligations-plan.yaml",
            "    lead: [VHXH]\n    coordinators",
            "    lead: []\n    coordinators",
            ["obligations[2] (bao-cao-cchc-tong-hop).lead", "(cần ít nhất 1 mục)"],
        ),
        (
            "commune.yaml",
            "open_before_due: 10",
            "open_before_due: mười",
            ["commune.defaults.open_before_due: Input should be a valid integer", "(phải là số"],
        ),
        (
            "commune.yaml",
            "shift: next_working_day",
            "shift: next_day",
            ["commune.defaults.shift: Input should be", "(phải là một trong các giá trị trên)"],
        ),
        (
            "commune.yaml",
            "      - after: 2 ",
            "      - after: 0 ",
            ["commune.defaults.escalation[1].after", "(phải lớn hơn hoặc bằng 1)"],
        ),
        (
            "commune.yaml",
            "timezone: Asia/Ho_Chi_Minh",
            "timezone: Asia/Hanoi",
            ["commune.timezone: unknown time zone 'Asia/Hanoi' (múi giờ không tồn tại"],
        ),
    ],
)
def test_schema_errors_name_the_entry_and_say_it_in_vietnamese(
    config_dir, tmp_path, file, old, new, words
):
    path = config_dir / file
    line = edit(path, old, new)
    result = run_check(config_dir, tmp_path)
    assert_error(result, str(path), line, *words)
    assert all(not ln.isascii() for ln in error_lines(result)), result.output


def test_a_missing_field_is_said_at_its_entry(config_dir, tmp_path):
    path = config_dir / "units.yaml"
    line = edit(path, "  - code: KT\n", "  - code: KT\n")
    edit(path, "    email: kinhte@maodien.example\n", "")
    assert_error(
        run_check(config_dir, tmp_path),
        str(path),
        line,
        "units[3] (KT): missing field 'email' (thiếu trường bắt buộc)",
    )


def test_start_outside_the_plan_points_at_start(config_dir, tmp_path):
    path = config_dir / "commune.yaml"
    line = edit(path, "start: 2026-12-01", "start: 2031-01-05")
    assert_error(
        run_check(config_dir, tmp_path),
        str(path),
        line,
        "commune.start: start 2031-01-05 must lie between plan_start 2026-01-01 and plan_end "
        "2030-12-31 (ngày start phải nằm trong khoảng",
    )


def test_incomplete_defaults_point_at_defaults(config_dir, tmp_path):
    path = config_dir / "commune.yaml"
    line = edit(path, "  defaults:\n", "  defaults:\n")
    edit(path, "    due_day_notice: true\n", "")
    assert_error(
        run_check(config_dir, tmp_path),
        str(path),
        line,
        "commune.defaults: defaults must set due_day_notice (defaults phải khai báo đủ",
    )


@pytest.mark.parametrize("written", ["07:30", "7:30", "'07:30'", "07:30:00"])
def test_an_unquoted_sweep_time_is_a_clock_time(config_dir, written):
    """YAML 1.1 would read `7:30` as the base-60 number 450 (00:07:30 after pydantic)."""
    edit(config_dir / "commune.yaml", 'sweep_time: "07:30"', f"sweep_time: {written}")
    assert load_plan(config_dir).commune.sweep_time == time(7, 30)


def test_an_impossible_sweep_time_is_refused_at_its_line(config_dir, tmp_path):
    path = config_dir / "commune.yaml"
    line = edit(path, 'sweep_time: "07:30"', "sweep_time: 25:00")
    assert_error(
        run_check(config_dir, tmp_path),
        str(path),
        line,
        "commune.sweep_time: Input should be in a valid time format",
        "e.g. 07:30 (phải là giờ HH:MM, từ 00:00 đến 23:59)",
    )


def test_a_bad_default_reminder_is_said_at_the_defaults(config_dir, tmp_path):
    path = config_dir / "commune.yaml"
    line = edit(path, "reminders: [5, 2]", "reminders: [12, 2]")
    assert_error(
        run_check(config_dir, tmp_path),
        str(path),
        line,
        "a reminder 12 working days before the due date comes before the item opens "
        "(10 working days before): lower the reminder or raise open_before_due (nhắc việc",
    )


def test_a_bad_default_is_not_blamed_on_every_obligation(config_dir, tmp_path):
    edit(config_dir / "commune.yaml", "reminders: [5, 2]", "reminders: [12, 2]")
    result = run_check(config_dir, tmp_path)
    assert [Path(ln.split(":")[0]).name for ln in error_lines(result)] == ["commune.yaml"]


def test_an_obligation_is_blamed_for_its_own_reminders(config_dir, tmp_path):
    path = config_dir / "obligations-plan.yaml"
    line = edit(path, "policy: {open_before_due: 30}", "policy: {reminders: [40]}")
    result = run_check(config_dir, tmp_path)
    assert_error(result, str(path), line, "a reminder 40 working days before the due date")
    assert len(error_lines(result)) == 1, result.output


def test_a_bad_default_escalation_is_said_once_at_its_line(config_dir, tmp_path):
    path = config_dir / "commune.yaml"
    line = edit(path, "to: [leadership]", "to: [CHUTICH]")
    result = run_check(config_dir, tmp_path)
    assert_error(result, str(path), line, "unknown escalation target 'CHUTICH'")
    assert len(error_lines(result)) == 1, result.output


def test_init_db_refuses_an_invalid_config(config_dir, tmp_path):
    edit(config_dir / "units.yaml", "email: kinhte@maodien.example", "email: nope")
    db = tmp_path / "cchc.db"
    result = CliRunner().invoke(
        main,
        ["--config", str(config_dir), "init-db"],
        env={"CCHC_DATA_DIR": str(tmp_path / "data"), "CCHC_DATABASE_URL": f"sqlite:///{db}"},
    )
    assert result.exit_code == 1, result.output
    assert "units[3] (KT).email" in result.output and "Cấu hình không hợp lệ" in result.output
    assert not db.exists()


def warning_lines(result) -> list[str]:
    return [ln for ln in result.output.splitlines() if ": warning: " in ln]


def test_a_period_placeholder_after_its_unit_word_is_warned_at_its_line(config_dir, tmp_path):
    """{period} already reads "tháng 01/2027", "quý I năm 2027": "Báo cáo tháng {period}" would
    read "Báo cáo tháng tháng 01/2027"."""
    path = config_dir / "obligations-plan.yaml"
    product = "công tác cải cách hành chính {period} (gửi UBND {commune_kind}"
    line = edit(path, product, product.replace("{period}", "tháng {period}"))
    result = run_check(config_dir, tmp_path)
    assert result.exit_code == 0, result.output
    [warning] = warning_lines(result)
    assert warning.startswith(f"{path}:{line}: warning: product 'tháng {{period}}'")
    assert "'tháng tháng …'" in warning and "bỏ chữ đứng trước" in warning


def test_a_row_attached_to_a_report_its_unit_never_owes_is_warned(config_dir, tmp_path):
    """The Front (in_all: false) owes no periodic report: a duty of it `reported_in` that
    report reaches nobody."""
    path = config_dir / "obligations-duties.yaml"
    line = edit(
        path, "    lead: [MTTQ]\n", "    lead: [MTTQ]\n    reported_in: bao-cao-cchc-dinh-ky\n"
    )
    result = run_check(config_dir, tmp_path)
    assert result.exit_code == 0, result.output
    [warning] = warning_lines(result)
    assert warning.startswith(f"{path}:{line + 1}: warning: 'giam-sat-truyen-thong-mttq-v2g'")
    assert "MTTQ never owes" in warning and "không ai nhận được" in warning


def test_all_except_names_known_units(config_dir, tmp_path):
    path = config_dir / "obligations-annex.yaml"
    line = edit(path, "    all_except: [CA]\n", "    all_except: [CAX]\n")
    assert_error(run_check(config_dir, tmp_path), str(path), line, "unknown unit 'CAX'")


def test_due_source_takes_only_the_year_placeholder(config_dir, tmp_path):
    path = config_dir / "obligations-plan.yaml"
    line = edit(path, 'due_source: "Kế hoạch CCHC năm {year}"', 'due_source: "KH {period}"')
    assert_error(run_check(config_dir, tmp_path), str(path), line, "unknown placeholder {period}")
