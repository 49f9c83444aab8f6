"""Delivery: turn due outbox rows into mails, send them, record what happened.

Guarantees, with the outbox as the only state:
- nothing is lost: a row stays `pending` until a server accepted it (or refused it for good);
- nothing is sent twice, however many deliverers run: a row is *claimed* (a lease, compare-and-
  set) before it is sent, and settled with a compare-and-set on its claim. Only a crash between
  the server's acceptance and the outbox update (outcomes are committed in small groups, see
  `Recorder`) can send a row again, once the lease has run out, and then with the same
  Message-ID;
- a closed or waived item gets no further reminders, even those queued before it closed: rows are
  checked against their item when claimed;
- every recipient, To or copy (Cc), is a row with its own state: a copy refused with 4xx is
  retried, one refused for good is reported, as for a To; a mail goes out once to all its rows
  still pending, with the same Message-ID for each;
- claims count from the database's clock, never from the instant a run acts as of, and are
  renewed while a run lasts; a server that stops answering, or answers too slowly, stops the
  run (see `notifications.smtp.SmtpTransport`), and its answer to a message's data is awaited,
  so a message it took is not sent again;
- a leader gets at most one mail per run: their escalations are claimed together.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum

from sqlalchemy import Engine, and_, bindparam, func, not_, or_, select, text, update
from sqlmodel import Session, col

from models.db import rowcount, transaction
from models.store import log_event, queue_notices
from models.tables import Outbox, WorkItem, saved_id, table_of
from notifications.compose import Composer, Evidence, Facts, Mail, load_facts
from notifications.links import intake_linker
from notifications.smtp import Outcome, Transport, make_transport
from schedules.notices import digest_addresses, in_digest, leader_addresses, undelivered_notice
from schedules.plan import Plan
from schedules.vocabulary import (
    NAGGING_KINDS,
    OPEN_STATUSES,
    EventKind,
    MailKind,
    OutboxStatus,
    parse_step,
)

log = logging.getLogger("cchc.mail")

CHUNK = 200
"""Rows claimed at a time; a digest unit's mail groups its rows within a chunk (a leader's,
within the run)."""
LEASE = timedelta(minutes=15)
"""How long a claim holds without renewal (a run renews its claims every third of it): longer
than the longest wait for a server's answer (`SmtpSettings.data_timeout`, 10 minutes), short
enough that the rows of a run that died go out again soon."""
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
    held: int = 0
    """Rows due that another deliverer's live claim holds (a run in progress, or one that
    died), which this run therefore left alone ..."""
    held_until: datetime | None = None
    """... until then at the latest (when the last of those claims runs out)."""

    def add(self, other: DeliveryReport) -> None:
        """Count `other` (another commune's run) in this report."""
        self.via = self.via or other.via
        self.messages += other.messages
        self.sent += other.sent
        self.retrying += other.retrying
        self.failed += other.failed
        self.dropped += other.dropped
        self.lost_claims += other.lost_claims
        self.held += other.held
        if other.held_until and (self.held_until is None or other.held_until > self.held_until):
            self.held_until = other.held_until


def backoff(attempts: int) -> timedelta:
    """Delay before attempt `attempts + 1`: 1, 2, 4 ... minutes, at most an hour."""
    return min(BACKOFF_FIRST * 2 ** max(attempts - 1, 0), BACKOFF_MAX)


def deliver_pending(
    plan: Plan, engine: Engine, settings, at: datetime, force: bool = False, **options
) -> DeliveryReport:
    """Deliver the outbox rows due at `at` (every pending row with `force`); see
    `deliver_pending_async`. `settings` is a `cchc.runtime.settings.Settings`. Callable from
    code that runs an event loop of its own: the run then gets a thread and a loop of its own."""

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
    items: Collection[int] | None = None,
) -> DeliveryReport:
    """One delivery run as of `at`; `evidence` gives the files an item's mails attach (see
    `Composer`); `items` limits the run to those items' rows (what an action just queued).

    1. open the transport (one SMTP connection for the run, or the .eml folder);
    2. claim, all at once, the leaders' escalations (and their copies) due: each leader gets
       them in one mail (a digest when there are several);
    3. claim a chunk of the other rows: pending, due (`send_after <= at`, or any with
       `force`), not held by another deliverer's live claim; rows of items closed or waived
       meanwhile, and reminders an item has moved past, are cancelled instead. Claims last
       `lease` by the database's clock (never `at`: deliverers acting as of different instants
       share the rows) and are renewed while the run lasts (`Lease`);
    4. render the chunk's mails: one per mail (its To and copies together), one per recipient
       for digest units;
    5. send each (the next mail is built while the server answers, see `_send`) and record the
       outcome of each recipient (grouped commits in a worker thread, overlapping the next
       sends, see `Recorder`): sent; retry later with backoff (4xx, connection trouble); or
       failed (5xx), which queues a notice to the standing office;
    6. repeat from 3 with the rows after the chunk until none is left: a row that must wait
       is not tried again in the same run, even with `force`; then count the rows another
       deliverer still holds (`DeliveryReport.held`).
    """
    composer = Composer(
        plan,
        settings.smtp.sender,
        link=intake_linker(settings),
        evidence=evidence,
    )
    transport = transport or make_transport(settings.smtp, settings.data_dir)
    report = DeliveryReport(at, transport.via)
    scope = Scope(plan, at, force, uuid.uuid4().hex, items)
    keeper = Lease(engine, scope.token, lease)
    await transport.open()
    renewing = asyncio.ensure_future(keeper.keep())
    try:
        if scope.leaders:
            claimed = await asyncio.to_thread(
                claim, engine, scope, lease, report, audience=Audience.LEADERS
            )
            if claimed is not None and claimed[0]:
                await _deliver(composer, transport, engine, scope, claimed, report)
        cursor = 0
        while True:
            claimed = await asyncio.to_thread(
                claim, engine, scope, lease, report, cursor=cursor, chunk=chunk
            )
            if claimed is None:
                break
            cursor = claimed[2]
            if claimed[0]:
                await _deliver(composer, transport, engine, scope, claimed, report)
        report.held, report.held_until = await asyncio.to_thread(held_rows, engine, scope)
    finally:
        renewing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewing
        await transport.close()
    return report


