"""`cchc deploy`: register cchc's flows as deployments on a Prefect server, from the plan.

One deployment per scheduled obligation (its kind's opening flow, `{"obligation": id}`, the
obligation's opening instants as an RRule schedule in the commune's zone), one for the sweep
(every working-day morning), one per ad hoc obligation (no schedule: run from the UI with a unit
and a due date). All go into a process work pool that `prefect worker start` serves.

Idempotent: the wanted deployments are compared with those on the server (tagged `cchc` and
`commune:<code>`); only new or changed ones are written (writing one replaces its future
scheduled runs), those of obligations gone from the config are paused (or deleted), and the
difference is returned for printing. The schedules' text comes from schedules.clock, like the
embedded engine's triggers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import DeploymentScheduleCreate, WorkPoolCreate
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags
from prefect.client.schemas.schedules import RRuleSchedule
from prefect.exceptions import ObjectNotFound
from prefect.utilities.callables import parameter_schema

from flows import prefect_flows
from flows.settings import Settings
from schedules.clock import SWEEP, ClockSchedule, plan_schedules
from schedules.dates import vn_datetime
from schedules.plan import Plan
from usecases.errors import UserError

DEFAULT_POOL = "cchc"
PRUNE_MODES = ("pause", "delete")


@dataclass(frozen=True)
class DeploymentSpec:
    """What one deployment should be, in the server's own terms."""

    name: str
    flow_name: str
    flow_attr: str
    parameters: dict[str, Any]
    description: str
    tags: tuple[str, ...]
    job_variables: dict[str, Any]
    schedule: ClockSchedule | None = None

    @property
    def entrypoint(self) -> str:
        return prefect_flows.entrypoint(self.flow_attr)

    def schedule_create(self) -> list[DeploymentScheduleCreate]:
        if self.schedule is None:
            return []
        rule = RRuleSchedule(rrule=self.schedule.rule, timezone=self.schedule.timezone)
        return [DeploymentScheduleCreate(schedule=rule, active=True, slug=self.schedule.slug)]

    def next_instant(self, now: datetime) -> datetime | None:
        if self.schedule is None:
            return None
        found = self.schedule.instants(now, now + timedelta(days=6 * 366))
        return found[0] if found else None


def tags_for(plan: Plan) -> tuple[str, ...]:
    return ("cchc", f"commune:{plan.commune.code}")


def deployment_name(plan: Plan, slug: str) -> str:
    return f"{plan.commune.code}-{slug}"


def wanted(plan: Plan, settings: Settings, working_dir: Path) -> list[DeploymentSpec]:
    """The deployments the plan asks for, sweep first."""
    job_variables = {
        "working_dir": str(working_dir.resolve()),
        "env": {"CCHC_CONFIG": str(Path(settings.config_dir).resolve())},
    }
    tags = tags_for(plan)
    specs = []
    for schedule in plan_schedules(plan):
        if schedule.flow == SWEEP:
            specs.append(
                DeploymentSpec(
                    deployment_name(plan, SWEEP),
                    prefect_flows.SWEEP_FLOW,
                    "sweep_flow",
                    {},
                    f"Rà soát mỗi sáng ngày làm việc lúc {plan.commune.sweep_time:%H:%M} — "
                    f"{plan.commune.name}",
                    tags,
                    job_variables,
                    schedule,
                )
            )
            continue
        ob = plan.obligations[schedule.slug]
        specs.append(
            DeploymentSpec(
                deployment_name(plan, schedule.slug),
                prefect_flows.opening_flow_name(ob.kind),
                f"open_{ob.kind}",
                dict(schedule.parameters),
                f"{ob.title} ({ob.ref}) — mở việc vào các ngày mở kỳ lúc "
                f"{plan.commune.sweep_time:%H:%M}",
                tags,
                job_variables,
                schedule,
            )
        )
    for oid, ob in plan.obligations.items():
        if ob.kind == "ad_hoc":
            specs.append(
                DeploymentSpec(
                    deployment_name(plan, oid),
                    prefect_flows.ADHOC_FLOW,
                    "open_ad_hoc_flow",
                    {"obligation": oid},
                    f"{ob.title} — chạy thủ công: chọn đơn vị (unit) và hạn (due)",
                    tags,
                    job_variables,
                )
            )
    return specs


