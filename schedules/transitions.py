"""The work item's state machine: the legal (status, event) → status transitions, in one table.

Every compare-and-set that changes an item's status (`models.store.transition`) takes its guard
from this table, so a move the table does not list cannot happen, whoever asks for it.
"""

from __future__ import annotations

from enum import StrEnum

from schedules.vocabulary import ItemStatus

OPEN, OVERDUE, ESCALATED = ItemStatus.OPEN, ItemStatus.OVERDUE, ItemStatus.ESCALATED
CLOSED, WAIVED, HELD = ItemStatus.CLOSED, ItemStatus.WAIVED, ItemStatus.HELD


class ItemEvent(StrEnum):
    ADVANCE = "advance"
    """The sweep moves the item along its timeline (reminder, due, overdue, escalation)."""
    CLOSE = "close"
    """A deliverable is handed in, or the office accepts one of an item reopened meanwhile."""
    WAIVE = "waive"
    REOPEN = "reopen"
    """The standing office returns the deliverable: the item runs again to a new due date."""
    EXTEND = "extend"
    """An extension is granted: the open item runs to its new due date, from the step its
    new timeline has reached (an overdue or escalated item may be in time again)."""
    RESUME = "resume"
    """The standing office re-opens a held item (due before go-live) with a fresh due date."""


TRANSITIONS: dict[tuple[ItemStatus, ItemEvent], frozenset[ItemStatus]] = {
    # Forward in time, but not always in status: an admin who removes a policy's escalation
    # levels turns an escalated item back into an overdue one at the next sweep.
    (OPEN, ItemEvent.ADVANCE): frozenset({OPEN, OVERDUE, ESCALATED}),
    (OVERDUE, ItemEvent.ADVANCE): frozenset({OPEN, OVERDUE, ESCALATED}),
    (ESCALATED, ItemEvent.ADVANCE): frozenset({OPEN, OVERDUE, ESCALATED}),
    (OPEN, ItemEvent.CLOSE): frozenset({CLOSED}),
    (OVERDUE, ItemEvent.CLOSE): frozenset({CLOSED}),
    (ESCALATED, ItemEvent.CLOSE): frozenset({CLOSED}),
    (OPEN, ItemEvent.WAIVE): frozenset({WAIVED}),
    (OVERDUE, ItemEvent.WAIVE): frozenset({WAIVED}),
    (ESCALATED, ItemEvent.WAIVE): frozenset({WAIVED}),
    (CLOSED, ItemEvent.REOPEN): frozenset({OPEN, OVERDUE, ESCALATED}),
    (OPEN, ItemEvent.EXTEND): frozenset({OPEN, OVERDUE, ESCALATED}),
    (OVERDUE, ItemEvent.EXTEND): frozenset({OPEN, OVERDUE, ESCALATED}),
    (ESCALATED, ItemEvent.EXTEND): frozenset({OPEN, OVERDUE, ESCALATED}),
    # A held item (due before go-live) waits for the office: re-opened with a fresh due date,
    # waived, or closed when its product arrives after all.
    (HELD, ItemEvent.RESUME): frozenset({OPEN, OVERDUE, ESCALATED}),
    (HELD, ItemEvent.WAIVE): frozenset({WAIVED}),
    (HELD, ItemEvent.CLOSE): frozenset({CLOSED}),
}
"""What each event may turn each status into (the timeline step reached decides among several).
Closed and waived items take no event but a return; a waived item takes none at all; a held
item takes the office's decision (resume, waive) or its product (close), never the sweep's."""


class IllegalTransition(ValueError):
    """No status can reach `target` by `event`: a bug in the caller, not a race."""


def sources(event: ItemEvent, target: ItemStatus) -> tuple[ItemStatus, ...]:
    """The statuses from which `event` may lead to `target`: the guard of a compare-and-set."""
    found = tuple(
        status for (status, on), targets in TRANSITIONS.items() if on == event and target in targets
    )
    if not found:
        raise IllegalTransition(f"no item reaches '{target}' by '{event}'")
    return found


def allowed(status: ItemStatus | str, event: ItemEvent) -> bool:
    """Whether an item in `status` takes `event` at all."""
    return (ItemStatus(status), event) in TRANSITIONS
