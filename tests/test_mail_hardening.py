"""Mail that is never sent twice, never lost, never hidden, never late (issue 11): deliverers
acting as of distant instants, a copy (Cc) refused, a slow server, orphaned temporary files,
rows held by a dead run, Message-IDs of a second round, mail delivered right after an action,
and a leader's escalations in one mail. Real parts only: an aiosmtpd server on loopback, a
SQLite file and PostgreSQL, the `cchc` command line, the intake app."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

import pytest
from conftest import SHIPPED_CONFIG
from intake_support import pdf_bytes
from sqlalchemy import select, update
from support import run_cchc
from test_mail_support import (
    Inbox,
    SmtpServer,
    mail_settings,
    morning,
    plan_from_march,
    running_smtp_server,
)

from models.db import make_engine, transaction
from models.tables import Event, Outbox, WorkItem
from notifications.delivery import deliver_pending
from notifications.outbox import list_outbox
from schedules.city import City
from schedules.plan_loader import load_plan
from usecases.sweep import sweep

OB = "bao-cao-cchc-dinh-ky"
UNIT = "KT"
KT = "kinhte@maodien.example"
HEAD = "truongphong.kt@maodien.example"
OFFICE = "vhxh@maodien.example"


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    """The shipped plan from 01/03/2027 (no backlog: a first sweep queues a handful of mails)."""
    return plan_from_march(tmp_path_factory.mktemp("hardening") / "config")


@pytest.fixture
def quarter(plan):
    return plan.occurrences(date(2027, 3, 1), date(2027, 3, 31), obligation=OB, unit=UNIT)[0]


@pytest.fixture
def settings(plan, tmp_path, smtp):
    return mail_settings(plan.folder, tmp_path, "sqlite://", smtp.port)


def item_of(engine, unit: str = UNIT, period: str = "2027-Q1") -> WorkItem:
    with transaction(engine) as session:
        return session.execute(
            select(WorkItem).where(
                WorkItem.obligation == OB, WorkItem.unit == unit, WorkItem.period == period
            )
        ).scalar_one()


def outbox_rows(engine, **where) -> list[Outbox]:
    with transaction(engine) as session:
        query = select(Outbox).order_by(Outbox.id)
        for name, value in where.items():
            query = query.where(getattr(Outbox, name) == value)
        return list(session.execute(query).scalars())


def ids_of(messages) -> list[str]:
    return [m.msg["Message-ID"] for m in messages]


def step_at(plan, item: WorkItem, kind: str, number: int = 1):
    """The item's timeline step `kind` (the `number`-th of that kind)."""
    steps = [s for s in plan.timeline(item.obligation, item.due, item.opened_at) if s.kind == kind]
    return steps[number - 1]


@dataclass
class GatedInbox(Inbox):
    """Holds the answer to the first message's data until `release` is set: a deliverer is
    caught in the middle of its run, its claims live."""

    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server, session, envelope):
        if not self.entered.is_set():
            self.entered.set()
            while not self.release.is_set():
                await asyncio.sleep(0.01)
        return await super().handle_DATA(server, session, envelope)


@dataclass
class SlowInbox(Inbox):
    """Keeps each message, then answers its data after `delay` seconds (a content filter)."""

    delay: float = 1.0

    async def handle_DATA(self, server, session, envelope):
        answer = await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(self.delay)
        return answer


def server_with(inbox: Inbox) -> SmtpServer:
    server = SmtpServer()
    server.inbox = inbox
    server.start()
    return server


# ----- leases from the database's clock ----------------------------------------------------


def test_deliverers_acting_as_of_distant_instants_send_nothing_twice(plan, engine, tmp_path):
    """A sweep acting as of 08:00 is still sending when `cchc send` acts as of the next day:
    the second must leave the first one's rows alone (before: its lease, counted from 08:00,
    had run out as of the next day, and every mail went twice)."""
    from notifications.delivery_report import describe_delivery

    inbox = GatedInbox()
    server = server_with(inbox)
    try:
        settings = mail_settings(plan.folder, tmp_path, "sqlite://", server.port)
        first = morning(plan, date(2027, 3, 2))
        sweep(plan, engine, first)
        queued = len(outbox_rows(engine, status="pending"))
        assert queued >= 5
        reports = []
        runner = threading.Thread(
            target=lambda: reports.append(deliver_pending(plan, engine, settings, first))
        )
        runner.start()
        assert inbox.entered.wait(20)  # the first run is sending its first mail
        second = deliver_pending(plan, engine, settings, first + timedelta(days=1), force=True)
        inbox.release.set()
        runner.join(30)
    finally:
        inbox.release.set()
        server.stop()
    ids = ids_of(inbox.messages)
    assert len(ids) == len(set(ids)) == queued
    assert second.messages == 0 and second.held == queued
    assert "đang do một lần gửi khác giữ đến" in describe_delivery(second)
    assert len(reports[0].sent) == queued and not outbox_rows(engine, status="pending")


