"""`cchc preview` and `cchc check`: a mail rendered without sending, and the template check."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from models.tables import Outbox, WorkItem, saved_id
from notifications.compose import Composer
from notifications.facts import load_facts
from notifications.mail import Mail
from notifications.mail_bytes import eml_bytes
from schedules.notices import (
    Notice,
    closed_notices,
    correction_notices,
    escalation_addresses,
    extension_notices,
    opening_notices,
    overview_notices,
    returned_notices,
    step_notices,
)
from schedules.plan import Plan
from schedules.step_names import MAIL_OF_STEP, format_step, parse_step
from schedules.timeline import Step
from schedules.vocabulary import NAGGING_KINDS, MailKind, ObligationKind, StepKind
from usecases.errors import UserError, unknown_item

if TYPE_CHECKING:
    from sqlalchemy import Engine

# models.store (with SQLAlchemy's PostgreSQL and SQLite dialects) and models.db load in the
# functions that read the database: `cchc check` renders the templates and reads none.


def _preview_notice(plan: Plan, session, item: WorkItem, kind: MailKind) -> Notice:
    """The notice of `kind` the item would get, with the very recipients the engine would pick
    (`schedules.notices`): the reminder is the last one before the due date, the escalation the
    item's level (at least the first), the return the latest one."""
    from models.store import returns_so_far

    policy = plan.policy(item.obligation)
    if kind == MailKind.RETURNED:
        notices = returned_notices(plan, item.unit, max(returns_so_far(session, saved_id(item)), 1))
    elif kind == MailKind.CLOSED:
        notices = closed_notices(plan, item.unit, obligation=item.obligation)
    elif kind == MailKind.EXTENSION:  # as a grant of the office's own would say it
        notices = extension_notices(plan, item.unit, StepKind.EXTENDED, 1)
    elif kind == MailKind.CORRECTION:  # as if every level had escalated it
        levels = policy.escalation or ()
        told = [a for lv in levels for a in escalation_addresses(plan, tuple(lv.to), item.unit)]
        notices = correction_notices(plan, item.unit, told, item.obligation)
    elif kind == MailKind.OVERVIEW:  # the quarter's overview, on its consolidated report
        if plan.obligations.get(item.obligation) is None or (
            plan.obligations[item.obligation].kind != ObligationKind.CONSOLIDATED_REPORT
        ):
            raise UserError(
                f"Thư tổng hợp quý (overview) đi kèm báo cáo tổng hợp của "
                f"{plan.kind_label}; nhiệm vụ số "
                f"{item.id} không phải báo cáo tổng hợp: xem bằng `cchc overview`"
            )
        notices = overview_notices(plan)
    elif kind == MailKind.COORDINATE:  # the request for inputs to the first coordinating unit
        opened = Step(str(MailKind.OPENED), StepKind.OPENED, item.opened_at)
        notices = [
            n
            for n in opening_notices(plan, item.obligation, item.unit, opened)
            if n.kind == MailKind.COORDINATE
        ]
    else:
        if kind == MailKind.ESCALATION and not policy.escalation:
            raise UserError(f"Nhiệm vụ '{item.obligation}' không có cấp chuyển (escalation)")
        if kind == MailKind.REMINDER:
            wanted = format_step(StepKind.REMINDER, policy.reminders[-1] if policy.reminders else 1)
        elif kind == MailKind.ESCALATION:
            level = min(max(item.escalation_level, 1), len(policy.escalation))
            wanted = format_step(StepKind.ESCALATION, level)
        else:
            wanted = str(kind)
        # The item's own timeline, opened long before: every step is in it.
        steps = plan.timeline(item.obligation, item.due, datetime.min.replace(tzinfo=UTC))
        step = next((s for s in steps if s.name == wanted), None)
        if step is None:
            step = Step(wanted, StepKind(kind), item.opened_at)
        notices = step_notices(plan, item.obligation, item.unit, step)
    if not notices:
        raise UserError(f"Nhiệm vụ số {item.id} không có người nhận thư {kind}")
    return notices[0]


