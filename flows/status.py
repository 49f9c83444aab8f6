"""Telling Prefect that items changed outside a flow run: a unit handed in through the intake,
the standing office accepted or returned a version, an admin waived or returned an item on the
command line. One `cchc-item-changed` run emits the `cchc.item.<kind>` event and refreshes the
status tables (`flows.prefect_flows.item_changed_flow`), so the UI does not wait for the next
morning's sweep.

Importing this module does not import Prefect: that happens only when a server is configured
(PREFECT_API_URL) and an item changed. Without a server it is a no-op: a temporary server would
cost seconds per call and record nothing anyone sees. The intake calls it after the response
is sent (a background task), so an upload never waits for Prefect.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Engine

from cchc.runtime.control import prefect_server_configured
from cchc.runtime.settings import Settings
from schedules.city import City
from schedules.plan import Plan
from schedules.vocabulary import ItemChange

log = logging.getLogger("cchc.status")


def item_changed(
    plan: Plan,
    engine: Engine,
    settings: Settings,
    kind: ItemChange,
    item_ids: Iterable[int],
    at: datetime,
    city: City | None = None,
) -> bool:
    """Publish a change (`kind`: closed, accepted, returned, waived) of `item_ids`, items of
    `plan`'s commune, as of `at`; returns whether a run was made. `city`: the communes the
    process serves, when a city's (the run's name and tags then carry the commune). Never
    raises: the change itself is already committed, and the status pages are a view of it (the
    next sweep rewrites them anyway)."""
    ids = [int(i) for i in item_ids]
    if not ids or not prefect_server_configured():
        return False
    try:
        from flows import prefect_flows

        serving = city if city is not None and city.knows(plan.commune.code) else City.of(plan)
        prefect_flows.use_runtime(serving, engine, settings)
        prefect_flows.item_changed_flow(kind=kind, item_ids=ids, at=at)
    except Exception as exc:  # noqa: BLE001  (see the docstring)
        log.warning("Prefect not told that items %s were %s: %r", ids, kind, exc)
        return False
    return True
