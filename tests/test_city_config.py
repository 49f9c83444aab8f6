"""A city's config: city.yaml over one folder per commune, shared calendar and obligations, a
template plan communes extend; every command takes --commune. The single-commune folder is
tested everywhere else and must not change."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from city_support import commune_codes, write_city
from click.testing import CliRunner
from support import edit

from cchc.cli import main
from schedules.city import calendar_warnings
from schedules.city_loader import load_city
from schedules.yamlsource import ConfigInvalid

SHIPPED = Path(__file__).resolve().parent.parent / "config"


@pytest.fixture
def city_dir(tmp_path: Path) -> Path:
    return write_city(tmp_path / "city", commune_codes(3))


def cchc(config: Path, tmp_path: Path, *args: str):
    env = {"CCHC_DATA_DIR": str(tmp_path / "data"), "CCHC_DATABASE_URL": ""}
    return CliRunner().invoke(main, ["--config", str(config), *args], env=env)


def errors(folder: Path) -> list[str]:
    with pytest.raises(ConfigInvalid) as caught:
        load_city(folder)
    return [str(issue) for issue in caught.value.issues]


def test_minimal_city_passes_check(tmp_path):
    folder = write_city(tmp_path / "city", commune_codes(2), minimal=True)
    assert (folder / "city.yaml").read_text(encoding="utf-8").count("\n") == 6
    result = cchc(folder, tmp_path, "check")
    assert result.exit_code == 0, result.output
    assert "Cấu hình hợp lệ: thành phố haiphong, 2 xã, 15 đơn vị," in result.output
    assert not (tmp_path / "data").exists()


def test_each_commune_keeps_its_own_calendar_over_the_citys(city_dir):
    city = load_city(city_dir)
    assert list(city.plans) == ["xa001", "xa002", "xa003"]
    dues = {
        code: {(o.unit, o.period.key): o.due.due for o in plan.occurrences(
            date(2027, 3, 1), date(2027, 3, 31), obligation="bao-cao-cchc-dinh-ky")}
        for code, plan in city.plans.items()
    }  # fmt: skip
    # Data window closes Sunday 14/03/2027; due 2 working days later. xa002 is off on 15/03.
    assert dues["xa001"][("VP", "2027-Q1")] == date(2027, 3, 16)
    assert dues["xa002"][("VP", "2027-Q1")] == date(2027, 3, 17)
    # The city's calendar reaches every commune: 22/08/2026 is worked in all.
    assert all(p.calendar.is_working_day(date(2026, 8, 22)) for p in city.plans.values())
    # Units differ per commune (7 to 10); the template's obligations reach all of them.
    assert [len(p.units) for p in city.plans.values()] == [7, 8, 9]
    assert len({len(p.obligations) for p in city.plans.values()}) == 1


def test_a_commune_replaces_a_template_obligation_by_id(city_dir):
    own = city_dir / "communes" / "xa003" / "own.yaml"
    template = (city_dir / "plans" / "xa" / "obligations-plan.yaml").read_text("utf-8")
    start = template.index("  - id: bao-cao-cchc-dinh-ky")
    end = template.index("\n  - id: ", start + 1)
    block = template[start:end].replace("title: ", "title: (riêng xã) ", 1)
    own.write_text("obligations:\n" + block + "\n", encoding="utf-8")
    city = load_city(city_dir)
    titles = {c: p.obligations["bao-cao-cchc-dinh-ky"].title for c, p in city.plans.items()}
    assert titles["xa003"].startswith("(riêng xã) ")
    assert not titles["xa001"].startswith("(riêng xã)")


def test_city_obligations_fan_out_to_the_communes_they_name(city_dir):
    directive = city_dir / "directives.yaml"
    directive.write_text(
        """obligations:
  - id: chi-thi-snv-2027
    title: Báo cáo kết quả thực hiện Công văn của Sở Nội vụ về rà soát thủ tục hành chính
    kind: ad_hoc
    ref: Công văn của Sở Nội vụ
    lead: [VHXH]
    product: Báo cáo
    timing: Theo văn bản
    communes: [xa002]
