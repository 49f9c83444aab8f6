"""Which mail an outbox row, or a digest group of rows, becomes.

The facts a mail needs beyond its row are read in bulk first (`notifications.facts`);
`Composer` then renders the templates and builds the message without touching the database.
Its parts live beside it: the parts of an entry only some kinds carry in
`notifications.mail_contexts`, the deadline's calendar event in `notifications.item_calendar`,
the `Mail` it hands back and its Message-ID in `notifications.mail`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import TYPE_CHECKING

from models.ids import saved_id
from notifications.attachments import DIRECTIVE_FILE_KINDS, directive_attachment
from notifications.commune_views import common_context, people, salutations
from notifications.documents.overview import OverviewSource, overview_view
from notifications.extension_views import extension_context
from notifications.facts import RECEIPT_KINDS, Facts
from notifications.ics import CalendarEntry, calendar_bytes
from notifications.indicator_views import indicators_view
from notifications.item_calendar import calendar_entry
from notifications.item_view import ItemView, item_view
from notifications.labels import KIND_LABELS
from notifications.mail import Mail, envelope, row_message_id
from notifications.mail_contexts import (
    closed_context,
    escalation_context,
    returned_context,
    voice_context,
)
from notifications.message import (
    Attachment,
    address,
    build_message,
    digest_message_id,
    parse_sender,
)
from notifications.render import Renderer, renderer_for
from notifications.source_states import source_states
from schedules.city import short_name
from schedules.dates import local_date
from schedules.notices import leader_addresses
from schedules.plan import Plan
from schedules.step_names import parse_step
from schedules.vocabulary import OPEN_STATUSES, MailKind

if TYPE_CHECKING:
    from email.headerregistry import Address

    from models.tables import Directive, Outbox, WorkItem

Evidence = Callable[[str, str, datetime], list[tuple[str, str, str, bytes]]]
"""`evidence(obligation, period, at)`: (file name, MIME type, subtype, bytes) of files to attach
to an item's opened, reminder and due-day mails (the on-time scorecard for self-scoring)."""

EVIDENCE_KINDS = (MailKind.OPENED, MailKind.REMINDER, MailKind.DUE)
"""Mails that carry the item's evidence files (see `Evidence`)."""
UPLOAD_KINDS = (
    MailKind.OPENED,
    MailKind.REMINDER,
    MailKind.DUE,
    MailKind.OVERDUE,
    MailKind.RETURNED,
    MailKind.COORDINATE,
)
"""Mails to a unit that carry its signed link to the intake page (`upload_url`)."""


