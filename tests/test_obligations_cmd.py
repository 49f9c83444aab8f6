"""`cchc obligations`: the whole plan, standing tasks included, from the real command on the
shipped config (issue 9 §1)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from cchc.cli import main

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"
FIELDS = [
    "id",
    "ref",
    "title",
    "kind",
    "lead",
    "coordinators",
    "timing",
    "product",
    "description",
    "tracking",
    "reported_in",
    "consolidates",
    "next_due",
]


def config_obligations() -> list[dict]:
    """The obligations as the YAML files write them, whichever file holds them."""
    found = []
    for path in sorted(CONFIG.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        found += data.get("obligations") or []
    return found


def in_all_units() -> list[str]:
    units = yaml.safe_load((CONFIG / "units.yaml").read_text(encoding="utf-8"))["units"]
    return [u["code"] for u in units if u.get("in_all", True)]


@pytest.fixture
def cchc(tmp_path):
    env = {
        "CCHC_CONFIG": str(CONFIG),
        "CCHC_DATA_DIR": str(tmp_path / "data"),
        "CCHC_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'cchc.db'}",
    }

    def run(*args: str, ok: bool = True):
        done = CliRunner().invoke(main, list(args), env=env)
        if ok:
            assert done.exit_code == 0, done.output
        return done

    return run


def as_json(cchc, *args: str) -> list[dict]:
    return json.loads(cchc("obligations", "--format", "json", *args).stdout)


def test_json_lists_every_obligation_of_the_config_with_its_fields(cchc):
    rows = as_json(cchc, "--at", "2027-03-01T08:00")
    written = config_obligations()
    assert [r["id"] for r in rows] == [o["id"] for o in written]
    assert all(list(r) == FIELDS for r in rows)
    by_id = {r["id"]: r for r in rows}
    for ob in written:
        row = by_id[ob["id"]]
        # {plan_short} in the shipped texts is the commune's plan number (84/KH-UBND),
        # {commune_kind} what it is (Mao Điền: a xã).
        ob = {k: v.replace("{plan_short}", "84/KH-UBND").replace("{commune_kind}", "xã")
              if isinstance(v, str) else v for k, v in ob.items()}  # fmt: skip
        assert (row["ref"], row["title"], row["kind"]) == (ob["ref"], ob["title"], ob["kind"])
        assert (row["timing"], row["product"]) == (ob["timing"], ob["product"])
        assert row["reported_in"] == ob.get("reported_in")
        assert row["consolidates"] == ob.get("consolidates")
        description = ob.get("description")
        assert row["description"] == (" ".join(description.split()) if description else None)


def test_every_annex_row_is_listed(cchc):
    rows = as_json(cchc)
    annex = [o["ref"] for o in config_obligations() if o["ref"].startswith("Phụ lục mục ")]
    assert annex and sorted(r["ref"] for r in rows if r["ref"].startswith("Phụ lục")) == sorted(
        annex
    )
    standing = [r for r in rows if r["kind"] == "standing"]
    assert standing and all(r["tracking"] == "reported_in" for r in standing)
    assert all(r["next_due"] is None for r in standing)


def test_all_is_expanded_and_the_lead_is_not_a_coordinator(cchc):
    rows = {r["id"]: r for r in as_json(cchc)}
    everyone = in_all_units()
    for ob in config_obligations():
        row = rows[ob["id"]]
        named = set(ob.get("coordinators", [])) - {"ALL"}
        excepted = set(ob.get("all_except", []))
        assert "ALL" not in row["lead"] + row["coordinators"]
        # A unit that ALL brings in is not listed twice; one the plan names is kept.
        assert set(row["lead"]) & set(row["coordinators"]) <= named
        if "ALL" in ob["lead"]:
            # The standing office owes no unit report that its consolidated report sums up.
            office_excused = {"VHXH"} if ob["id"] == "bao-cao-cchc-dinh-ky" else set()
            assert set(everyone) - office_excused - excepted <= set(row["lead"])
            assert not office_excused & set(row["lead"])
        if "ALL" in ob.get("coordinators", []):
            assert set(everyone) - set(row["lead"]) - excepted <= set(row["coordinators"])
        assert not excepted & set(row["lead"] + row["coordinators"])


def test_the_plans_own_coordinators_are_kept_when_all_units_lead(cchc):
    """II.1 and III.3: "Các cơ quan, đơn vị" lead, a named unit coordinates (the Trung tâm
    Phục vụ hành chính công, the Phòng Văn hóa - Xã hội): the plan's coordinator is listed."""
    rows = {r["ref"]: r for r in as_json(cchc)}
    assert rows["Phụ lục mục II.1"]["coordinators"] == ["TTPVHCC"]
    assert rows["Phụ lục mục III.3"]["coordinators"] == ["VHXH"]
    assert rows["Phụ lục mục III.3, ý 1"]["coordinators"] == ["VHXH"]
    assert "TTPVHCC" in rows["Phụ lục mục II.1"]["lead"]  # it also does its own part


