"""cchc's Prefect flows: a thin shell over the core use cases (usecases.sweep, usecases.lifecycle).

A run serves the communes of the runtime's `City` (a single commune's config is a city of one):

- one opening flow per kind of obligation (`cchc-open-periodic-report`, ...), parameterised by
  obligation and period (`flows.opening_flows`);
- `cchc-sweep`: sweeps every commune, delivers the outbox, publishes the pages and ends in a
  state named by its lateness (`flows.sweep_run`, pages in `flows.status_publishing`);
- `cchc-close`, `cchc-item-changed`, `cchc-open-ad-hoc`: runs about given items
  (`flows.item_flows`).

Tasks take and return plain data; the communes and database come from `runtime()`
(`flows.runtime_state`).

This module is where the deployments' entrypoints name the flows (`entrypoint`,
`flows.prefect_flows.sweep_flow`, `flows.prefect_flows.open_<kind>`, ...): it gathers them
from the modules that define them, so deployments registered by any earlier `cchc deploy` keep
working. Importing it imports Prefect: only commands that run flows import it.
"""

from __future__ import annotations

from flows.item_flows import (
    ADHOC_FLOW,
    CHANGE_WORDS,
    CHANGED_FLOW,
    CLOSE_FLOW,
    close_flow,
    item_changed_flow,
    open_ad_hoc_flow,
)
from flows.opening_flows import (
    FLOW_PREFIX,
    OPENING_FLOWS,
    open_annual_plan,
    open_annual_task,
    open_consolidated_report,
    open_final_summary,
    open_one_off,
    open_periodic_report,
    open_review_plan,
    open_self_inspection,
    open_self_scoring,
    open_survey,
    open_training,
    opening_flow,
    opening_flow_name,
    openings,
)
from flows.runtime_state import (
    Runtime,
    instant,
    release_runtime,
    runtime,
    scope_tags,
    tag_run,
    use_runtime,
)
from flows.sweep_run import SWEEP_FLOW, sweep_flow

__all__ = [
    "ADHOC_FLOW",
    "CHANGED_FLOW",
    "CHANGE_WORDS",
    "CLOSE_FLOW",
    "FLOW_PREFIX",
    "OPENING_FLOWS",
    "SWEEP_FLOW",
    "Runtime",
    "close_flow",
    "entrypoint",
    "instant",
    "item_changed_flow",
    "open_ad_hoc_flow",
    "open_annual_plan",
    "open_annual_task",
    "open_consolidated_report",
    "open_final_summary",
    "open_one_off",
    "open_periodic_report",
    "open_review_plan",
    "open_self_inspection",
    "open_self_scoring",
    "open_survey",
    "open_training",
    "opening_flow",
    "opening_flow_name",
    "openings",
    "release_runtime",
    "runtime",
    "scope_tags",
    "sweep_flow",
    "tag_run",
    "use_runtime",
]


def entrypoint(flow_attr: str) -> str:
    """A module-path entrypoint (Prefect's `EntrypointType.MODULE_PATH`: `package.module.attr`,
    what `Flow.to_deployment(entrypoint_type=MODULE_PATH)` writes): a worker imports the
    installed package, from whatever folder, on whatever machine. `flow_attr` is an attribute
    of this module (`sweep_flow`, `open_<kind>`, ...)."""
    return f"{__name__}.{flow_attr}"
