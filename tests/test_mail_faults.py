"""Mail when something misbehaves (issue 22): a digest's copy refused then retried, rows held
by a run that died, a server slower than CCHC_SMTP_TIMEOUT, a template broken after `cchc
check`. Real parts only: an aiosmtpd server on loopback, a SQLite file and PostgreSQL."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta

import pytest
from conftest import SHIPPED_CONFIG
from sqlalchemy import update
from test_mail_hardening import OB, OFFICE, item_of, outbox_rows
from test_mail_support import mail_settings, morning, running_smtp_server

from models.db import transaction
from models.tables import Outbox
from notifications.delivery import deliver_pending, describe_delivery
from schedules.notices import escalation_addresses
from schedules.plan import load_plan
from usecases.sweep import sweep


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    """The shipped plan from 01/03/2027 (no backlog: a first sweep queues a handful of mails)."""
    folder = tmp_path_factory.mktemp("faults") / "config"
    shutil.copytree(SHIPPED_CONFIG, folder)
    commune = folder / "commune.yaml"
    text = commune.read_text(encoding="utf-8")
    commune.write_text(text.replace("\n  start: 2026-12-01\n", "\n  start: 2027-03-01\n"), "utf-8")
    return load_plan(folder)


@pytest.fixture
def smtp():
    with running_smtp_server() as server:
        yield server


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
    from flows.artifacts import delivery_line
    from flows.mail import deliver_communes

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