def test_a_unit_excluded_from_a_row_is_not_listed_on_it(cchc):
    """IV.2 and V.2 concern public service units: the commune police is not among the
    coordinators that "Các cơ quan, đơn vị" brings in (`all_except: [CA]`)."""
    rows = {r["ref"]: r for r in as_json(cchc)}
    for ref in ("Phụ lục mục IV.2", "Phụ lục mục V.2"):
        assert "CA" not in rows[ref]["coordinators"] and "VP" in rows[ref]["coordinators"]
    mine = {r["ref"] for r in as_json(cchc, "--unit", "CA")}
    assert "Phụ lục mục IV.2" not in mine and "Phụ lục mục IV.1" in mine


def test_tracking_and_next_due(cchc):
    rows = {r["id"]: r for r in as_json(cchc, "--at", "2027-03-01T08:00")}
    written = {o["id"]: o for o in config_obligations()}
    for oid, row in rows.items():
        expected = (
            "scheduled"
            if written[oid].get("schedule")
            else "ad_hoc"
            if written[oid]["kind"] == "ad_hoc"
            else "reported_in"
        )
        assert row["tracking"] == expected, oid
        if expected != "scheduled":
            assert row["next_due"] is None, oid
    # The unit's Q1 2027 report: data to 14/03/2027, due two working days later.
    assert rows["bao-cao-cchc-dinh-ky"]["next_due"] == "2027-03-16"
    later = {r["id"]: r for r in as_json(cchc, "--at", "2027-03-17T08:00")}
    assert later["bao-cao-cchc-dinh-ky"]["next_due"] > "2027-03-16"
    after_the_plan = as_json(cchc, "--at", "2031-06-01T08:00")
    assert all(r["next_due"] is None for r in after_the_plan)


def test_unit_filter_keeps_what_the_unit_leads_or_coordinates(cchc):
    everything = as_json(cchc)
    rows = as_json(cchc, "--unit", "CA")
    expected = [r["id"] for r in everything if "CA" in r["lead"] + r["coordinators"]]
    assert rows and [r["id"] for r in rows] == expected
    assert len(rows) < len(everything)  # CA does not take part in everything


def test_kind_filter(cchc):
    rows = as_json(cchc, "--kind", "standing")
    written = [o["id"] for o in config_obligations() if o["kind"] == "standing"]
    assert rows and [r["id"] for r in rows] == written
    assert cchc("obligations", "--kind", "nonsense", ok=False).exit_code != 0


def test_csv_header_and_units(cchc):
    out = cchc("obligations", "--format", "csv", "--unit", "CA").stdout
    assert out.splitlines()[0] == ",".join(FIELDS)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows and all("CA" in (r["lead"] + " " + r["coordinators"]).split() for r in rows)


def test_table_is_vietnamese_and_fits_100_columns(cchc):
    out = cchc("obligations", "--at", "2027-03-01T08:00").stdout
    lines = out.splitlines()
    headers = "Mục Nhiệm vụ Loại Chủ trì Phối hợp Hạn tới"
    assert lines[0].split() == headers.split()
    assert max(len(line) for line in lines) <= 100
    assert "thường xuyên" in out and "16/03/2027" in out and "2027-03-16" not in out


def test_unknown_unit_exits_1(cchc):
    done = cchc("obligations", "--unit", "NOPE", ok=False)
    assert done.exit_code == 1
    assert "lỗi: Không có đơn vị mã 'NOPE'" in done.output


def test_read_only_no_database_no_prefect_no_sqlmodel(tmp_path):
    code = (
        "import sys; from click.testing import CliRunner; from cchc.cli import main\n"
        "r = CliRunner().invoke(main, ['obligations', '--format', 'json'])\n"
        "assert r.exit_code == 0, r.output\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        "assert not loaded & {'prefect', 'apscheduler', 'sqlmodel', 'sqlalchemy'}, loaded\n"
    )
    env = {
        **os.environ,
        "CCHC_CONFIG": str(CONFIG),
        "CCHC_DATA_DIR": str(tmp_path / "data"),
        "CCHC_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'cchc.db'}",
    }
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "data" / "cchc.db").exists()
