"""`cchc preview` and `cchc check`: a mail rendered without sending, and the template check."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select

from models.db import transaction
from models.tables import Event, Outbox, WorkItem
from notifications.compose import Composer, Mail, load_facts, sample_contexts
from notifications.message import KINDS
from notifications.render import TemplateIssue, check_renders
from notifications.smtp import eml_bytes
from schedules.plan import Plan
from usecases.errors import UserError


def check_mail(plan: Plan, sender: str | None, at: datetime) -> list[TemplateIssue | str]:
    """Problems `cchc check` reports about mail: a sender that is not an address, a template
    that does not parse, or that uses a variable no mail provides."""
    try:
        composer = Composer(plan, sender)
    except ValueError as exc:
        return [str(exc)]
    return list(check_renders(composer.renderer, sample_contexts(composer, at)))


def _step_and_recipients(plan: Plan, session, item: WorkItem, kind: str):
    unit_mail = [str(plan.units[item.unit].email)] if item.unit in plan.units else []
    office = plan.units.get(plan.commune.standing_office)
    office_cc = [str(office.email)] if office else []
    policy = plan.policy(item.obligation)
    if kind == "reminder":
        lead = policy.reminders[-1] if policy.reminders else 1
        return f"reminder-{lead}", unit_mail, []
    if kind == "escalation":
        if not policy.escalation:
            raise UserError(f"'{item.obligation}' has no escalation level (không có cấp báo cáo)")
        level = min(max(item.escalation_level, 1), len(policy.escalation))
        targets = plan.recipients(policy.escalation[level - 1].to, item.unit)
        return f"escalation-{level}", targets, office_cc
    if kind == "returned":
        found = session.execute(
            select(Event.detail)
            .where(Event.item_id == item.id, Event.kind == "returned")
            .order_by(Event.id.desc())
        ).first()
        step = (found[0].get("step") if found else None) or "returned-1"
        return step, unit_mail, office_cc
    return kind, unit_mail, []


def preview_mail(
    plan: Plan,
    engine: Engine,
    item_id: int,
    kind: str,
    at: datetime,
    sender: str | None = None,
    recipient: str | None = None,
) -> Mail:
    """The mail of `kind` for an item as it would be sent at `at` (for the digest: a digest
    holding this item at its current step). Nothing is written."""
    if kind not in KINDS:
        raise UserError(f"unknown kind '{kind}': use {', '.join(KINDS)}")
    composer = Composer(plan, sender)
    with transaction(engine) as session:
        item = session.get(WorkItem, item_id)
        if item is None or item.commune != plan.commune.code:
            raise UserError(f"no work item {item_id} (không có nhiệm vụ số {item_id})")
        row_kind = kind
        if kind == "digest":
            row_kind = item.step.split("-")[0]
            if row_kind not in KINDS or row_kind == "digest":
                row_kind = "opened"
        step, recipients, cc = _step_and_recipients(plan, session, item, row_kind)
        if recipient:
            recipients = [recipient]
        if not recipients:
            raise UserError(f"nobody to send a {kind} mail to for item {item_id}")
        row = Outbox(
            id=0,
            item_id=item.id,
            step=step,
            kind=row_kind,
            recipient=recipients[0],
            cc=[c for c in cc if c != recipients[0]],
            created_at=at,
            send_after=at,
        )
        facts = load_facts(session, [row])
    if kind == "digest":
        return composer.for_digest([row], facts, at)
    return composer.for_row(row, facts, at)


def describe_mail(mail: Mail, fmt: str) -> bytes:
    """`text`: the main headers and the plain-text part; `html`: the HTML part; `eml`: the
    whole RFC 5322 message."""
    msg = mail.message
    if fmt == "eml":
        return eml_bytes(msg)
    if fmt == "html":
        return msg.get_body(("html",)).get_content().encode()
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
    body = parsed.get_body(("plain",)).get_content()
    return ("\n".join(lines) + "\n\n" + body).encode()
