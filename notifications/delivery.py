"""Delivery: turn due outbox rows into mails, send them, record what happened.

Guarantees, with the outbox as the only state:
- nothing is lost: a row stays `pending` until a server accepted it (or refused it for good);
- nothing is sent twice, however many deliverers run: a row is *claimed* (a lease, compare-and-
  set) before it is sent, and settled with a compare-and-set on its claim. Only a crash between
  the server's acceptance and the outbox update (outcomes are committed in small groups, see
  `Recorder`) can send a row again, once the lease has run out, and then with the same
  Message-ID;
- a closed or waived item gets no further reminders, even those queued before it closed: rows are
  checked against their item when claimed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, or_, select, update
from sqlmodel import Session

from models.db import transaction
from models.store import log_event, queue_notices
from models.tables import Outbox, WorkItem
from notifications.compose import Composer, Evidence, Facts, Mail, load_facts
from notifications.links import intake_linker
from notifications.smtp import Outcome, Transport, make_transport
from schedules.notices import digest_addresses, in_digest, undelivered_notice
from schedules.plan import Plan
from schedules.vocabulary import NAGGING_KINDS, OPEN_STATUSES, MailKind, OutboxStatus, parse_step

log = logging.getLogger("cchc.mail")

CHUNK = 200
"""Rows claimed at a time; a digest groups one recipient's rows within a chunk."""
LEASE = timedelta(minutes=15)
"""How long a claim holds: longer than a chunk can take to send, shorter than a restart."""
BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=1)
MAX_REPLIES = 20
"""Temporary (4xx) answers before a row is given up as failed; about 15 hours of retries. A
server that cannot be reached at all is retried without limit: that is not the recipient's
fault."""
SUPERSEDABLE = (MailKind.REMINDER, MailKind.DUE, MailKind.OVERDUE)
"""Mails that a later step of the same item makes pointless (after downtime)."""
RECORD_BATCH = 50
RECORD_DELAY = 0.25
"""Outcomes are committed in groups of at most RECORD_BATCH, or RECORD_DELAY seconds."""


@dataclass
class DeliveryReport:
    at: datetime
    via: str = ""
    messages: int = 0
    """Messages handed over (a digest counts once)."""
    sent: list[tuple[int, str, int, str]] = field(default_factory=list)
    """(outbox id, kind, item id, recipient) of the rows delivered."""
    retrying: list[tuple[int, str, str, datetime]] = field(default_factory=list)
    """(outbox id, recipient, error, next attempt)."""
    failed: list[tuple[int, str, str]] = field(default_factory=list)
    """(outbox id, recipient, error)."""
    dropped: list[tuple[int, str]] = field(default_factory=list)
    """(outbox id, reason): rows cancelled because their item closed or moved on."""
    lost_claims: int = 0
    """Rows settled by someone else while we were sending (lease ran out, or item closed)."""


def backoff(attempts: int) -> timedelta:
    """Delay before attempt `attempts + 1`: 1, 2, 4 ... minutes, at most an hour."""
    return min(BACKOFF_FIRST * 2 ** max(attempts - 1, 0), BACKOFF_MAX)


def deliver_pending(
    plan: Plan, engine: Engine, settings, at: datetime, force: bool = False, **options
) -> DeliveryReport:
    """Deliver the outbox rows due at `at` (every pending row with `force`); see
    `deliver_pending_async`. `settings` is a `flows.settings.Settings`. Callable from code that
    runs an event loop of its own: the run then gets a thread and a loop of its own."""

    def run() -> DeliveryReport:
        return asyncio.run(deliver_pending_async(plan, engine, settings, at, force, **options))

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run()
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


