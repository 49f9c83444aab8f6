"""The grammar of step names: `format_step` writes one, and only `parse_step` reads one.

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
from dataclasses import dataclass

from schedules.vocabulary import MailKind, StepKind

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
