"""Whether an item was done on time: the verdict every report, page and mail states.

The rule (as the Government office's task tracking counts): an item's verdict is decided when
its FIRST version arrives, against the due date in force then (`judged_due`): "đúng hạn", or
"đúng hạn (được gia hạn)" when that due date was an extension of the first one in force
(`original_due`), or "quá hạn". A return is not an extension: the returned item keeps its
verdict, and the date set by the return is a completion deadline ("phải hoàn thiện" until it,
"quá hạn hoàn thiện" after it). Versions handed in later never change the verdict.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Protocol

from schedules.vocabulary import OPEN_STATUSES, ItemStatus


class Verdict(StrEnum):
    ON_TIME = "on_time"
    ON_TIME_EXTENDED = "on_time_extended"
    LATE = "late"


VERDICT_LABELS = {
    Verdict.ON_TIME: "đúng hạn",
    Verdict.ON_TIME_EXTENDED: "đúng hạn (được gia hạn)",
    Verdict.LATE: "quá hạn",
}
TO_COMPLETE = "phải hoàn thiện"
"""A returned item before its completion deadline."""
COMPLETION_LATE = "quá hạn hoàn thiện"
"""A returned item still not completed after its completion deadline."""


class Judged(Protocol):
    """What the verdict reads of an item (`models.tables.WorkItem`, or a row of its columns)."""

    status: str
    due: date
    on_time: bool | None
    judged_due: date | None
    original_due: date | None


def verdict(item: Judged) -> Verdict | None:
    """The item's verdict; None for a waived item and for one no version has reached yet. An
    item closed before verdicts were kept (no `on_time`) counts as late, as it always did."""
    if item.status == ItemStatus.WAIVED:
        return None
    if item.on_time is None:
        return Verdict.LATE if item.status == ItemStatus.CLOSED else None
    if not item.on_time:
        return Verdict.LATE
    first = item.original_due
    extended = item.judged_due is not None and first is not None and item.judged_due > first
    return Verdict.ON_TIME_EXTENDED if extended else Verdict.ON_TIME


def completion(item: Judged, today: date) -> str:
    """For an item returned to be completed (open again with its verdict kept): "phải hoàn
    thiện" up to its completion deadline, "quá hạn hoàn thiện" after it; "" otherwise."""
    if item.status not in OPEN_STATUSES or item.on_time is None:
        return ""
    return COMPLETION_LATE if today > item.due else TO_COMPLETE


def timeliness_label(item: Judged, today: date) -> str:
    """ "đúng hạn", "đúng hạn (được gia hạn)", "quá hạn", "đúng hạn, phải hoàn thiện",
    "đúng hạn, quá hạn hoàn thiện", ...; "" while the item has no verdict."""
    found = verdict(item)
    if found is None:
        return ""
    return ", ".join(p for p in (VERDICT_LABELS[found], completion(item, today)) if p)
