"""The calendar event (.ics) of an item's deadline, carried by its opening and returned mails.

`calendar_entry` states what is due and when, with an alarm on the first reminder's day; the
event's description is the item as the mails' `_item.txt.j2` lays it out.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from notifications.ics import CalendarEntry
from notifications.item_view import ItemView
from notifications.phrases import shorten
from notifications.render import Renderer
from schedules.dates import vn_date
from schedules.plan import Plan
from schedules.vocabulary import StepKind

if TYPE_CHECKING:
    from models.tables import WorkItem


def calendar_entry(
    plan: Plan,
    renderer: Renderer,
    item: WorkItem,
    view: ItemView,
    commune: dict,
    sequence: int = 0,
) -> CalendarEntry:
    """`item`'s event; `view` and `commune` as the notice it comes with states them (the
    item's view and the commune of `common_context` on the day it opened)."""
    steps = plan.timeline(item.obligation, item.due, item.opened_at)
    first = next((s for s in steps if s.kind == StepKind.REMINDER), None)
    first = first or next((s for s in steps if s.kind == StepKind.DUE), None)
    # The event says what is due and when: not "còn 10 ngày làm việc", which a calendar
    # would show unchanged every day after; nor the list of the plan's tasks a report
    # covers, which stays in the mail (a calendar shows the description in a pop-up).
    details = renderer.template("_item.txt.j2").render(
        item=replace(view, contents=(), countdown=""),
        commune=commune,
        sources=None,
        indicators=None,
        kind="",
    )
    # An item opened past its due date: the event is its fresh deadline.
    due = plan.catch_up_deadline(item.obligation, item.due, item.opened_at) or item.due
    return CalendarEntry(
        uid=f"item-{item.id}@{plan.commune.code}.cchc",
        due=due,
        summary=f"Hạn nộp: {shorten(item.title, 70)} ({view.unit.name})",
        description=details.strip(),
        alarm_at=first.at if first and due == item.due else None,
        alarm_text=f"Nhắc hạn nộp ngày {vn_date(due)}: {shorten(item.title, 70)}",
        sequence=sequence,
    )
