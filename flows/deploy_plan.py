"""What `cchc deploy` wants on the Prefect server, and how the server differs from it: the
deployments the config asks for (`wanted`), the fields in which a registered one differs
(`differences`), and the difference a deploy makes, as printed (`DeployDiff`).

The config is a single commune's or a city's (`schedules.city`); the deployments serve all its
communes, so their number follows the obligations, never the communes:

- one per scheduled obligation (`<code>-<obligation>`: its kind's opening flow,
  `{"obligation": id}`, one RRule schedule in the communes' zone listing every commune's opening
  instants; a run opens the obligation in each commune whose opening day it is);
- one for the sweep (`<code>-sweep`: every morning that is a working day in some commune, one
  schedule per sweep time in use; a run sweeps every commune);
- one per ad hoc obligation (no schedule: run from the UI with a unit, a due date and, in a
  city, the commune).

`<code>` is the commune's code, or the city's. The schedules' text comes from schedules.clock,
like the embedded engine's triggers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from prefect.client.schemas.actions import DeploymentScheduleCreate
from prefect.client.schemas.schedules import RRuleSchedule
from prefect.utilities.callables import parameter_schema

from cchc.runtime.settings import Settings
from flows import prefect_flows
from schedules.city import City
from schedules.clock import SWEEP, ClockSchedule, city_schedules, sweep_times
from schedules.config_obligations import Obligation
from schedules.dates import vn_datetime
from schedules.plan import Plan
from schedules.vocabulary import ObligationKind


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

    def parameter_schema(self) -> dict[str, Any]:
        """The flow's parameters as the UI's run form shows them."""
        flow = getattr(prefect_flows, self.flow_attr)
        return parameter_schema(flow).model_dump(exclude_unset=True)


def tags_for(city: City) -> tuple[str, ...]:
    return prefect_flows.scope_tags(city)


def deployment_name(city: City, slug: str) -> str:
    return f"{city.code}-{slug}"


def configured_names(city: City) -> set[str]:
    """The deployment names every obligation of the config would have, whether or not it has
    an opening left (one whose only occurrences come before `commune.start` has none)."""
    return {deployment_name(city, oid) for plan in city.select(None) for oid in plan.obligations}


def _sweep_times(plans: list[Plan]) -> str:
    return ", ".join(sorted({f"{p.commune.sweep_time:%H:%M}" for p in plans}))


def _escalation_times(plans: list[Plan]) -> str:
    """The later times of day the sweep runs to escalate (`schedules.clock.sweep_times`)."""
    later = {at for p in plans for at in sweep_times(p) if at != p.commune.sweep_time}
    return ", ".join(sorted(f"{at:%H:%M}" for at in later))


def _served(city: City) -> str:
    """Who a deployment serves, as its description ends: the commune, or the city (never a
    count of communes: adding one that shares the calendar changes no deployment)."""
    if city.info is None:
        return next(iter(city.plans.values())).commune.name
    return f"các {city.kinds} của {city.info.name}"


def _obligation(plans: list[Plan], oid: str) -> Obligation:
    """The obligation as the first commune that has it states it."""
    return next(p.obligations[oid] for p in plans if oid in p.obligations)


@dataclass(frozen=True)
class _Deploying:
    """What every deployment of one config shares: its name's prefix, tags, job variables."""

    city: City
    job_variables: dict[str, Any]

    def spec(
        self,
        slug: str,
        flow_name: str,
        flow_attr: str,
        parameters: dict[str, Any],
        description: str,
        schedules: tuple[ClockSchedule, ...] = (),
    ) -> DeploymentSpec:
        name = deployment_name(self.city, slug)
        tags = tags_for(self.city)
        return DeploymentSpec(
            name, flow_name, flow_attr, parameters, description, tags, self.job_variables, schedules
        )