def notice_instant(plan: Plan, item: WorkItem, step: str) -> datetime:
    """When the notice of `step` is (or was) due for `item`: its timeline step's instant; the
    opening for `opened` and `coordinate`; the closing for `closed`; else the item's last
    change (its opening); the morning of its sending day for the quarter's overview."""
    if step == StepKind.OVERVIEW:
        from schedules.dates import local_instant
        from usecases.overview import cycle_of_item

        day = cycle_of_item(plan, item).send_on
        if day is not None:
            return local_instant(day, plan.commune.sweep_time, plan.zone)
    found = next(
        (s for s in plan.timeline(item.obligation, item.due, item.opened_at) if s.name == step),
        None,
    )
    if found is not None and step != StepKind.OPENED:
        return max(found.at, item.opened_at)
    if step.startswith(StepKind.CLOSED) and item.closed_at:
        return item.closed_at
    return item.opened_at


def preview_mail(
    plan: Plan,
    engine: Engine,
    item_id: int,
    kind: MailKind | str,
    at: datetime | None,
    sender: str | None = None,
    recipient: str | None = None,
    link=None,
) -> Mail:
    """The mail of `kind` (as the user typed it: checked here) for an item as it would be sent
    at `at` (for the digest: a digest holding this item at its current step), with the upload
    link `link(item_id, unit, at)` makes, as the delivery would. Without `at`: the instant the
    notice is due (its step's, the item's opening, closing or its last change). Nothing is
    written."""
    from models.db import transaction
    from models.store import outbox_rows

    if kind not in MailKind.__members__.values():
        raise UserError(f"Không có loại thư '{kind}': chọn một trong {', '.join(MailKind)}")
    from notifications.documents.overview import overview_for

    composer = Composer(plan, sender, link=link, overview=overview_for(plan, engine))
    with transaction(engine) as session:
        item = session.get(WorkItem, item_id)
        if item is None or item.commune != plan.commune.code:
            raise unknown_item(item_id)
        row_kind = MailKind(kind)
        if kind == MailKind.DIGEST:  # a digest holding the item at its current step
            current = MAIL_OF_STEP.get(parse_step(item.step).kind, MailKind.OPENED)
            row_kind = current if current in NAGGING_KINDS else MailKind.OPENED
        notice = _preview_notice(plan, session, item, row_kind)
        at = at or notice_instant(plan, item, notice.step)
        to = (recipient or notice.to[0],)
        fields = outbox_rows(saved_id(item), [replace(notice, to=to)], at)[0]
        row = Outbox(id=0, **fields)
        facts = load_facts(session, [row], plan)
    if kind == MailKind.DIGEST:
        return composer.for_digest([row], facts, at)
    return composer.for_row(row, facts, at)


def describe_mail(mail: Mail, fmt: str) -> bytes:
    """`text`: the main headers and the plain-text part; `html`: the HTML part; `eml`: the
    whole RFC 5322 message."""
    msg = mail.message
    if fmt == "eml":
        return eml_bytes(msg)
    if fmt == "html":
        html = msg.get_body(("html",))
        assert html is not None, "every mail has an HTML part"
        return html.get_content().encode()
    from email import message_from_bytes, policy
    from email.header import decode_header, make_header

    parsed = message_from_bytes(eml_bytes(msg), policy=policy.default)
    shown = ("From", "To", "Cc", "Reply-To", "Subject", "Message-ID", "X-CCHC-Kind", "X-CCHC-Item")
    raw = dict(msg.raw_items())
    lines = [
        f"{name}: {make_header(decode_header(str(raw[name])))}" for name in shown if name in raw
    ]
    for part in parsed.iter_attachments():
        lines.append(f"Attachment: {part.get_filename()} ({part.get_content_type()})")
    plain = parsed.get_body(("plain",))
    assert plain is not None, "every mail has a plain-text part"
    body = plain.get_content()
    return ("\n".join(lines) + "\n\n" + body).encode()
