"""Bad config gets FILE:LINE: message and a non-zero exit; nothing is written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from cchc.cli import main
from schedules.plan import load_plan
from schedules.yamlsource import ConfigInvalid


def run_check(config_dir: Path, tmp_path: Path):
    data_dir = tmp_path / "data"
    result = CliRunner().invoke(
        main, ["--config", str(config_dir), "check"], env={"CCHC_DATA_DIR": str(data_dir)}
    )
    assert not data_dir.exists(), "check must not write anything"
    return result


def edit(path: Path, old: str, new: str) -> int:
    """Replace `old` (once) in `path`; return the 1-based line where it stood."""
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return line


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
    assert result.output.startswith("OK:")


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
    line = edit(path, "every: quarterly-cchc", "rrule: FREQ=SOMETIMES;BYDAY=XX")
    assert_error(run_check(config_dir, tmp_path), str(path), line, "bad RRULE")


def test_rrule_that_never_fires(config_dir, tmp_path):
    path = config_dir / "obligations-plan.yaml"
    edit(path, "every: quarterly-cchc", "rrule: FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30")
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
