"""`cchc deploy`: register cchc's flows as deployments on a Prefect server, from the config.

What is wanted, and how the server differs from it, is `flows.deploy_plan` (one deployment per
scheduled obligation, one for the sweep, one per ad hoc obligation, whatever the number of
communes). All go into a process work pool that `prefect worker start` serves. Besides them, two
automations watch the runs (`flows.deploy_automations`).

Beyond one machine: the deployments use module-path entrypoints (`flows.prefect_flows.<flow>`)
and record no folder, so a worker is `pip install` of cchc plus its environment: PREFECT_API_URL,
CCHC_DATABASE_URL, CCHC_SECRET, CCHC_PUBLIC_URL, and the config either as a folder (CCHC_CONFIG:
a shared mount, or a copy) or from the database (CCHC_CONFIG_SOURCE=database: the snapshot the
last `cchc deploy` or `cchc init-db` applied). `--folder` keeps the one-machine layout (the
deploying folder and its config's absolute path recorded in each deployment).

Idempotent: the wanted deployments are compared with those on the server (tagged with
`scope_tags`: `cchc` and `commune:<code>` or `city:<code>`); only new or changed ones are written
(writing one replaces its future scheduled runs), those of obligations gone from the config are
paused (or deleted), the automations are created or updated, and the difference is returned for
printing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags
from prefect.exceptions import ObjectNotFound

from cchc.runtime.settings import Settings
from flows.deploy_automations import sync_automations
from flows.deploy_plan import (
    DeployDiff,
    DeploymentSpec,
    configured_names,
    differences,
    tags_for,
    wanted,
)
from schedules.city import City
from schedules.plan import Plan
from usecases.errors import UserError

DEFAULT_POOL = "cchc"
PRUNE_MODES = ("pause", "delete")


@dataclass(frozen=True)
class DeployOptions:
    """How `cchc deploy` deploys (its command-line options)."""

    pool: str = DEFAULT_POOL
    prune: str = "pause"
    """"pause" or "delete" the deployments of obligations gone from the config."""
    dry_run: bool = False
    working_dir: Path | None = None
    """Where the workers run the flows and find the config (`cchc deploy --folder`: the
    deploying folder's absolute paths are recorded); None: nothing machine-specific, each
    worker's own environment says where the config is."""
    now: datetime | None = None
    """The instant the next runs are counted from (default: now)."""


def deploy(
    city: City | Plan,
    settings: Settings,
    *,
    pool: str = DEFAULT_POOL,
    prune: str = "pause",
    dry_run: bool = False,
    working_dir: Path | None = None,
    now: datetime | None = None,
) -> DeployDiff:
    options = DeployOptions(pool, prune, dry_run, working_dir, now)
    return asyncio.run(adeploy(city, settings, options))


async def adeploy(
    city: City | Plan, settings: Settings, options: DeployOptions = DeployOptions()
) -> DeployDiff:
    """Bring the server's cchc deployments of these communes to what the config asks (a single
    commune's `Plan` is taken as a city of one).

    1. make sure the process work pool exists (with the process worker's default template);
    2. read the communes' deployments on the server and compare each with the wanted one;
    3. create the missing, rewrite the changed (resuming any paused one), leave the rest;
    4. pause (or delete) those whose obligation left the config;
    5. create or update the automations (`flows.deploy_automations`).
    """
    if options.prune not in PRUNE_MODES:
        raise UserError(f"--prune must be one of {', '.join(PRUNE_MODES)}")
    from prefect.settings import get_current_settings

    if not get_current_settings().api.url:
        raise UserError("set PREFECT_API_URL to the Prefect server to deploy to")
    if isinstance(city, Plan):
        city = City.of(city)
    try:
        specs = wanted(city, settings, options.working_dir)
    except ValueError as exc:  # a rule the server would refuse, or one id of two kinds
        raise UserError(str(exc)) from exc
    now = options.now or datetime.now(UTC)
    async with get_client() as client:
        diff = DeployDiff(str(client.api_url), options.pool, dry_run=options.dry_run)
        diff.configured = configured_names(city)
        await _ensure_pool(client, options)
        existing = await _existing(client, city)
        await _write_changed(client, specs, existing, diff, now)
        await _prune(client, {s.name for s in specs}, existing, diff, options.prune)
        await sync_automations(client, city, diff)
    return diff


async def _ensure_pool(client, options: DeployOptions) -> None:
    try:
        await client.read_work_pool(options.pool)
    except ObjectNotFound:
        if not options.dry_run:
            await _create_pool(client, options.pool)


async def _create_pool(client, pool: str) -> None:
    from prefect.workers.process import ProcessWorker

    await client.create_work_pool(
        WorkPoolCreate(
            name=pool,
            type="process",
            base_job_template=ProcessWorker.get_default_base_job_template(),
            description="cchc: opening runs and sweeps (process workers)",
        )
    )


async def _existing(client, city: City) -> dict:
    """The communes' deployments on the server, by name."""
    tags = DeploymentFilterTags(all_=list(tags_for(city)))
    found = await client.read_deployments(deployment_filter=DeploymentFilter(tags=tags))
    return {d.name: d for d in found}


async def _write_changed(
    client, specs: list[DeploymentSpec], existing: dict, diff: DeployDiff, now: datetime
) -> None:
    """Create the missing deployments, rewrite those that differ, count the rest unchanged."""
    flow_names = {}
    for deployment in existing.values():
        if deployment.flow_id not in flow_names:
            flow_names[deployment.flow_id] = (await client.read_flow(deployment.flow_id)).name
    for spec in specs:
        diff.next_at[spec.name] = spec.next_instant(now)
        current = existing.get(spec.name)
        fields = (
            differences(spec, current, flow_names[current.flow_id], diff.pool)
            if current is not None
            else None
        )
        if fields == []:
            diff.unchanged.append(spec.name)
            continue
        if fields is None:
            diff.added.append(spec.name)
        else:
            diff.changed.append((spec.name, fields))
        if diff.dry_run:
            continue
        if current is not None and fields and "flow" in fields:
            # A deployment's name is unique per flow: under the new flow it would be a second
            # deployment, and the old one would keep firing.
            await client.delete_deployment(current.id)
        await _write(client, spec, diff.pool)


async def _prune(client, names: set[str], existing: dict, diff: DeployDiff, prune: str) -> None:
    """Pause (or delete) the deployments whose obligation left the config."""
    for name, deployment in sorted(existing.items()):
        if name in names:
            continue
        if prune == "pause" and deployment.paused:
            diff.unchanged.append(name)
            continue
        diff.pruned.append((name, "paused" if prune == "pause" else "deleted"))
        if diff.dry_run:
            continue
        if prune == "pause":
            await client.pause_deployment(deployment.id)
        else:
            await client.delete_deployment(deployment.id)


async def _write(client, spec: DeploymentSpec, pool: str) -> None:
    flow_id = await client.create_flow_from_name(spec.flow_name)
    await client.create_deployment(
        flow_id=flow_id,
        name=spec.name,
        work_pool_name=pool,
        entrypoint=spec.entrypoint,
        parameters=spec.parameters,
        description=spec.description,
        tags=list(spec.tags),
        job_variables=spec.job_variables,
        schedules=spec.schedule_create(),
        parameter_openapi_schema=spec.parameter_schema(),
        paused=False,
    )