def test_a_run_keeps_its_claims_while_a_slow_server_answers(plan, sqlite_engine, tmp_path):
    """Leases are renewed while the run lasts: a run whose mails take longer than its lease
    (a server that answers each message after 0.4 s, a lease of 0.3 s) keeps its rows."""
    engine = sqlite_engine
    inbox = SlowInbox(delay=0.4)
    server = server_with(inbox)
    try:
        settings = mail_settings(plan.folder, tmp_path, "sqlite://", server.port)
        at = morning(plan, date(2027, 3, 2))
        sweep(plan, engine, at)
        queued = len(outbox_rows(engine, status="pending"))
        reports = []
        runner = threading.Thread(
            target=lambda: reports.append(
                deliver_pending(plan, engine, settings, at, lease=timedelta(seconds=0.3))
            )
        )
        runner.start()
        time.sleep(1.0)
        other = deliver_pending(plan, engine, settings, at + timedelta(hours=2), force=True)
        runner.join(60)
    finally:
        server.stop()
    ids = ids_of(inbox.messages)
    assert len(ids) == len(set(ids)) == queued
    assert other.messages == 0 and len(reports[0].sent) == queued


# ----- every recipient, To or Cc, has its own delivery state --------------------------------


def escalate_kt(plan, engine, settings):
    """KT's Q1 report opened (mails sent), then its first escalation (to the head of unit,
    the standing office in copy) queued; returns its instant."""
    deliver_pending(plan, engine, settings, morning(plan, date(2027, 3, 2)))
    sweep(plan, engine, morning(plan, date(2027, 3, 2)))
    deliver_pending(plan, engine, settings, morning(plan, date(2027, 3, 2)))
    item = item_of(engine)
    step = step_at(plan, item, "escalation")
    at = step.at + timedelta(minutes=30)
    sweep(plan, engine, at)
    return item, at


def test_a_copy_answered_451_is_retried_alone(plan, engine, settings, smtp):
    inbox = smtp.inbox
    item, at = escalate_kt(plan, engine, settings)
    before = len(inbox.for_item(item.id))
    inbox.temporary[OFFICE] = 1000  # greylisting: every copy of this run answered 451
    deliver_pending(plan, engine, settings, at)
    [to_head] = [m for m in inbox.for_item(item.id)[before:] if m.kind == "escalation"]
    assert to_head.rcpt_tos == [HEAD, KT]  # the unit's copy went; the office's waits
    assert OFFICE in to_head.header("Cc")
    [copy] = outbox_rows(engine, item_id=item.id, kind="escalation", recipient=OFFICE)
    assert (copy.status, copy.attempts, copy.addressed_to) == ("pending", 1, HEAD)
    assert copy.last_error.startswith("451")
    [head_row] = outbox_rows(engine, item_id=item.id, kind="escalation", recipient=HEAD)
    assert (head_row.status, head_row.last_error) == ("sent", None)

    inbox.temporary[OFFICE] = 0
    deliver_pending(plan, engine, settings, copy.send_after)
    mine = inbox.for_item(item.id)
    [again] = [m for m in mine if m.kind == "escalation" and m is not to_head]
    assert again.rcpt_tos == [OFFICE]  # the copy alone, not the head's mail again
    assert again.msg["Message-ID"] == to_head.msg["Message-ID"]  # the same mail
    assert again.header("To").endswith(f"<{HEAD}>") and OFFICE in again.header("Cc")
    [copy] = outbox_rows(engine, id=copy.id)
    assert (copy.status, copy.message_id) == ("sent", to_head.msg["Message-ID"])