""",
        encoding="utf-8",
    )
    city = load_city(city_dir)
    assert [c for c, p in city.plans.items() if "chi-thi-snv-2027" in p.obligations] == ["xa002"]
    line = edit(directive, "communes: [xa002]", "communes: [xa002, xa999]")
    assert errors(city_dir) == [
        f"{directive}:{line}: unknown commune 'xa999' (xã không tồn tại); known: xa001, xa002, "
        "xa003"
    ]


def test_a_shared_files_error_is_said_once_naming_the_communes(city_dir):
    path = city_dir / "plans" / "xa" / "obligations-annex.yaml"
    line = edit(path, "lead: [KT]", "lead: [QS]")  # QS exists in xa002 and xa003 only
    (issue,) = errors(city_dir)
    assert issue.startswith(f"{path}:{line}: ")
    assert "unknown unit 'QS'" in issue and issue.endswith("[commune: xa001]")


def test_a_communes_own_error_points_at_its_folder(city_dir, tmp_path):
    path = city_dir / "communes" / "xa002" / "units.yaml"
    line = edit(path, "email: vanphong@xa002.example", "email: not-an-address")
    result = cchc(city_dir, tmp_path, "check")
    assert result.exit_code == 1
    assert f"{path}:{line}: units[2] (VP).email" in result.output


def test_commune_code_must_be_its_folder_name(city_dir):
    path = city_dir / "communes" / "xa001" / "commune.yaml"
    line = edit(path, "code: xa001", "code: maodien")
    assert errors(city_dir) == [
        f"{path}:{line}: commune.code 'maodien' differs from its folder name 'xa001': make them "
        "equal (mã xã phải trùng tên thư mục)"
    ]


def test_units_belong_in_a_commune_folder_and_extends_must_exist(city_dir):
    shutil_units = city_dir / "units.yaml"
    shutil_units.write_text((SHIPPED / "units.yaml").read_text("utf-8"), encoding="utf-8")
    commune = city_dir / "communes" / "xa001" / "commune.yaml"
    line = edit(commune, "extends: ../../plans/xa", "extends: ../../plans/phuong")
    found = errors(city_dir)
    assert any(e.startswith(f"{shutil_units}:") and "'units' belongs in" in e for e in found)
    assert any(e.startswith(f"{commune}:{line}: extends: no *.yaml files") for e in found)


def test_the_citys_defaults_stand_in_for_a_communes(city_dir):
    commune = city_dir / "communes" / "xa001" / "commune.yaml"
    text = commune.read_text("utf-8")
    start = text.index("  defaults:")
    end = text.index("\nextends:")
    defaults = text[start:end]
    commune.write_text(text[:start] + text[end:], encoding="utf-8")
    (issue,) = errors(city_dir)
    assert "missing field 'defaults'" in issue and str(commune) in issue
    city_yaml = city_dir / "city.yaml"
    edit(city_yaml, "  name: Thành phố Hải Phòng\n", f"  name: Thành phố Hải Phòng\n{defaults}\n")
    city = load_city(city_dir)
    assert city.plans["xa001"].commune.defaults.reminders == [5, 2]


def test_calendar_warning_from_october(city_dir):
    city = load_city(city_dir)
    assert calendar_warnings(city, date(2027, 9, 30)) == []
    (warning,) = calendar_warnings(city, date(2027, 10, 1))
    assert "no calendar entry for 2028" in str(warning)
    # A commune's own entry for 2028 (a local day off) is not the national calendar: still
    # warned; the city's calendar (copied from the shipped one) has 2027.
    assert calendar_warnings(city, date(2026, 12, 1)) == []


def test_every_command_takes_commune_and_rows_name_it(city_dir, tmp_path):
    assert cchc(city_dir, tmp_path, "init-db").exit_code == 0
    result = cchc(city_dir, tmp_path, "sweep", "--at", "2027-03-20T08:00", "--no-mail")
    assert result.exit_code == 0, result.output
    assert "[xa001]" in result.output and "[xa003]" in result.output
    again = cchc(city_dir, tmp_path, "sweep", "--at", "2027-03-20T08:00", "--no-mail")
    assert "mở 0 việc, chuyển bước 0 việc, 0 thư chờ gửi" in again.output

    rows = json.loads(cchc(city_dir, tmp_path, "items", "--format", "json").output)
    assert {r["commune"] for r in rows} == {"xa001", "xa002", "xa003", "haiphong"}
    mine = json.loads(
        cchc(city_dir, tmp_path, "items", "--format", "json", "--commune", "xa002").output
    )
    assert mine and {r["commune"] for r in mine} == {"xa002"}
    assert len(mine) < len(rows)

    unknown = cchc(city_dir, tmp_path, "items", "--commune", "xa404")
    assert unknown.exit_code == 1 and "Không có xã mã 'xa404'" in unknown.output
    ambiguous = cchc(
        city_dir, tmp_path, "open", "--obligation", "x", "--unit", "VP", "--due", "2027-05-01"
    )
    assert ambiguous.exit_code == 1 and "chọn một xã bằng --commune CODE" in ambiguous.output

    # An item's commands find its commune; --commune of another commune refuses it.
    item = mine[0]["id"]
    assert cchc(city_dir, tmp_path, "waive", str(item), "--reason", "thử").exit_code == 0
    other = cchc(city_dir, tmp_path, "outbox", "--item", str(item), "--commune", "xa001")
    assert other.exit_code == 1
    outbox = json.loads(
        cchc(city_dir, tmp_path, "outbox", "--item", str(item), "--format", "json").output
    )
    assert outbox and {r["commune"] for r in outbox} == {"xa002"}

    plan = json.loads(
        cchc(city_dir, tmp_path, "plan", "--from", "2027-03-16", "--to", "2027-03-17",
             "--format", "json").output
    )  # fmt: skip
    assert {(r["commune"], r["due"]) for r in plan if r["unit"] == "VP"} == {
        ("xa001", "2027-03-16"), ("xa002", "2027-03-17"), ("xa003", "2027-03-16")
    }  # fmt: skip
    obligations = cchc(city_dir, tmp_path, "obligations", "--commune", "xa001", "--format", "csv")
    assert obligations.output.splitlines()[0].startswith("commune,id,")


def test_single_commune_rows_have_no_commune_column(tmp_path):
    result = cchc(SHIPPED, tmp_path, "plan", "--from", "2027-03-16", "--to", "2027-03-16",
                  "--format", "json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert all("commune" not in row for row in json.loads(result.output))
    # --commune with the only commune's code is accepted.
    assert cchc(SHIPPED, tmp_path, "check", "--commune", "maodien").exit_code == 0


def test_read_only_commands_fall_back_on_the_citys_last_valid_config(city_dir, tmp_path):
    assert cchc(city_dir, tmp_path, "init-db").exit_code == 0
    # A commune's own files: that commune is quarantined on its last valid ones (see
    # test_quarantine.py), read-only commands answer for every commune.
    edit(city_dir / "communes" / "xa003" / "units.yaml", "code: VP", "code: vp")
    result = cchc(city_dir, tmp_path, "items", "--format", "json")
    assert result.exit_code == 0, result.output
    assert "xã xa003 bị cách ly do cấu hình lỗi" in result.output
    # The city's own files: the whole last valid config.
    edit(city_dir / "city.yaml", "name: Thành phố Hải Phòng", "name: ''")
    result = cchc(city_dir, tmp_path, "items", "--format", "json")
    assert result.exit_code == 0, result.output
    assert "dùng cấu hình hợp lệ gần nhất" in result.output


def test_the_city_office_has_its_own_deadline_after_the_communes(city_dir):
    city = load_city(city_dir)
    office = city.office
    assert office.commune.code == "haiphong" and list(office.units) == ["SNV"]
    assert city.plan_of("haiphong") is office and city.select(None)[-1] is office
    span = (date(2027, 3, 1), date(2027, 3, 31))
    (own,) = office.occurrences(*span, obligation="bao-cao-cchc-thanh-pho")
    communes = {
        code: plan.occurrences(*span, obligation="bao-cao-cchc-tong-hop")[0].due.due
        for code, plan in city.plans.items()
    }
    assert own.due.due == date(2027, 3, 24)
    assert all(due < own.due.due for due in communes.values())
    # A commune's consolidated report knows the city's due date (`before: consolidated_due`).
    assert city.plans["xa002"].consolidated_due("bao-cao-cchc-tong-hop", communes["xa002"]) == (
        own.due.due
    )


def test_the_city_report_must_fall_due_after_the_communes(city_dir):
    path = city_dir / "city.yaml"
    line = edit(path, "working_days_after_window: 8", "working_days_after_window: 3")
    (issue,) = errors(city_dir)
    assert issue.startswith(f"{path}:{line}: period 2026-Q1: due ")
    assert "is not after commune xa0" in issue and "hạn của thành phố phải sau hạn của xã" in issue
    edit(path, "working_days_after_window: 3", "working_days_after_window: 8")
    line = edit(path, "consolidates: bao-cao-cchc-tong-hop", "consolidates: bao-cao-khac")
    assert errors(city_dir) == [
        f"{path}:{line}: unknown obligation 'bao-cao-khac' (nhiệm vụ không tồn tại)"
    ]


def test_the_city_offices_item_shows_each_communes_report_live(city_dir, tmp_path):
    assert cchc(city_dir, tmp_path, "init-db").exit_code == 0
    assert cchc(city_dir, tmp_path, "sweep", "--at", "2027-03-11T08:00", "--no-mail").exit_code == 0
    rows = json.loads(cchc(city_dir, tmp_path, "items", "--format", "json").output)
    office_rows = [r for r in rows if r["commune"] == "haiphong"]
    assert {r["unit"] for r in office_rows} == {"SNV"}
    (city_item,) = [r for r in office_rows if r["period"] == "2027-Q1"]
    reports = {
        r["commune"]: r["id"]
        for r in rows
        if r["obligation"] == "bao-cao-cchc-tong-hop" and r["period"] == "2027-Q1"
    }
    assert sorted(reports) == ["xa001", "xa002", "xa003"]
    report = tmp_path / "bao-cao.pdf"
    report.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    attached = cchc(city_dir, tmp_path, "attach", str(reports["xa001"]), str(report),
                    "--no-check", "--at", "2027-03-17T09:00")  # fmt: skip
    assert attached.exit_code == 0, attached.output
    late = cchc(city_dir, tmp_path, "receive", str(reports["xa002"]), "--doc", "12/BC-UBND",
                "--date", "2027-03-22", "--at", "2027-03-22T10:00")  # fmt: skip
    assert "(closed), quá hạn" in late.output
    mail = cchc(city_dir, tmp_path, "preview", str(city_item["id"]), "--kind", "reminder",
                "--at", "2027-03-22T11:00").output  # fmt: skip
    assert "To: Sở Nội vụ thành phố Hải Phòng <cchc@snv.haiphong.example>" in mail
    assert "Tình hình nhận báo cáo của các xã" in mail
    assert "Đã nhận 2/3 báo cáo của các xã (1 nộp sau hạn); chưa nhận: 1" in mail
    assert "+ Ủy ban nhân dân xã XA002 (hạn 19/03/2027): đã nộp, sau hạn" in mail
    assert "+ Ủy ban nhân dân xã XA003 (hạn 18/03/2027): chưa nộp (đã quá hạn" in mail
    assert "Kế hoạch số" not in mail  # its basis is the city's own rule
    only = json.loads(
        cchc(city_dir, tmp_path, "items", "--commune", "haiphong", "--format", "json").output
    )
    assert {r["commune"] for r in only} == {"haiphong"}


def test_mail_templates_are_shared_by_the_city_and_overridden_by_a_commune(city_dir, tmp_path):
    shipped = Path(__file__).resolve().parent.parent / "notifications" / "templates"
    subject = (shipped / "opened.subject.j2").read_text("utf-8")
    (city_dir / "templates").mkdir()
    (city_dir / "templates" / "opened.subject.j2").write_text(
        "[Hải Phòng] " + subject, encoding="utf-8"
    )
    own = city_dir / "communes" / "xa002" / "templates"
    own.mkdir()
    (own / "opened.subject.j2").write_text("{{ no_such_variable }}\n", encoding="utf-8")
    result = cchc(city_dir, tmp_path, "check")
    assert result.exit_code == 1
    assert f"{own / 'opened.subject.j2'}:1: unknown variable 'no_such_variable'" in result.output
    (own / "opened.subject.j2").unlink()
    assert cchc(city_dir, tmp_path, "check").exit_code == 0
    assert cchc(city_dir, tmp_path, "init-db").exit_code == 0
    cchc(city_dir, tmp_path, "sweep", "--at", "2027-03-02T08:00", "--no-mail")
    rows = json.loads(cchc(city_dir, tmp_path, "items", "--format", "json").output)
    item = next(r for r in rows if r["commune"] == "xa003")
    mail = cchc(city_dir, tmp_path, "preview", str(item["id"]), "--kind", "opened").output
    assert "Subject: [Hải Phòng] " in mail


def test_the_city_code_is_no_communes(city_dir):
    path = city_dir / "city.yaml"
    line = edit(path, "code: haiphong", "code: xa002")
    (issue,) = errors(city_dir)
    assert issue.startswith(f"{path}:{line}: city.code 'xa002' is also a commune's folder name")


def test_a_commune_that_forgot_extends_is_an_error_not_an_empty_plan(city_dir, tmp_path):
    commune = city_dir / "communes" / "xa003" / "commune.yaml"
    edit(commune, "\nextends: ../../plans/xa\n", "\n")
    found = errors(city_dir)
    assert any(
        e.startswith(f"{commune}:") and "no obligation is defined" in e and "extends:" in e
        for e in found
    ), found
    # ... and the city report that sums up its consolidated report says which commune lacks it
    # once the commune has obligations of its own but not that one.
    (commune.parent / "own.yaml").write_text(
        """obligations:
  - id: ke-hoach-cchc-nam
    title: Kế hoạch cải cách hành chính năm
    kind: annual_plan
    ref: Mục V.1
    lead: [VHXH]
    product: Kế hoạch cải cách hành chính {period}
    timing: Tháng 12 hằng năm
    schedule: {every: annual, due: {on: "12-15", year_offset: -1}}