async def deliver_pending_async(
    plan: Plan,
    engine: Engine,
    settings,
    at: datetime,
    force: bool = False,
    *,
    transport: Transport | None = None,
    lease: timedelta = LEASE,
    chunk: int = CHUNK,
    evidence: Evidence | None = None,
) -> DeliveryReport:
    """One delivery run as of `at`; `evidence` gives the files an item's mails attach (see
    `Composer`).

    1. open the transport (one SMTP connection for the run, or the .eml folder);
    2. claim a chunk of rows: pending, due (`send_after <= at`, or any with `force`), not held
       by another deliverer's live claim; rows of items closed or waived meanwhile, and
       reminders an item has moved past, are cancelled instead;
    3. render the chunk's mails: one per row, or one per recipient for digest units;
    4. send each (the next mail is built while the server answers, see `_send`) and record
       its outcome (grouped commits in a worker thread, overlapping the next sends, see
       `Recorder`): sent; retry later with backoff (4xx, connection trouble); or failed (5xx),
       which queues a notice to the standing office;
    5. repeat from 2 with the rows after the chunk until none is left: a row that must wait
       is not tried again in the same run, even with `force`.
    """
    composer = Composer(
        plan,
        settings.smtp.sender,
        link=intake_linker(settings),
        evidence=evidence,
    )
    transport = transport or make_transport(settings.smtp, settings.data_dir)
    report = DeliveryReport(at, transport.via)
    digest_to = digest_addresses(plan)
    token = uuid.uuid4().hex
    cursor = 0
    started = time.monotonic()
    await transport.open()
    try:
        while True:
            # Leases count from `at` plus the time this run has taken: a long run keeps its
            # claims fresh, and tests that pass explicit instants stay deterministic.
            now = at + timedelta(seconds=time.monotonic() - started)
            claimed = await asyncio.to_thread(
                claim, plan, engine, at, now, force, cursor, token, lease, chunk, report
            )
            if claimed is None:
                break
            rows, facts, cursor = claimed
            if not rows:
                continue
            recorder = Recorder(plan, engine, at, token, report)
            mails = _compose(composer, rows, facts, at, digest_to, recorder)
            await _send(transport, composer.sender.addr_spec, mails, report, recorder)
            await recorder.close()
    finally:
        await transport.close()
    return report


async def _send(
    transport: Transport,
    sender: str,
    mails: Iterator[Mail],
    report: DeliveryReport,
    recorder: Recorder,
) -> None:
    """Send `mails` one after the other over the transport, recording each outcome. Each mail
    is built while the server answers the first command of the one before (whose send has
    started and waits for the reply), not while the server waits for us."""
    sending: tuple[Mail, asyncio.Future[Outcome]] | None = None
    try:
        for mail in mails:  # builds the next mail
            if sending is not None:
                done, sending = sending, None
                _sent(report, recorder, done[0], await done[1])
            task = asyncio.ensure_future(transport.send(mail.message, sender, mail.to, mail.cc))
            sending = (mail, task)
            await asyncio.sleep(0)  # the send writes its first command
        if sending is not None:
            done, sending = sending, None
            _sent(report, recorder, done[0], await done[1])
    finally:
        if sending is not None:  # stopped by an error: let the send end before the transport
            with contextlib.suppress(Exception):
                await sending[1]


def _sent(report: DeliveryReport, recorder: Recorder, mail: Mail, outcome: Outcome) -> None:
    if outcome.status == "sent":
        report.messages += 1
    recorder.add(mail.rows, outcome)


def _compose(
    composer: Composer,
    rows: list[Outbox],
    facts: Facts,
    at: datetime,
    digest_to: set[str],
    recorder: Recorder,
) -> Iterator[Mail]:
    """Mails for a chunk, in row order; a row whose mail cannot be built waits for a retry
    (a template edited after `cchc check`, say) instead of stopping the run."""
    groups: dict[str, list[Outbox]] = defaultdict(list)
    singles: list[Outbox] = []
    for row in rows:
        if in_digest(row.recipient, row.cc, digest_to):
            groups[row.recipient.lower()].append(row)
        else:
            singles.append(row)
    batches = [[r] for r in singles] + list(groups.values())
    batches.sort(key=lambda b: b[0].id)
    for batch in batches:
        try:
            if len(batch) == 1 and batch[0].recipient.lower() not in digest_to:
                yield composer.for_row(batch[0], facts, at)
            else:
                yield composer.for_digest(batch, facts, at)
        except Exception as exc:  # noqa: BLE001  (one bad mail must not block the others)
            log.exception("mail: cannot build the mail of outbox rows %s", [r.id for r in batch])
            recorder.add(batch, Outcome("retry", f"cannot build the mail: {exc}"))