def test_a_copy_refused_for_good_fails_and_is_logged(plan, sqlite_engine, settings, smtp):
    engine = sqlite_engine
    inbox = smtp.inbox
    item, at = escalate_kt(plan, engine, settings)
    inbox.refuse[OFFICE] = "550 5.1.1 <vhxh@maodien.example>: Recipient address rejected"
    report = deliver_pending(plan, engine, settings, at)
    [copy] = outbox_rows(engine, item_id=item.id, kind="escalation", recipient=OFFICE)
    assert copy.status == "failed" and copy.last_error.startswith("550 5.1.1")
    assert (copy.id, OFFICE) in [(i, to) for i, to, _ in report.failed]
    assert copy.id in [r["id"] for r in list_outbox(plan, engine, "failed")]
    with transaction(engine) as session:
        events = session.execute(
            select(Event).where(Event.kind == "mail_failed", Event.item_id == item.id)
        ).scalars()
        assert [e.detail["recipient"] for e in events] == [OFFICE]
    assert [m.rcpt_tos for m in inbox.for_item(item.id) if m.kind == "escalation"] == [[HEAD, KT]]


# ----- a slow server ------------------------------------------------------------------------


def test_a_slow_server_gets_mail_with_pauses_for_a_while_and_no_mail_goes_twice(
    plan, sqlite_engine, tmp_path
):
    """The server answers each message's data after 0.5 s; the command timeout is 0.2 s. The
    run waits for each answer (the server takes the message), pauses between messages and keeps
    sending for CCHC_SMTP_SLOW_BUDGET (1.5 s here), then stops: the rest waits, and the run's
    summary says how many and why. Nothing is resent (before: one mail per run, i.e. one a
    day, and the summary said nothing of the server)."""
    from notifications.delivery_report import describe_delivery
    from notifications.smtp_settings import SmtpSettings
    from notifications.sweep_summary import delivery_line

    engine = sqlite_engine
    inbox = SlowInbox(delay=0.5)
    server = server_with(inbox)
    try:
        settings = mail_settings(plan.folder, tmp_path, "sqlite://", server.port)
        # One connection: with several, each sends for the budget at once (5 mails all go).
        smtp = SmtpSettings(
            host="127.0.0.1", port=server.port, timeout=0.2, slow_budget=1.5, connections=1
        )
        settings = replace(settings, smtp=smtp)
        at = morning(plan, date(2027, 3, 2))
        sweep(plan, engine, at)
        queued = len(outbox_rows(engine, status="pending"))
        first = deliver_pending(plan, engine, settings, at)
        settings = replace(settings, smtp=replace(smtp, slow_budget=60))
        second = deliver_pending(plan, engine, settings, at + timedelta(hours=1), force=True)
    finally:
        server.stop()
    assert 1 < len(first.sent) < queued and first.messages == len(first.sent)
    assert len(first.retrying) == queued - len(first.sent)
    assert first.waiting_for == {"slow": len(first.retrying)}
    assert all("answered the data after" in error for _, _, error, _ in first.retrying)
    says = f"{len(first.retrying)} chờ gửi lại ({len(first.retrying)} máy chủ thư trả lời chậm)"
    assert says in describe_delivery(first) and says in delivery_line(first)
    assert len(second.sent) == len(first.retrying) and not second.retrying
    ids = ids_of(inbox.messages)
    assert len(ids) == len(set(ids)) == queued  # what the server has is what the outbox says
    sent = {r.message_id for r in outbox_rows(engine, status="sent")}
    assert sent == set(ids)


# ----- several connections at once ----------------------------------------------------------


@dataclass
class ParallelInbox(Inbox):
    """Holds the answer to the first message's data until a second session hands a message
    over too (at most `wait` seconds): a run over one connection at a time would never let
    that happen. Counts the sessions in DATA at once."""

    wait: float = 20.0
    inside: int = 0
    most: int = 0
    second: asyncio.Event | None = None

    async def handle_DATA(self, server, session, envelope):
        self.second = self.second or asyncio.Event()
        self.inside += 1
        self.most = max(self.most, self.inside)
        try:
            if self.inside > 1:
                self.second.set()
            elif not self.second.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.second.wait(), self.wait)
            return await super().handle_DATA(server, session, envelope)
        finally:
            self.inside -= 1


