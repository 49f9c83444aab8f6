"""What the pages show of one item: its handed-in versions (`version_view`), where the reports
a consolidated report sums up stand (`consolidated_sources`), the coordinating units' inputs,
and the values of a unit's item and receipt pages (`item_context`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from cchc.intake import filetypes
from cchc.intake.work_views import directive_of, extension_state, file_view
from models import store
from models.db import transaction
from models.tables import Deliverable, WorkItem, saved_id
from notifications.commune_views import unit_view
from notifications.indicator_views import indicators_view
from notifications.item_view import item_view
from notifications.phrases import file_size
from notifications.signatures import is_signed, signature_text
from notifications.source_states import source_states
from schedules.dates import local_date, vn_datetime
from schedules.indicators import owed, period_year, shown, target_words
from schedules.item_standing import standing
from schedules.periods import period_label
from schedules.vocabulary import DeliverableStatus, ItemStatus
from usecases.indicator_report import indicator_rows
from usecases.indicator_values import frozen, owed_by
from usecases.review import contributions, versions

if TYPE_CHECKING:
    from cchc.intake.context import IntakeContext
    from schedules.plan import Plan

DELIVERABLE_LABELS: dict[str, str] = {
    DeliverableStatus.RECEIVED: "Đã nhận, chờ xem xét",
    DeliverableStatus.ACCEPTED: "Đã chấp nhận",
    DeliverableStatus.RETURNED: "Bị trả lại",
}


def status_label(plan: Plan, item: WorkItem, at: datetime) -> str:
    """The item's status at `at`, as every surface words it (`schedules.item_standing.standing`)."""
    return standing(item, local_date(at, plan.zone), plan.calendar).label


def version_view(plan: Plan, rows: list[Deliverable]) -> dict:
    """One handed-in version (`rows`: its parts, the files or the recorded document)."""
    first = rows[0]
    return {
        "version": first.version,
        "received_at": first.received_at,
        "status": first.status,
        "status_label": DELIVERABLE_LABELS.get(first.status, first.status),
        "on_time": first.on_time,
        "note": first.note,
        "review_note": first.review_note,
        "reviewed_at": first.reviewed_at,
        "doc": first.document,  # received as an official document: no file
        "files": [
            {
                "id": r.id,
                "name": r.original_name,
                "size": r.size,
                "sha256": r.sha256,
                "type": filetypes.TYPES[r.file_type].label
                if r.file_type in filetypes.TYPES
                else "",
                "signature": signature_text(r.signature, plan.zone),
                "signed": is_signed(r.signature),
            }
            for r in rows
            if not r.document
        ],
    }


def consolidated_sources(
    ctx: IntakeContext, plan: Plan, item: WorkItem, today: date
) -> dict | None:
    """For a consolidated report's item: where the reports it sums up (the units', or for the
    city office's report the communes') stand today."""
    ob = plan.obligations.get(item.obligation)
    if ob is None or not ob.consolidates:
        return None
    with transaction(ctx.engine) as session:
        sources = store.consolidated_sources(session, plan, item)
    return source_states(plan, item, sources, today)


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def owed_fields(ctx: IntakeContext, plan: Plan, item: WorkItem) -> dict | None:
    """The indicators the item owes, as the unit's page shows their fields: the value in force,
    the unit's previous period's beside it, the target; `frozen` once the office accepted the
    report. None when the item owes none."""
    if item.status == ItemStatus.WAIVED or not owed(plan, item.obligation, item.unit):
        return None  # most items: no query; a waived item takes no values
    with transaction(ctx.engine) as session:
        owing = owed_by(session, plan, item)
        is_frozen = frozen(session, saved_id(item))
    year = period_year(item.period)
    return {
        "frozen": is_frozen,
        "rows": [
            {
                "id": o.indicator.id,
                "name": o.indicator.name,
                "ref": o.indicator.ref,
                "measure": o.indicator.measure,
                "numerator_label": o.indicator.numerator,
                "denominator_label": o.indicator.denominator,
                "target": target_words(o.indicator, year),
                "numerator": _number(o.current.numerator) if o.current else "",
                "denominator": _number(o.current.denominator) if o.current else "",
                "value": shown(o.indicator, o.current.value) if o.current else "",
                "previous": shown(o.indicator, o.previous.value) if o.previous else "",
                "previous_period": period_label(o.previous_period) if o.previous_period else "",
                "previous_figure": (
                    f"{_number(o.previous.numerator)}/{_number(o.previous.denominator)}"
                    if o.previous and o.indicator.measure == "ratio"
                    else ""
                ),
            }
            for o in owing
        ],
    }


def period_indicators(ctx: IntakeContext, plan: Plan, item: WorkItem) -> dict | None:
    """For a consolidated report's item: its period's indicators for the commune and per unit
    against their targets, as its mails show them."""
    ob = plan.obligations.get(item.obligation)
    if ob is None or not ob.consolidates or not plan.indicators:
        return None
    with transaction(ctx.engine) as session:
        rows = indicator_rows(plan, session, None, [item.period])
    return indicators_view(rows)


def item_context(ctx: IntakeContext, plan: Plan, item: WorkItem, at: datetime) -> dict:
    """What the item and receipt pages show: the item as of `at` and its handed-in versions."""
    today = local_date(at, plan.zone)
    found = versions(ctx.engine, saved_id(item))
    directive = directive_of(ctx, plan, item)
    return {
        "item": item,
        "view": item_view(plan, item, today, directive),
        "directive_file": file_view(directive) if directive else None,
        "extensions": extension_state(ctx, plan, item, at),
        "sources": consolidated_sources(ctx, plan, item, today),
        "indicators": period_indicators(ctx, plan, item),
        "owed": owed_fields(ctx, plan, item),
        "contributions": [
            {
                "id": c.id,
                "unit": unit_view(plan, c.unit).name,
                "name": c.original_name,
                "size": file_size(c.size),
                "received_at": vn_datetime(c.received_at, plan.zone),
            }
            for c in contributions(ctx.engine, saved_id(item))
        ],
        "unit": plan.units.get(item.unit),
        "versions": [version_view(plan, rows) for _, rows in sorted(found.items(), reverse=True)],
        "today": today,
    }


def contributions_of(ctx: IntakeContext, plan: Plan, item_id: int, unit: str) -> list[dict]:
    """What a coordinating unit has sent for the item so far (its own page lists them)."""
    return [
        {
            "name": c.original_name,
            "size": file_size(c.size),
            "received_at": vn_datetime(c.received_at, plan.zone),
        }
        for c in contributions(ctx.engine, item_id)
        if c.unit == unit
    ]
