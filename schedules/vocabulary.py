"""The words of cchc's state: statuses and kinds.

Every status and kind (of obligation, event, change, mail, step) that the config names, the
database stores, the CLI offers or a template is named after comes from here. The enums are
`StrEnum`s: their members are the very strings stored in the database and written in the config
and the JSON outputs. An item's status in words, and whether and how late it is on a day, is
`schedules.item_standing.standing`'s alone (`ItemStatus` members carry their label and
predicates): every page, table, mail and artifact asks it. Step names (`reminder-N`,
`closed-vN`, ...) are written and read by `schedules.step_names`; the commune kinds and their
words are `schedules.commune_kinds`.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

REPORTED_UP = "đã báo cáo cấp trên"
"""An escalated item: the sweep reported it to the next level of its ladder (a leader is
reported to, "báo cáo"). Its status reads "quá hạn, đã báo cáo cấp trên (lần N)"; a count
reads "3 việc đã báo cáo cấp trên"."""


class ItemStatus(StrEnum):
    """An item's stored status; each member carries its Vietnamese label (`label`: the words
    for the status alone, as a filter offers it) and its predicates. How an item reads at a
    given day (due today, past due before the sweep moved it, closed late, escalation level)
    is `standing`'s: every page, table, mail and artifact asks it."""

    OPEN = "open"
    OVERDUE = "overdue"
    ESCALATED = "escalated"
    CLOSED = "closed"
    WAIVED = "waived"
    HELD = "held"
    """Due before the commune went live and not done: nothing is mailed about it until the
    standing office sorts it out (`cchc triage`: re-open with a fresh due date, or waive)."""

    @property
    def label(self) -> str:
        """The words for the status alone ("trong hạn", "quá hạn", ...): `STATUS_LABELS`."""
        return STATUS_LABELS[self]

    @property
    def is_open(self) -> bool:
        """Still owes its deliverable (open, overdue or escalated)."""
        return self in OPEN_STATUSES

    @property
    def is_overdue(self) -> bool:
        """A sweep found it past its due date (overdue or escalated)."""
        return self in (ItemStatus.OVERDUE, ItemStatus.ESCALATED)

    def late_on(self, due: date, today: date) -> bool:
        """Whether an item in this status, due `due`, is late on `today`: a sweep found it
        overdue, or it still owes its deliverable past its due date (before the next morning's
        sweep moves it). The one rule of "is it late now"."""
        return self.is_overdue or (self.is_open and today > due)


STATUS_LABELS: dict[ItemStatus, str] = {
    ItemStatus.OPEN: "trong hạn",
    ItemStatus.OVERDUE: "quá hạn",
    ItemStatus.ESCALATED: f"quá hạn, {REPORTED_UP}",
    ItemStatus.CLOSED: "đã nộp",
    ItemStatus.WAIVED: "được miễn",
    ItemStatus.HELD: "tồn đọng trước khi vận hành, chờ xử lý",
}
"""Each status's Vietnamese label (`ItemStatus.label`)."""

OPEN_STATUSES = (ItemStatus.OPEN, ItemStatus.OVERDUE, ItemStatus.ESCALATED)
"""An item in one of these still owes its deliverable."""

LATE = "late"
"""Not a status: the filter of the late items (`cchc items --status late`), those `late_on`
their day (overdue or escalated, or still open past the due date)."""


def working_days(count: int) -> str:
    """A count of working days as every mail and page writes it, two digits as in an
    administrative plan: "02 ngày làm việc", "05 ngày làm việc", "12 ngày làm việc"."""
    return f"{count:02d} ngày làm việc"


class ObligationKind(StrEnum):
    """`kind:` of an obligation in the config; each scheduled kind has its opening flow."""

    PERIODIC_REPORT = "periodic_report"
    CONSOLIDATED_REPORT = "consolidated_report"
    ANNUAL_PLAN = "annual_plan"
    REVIEW_PLAN = "review_plan"
    SELF_SCORING = "self_scoring"
    SURVEY = "survey"
    SELF_INSPECTION = "self_inspection"
    TRAINING = "training"
    ANNUAL_TASK = "annual_task"
    ONE_OFF = "one_off"
    FINAL_SUMMARY = "final_summary"
    STANDING = "standing"
    """Carried on all year, reported in a scheduled report (no schedule of its own)."""
    AD_HOC = "ad_hoc"
    """Opened by hand when a directive arrives (`cchc open`; no schedule)."""


CITY_RETURN = "city"
"""`by` of a return event done from the city office's page (Sở Nội vụ returned a commune's
report to the city): its mail is the Sở's (`notifications.city_voice`)."""


REPORT_KINDS = (ObligationKind.PERIODIC_REPORT, ObligationKind.CONSOLIDATED_REPORT)
"""Obligations whose period is a data window ("thời gian chốt số liệu")."""

