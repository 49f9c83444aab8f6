"""The mail commands end to end through the CLI: the embedded default (no SMTP host: .eml files
under the data dir), `outbox`, `send`, `preview`, `return`, and SMTP settings from the
environment."""

from __future__ import annotations

import email
import json
from email import policy
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SHIPPED_CONFIG
from intake_support import pdf_bytes
from support import live_since_start
from test_mail_support import running_smtp_server

from cchc.cli import main


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """Run `cchc` with the shipped config and a fresh data dir, no SMTP host."""
    for name in ("CCHC_SMTP_HOST", "CCHC_SMTP_PORT", "CCHC_SMTP_SECURITY", "CCHC_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    # live since its start date: a late first sweep catches up, holds nothing (test_golive.py)
    config = live_since_start(tmp_path / "config", SHIPPED_CONFIG)
    env = {"CCHC_CONFIG": str(config), "CCHC_DATA_DIR": str(tmp_path / "var")}

    def run(*args: str, ok: bool = True, **extra_env: str):
        result = CliRunner().invoke(main, list(args), env=env | extra_env)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    run.data_dir = tmp_path / "var"
    return run


def eml_files(folder: Path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted(folder.glob("*.eml"))
    ]


def outbox(cli, *args: str) -> list[dict]:
    return json.loads(cli("outbox", "--format", "json", *args).output)


def kt_q1_report(cli) -> int:
    """KT's periodic report for Q1 2027 (due Tuesday 16/03/2027)."""
    items = json.loads(cli("items", "--unit", "KT", "--format", "json").output)
    return next(
        i["id"]
        for i in items
        if i["obligation"] == "bao-cao-cchc-dinh-ky" and i["period"] == "2027-Q1"
    )


def test_sweep_writes_eml_files_without_a_mail_server(cli):
    out = cli("sweep", "--at", "2027-03-02T08:00").output
    assert "Gửi thư qua tệp .eml trong" in out
    mails = eml_files(cli.data_dir / "outbox")
    rows = outbox(cli)
    assert len(mails) == len(rows) > 5 and {r["status"] for r in rows} == {"sent"}
    assert {m["Message-ID"] for m in mails} == {r["message_id"] for r in rows}
    opened = [m for m in mails if m["X-CCHC-Kind"] == "opened"]
    # "[CCHC] unit, hạn dd/mm/yyyy – Thông báo nhiệm vụ: …"; the office's own: "Nhắc việc";
    # opened past its due date: "… chậm nhất dd/mm/yyyy – Đề nghị gửi bổ sung: …".
    openings = ("– Thông báo nhiệm vụ: ", "[CCHC] Nhắc việc")
    catch_up = "– Đề nghị gửi bổ sung: "
    subjects = [m["Subject"] for m in opened]
    assert subjects and all(any(w in s for w in (*openings, catch_up)) for s in subjects)
    assert any(any(w in s for w in openings) for s in subjects)
    assert any(catch_up in s for s in subjects)
    assert "Kính gửi" in opened[0].get_body(("plain",)).get_content()
    # Run again: same instant, nothing new; the files are still one per message.
    assert ": 0 thư (0 thông báo)" in cli("sweep", "--at", "2027-03-02T08:00").output
    assert len(eml_files(cli.data_dir / "outbox")) == len(mails)
    table = cli("items").output
    assert "Thư lỗi" in table


def test_preview_renders_without_sending(cli, tmp_path):
    cli("sweep", "--at", "2027-03-02T08:00", "--no-mail")
    pending = outbox(cli, "--status", "pending")
    item = kt_q1_report(cli)
    text = cli("preview", str(item), "--kind", "reminder", "--at", "2027-03-09T08:00").output
    assert "Subject: [CCHC] Phòng Kinh tế, hạn 16/03/2027 – Nhắc hạn: " in text
    assert "To: Phòng Kinh tế <kinhte@maodien.example>" in text
    assert "X-CCHC-Kind: reminder" in text
    html = cli("preview", str(item), "--kind", "escalation", "--format", "html").output
    assert html.startswith("<!DOCTYPE html>") and "Đôn đốc lần 1" in html
    target = tmp_path / "opened.eml"
    cli("preview", str(item), "--kind", "opened", "--format", "eml", "-o", str(target))
    msg = email.message_from_bytes(target.read_bytes(), policy=policy.default)
    assert msg["X-CCHC-Item"] == str(item) and len(list(msg.iter_attachments())) == 1
    assert cli("preview", "99999", "--kind", "due", ok=False).exit_code == 1
    # Without --at: as of the notice's own instant, not the machine clock; with the upload link
    # the delivery would put in, when a signing key is set.
    signed = {"CCHC_SECRET": "s" * 40, "CCHC_PUBLIC_URL": "https://cchc.maodien.example"}
    due = cli("preview", str(item), "--kind", "due", **signed).output
    assert "Hôm nay, Thứ Ba, ngày 16/03/2027, là hạn nộp" in due
    assert "ngày 16/03/2027. Trả lời thư này" in due  # written on the due date's morning
    assert f"https://cchc.maodien.example/items/{item}/" in due
    # Nothing was sent or changed.
    assert outbox(cli, "--status", "pending") == pending
    assert not (cli.data_dir / "outbox").exists()


def test_send_then_return_then_send(cli, tmp_path):
    cli("sweep", "--at", "2027-03-02T08:00", "--no-mail")
    assert ": 0 thư (" not in cli("send", "--at", "2027-03-02T08:05").output
    item = kt_q1_report(cli)
    report = tmp_path / "bao-cao.pdf"
    report.write_bytes(pdf_bytes())
    cli("attach", str(item), str(report), "--by", "KT", "--at", "2027-03-10T09:00")
    out = cli(
        "return", str(item), "--reason", "Thiếu biểu số liệu", "--due", "2027-03-27",
        "--at", "2027-03-11T10:00",
    ).output  # fmt: skip
    assert "mở lại đến hạn 29/03/2027" in out  # Saturday 27/03 moves to Monday (BLDS)
    refused = cli("return", str(item), "--reason", "x", "--due", "2027-03-25", ok=False)
    assert refused.exit_code == 1 and "đã được trả lại" in refused.output  # already returned
    cli("send", "--at", "2027-03-11T10:05")
    kinds = [m["X-CCHC-Kind"] for m in eml_files(cli.data_dir / "outbox")
             if m["X-CCHC-Item"] == str(item)]  # fmt: skip
    assert sorted(kinds) == ["closed", "closed", "opened", "returned"]
    [returned] = [m for m in eml_files(cli.data_dir / "outbox")
                  if m["X-CCHC-Item"] == str(item) and m["X-CCHC-Kind"] == "returned"]  # fmt: skip
    text = returned.get_body(("plain",)).get_content()
    assert "đã nộp (tệp bao-cao.pdf, lần nộp thứ 1) cho nhiệm vụ" in text  # names what is returned
    [ics] = [p for p in returned.iter_attachments() if p.get_content_type() == "text/calendar"]
    event = ics.get_content()
    event = event.decode() if isinstance(event, bytes) else event
    assert "20270329" in event and "SEQUENCE:1" in event  # the new due date replaces the old


def test_send_uses_the_smtp_server_from_the_environment(cli):
    cli("sweep", "--at", "2027-03-02T08:00", "--no-mail")
    pending = outbox(cli, "--status", "pending")
    with running_smtp_server() as server:
        out = cli("send", CCHC_SMTP_HOST="127.0.0.1", CCHC_SMTP_PORT=str(server.port)).output
        assert f"smtp://127.0.0.1:{server.port}" in out
        assert len(server.inbox.messages) == len(pending)
    assert not outbox(cli, "--status", "pending")
    assert not (cli.data_dir / "outbox").exists()


def test_unusable_smtp_settings_are_refused(cli):
    bad = cli("check", ok=False, CCHC_SMTP_PORT="vingt-cinq")
    assert bad.exit_code == 1 and "CCHC_SMTP_PORT" in bad.output
    bad = cli("check", ok=False, CCHC_SMTP_SECURITY="ssl")
    assert bad.exit_code == 1 and "CCHC_SMTP_SECURITY" in bad.output
    assert "mọi mẫu thư đều dựng được" in cli("check").output