def claim(
    plan: Plan,
    engine: Engine,
    at: datetime,
    now: datetime,
    force: bool,
    cursor: int,
    token: str,
    lease: timedelta,
    chunk: int,
    report: DeliveryReport,
) -> tuple[list[Outbox], Facts, int] | None:
    """Claim the next chunk of rows after `cursor` (due at `at`; claims expire from `now`);
    None when there is none. Returns the rows to send, the facts to render them and the new
    cursor."""
    free = or_(Outbox.claimed_until.is_(None), Outbox.claimed_until <= now)
    with transaction(engine) as session:
        query = (
            select(Outbox.id)
            .join(WorkItem, WorkItem.id == Outbox.item_id)
            .where(
                WorkItem.commune == plan.commune.code,
                Outbox.status == OutboxStatus.PENDING,
                Outbox.id > cursor,
                free,
            )
        )
        if not force:
            query = query.where(Outbox.send_after <= at)
        ids = session.execute(query.order_by(Outbox.id).limit(chunk)).scalars().all()
        if not ids:
            return None
        session.execute(
            update(Outbox)
            .where(Outbox.id.in_(ids), Outbox.status == OutboxStatus.PENDING, free)
            .values(claimed_until=now + lease, claim_token=token)
        )
        rows = (
            session.execute(select(Outbox).where(Outbox.id.in_(ids), Outbox.claim_token == token))
            .scalars()
            .all()
        )
        facts = load_facts(session, rows)
        keep = []
        for row in sorted(rows, key=lambda r: r.id):
            reason = stale_reason(row, facts.items.get(row.item_id))
            if reason is None:
                keep.append(row)
            elif _settle(session, row, token, status=OutboxStatus.CANCELLED, last_error=reason):
                report.dropped.append((row.id, reason))
        return keep, facts, max(ids)


def stale_reason(row: Outbox, item: WorkItem | None) -> str | None:
    """Why a claimed row should no longer be sent, if it should not."""
    if item is None:
        return "the item no longer exists"
    if row.kind in NAGGING_KINDS and item.status not in OPEN_STATUSES:
        return f"item {item.status} before sending"
    try:
        step, current = parse_step(row.step), parse_step(item.step).rank
    except ValueError as exc:  # written by hand into the database: drop it, send the rest
        return str(exc)
    if row.kind in SUPERSEDABLE:
        mine = step.rank
        if not step.undelivered and current and mine and current > mine:
            return f"superseded: the item is at {item.step}"
    return None


def _plain(outcome: Outcome) -> bool:
    """Sent, with nothing to note (no copy refused)."""
    return outcome.status == "sent" and outcome.error is None


def _settle(session: Session, row: Outbox, token: str, **values) -> bool:
    """Compare-and-set: only a row still pending under our claim changes."""
    changed = session.execute(
        update(Outbox)
        .where(
            Outbox.id == row.id,
            Outbox.status == OutboxStatus.PENDING,
            Outbox.claim_token == token,
        )
        .values(claimed_until=None, claim_token=None, **values)
    ).rowcount
    return changed == 1