UNSCHEDULED_KINDS = (ObligationKind.STANDING, ObligationKind.AD_HOC)
"""Obligations that have no schedule (every other kind needs one)."""


class EventKind(StrEnum):
    """`Event.kind`: what the append-only event log records of an item. The sweep's steps
    (`StepKind`: opened, reminder, due, overdue, escalation) go by their own names."""

    OPENED = "opened"
    REMINDER = "reminder"
    DUE = "due"
    OVERDUE = "overdue"
    ESCALATION = "escalation"
    CONTRIBUTED = "contributed"
    """A coordinating unit handed in its inputs to the lead's item."""
    RECEIVED = "received"
    """A version handed in (the item may stay open: it awaits review, or was closed)."""
    CLOSED = "closed"
    ACCEPTED = "accepted"
    RETURNED = "returned"
    WAIVED = "waived"
    UNDELIVERABLE = "undeliverable"
    """A step reached for a unit no longer in the config: nobody to mail."""
    MAIL_FAILED = "mail_failed"
    """A mail refused for good (the standing office is told)."""
    EXTENSION_REQUESTED = "extension_requested"
    EXTENSION_GRANTED = "extension_granted"
    """The due date moved (`usecases.extensions`): the item starts a new round of mails."""
    EXTENSION_REFUSED = "extension_refused"
    HELD = "held"
    """Opened due before the commune's go-live date: held for the office's triage, unmailed."""
    RESUMED = "resumed"
    """The office re-opened a held item with a fresh due date (`cchc triage reopen`)."""
    INDICATORS = "indicators"
    """Indicator values entered or corrected for the item (the rows of `indicator_value`)."""


class ItemChange(StrEnum):
    """What happened to items, as Prefect events say it (`cchc.item.<change>`): the sweep's
    (opened, overdue, escalated), and a hand-in, the office's review, a waiver or an extension,
    made outside a sweep (opened by a directive, closed, accepted, returned, waived, extended:
    through the intake or the command line)."""

    OPENED = "opened"
    OVERDUE = "overdue"
    ESCALATED = "escalated"
    CLOSED = "closed"
    ACCEPTED = "accepted"
    RETURNED = "returned"
    WAIVED = "waived"
    EXTENDED = "extended"
    """The office granted an extension: the due date moved."""
    RESUMED = "resumed"
    """The office re-opened an item held at go-live with a fresh due date."""


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class DeliverableStatus(StrEnum):
    """A version handed in, as the standing office judged it."""

    RECEIVED = "received"
    ACCEPTED = "accepted"
    RETURNED = "returned"


class MailKind(StrEnum):
    """`X-CCHC-Kind` of a mail, the name of its templates (`KIND.subject.j2`, ...)."""

    OPENED = "opened"
    REMINDER = "reminder"
    DUE = "due"
    OVERDUE = "overdue"
    ESCALATION = "escalation"
    CLOSED = "closed"
    RETURNED = "returned"
    DIGEST = "digest"
    COORDINATE = "coordinate"
    """A coordinating unit's request for its inputs to the lead's item, and its reminder."""
    EXTENSION = "extension"
    """An extension of the due date: a unit's request (to the office), its grant or refusal."""
    CORRECTION = "correction"
    """The product of an escalated item arrived: whoever was told of the escalation is told it
    was received ("Đã nhận Báo cáo số 15/BC-TTPVHCC ngày 16/03/2027, đúng hạn")."""
    OVERVIEW = "overview"
    """The quarterly overview to the Chủ tịch and the leader in charge, a few working days
    after the consolidated report of the quarter is due (`usecases.overview`). Its outbox rows
    hang on that report's item, step `overview`: the key (item, step, recipient) makes it once
    per quarter and leader."""


NAGGING_KINDS = (
    MailKind.OPENED,
    MailKind.COORDINATE,
    MailKind.REMINDER,
    MailKind.DUE,
    MailKind.OVERDUE,
    MailKind.ESCALATION,
)
"""Mails that lose their point once the item is closed or waived."""


class StepKind(StrEnum):
    OPENED = "opened"
    REMINDER = "reminder"
    DUE = "due"
    OVERDUE = "overdue"
    ESCALATION = "escalation"
    CLOSED = "closed"
    RETURNED = "returned"
    WAIVED = "waived"
    REQUESTED = "requested"
    EXTENDED = "extended"
    REFUSED = "refused"
    CORRECTION = "correction"
    HELD = "held"
    OVERVIEW = "overview"


class ExtensionStatus(StrEnum):
    """An extension (`models.tables.Extension`): a unit's request waits for the office's
    decision; a grant by the office on its own is granted at once."""

    PENDING = "pending"
    GRANTED = "granted"
    REFUSED = "refused"