class Composer:
    """Renders and builds the mails of one plan, for one delivery run (or one check, one
    preview): what is the same for many of its mails is worked out once and kept, so the items
    it is given must not change under it."""

    def __init__(
        self,
        plan: Plan,
        sender: str | None = None,
        link: Callable[[int, str, datetime], str] | None = None,
        evidence: Evidence | None = None,
        renderer: Renderer | None = None,
        overview: OverviewSource | None = None,
    ):
        """`link(item_id, unit, at)` makes the signed intake link (notifications.links);
        without it mails carry no `upload_url`. `evidence` gives the files an item's mails attach
        (the caller passes `notifications.documents.scorecard.evidence_for`). `renderer`: the
        templates (default: the plan's, as they are on disk). `overview(item, at)` gives the
        quarterly overview a leader's `overview` row speaks of (the caller passes
        `notifications.documents.overview.overview_for`)."""
        self.plan = plan
        self.link = link
        self.evidence = evidence
        self.overview = overview
        self.renderer: Renderer = renderer or renderer_for(plan.folder, plan.city_folder)
        self.names = people(plan)
        self.salutations = salutations(plan)
        self.units_by_address = {str(u.email).lower(): code for code, u in plan.units.items()}
        self.leaders = leader_addresses(plan)
        office = plan.units.get(plan.commune.standing_office)
        self.reply_to = address(str(office.email), office.name) if office else None
        system = parse_sender(sender) if sender else None
        own = plan.commune.sender
        if own is not None:
            self.sender = address(str(own.email), own.name)
        elif plan.city_folder is not None and office is not None:
            # A city's commune: its mail comes from its own office (one sender per commune).
            name = office.name
            if plan.communes is None:  # a commune's, not the city office's: say whose office
                name = f"{office.name} - {short_name(plan.commune.name)}"
            self.sender = address(str(office.email), name)
        elif system is not None:
            self.sender = system
        else:
            fallback = str(office.email) if office else str(plan.commune.contact.email)
            self.sender = address(fallback, f"Nhắc việc CCHC - {plan.commune.name}")
        self.envelope_from = (system or self.sender).addr_spec
        """The SMTP envelope's sender (bounces): CCHC_SMTP_FROM when set, else the From."""
        self.system = system
        self._common: dict[tuple[date, datetime], dict] = {}
        self._mailboxes: dict[str, Address] = {}
        # Per item, for one `Facts` (a delivery run's chunk: the next one reads the items again).
        self._facts: Facts | None = None
        self._views: dict[tuple[int | None, date], tuple[WorkItem, ItemView]] = {}
        self._shared: dict[tuple, tuple[WorkItem, dict[str, str]]] = {}

    # -- contexts ---------------------------------------------------------------------------

    def mailbox(self, email: str) -> Address:
        found = self._mailboxes.get(email)
        if found is None:
            found = self._mailboxes[email] = address(email, self.names.get(email.lower()))
        return found

    def common(self, today: date, at: datetime) -> dict:
        """`common_context`, once per day and instant: the same for every mail of a run."""
        found = self._common.get((today, at))
        if found is None:
            found = self._common[(today, at)] = common_context(self.plan, today, at)
        return found

    def _chunk(self, facts: Facts) -> None:
        if facts is not self._facts:
            self._facts = facts
            self._views.clear()
            self._shared.clear()

    def view(self, item: WorkItem, today: date) -> ItemView:
        """`item_view`, once per item and day: the rows of an item in a run share it."""
        found = self._views.get((item.id, today))
        if found is None or found[0] is not item:
            directive = self._directive(item)
            view = item_view(self.plan, item, today, directive)
            found = self._views[(item.id, today)] = (item, view)
        return found[1]

    def _directive(self, item: WorkItem) -> Directive | None:
        if item.directive_id is None or self._facts is None:
            return None
        return self._facts.directives.get(item.directive_id)

    def entry(
        self,
        kind: MailKind,
        step: str,
        item: WorkItem,
        at: datetime,
        facts: Facts,
        recipient: str = "",
    ) -> dict:
        """What a mail to `recipient` says about one item at one step. Its upload link is the
        unit's own: the lead's, or for a coordinating unit's request its link to contribute."""
        self._chunk(facts)
        today = local_date(at, self.plan.zone)
        link_unit = (
            self.units_by_address.get(recipient.lower())
            if kind == MailKind.COORDINATE
            else item.unit
        )
        return {
            "kind": kind,
            "kind_label": KIND_LABELS.get(kind, kind),
            "step": step,
            "item": self.view(item, today),
            "escalation": escalation_context(
                self.plan, self.leaders, step, item, today, recipient, facts
            )
            if kind == MailKind.ESCALATION
            else None,
            "closed": closed_context(self.plan, item, facts) if kind in RECEIPT_KINDS else None,
            "returned": returned_context(item, step, facts) if kind == MailKind.RETURNED else None,
            "city_voice": voice_context(self.plan, kind, step, item, facts),
            "extension": extension_context(item, step, facts.extensions)
            if kind == MailKind.EXTENSION
            else None,
            "sources": source_states(self.plan, item, facts.sources[item.id], today)
            if item.id in facts.sources
            else None,
            "indicators": indicators_view(facts.indicators.get(saved_id(item), [])),
            "upload_url": self.link(saved_id(item), link_unit, at)
            if self.link and link_unit and kind in UPLOAD_KINDS and item.status in OPEN_STATUSES
            else "",
        }

    def context(
        self,
        kind: MailKind,
        recipient: str,
        at: datetime,
        entries: list[dict],
        undelivered: Sequence[tuple[str, str]] = (),
        has_calendar: bool = False,
    ) -> dict:
        """Every variable a template may use; the same keys for every kind (see docs/mail.md)."""
        single = entries[0] if kind != MailKind.DIGEST and entries else {}
        today = local_date(at, self.plan.zone)
        greeting, person = self.salutations.get(recipient.lower(), (recipient, recipient))
        return self.common(today, at) | {
            "kind": kind,
            "kind_label": KIND_LABELS.get(kind, "Tổng hợp"),
            "recipient": {
                "address": recipient,
                "name": self.names.get(recipient.lower()) or recipient,
                "greeting": greeting,
                "person": person,
            },
            "item": single.get("item"),
            "step": single.get("step", ""),
            "escalation": single.get("escalation"),
            "closed": single.get("closed"),
            "returned": single.get("returned"),
            "city_voice": single.get("city_voice"),
            "extension": single.get("extension"),
            "sources": single.get("sources"),
            "indicators": single.get("indicators"),
            "upload_url": single.get("upload_url", ""),
            "entries": entries,
            "undelivered": [{"address": a, "error": e} for a, e in undelivered],
            "has_calendar": has_calendar,
            "to_leader": recipient.lower() in self.leaders,
            "overview": single.get("overview"),
        }

    def city_voiced(self, row: Outbox, facts: Facts) -> bool:
        """Whether `row`'s mail is the city office's to a commune (`city_voice`): a mail of its
        own, from the office, never part of a digest from the commune (a leader's, a unit's)."""
        if self.plan.upper is None:
            return False
        item = facts.items.get(row.item_id)
        if item is None:
            return False
        return voice_context(self.plan, MailKind(row.kind), row.step, item, facts) is not None

    # -- mails ------------------------------------------------------------------------------

    def calendar_entry(self, item: WorkItem, sequence: int = 0) -> CalendarEntry:
        """`item`'s calendar event (`notifications.item_calendar`), as the notice it comes with
        states the item."""
        opened_on = local_date(item.opened_at, self.plan.zone)
        view = self.view(item, opened_on)  # as the notice it comes with says it
        commune = self.common(opened_on, item.opened_at)["commune"]
        return calendar_entry(self.plan, self.renderer, item, view, commune, sequence)

    def for_row(
        self, row: Outbox, facts: Facts, at: datetime, copies: Sequence[Outbox] = ()
    ) -> Mail:
        """The mail of one outbox row (a notice to the standing office included), sent to the
        row's recipient and to the recipients of `copies`: the other rows of the same mail (its
        copies, or its To when `row` is a copy). A copy row alone is the same mail (same
        Message-ID, To and Cc headers) sent to the copy's recipient only."""
        self._chunk(facts)
        item = facts.items[row.item_id]
        name = parse_step(row.step)
        notice = name.undelivered
        step = str(replace(name, undelivered=False))
        kind = MailKind(row.kind)
        # The mail's To reads it (a copy retried alone is the same mail).
        entries = [self.entry(kind, step, item, at, facts, row.addressed_to or row.recipient)]
        extra: list[Attachment] = []
        if kind == MailKind.OVERVIEW:  # its undelivered notice too: the office can forward it
            if self.overview is None:
                raise RuntimeError("an overview mail needs the overview's source")
            found = self.overview(item, at)
            entries[0]["overview"] = overview_view(found.overview)
            extra += [Attachment(*f) for f in found.files]
        undelivered = facts.failures.get((saved_id(item), step), []) if notice else []
        calendar = []
        if row.kind == MailKind.OPENED and not notice:
            calendar = [self.calendar_entry(item)]
        elif row.kind == MailKind.RETURNED and not notice:  # the new due date replaces the old
            calendar = [self.calendar_entry(item, sequence=name.number or 1)]
        to = row.addressed_to or row.recipient
        context = self.context(kind, to, at, entries, undelivered, bool(calendar))
        msg_id = row_message_id(self.plan.commune.code, row, facts)
        extra += (
            [Attachment(*f) for f in self.evidence(item.obligation, item.period, at)]
            if self.evidence and not notice and row.kind in EVIDENCE_KINDS
            else []
        )
        if not notice and row.kind in DIRECTIVE_FILE_KINDS:
            extra += directive_attachment(self._directive(item))
        # Rows that differ only in their recipient (a closed mail's copies, an escalation's
        # levels) share the parts of the mail that do not name the recipient.
        shared = self._shared.get((item.id, row.kind, row.step, at))
        if shared is None or shared[0] is not item:
            shared = self._shared[(item.id, row.kind, row.step, at)] = (item, {})
        return self._mail(
            [row, *copies],
            kind,
            to,
            list(row.cc),
            context,
            msg_id,
            calendar,
            at,
            extra,
            shared[1],
        )

    def for_digest(
        self, rows: Sequence[Outbox], facts: Facts, at: datetime, sent: Sequence[Outbox] = ()
    ) -> Mail:
        """One mail listing every row of one addressee: a unit with `digest: true` (its items
        by due date), or a leader (the escalations of one delivery run, by unit: see
        `notifications.delivery`). The rows may include copies of the leader's mails (the
        standing office's): they are copied once, and list no entry of their own. With `sent`,
        `rows` are copies retried alone of the digest whose To got the `sent` rows: the same
        mail again (its Message-ID, To, Cc, list and instant), sent to the copies only."""
        self._chunk(facts)
        to = rows[0].addressed_to or rows[0].recipient
        leader = to.lower() in self.leaders
        if sent:
            at = min((r.sent_at for r in sent if r.sent_at is not None), default=at)

        def order(r: Outbox) -> tuple:
            item = facts.items[r.item_id]
            return (item.unit, item.due, r.item_id, r.id) if leader else (item.due, r.item_id, r.id)

        ordered = sorted([*rows, *sent], key=order)
        listed = [r for r in ordered if r.addressed_to is None] or ordered
        listed = list({(r.item_id, r.step): r for r in reversed(listed)}.values())[::-1]
        entries = [
            self.entry(MailKind(r.kind), r.step, facts.items[r.item_id], at, facts, r.recipient)
            for r in listed
        ]
        calendar = [
            self.calendar_entry(facts.items[r.item_id]) for r in listed if r.kind == MailKind.OPENED
        ]
        cc = list(dict.fromkeys(c for r in ordered for c in r.cc if c.lower() != to.lower()))
        context = self.context(MailKind.DIGEST, to, at, entries, (), bool(calendar))
        key = [saved_id(r) for r in ordered if r.addressed_to is None] or list(
            map(saved_id, ordered)
        )
        msg_id = sent[0].message_id if sent else digest_message_id(self.plan.commune.code, key, to)
        assert msg_id is not None, "a sent digest's rows keep its Message-ID"
        mail = self._mail(ordered, MailKind.DIGEST, to, cc, context, msg_id, calendar, at)
        if not sent:
            return mail
        again = {r.id for r in rows}
        mine = [r for r in ordered if r.id in again]
        return replace(mail, rows=mine, recipients=envelope(mine))

    def _mail(
        self,
        rows: list[Outbox],
        kind: MailKind,
        to: str,
        cc: list[str],
        context: dict,
        msg_id: str,
        calendar: list[CalendarEntry],
        at: datetime,
        extra: Sequence[Attachment] = (),
        shared: dict[str, str] | None = None,
    ) -> Mail:
        rendered = self.renderer.render(kind, context, shared)
        attachments = (
            [
                Attachment(
                    "han-nop.ics",
                    "text",
                    "calendar",
                    calendar_bytes(calendar, at).decode(),
                    (("method", "PUBLISH"),),
                )
            ]
            if calendar
            else []
        ) + list(extra)
        voice = context.get("city_voice")
        sender, reply_to = self.sender, self.reply_to
        if voice:  # the city office writes to the commune: its name and address
            sender = reply_to = address(voice["email"], voice["office"])
        on_behalf = self.system  # CCHC_SMTP_FROM sends, on behalf of the From
        message = build_message(
            sender=sender,
            to=self.mailbox(to),
            cc=[self.mailbox(c) for c in cc],
            reply_to=reply_to,
            on_behalf=on_behalf if on_behalf and on_behalf.addr_spec != sender.addr_spec else None,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            msg_id=msg_id,
            kind=kind,
            item_ids=list(dict.fromkeys(r.item_id for r in rows)),
            date=at,
            attachments=attachments,
        )
        return Mail(rows, kind, to, cc, message, msg_id, envelope(rows))
