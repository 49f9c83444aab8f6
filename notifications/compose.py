"""Which mail an outbox row, or a digest group of rows, becomes.

The facts a mail needs beyond its row are read in bulk first (`notifications.facts`);
`Composer` then renders the templates and builds the message without touching the database.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING

from models.ids import saved_id
from notifications.attachments import DIRECTIVE_FILE_KINDS, directive_attachment
from notifications.city_voice import city_voice
from notifications.commune_views import common_context, people, salutations, unit_view
from notifications.documents.overview import OverviewSource, overview_view
from notifications.extension_views import extension_context
from notifications.facts import RECEIPT_KINDS, Facts, receipt_verdict
from notifications.ics import CalendarEntry, calendar_bytes
from notifications.indicator_views import indicators_view
from notifications.item_view import ItemView, item_view
from notifications.labels import KIND_LABELS
from notifications.message import (
    Attachment,
    address,
    build_message,
    digest_message_id,
    message_id,
    parse_sender,
)
from notifications.phrases import file_size, shorten
from notifications.render import Renderer, renderer_for
from notifications.signatures import signature_text
from notifications.source_states import source_states
from schedules.city import short_name
from schedules.dates import local_date, vn_date, vn_datetime
from schedules.notices import escalation_addresses, leader_addresses
from schedules.plan import Plan
from schedules.vocabulary import (
    OPEN_STATUSES,
    MailKind,
    StepKind,
    days_late,
    parse_step,
    working_days,
)

if TYPE_CHECKING:
    from email.headerregistry import Address

    from models.tables import Directive, Outbox, WorkItem
    from schedules.timeline import Step

Evidence = Callable[[str, str, datetime], list[tuple[str, str, str, bytes]]]
"""`evidence(obligation, period, at)`: (file name, MIME type, subtype, bytes) of files to attach
to an item's opened, reminder and due-day mails (the on-time scorecard for self-scoring)."""

