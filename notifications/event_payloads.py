"""The events the office's automations hook, as the keyword arguments of Prefect's
`emit_event` (plain data; `flows.artifacts` emits them).

One `cchc.item.<kind>` (`EVENT_KINDS`) per kind and unit per run (not per item, so their
number follows units, like the task runs), with the items in the payload; one
`cchc.mail.failed` per commune and run whose delivery gave up on some mail; one
`cchc.mail.stuck` per commune and sweep while some mail has waited a day or more (it cannot be
built, or the server does not take it); one `cchc.sweep.completed` per sweep that ended well
(what the "sweep missing" automation of `cchc deploy` waits for). The embedded engine adds
`cchc.sweep.skipped` (its clock missed a sweep) and `cchc.config.refused` (a reload refused).
Each of the last four but `cchc.sweep.completed` has an automation that tells the admin
(`flows.deploy_automations`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
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
MAIL_STUCK = "cchc.mail.stuck"
SWEEP_COMPLETED = "cchc.sweep.completed"
SWEEP_SKIPPED = "cchc.sweep.skipped"
CONFIG_REFUSED = "cchc.config.refused"
STUCK_AFTER = timedelta(days=1)
"""A mail still waiting this long after it was queued is stuck (`cchc.mail.stuck`)."""
MAX_LISTED = 50
"""Rows or problems listed in an event's payload at most (the count says how many in all)."""


def mail_failed_event(
    plan: Plan, failed: list[tuple], at: datetime, city: str | None = None
) -> dict[str, Any]:
    """Keyword arguments of `emit_event` for the outbox rows of one commune that failed for good
    in a run: (outbox id, recipient, error) each. `city`: the code of the communes the run
    serves (the commune's own for a single commune), the label automations match."""
    return _outbox_event(MAIL_FAILED, plan, failed, at, city)


def mail_stuck_event(
    plan: Plan, stuck: list[tuple], at: datetime, city: str | None = None
) -> dict[str, Any]:
    """Keyword arguments of `emit_event` for the outbox rows of one commune that still wait a
    day or more after they were queued (a mail that cannot be built, a server that does not
    take it): (outbox id, recipient, last error) each; see `mail_failed_event`."""
    return _outbox_event(MAIL_STUCK, plan, stuck, at, city)


def _outbox_event(
    name: str, plan: Plan, rows: list[tuple], at: datetime, city: str | None
) -> dict[str, Any]:
    commune = plan.commune.code
    return dict(
        event=name,
        occurred=at,
        resource={
            "prefect.resource.id": f"cchc.{commune}.outbox",
            "prefect.resource.name": f"Hộp thư đi — {plan.commune.name}",
            "cchc.commune": commune,
            "cchc.city": city or commune,
        },
        payload={
            "count": len(rows),
            "rows": [
                {"outbox_id": row[0], "recipient": row[1], "error": row[2]}
                for row in rows[:MAX_LISTED]
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


def _engine_resource(city: City, what: str, label: str) -> dict[str, str]:
    """The resource of an event about the engine serving `city` (a commune: its code)."""
    return {
        "prefect.resource.id": f"cchc.{city.code}.{what}",
        "prefect.resource.name": f"{label} — {city.name}",
        "cchc.city": city.code,
    }


def sweep_skipped_event(city: City, scheduled: datetime, at: datetime) -> dict[str, Any]:
    """Keyword arguments of `emit_event` when the engine's clock missed the sweep of
    `scheduled` (the machine asleep, the engine busy past the grace time): no run was made, so
    no "sweep missing" window opened either."""
    return dict(
        event=SWEEP_SKIPPED,
        occurred=at,
        resource=_engine_resource(city, "sweep", "Rà soát"),
        payload={"scheduled": scheduled.isoformat()},
    )


def config_refused_event(city: City, problems: list[str], at: datetime) -> dict[str, Any]:
    """Keyword arguments of `emit_event` when the engine refused to reload the config of `city`
    (the one it keeps running): the problems as `cchc check` prints them (FILE:LINE: message)."""
    return dict(
        event=CONFIG_REFUSED,
        occurred=at,
        resource=_engine_resource(city, "config", "Cấu hình"),
        payload={"count": len(problems), "problems": [str(p) for p in problems[:MAX_LISTED]]},
    )
