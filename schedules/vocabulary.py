"""The words of cchc's state: statuses, kinds, and the grammar of step names.

Every status, kind (of obligation, event, change, mail) and step name that the config names, the
database stores, the CLI offers or a template is named after comes from here, and only
`parse_step` reads a step name. The enums are `StrEnum`s: their members are the very strings
stored in the database and written in the config and the JSON outputs. An item's status in
words, and whether and how late it is on a day, is `standing`'s alone (`ItemStatus` members
carry their label and predicates): every page, table, mail and artifact asks it.

Step names (`WorkItem.step`, `Outbox.step`; at most 32 characters):

| name              | what                                                               |
|-------------------|--------------------------------------------------------------------|
| `opened`          | the item opened (assignment mail)                                  |
| `reminder-N`      | the reminder N working days before the due date                    |
| `due`             | the due date's morning                                             |
| `overdue`         | the due date has ended                                             |
| `overdue-1`       | an item opened past its due date: its fresh deadline (hạn gửi bổ   |
|                   | sung) has ended too                                                |
| `escalation-N`    | escalation level N (1-based)                                       |
| `closed`          | a deliverable closed the item                                      |
| `closed-vN`       | receipt of version N, handed in after the item was closed          |
| `returned-N`      | the standing office returned the deliverable, round N              |
| `waived`          | the item was waived                                                |
| `held`            | due before the commune went live: held for the office's triage     |
| `requested-N`     | outbox only: the unit's extension request N, to the office         |
| `extended-N`      | outbox only: extension N granted (the due date moved)              |
| `refused-N`       | outbox only: extension request N refused                           |
| `correction`      | outbox only: the product arrived after an escalation: those told   |
|                   | of the escalation are told it was received                         |
| `overview`        | outbox only: the quarterly overview to the leaders, on the item of the |
|                   | quarter's consolidated report (never archived by a return)         |
| `undelivered-S`   | outbox only: tells the standing office that step S's mail failed    |
| `S#N`             | outbox only: step S of the item's round before return N (archived) |
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Protocol

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

DUE_TODAY = "đến hạn hôm nay"
CLOSED_ON_TIME = {True: "đã nộp, đúng hạn", False: "đã nộp, sau hạn"}
"""A closed item's words by its `on_time` (unknown: `ItemStatus.CLOSED.label`)."""


class WorkingDays(Protocol):
    """The working-day calendar (`schedules.calendar`), as `standing` needs it."""

    def working_days_between(self, start: date, end: date) -> int: ...


class ItemFacts(Protocol):
    """What `standing` reads of an item (a `models.tables.WorkItem`)."""

    @property
    def status(self) -> str: ...

    @property
    def due(self) -> date: ...

    @property
    def escalation_level(self) -> int: ...

    @property
    def on_time(self) -> bool | None: ...


@dataclass(frozen=True)
class Standing:
    """Where an item stands on a day: its status, whether and how late, in the words every
    surface shows (`label`)."""

    status: ItemStatus
    late: bool
    """`ItemStatus.late_on`: overdue, escalated, or open past its due date."""
    days_late: int
    """Working days past the due date while late (0 otherwise, and on a day off right after
    the due date)."""
    due_today: bool
    """Still owed, due today."""
    escalation_level: int = 0
    on_time: bool | None = None

    @classmethod
    def at(
        cls,
        status: str,
        due: date,
        today: date,
        calendar: WorkingDays,
        escalation_level: int = 0,
        on_time: bool | None = None,
    ) -> Standing:
        """Where an item in `status`, due `due`, stands on `today` (`standing` of its fields:
        for a row that is not a `WorkItem`)."""
        known = ItemStatus(status)
        late = known.late_on(due, today)
        return cls(
            status=known,
            late=late,
            days_late=days_late(due, today, calendar) if late else 0,
            due_today=known.is_open and not late and today == due,
            escalation_level=escalation_level,
            on_time=on_time,
        )

    @property
    def label(self) -> str:
        """ "trong hạn", "đến hạn hôm nay", "quá hạn" (overdue, or open past its due date),
        "quá hạn, đã báo cáo cấp trên (lần 2)", "đã nộp, đúng hạn", "đã nộp, sau hạn",
        "được miễn"."""
        if self.status == ItemStatus.ESCALATED:
            level = self.escalation_level
            return f"{self.status.label} (lần {level})" if level else self.status.label
        if self.late:
            return ItemStatus.OVERDUE.label
        if self.due_today:
            return DUE_TODAY
        if self.status == ItemStatus.CLOSED and self.on_time is not None:
            return CLOSED_ON_TIME[self.on_time]
        return self.status.label


