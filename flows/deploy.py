"""`cchc deploy`: register cchc's flows as deployments on a Prefect server, from the config.

The config is a single commune's or a city's (`schedules.city`); the deployments serve all its
communes, so their number follows the obligations, never the communes:

- one per scheduled obligation (`<code>-<obligation>`: its kind's opening flow,
  `{"obligation": id}`, one RRule schedule in the communes' zone listing every commune's opening
  instants; a run opens the obligation in each commune whose opening day it is);
- one for the sweep (`<code>-sweep`: every morning that is a working day in some commune, one
  schedule per sweep time in use; a run sweeps every commune);
- one per ad hoc obligation (no schedule: run from the UI with a unit, a due date and, in a
  city, the commune).

`<code>` is the commune's code, or the city's. All go into a process work pool that `prefect
worker start` serves. Besides them, two automations watch the runs (`automations`): a sweep
that has not ended well 45 minutes after its start, and mail given up on (`cchc.mail.failed`).

Idempotent: the wanted deployments are compared with those on the server (tagged with
`scope_tags`: `cchc` and `commune:<code>` or `city:<code>`); only new or changed ones are written
(writing one replaces its future scheduled runs), those of obligations gone from the config are
paused (or deleted), the automations are created or updated, and the difference is returned for
printing. The schedules' text comes from schedules.clock, like the embedded engine's triggers.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prefect.automations import (
    AutomationCore,
    DoNothing,
    EventTrigger,
    Posture,
    SendNotification,
)
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import DeploymentScheduleCreate, WorkPoolCreate
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags
from prefect.client.schemas.schedules import RRuleSchedule
from prefect.exceptions import ObjectNotFound
from prefect.utilities.callables import parameter_schema

from cchc.runtime.settings import Settings
from flows import prefect_flows
from notifications.event_payloads import MAIL_FAILED, SWEEP_COMPLETED
from schedules.city import City
from schedules.clock import SWEEP, ClockSchedule, city_schedules
from schedules.dates import vn_datetime
from schedules.plan import Plan
from schedules.vocabulary import ObligationKind
from usecases.errors import UserError

DEFAULT_POOL = "cchc"
PRUNE_MODES = ("pause", "delete")

SWEEP_GRACE = timedelta(minutes=45)
"""How long after a sweep run starts (or is marked Late, when no worker took it) the "sweep
missing" automation waits for `cchc.sweep.completed`."""

ALERT_BLOCK_ENV = "CCHC_ALERT_BLOCK"
"""`<block-type-slug>/<block-name>` of a Prefect notification block (e.g.
`sendgrid-email/so-noi-vu`): the automations send through it; unset, they only record that they
fired (Prefect UI → Automations, Event feed)."""


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
    schedules: tuple[ClockSchedule, ...] = ()

    @property
    def entrypoint(self) -> str:
        return prefect_flows.entrypoint(self.flow_attr)

    def schedule_create(self) -> list[DeploymentScheduleCreate]:
        return [
            DeploymentScheduleCreate(
                schedule=RRuleSchedule(rrule=s.rule, timezone=s.timezone),
                active=True,
                slug=s.slug,
            )
            for s in self.schedules
        ]

    def next_instant(self, now: datetime) -> datetime | None:
        found = [
            found[0]
            for s in self.schedules
            if (found := s.instants(now, now + timedelta(days=6 * 366)))
        ]
        return min(found) if found else None


def tags_for(city: City) -> tuple[str, ...]:
    return prefect_flows.scope_tags(city)


def deployment_name(city: City, slug: str) -> str:
    return f"{city.code}-{slug}"


def _sweep_times(plans: list[Plan]) -> str:
    return ", ".join(sorted({f"{p.commune.sweep_time:%H:%M}" for p in plans}))


def _served(city: City) -> str:
    """Who a deployment serves, as its description ends: the commune, or the city (never a
    count of communes: adding one that shares the calendar changes no deployment)."""
    if city.info is None:
        return next(iter(city.plans.values())).commune.name
    return f"các xã của {city.info.name}"


