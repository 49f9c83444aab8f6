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
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from jinja2 import TemplateError
from sqlalchemy import Engine, and_, func, not_, or_, select, text, update
from sqlmodel import Session, col

from models.db import rowcount, transaction
from models.tables import Outbox, WorkItem, saved_id
from notifications.compose import Composer, Evidence, Facts, Mail, load_facts
from notifications.delivery_report import (  # noqa: F401  (the report's home for importers)
    DeliveryReport,
    describe_delivery,
    waiting_words,
)
from notifications.links import intake_linker
from notifications.message import is_digest_id
from notifications.recording import Recorder, settle
from notifications.render import Renderer, error_location
from notifications.smtp import Outcome, Transport, make_transport
from notifications.template_sets import templates_in_use
from schedules.notices import digest_addresses, in_digest, leader_addresses
from schedules.plan import Plan
from schedules.vocabulary import NAGGING_KINDS, OPEN_STATUSES, MailKind, OutboxStatus, parse_step

log = logging.getLogger("cchc.mail")

CHUNK = 200
"""Rows claimed at a time; a digest unit's mail groups its rows within a chunk (a leader's,
within the run)."""
LEASE = timedelta(minutes=15)
"""How long a claim holds without renewal (a run renews its claims every third of it): longer
than the longest wait for a server's answer (`SmtpSettings.data_timeout`, 10 minutes), short
enough that the rows of a run that died go out again soon."""
SUPERSEDABLE = (MailKind.REMINDER, MailKind.DUE, MailKind.OVERDUE)
"""Mails that a later step of the same item makes pointless (after downtime)."""


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
        renderer=templates_in_use(plan, settings.smtp.sender, at),
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
            except Exception as exc:  # noqa: BLE001  (the next renewal tries again)
                first = str(getattr(exc, "orig", None) or exc).strip().split("\n")[0]
                log.warning("mail: cannot renew the delivery run's claims: %s", first)

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
            await recorder.ready()
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


Batch = tuple[list[Outbox], list[Outbox]]
"""The rows of one mail, and for copies of a digest retried alone the rows its To was sent."""


def _batches(
    rows: list[Outbox], digest_to: set[str], leaders: set[str], sent_with: dict[str, list[Outbox]]
) -> list[Batch]:
    """The rows of each mail, in row order: a mail's To and copies together; a digest unit's
    rows (without copies) together; a leader's escalations, with their copies, together; the
    copies of a digest whose To was sent (`Facts.sent_with`) together, as that digest."""
    groups: dict[tuple, list[Outbox]] = defaultdict(list)
    for row in rows:
        to = (row.addressed_to or row.recipient).lower()
        if row.addressed_to is not None and row.message_id in sent_with:
            key: tuple = ("again", row.message_id)
        elif row.kind == MailKind.ESCALATION and to in leaders:
            key = ("leader", to)
        elif in_digest(row.recipient, row.cc, digest_to):
            key = ("digest", to)
        else:
            key = ("mail", row.item_id, row.step, to)
        groups[key].append(row)
    batches: list[Batch] = []
    for key, batch in groups.items():
        if key[0] == "again":
            batches.append((batch, sent_with[key[1]]))
        elif key[0] == "leader" and len({(r.item_id, r.step) for r in batch}) > 1:
            batches.append((batch, []))  # a digest
        elif key[0] == "leader":
            batches += [(mail, []) for mail in _by_mail(batch)]
        else:
            batches.append((batch, []))
    batches.sort(key=lambda b: min(map(saved_id, b[0])))
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
    for batch, sent in _batches(rows, digest_to, leaders, facts.sent_with):
        to = (batch[0].addressed_to or batch[0].recipient).lower()
        try:
            if sent:
                yield composer.for_digest(batch, facts, at, sent)
            elif to not in digest_to and len({(r.item_id, r.step) for r in batch}) == 1:
                main = next((r for r in batch if r.addressed_to is None), batch[0])
                yield composer.for_row(main, facts, at, [r for r in batch if r is not main])
            else:
                yield composer.for_digest(batch, facts, at)
        except Exception as exc:  # noqa: BLE001  (one bad mail must not block the others)
            why = f"cannot build the mail: {unbuilt_reason(composer.renderer, exc)}"
            log.error("mail: outbox rows %s: %s", [r.id for r in batch], why)
            unbuilt = Outcome("retry", why, cause="unbuilt")
            recorder.add([(r, unbuilt) for r in batch])


def unbuilt_reason(renderer: Renderer, exc: Exception) -> str:
    """Why a mail cannot be built, in one line: with the template's FILE:LINE when a template
    raised it (a template broken after `cchc check`)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, TemplateError):
        path, line = error_location(renderer, exc, "")
        if path.endswith(".j2"):
            return f"{path}:{line}: {text}"
    return text


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
        sent = sent_with(session, rows)
        facts = load_facts(session, [*rows, *(r for group in sent.values() for r in group)], plan)
        facts.sent_with = sent
        keep = []
        for row in sorted(rows, key=lambda r: r.id):
            reason = stale_reason(row, facts.items.get(row.item_id))
            if reason is None:
                keep.append(row)
            elif settle(
                session, row, scope.token, status=OutboxStatus.CANCELLED, last_error=reason
            ):
                report.dropped.append((row.id, reason))
        return keep, facts, max(ids)


def sent_with(session: Session, rows: Sequence[Outbox]) -> dict[str, list[Outbox]]:
    """For the copies among `rows` that were in a digest whose To was sent (or refused for
    good): that digest's To rows, by its Message-ID (see `Facts.sent_with`)."""
    again = {r.message_id for r in rows if r.addressed_to and is_digest_id(r.message_id)}
    if not again:
        return {}
    query = select(Outbox).where(
        col(Outbox.item_id).in_({r.item_id for r in rows if r.message_id in again}),
        col(Outbox.message_id).in_(again),
        col(Outbox.addressed_to).is_(None),
        col(Outbox.status).in_([OutboxStatus.SENT, OutboxStatus.FAILED]),
    )
    found: dict[str, list[Outbox]] = defaultdict(list)
    for row in session.execute(query.order_by(col(Outbox.id))).scalars():
        found[row.message_id].append(row)
    return dict(found)


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