@dataclass
class DeployDiff:
    server: str
    pool: str
    added: list[str] = field(default_factory=list)
    changed: list[tuple[str, list[str]]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    pruned: list[tuple[str, str]] = field(default_factory=list)
    """(name, "paused" | "deleted")."""
    next_at: dict[str, datetime | None] = field(default_factory=dict)
    dry_run: bool = False

    def lines(self) -> list[str]:
        head = "would change" if self.dry_run else "deployments"
        out = [f"Prefect {self.server}, work pool '{self.pool}': {head}"]
        for name in self.added:
            out.append(f"+ {name}{self._next(name)}")
        for name, fields in self.changed:
            out.append(f"~ {name} ({', '.join(fields)}){self._next(name)}")
        for name, how in self.pruned:
            out.append(f"- {name} ({how}: no longer in the config)")
        out.append(
            f"= {len(self.unchanged)} unchanged; {len(self.added)} added, "
            f"{len(self.changed)} changed, {len(self.pruned)} removed"
        )
        return out

    def _next(self, name: str) -> str:
        at = self.next_at.get(name)
        return f"  next {vn_datetime(at)}" if at else ""


def deploy(
    plan: Plan,
    settings: Settings,
    *,
    pool: str = DEFAULT_POOL,
    prune: str = "pause",
    dry_run: bool = False,
    working_dir: Path | None = None,
    now: datetime | None = None,
) -> DeployDiff:
    return asyncio.run(
        adeploy(
            plan,
            settings,
            pool=pool,
            prune=prune,
            dry_run=dry_run,
            working_dir=working_dir,
            now=now,
        )
    )


async def adeploy(
    plan: Plan,
    settings: Settings,
    *,
    pool: str = DEFAULT_POOL,
    prune: str = "pause",
    dry_run: bool = False,
    working_dir: Path | None = None,
    now: datetime | None = None,
) -> DeployDiff:
    """Bring the server's cchc deployments of this commune to what the plan asks.

    1. make sure the process work pool exists (with the process worker's default template);
    2. read the commune's deployments on the server and compare each with the wanted one;
    3. create the missing, rewrite the changed (resuming any paused one), leave the rest;
    4. pause (or delete) those whose obligation left the config.
    """
    if prune not in PRUNE_MODES:
        raise UserError(f"--prune must be one of {', '.join(PRUNE_MODES)}")
    from prefect.settings import get_current_settings

    if not get_current_settings().api.url:
        raise UserError("set PREFECT_API_URL to the Prefect server to deploy to")
    specs = wanted(plan, settings, working_dir or Path.cwd())
    now = now or datetime.now(UTC)
    async with get_client() as client:
        diff = DeployDiff(str(client.api_url), pool, dry_run=dry_run)
        try:
            await client.read_work_pool(pool)
        except ObjectNotFound:
            if not dry_run:
                await _create_pool(client, pool)
        existing = {
            d.name: d
            for d in await client.read_deployments(
                deployment_filter=DeploymentFilter(
                    tags=DeploymentFilterTags(all_=list(tags_for(plan)))
                )
            )
        }
        flow_names = {}
        for deployment in existing.values():
            if deployment.flow_id not in flow_names:
                flow_names[deployment.flow_id] = (await client.read_flow(deployment.flow_id)).name
        for spec in specs:
            diff.next_at[spec.name] = spec.next_instant(now)
            current = existing.get(spec.name)
            fields = (
                _differences(spec, current, flow_names[current.flow_id], pool)
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
            if dry_run:
                continue
            if fields and "flow" in fields:
                # A deployment's name is unique per flow: under the new flow it would be a second
                # deployment, and the old one would keep firing.
                await client.delete_deployment(current.id)
            await _write(client, spec, pool)
        names = {s.name for s in specs}
        for name, deployment in sorted(existing.items()):
            if name in names:
                continue
            if prune == "pause" and deployment.paused:
                diff.unchanged.append(name)
                continue
            diff.pruned.append((name, "paused" if prune == "pause" else "deleted"))
            if dry_run:
                continue
            if prune == "pause":
                await client.pause_deployment(deployment.id)
            else:
                await client.delete_deployment(deployment.id)
    return diff


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


def _schema(spec: DeploymentSpec) -> dict[str, Any]:
    flow = getattr(prefect_flows, spec.flow_attr)
    return parameter_schema(flow).model_dump(exclude_unset=True)


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
        parameter_openapi_schema=_schema(spec),
        paused=False,
    )


def _differences(spec: DeploymentSpec, current, flow_name: str, pool: str) -> list[str]:
    """Names of the fields where the server's deployment differs from the wanted one."""
    found = []
    if flow_name != spec.flow_name:
        found.append("flow")
    if current.entrypoint != spec.entrypoint:
        found.append("entrypoint")
    if dict(current.parameters or {}) != spec.parameters:
        found.append("parameters")
    if (current.description or "") != spec.description:
        found.append("description")
    if sorted(current.tags or []) != sorted(spec.tags):
        found.append("tags")
    if current.work_pool_name != pool:
        found.append("work pool")
    if dict(current.job_variables or {}) != spec.job_variables:
        found.append("job variables")
    if dict(current.parameter_openapi_schema or {}) != _schema(spec):
        found.append("parameter schema")
    if current.paused:
        found.append("paused")
    have = [
        (getattr(s.schedule, "rrule", None), getattr(s.schedule, "timezone", None), s.active)
        for s in current.schedules or []
    ]
    want = [(spec.schedule.rule, spec.schedule.timezone, True)] if spec.schedule is not None else []
    if have != want:
        found.append("schedule")
    return found