class Audience(Enum):
    """Whose rows a claim takes. The leaders' escalations go first and all at once, since each
    leader gets them in one mail; then the rest, chunk by chunk."""

    LEADERS = "leaders"
    """Only the escalations whose mail is addressed to a leader (and their copies)."""
    UNITS = "units"
    """Every row but those: the units' mails, the standing office's (notices of undelivered
    mail included)."""
    EVERYONE = "everyone"


@dataclass(frozen=True)
class Scope:
    """What one delivery run may claim: the commune's pending rows due at `at` (any with
    `force`), of `items` only when given; `token` marks the run's claims."""

    plan: Plan
    at: datetime
    force: bool
    token: str
    items: Collection[int] | None = None

    @property
    def leaders(self) -> set[str]:
        return leader_addresses(self.plan)

    def leader_rows(self):
        """Escalations whose mail is addressed to a leader (the leader's rows and their
        copies)."""
        addressee = func.lower(func.coalesce(Outbox.addressed_to, Outbox.recipient))
        return and_(col(Outbox.kind) == MailKind.ESCALATION, addressee.in_(sorted(self.leaders)))

    def where(self, query, now: datetime, audience: Audience = Audience.EVERYONE):
        """`query` restricted to the rows of `audience` the run may claim (not claimed by a
        live lease at `now`). With no leader at all, every row is the units'."""
        query = query.where(
            WorkItem.commune == self.plan.commune.code,
            Outbox.status == OutboxStatus.PENDING,
            free(now),
        )
        if not self.force:
            query = query.where(Outbox.send_after <= self.at)
        if self.items is not None:
            query = query.where(col(Outbox.item_id).in_(list(self.items)))
        if audience == Audience.LEADERS and self.leaders:
            query = query.where(self.leader_rows())
        elif audience == Audience.UNITS and self.leaders:
            query = query.where(not_(self.leader_rows()))
        return query


def free(now: datetime):
    """Not held by a live claim at `now`."""
    return or_(col(Outbox.claimed_until).is_(None), col(Outbox.claimed_until) <= now)