def working_days(count: int) -> str:
    """A count of working days as every mail and page writes it, two digits as in an
    administrative plan: "02 ngày làm việc", "05 ngày làm việc", "12 ngày làm việc"."""
    return f"{count:02d} ngày làm việc"


def days_late(due: date, today: date, calendar: WorkingDays) -> int:
    """Working days from `due` to `today` (0 when `today` is not after `due`)."""
    return max(calendar.working_days_between(due, today), 0)


def standing(item: ItemFacts, today: date, calendar: WorkingDays) -> Standing:
    """Where `item` stands on `today` (a day of its commune's zone), on its `calendar`."""
    return Standing.at(item.status, item.due, today, calendar, item.escalation_level, item.on_time)


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


class CommuneKind(StrEnum):
    """`commune.kind:` the commune-level unit a commune is (Luật Tổ chức chính quyền địa phương
    2025): a xã, a phường or a đặc khu; its mails, pages and shared plans name it so."""

    XA = "xa"
    PHUONG = "phuong"
    DAC_KHU = "dac_khu"


COMMUNE_KIND_LABELS = {
    CommuneKind.XA: "xã",
    CommuneKind.PHUONG: "phường",
    CommuneKind.DAC_KHU: "đặc khu",
}
"""How a text names each commune kind (lower case, as after "của", "Toàn", "UBND")."""


def commune_kinds_phrase(kinds: Iterable[str]) -> str:
    """ "xã, phường" for a city of xã and phường: the kinds present, in the law's order
    ("xã, phường, đặc khu"); "xã" for none."""
    present = set(kinds)
    words = [label for kind, label in COMMUNE_KIND_LABELS.items() if kind in present]
    return ", ".join(words) or COMMUNE_KIND_LABELS[CommuneKind.XA]


def communes_count(kinds: Iterable[str]) -> str:
    """ "60 xã, 40 phường, 2 đặc khu": how many communes of each kind `kinds` holds (one
    entry per commune); "0 xã" for none."""
    counted = Counter(kinds)
    parts = [f"{counted[k]} {label}" for k, label in COMMUNE_KIND_LABELS.items() if counted[k]]
    return ", ".join(parts) or "0 xã"


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


TIMELINE_KINDS = (
    StepKind.OPENED,
    StepKind.REMINDER,
    StepKind.DUE,
    StepKind.OVERDUE,
    StepKind.ESCALATION,
)
"""The steps of an open item's timeline, in the order they come."""

MAIL_OF_STEP = {
    StepKind.OPENED: MailKind.OPENED,
    StepKind.REMINDER: MailKind.REMINDER,
    StepKind.DUE: MailKind.DUE,
    StepKind.OVERDUE: MailKind.OVERDUE,
    StepKind.ESCALATION: MailKind.ESCALATION,
    StepKind.CLOSED: MailKind.CLOSED,
    StepKind.RETURNED: MailKind.RETURNED,
    StepKind.REQUESTED: MailKind.EXTENSION,
    StepKind.EXTENDED: MailKind.EXTENSION,
    StepKind.REFUSED: MailKind.EXTENSION,
    StepKind.CORRECTION: MailKind.CORRECTION,
    StepKind.OVERVIEW: MailKind.OVERVIEW,
}
"""The mail a step sends (a waived item is told nothing)."""

