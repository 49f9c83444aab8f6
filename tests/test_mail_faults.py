"""Mail when something misbehaves (issue 22): a digest's copy refused then retried, rows held
by a run that died, a server slower than CCHC_SMTP_TIMEOUT, a template broken after `cchc
check`. Real parts only: an aiosmtpd server on loopback, a SQLite file and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from conftest import SHIPPED_CONFIG
from sqlalchemy import update
from test_mail_hardening import OB, OFFICE, item_of, outbox_rows
from test_mail_support import mail_settings, morning, plan_from_march, start_in_march

from models.db import transaction
from models.tables import Outbox
from notifications.delivery import deliver_pending
from notifications.delivery_report import describe_delivery
from schedules.notices import escalation_addresses
from schedules.plan_loader import load_plan
from usecases.sweep import sweep


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    """The shipped plan from 01/03/2027 (no backlog: a first sweep queues a handful of mails)."""
    return plan_from_march(tmp_path_factory.mktemp("faults") / "config")


@pytest.fixture
def settings(plan, tmp_path, smtp):
    return mail_settings(plan.folder, tmp_path, "sqlite://", smtp.port)


def leaders_escalation(plan, engine, settings) -> datetime:
    """Every unit's Q1 report opened (mails sent), then escalated to a leader: queued, one
    digest per leader with the standing office in copy. Returns the instant."""
    opened = morning(plan, date(2027, 3, 2))
    sweep(plan, engine, opened)
    deliver_pending(plan, engine, settings, opened)
    item = item_of(engine)
    leaders = {str(p.email) for p in plan.commune.leadership}
    steps = [s for s in plan.timeline(OB, item.due, item.opened_at) if s.kind == "escalation"]
    step = next(s for s in steps if set(escalation_addresses(plan, s.to, "KT")) & leaders)
    at = step.at + timedelta(minutes=30)
    sweep(plan, engine, at)
    return at


# ----- a digest's copy retried is the same mail ---------------------------------------------


def test_a_digests_copy_retried_is_the_same_mail(plan, engine, settings, smtp):
    """The leader's digest goes; the standing office's copy is answered 451. Its retry is that
    digest again, to the office only: same Message-ID, To, Cc, items and text (before: a new
    digest with another Message-ID)."""
    inbox = smtp.inbox
    at = leaders_escalation(plan, engine, settings)
    before = len(inbox.messages)
    inbox.temporary[OFFICE] = 1000
    deliver_pending(plan, engine, settings, at)
    [digest] = [m for m in inbox.messages[before:] if m.kind == "digest"]
    assert OFFICE not in digest.rcpt_tos and OFFICE in digest.header("Cc")
    copies = [r for r in outbox_rows(engine, status="pending", kind="escalation")]
    assert copies and all(r.addressed_to and r.recipient == OFFICE for r in copies)
    retry = max(r.send_after for r in copies).replace(tzinfo=UTC) + timedelta(minutes=1)
    inbox.temporary[OFFICE] = 0
    before = len(inbox.messages)
    deliver_pending(plan, engine, settings, retry)
    [again] = [m for m in inbox.messages[before:] if m.kind == "digest"]
    assert again.rcpt_tos == [OFFICE]
    assert again.msg["Message-ID"] == digest.msg["Message-ID"]
    for header in ("To", "Cc", "Subject", "Date", "X-CCHC-Item"):
        assert again.header(header) == digest.header(header), header
    assert again.text == digest.text and again.html == digest.html
    sent = [r for r in outbox_rows(engine) if r.id in {c.id for c in copies}]
    assert {(r.status, r.message_id) for r in sent} == {("sent", digest.msg["Message-ID"])}


# ----- rows held by a run that died ---------------------------------------------------------


def test_the_runs_summary_counts_the_rows_a_dead_run_holds(plan, engine, settings):
    """A run killed while sending holds its rows until its lease runs out. The restarted
    engine's sweep summary counts them as waiting, as `cchc send` does, and says why (before:
    "0 chờ gửi lại" while they were held)."""
    from cchc.runtime.courier import deliver_communes
    from notifications.sweep_summary import delivery_line

    at = morning(plan, date(2027, 3, 2))
    sweep(plan, engine, at)
    until = datetime.now(UTC) + timedelta(minutes=12)
    with transaction(engine) as session:  # what a run killed while sending leaves
        held = session.execute(
            update(Outbox).values(claimed_until=until, claim_token="killed-run")
        ).rowcount
    assert held >= 5
    report = deliver_communes([plan], engine, settings, at)
    assert (report.messages, report.held) == (0, held)
    says = f"{held} chờ gửi lại ({held} đang do một lần gửi khác giữ"
    assert says in delivery_line(report)
    assert says in describe_delivery(report)  # what `cchc send` prints
    assert report.waiting == held


# ----- a template broken after `cchc check` -------------------------------------------------

SHIPPED_TEMPLATES = SHIPPED_CONFIG.parent / "notifications" / "templates"


def break_template(config_dir, name: str = "opened.txt.j2"):
    """Save, in the config's templates/, the shipped `name` half-edited: a line cut short
    (`{{ recipient.greeting ` without its closing braces). Returns the file."""
    folder = config_dir / "templates"
    folder.mkdir(exist_ok=True)
    lines = (SHIPPED_TEMPLATES / name).read_text(encoding="utf-8").splitlines(keepends=True)
    assert "{{ recipient.greeting }}" in lines[1]
    lines[1] = lines[1].replace("{{ recipient.greeting }}", "{{ recipient.greeting ")
    target = folder / name
    target.write_text("".join(lines), encoding="utf-8")
    return target


@pytest.fixture
def own_plan(config_dir):
    """The shipped plan in a config folder of this test's own (templates may be edited)."""
    start_in_march(config_dir)
    return load_plan(config_dir)


