"""The CLI contract users' scripts rely on, driven as a real command."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sys
from datetime import date
from pathlib import Path

import pytest
from intake_support import pdf_bytes
from support import cli_env, find_item, live_since_start, run_cchc, run_cchc_process, run_python

from schedules.dates import parse_instant

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cchc(tmp_path, sqlite_url):
    """`cchc ARGS` in this process (support.run_cchc), in `tmp_path`, on a fresh database; the
    shipped config, live since its start date (a late first sweep catches up, holds nothing)."""
    config = live_since_start(tmp_path / "config-live")
    env = cli_env(tmp_path / "data", sqlite_url, CCHC_CONFIG=str(config))
    return lambda *args, ok=True: run_cchc(env, *args, cwd=tmp_path, ok=ok)


@pytest.fixture
def cchc_process(tmp_path, sqlite_url):
    """The same as `cchc`, as the real command: its own process (`python -m cchc.cli`)."""
    env = cli_env(tmp_path / "data", sqlite_url)
    return lambda *args, ok=True: run_cchc_process(env, *args, cwd=tmp_path, ok=ok)


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
    sweep_items_attach_report(cchc, tmp_path)


@pytest.mark.slow
def test_the_real_command_sweeps_lists_and_refuses(cchc_process):
    """The command as users' scripts run it, its own process (`python -m cchc.cli`): a sweep,
    the items as JSON, and a refusal (exit 1, the reason on stderr, no traceback). The other
    tests drive the same commands in-process (support.run_cchc)."""
    assert (
        "Rà soát lúc 02/03/2027 07:30: mở "
        in cchc_process("sweep", "--at", "2027-03-02T07:30").stdout
    )
    items = json.loads(cchc_process("items", "--format", "json").stdout)
    assert any(i["period"] == "2027-Q1" and i["status"] == "open" for i in items)
    done = cchc_process("waive", "424242", "--reason", "x", ok=False)
    assert done.returncode == 1 and done.stderr.strip() and "Traceback" not in done.stderr


def sweep_items_attach_report(cchc, tmp_path) -> None:
    out = cchc("sweep", "--at", "2027-03-02T07:30").stdout
    assert "Rà soát lúc 02/03/2027 07:30: mở " in out
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
    doc.write_bytes(pdf_bytes())
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
    """The read-only commands (docs: check, plan, items, report, outbox, preview), and
    `reload` refused for want of an engine, answer without importing the orchestration's
    libraries: they reach only cchc.runtime and the layers below it, never flows/. Import-linter
    keeps every module outside flows/ from importing Prefect or APScheduler itself, but lets the
    CLI reach flows/ lazily; this test is what proves these commands do not."""
    code = (
        "import sys; from click.testing import CliRunner; from cchc.cli import main\n"
        "ok = lambda *args: CliRunner().invoke(main, list(args))\n"
        "for args in (['init-db'], ['sweep', '--at', '2027-03-02T08:00', '--no-mail'],\n"
        "             ['check'], ['items'], ['report', '--year', '2027'], ['outbox'],\n"
        "             ['plan', '--from', '2027-01-01', '--to', '2027-12-31'],\n"
        "             ['preview', '1', '--kind', 'escalation']):\n"
        "    r = ok(*args); assert r.exit_code == 0, (args, r.output)\n"
        "r = ok('reload'); assert r.exit_code == 1 and 'Không có `cchc run`' in r.output\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'prefect', 'apscheduler'})\n"
        "assert not loaded, loaded\n"
    )
    run_python(code, cli_env(tmp_path, sqlite_url))


def test_read_only_commands_do_not_create_a_database(cchc, tmp_path):
    done = cchc("items", ok=False)
    assert done.returncode != 0 and "init-db" in done.stderr
    assert not (tmp_path / "cchc.db").exists()


def test_schema_export_matches_the_shipped_schema(cchc):
    exported = json.loads(cchc("schema").stdout)
    assert exported == json.loads((ROOT / "config" / "schema.json").read_text(encoding="utf-8"))
    assert {"commune", "units", "calendar", "obligations"} <= set(exported["properties"])


def test_cli_choices_come_from_the_vocabulary():
    """`--status` of `items` offers every status the item state machine knows, and no other,
    then `late` (the filter of late items); `--status` of `outbox` every outbox status."""
    from cchc import cli
    from schedules.transitions import TRANSITIONS
    from schedules.vocabulary import LATE, ItemStatus, OutboxStatus

    def choices(command, name: str) -> list[str]:
        [option] = [p for p in command.params if p.name == name]
        return list(option.type.choices)

    machine = {s for (s, _), targets in TRANSITIONS.items() for s in {s, *targets}}
    assert choices(cli.items_cmd, "status") == [*(s.value for s in ItemStatus), LATE]
    assert set(choices(cli.items_cmd, "status")) - {LATE} == machine
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
    assert "hạn 24/05/2027" in opened and "22/05/2027 là ngày nghỉ (Thứ Bảy)" in opened
    [item] = json.loads(cchc("items", "--format", "json").stdout)
    assert (item["due"], item["period"]) == ("2027-05-24", "2027-05-24")
    mail = cchc("preview", str(item["id"]), "--kind", "opened", "--at", "2027-05-10T09:00").stdout
    assert "Thứ Hai, ngày 24/05/2027" in mail
    assert "22/05/2027 là ngày nghỉ (Thứ Bảy), chuyển sang ngày làm việc tiếp theo" in mail

    cchc("sweep", "--at", "2027-05-24T07:30", "--no-mail")
    [item] = [i for i in json.loads(cchc("items", "--format", "json").stdout) if i["adhoc"]]
    assert item["status"] == "open"  # due today, not overdue
    doc = tmp_path / "bao-cao.pdf"
    doc.write_bytes(pdf_bytes("bao cao"))
    done = cchc("attach", str(item["id"]), str(doc), "--at", "2027-05-24T16:00").stdout
    assert "đã nộp (closed), đúng hạn" in done
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
    assert "không phải nhiệm vụ đột xuất" in done.stderr and "nhiem-vu-dot-xuat" in done.stderr
    assert json.loads(cchc("items", "--format", "json").stdout) == []


@pytest.mark.parametrize("path", ["cchc return", "office page", "use case"])
def test_a_return_due_date_follows_the_policy_on_every_path(path, tmp_path, sqlite_url):
    """With `shift: none`, a deliverable returned to a Saturday is due that Saturday, whether
    through `cchc return`, the office page's use case or the lifecycle function; with the
    civil-code shift (the shipped default) it is due on the Monday after."""
    from models.db import ensure_schema, make_engine
    from schedules.plan_loader import load_plan
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


# ----- a CLI a commune officer reads: Vietnamese tables, JSON and CSV unchanged -----------------

ENGLISH_WORDS = (
    r"\b(open|overdue|escalated|closed|waived|pending|sent|failed|cancelled|opened|reminder|"
    r"escalation|returned|digest|sweep|advanced|queued|notifications?|mail|via|messages?|"
    r"retry|item|rows?)\b"
)


def table_row(table: str, row_id: int) -> str:
    """The line of a table whose first cell is `row_id`."""
    return next(ln for ln in table.splitlines() if ln.split()[:1] == [str(row_id)])


def english_in(text: str) -> list[str]:
    import re

    return re.findall(ENGLISH_WORDS, text, flags=re.IGNORECASE)


def test_items_table_is_vietnamese_while_json_keeps_the_enums(cchc, tmp_path):
    """`cchc items`: the state as of --at in Vietnamese (trong hạn, đến hạn hôm nay, quá hạn,
    quá hạn, đã báo cáo cấp trên (lần N), đã nộp, được miễn) and the obligation's short title;
    JSON keeps `status: "open"`, the obligation id and the whole title."""
    from notifications.phrases import shorten

    cchc("sweep", "--at", "2027-03-02T07:30", "--no-mail")
    items = json.loads(cchc("items", "--format", "json").stdout)
    q1 = {
        i["unit"]: i
        for i in items
        if i["obligation"] == "bao-cao-cchc-dinh-ky" and i["period"] == "2027-Q1"
    }
    vp, kt = q1["VP"], q1["KT"]
    assert vp["due"] == "2027-03-16" and vp["status"] == "open"

    def state(item: dict, at: str) -> str:
        return table_row(cchc("items", "--at", at).stdout, item["id"])

    assert "trong hạn" in state(vp, "2027-03-10T09:00")
    assert "đến hạn hôm nay" in state(vp, "2027-03-16T09:00")
    assert "quá hạn" in state(vp, "2027-03-17T09:00")  # open, past due, not swept yet

    # Items opened past their due date had a fresh deadline (05/03): escalated from 09/03.
    cchc("sweep", "--at", "2027-03-10T07:30", "--no-mail")
    items = json.loads(cchc("items", "--format", "json").stdout)
    table = cchc("items", "--at", "2027-03-10T07:30").stdout
    escalated = [i for i in items if i["status"] == "escalated"]
    assert escalated
    for item in escalated:
        level = item["escalation_level"]
        assert f"quá hạn, đã báo cáo cấp trên (lần {level})" in table_row(table, item["id"])
    row = table_row(table, vp["id"])
    assert shorten(vp["title"], 60) in row and "quý I năm 2027" in row
    assert "bao-cao-cchc-dinh-ky" not in table and "2027-Q1" not in table

    doc = tmp_path / "bao-cao.pdf"
    doc.write_bytes(pdf_bytes())
    cchc("attach", str(vp["id"]), str(doc), "--by", "VP", "--at", "2027-03-10T15:00")
    cchc("waive", str(kt["id"]), "--reason", "Không phát sinh", "--at", "2027-03-10T15:00")
    table = cchc("items", "--at", "2027-03-10T16:00").stdout
    assert "đã nộp" in table_row(table, vp["id"]) and "có" in table_row(table, vp["id"])
    assert "được miễn" in table_row(table, kt["id"])
    assert not english_in(table), english_in(table)

    by_id = {i["id"]: i for i in json.loads(cchc("items", "--format", "json").stdout)}
    assert (by_id[vp["id"]]["status"], by_id[kt["id"]]["status"]) == ("closed", "waived")
    assert {i["status"] for i in by_id.values()} == {"open", "escalated", "closed", "waived"}
    assert by_id[vp["id"]]["obligation"] == "bao-cao-cchc-dinh-ky"
    assert by_id[vp["id"]]["title"] == vp["title"] and len(vp["title"]) > 60


def test_plan_table_shows_the_short_title_csv_the_id(cchc):
    from notifications.phrases import shorten

    rows = json.loads(
        cchc("plan", "--from", "2027-03-01", "--to", "2027-03-31", "--format", "json").stdout
    )
    table = cchc("plan", "--from", "2027-03-01", "--to", "2027-03-31").stdout
    assert rows and all(shorten(r["title"], 60) in table for r in rows)
    assert not any(r["obligation"] in table for r in rows)
    assert "quý I năm 2027" in table and "2027-Q1" not in table
    out = cchc("plan", "--from", "2027-03-01", "--to", "2027-03-31", "--format", "csv").stdout
    assert {r["obligation"] for r in csv.DictReader(io.StringIO(out))} == {
        r["obligation"] for r in rows
    }


def test_outbox_table_is_vietnamese_while_json_keeps_the_enums(cchc, tmp_path):
    from notifications.labels import KIND_LABELS

    cchc("sweep", "--at", "2027-03-02T07:30", "--no-mail")
    items = json.loads(cchc("items", "--unit", "VP", "--format", "json").stdout)
    vp = next(i for i in items if i["period"] == "2027-Q1")
    doc = tmp_path / "bao-cao.pdf"
    doc.write_bytes(pdf_bytes())
    cchc("attach", str(vp["id"]), str(doc), "--at", "2027-03-10T15:00")  # cancels the opened mail

    def check(expected: dict[str, str]) -> None:
        rows = json.loads(cchc("outbox", "--format", "json").stdout)
        table = cchc("outbox").stdout
        assert {r["status"] for r in rows} == set(expected)
        for r in rows:
            line = table_row(table, r["id"])
            assert expected[r["status"]] in line and KIND_LABELS[r["kind"]] in line
            # the recorded reason of a cancelled row is data, not a label of the table
            assert not english_in(line.replace(r["last_error"] or "", "")), line

    # attach delivered its item's closed mails at once; the sweep's others wait for `send`
    check({"pending": "chờ gửi", "cancelled": "đã hủy", "sent": "đã gửi"})
    kinds = {r["kind"] for r in json.loads(cchc("outbox", "--format", "json").stdout)}
    assert {"opened", "coordinate", "closed"} <= kinds
    cchc("send", "--at", "2027-03-10T15:05")
    check({"sent": "đã gửi", "cancelled": "đã hủy"})
    table = cchc("outbox", "--item", str(vp["id"])).stdout
    assert "thông báo nhiệm vụ" in table and "đã nhận" in table  # the steps, in Vietnamese


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("items", "--unit", "XYZ"), "lỗi: Không có đơn vị mã 'XYZ'"),
        (
            ("plan", "--from", "2027-01-01", "--to", "2027-12-31", "--unit", "XYZ"),
            "lỗi: Không có đơn vị mã 'XYZ'",
        ),
        (("outbox", "--item", "999"), "lỗi: Không có nhiệm vụ số 999"),
        (("items", "--unit", "XYZ", "--format", "json"), "Không có đơn vị mã 'XYZ'"),
        (("outbox", "--item", "999", "--format", "json"), "Không có nhiệm vụ số 999"),
    ],
)
def test_an_unknown_unit_or_item_is_an_error(cchc, args, message):
    cchc("init-db")
    done = cchc(*args, ok=False)
    assert done.returncode == 1 and message in done.stderr, done.stderr
    assert done.stdout == ""


def test_known_filters_still_answer(cchc):
    cchc("sweep", "--at", "2027-03-02T07:30", "--no-mail")
    items = json.loads(cchc("items", "--unit", "VP", "--format", "json").stdout)
    assert items and {i["unit"] for i in items} == {"VP"}
    rows = json.loads(cchc("outbox", "--item", str(items[0]["id"]), "--format", "json").stdout)
    assert rows and {r["item_id"] for r in rows} == {items[0]["id"]}
    # a unit of the config with nothing open yet: an empty list, not an error
    assert (
        json.loads(cchc("items", "--unit", "VP", "--status", "waived", "--format", "json").stdout)
        == []
    )


def test_sweep_and_its_mail_are_reported_in_vietnamese(cchc, tmp_path):
    """What `cchc sweep` prints: counts and one line per item opened or moved, then the mail
    sent; and nothing on stderr when it is not a terminal (no status line)."""
    import re

    done = cchc("sweep", "--at", "2027-03-02T07:30", "--no-mail")
    first, *details = done.stdout.splitlines()
    counts = re.fullmatch(
        r"Rà soát lúc 02/03/2027 07:30: mở (\d+) việc, chuyển bước 0 việc, (\d+) thư chờ gửi",
        first,
    )
    assert counts, first
    items = json.loads(cchc("items", "--format", "json").stdout)
    rows = json.loads(cchc("outbox", "--format", "json").stdout)
    assert (int(counts[1]), int(counts[2])) == (len(items), len(rows))
    assert len(details) == len(items) and all(d.startswith("  mở việc #") for d in details)
    vp = next(
        i
        for i in items
        if (i["obligation"], i["unit"], i["period"]) == ("bao-cao-cchc-dinh-ky", "VP", "2027-Q1")
    )
    assert any(d.startswith(f"  mở việc #{vp['id']}: Báo cáo định kỳ") for d in details)
    assert f"#{vp['id']}: Báo cáo định kỳ" in done.stdout and "VP, quý I năm 2027" in done.stdout
    assert done.stderr == "" and not english_in(done.stdout), english_in(done.stdout)

    done = cchc("sweep", "--at", "2027-03-16T08:00")
    out = done.stdout.replace(str(tmp_path), "")
    assert f"  việc #{vp['id']} → đến hạn (trạng thái: trong hạn)" in out
    assert "Gửi thư qua tệp .eml trong /data/outbox: " in out
    assert re.search(r"^  đã gửi #\d+: Đến hạn hôm nay, việc #\d+ → \S+@", out, re.M)
    assert not english_in(out), english_in(out)
    done = cchc("send", "--at", "2027-03-16T08:05")
    assert "thư (0 thông báo); 0 chờ gửi lại, 0 lỗi, 0 đã hủy" in done.stdout
    # stderr may carry a warning (no CCHC_SECRET here), never a status line
    assert "Đang" not in done.stderr and "\r" not in done.stderr


def test_a_status_line_only_on_a_terminal(monkeypatch):
    """Long commands show "Đang rà soát…" on stderr when it is a terminal, and clear it at the
    end; off a terminal they write nothing there."""
    import time

    from cchc.cli.common import working

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with working("Đang rà soát…"):
        time.sleep(0.3)
    shown = terminal.getvalue()
    assert "Đang rà soát…" in shown and shown.endswith("\r\033[K")
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stderr", pipe)
    with working("Đang gửi thư…"):
        pass
    assert pipe.getvalue() == ""


def test_every_status_and_step_has_its_vietnamese_label():
    from notifications.labels import (
        OUTBOX_STATUS_LABELS,
        kind_label,
        outbox_status_label,
        step_label,
    )
    from schedules.vocabulary import ItemStatus, MailKind, OutboxStatus

    assert all(status.label for status in ItemStatus)
    assert set(OUTBOX_STATUS_LABELS) == set(OutboxStatus)
    assert [outbox_status_label(s) for s in OutboxStatus] == ["chờ gửi", "đã gửi", "lỗi", "đã hủy"]
    assert all(kind_label(k) != k.value for k in MailKind)
    assert [
        step_label(s)
        for s in (
            "opened", "reminder-5", "due", "overdue", "escalation-2", "closed", "closed-v2",
            "returned-1", "waived", "undelivered-overdue", "reminder-2#1", "made-up",
        )
    ] == [
        "thông báo nhiệm vụ", "nhắc hạn, còn 05 ngày làm việc", "đến hạn", "quá hạn",
        "chuyển cấp 2", "đã nhận", "đã nhận bản 2", "trả lại lần 1", "miễn", "báo thư lỗi: quá hạn",
        "nhắc hạn, còn 02 ngày làm việc (trước lần trả lại 1)", "made-up",
    ]  # fmt: skip


# ----- the next commune; reading the state while the config is being edited --------------


def test_new_config_writes_a_skeleton_that_checks(tmp_path):
    folder = tmp_path / "phuongnam"
    env = cli_env(tmp_path / "data", f"sqlite:///{tmp_path / 'x.db'}", CCHC_CONFIG=str(folder))
    made = run_cchc(
        env, "new-config", str(folder), "--commune", "phuongnam", "--name",
        "Ủy ban nhân dân xã Phương Nam", "--year", "2027",
    ).stdout  # fmt: skip
    assert "Đã ghi" in made and (folder / "schema.json").is_file()
    checked = run_cchc(env, "--config", str(folder), "check").stdout
    assert "Cấu hình hợp lệ:" in checked and "1 chỉ tiêu" in checked
    rows = json.loads(
        run_cchc(
            env, "--config", str(folder), "plan", "--from", "2027-01-01", "--to", "2027-12-31",
            "--format", "json",
        ).stdout
    )  # fmt: skip
    found = {(r["obligation"], r["period"]): r for r in rows}
    assert found[("bao-cao-thang", "2027-02")]["window_start"] == "2027-01-15"
    assert found[("bao-cao-quy-thang-sau", "2027-Q1")]["due"] == "2027-04-20"
    assert found[("nhiem-vu-mot-lan", "2027-10-31")]["due"] == "2027-10-29"  # October's last
    assert {o for o, _ in found} >= {"bao-cao-cchc-dinh-ky", "tu-kiem-tra", "ke-hoach-cchc-nam"}
    again = run_cchc(env, "new-config", str(folder), "--commune", "x", "--name", "X", ok=False)
    assert again.returncode == 1 and "không phải thư mục trống" in again.stderr
    bad = run_cchc(
        env, "new-config", str(tmp_path / "y"), "--commune", "Xã Y", "--name", "Y", ok=False
    )
    assert bad.returncode == 1 and "Mã xã 'Xã Y' không hợp lệ" in bad.stderr
    assert not (tmp_path / "y").exists()


def test_read_only_commands_use_the_last_valid_config_while_the_config_is_invalid(
    tmp_path, sqlite_url
):
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    env = cli_env(tmp_path / "data", sqlite_url, CCHC_CONFIG=str(config))
    run_cchc(env, "init-db")
    run_cchc(env, "sweep", "--at", "2027-03-02T08:00", "--no-mail")
    units = config / "units.yaml"
    units.write_text(units.read_text(encoding="utf-8").replace("  - code: KT\n", "  - code: [KT\n"))

    items = run_cchc(env, "items", "--format", "json")  # the admin is mid-edit: still answers
    assert json.loads(items.stdout) and "malformed YAML" in items.stderr
    assert "dùng cấu hình hợp lệ gần nhất" in items.stderr
    assert "đã nộp" not in items.stdout
    for args in (("outbox", "--format", "json"), ("report", "--year", "2027")):
        assert run_cchc(env, *args).returncode == 0
    for writing in (("init-db",), ("sweep", "--at", "2027-03-03T08:00", "--no-mail")):
        refused = run_cchc(env, *writing, ok=False)  # nothing is applied from an invalid config
        assert refused.returncode == 1 and "Cấu hình không hợp lệ" in refused.stderr


def test_without_a_valid_config_in_the_database_read_only_commands_refuse(tmp_path, sqlite_url):
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    (config / "units.yaml").write_text("units: [\n", encoding="utf-8")
    env = cli_env(tmp_path / "data", sqlite_url, CCHC_CONFIG=str(config))
    from models.db import ensure_schema, make_engine

    ensure_schema(make_engine(sqlite_url))  # a database no command applied a config to
    done = run_cchc(env, "items", ok=False)
    assert done.returncode == 1 and "Cấu hình không hợp lệ" in done.stderr