class Recorder:
    """Records outcomes while the next messages are sent: a worker thread commits what has
    accumulated, in one transaction, once RECORD_BATCH outcomes or RECORD_DELAY seconds have
    piled up (group commit). A crash can so leave at most that many accepted messages to be
    sent again (same Message-IDs), and a commit per message does not halve the sending rate.
    The rows sent without remark (nearly all) are settled by one statement per group."""

    def __init__(self, plan: Plan, engine: Engine, at: datetime, token: str, report):
        self.plan, self.engine, self.at, self.token, self.report = plan, engine, at, token, report
        self.pending: list[tuple[list[Outbox], Outcome]] = []
        self.oldest = 0.0
        self.task: asyncio.Task | None = None

    def add(self, rows: list[Outbox], outcome: Outcome) -> None:
        if not self.pending:
            self.oldest = time.monotonic()
        self.pending.append((rows, outcome))
        idle = self.task is None or self.task.done()
        due = len(self.pending) >= RECORD_BATCH or time.monotonic() - self.oldest >= RECORD_DELAY
        if idle and due:
            self._flush_started()

    def _flush_started(self) -> None:
        if self.task is not None:
            self.task.result()  # surface a failed commit at once
        batch, self.pending = self.pending, []
        self.task = asyncio.ensure_future(asyncio.to_thread(self.record, batch))

    async def close(self) -> None:
        """Wait until every outcome added is committed."""
        while True:
            if self.task is not None:
                await self.task
                self.task.result()
                self.task = None
            if not self.pending:
                return
            self._flush_started()

    def record(self, batch: list[tuple[list[Outbox], Outcome]]) -> None:
        with transaction(self.engine) as session:
            bulk = session.connection().dialect.update_returning  # SQLite 3.35+, PostgreSQL
            plain = [row for rows, outcome in batch if _plain(outcome) for row in rows]
            settled = self._settle_sent(session, plain if bulk else [])
            for rows, outcome in batch:
                for row in rows:
                    if not (bulk and _plain(outcome)):
                        self._record_one(session, row, outcome)
                    elif row.id in settled:
                        self.report.sent.append((row.id, row.kind, row.item_id, row.recipient))
                    else:
                        self._lost(row)

    def _settle_sent(self, session: Session, rows: list[Outbox]) -> set[int]:
        """Which of `rows` (sent, nothing to note: nearly all) are now settled as sent: the
        compare-and-set of `_settle` in one statement for all of them, not one ORM statement
        per row (this thread holds the GIL while it builds a statement, and so slows the
        sending)."""
        if not rows:
            return set()
        table = Outbox.__table__
        statement = (
            update(table)
            .where(
                table.c.id.in_([row.id for row in rows]),
                table.c.status == OutboxStatus.PENDING,
                table.c.claim_token == self.token,
            )
            .values(
                claimed_until=None,
                claim_token=None,
                # = row.attempts + 1: nobody else writes a row while our claim holds it
                attempts=table.c.attempts + 1,
                status=OutboxStatus.SENT,
                sent_at=self.at,
                last_error=None,
            )
            .returning(table.c.id)
        )
        return set(session.connection().execute(statement).scalars())

    def _lost(self, row: Outbox) -> None:
        self.report.lost_claims += 1
        log.warning("mail: outbox row %s changed while it was being sent", row.id)

    def _record_one(self, session: Session, row: Outbox, outcome: Outcome) -> None:
        at, report = self.at, self.report
        attempts = row.attempts + 1
        status = outcome.status
        if status == "retry" and outcome.code is not None and attempts >= MAX_REPLIES:
            status = "failed"
        if status == "sent":
            values = dict(status=OutboxStatus.SENT, sent_at=at, last_error=outcome.error)
        elif status == "retry":
            retry_at = at + backoff(attempts)
            values = dict(send_after=retry_at, last_error=outcome.error)
        else:
            values = dict(status=OutboxStatus.FAILED, last_error=outcome.error)
        if not _settle(session, row, self.token, attempts=attempts, **values):
            self._lost(row)
            return
        if status == "sent":
            report.sent.append((row.id, row.kind, row.item_id, row.recipient))
        elif status == "retry":
            report.retrying.append((row.id, row.recipient, outcome.error or "", retry_at))
        else:
            report.failed.append((row.id, row.recipient, outcome.error or ""))
            self._tell_office(session, row, outcome)

    def _tell_office(self, session: Session, row: Outbox, outcome: Outcome) -> None:
        """A refused mail is logged on the item and reported to the standing office by mail
        (`schedules.notices.undelivered_notice`)."""
        log_event(
            session,
            row.item_id,
            self.at,
            "mail_failed",
            step=row.step,
            recipient=row.recipient,
            error=outcome.error,
        )
        notice = undelivered_notice(self.plan, row.step, row.kind, row.recipient)
        if notice is not None:
            queue_notices(session, row.item_id, [notice], self.at)


def describe_delivery(report: DeliveryReport) -> str:
    """What a delivery run did, in Vietnamese (`cchc sweep`, `cchc send`): how the mail went, the
    counts, then one line per outbox row (#id) sent, to retry, failed or cancelled."""
    from notifications.views import kind_label
    from schedules.dates import vn_datetime

    via = report.via
    if via.startswith("files in "):  # FileTransport: the folder of the .eml files
        via = "tệp .eml trong " + via.removeprefix("files in ")
    lines = [
        f"Gửi thư qua {via}: {report.messages} thư ({len(report.sent)} thông báo); "
        f"{len(report.retrying)} chờ gửi lại, {len(report.failed)} lỗi, "
        f"{len(report.dropped)} đã hủy"
        + (f", {report.lost_claims} do nơi gửi khác xử lý" if report.lost_claims else "")
    ]
    lines += [
        f"  đã gửi #{i}: {kind_label(kind)}, việc #{item} → {to}"
        for i, kind, item, to in report.sent
    ]
    lines += [
        f"  gửi lại #{i}: {to} lúc {vn_datetime(when)}: {error}"
        for i, to, error, when in report.retrying
    ]
    lines += [f"  LỖI #{i}: {to}: {error}" for i, to, error in report.failed]
    lines += [f"  đã hủy #{i}: {reason}" for i, reason in report.dropped]
    return "\n".join(lines)
