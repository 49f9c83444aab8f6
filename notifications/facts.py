"""What mails state beyond their outbox rows, read in bulk for a chunk of rows (`load_facts`):
the items, the deliverable received, the reason for a return, the failures a notice reports,
the rounds, a consolidated report's sources, the directives the items act on and the
extensions the extension mails tell of; and an item's verdict as its receipt states it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from schedules.plan import Plan
from schedules.step_names import ARCHIVE_MARK, is_undelivered
from schedules.timeliness import Verdict, verdict
from schedules.vocabulary import EventKind, MailKind, OutboxStatus

if TYPE_CHECKING:  # the database is read only by the load_ functions: `cchc check` never loads it
    from sqlmodel import Session

    from models.tables import Deliverable, Directive, Extension, Outbox, WorkItem
    from usecases.indicator_report import IndicatorRow

RECEIPT_VERDICTS: dict[Verdict | None, str] = {
    Verdict.ON_TIME: "đúng hạn",
    Verdict.ON_TIME_EXTENDED: "đúng hạn (được gia hạn)",
    Verdict.LATE: "sau hạn",
}


def load_directives(session: Session, items: Iterable[WorkItem]) -> dict[int, Directive]:
    """The directives `items` act on, by id."""
    from sqlalchemy import select
    from sqlmodel import col

    from models.tables import Directive

    ids = {i.directive_id for i in items if i.directive_id is not None}
    if not ids:
        return {}
    query = select(Directive).where(col(Directive.id).in_(ids))
    return {d.id: d for d in session.execute(query).scalars()}


def load_extensions(session: Session, rows: Sequence[Outbox]) -> dict[tuple[int, int], Extension]:
    """The extensions of the items the extension mails among `rows` are about, by (item,
    number)."""
    from sqlalchemy import select
    from sqlmodel import col

    from models.tables import Extension

    ids = {r.item_id for r in rows if r.kind == MailKind.EXTENSION}
    if not ids:
        return {}
    query = select(Extension).where(col(Extension.item_id).in_(ids))
    return {(e.item_id, e.seq): e for e in session.execute(query).scalars()}


def load_escalations(
    session: Session, rows: Sequence[Outbox]
) -> dict[int, list[tuple[str, str, datetime]]]:
    """The escalation mails of the current round of the items escalated among `rows` (see
    `Facts.escalations`)."""
    from sqlalchemy import select
    from sqlmodel import col

    from models.tables import Outbox

    ids = {r.item_id for r in rows if r.kind == MailKind.ESCALATION}
    if not ids:
        return {}
    columns = (col(Outbox.item_id), col(Outbox.step), col(Outbox.recipient), col(Outbox.created_at))
    query = select(*columns).where(
        col(Outbox.item_id).in_(ids),
        col(Outbox.kind) == MailKind.ESCALATION,
        col(Outbox.addressed_to).is_(None),
        col(Outbox.status).in_([OutboxStatus.SENT, OutboxStatus.PENDING]),
    )
    found: dict[int, list[tuple[str, str, datetime]]] = {}
    for item_id, step, recipient, created_at in session.execute(query.order_by(col(Outbox.id))):
        if ARCHIVE_MARK not in step and not is_undelivered(step):
            found.setdefault(item_id, []).append((step, recipient, created_at))
    return found


def receipt_verdict(item: WorkItem) -> str:
    """ "đúng hạn", "đúng hạn (được gia hạn)", "sau hạn"; "" before any verdict."""
    if item.on_time is None:
        return ""
    return RECEIPT_VERDICTS.get(verdict(item), "")


RECEIPT_KINDS = (MailKind.CLOSED, MailKind.CORRECTION)
"""Mails that state the version received (`closed`): the receipt, and the correction to those
told of the item's escalations."""