def database_now(session: Session) -> datetime:
    """The database's clock: every deliverer, on any machine, counts leases from the same
    clock, whatever instant it acts as of. SQLite is a file on this machine: its clock."""
    if session.get_bind().dialect.name == "postgresql":
        return session.execute(text("SELECT clock_timestamp()")).scalar_one().astimezone(UTC)
    return datetime.now(UTC)


class Lease:
    """Keeps a run's claims alive: renewed every third of the lease for as long as the run
    lasts, so a slow server (answers awaited up to `SmtpSettings.data_timeout`) or a long chunk
    never lets another deliverer take rows this run is sending."""

    def __init__(self, engine: Engine, token: str, length: timedelta):
        self.engine, self.token, self.length = engine, token, length

    async def keep(self) -> None:
        while True:
            await asyncio.sleep(self.length.total_seconds() / 3)
            try:
                await asyncio.to_thread(self.renew)
            except Exception:  # noqa: BLE001  (the next renewal tries again)
                log.exception("mail: cannot renew the delivery run's claims")

    def renew(self) -> int:
        with transaction(self.engine) as session:
            until = database_now(session) + self.length
            result = session.execute(
                update(Outbox)
                .where(
                    col(Outbox.claim_token) == self.token,
                    col(Outbox.status) == OutboxStatus.PENDING,
                )
                .values(claimed_until=until)
            )
            return rowcount(result)


def held_rows(engine: Engine, scope: Scope) -> tuple[int, datetime | None]:
    """How many rows the run could not claim because another deliverer's live claim holds them
    (a run in progress, or one that died: its claims run out at their lease), and until when."""
    with transaction(engine) as session:
        now = database_now(session)
        query = (
            select(func.count(), func.max(Outbox.claimed_until))
            .join(WorkItem, col(WorkItem.id) == col(Outbox.item_id))
            .where(
                col(WorkItem.commune) == scope.plan.commune.code,
                col(Outbox.status) == OutboxStatus.PENDING,
                col(Outbox.claimed_until) > now,
                col(Outbox.claim_token) != scope.token,
            )
        )
        if not scope.force:
            query = query.where(col(Outbox.send_after) <= scope.at)
        if scope.items is not None:
            query = query.where(col(Outbox.item_id).in_(list(scope.items)))
        count, until = session.execute(query).one()
    return count, until


async def _deliver(
    composer: Composer,
    transport: Transport,
    engine: Engine,
    scope: Scope,
    claimed: tuple[list[Outbox], Facts, int],
    report: DeliveryReport,
) -> None:
    """Compose, send and record the rows of one claim."""
    rows, facts, _ = claimed
    recorder = Recorder(scope.plan, engine, scope.at, scope.token, report)
    digest_to = digest_addresses(scope.plan)
    mails = _compose(composer, rows, facts, scope.at, digest_to, scope.leaders, recorder)
    await _send(transport, composer.sender.addr_spec, mails, report, recorder)
    await recorder.close()


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
    sending: tuple[Mail, asyncio.Future[list[Outcome]]] | None = None
    try:
        for mail in mails:  # builds the next mail
            if sending is not None:
                done, sending = sending, None
                _sent(report, recorder, done[0], await done[1])
            task = asyncio.ensure_future(transport.send(mail.message, sender, mail.recipients))
            sending = (mail, task)
            await asyncio.sleep(0)  # the send writes its first command
        if sending is not None:
            done, sending = sending, None
            _sent(report, recorder, done[0], await done[1])
    finally:
        if sending is not None:  # stopped by an error: let the send end before the transport
            with contextlib.suppress(Exception):
                await sending[1]


def _sent(report: DeliveryReport, recorder: Recorder, mail: Mail, outcomes: list[Outcome]) -> None:
    """Record the outcome of each row of `mail`: its recipient's."""
    if any(o.status == "sent" for o in outcomes):
        report.messages += 1
    by_recipient = {r.lower(): o for r, o in zip(mail.recipients, outcomes, strict=True)}
    recorder.add([(row, by_recipient[row.recipient.lower()]) for row in mail.rows], mail.msg_id)