def wanted(city: City, settings: Settings, working_dir: Path) -> list[DeploymentSpec]:
    """The deployments the communes ask for, sweep first."""
    job_variables = {
        "working_dir": str(working_dir.resolve()),
        "env": {"CCHC_CONFIG": str(Path(settings.config_dir).resolve())},
    }
    tags = tags_for(city)
    plans = city.select(None)  # the communes', then the city office's own
    times = _sweep_times(plans)
    schedules = city_schedules(plans)
    sweeps = tuple(s for s in schedules if s.flow == SWEEP)
    specs = [
        DeploymentSpec(
            deployment_name(city, SWEEP),
            prefect_flows.SWEEP_FLOW,
            "sweep_flow",
            {},
            f"Rà soát mỗi sáng ngày làm việc lúc {times} — {_served(city)}",
            tags,
            job_variables,
            sweeps,
        )
    ]
    for schedule in schedules:
        if schedule.flow == SWEEP:
            continue
        ob = _obligation(plans, schedule.slug)
        specs.append(
            DeploymentSpec(
                deployment_name(city, schedule.slug),
                prefect_flows.opening_flow_name(ob.kind),
                f"open_{ob.kind}",
                dict(schedule.parameters),
                f"{ob.title} ({ob.ref}) — mở việc vào các ngày mở kỳ lúc {times}",
                tags,
                job_variables,
                (schedule,),
            )
        )
    adhoc = dict.fromkeys(
        oid for p in plans for oid, ob in p.obligations.items() if ob.kind == ObligationKind.AD_HOC
    )
    for oid in adhoc:
        ob = _obligation(plans, oid)
        how = (
            "chọn xã (commune), đơn vị (unit) và hạn (due)"
            if city.is_city
            else ("chọn đơn vị (unit) và hạn (due)")
        )
        specs.append(
            DeploymentSpec(
                deployment_name(city, oid),
                prefect_flows.ADHOC_FLOW,
                "open_ad_hoc_flow",
                {"obligation": oid},
                f"{ob.title} — chạy thủ công: {how}",
                tags,
                job_variables,
            )
        )
    return specs


def _obligation(plans: list[Plan], oid: str):
    """The obligation as the first commune that has it states it."""
    return next(p.obligations[oid] for p in plans if oid in p.obligations)


# --- automations -----------------------------------------------------------------------------


def automation_names(city: City) -> tuple[str, str]:
    return f"cchc-{city.code}-sweep-missing", f"cchc-{city.code}-mail-failed"


