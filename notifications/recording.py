"""Recording the outcome of each outbox row a delivery run sent: sent, retried later with backoff,
or failed (the standing office told), each a compare-and-set on the run's claim, committed in
groups while the next mails go out (`Recorder`)."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta

from sqlalchemy import Engine, bindparam, update
from sqlmodel import Session, col

from models.db import rowcount, transaction
from models.store import log_event, queue_notices
from models.tables import Outbox, table_of
from notifications.transport import Outcome
from schedules.notices import undelivered_notice
from schedules.plan import Plan
from schedules.vocabulary import EventKind, OutboxStatus

log = logging.getLogger("cchc.mail")

BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=1)
MAX_REPLIES = 20
"""Temporary (4xx) answers, or attempts at a mail that cannot be built, before a row is given
up as failed (the standing office is told); about 15 hours of retries, or 20 runs. A server
that cannot be reached at all is retried without limit: that is not the recipient's fault."""
RECORD_BATCH = 50
RECORD_DELAY = 0.25
"""Outcomes are committed in groups of at most RECORD_BATCH, or RECORD_DELAY seconds."""


def backoff(attempts: int) -> timedelta:
    """Delay before attempt `attempts + 1`: 1, 2, 4 ... minutes, at most an hour."""
    return min(BACKOFF_FIRST * 2 ** max(attempts - 1, 0), BACKOFF_MAX)


def _plain(outcome: Outcome) -> bool:
    """Sent, with nothing to note."""
    return outcome.status == "sent" and outcome.error is None


def settle(session: Session, row: Outbox, token: str, **values) -> bool:
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
        if (self.task is None or self.task.done()) and self._due():
            self._flush_started()

    def _flush_started(self) -> None:
        if self.task is not None:
            self.task.result()  # surface a failed commit at once
        batch, self.pending = self.pending, []
        self.task = asyncio.ensure_future(asyncio.to_thread(self.record, batch))

    async def ready(self) -> None:
        """Wait until another mail may go out: never once an outcome could not be written (the
        failed commit is raised: a database cut stops the run at its first failed write), nor
        while a commit is still running when the next one is due (a hung database stops the
        sending, not only the recording, until its statement timeout fails the commit). So at
        most two groups of sent mails ever wait for their outcome to be written."""
        if self.task is None:
            return
        if self.task.done():
            self.task.result()
        elif self._due():
            await self.task

    def _due(self) -> bool:
        return bool(self.pending) and (
            len(self.pending) >= RECORD_BATCH or time.monotonic() - self.oldest >= RECORD_DELAY
        )

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
        Message-IDs written by one executemany statement, then the compare-and-set of `settle`
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
        given_up = outcome.code is not None or outcome.cause == "unbuilt"
        if status == "retry" and given_up and attempts >= MAX_REPLIES:
            status = "failed"
        if status == "sent":
            values = dict(
                status=OutboxStatus.SENT, sent_at=at, last_error=outcome.error, message_id=msg_id
            )
        elif status == "retry":
            retry_at = at + backoff(attempts)
            values = dict(send_after=retry_at, last_error=outcome.error)
            if row.addressed_to is not None and msg_id is not None:
                values["message_id"] = msg_id  # a copy retried alone is the same mail again
        else:
            values = dict(status=OutboxStatus.FAILED, last_error=outcome.error, message_id=msg_id)
        if not settle(session, row, self.token, attempts=attempts, **values):
            self._lost(row)
            return
        if status == "sent":
            report.sent.append((row.id, row.kind, row.item_id, row.recipient))
        elif status == "retry":
            report.retrying.append((row.id, row.recipient, outcome.error or "", retry_at))
            report.waiting_for[outcome.waits_for] += 1
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
