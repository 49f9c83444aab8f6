"""The city office's own plan (city.yaml `reports`): its reports that consolidate the communes'
reports, and the checks that each level falls due after, and escalates before, the next."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from schedules.city import listed_codes
from schedules.commune_kinds import commune_kinds_phrase
from schedules.config import CityFile, ConfigFile
from schedules.config_obligations import Obligation
from schedules.config_units import Commune, Leader, Person, Unit
from schedules.dates import vn_date
from schedules.escalation_checks import late_ladder
from schedules.plan import Plan
from schedules.plan_loader import build_plan
from schedules.plan_merge import Parsed
from schedules.yamlsource import ConfigInvalid, ConfigIssue, YamlSource


def office_plan(
    folder: Path, source: YamlSource, cfg: CityFile, others: Parsed, plans: dict[str, Plan]
) -> Plan:
    """The city office's own reports as a plan: the office is its only unit and standing
    office, the city's leadership its leadership (the office itself when none is given), its
    dates those of the communes' plans, their calendar shared. Its reports consolidate the
    communes' reports: each level its own deadline (Nghị định 09/2019), the city's after the
    communes' for every period."""
    info, first = cfg.city, next(iter(plans.values())).commune
    office = info.office
    contact = office.contact or Person(name=office.name, email=office.email)
    leadership = info.leadership or [Leader(name=office.name, email=office.email)]
    if office.director is not None:
        # The office's own lateness goes to its head (Giám đốc Sở) first; the city's leaders
        # stay reachable by a level's `leadership`, not as the leader in charge.
        director = Leader(**office.director.model_dump(), in_charge=True)
        leadership = [director, *(p.model_copy(update={"in_charge": False}) for p in leadership)]
    commune = Commune(
        code=info.code,
        name=info.name,
        plan=info.plan or f"Kế hoạch cải cách hành chính của {info.name}",
        plan_short=info.plan or info.name,
        timezone=first.timezone,
        standing_office=office.code,
        contact=contact,
        leadership=leadership,
        plan_start=min(p.commune.plan_start for p in plans.values()),
        plan_end=max(p.commune.plan_end for p in plans.values()),
        start=min(p.commune.start for p in plans.values()),
        # Live when its communes are, if they all set the date; else its own first sweep.
        go_live=_earliest_go_live(plans),
        sweep_time=first.sweep_time,
        defaults=info.defaults or first.defaults,
    )
    head = office.director or contact
    unit = Unit(code=office.code, name=office.name, email=office.email, head=head)
    # Errors in `reports` point at their lines: the builder reads them as `obligations`.
    lines = dict(source.lines)
    lines |= {("obligations",) + k[1:]: v for k, v in source.lines.items() if k[:1] == ("reports",)}
    reports = YamlSource(source.path, source.data, lines)
    kinds = {code: str(p.commune.kind) for code, p in plans.items()}
    obligations = _with_commune_kinds(cfg.reports or [], commune_kinds_phrase(kinds.values()))
    parsed = [
        (reports, ConfigFile(commune=commune, units=[unit], obligations=obligations,
                             calendar=cfg.calendar)),
        *((s, ConfigFile(calendar=c.calendar)) for s, c in others if c.calendar),
    ]  # fmt: skip
    foreign = frozenset(oid for plan in plans.values() for oid in plan.obligations)
    plan = build_plan(folder, parsed, foreign)
    plan.city_folder = folder
    plan.communes = {code: p.commune.name for code, p in plans.items()}
    plan.commune_kinds = kinds
    plan.lower = dict(plans)
    _check_levels(plan, plans, reports)
    for commune_plan in plans.values():
        commune_plan.attach_upper(plan)
    return plan


COMMUNE_KINDS_TOKEN = "{commune_kinds}"
"""In the city office's reports: the kinds of the city's communes ("xã, phường, đặc khu")."""


def _with_commune_kinds(reports: list[Obligation], phrase: str) -> list[Obligation]:
    """`{commune_kinds}` in a city report's texts becomes the kinds its communes are ("Tổng
    hợp báo cáo … của các {commune_kinds}" → "… của các xã, phường, đặc khu")."""
    fields = ("title", "product", "timing", "description")
    found = []
    for ob in reports:
        update = {
            f: getattr(ob, f).replace(COMMUNE_KINDS_TOKEN, phrase)
            for f in fields
            if getattr(ob, f) and COMMUNE_KINDS_TOKEN in getattr(ob, f)
        }
        found.append(ob.model_copy(update=update) if update else ob)
    return found


def _check_levels(office: Plan, plans: dict[str, Plan], source: YamlSource) -> None:
    """Each city report sums up a report every commune owes, and falls due after it, period by
    period."""
    issues = []
    for i, report in enumerate(office.obligations.values()):
        target = report.consolidates
        lacking = [code for code, plan in plans.items() if target and target not in plan.schedules]
        if lacking:
            issues.append(
                source.issue(
                    ("reports", i, "consolidates"),
                    f"'{target}' is not a scheduled obligation of every commune: missing in "
                    f"{listed_codes(lacking)} (xã chưa có nhiệm vụ này)",
                )
            )
            continue
        if not target or report.id not in office.schedules:
            continue
        span = (office.commune.plan_start, office.commune.plan_end)
        own = {o.period.key: o.due.due for o in office.occurrences(*span, obligation=report.id)}
        late = next(
            (
                (code, occ)
                for code, plan in plans.items()
                if target in plan.schedules
                for occ in plan.occurrences(*span, obligation=target)
                if occ.period.key in own and own[occ.period.key] <= occ.due.due
            ),
            None,
        )
        if late:
            code, occ = late
            issues.append(
                source.issue(
                    ("reports", i, "schedule"),
                    f"period {occ.period.key}: due {vn_date(own[occ.period.key])} is not after "
                    f"commune {code}'s due date {vn_date(occ.due.due)} of '{target}' (hạn của "
                    "thành phố phải sau hạn của xã)",
                )
            )
    if issues:
        raise ConfigInvalid(issues)


def late_ladders(office: Plan, plans: dict[str, Plan], source: YamlSource) -> list[ConfigIssue]:
    """A commune's report to the city escalates all the way before the city's report is due
    (its ladder ends by the city's due date for it): one warning per city report, at its
    schedule, with the first commune's first late level and the communes it concerns."""
    found = []
    for i, (rid, report) in enumerate(office.obligations.items()):
        target = report.consolidates
        if not target or rid not in office.schedules:
            continue
        late: dict[str, str] = {}
        # Communes of one template and calendar share their ladders: each worked out once.
        known: dict[str, str | None] = {}
        for code, plan in plans.items():
            if target not in plan.schedules:
                continue
            key = plan.fingerprint(target)
            if key not in known:
                known[key] = late_ladder(plan, target, rid)
            if known[key]:
                late[code] = known[key] or ""
        if late:
            first, message = next(iter(late.items()))
            found.append(
                source.issue(
                    ("reports", i, "schedule"),
                    f"warning: commune {first}: {message.removeprefix('warning: ')} (the report "
                    f"the city office sums up; thang đôn đốc của xã phải kết thúc trước hạn của "
                    f"thành phố) [{'commune' if len(late) == 1 else 'communes'}: "
                    f"{listed_codes(list(late))}]",
                )
            )
    return found


def _earliest_go_live(plans: dict[str, Plan]) -> date | None:
    """The earliest `go_live` of the communes when every one sets it; None otherwise."""
    found = [p.commune.go_live for p in plans.values()]
    dates = [d for d in found if d is not None]
    return min(dates) if dates and len(dates) == len(found) else None
