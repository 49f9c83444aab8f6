"""What an extension mail says (gia hạn): the unit's request, the grant, the refusal, in plain
values for the templates (`extension` in their context)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING

from schedules.dates import vn_date, vn_datetime
from schedules.step_names import parse_step
from schedules.vocabulary import StepKind

if TYPE_CHECKING:
    from models.tables import Extension, WorkItem

STATES = {
    StepKind.REQUESTED: "requested",
    StepKind.EXTENDED: "granted",
    StepKind.REFUSED: "refused",
}


def _day(value: date | None) -> str:
    return vn_date(value) if value else ""


def extension_context(
    item: WorkItem, step: str, extensions: Mapping[tuple[int, int], Extension]
) -> dict:
    """`state` (requested, granted, refused), the unit's `reason` and `proposed_due`, when it
    asked (`requested_at`), the office's `decision` (its reason), the due date before a grant
    (`previous_due`), the one it set (`new_due`), the first one (`original_due`), and
    `by_request` (a grant answering the unit's request, not the office's own)."""
    name = parse_step(step)
    number = name.number or 0
    found = extensions.get((item.id, number)) if item.id is not None else None
    requested_at: datetime | None = found.requested_at if found else None
    return {
        "state": STATES.get(name.kind, "granted"),
        "number": number,
        "reason": found.reason or "" if found else "",
        "proposed_due": _day(found.proposed_due) if found else "",
        "requested_at": vn_datetime(requested_at) if requested_at else "",
        "decision": found.decision_note or "" if found else "",
        "previous_due": _day(found.previous_due) if found else "",
        "new_due": _day(found.granted_due) if found else vn_date(item.due),
        "original_due": _day(item.original_due or item.due),
        "by_request": bool(found and found.requested_by),
    }
