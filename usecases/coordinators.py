"""Who coordinates an item (đơn vị phối hợp): the obligation's coordinating units for a plan's
item, the directive's for a directive's item."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from models.tables import Directive, WorkItem
from schedules.plan import Plan


def directive_coordinators(
    plan: Plan, leads: Sequence[str], coordinators: Sequence[str], unit: str
) -> list[str]:
    """The units a directive asks for inputs to `unit`'s item: its coordinators, ALL expanded,
    but its lead units (each owes its own product)."""
    skip = set(leads) | {unit}
    return [c for c in plan.expand_units(list(coordinators)) if c not in skip]


def item_coordinators(session: Session, plan: Plan, item: WorkItem) -> list[str]:
    """The coordinating units of `item` (codes)."""
    if item.directive_id is None:
        return plan.coordinating_units(item.obligation, item.unit)
    directive = session.get(Directive, item.directive_id)
    if directive is None:
        return []
    return directive_coordinators(plan, directive.units, directive.coordinators, item.unit)
