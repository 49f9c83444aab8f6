"""Which mail an outbox row, or a digest group of rows, becomes.

The facts a mail needs beyond its row (the item, the deliverable received, the reason for a
return, the failures a notice reports) are read in bulk (`load_facts`); `Composer` then renders
the templates and builds the message without touching the database.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlmodel import Session

from models.tables import Deliverable, Event, Outbox, WorkItem
from notifications.ics import CalendarEntry, calendar_bytes
from notifications.message import (
    Attachment,
    address,
    build_message,
    digest_message_id,
    message_id,
    parse_sender,
)
from notifications.render import Renderer, renderer_for
from notifications.views import (
    KIND_LABELS,
    ItemView,
    common_context,
    file_size,
    item_view,
    people,
    shorten,
    unit_view,
)
from schedules.dates import local_date, local_instant, vn_date, vn_datetime
from schedules.plan import Plan
from schedules.vocabulary import (
    OPEN_STATUSES,
    MailKind,
    OutboxStatus,
    StepKind,
    format_step,
    is_undelivered,
    parse_step,
)

if TYPE_CHECKING:
    from email.headerregistry import Address

Evidence = Callable[[str, str, datetime], list[tuple[str, str, str, bytes]]]
"""`evidence(obligation, period, at)`: (file name, MIME type, subtype, bytes) of files to attach
to an item's opened, reminder and due-day mails (the on-time scorecard for self-scoring)."""

ROLE_LABELS = {"head": "thủ trưởng đơn vị", "leadership": "lãnh đạo Ủy ban nhân dân xã"}
EVIDENCE_KINDS = (MailKind.OPENED, MailKind.REMINDER, MailKind.DUE)
"""Mails that carry the item's evidence files (see `Evidence`)."""
UPLOAD_KINDS = (
    MailKind.OPENED,
    MailKind.REMINDER,
    MailKind.DUE,
    MailKind.OVERDUE,
    MailKind.RETURNED,
)
"""Mails to the unit that carry its signed link to the intake page (`upload_url`)."""


@dataclass
class Facts:
    items: dict[int, WorkItem] = field(default_factory=dict)
    deliverables: dict[int, Deliverable] = field(default_factory=dict)
    """The latest version handed in, per item."""
    returns: dict[tuple[int, str], dict] = field(default_factory=dict)
    """Detail of each `returned` event, by (item, step); (item, "") is the latest."""
    failures: dict[tuple[int, str], list[tuple[str, str]]] = field(default_factory=dict)
    """(recipient, error) of failed rows, by (item, step)."""


def load_facts(session: Session, rows: Sequence[Outbox]) -> Facts:
    facts = Facts()
    item_ids = {r.item_id for r in rows}
    if not item_ids:
        return facts
    for item in session.execute(select(WorkItem).where(WorkItem.id.in_(item_ids))).scalars():
        facts.items[item.id] = item
    closed = {r.item_id for r in rows if r.kind == MailKind.CLOSED}
    if closed:
        query = select(Deliverable).where(Deliverable.item_id.in_(closed))
        for d in session.execute(query.order_by(Deliverable.version)).scalars():
            facts.deliverables[d.item_id] = d
    returned = {r.item_id for r in rows if r.kind == MailKind.RETURNED}
    if returned:
        query = select(Event).where(Event.item_id.in_(returned), Event.kind == "returned")
        for event in session.execute(query.order_by(Event.id)).scalars():
            facts.returns[(event.item_id, event.detail.get("step", ""))] = event.detail
            facts.returns[(event.item_id, "")] = event.detail
    noticed = {r.item_id for r in rows if is_undelivered(r.step)}
    if noticed:
        query = select(Outbox).where(
            Outbox.item_id.in_(noticed), Outbox.status == OutboxStatus.FAILED
        )
        for failed in session.execute(query.order_by(Outbox.id)).scalars():
            facts.failures.setdefault((failed.item_id, failed.step), []).append(
                (failed.recipient, failed.last_error or "")
            )
    return facts