@pytest.mark.parametrize("deliverers", [1, 2])
def test_several_connections_at_once_send_each_mail_once(plan, engine, tmp_path, deliverers):
    """CCHC_SMTP_CONNECTIONS=3: one run hands mails over on more than one connection at the
    same time (the server holds the first until a second arrives); with two deliverers at
    once (a sweep and `cchc send`), too. Every outbox row goes once, in one mail under one
    Message-ID: claims and leases work as with one connection."""
    from concurrent.futures import ThreadPoolExecutor

    inbox = ParallelInbox()
    server = server_with(inbox)
    try:
        settings = mail_settings(plan.folder, tmp_path, "sqlite://", server.port)
        settings = replace(settings, smtp=replace(settings.smtp, connections=3))
        at = morning(plan, date(2027, 3, 2))
        sweep(plan, engine, at)
        queued = len(outbox_rows(engine, status="pending"))
        with ThreadPoolExecutor(deliverers) as pool:
            runs = [
                pool.submit(deliver_pending, plan, engine, settings, at) for _ in range(deliverers)
            ]
            reports = [run.result() for run in runs]
    finally:
        server.stop()
    assert queued > 3 and inbox.most >= 2
    ids = ids_of(inbox.messages)
    assert len(ids) == len(set(ids)) == sum(r.messages for r in reports)
    sent = outbox_rows(engine, status="sent")
    assert len(sent) == queued == sum(len(r.sent) for r in reports)
    assert {r.message_id for r in sent} == set(ids)


# ----- orphans of a killed process ----------------------------------------------------------


def test_stale_temporary_files_are_removed_at_intake_start(plan, tmp_path, caplog):
    from cchc.intake import create_app
    from cchc.runtime.settings import IntakeSettings, Settings

    data = tmp_path / "var"
    (data / "deliverables").mkdir(parents=True)
    (data / "incoming").mkdir()
    old_blob = data / "deliverables" / ".incoming-abc123"
    old_upload = data / "incoming" / ".upload-xyz789"
    fresh = data / "deliverables" / ".incoming-now"
    kept = data / "deliverables" / "ab" / ("ab" + "0" * 62)
    kept.parent.mkdir()
    for path in (old_blob, old_upload, fresh, kept):
        path.write_bytes(b"partial")
    two_days_ago = time.time() - 2 * 86400
    for path in (old_blob, old_upload, kept):
        os.utime(path, (two_days_ago, two_days_ago))
    settings = Settings(
        config_dir=plan.folder,
        data_dir=data,
        database_url=f"sqlite:///{tmp_path / 'cchc.db'}",
        intake=IntakeSettings(secret="test-secret-0123456789abcdef"),
    )
    with caplog.at_level("WARNING"):
        create_app(plan, make_engine(settings.database_url), settings)
    assert not old_blob.exists() and not old_upload.exists()
    assert fresh.exists() and kept.exists()
    assert str(old_blob) in caplog.text and str(old_upload) in caplog.text


# ----- rows held by a run that died ---------------------------------------------------------


def test_send_says_which_rows_a_dead_run_holds(tmp_path):
    from click.testing import CliRunner

    from cchc.cli import main

    env = {
        "CCHC_CONFIG": str(SHIPPED_CONFIG),
        "CCHC_DATA_DIR": str(tmp_path / "var"),
        "CCHC_SMTP_HOST": "",
        "CCHC_DATABASE_URL": "",
    }

    def cli(*args):
        result = CliRunner().invoke(main, list(args), env=env)
        assert result.exit_code == 0, result.output
        return result.output

    cli("sweep", "--at", "2027-03-02T08:00", "--no-mail")
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'cchc.db'}")
    until = datetime.now(UTC) + timedelta(minutes=12)
    with transaction(engine) as session:  # what a run killed while sending leaves
        held = session.execute(
            update(Outbox).values(claimed_until=until, claim_token="killed-run")
        ).rowcount
    engine.dispose()
    out = cli("send")
    assert ": 0 thư (0 thông báo)" in out  # the line as before
    assert f"{held} thông báo đang do một lần gửi khác giữ đến" in out
    assert until.astimezone(load_plan(SHIPPED_CONFIG).zone).strftime("%H:%M") in out


# ----- Message-IDs of a new round -----------------------------------------------------------


