"""A mail composed from outbox rows: its message, whom it goes to, and its Message-ID.

`Mail` is what `Composer` hands the delivery; `row_message_id` names a row's own mail, so a
copy, a retry and a resend keep the Message-ID of the mail first sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from typing import TYPE_CHECKING

from notifications.message import message_id
from schedules.step_names import parse_step
from schedules.vocabulary import MailKind

if TYPE_CHECKING:
    from models.tables import Outbox
    from notifications.facts import Facts


@dataclass
class Mail:
    rows: list[Outbox]
    """The outbox rows this message settles: one per recipient it goes to (the To's, each
    copy's), or every row of a digest."""
    kind: MailKind
    to: str
    cc: list[str]
    """The Cc header: who is copied, whether or not this sending goes to them (a copy already
    delivered is not sent again when only the To is retried)."""
    message: EmailMessage
    msg_id: str
    """The message's Message-ID (read back from `message`, it would be parsed each time)."""
    recipients: list[str] = field(default_factory=list)
    """The envelope: the distinct recipients of `rows`, the To first when it is one of them."""


def envelope(rows: Sequence[Outbox]) -> list[str]:
    """The distinct recipients of `rows`, in row order (case-insensitive)."""
    return list({r.recipient.lower(): r.recipient for r in rows}.values())


def row_message_id(commune: str, row: Outbox, facts: Facts) -> str:
    """The Message-ID of a row's own mail (not a digest): from its outbox key, with the mail's
    To (a copy shares its To's id) and the item's return round the row belongs to (an archived
    step `S#N` was queued in round N-1)."""
    name = parse_step(row.step)
    round_no = name.archived - 1 if name.archived else facts.rounds.get(row.item_id, 0)
    step = str(replace(name, archived=None))
    return message_id(commune, row.item_id, step, row.addressed_to or row.recipient, round_no)