def test_a_template_saved_half_edited_is_refused_and_the_last_good_set_kept(
    own_plan, sqlite_url, tmp_path, smtp, caplog
):
    """A delivery ran (the templates in use); then a template is saved half-edited. The next
    delivery checks the changed set as `cchc check` does, refuses it with FILE:LINE in the log
    and builds its mails with the set in use: every mail goes (before: each failed "cannot
    build the mail" and was retried without end)."""
    from models.db import ensure_schema, make_engine

    plan = own_plan
    engine = make_engine(sqlite_url)
    ensure_schema(engine)
    settings = mail_settings(plan.folder, tmp_path, "sqlite://", smtp.port)
    deliver_pending(plan, engine, settings, morning(plan, date(2027, 3, 1)))  # nothing due yet
    broken = break_template(plan.folder)
    at = morning(plan, date(2027, 3, 2))
    sweep(plan, engine, at)
    with caplog.at_level("INFO", "cchc.mail"):
        report = deliver_pending(plan, engine, settings, at)
    assert report.messages > 0 and not report.retrying
    assert not outbox_rows(engine, status="pending")
    assert f"{broken}:" in caplog.text and "refused" in caplog.text
    opened = [m for m in smtp.inbox.messages if m.kind == "opened"]
    assert opened and all("Kính gửi: " in m.text for m in opened)

    (plan.folder / "templates" / "opened.txt.j2").unlink()  # fixed: the shipped one again
    sweep(plan, engine, morning(plan, date(2027, 3, 3)))
    with caplog.at_level("INFO", "cchc.mail"):
        deliver_pending(plan, engine, settings, morning(plan, date(2027, 3, 3)))
    assert "now in use" in caplog.text


def test_mail_that_cannot_be_built_is_counted_said_and_given_up_in_the_end(
    own_plan, sqlite_url, tmp_path, smtp, caplog
):
    """A command run once, with a template broken from the start (no set in use to keep): the
    mails it cannot build wait, the summary counts them and says why, the log has one line per
    mail with FILE:LINE and no traceback; after MAX_REPLIES attempts a row is given up as
    failed (before: retried without end, silently)."""
    from models.db import ensure_schema, make_engine
    from notifications.recording import MAX_REPLIES

    plan = own_plan
    broken = break_template(plan.folder)
    engine = make_engine(sqlite_url)
    ensure_schema(engine)
    settings = mail_settings(plan.folder, tmp_path, "sqlite://", smtp.port)
    at = morning(plan, date(2027, 3, 2))
    sweep(plan, engine, at)
    with caplog.at_level("INFO", "cchc.mail"):
        report = deliver_pending(plan, engine, settings, at)
    waiting = {i for i, *_ in report.retrying}
    unbuilt = len(waiting)
    assert unbuilt > 0 and report.messages == 0
    says = f"{unbuilt} chờ gửi lại ({unbuilt} không tạo được thư"
    assert says in describe_delivery(report)
    assert report.waiting_for == {"unbuilt": unbuilt}
    assert f"{broken}:" in report.retrying[0][2]
    assert "Traceback" not in caplog.text and f"{broken}:" in caplog.text
    with transaction(engine) as session:
        session.execute(
            update(Outbox).where(Outbox.status == "pending").values(attempts=MAX_REPLIES - 1)
        )
    report = deliver_pending(plan, engine, settings, at + timedelta(days=1), force=True)
    assert {i for i, *_ in report.failed} == waiting  # the standing office is told
    assert {r.status for r in outbox_rows(engine) if r.id in waiting} == {"failed"}
