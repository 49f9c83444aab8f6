"""What the mails of the office's daily work state beyond their outbox rows: the directives the
items act on, the extensions the extension mails tell of (read in bulk for a chunk of rows), and
an item's verdict as its receipt states it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlmodel import Session, col

from models.tables import Directive, Extension, Outbox, WorkItem
from schedules.timeliness import Verdict, verdict
from schedules.vocabulary import MailKind

RECEIPT_VERDICTS: dict[Verdict | None, str] = {
    Verdict.ON_TIME: "đúng hạn",
    Verdict.ON_TIME_EXTENDED: "đúng hạn (được gia hạn)",
    Verdict.LATE: "sau hạn",
}


def load_directives(session: Session, items: Iterable[WorkItem]) -> dict[int, Directive]:
    """The directives `items` act on, by id."""
    ids = {i.directive_id for i in items if i.directive_id is not None}
    if not ids:
        return {}
    query = select(Directive).where(col(Directive.id).in_(ids))
    return {d.id: d for d in session.execute(query).scalars()}


def load_extensions(session: Session, rows: Sequence[Outbox]) -> dict[tuple[int, int], Extension]:
    """The extensions of the items the extension mails among `rows` are about, by (item,
    number)."""
    ids = {r.item_id for r in rows if r.kind == MailKind.EXTENSION}
    if not ids:
        return {}
    query = select(Extension).where(col(Extension.item_id).in_(ids))
    return {(e.item_id, e.seq): e for e in session.execute(query).scalars()}


def receipt_verdict(item: WorkItem) -> str:
    """ "đúng hạn", "đúng hạn (được gia hạn)", "sau hạn"; "" before any verdict."""
    if item.on_time is None:
        return ""
    return RECEIPT_VERDICTS.get(verdict(item), "")