""",
        encoding="utf-8",
    )
    (issue,) = errors(city_dir)
    assert "'bao-cao-cchc-tong-hop' is not a scheduled obligation of every commune" in issue
    assert "missing in xa003" in issue


def test_a_template_names_each_communes_plan(city_dir):
    city = load_city(city_dir)
    titles = {c: p.obligations["tong-ket-ke-hoach-2030"].title for c, p in city.plans.items()}
    assert titles["xa001"] == "Tổng kết việc thực hiện Kế hoạch 84/KH-UBND giai đoạn 2026 - 2030"
    edit(city_dir / "communes" / "xa002" / "commune.yaml", "plan_short: 84/KH-UBND",
         "plan_short: 12/KH-UBND")  # fmt: skip
    city = load_city(city_dir)
    assert "Kế hoạch 12/KH-UBND" in city.plans["xa002"].obligations["tong-ket-ke-hoach-2030"].title
    path = city_dir / "plans" / "xa" / "obligations-plan.yaml"
    line = edit(path, "Kế hoạch {plan_short} giai đoạn", "Kế hoạch {so_hieu} giai đoạn")
    (issue,) = errors(city_dir)
    assert issue.startswith(
        f"{path}:{line}: unknown placeholder {{so_hieu}}: use {{commune_kind}}, {{plan_short}}"
    )


def test_a_communes_own_copy_of_a_template_obligation_is_warned(city_dir, tmp_path):
    own = city_dir / "communes" / "xa001" / "own.yaml"
    own.write_text(
        (city_dir / "plans" / "xa" / "obligations-duties.yaml").read_text("utf-8"),
        encoding="utf-8",
    )
    result = cchc(city_dir, tmp_path, "check")
    assert result.exit_code == 0, result.output
    warning = next(ln for ln in result.output.splitlines() if "warning:" in ln)
    assert warning.startswith(f"{own}:")
    assert "obligation(s) of this commune replace the shared ones" in warning


def test_the_city_offices_own_escalation_is_not_addressed_to_itself(city_dir, tmp_path):
    assert cchc(city_dir, tmp_path, "init-db").exit_code == 0
    cchc(city_dir, tmp_path, "sweep", "--at", "2027-03-11T08:00", "--no-mail")
    rows = json.loads(cchc(city_dir, tmp_path, "items", "--commune", "haiphong",
                           "--format", "json").output)  # fmt: skip
    item = next(r for r in rows if r["period"] == "2027-Q1")
    mail = cchc(city_dir, tmp_path, "preview", str(item["id"]), "--kind", "escalation").output
    assert "To: Phó Chủ tịch UBND thành phố <pct@haiphong.example>" in mail
    assert (
        "Sở Nội vụ thành phố Hải Phòng kính báo cáo đồng chí: Báo cáo CCHC quý I năm 2027 chưa "
        "hoàn thành" in mail
    )
    assert "; đến nay chưa nhận được báo cáo của: Ủy ban nhân dân xã XA001" in mail
    assert "kính đề nghị đồng chí chỉ đạo Ủy ban nhân dân xã XA001" in mail
    assert "Cơ quan chủ trì: Sở Nội vụ" in mail
    assert "gửi sản phẩm về Sở Nội vụ" not in mail
    # A leader's first mail about the item: "Kính báo cáo", no "lần 1".
    assert "– Kính báo cáo: chưa hoàn thành Báo cáo CCHC quý I năm 2027\n" in mail


def test_no_calendar_warning_when_every_commune_has_the_year(tmp_path):
    folder = write_city(tmp_path / "city", commune_codes(2), minimal=True)
    city = load_city(folder)
    assert calendar_warnings(city, date(2026, 12, 1)) == []
    (warning,) = calendar_warnings(city, date(2027, 10, 1))
    assert "create calendar.yaml with `calendar:` beside city.yaml" in str(warning)


def test_the_example_city_passes_check(tmp_path):
    example = SHIPPED / "examples" / "city"
    result = cchc(example, tmp_path, "check")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        "Cấu hình hợp lệ: thành phố thanhphovidu, 1 xã, 1 phường, 6 đơn vị, 7 nhiệm vụ, 1 báo "
        "cáo của cơ quan thành phố"
    )


def test_preview_of_a_request_for_inputs(city_dir, tmp_path):
    """`preview --kind coordinate` renders the coordinating unit's request (it used to crash)."""
    assert cchc(city_dir, tmp_path, "init-db").exit_code == 0
    cchc(city_dir, tmp_path, "sweep", "--at", "2027-03-11T08:00", "--no-mail")
    rows = json.loads(cchc(city_dir, tmp_path, "items", "--format", "json").output)
    item = next(r for r in rows if r["obligation"] == "ke-hoach-ra-soat-vbqppl-hang-nam")
    mail = cchc(city_dir, tmp_path, "preview", str(item["id"]), "--kind", "coordinate")
    assert mail.exit_code == 0, mail.output
    assert "Subject: [CCHC] Hạn " in mail.output and " – Đề nghị phối hợp với " in mail.output
