"""What the pages show of the office's daily work beyond the items themselves: the directives
(văn bản chỉ đạo) the office recorded, with their items, and the choices of its directive form;
the extension requests (gia hạn) waiting for the office's decision; on a unit's item page, the
directive the item acts on and the item's requests and grants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from models.tables import Directive, Extension, WorkItem, saved_id
from notifications.commune_views import unit_view
from notifications.phrases import file_size, shorten
from schedules.dates import end_of_day, local_date, vn_date, vn_datetime
from schedules.documents import document_reference
from schedules.item_standing import standing
from schedules.timeliness import timeliness_label
from schedules.vocabulary import OPEN_STATUSES, ExtensionStatus
from usecases.directives import directive_items, get_directive, list_directives
from usecases.extensions import extensions_of, pending_requests

if TYPE_CHECKING:
    from cchc.intake.context import IntakeContext
    from schedules.plan import Plan

MAX_DIRECTIVES = 30
"""Directives the office page lists (newest first)."""
EXTENSION_WORDS = {
    ExtensionStatus.PENDING: "đang chờ cơ quan thường trực xem xét",
    ExtensionStatus.GRANTED: "đã được gia hạn",
    ExtensionStatus.REFUSED: "không được gia hạn",
}


def directive_of(ctx: IntakeContext, plan: Plan, item: WorkItem) -> Directive | None:
    """The directive `item` acts on; None for the plan's items."""
    if item.directive_id is None:
        return None
    return get_directive(plan, ctx.engine, item.directive_id)


def file_view(directive: Directive) -> dict | None:
    """The directive's file as a page names it; None when none was kept."""
    if not directive.file_path or not directive.file_name:
        return None
    return {"name": directive.file_name, "size": file_size(directive.file_size or 0)}


# ----- the office page ----------------------------------------------------------------------


def directive_form(ctx: IntakeContext, commune: str | None, today: date) -> dict | None:
    """The choices of the directive form: the commune it records for and its units; None when
    the page does not show a single commune (the city's office picks one first)."""
    plan = ctx.city.plan_of(commune) if commune else None
    if plan is None:
        return None
    return {
        "commune": commune,
        "units": {code: unit.name for code, unit in plan.units.items()},
        "today": today.isoformat(),
    }


def office_directives(
    ctx: IntakeContext, commune: str | None, year: int | None, today: date
) -> list[dict]:
    """The directives of `commune` (of `year` by their date, if given), newest first, each with
    its items where they stand today; [] when the page shows several communes."""
    plan = ctx.city.plan_of(commune) if commune else None
    if plan is None:
        return []
    found = list_directives(plan, ctx.engine, year)[:MAX_DIRECTIVES]
    return [_directive_row(ctx, plan, d, today) for d in found]


def _directive_row(ctx: IntakeContext, plan: Plan, directive: Directive, today: date) -> dict:
    assert directive.id is not None  # read from the database
    items = directive_items(ctx.engine, directive.id)
    return {
        "id": directive.id,
        "number": directive.number,
        "reference": document_reference(directive.number, directive.issued_on, directive.issuer),
        "subject": shorten(directive.subject, 160),
        "due": directive.due,
        "file": file_view(directive),
        "coordinators": [unit_view(plan, code).name for code in directive.coordinators],
        "tasked": [
            {
                "id": item.id,
                "unit": unit_view(plan, item.unit).name,
                "due": item.due,
                "state": standing(item, today, plan.calendar).label,
                "timeliness": timeliness_label(item, today),
            }
            for item in items
        ],
    }


def extension_requests(ctx: IntakeContext, communes: list[str], today: date) -> list[dict]:
    """The requests for more time waiting for the office's decision, oldest first, each with
    the defaults of its grant form."""
    rows = []
    for code in communes:
        plan = ctx.city.known_plan(code)
        for request, item in pending_requests(plan, ctx.engine):
            rows.append(
                {
                    "id": request.id,
                    "item": item,
                    "unit": unit_view(plan, item.unit).name,
                    "title": shorten(item.title, 110),
                    "state": standing(item, today, plan.calendar).label,
                    "proposed": request.proposed_due,
                    "reason": request.reason,
                    "requested_at": request.requested_at,
                    "min_until": max(item.due + timedelta(days=1), today).isoformat(),
                    "where": plan.commune.name if len(communes) > 1 else "",
                }
            )
    return sorted(rows, key=lambda r: (r["requested_at"], r["id"]))


# ----- a unit's item page -------------------------------------------------------------------


@dataclass(frozen=True)
class ExtensionState:
    """An item's extensions as its unit's page shows them."""

    history: list[dict]
    """Every request and grant, oldest first."""
    waiting: bool
    """A request waits for the office's decision."""
    may_ask: bool
    """The page offers the request form: the item is still owed and its due date has not
    passed, and no request is waiting."""
    min_until: str
    """The earliest date the form takes (the day after the due date)."""


def extension_state(ctx: IntakeContext, plan: Plan, item: WorkItem, at: datetime) -> ExtensionState:
    """What the unit's page shows of the item's extensions, as of `at`."""
    rows = extensions_of(ctx.engine, saved_id(item))
    waiting = any(r.status == ExtensionStatus.PENDING for r in rows)
    owed = item.status in OPEN_STATUSES and at < end_of_day(item.due, plan.zone)
    return ExtensionState(
        history=[_extension_view(plan, r) for r in rows],
        waiting=waiting,
        may_ask=owed and not waiting,
        min_until=max(item.due + timedelta(days=1), local_date(at, plan.zone)).isoformat(),
    )


def _extension_view(plan: Plan, row: Extension) -> dict:
    asked = row.requested_by is not None
    return {
        "seq": row.seq,
        "status": row.status,
        "words": EXTENSION_WORDS.get(ExtensionStatus(row.status), row.status) if row.status else "",
        "asked": asked,
        "requested_at": vn_datetime(row.requested_at, plan.zone) if row.requested_at else "",
        "proposed": vn_date(row.proposed_due) if row.proposed_due else "",
        "reason": row.reason or "",
        "granted": vn_date(row.granted_due) if row.granted_due else "",
        "previous": vn_date(row.previous_due) if row.previous_due else "",
        "note": row.decision_note or "",
    }