def wanted(city: City, settings: Settings, working_dir: Path | None) -> list[DeploymentSpec]:
    """The deployments the communes ask for, sweep first. They record nothing of the deploying
    machine: a worker imports the installed package (module-path entrypoints) and takes its
    settings (CCHC_DATABASE_URL, CCHC_CONFIG or CCHC_CONFIG_SOURCE=database, ...) from its own
    environment. With `working_dir` (`cchc deploy --folder`: one machine, workers started in
    the deploying folder's layout) they record it and the config folder's absolute path."""
    job_variables: dict[str, Any] = (
        {}
        if working_dir is None
        else {
            "working_dir": str(working_dir.resolve()),
            "env": {"CCHC_CONFIG": str(Path(settings.config_dir).resolve())},
        }
    )
    deploying = _Deploying(city, job_variables)
    plans = city.select(None)  # the communes', then the city office's own
    times = _sweep_times(plans)
    schedules = city_schedules(plans)
    sweeps = tuple(s for s in schedules if s.flow == SWEEP)
    return [
        _sweep_spec(deploying, sweeps, times),
        *(_opening_spec(deploying, plans, s, times) for s in schedules if s.flow != SWEEP),
        *(_ad_hoc_spec(deploying, plans, oid) for oid in _ad_hoc_obligations(plans)),
    ]


def _sweep_spec(
    deploying: _Deploying, sweeps: tuple[ClockSchedule, ...], times: str
) -> DeploymentSpec:
    about = f"Rà soát mỗi sáng ngày làm việc lúc {times}"
    later = _escalation_times(deploying.city.select(None))
    if later:
        about += f", chuyển cấp lúc {later}"
    about += f" — {_served(deploying.city)}"
    return deploying.spec(SWEEP, prefect_flows.SWEEP_FLOW, "sweep_flow", {}, about, sweeps)


def _opening_spec(
    deploying: _Deploying, plans: list[Plan], schedule: ClockSchedule, times: str
) -> DeploymentSpec:
    ob = _obligation(plans, schedule.slug)
    return deploying.spec(
        schedule.slug,
        prefect_flows.opening_flow_name(ob.kind),
        f"open_{ob.kind}",
        dict(schedule.parameters),
        f"{ob.title} ({ob.ref}) — mở việc vào các ngày mở kỳ lúc {times}",
        (schedule,),
    )


def _ad_hoc_spec(deploying: _Deploying, plans: list[Plan], oid: str) -> DeploymentSpec:
    how = (
        f"chọn {deploying.city.kinds} (commune), đơn vị (unit) và hạn (due)"
        if deploying.city.is_city
        else "chọn đơn vị (unit) và hạn (due)"
    )
    return deploying.spec(
        oid,
        prefect_flows.ADHOC_FLOW,
        "open_ad_hoc_flow",
        {"obligation": oid},
        f"{_obligation(plans, oid).title} — chạy thủ công: {how}",
    )


def _ad_hoc_obligations(plans: list[Plan]) -> list[str]:
    """The ad hoc obligations' ids, each once, in the plans' order."""
    return list(
        dict.fromkeys(
            oid
            for p in plans
            for oid, ob in p.obligations.items()
            if ob.kind == ObligationKind.AD_HOC
        )
    )


def differences(spec: DeploymentSpec, current, flow_name: str, pool: str) -> list[str]:
    """Names of the fields where the server's deployment differs from the wanted one."""
    found = [
        name
        for name, differs in (
            ("flow", flow_name != spec.flow_name),
            ("entrypoint", current.entrypoint != spec.entrypoint),
            ("parameters", dict(current.parameters or {}) != spec.parameters),
            ("description", (current.description or "") != spec.description),
            ("tags", sorted(current.tags or []) != sorted(spec.tags)),
            ("work pool", current.work_pool_name != pool),
            ("job variables", dict(current.job_variables or {}) != spec.job_variables),
            (
                "parameter schema",
                dict(current.parameter_openapi_schema or {}) != spec.parameter_schema(),
            ),
            ("paused", bool(current.paused)),
        )
        if differs
    ]
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


@dataclass
class DeployDiff:
    server: str
    pool: str
    added: list[str] = field(default_factory=list)
    changed: list[tuple[str, list[str]]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    pruned: list[tuple[str, str]] = field(default_factory=list)
    """(name, "paused" | "deleted")."""
    configured: set[str] = field(default_factory=set)
    """Deployment names of the obligations still in the config (`configured_names`): one of
    them pruned has no opening left, it did not leave the config."""
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
            why = (
                "no opening on or after commune.start: nothing left to open"
                if name in self.configured
                else "no longer in the config"
            )
            out.append(f"- {name} ({how}: {why})")
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