def test_a_returned_items_new_round_has_new_message_ids(
    plan, sqlite_engine, settings, smtp, tmp_path
):
    from usecases.lifecycle import return_deliverable
    from usecases.review import attach

    engine = sqlite_engine
    inbox = smtp.inbox
    opened = morning(plan, date(2027, 3, 2))
    sweep(plan, engine, opened)
    deliver_pending(plan, engine, settings, opened)
    item = item_of(engine)
    first = step_at(plan, item, "reminder")
    sweep(plan, engine, first.at + timedelta(minutes=30))
    deliver_pending(plan, engine, settings, first.at + timedelta(minutes=30))
    report = tmp_path / "bc.pdf"
    report.write_bytes(b"%PDF-1.7 draft")
    attach(plan, engine, tmp_path, item.id, report, first.at + timedelta(hours=2), by=UNIT)
    new_due = plan.calendar.add_working_days(item.due, 6)
    returned_at = first.at + timedelta(hours=3)
    return_deliverable(plan, engine, item.id, "Thiếu số liệu", new_due, returned_at)
    deliver_pending(plan, engine, settings, returned_at)
    again = step_at(plan, item_of(engine), "reminder")
    assert again.name == first.name
    sweep(plan, engine, again.at + timedelta(minutes=30))
    deliver_pending(plan, engine, settings, again.at + timedelta(minutes=30))

    reminders = [m for m in inbox.for_item(item.id) if m.kind == "reminder"]
    assert len(reminders) == 2
    assert reminders[0].msg["Message-ID"] != reminders[1].msg["Message-ID"]
    ids = ids_of(inbox.messages)
    assert len(ids) == len(set(ids))
    stored = {r.message_id for r in outbox_rows(engine, item_id=item.id, kind="reminder")}
    assert stored == {m.msg["Message-ID"] for m in reminders}  # the ids actually sent


# ----- mail queued outside a sweep goes at once ---------------------------------------------