@dataclass
class Mail:
    rows: list[Outbox]
    """The outbox rows this message settles: one, or every row of a digest."""
    kind: str
    to: str
    cc: list[str]
    message: EmailMessage


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
    ):
        """`link(item_id, unit, at)` makes the signed intake link (notifications.links);
        without it mails carry no `upload_url`. `evidence` gives the files an item's mails attach
        (the caller passes `usecases.scorecard.evidence_for`)."""
        self.plan = plan
        self.link = link
        self.evidence = evidence
        self.renderer: Renderer = renderer_for(plan.folder)
        self.names = people(plan)
        office = plan.units.get(plan.commune.standing_office)
        self.reply_to = address(str(office.email), office.name) if office else None
        if sender:
            self.sender = parse_sender(sender)
        else:
            fallback = str(office.email) if office else str(plan.commune.contact.email)
            self.sender = address(fallback, f"Nhắc việc CCHC - {plan.commune.name}")
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
            found = self._views[(item.id, today)] = (item, item_view(self.plan, item, today))
        return found[1]

    def entry(self, kind: str, step: str, item: WorkItem, at: datetime, facts: Facts) -> dict:
        """What a mail says about one item at one step."""
        today = local_date(at, self.plan.zone)
        return {
            "kind": kind,
            "kind_label": KIND_LABELS.get(kind, kind),
            "step": step,
            "item": self.view(item, today),
            "escalation": self._escalation(step, item) if kind == MailKind.ESCALATION else None,
            "closed": self._closed(item, facts) if kind == MailKind.CLOSED else None,
            "returned": self._returned(item, step, facts) if kind == MailKind.RETURNED else None,
            "upload_url": self.link(item.id, item.unit, at)
            if self.link and kind in UPLOAD_KINDS and item.status in OPEN_STATUSES
            else "",
        }

    def context(
        self,
        kind: str,
        recipient: str,
        at: datetime,
        entries: list[dict],
        undelivered: Sequence[tuple[str, str]] = (),
        has_calendar: bool = False,
    ) -> dict:
        """Every variable a template may use; the same keys for every kind (see README)."""
        single = entries[0] if kind != MailKind.DIGEST and entries else {}
        today = local_date(at, self.plan.zone)
        return self.common(today, at) | {
            "kind": kind,
            "kind_label": KIND_LABELS.get(kind, "Tổng hợp"),
            "recipient": {
                "address": recipient,
                "name": self.names.get(recipient.lower()) or recipient,
            },
            "item": single.get("item"),
            "escalation": single.get("escalation"),
            "closed": single.get("closed"),
            "returned": single.get("returned"),
            "upload_url": single.get("upload_url", ""),
            "entries": entries,
            "undelivered": [{"address": a, "error": e} for a, e in undelivered],
            "has_calendar": has_calendar,
        }

    def _escalation(self, step: str, item: WorkItem) -> dict:
        level = parse_step(step).number or 1
        name = format_step(StepKind.ESCALATION, level)
        steps = self.plan.timeline(item.obligation, item.due, item.opened_at)
        targets = next((s.to for s in steps if s.name == name), ())
        office = self.plan.commune.standing_office
        labels = [
            ROLE_LABELS.get(t)
            or (unit_view(self.plan, office).name if t == "standing_office" else None)
            or unit_view(self.plan, t).name
            for t in targets
        ]
        return {"level": level, "targets": ", ".join(labels) or "lãnh đạo"}

    def _closed(self, item: WorkItem, facts: Facts) -> dict:
        got = facts.deliverables.get(item.id)
        received = got.received_at if got else item.closed_at
        verdict = {True: "đúng hạn", False: "sau hạn"}.get(item.on_time, "")
        return {
            "received_at": vn_datetime(received, self.plan.zone) if received else "",
            "on_time": item.on_time,
            "verdict": verdict,
            "file": got.original_name if got else "",
            "version": got.version if got else 0,
            "size": file_size(got.size) if got else "",
            "sha256": got.sha256 if got else "",
        }

    def _returned(self, item: WorkItem, step: str, facts: Facts) -> dict:
        detail = facts.returns.get((item.id, step)) or facts.returns.get((item.id, "")) or {}
        previous = detail.get("previous_due")
        return {
            "reason": detail.get("reason") or "(chưa ghi lý do)",
            "previous_due": vn_date(date.fromisoformat(previous)) if previous else "",
        }

    # -- mails ------------------------------------------------------------------------------

    def calendar_entry(self, item: WorkItem) -> CalendarEntry:
        steps = self.plan.timeline(item.obligation, item.due, item.opened_at)
        first = next((s for s in steps if s.kind == StepKind.REMINDER), None)
        first = first or next((s for s in steps if s.kind == StepKind.DUE), None)
        view = self.view(item, item.due)
        details = self.renderer.template("_item.txt.j2").render(
            item=view, commune=self.common(item.due, item.opened_at)["commune"]
        )
        return CalendarEntry(
            uid=f"item-{item.id}-{item.due.isoformat()}@{self.plan.commune.code}.cchc",
            due=item.due,
            summary=f"Hạn nộp: {shorten(item.title, 70)} ({item.unit})",
            description=details.strip(),
            alarm_at=first.at if first else None,
            alarm_text=f"Nhắc hạn nộp ngày {vn_date(item.due)}: {shorten(item.title, 70)}",
        )

    def for_row(self, row: Outbox, facts: Facts, at: datetime) -> Mail:
        """The mail of one outbox row (a notice to the standing office included)."""
        self._chunk(facts)
        item = facts.items[row.item_id]
        name = parse_step(row.step)
        notice = name.undelivered
        step = str(replace(name, undelivered=False))
        entries = [self.entry(row.kind, step, item, at, facts)]
        undelivered = facts.failures.get((item.id, step), []) if notice else []
        calendar = [self.calendar_entry(item)] if row.kind == MailKind.OPENED and not notice else []
        context = self.context(row.kind, row.recipient, at, entries, undelivered, bool(calendar))
        msg_id = message_id(self.plan.commune.code, item.id, row.step, row.recipient)
        extra = (
            [Attachment(*f) for f in self.evidence(item.obligation, item.period, at)]
            if self.evidence and not notice and row.kind in EVIDENCE_KINDS
            else []
        )
        # Rows that differ only in their recipient (a closed mail's copies, an escalation's
        # levels) share the parts of the mail that do not name the recipient.
        shared = self._shared.get((item.id, row.kind, row.step, at))
        if shared is None or shared[0] is not item:
            shared = self._shared[(item.id, row.kind, row.step, at)] = (item, {})
        return self._mail(
            [row],
            row.kind,
            row.recipient,
            list(row.cc),
            context,
            msg_id,
            calendar,
            at,
            extra,
            shared[1],
        )

    def for_digest(self, rows: Sequence[Outbox], facts: Facts, at: datetime) -> Mail:
        """One mail listing every row of one recipient (units with `digest: true`)."""
        self._chunk(facts)
        ordered = sorted(rows, key=lambda r: (facts.items[r.item_id].due, r.item_id, r.id))
        entries = [self.entry(r.kind, r.step, facts.items[r.item_id], at, facts) for r in ordered]
        calendar = [
            self.calendar_entry(facts.items[r.item_id])
            for r in ordered
            if r.kind == MailKind.OPENED
        ]
        recipient = ordered[0].recipient
        context = self.context(MailKind.DIGEST, recipient, at, entries, (), bool(calendar))
        msg_id = digest_message_id(self.plan.commune.code, [r.id for r in rows], recipient)
        return self._mail(
            list(ordered), MailKind.DIGEST, recipient, [], context, msg_id, calendar, at
        )

    def _mail(
        self,
        rows: list[Outbox],
        kind: str,
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
        message = build_message(
            sender=self.sender,
            to=self.mailbox(to),
            cc=[self.mailbox(c) for c in cc],
            reply_to=self.reply_to,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            msg_id=msg_id,
            kind=kind,
            item_ids=list(dict.fromkeys(r.item_id for r in rows)),
            date=at,
            attachments=attachments,
        )
        return Mail(rows, kind, to, cc, message)


# -- samples, for `cchc check` and `cchc preview` ---------------------------------------------


def sample_item(plan: Plan, at: datetime) -> WorkItem:
    """An in-memory item like the sweep would open: the first periodic report from the
    commune's start (or any scheduled obligation), for the first lead unit."""
    first = local_date(at, plan.zone)
    found = plan.acted_on(first, max(first, plan.commune.start) + timedelta(days=800))
    found.sort(key=lambda o: plan.obligations[o.obligation].kind != "periodic_report")
    if found:
        occ = found[0]
        obligation, unit, period = occ.obligation, occ.unit, occ.period
        due, opens, window = occ.due.due, occ.opens, (period.window_start, period.window_end)
        key = period.key
    else:  # a config with no schedule at all: an ad hoc item
        obligation = next(iter(plan.obligations))
        unit = next(iter(plan.units))
        due = plan.calendar.add_working_days(first, 10)
        opens, window, key = first, (first, due), due.isoformat()
    opened_at = local_instant(opens, plan.commune.sweep_time, plan.zone)
    return WorkItem(
        id=0,
        commune=plan.commune.code,
        obligation=obligation,
        unit=unit,
        period=key,
        title=plan.obligations[obligation].title,
        window_start=window[0],
        window_end=window[1],
        opens_on=opens,
        due=due,
        adhoc=False,
        status="open",
        step="opened",
        escalation_level=0,
        opened_at=opened_at,
    )


def sample_contexts(composer: Composer, at: datetime) -> list[tuple[str, dict]]:
    """A context for every kind (and the variants their templates branch on), from a sample
    item: what `cchc check` renders every template against."""
    plan = composer.plan
    item = sample_item(plan, at)
    cal = plan.calendar
    morning = plan.commune.sweep_time
    opened = item.opened_at
    when = {
        "opened": opened,
        "reminder": local_instant(cal.add_working_days(item.due, -2), morning, plan.zone),
        "due": local_instant(item.due, morning, plan.zone),
        "overdue": local_instant(cal.add_working_days(item.due, 1), morning, plan.zone),
        "escalation": local_instant(cal.add_working_days(item.due, 5), morning, plan.zone),
        "closed": local_instant(item.due, morning, plan.zone),
        "returned": local_instant(item.due, morning, plan.zone),
    }
    when["reminder"] = max(when["reminder"], opened)
    steps = {"escalation": "escalation-1", "returned": "returned-1"}
    closed_item = WorkItem(
        **item.model_dump()
        | {"status": "closed", "step": "closed", "closed_at": when["closed"], "on_time": True}
    )
    facts = Facts(
        items={0: item},
        deliverables={
            0: Deliverable(
                item_id=0,
                version=1,
                original_name="bao-cao.pdf",
                size=123456,
                sha256="0" * 64,
                stored_path="",
                received_at=when["closed"],
            )
        },
        returns={
            (0, "returned-1"): {"reason": "Thiếu số liệu kiểm chứng", "previous_due": "2027-03-16"}
        },
    )
    recipient = plan.units[item.unit].email if item.unit in plan.units else "x@example.invalid"
    out: list[tuple[str, dict]] = []
    for kind, at_kind in when.items():
        subject = closed_item if kind == "closed" else item
        entry = composer.entry(kind, steps.get(kind, kind), subject, at_kind, facts)
        out.append(
            (kind, composer.context(kind, str(recipient), at_kind, [entry], (), kind == "opened"))
        )
    failure = [(str(recipient), "550 5.1.1 mailbox unavailable")]
    entry = composer.entry("reminder", "reminder-2", item, when["reminder"], facts)
    out.append(("reminder", composer.context("reminder", str(recipient), at, [entry], failure)))
    entries = [
        composer.entry(
            kind,
            steps.get(kind, kind),
            closed_item if kind == "closed" else item,
            when["overdue"],
            facts,
        )
        for kind in when
    ]
    out.append(
        (
            "digest",
            composer.context("digest", str(recipient), when["overdue"], entries, failure, True),
        )
    )
    return out
