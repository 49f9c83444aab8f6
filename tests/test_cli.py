"""The CLI contract users' scripts rely on, driven as a real command."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from support import cli_env, find_item, run_cchc

from schedules.dates import parse_instant

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cchc(tmp_path, sqlite_url):
    env = cli_env(tmp_path / "data", sqlite_url)
    return lambda *args, ok=True: run_cchc(env, *args, cwd=tmp_path, ok=ok)


def test_plan_json_fields(cchc):
    rows = json.loads(
        cchc("plan", "--from", "2027-01-01", "--to", "2027-12-31", "--format", "json").stdout
    )
    fields = {
        "obligation",
        "title",
        "unit",
        "period",
        "window_start",
        "window_end",
        "opens",
        "due",
        "basis",
    }
    assert rows and all(fields <= set(r) for r in rows)
    q1 = [
        r
        for r in rows
        if r["obligation"] == "bao-cao-cchc-dinh-ky"
        and r["unit"] == "VP"
        and r["period"] == "2027-Q1"
    ]
    assert q1 == [q1[0]] and (q1[0]["window_start"], q1[0]["window_end"], q1[0]["due"]) == (
        "2026-12-15",
        "2027-03-14",
        "2027-03-16",
    )
    assert all(r["due"][:4] == "2027" for r in rows)


def test_plan_unit_filter_and_csv(cchc):
    out = cchc(
        "plan", "--from", "2027-01-01", "--to", "2027-06-30", "--unit", "KT", "--format", "csv"
    ).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows and {r["unit"] for r in rows} == {"KT"}


def test_table_output_uses_vietnamese_dates(cchc):
    out = cchc("plan", "--from", "2027-03-01", "--to", "2027-03-31").stdout
    assert "16/03/2027" in out and "2027-03-16" not in out


def test_sweep_items_attach_report(cchc, tmp_path):
    out = cchc("sweep", "--at", "2027-03-02T07:30").stdout
    assert "opened" in out
    items = json.loads(cchc("items", "--format", "json").stdout)
    fields = {
        "id",
        "obligation",
        "unit",
        "period",
        "status",
        "due",
        "opened_at",
        "closed_at",
        "on_time",
    }
    assert items and all(fields <= set(i) for i in items)
    vp = next(
        i
        for i in items
        if i["unit"] == "VP"
        and i["period"] == "2027-Q1"
        and i["obligation"] == "bao-cao-cchc-dinh-ky"
    )
    assert vp["opened_at"] == "2027-03-02T07:30:00+07:00" and vp["status"] == "open"

    doc = tmp_path / "bao-cao.pdf"
    doc.write_bytes(b"%PDF-1.7")
    out = cchc("attach", str(vp["id"]), str(doc), "--by", "VP", "--at", "2027-03-10T15:00").stdout
    assert "closed" in out
    closed = json.loads(cchc("items", "--status", "closed", "--format", "json").stdout)
    assert [(i["id"], i["on_time"]) for i in closed] == [(vp["id"], True)]
    assert closed[0]["closed_at"] == "2027-03-10T15:00:00+07:00"

    cchc("sweep", "--at", "2027-03-20T07:30")
    report = json.loads(
        cchc("report", "--year", "2027", "--format", "json", "--at", "2027-03-20T07:30").stdout
    )
    by_unit = {r["unit"]: r for r in report}
    vp_row = by_unit["VP"]
    assert vp_row["on_time"] == 1
    settled = vp_row["on_time"] + vp_row["late"] + vp_row["overdue_open"]
    assert vp_row["on_time_rate"] == round(1 / settled, 4)
    assert by_unit["KT"]["overdue_open"] >= 1 and by_unit["KT"]["on_time_rate"] == 0.0
    assert "overdue" not in {
        i["status"]
        for i in json.loads(
            cchc("items", "--unit", "VP", "--status", "closed", "--format", "json").stdout
        )
    }


@pytest.mark.parametrize(
    "args",
    [
        ("plan", "--from", "2027-02-30", "--to", "2027-03-01"),
        ("plan", "--from", "hôm nay", "--to", "2027-03-01"),
        ("sweep", "--at", "yesterday"),
        ("attach", "424242", "/etc/hostname"),
        ("waive", "424242", "--reason", "x"),
        ("open", "--obligation", "nhiem-vu-dot-xuat", "--unit", "VP", "--due", "2027-13-01"),
        ("items", "--status", "lost"),
    ],
)
def test_bad_input_exits_non_zero_with_a_message(cchc, args):
    done = cchc(*args, ok=False)
    assert done.returncode != 0
    assert done.stderr.strip()
    assert "Traceback" not in done.stderr


def test_read_only_commands_never_import_prefect_nor_apscheduler(tmp_path, sqlite_url):
    """The read-only commands (README: check, plan, items, report, outbox, preview), and
    `reload` refused for want of an engine, answer without importing the orchestration's
    libraries: they only reach the layers below flows/ (import-linter keeps those free of
    Prefect and APScheduler)."""
    code = (
        "import sys; from click.testing import CliRunner; from cchc.cli import main\n"
        "ok = lambda *args: CliRunner().invoke(main, list(args))\n"
        "for args in (['init-db'], ['sweep', '--at', '2027-03-02T08:00', '--no-mail'],\n"
        "             ['check'], ['items'], ['report', '--year', '2027'], ['outbox'],\n"
        "             ['plan', '--from', '2027-01-01', '--to', '2027-12-31'],\n"
        "             ['preview', '1', '--kind', 'escalation']):\n"
        "    r = ok(*args); assert r.exit_code == 0, (args, r.output)\n"
        "r = ok('reload'); assert r.exit_code == 1 and 'no engine is running' in r.output\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'prefect', 'apscheduler'})\n"
        "assert not loaded, loaded\n"
    )
    env = {
        **os.environ,
        "CCHC_DATA_DIR": str(tmp_path),
        "CCHC_DATABASE_URL": sqlite_url,
        "CCHC_CONFIG": str(ROOT / "config"),
    }
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def test_read_only_commands_do_not_create_a_database(cchc, tmp_path):
    done = cchc("items", ok=False)
    assert done.returncode != 0 and "init-db" in done.stderr
    assert not (tmp_path / "cchc.db").exists()


def test_schema_export_matches_the_shipped_schema(cchc):
    exported = json.loads(cchc("schema").stdout)
    assert exported == json.loads((ROOT / "config" / "schema.json").read_text(encoding="utf-8"))
    assert {"commune", "units", "calendar", "obligations"} <= set(exported["properties"])


def test_cli_choices_come_from_the_vocabulary():
    """`--status` of `items` offers every status the item state machine knows, and no other;
    `--status` of `outbox` every outbox status."""
    from cchc import cli
    from schedules.transitions import TRANSITIONS
    from schedules.vocabulary import ItemStatus, OutboxStatus

    def choices(command, name: str) -> list[str]:
        [option] = [p for p in command.params if p.name == name]
        return list(option.type.choices)

    machine = {s for (s, _), targets in TRANSITIONS.items() for s in {s, *targets}}
    assert choices(cli.items_cmd, "status") == [s.value for s in ItemStatus]
    assert set(choices(cli.items_cmd, "status")) == machine
    assert choices(cli.outbox_cmd, "status") == [s.value for s in OutboxStatus]


# ----- one rule for the effective due date (issue: divergences 1 and 2) ---------------------


def test_ad_hoc_item_due_on_a_saturday_is_due_on_monday(cchc, tmp_path):
    """`cchc open --due` a Saturday: the civil-code shift applies as for any due date. Due
    Monday 24/05/2027, not overdue that morning, a Monday hand-in is on time, and the mail
    says why the date moved."""
    opened = cchc(
        "open", "--obligation", "nhiem-vu-dot-xuat", "--unit", "VP", "--due", "2027-05-22",
        "--at", "2027-05-10T09:00",
    ).stdout  # fmt: skip
    assert "due 24/05/2027" in opened and "22/05/2027 là ngày nghỉ (Thứ Bảy)" in opened
    [item] = json.loads(cchc("items", "--format", "json").stdout)
    assert (item["due"], item["period"]) == ("2027-05-24", "2027-05-24")
    mail = cchc("preview", str(item["id"]), "--kind", "opened", "--at", "2027-05-10T09:00").stdout
    assert "Thứ Hai, ngày 24/05/2027" in mail
    assert "22/05/2027 là ngày nghỉ (Thứ Bảy), chuyển sang ngày làm việc tiếp theo" in mail

    cchc("sweep", "--at", "2027-05-24T07:30", "--no-mail")
    [item] = [i for i in json.loads(cchc("items", "--format", "json").stdout) if i["adhoc"]]
    assert item["status"] == "open"  # due today, not overdue
    doc = tmp_path / "bao-cao.pdf"
    doc.write_bytes(b"%PDF-1.7 bao cao")
    done = cchc("attach", str(item["id"]), str(doc), "--at", "2027-05-24T16:00").stdout
    assert "on time" in done
    [vp] = [
        r
        for r in json.loads(cchc("report", "--year", "2027", "--format", "json").stdout)
        if r["unit"] == "VP"
    ]
    assert (vp["on_time"], vp["late"]) == (1, 0)  # only this item was handed in


def test_open_refuses_a_scheduled_obligation(cchc):
    done = cchc(
        "open", "--obligation", "bao-cao-cchc-dinh-ky", "--unit", "VP", "--due", "2027-05-24",
        "--at", "2027-05-10T09:00", ok=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "not an ad hoc one" in done.stderr and "nhiem-vu-dot-xuat" in done.stderr
    assert json.loads(cchc("items", "--format", "json").stdout) == []


@pytest.mark.parametrize("path", ["cchc return", "office page", "use case"])
def test_a_return_due_date_follows_the_policy_on_every_path(path, tmp_path, sqlite_url):
    """With `shift: none`, a deliverable returned to a Saturday is due that Saturday, whether
    through `cchc return`, the office page's use case or the lifecycle function; with the
    civil-code shift (the shipped default) it is due on the Monday after."""
    from models.db import ensure_schema, make_engine
    from schedules.plan import load_plan
    from usecases.lifecycle import return_deliverable
    from usecases.review import attach, return_version
    from usecases.sweep import sweep

    for shift, due in (("none", "2027-03-20"), ("next_working_day", "2027-03-22")):
        config = tmp_path / shift / "config"
        shutil.copytree(ROOT / "config", config)
        commune = config / "commune.yaml"
        text = commune.read_text(encoding="utf-8")
        commune.write_text(text.replace("shift: next_working_day", f"shift: {shift}"))
        url = f"sqlite:///{tmp_path / shift / 'cchc.db'}"
        plan, engine = load_plan(config), make_engine(url)
        ensure_schema(engine)
        sweep(plan, engine, parse_instant("2027-03-02T07:30"))
        item_id = find_item(engine, "bao-cao-cchc-dinh-ky", "VP", "2027-Q1").id
        doc = tmp_path / "q1.pdf"
        doc.write_bytes(b"%PDF-1.7 q1")
        at = parse_instant("2027-03-15T10:00")
        attach(plan, engine, tmp_path / shift / "data", item_id, doc, at)
        saturday = date(2027, 3, 20)
        if path == "cchc return":
            env = cli_env(tmp_path / shift / "data", url, CCHC_CONFIG=str(config))
            run_cchc(
                env, "return", str(item_id), "--reason", "Thiếu số liệu", "--due",
                saturday.isoformat(), "--at", "2027-03-15T11:00",
            )  # fmt: skip
        elif path == "office page":
            return_version(plan, engine, item_id, 1, "Thiếu số liệu", saturday, at)
        else:
            return_deliverable(plan, engine, item_id, "Thiếu số liệu", saturday, at)
        reopened = find_item(engine, "bao-cao-cchc-dinh-ky", "VP", "2027-Q1")
        assert (reopened.status, reopened.due.isoformat()) == ("open", due), (path, shift)
        engine.dispose()