def test_cli_actions_deliver_their_mail_at_once_without_prefect(tmp_path):

    with running_smtp_server() as server:
        env = {
            **os.environ,
            "CCHC_CONFIG": str(SHIPPED_CONFIG),
            "CCHC_DATA_DIR": str(tmp_path / "var"),
            "CCHC_SMTP_HOST": "127.0.0.1",
            "CCHC_SMTP_PORT": str(server.port),
        }
        for name in ("CCHC_DATABASE_URL", "PREFECT_API_URL"):
            env.pop(name, None)
        probe = (
            "import runpy, sys\n"
            "sys.argv = ['cchc', *sys.argv[1:]]\n"
            "try:\n"
            "    runpy.run_module('cchc.cli', run_name='__main__')\n"
            "except SystemExit as exc:\n"
            "    assert not exc.code, exc.code\n"
            "print('PREFECT LOADED' if 'prefect' in sys.modules else 'no prefect')\n"
        )

        def cchc(*args: str) -> str:
            done = subprocess.run(
                [sys.executable, "-c", probe, *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stderr
            return done.stdout

        run_cchc(env, "sweep", "--at", "2027-03-02T08:00", "--no-mail")  # (in-process: setup)
        engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'cchc.db'}")
        item = item_of(engine)
        engine.dispose()
        report = tmp_path / "bao-cao.pdf"
        report.write_bytes(pdf_bytes())
        out = cchc("attach", str(item.id), str(report), "--by", UNIT, "--at", "2027-03-10T09:00")
        assert "no prefect" in out
        closed = [m for m in server.inbox.for_item(item.id) if m.kind == "closed"]
        assert sorted(m.rcpt_tos[0] for m in closed) == sorted([KT, OFFICE])
        args = ("--reason", "Thiếu biểu số liệu", "--due", "2027-03-26", "--at", "2027-03-11T10:00")
        out = cchc("return", str(item.id), *args)
        assert "no prefect" in out
        [returned] = [m for m in server.inbox.for_item(item.id) if m.kind == "returned"]
        assert returned.rcpt_tos == [KT, OFFICE]
        # Only the item's own mail went: the rest of the sweep's queue waits for its run.
        others = [m for m in server.inbox.messages if item.id not in m.items]
        assert not others


def test_an_upload_through_the_intake_delivers_its_receipt_at_once(
    plan, sqlite_engine, tmp_path, smtp
):
    """The intake app with its courier (as `cchc serve-intake` builds it): the unit's receipt
    and the standing office's copy arrive without any sweep or `cchc send`, and the upload's
    answer did not wait for them."""
    from fastapi.testclient import TestClient
    from intake_support import pdf_bytes

    from cchc.intake import create_app
    from cchc.runtime.courier import Courier
    from cchc.runtime.settings import IntakeSettings, Settings
    from notifications.links import item_link
    from notifications.smtp_settings import SmtpSettings

    engine = sqlite_engine
    sweep(plan, engine, morning(plan, date(2027, 3, 2)))
    item = item_of(engine)
    at = morning(plan, date(2027, 3, 10), hour=9)
    settings = Settings(
        config_dir=plan.folder,
        data_dir=tmp_path / "var",
        database_url=str(engine.url),
        smtp=SmtpSettings(host="127.0.0.1", port=smtp.port, timeout=5),
        intake=IntakeSettings(
            secret="test-secret-0123456789abcdef", public_url="http://testserver"
        ),
    )
    courier = Courier(City.of(plan), engine, settings, lambda: at)
    app = create_app(plan, engine, settings, clock=lambda: at, courier=courier)
    try:
        with TestClient(app) as client:
            response = client.post(
                item_link(settings, item.id, item.unit, at),
                files={"files": ("bao-cao.pdf", pdf_bytes(), "application/pdf")},
                data={"note": "Kính gửi"},
                follow_redirects=False,
            )
        assert response.status_code == 303
    finally:
        courier.close()  # waits for the delivery it started
    closed = [m for m in smtp.inbox.for_item(item.id) if m.kind == "closed"]
    assert sorted(m.rcpt_tos[0] for m in closed) == sorted([KT, OFFICE])
    assert not [m for m in smtp.inbox.messages if item.id not in m.items]  # its own mail only


# ----- a leader gets one mail per run -------------------------------------------------------


def test_a_leader_gets_the_escalations_of_a_run_in_one_digest(plan, engine, settings, smtp):
    """Every unit's Q1 report reaches the level that escalates to the leadership on the same
    morning: each leader gets one mail listing them by unit, the standing office copied once,
    however the rows fall into claimed chunks."""
    from schedules.notices import escalation_addresses

    inbox = smtp.inbox
    opened = morning(plan, date(2027, 3, 2))
    sweep(plan, engine, opened)
    deliver_pending(plan, engine, settings, opened)
    item = item_of(engine)
    leaders = {str(p.email) for p in plan.commune.leadership}
    steps = [s for s in plan.timeline(OB, item.due, item.opened_at) if s.kind == "escalation"]
    step = next(s for s in steps if set(escalation_addresses(plan, s.to, UNIT)) & leaders)
    at = step.at + timedelta(minutes=30)
    sweep(plan, engine, at)
    rows = [r for r in outbox_rows(engine, status="pending") if r.kind == "escalation"]
    to_leaders = [r for r in rows if r.recipient in leaders]
    targets = {r.recipient for r in to_leaders}
    assert len(to_leaders) > len(targets) >= 1  # several items per leader in this run
    before = len(inbox.messages)
    deliver_pending(plan, engine, settings, at, chunk=2)
    run = inbox.messages[before:]
    for leader in targets:
        mine = [m for m in run if leader in m.rcpt_tos]
        assert len(mine) == 1, leader
        [digest] = mine
        assert digest.kind == "digest"
        listed = [r.item_id for r in to_leaders if r.recipient == leader]
        assert sorted(digest.items) == sorted(listed)
        name = next(p.name for p in plan.commune.leadership if str(p.email) == leader)
        for part in (digest.text, digest.html):
            assert f"Kính báo cáo đồng chí {name}" in part
            assert "Kính đề nghị đồng chí chỉ đạo" in part
            assert "Cách nộp sản phẩm" not in part and "đơn vị lưu ý" not in part
        with transaction(engine) as session:
            units = [session.get(WorkItem, i).unit for i in digest.items]
        names = [plan.units[u].name for u in sorted(units)]
        positions = [digest.text.index(n) for n in names]
        assert positions == sorted(positions)  # by unit
    copies = [m for m in run if OFFICE in m.rcpt_tos and m.kind == "digest"]
    assert len(copies) == 1 and OFFICE in copies[0].header("Cc")
    assert not [r for r in outbox_rows(engine, status="pending") if r.kind == "escalation"]
