"""What the office page shows of the items held at go-live (`usecases.golive`): those waiting
for the office's decision, each with its re-open and waive forms, and those the first run
waived itself (a later report covers them), with the reason."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from notifications.commune_views import unit_view
from notifications.phrases import shorten
from schedules.periods import period_label
from schedules.vocabulary import ItemStatus
from usecases.golive import recorded_go_live
from usecases.triage import held_items

if TYPE_CHECKING:
    from cchc.intake.context import IntakeContext


def triage_view(ctx: IntakeContext, communes: list[str], today: date) -> dict:
    """`held`: the items waiting (oldest due first); `waived_at_go_live`: those waived at
    go-live with their reasons; `go_live`: the go-live date of a single commune's page."""
    held, waived = [], []
    go_live = None
    for code in communes:
        plan = ctx.city.known_plan(code)
        if len(communes) == 1:
            go_live = recorded_go_live(plan, ctx.engine)
        for item in held_items(plan, ctx.engine, decided=True):
            row = {
                "item": item,
                "unit": unit_view(plan, item.unit).name,
                "title": shorten(item.title, 110),
                "period": period_label(item.period),
                "plan_due": item.original_due or item.due,
                "reason": item.waived_reason or "",
                "where": plan.commune.name if len(communes) > 1 else "",
            }
            if item.status == ItemStatus.HELD:
                held.append(row)
            elif item.status == ItemStatus.WAIVED and item.step == "waived":
                waived.append(row)
    return {
        "held": held,
        "waived_at_go_live": waived,
        "go_live": go_live,
        "min_due": today.isoformat(),
    }