ROLE_LABELS = {"head": "thủ trưởng đơn vị", "leadership": "lãnh đạo Ủy ban nhân dân {kind}"}
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
            "escalation": self._escalation(step, item, today, recipient, facts)
            if kind == MailKind.ESCALATION
            else None,
            "closed": self._closed(item, facts) if kind in RECEIPT_KINDS else None,
            "returned": self._returned(item, step, facts) if kind == MailKind.RETURNED else None,
            "city_voice": self._voice(kind, step, item, facts),
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

    def _escalation(
        self,
        step: str,
        item: WorkItem,
        today: date,
        recipient: str = "",
        facts: Facts | None = None,
    ) -> dict:
        """What an escalation mail says of its level, as `recipient` (the mail's To) reads it:
        `level` counts the mails of the item's ladder that reach this recipient (a leader's
        first mail is "Kính báo cáo", never "lần 2" because a head was told first), `step_level`
        is the ladder's; `label` heads the mail; `earlier` lists the levels told before this one
        ("đã nhắc Trưởng đơn vị ngày 21/07"); `late_line` is the item's line in a leader's
        digest ("quá hạn 02 ngày làm việc (hạn 20/07/2027; đã nhắc Trưởng đơn vị ngày 21/07)")."""
        step_level = parse_step(step).number or 1
        steps = self.plan.timeline(item.obligation, item.due, item.opened_at)
        levels = [s for s in steps if s.kind == StepKind.ESCALATION]
        this = next((s for s in levels if s.level == step_level), None)
        targets = this.to if this else ()
        office = self.plan.commune.standing_office
        own = item.unit == office
        labels = [
            ROLE_LABELS.get(t, "").format(kind=self.plan.kind_label)
            or (unit_view(self.plan, office).name if t == "standing_office" else None)
            or unit_view(self.plan, t).name
            for t in targets
        ]
        who = recipient.lower()
        queued = facts.escalations.get(saved_id(item)) if facts is not None else None
        if queued:  # the mails the outbox holds: what was told, to whom, when
            told: dict[int, datetime] = {}
            mine_levels: set[int] = set()
            for name, to, at in queued:
                number = parse_step(name).number or 0
                if number < step_level:
                    told[number] = min(told.get(number, at), at)
                    if to.lower() == who:
                        mine_levels.add(number)
            by_level = {s.level: s for s in levels}
            sent = [(by_level[n], at) for n, at in sorted(told.items()) if n in by_level]
            level = len(mine_levels) + 1
        else:  # a preview, a sample: the ladder (not the levels an item opened late went past)
            sent = [(s, s.at) for s in levels if s.level < step_level and s.at > item.opened_at]
            level = 1 + sum(
                who in {a.lower() for a in escalation_addresses(self.plan, s.to, item.unit)}
                for s, _ in sent
            )
        # A leader is reported to ("kính báo cáo"); a head of unit is asked ("đề nghị").
        if recipient:
            to_leaders = who in self.leaders
        else:
            to_leaders = bool(set(targets) & {"leadership", "leader_in_charge"})
            to_leaders = to_leaders or (own and bool(set(targets) & {"head", "standing_office"}))
        if to_leaders:
            label = "Kính báo cáo" if level == 1 else f"Kính báo cáo lần {level}"
        else:
            label = f"{'Nhắc việc' if own else 'Đôn đốc'} lần {level}"
        earlier = [self._told(s, at, item) for s, at in sent]
        return {
            "level": level,
            "step_level": step_level,
            "label": label,
            "targets": ", ".join(labels) or "lãnh đạo",
            "to_leaders": to_leaders,
            "earlier": earlier,
            "late_line": self._late_line(item, today, earlier),
        }

    def _voice(self, kind: MailKind, step: str, item: WorkItem, facts: Facts) -> dict | None:
        """The city office's voice, for the mails it sends a commune (`city_voice`)."""
        if self.plan.upper is None:
            return None
        by = ""
        if kind == MailKind.RETURNED:
            item_id = saved_id(item)
            detail = facts.returns.get((item_id, step)) or facts.returns.get((item_id, "")) or {}
            by = detail.get("by", "")
        voice = city_voice(self.plan, item, kind, step, by)
        return voice.as_dict() if voice else None

    def city_voiced(self, row: Outbox, facts: Facts) -> bool:
        """Whether `row`'s mail is the city office's to a commune (`city_voice`): a mail of its
        own, from the office, never part of a digest from the commune (a leader's, a unit's)."""
        if self.plan.upper is None:
            return False
        item = facts.items.get(row.item_id)
        if item is None:
            return False
        return self._voice(MailKind(row.kind), row.step, item, facts) is not None

    def _told(self, level: Step, at: datetime, item: WorkItem) -> str:
        """An earlier level of the ladder as a leader's digest names it: "đã nhắc Trưởng đơn vị
        ngày 21/07" (a unit's head; the standing office's own: its Trưởng phòng by name), "đã
        báo cáo lãnh đạo ngày 22/07"."""
        day = local_date(at, self.plan.zone).strftime("%d/%m")
        own = item.unit == self.plan.commune.standing_office
        heads = {a.lower() for a in escalation_addresses(self.plan, ("head",), item.unit)}
        told = {a.lower() for a in escalation_addresses(self.plan, level.to, item.unit)}
        if told and told <= heads and not told & self.leaders:
            head = unit_view(self.plan, item.unit).head_name if own else "Trưởng đơn vị"
            return f"đã nhắc {head} ngày {day}"
        return f"đã báo cáo lãnh đạo ngày {day}"

    def _late_line(self, item: WorkItem, today: date, earlier: list[str]) -> str:
        """ "quá hạn 02 ngày làm việc (hạn 20/07/2027; đã nhắc Trưởng đơn vị ngày 21/07)", as an
        office writes an item's line to a leader; for an item opened past its due date, its
        fresh deadline ("quá hạn gửi bổ sung …", "hạn gửi bổ sung …")."""
        catch_up = self.plan.catch_up_deadline(item.obligation, item.due, item.opened_at)
        deadline = catch_up or item.due
        late = days_late(deadline, today, self.plan.calendar)
        own = item.unit == self.plan.commune.standing_office
        extra = (" hoàn thành bổ sung" if own else " gửi bổ sung") if catch_up else ""
        head = f"quá hạn{extra} {working_days(late)}" if late else f"quá hạn{extra}"
        return f"{head} ({'; '.join([f'hạn{extra} {vn_date(deadline)}', *earlier])})"

    def _closed(self, item: WorkItem, facts: Facts) -> dict:
        got = facts.deliverables.get(saved_id(item))
        received = got.received_at if got else item.closed_at
        verdict = receipt_verdict(item)
        doc = got.document if got else ""  # received as an official document: no file
        file = got if got and not doc else None
        when = vn_datetime(received, self.plan.zone) if received else ""
        return {
            "received_at": vn_date(got.doc_date) if got and doc and got.doc_date else when,
            "on_time": item.on_time,
            "verdict": verdict,
            "doc": doc,
            "file": file.original_name if file else "",
            "version": got.version if got else 0,
            "size": file_size(file.size) if file else "",
            "sha256": file.sha256 if file else "",
            "signature": signature_text(file.signature, self.plan.zone) if file else "",
        }

    def _returned(self, item: WorkItem, step: str, facts: Facts) -> dict:
        item_id = saved_id(item)
        detail = facts.returns.get((item_id, step)) or facts.returns.get((item_id, "")) or {}
        previous = detail.get("previous_due")
        got = facts.deliverables.get(item_id)
        what = ""
        if got is not None:
            what = got.document or f"tệp {got.original_name}, lần nộp thứ {got.version}"
        return {
            "what": what,
            "reason": detail.get("reason") or "(chưa ghi lý do)",
            "previous_due": vn_date(date.fromisoformat(previous)) if previous else "",
        }

    # -- mails ------------------------------------------------------------------------------

    def calendar_entry(self, item: WorkItem, sequence: int = 0) -> CalendarEntry:
        steps = self.plan.timeline(item.obligation, item.due, item.opened_at)
        first = next((s for s in steps if s.kind == StepKind.REMINDER), None)
        first = first or next((s for s in steps if s.kind == StepKind.DUE), None)
        opened_on = local_date(item.opened_at, self.plan.zone)
        view = self.view(item, opened_on)  # as the notice it comes with says it
        # The event says what is due and when: not "còn 10 ngày làm việc", which a calendar
        # would show unchanged every day after; nor the list of the plan's tasks a report
        # covers, which stays in the mail (a calendar shows the description in a pop-up).
        details = self.renderer.template("_item.txt.j2").render(
            item=replace(view, contents=(), countdown=""),
            commune=self.common(opened_on, item.opened_at)["commune"],
            sources=None,
            indicators=None,
            kind="",
        )
        # An item opened past its due date: the event is its fresh deadline.
        due = self.plan.catch_up_deadline(item.obligation, item.due, item.opened_at) or item.due
        return CalendarEntry(
            uid=f"item-{item.id}@{self.plan.commune.code}.cchc",
            due=due,
            summary=f"Hạn nộp: {shorten(item.title, 70)} ({view.unit.name})",
            description=details.strip(),
            alarm_at=first.at if first and due == item.due else None,
            alarm_text=f"Nhắc hạn nộp ngày {vn_date(due)}: {shorten(item.title, 70)}",
            sequence=sequence,
        )

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
