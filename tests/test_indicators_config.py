"""Indicators as config: the shipped plan's targets, their checks at FILE:LINE, the rules of a
value (targets of a year, parsing, jumps, verdicts), a city's shared indicators."""

from __future__ import annotations

from pathlib import Path

import pytest

from schedules.indicators import jump, parse_figure, target_for, verdict
from schedules.plan_loader import load_plan
from tests.test_config_errors import assert_error, edit, run_check

ROOT = Path(__file__).resolve().parent.parent


def test_the_shipped_config_carries_every_target_of_section_ii():
    plan = load_plan(ROOT / "config")
    targets = {(i.ref.split(",")[0], i.target) for i in plan.indicators.values()}
    assert len(plan.indicators) == 14
    assert ("Mục II.2.a", 85) in targets  # online dossiers
    assert ("Mục II.2.a", 50) in targets  # online payments
    assert ("Mục II.2.a", 90) in targets  # e-identity, satisfaction with procedures
    assert ("Mục II.3.a", 90) in targets
    assert ("Mục II.1.a", 100) in targets
    assert sum(1 for i in plan.indicators.values() if i.ref.startswith("Mục II.6.a")) == 4
    for indicator in plan.indicators.values():
        assert indicator.ref.startswith("Mục II."), indicator.id
        assert indicator.by == 2030
        assert indicator.reported_in in plan.obligations


def test_unknown_report_and_unit_are_refused_at_their_line(config_dir, tmp_path):
    path = config_dir / "indicators.yaml"
    line = edit(path, "reported_in: bao-cao-cchc-dinh-ky\n", "reported_in: bao-cao-khong-co\n")
    unit_line = edit(path, "reported_by: [CA]", "reported_by: [XYZ]")
    result = run_check(config_dir, tmp_path)
    assert_error(result, str(path), line, "unknown obligation 'bao-cao-khong-co'")
    assert_error(result, str(path), unit_line, "unknown unit 'XYZ'")


def test_a_unit_that_owes_no_carrying_report_is_refused(config_dir, tmp_path):
    path = config_dir / "indicators.yaml"
    line = edit(path, "reported_by: [CA]", "reported_by: [VHXH]")
    assert_error(run_check(config_dir, tmp_path), str(path), line, "owes no 'bao-cao-cchc-dinh-ky'")


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("    target: 85\n", "    target: 185\n", "at most 100"),
        ('    numerator: "Số hồ sơ giải quyết trực tuyến"\n', "", "names its numerator"),
        ("    measure: yes_no\n", "    measure: maybe\n", "measure"),
    ],
)
def test_bad_indicator_fields_at_their_line(config_dir, tmp_path, old, new, words):
    path = config_dir / "indicators.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index(old)
    entry_line = text[: text.rindex("  - id:", 0, start)].count("\n") + 1
    edit(path, old, new)
    result = run_check(config_dir, tmp_path)
    assert result.exit_code != 0
    assert str(path) in result.output and words in result.output, result.output
    lines = [int(ln.split(":")[1]) for ln in result.output.splitlines() if ln.startswith(str(path))]
    assert all(entry_line <= n <= entry_line + 12 for n in lines), (entry_line, result.output)


def test_a_duplicate_indicator_names_the_first(config_dir, tmp_path):
    path = config_dir / "indicators.yaml"
    text = path.read_text(encoding="utf-8")
    (config_dir / "more.yaml").write_text(
        "indicators:\n  - id: ho-so-truc-tuyen\n    ref: x\n    name: y\n    reported_by: [ALL]\n"
        "    measure: count\n    target: 3\n    reported_in: bao-cao-cchc-dinh-ky\n",
        encoding="utf-8",
    )
    first = text[: text.index("id: ho-so-truc-tuyen")].count("\n") + 1
    assert_error(
        run_check(config_dir, tmp_path),
        str(config_dir / "more.yaml"),
        2,
        f"duplicate indicator id 'ho-so-truc-tuyen', first at indicators.yaml:{first}",
    )


def test_steps_outside_the_plan_are_refused(config_dir, tmp_path):
    path = config_dir / "indicators.yaml"
    line = edit(
        path,
        "    target: 85\n    by: 2030\n",
        "    target: 85\n    by: 2035\n    steps:\n      2034: 80\n",
    )
    assert_error(run_check(config_dir, tmp_path), str(path), line + 3, "outside the plan's years")


def test_targets_of_a_year_follow_the_steps():
    plan = load_plan(ROOT / "config")
    online = plan.indicators["ho-so-truc-tuyen"].model_copy(update={"steps": {2027: 60, 2029: 75}})
    assert [target_for(online, y) for y in (2026, 2027, 2028, 2029, 2030)] == [85, 60, 60, 75, 75]


def test_figures_and_verdicts():
    plan = load_plan(ROOT / "config")
    online = plan.indicators["ho-so-truc-tuyen"]
    figure = parse_figure(online, "170/200")
    assert figure.value == 85.0
    assert verdict(online, figure.value, 2027) == "đạt"
    assert verdict(online, 80.0, 2027) == "chưa đạt (còn thiếu 5 điểm %)"
    assert verdict(online, 84.25, 2027) == "chưa đạt (còn thiếu 0,8 điểm %)"
    assert verdict(online, None, 2027) == "chưa có số liệu"
    assert parse_figure(online, "12,5/25").value == 50.0
    for bad, words in [
        ("210/200", "lớn hơn mẫu số"),
        ("abc/200", "phải là một số"),
        ("-1/200", "phải là một số"),
        ("5/0", "phải lớn hơn 0"),
        ("170", "TỬ/MẪU"),
    ]:
        with pytest.raises(ValueError, match=words):
            parse_figure(online, bad)
    published = plan.indicators["cong-khai-muc-do-hai-long"]
    assert parse_figure(published, "có").value == 100.0
    with pytest.raises(ValueError, match="1 \\(có\\) hoặc 0"):
        parse_figure(published, "2")


def test_a_jump_beyond_the_factor_is_a_warning():
    online = load_plan(ROOT / "config").indicators["ho-so-truc-tuyen"]
    assert jump(online, 30.0, 85.0) is not None
    assert jump(online, 50.0, 85.0) is None
    assert jump(online, None, 85.0) is None
    assert jump(online, 80.0, 30.0) is not None


def test_a_city_shares_indicators(tmp_path):
    import shutil

    from schedules.city_loader import load_city

    city_dir = tmp_path / "city"
    shutil.copytree(ROOT / "config" / "examples" / "city", city_dir)
    (city_dir / "indicators.yaml").write_text(
        'indicators:\n  - id: ho-so-truc-tuyen\n    ref: "Mục II.2.a"\n    name: Hồ sơ\n'
        "    reported_by: [ALL]\n    measure: ratio\n    numerator: a\n    denominator: b\n"
        "    target: 85\n    reported_in: bao-cao-cchc-dinh-ky\n    communes: [khongco]\n",
        encoding="utf-8",
    )
    from schedules.yamlsource import ConfigInvalid

    with pytest.raises(ConfigInvalid, match="unknown commune 'khongco'"):
        load_city(city_dir)
    text = (city_dir / "indicators.yaml").read_text(encoding="utf-8")
    (city_dir / "indicators.yaml").write_text(text.replace("    communes: [khongco]\n", ""))
    city = load_city(city_dir)
    assert all("ho-so-truc-tuyen" in plan.indicators for plan in city.plans.values())
