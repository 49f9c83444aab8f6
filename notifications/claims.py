"""Which outbox rows a delivery run may take, and taking them: the run's scope, the claim (a
lease from the database's clock, compare-and-set), its renewal, the rows another run holds, and
the rows that should no longer be sent (a closed item's reminders, a superseded step)."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from sqlalchemy import Engine, and_, func, not_, or_, select, text, update
from sqlmodel import Session, col

from models.db import rowcount, transaction
from models.tables import Outbox, WorkItem
from notifications.delivery_report import DeliveryReport
from notifications.facts import Facts, load_facts
from notifications.message import is_digest_id
from notifications.recording import settle
from schedules.notices import leader_addresses
from schedules.plan import Plan
from schedules.step_names import parse_step
from schedules.vocabulary import NAGGING_KINDS, OPEN_STATUSES, MailKind, OutboxStatus

log = logging.getLogger("cchc.mail")

LEASE = timedelta(minutes=15)
"""How long a claim holds without renewal (a run renews its claims every third of it): longer
than the longest wait for a server's answer (`SmtpSettings.data_timeout`, 10 minutes), short
enough that the rows of a run that died go out again soon."""
SUPERSEDABLE = (MailKind.REMINDER, MailKind.DUE, MailKind.OVERDUE)
"""Mails that a later step of the same item makes pointless (after downtime)."""


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

    def pending(self, query):
        """`query` restricted to the commune's pending rows the run is about (due at `at`
        unless `force`; of `items` when given), claimed or not."""
        query = query.where(
            col(WorkItem.commune) == self.plan.commune.code,
            col(Outbox.status) == OutboxStatus.PENDING,
        )
        if not self.force:
            query = query.where(col(Outbox.send_after) <= self.at)
        if self.items is not None:
            query = query.where(col(Outbox.item_id).in_(list(self.items)))
        return query

    def where(self, query, now: datetime, audience: Audience = Audience.EVERYONE):
        """`query` restricted to the rows of `audience` the run may claim (not claimed by a
        live lease at `now`). With no leader at all, every row is the units'."""
        query = self.pending(query).where(free(now))
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


def anything_to_claim(engine: Engine, scope: Scope) -> bool:
    """Whether the run may claim any row at all: a run with nothing to send opens no
    connection (one indexed read instead)."""
    with transaction(engine) as session:
        now = database_now(session)
        query = select(col(Outbox.id)).join(WorkItem, col(WorkItem.id) == col(Outbox.item_id))
        return session.execute(scope.where(query, now).limit(1)).first() is not None


def held_rows(engine: Engine, scope: Scope) -> tuple[int, datetime | None]:
    """How many rows the run could not claim because another deliverer's live claim holds them
    (a run in progress, or one that died: its claims run out at their lease), and until when."""
    with transaction(engine) as session:
        now = database_now(session)
        query = scope.pending(
            select(func.count(), func.max(Outbox.claimed_until))
            .join(WorkItem, col(WorkItem.id) == col(Outbox.item_id))
            .where(col(Outbox.claimed_until) > now, col(Outbox.claim_token) != scope.token)
        )
        count, until = session.execute(query).one()
    return count, until


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