def _batches(rows: list[Outbox], digest_to: set[str], leaders: set[str]) -> list[list[Outbox]]:
    """The rows of each mail, in row order: a mail's To and copies together; a digest unit's
    rows (without copies) together; a leader's escalations, with their copies, together."""
    groups: dict[tuple, list[Outbox]] = defaultdict(list)
    for row in rows:
        to = (row.addressed_to or row.recipient).lower()
        if row.kind == MailKind.ESCALATION and to in leaders:
            key: tuple = ("leader", to)
        elif in_digest(row.recipient, row.cc, digest_to):
            key = ("digest", to)
        else:
            key = ("mail", row.item_id, row.step, to)
        groups[key].append(row)
    batches = []
    for key, batch in groups.items():
        if key[0] == "leader" and len({(r.item_id, r.step) for r in batch}) > 1:
            batches.append(batch)  # a digest
        elif key[0] == "leader":
            batches += _by_mail(batch)
        else:
            batches.append(batch)
    batches.sort(key=lambda b: min(saved_id(r) for r in b))
    return batches


def _by_mail(rows: list[Outbox]) -> list[list[Outbox]]:
    groups: dict[tuple, list[Outbox]] = defaultdict(list)
    for row in rows:
        groups[(row.item_id, row.step)].append(row)
    return list(groups.values())


def _compose(
    composer: Composer,
    rows: list[Outbox],
    facts: Facts,
    at: datetime,
    digest_to: set[str],
    leaders: set[str],
    recorder: Recorder,
) -> Iterator[Mail]:
    """Mails for a claim, in row order; a row whose mail cannot be built waits for a retry
    (a template edited after `cchc check`, say) instead of stopping the run."""
    for batch in _batches(rows, digest_to, leaders):
        to = (batch[0].addressed_to or batch[0].recipient).lower()
        try:
            if to not in digest_to and len({(r.item_id, r.step) for r in batch}) == 1:
                main = next((r for r in batch if r.addressed_to is None), batch[0])
                yield composer.for_row(main, facts, at, [r for r in batch if r is not main])
            else:
                yield composer.for_digest(batch, facts, at)
        except Exception as exc:  # noqa: BLE001  (one bad mail must not block the others)
            log.exception("mail: cannot build the mail of outbox rows %s", [r.id for r in batch])
            recorder.add([(r, Outcome("retry", f"cannot build the mail: {exc}")) for r in batch])


def claim(
    engine: Engine,
    scope: Scope,
    lease: timedelta,
    report: DeliveryReport,
    *,
    cursor: int = 0,
    chunk: int | None = None,
    audience: Audience = Audience.UNITS,
) -> tuple[list[Outbox], Facts, int] | None:
    """Claim the rows of `audience` after `cursor` the run may take (`Scope`), at most `chunk`
    of them (the leaders' escalations: all of them, their mails group them). None when there
    is none. Returns the rows to send, the facts to
    render them and the new cursor. The claim lasts `lease` from the database's clock."""
    plan = scope.plan
    with transaction(engine) as session:
        now = database_now(session)
        query = select(col(Outbox.id)).join(WorkItem, col(WorkItem.id) == col(Outbox.item_id))
        query = (
            scope.where(query, now, audience)
            .where(col(Outbox.id) > cursor)
            .order_by(col(Outbox.id))
        )
        if chunk is not None:
            query = query.limit(chunk)
        ids = session.execute(query).scalars().all()
        if not ids:
            return None
        session.execute(
            update(Outbox)
            .where(col(Outbox.id).in_(ids), col(Outbox.status) == OutboxStatus.PENDING, free(now))
            .values(claimed_until=now + lease, claim_token=scope.token)
        )
        rows = (
            session.execute(
                select(Outbox).where(
                    col(Outbox.id).in_(ids), col(Outbox.claim_token) == scope.token
                )
            )
            .scalars()
            .all()
        )
        facts = load_facts(session, rows, plan)
        keep = []
        for row in sorted(rows, key=lambda r: r.id):
            reason = stale_reason(row, facts.items.get(row.item_id))
            if reason is None:
                keep.append(row)
            elif _settle(
                session, row, scope.token, status=OutboxStatus.CANCELLED, last_error=reason
            ):
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
    """Sent, with nothing to note."""
    return outcome.status == "sent" and outcome.error is None


def _settle(session: Session, row: Outbox, token: str, **values) -> bool:
    """Compare-and-set: only a row still pending under our claim changes."""
    result = session.execute(
        update(Outbox)
        .where(
            col(Outbox.id) == row.id,
            col(Outbox.status) == OutboxStatus.PENDING,
            col(Outbox.claim_token) == token,
        )
        .values(claimed_until=None, claim_token=None, **values)
    )
    return rowcount(result) == 1