NUMBERED = (
    StepKind.REMINDER,
    StepKind.ESCALATION,
    StepKind.RETURNED,
    StepKind.REQUESTED,
    StepKind.EXTENDED,
    StepKind.REFUSED,
)
UNDELIVERED_PREFIX = "undelivered-"
ARCHIVE_MARK = "#"
MAX_STEP = 32
_VERSION = "v"
_NAME = re.compile(r"^(?P<kind>[a-z]+)(?:-(?P<v>v)?(?P<n>\d{1,6}))?$")


@dataclass(frozen=True)
class StepName:
    """A parsed step name; `str()` gives the name back."""

    kind: StepKind
    number: int | None = None
    """Reminder lead (working days), escalation level, return round, extension number, or
    version (`closed-vN`)."""
    undelivered: bool = False
    """The notice to the standing office that this step's mail was refused."""
    archived: int | None = None
    """The round (return number) this step was archived by, if it was."""

    @property
    def rank(self) -> tuple[int, int] | None:
        """Position of a timeline step: opened < reminder-5 < reminder-2 < due < overdue <
        overdue-1 < escalation-1 < escalation-2; None for steps outside the timeline."""
        if self.kind not in TIMELINE_KINDS:
            return None
        number = self.number or 0
        reminder = self.kind == StepKind.REMINDER
        return TIMELINE_KINDS.index(self.kind), -number if reminder else number

    def __str__(self) -> str:
        return format_step(
            self.kind, self.number, undelivered=self.undelivered, archived=self.archived
        )


def format_step(
    kind: StepKind | str,
    number: int | None = None,
    *,
    undelivered: bool = False,
    archived: int | None = None,
) -> str:
    """The step name of `kind` (with its number where it takes one), marked as an undelivered
    notice or archived by return round `archived`."""
    kind = StepKind(kind)
    if kind in NUMBERED and number is None:
        raise ValueError(f"step '{kind}' needs a number")
    if number is None:
        name = str(kind)
    elif kind == StepKind.CLOSED:
        name = f"{kind}-{_VERSION}{number}"
    elif kind in NUMBERED or kind == StepKind.OVERDUE:
        name = f"{kind}-{number}"
    else:
        raise ValueError(f"step '{kind}' takes no number")
    if undelivered:
        name = UNDELIVERED_PREFIX + name
    if archived is not None:
        name += f"{ARCHIVE_MARK}{archived}"
    if len(name) > MAX_STEP:
        raise ValueError(f"step name {name!r} is longer than {MAX_STEP} characters")
    return name


def is_undelivered(step: str) -> bool:
    """Whether `step` names the notice of an undelivered mail (cheap: no full parse)."""
    return step.startswith(UNDELIVERED_PREFIX)


def parse_step(text: str) -> StepName:
    """The parts of a step name written by `format_step`; ValueError for anything else."""
    name, mark, archived = text.partition(ARCHIVE_MARK)
    undelivered = name.startswith(UNDELIVERED_PREFIX)
    name = name.removeprefix(UNDELIVERED_PREFIX)
    found = _NAME.match(name)
    if found is None or found["kind"] not in StepKind.__members__.values():
        raise ValueError(f"not a step name: {text!r}")
    kind = StepKind(found["kind"])
    number = int(found["n"]) if found["n"] else None
    versioned = found["v"] is not None
    if kind in NUMBERED:
        legal = number is not None and not versioned
    elif kind == StepKind.CLOSED:
        legal = number is None or versioned
    elif kind == StepKind.OVERDUE:  # `overdue-1`: an item's fresh deadline has ended
        legal = not versioned
    else:
        legal = number is None
    if not legal:
        raise ValueError(f"not a step name: {text!r}")
    if mark and not archived.isdigit():
        raise ValueError(f"not a step name: {text!r}")
    return StepName(kind, number, undelivered, int(archived) if mark else None)
