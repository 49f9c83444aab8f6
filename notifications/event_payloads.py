"""The events the office's automations hook, as the keyword arguments of Prefect's
`emit_event` (plain data; `flows.artifacts` emits them).

One `cchc.item.<kind>` (`EVENT_KINDS`) per kind and unit per run (not per item, so their
number follows units, like the task runs), with the items in the payload; one
`cchc.mail.failed` per commune and run whose delivery gave up on some mail; one
`cchc.sweep.completed` per sweep that ended well (what the "sweep missing" automation of
`cchc deploy` waits for).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from notifications.status_pages import ItemLike, obligation_title, unit_name
from schedules.city import City
from schedules.plan import Plan
from schedules.vocabulary import ItemChange

EVENT_KINDS = tuple(ItemChange)
"""Item events (`cchc.item.<kind>`); besides them, `cchc.mail.failed` when mail fails for good.
The sweep emits the first three; a hand-in (closed), the office's review (accepted, returned)
and a waiver come from the intake and the command line (`flows.status`)."""

MAIL_FAILED = "cchc.mail.failed"
SWEEP_COMPLETED = "cchc.sweep.completed"


def mail_failed_event(
    plan: Plan, failed: list[tuple], at: datetime, city: str | None = None
) -> dict[str, Any]:
    """Keyword arguments of `emit_event` for the outbox rows of one commune that failed for good
    in a run: (outbox id, recipient, error) each. `city`: the code of the communes the run
    serves (the commune's own for a single commune), the label automations match."""
    commune = plan.commune.code
    return dict(
        event=MAIL_FAILED,
        occurred=at,
        resource={
            "prefect.resource.id": f"cchc.{commune}.outbox",
            "prefect.resource.name": f"Hộp thư đi — {plan.commune.name}",
            "cchc.commune": commune,
            "cchc.city": city or commune,
        },
        payload={
            "count": len(failed),
            "rows": [
                {"outbox_id": row[0], "recipient": row[1], "error": row[2]}
                for row in failed
                if len(row) >= 3
            ],
        },
    )


def item_events(
    plan: Plan, kind: ItemChange, items: Iterable[ItemLike], at: datetime
) -> list[dict[str, Any]]:
    """Keyword arguments of `emit_event`: one event per unit for the items that reached `kind`.

    The resource is the unit (`cchc.<commune>.unit.<CODE>`), each obligation is a related
    resource, the payload lists the items. Automations match on the event name and resource."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown event kind {kind!r}")
    commune = plan.commune.code
    by_unit: dict[str, list[ItemLike]] = defaultdict(list)
    for item in items:
        by_unit[item.unit].append(item)
    events = []
    for unit, group in by_unit.items():
        obligations = list(dict.fromkeys(i.obligation for i in group))
        events.append(
            dict(
                event=f"cchc.item.{kind}",
                occurred=at,
                resource={
                    "prefect.resource.id": f"cchc.{commune}.unit.{unit}",
                    "prefect.resource.name": unit_name(plan, unit),
                    "cchc.commune": commune,
                    "cchc.unit": unit,
                },
                related=[
                    {
                        "prefect.resource.id": f"cchc.{commune}.obligation.{ob}",
                        "prefect.resource.role": "obligation",
                        "prefect.resource.name": obligation_title(plan, ob),
                    }
                    for ob in obligations
                ],
                payload={
                    "count": len(group),
                    "items": [
                        {
                            "id": i.id,
                            "obligation": i.obligation,
                            "period": i.period,
                            "due": i.due.isoformat(),
                            "status": i.status,
                            "step": i.step,
                            "escalation_level": i.escalation_level,
                        }
                        for i in group
                    ],
                },
            )
        )
    return events


def sweep_completed_event(city: City, summary: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments of `emit_event` when a sweep ended well. It occurs *now* (not at the
    sweep's instant, which is in the summary): the "sweep missing" automation counts it in the
    window that the run's own start opened."""
    return dict(
        event=SWEEP_COMPLETED,
        resource={
            "prefect.resource.id": f"cchc.{city.code}.sweep",
            "prefect.resource.name": f"Rà soát — {city.name if city.is_city else city.code}",
            "cchc.city": city.code,
        },
        payload={k: summary.get(k) for k in ("at", "opened", "advanced", "queued", "open", "late")},
    )