Settled = tuple[Outbox, Outcome, str | None]
"""A row, its recipient's outcome, and the Message-ID of the mail it went in."""


class Recorder:
    """Records outcomes while the next messages are sent: a worker thread commits what has
    accumulated, in one transaction, once RECORD_BATCH outcomes or RECORD_DELAY seconds have
    piled up (group commit). A crash can so leave at most that many accepted messages to be
    sent again (same Message-IDs), and a commit per message does not halve the sending rate.
    The rows sent without remark (nearly all) are settled by two statements per group."""

    def __init__(self, plan: Plan, engine: Engine, at: datetime, token: str, report):
        self.plan, self.engine, self.at, self.token, self.report = plan, engine, at, token, report
        self.pending: list[Settled] = []
        self.oldest = 0.0
        self.task: asyncio.Task | None = None

    def add(self, outcomes: list[tuple[Outbox, Outcome]], msg_id: str | None = None) -> None:
        if not self.pending:
            self.oldest = time.monotonic()
        self.pending += [(row, outcome, msg_id) for row, outcome in outcomes]
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

    def record(self, batch: list[Settled]) -> None:
        with transaction(self.engine) as session:
            bulk = session.connection().dialect.update_returning  # SQLite 3.35+, PostgreSQL
            plain = [(row, msg_id) for row, outcome, msg_id in batch if _plain(outcome)]
            settled = self._settle_sent(session, plain if bulk else [])
            for row, outcome, msg_id in batch:
                if not (bulk and _plain(outcome)):
                    self._record_one(session, row, outcome, msg_id)
                elif row.id in settled:
                    self.report.sent.append((row.id, row.kind, row.item_id, row.recipient))
                else:
                    self._lost(row)

    def _settle_sent(self, session: Session, rows: list[tuple[Outbox, str | None]]) -> set[int]:
        """Which of `rows` (sent, nothing to note: nearly all) are now settled as sent: their
        Message-IDs written by one executemany statement, then the compare-and-set of `_settle`
        in one statement for all of them, not one ORM statement per row (this thread holds the
        GIL while it builds a statement, and so slows the sending)."""
        if not rows:
            return set()
        table = table_of(Outbox)
        connection = session.connection()
        connection.execute(
            update(table)
            .where(table.c.id == bindparam("_id"), table.c.claim_token == self.token)
            .values(message_id=bindparam("_msg_id")),
            [{"_id": row.id, "_msg_id": msg_id} for row, msg_id in rows],
        )
        statement = (
            update(table)
            .where(
                table.c.id.in_([row.id for row, _ in rows]),
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
        return set(connection.execute(statement).scalars())

    def _lost(self, row: Outbox) -> None:
        self.report.lost_claims += 1
        log.warning("mail: outbox row %s changed while it was being sent", row.id)

    def _record_one(
        self, session: Session, row: Outbox, outcome: Outcome, msg_id: str | None
    ) -> None:
        at, report = self.at, self.report
        attempts = row.attempts + 1
        status = outcome.status
        if status == "retry" and outcome.code is not None and attempts >= MAX_REPLIES:
            status = "failed"
        if status == "sent":
            values = dict(
                status=OutboxStatus.SENT, sent_at=at, last_error=outcome.error, message_id=msg_id
            )
        elif status == "retry":
            retry_at = at + backoff(attempts)
            values = dict(send_after=retry_at, last_error=outcome.error)
        else:
            values = dict(status=OutboxStatus.FAILED, last_error=outcome.error, message_id=msg_id)
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
            EventKind.MAIL_FAILED,
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
    if report.held:
        until = vn_datetime(report.held_until) if report.held_until else "?"
        lines.insert(
            1,
            f"{report.held} thông báo đang do một lần gửi khác giữ đến {until} (lần gửi đó "
            "đang chạy, hoặc đã dừng đột ngột: khi đó các thông báo này được gửi sau giờ trên)",
        )
    lines += [f"  LỖI #{i}: {to}: {error}" for i, to, error in report.failed]
    lines += [f"  đã hủy #{i}: {reason}" for i, reason in report.dropped]
    return "\n".join(lines)