@dataclass
class Facts:
    items: dict[int, WorkItem] = field(default_factory=dict)
    deliverables: dict[int, Deliverable] = field(default_factory=dict)
    """The latest version handed in, per item."""
    returns: dict[tuple[int, str], dict] = field(default_factory=dict)
    """Detail of each `returned` event, by (item, step); (item, "") is the latest."""
    failures: dict[tuple[int, str], list[tuple[str, str]]] = field(default_factory=dict)
    """(recipient, error) of failed rows, by (item, step)."""
    rounds: dict[int, int] = field(default_factory=dict)
    """How many rounds each item has had after its first, returns and extensions granted (its
    current round; absent: 0)."""
    sources: dict[int, list[WorkItem]] = field(default_factory=dict)
    """For a consolidated report's item: the units' items of the reports it sums up, same
    period, as they stand when the mail is written."""
    sent_with: dict[str, list[Outbox]] = field(default_factory=dict)
    """By the Message-ID of a digest whose copies (Cc) are retried alone: the rows its To was
    sent (see `Composer.for_digest`)."""
    indicators: dict[int, list[IndicatorRow]] = field(default_factory=dict)
    """For a consolidated report's item: the indicators of its period, per unit and for the
    commune, as they stand when the mail is written."""
    directives: dict[int, Directive] = field(default_factory=dict)
    """The directive each directive's item acts on, by directive id."""
    extensions: dict[tuple[int, int], Extension] = field(default_factory=dict)
    """The extensions of the items with an extension mail, by (item, its number)."""
    escalations: dict[int, list[tuple[str, str, datetime]]] = field(default_factory=dict)
    """For the items with an escalation mail: (step, recipient, queued at) of each escalation
    mail of the item's current round, sent or to be sent (copies, cancelled and failed ones
    left out): what a recipient was told before, and when."""


def load_facts(session: Session, rows: Sequence[Outbox], plan: Plan | None = None) -> Facts:
    """What the mails of `rows` state beyond the rows; with `plan`, also the units' reports a
    consolidated report's item sums up."""
    from sqlalchemy import select
    from sqlmodel import col

    from models.store import consolidated_sources, rounds_by_item
    from models.tables import Deliverable, Event, Outbox, WorkItem, saved_id
    from usecases.indicator_report import indicator_rows

    facts = Facts()
    item_ids = {r.item_id for r in rows}
    if not item_ids:
        return facts
    for item in session.execute(select(WorkItem).where(col(WorkItem.id).in_(item_ids))).scalars():
        facts.items[item.id] = item
    facts.rounds = rounds_by_item(session, item_ids)
    facts.directives = load_directives(session, facts.items.values())
    facts.extensions = load_extensions(session, rows)
    if plan is not None:
        for item in facts.items.values():
            ob = plan.obligations.get(item.obligation)
            if ob is not None and ob.consolidates:
                facts.sources[saved_id(item)] = consolidated_sources(session, plan, item)
                if plan.indicators:
                    period = [item.period]
                    facts.indicators[saved_id(item)] = indicator_rows(plan, session, None, period)
    closed = {r.item_id for r in rows if r.kind in RECEIPT_KINDS + (MailKind.RETURNED,)}
    if closed:
        query = select(Deliverable).where(col(Deliverable.item_id).in_(closed))
        for d in session.execute(query.order_by(col(Deliverable.version))).scalars():
            facts.deliverables[d.item_id] = d
    returned = {r.item_id for r in rows if r.kind == MailKind.RETURNED}
    if returned:
        events = select(Event).where(
            col(Event.item_id).in_(returned), col(Event.kind) == EventKind.RETURNED
        )
        for event in session.execute(events.order_by(col(Event.id))).scalars():
            facts.returns[(event.item_id, event.detail.get("step", ""))] = event.detail
            facts.returns[(event.item_id, "")] = event.detail
    facts.escalations = load_escalations(session, rows)
    noticed = {r.item_id for r in rows if is_undelivered(r.step)}
    if noticed:
        failures = select(Outbox).where(
            col(Outbox.item_id).in_(noticed), col(Outbox.status) == OutboxStatus.FAILED
        )
        for failed in session.execute(failures.order_by(col(Outbox.id))).scalars():
            facts.failures.setdefault((failed.item_id, failed.step), []).append(
                (failed.recipient, failed.last_error or "")
            )
    return facts