def automations(
    city: City, block_id: Any | None = None, grace: timedelta = SWEEP_GRACE
) -> list[AutomationCore]:
    """The two automations that watch the communes' runs.

    - *sweep missing* (proactive): a sweep run of these communes that starts (Pending: a worker
      or the engine took it) or is marked Late (its scheduled instant passed and no worker took
      it) opens a window of `grace`; when no `cchc.sweep.completed` of theirs arrives in it, the
      automation fires. The sweep deployment's schedule holds only working-day mornings, so this
      is "no completed sweep by sweep time + 45 minutes on a working day". (The flow's own
      Completed event cannot be used: the run's final state is named by its lateness, "18 việc
      quá hạn", and so is the event.)
    - *mail failed* (reactive): each `cchc.mail.failed` of these communes (a mail given up
      after its retries; the standing office is told by cchc itself).

    Both notify through the notification block `block_id` (`ALERT_BLOCK_ENV`), or, without one,
    only record their firing (`DoNothing`) in the Prefect UI.
    """
    sweep_name, mail_name = automation_names(city)
    scope = tags_for(city)[-1]
    where = city.name
    minutes = int(grace.total_seconds() // 60)
    sweep = AutomationCore(
        name=sweep_name,
        description=f"Chưa có lần rà soát nào hoàn thành sau {minutes} phút — {where}",
        tags=list(tags_for(city)),
        trigger=EventTrigger(
            after={"prefect.flow-run.Pending", "prefect.flow-run.Late"},
            expect={SWEEP_COMPLETED},
            match_related=[
                {"prefect.resource.role": "flow", "prefect.resource.name": "cchc-sweep"},
                {"prefect.resource.role": "tag", "prefect.resource.id": f"prefect.tag.{scope}"},
            ],
            posture=Posture.Proactive,
            threshold=1,
            within=grace,
        ),
        actions=_notify(
            block_id,
            f"[cchc] Chưa rà soát xong — {where}",
            f"Lần rà soát buổi sáng của {where} chưa hoàn thành sau {minutes} phút "
            "(máy chạy, worker hoặc máy chủ thư có thể đang lỗi). "
            "Lần chạy: {{ event.resource['prefect.resource.name'] }} "
            "({{ event.event }}, {{ event.occurred }}). Xem Prefect UI → Runs, flow cchc-sweep.",
        ),
    )
    mail = AutomationCore(
        name=mail_name,
        description=f"Thư không gửi được sau các lần thử lại — {where}",
        tags=list(tags_for(city)),
        trigger=EventTrigger(
            expect={MAIL_FAILED},
            match={"cchc.city": city.code},
            posture=Posture.Reactive,
            threshold=1,
            within=timedelta(0),
        ),
        actions=_notify(
            block_id,
            f"[cchc] Thư không gửi được — {where}",
            "{{ event.payload.count }} thư của {{ event.resource['prefect.resource.name'] }} "
            "không gửi được sau các lần thử lại. Xem `cchc outbox` hoặc trang của cơ quan "
            "thường trực.",
        ),
    )
    return [sweep, mail]


def _notify(block_id: Any | None, subject: str, body: str) -> list:
    if block_id is None:
        return [DoNothing()]
    return [SendNotification(block_document_id=block_id, subject=subject, body=body)]


def _shape(automation: AutomationCore) -> dict[str, Any]:
    """What `cchc deploy` compares: everything but the server's ids."""
    data = automation.model_dump(
        mode="json", include={"name", "description", "enabled", "tags", "trigger", "actions"}
    )
    data["trigger"].pop("id", None)
    return data


async def _alert_block(client) -> Any | None:
    """The id of the notification block `ALERT_BLOCK_ENV` names; None when unset."""
    ref = os.environ.get(ALERT_BLOCK_ENV, "").strip()
    if not ref:
        return None
    slug, _, name = ref.partition("/")
    try:
        return (await client.read_block_document_by_name(name, slug)).id
    except (ObjectNotFound, ValueError) as exc:
        raise UserError(
            f"{ALERT_BLOCK_ENV}={ref}: no such Prefect block (create it in the UI: Blocks → +, "
            "then give <block-type-slug>/<name>)"
        ) from exc


async def _sync_automations(client, city: City, diff: DeployDiff) -> None:
    """Create the automations that are missing, update those that differ (one per name)."""
    for automation in automations(city, await _alert_block(client)):
        found = await client.read_automations_by_name(automation.name)
        if found and _shape(found[0]) == _shape(automation):
            diff.automations.append((automation.name, "="))
            continue
        diff.automations.append((automation.name, "~" if found else "+"))
        if diff.dry_run:
            continue
        if found:
            await client.update_automation(found[0].id, automation)
        else:
            await client.create_automation(automation)
        for extra in found[1:]:  # made by hand or by a race: one of each
            await client.delete_automation(extra.id)


# --- deploying -------------------------------------------------------------------------------


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
    automations: list[tuple[str, str]] = field(default_factory=list)
    """(name, "+" added | "~" changed | "=" unchanged)."""
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
        for name, how in self.automations:
            if how != "=":
                out.append(f"{how} automation {name}")
        out.append(
            f"= {len(self.unchanged)} unchanged; {len(self.added)} added, "
            f"{len(self.changed)} changed, {len(self.pruned)} removed"
        )
        return out

    def _next(self, name: str) -> str:
        at = self.next_at.get(name)
        return f"  next {vn_datetime(at)}" if at else ""


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
    return asyncio.run(
        adeploy(
            city,
            settings,
            pool=pool,
            prune=prune,
            dry_run=dry_run,
            working_dir=working_dir,
            now=now,
        )
    )


async def adeploy(
    city: City | Plan,
    settings: Settings,
    *,
    pool: str = DEFAULT_POOL,
    prune: str = "pause",
    dry_run: bool = False,
    working_dir: Path | None = None,
    now: datetime | None = None,
) -> DeployDiff:
    """Bring the server's cchc deployments of these communes to what the config asks (a single
    commune's `Plan` is taken as a city of one).

    1. make sure the process work pool exists (with the process worker's default template);
    2. read the communes' deployments on the server and compare each with the wanted one;
    3. create the missing, rewrite the changed (resuming any paused one), leave the rest;
    4. pause (or delete) those whose obligation left the config;
    5. create or update the two automations.
    """
    if prune not in PRUNE_MODES:
        raise UserError(f"--prune must be one of {', '.join(PRUNE_MODES)}")
    from prefect.settings import get_current_settings

    if not get_current_settings().api.url:
        raise UserError("set PREFECT_API_URL to the Prefect server to deploy to")
    if isinstance(city, Plan):
        city = City.of(city)
    try:
        specs = wanted(city, settings, working_dir or Path.cwd())
    except ValueError as exc:  # a rule the server would refuse, or one id of two kinds
        raise UserError(str(exc)) from exc
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
                    tags=DeploymentFilterTags(all_=list(tags_for(city)))
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
            if current is not None and fields and "flow" in fields:
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
        await _sync_automations(client, city, diff)
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
    have = sorted(
        (
            (getattr(s.schedule, "rrule", None), getattr(s.schedule, "timezone", None), s.active)
            for s in current.schedules or []
        ),
        key=repr,
    )
    want = sorted(((s.rule, s.timezone, True) for s in spec.schedules), key=repr)
    if have != want:
        found.append("schedule")
    return found
