"""The escalation ladders checked. Errors: each level later than the one before, to known
targets, none of them twice; escalations later in the day than the sweep. A warning: a ladder
that ends after the consolidated report it feeds is due (a commune's own, or the city office's,
a level up: `schedules.city` asks `late_ladder` too)."""

from __future__ import annotations

from schedules.config_policy import ESCALATION_ROLES, Policy
from schedules.dates import local_date, local_instant, vn_date
from schedules.occurrences import Occurrence
from schedules.plan import Plan
from schedules.plan_merge import Merged, Where
from schedules.vocabulary import StepKind

# --- errors ---------------------------------------------------------------------------------


def check_escalation(merged: Merged, plan: Plan, where: Where, policy: Policy) -> None:
    """Each level later than the one before, to known targets, none of them twice."""
    source, loc = where
    if policy.escalation is None:
        return
    seen: dict[str, int] = {}
    previous = 0
    for i, level in enumerate(policy.escalation):
        if level.after <= previous:
            merged.fail(
                (source, loc + (i, "after")),
                f"level {i + 1} (after {level.after}) is not later than level {i} "
                "(mỗi cấp phải muộn hơn cấp trước)",
            )
        previous = level.after
        _check_targets(merged, plan, (source, loc + (i, "to")), level.to, seen, i)


def check_escalation_time(merged: Merged, plan: Plan, where: Where, policy: Policy) -> None:
    """Escalations go out later in the day than the sweep (the morning's documents are
    recorded first), on the same day."""
    at, sweep = policy.escalation_time, plan.commune.sweep_time
    if at is not None and at <= sweep:
        merged.fail(
            where,
            f"escalation_time {at:%H:%M} is not later than sweep_time {sweep:%H:%M}: "
            'escalations go out after the morning\'s documents are recorded, e.g. "14:00" '
            "(giờ chuyển cấp phải sau giờ rà soát buổi sáng)",
        )


def _check_targets(
    merged: Merged, plan: Plan, where: Where, targets: list[str], seen: dict[str, int], level: int
) -> None:
    """The targets of escalation level `level` (0-based); `seen`: the first level of each
    target so far."""
    for target in targets:
        # With no unit at all, the plan has said so once.
        if plan.units and target not in ESCALATION_ROLES and target not in plan.units:
            merged.fail(
                where,
                f"unknown escalation target '{target}': use "
                f"{', '.join(ESCALATION_ROLES)} or a unit code (nơi chuyển cấp không "
                "tồn tại)",
            )
        elif target in seen:
            merged.fail(
                where,
                f"escalation cycles back to '{target}' (already level "
                f"{seen[target] + 1}); each level must go higher up the chain "
                "(chuyển cấp quay vòng: mỗi cấp phải lên cao hơn)",
            )
        seen.setdefault(target, level)


# --- the timing warning ---------------------------------------------------------------------


def warn_late_ladder(plan: Plan, oid: str, obligation_at: dict[str, Where]) -> None:
    """A report that another one sums up should have escalated all the way before the
    consolidated report is due: warn about a level that comes after it."""
    consolidator = plan.consolidator(oid)
    if consolidator not in plan.schedules:
        return
    message = late_ladder(plan, oid, consolidator)
    if message:
        source, loc = obligation_at[oid]
        where = loc + ("policy",) if plan.obligations[oid].policy.escalation else loc
        plan.warnings.append(source.issue(where, message))


def late_ladder(plan: Plan, oid: str, consolidator: str) -> str | None:
    """The warning about the first period whose ladder of `oid` comes after `consolidator`'s
    report of the same period is due (`consolidated_due`: this plan's or the city office's, a
    level up); None when every ladder ends in time."""
    if oid not in plan.schedules:
        return None
    span = (plan.commune.plan_start, plan.commune.plan_end)
    seen = set()  # units of a period share its dates: one ladder per (due, opening)
    for occ in plan.occurrences(*span, obligation=oid):
        if (occ.due.due, occ.opens) in seen:
            continue
        seen.add((occ.due.due, occ.opens))
        message = _late_level(plan, occ, consolidator)
        if message:
            return message
    return None


def _late_level(plan: Plan, occ: Occurrence, consolidator: str) -> str | None:
    """The warning about the first escalation level of `occ` that comes after the report of
    `consolidator` (for the same period) is due; None when the whole ladder comes before."""
    oid = occ.obligation
    limit = plan.consolidated_due(oid, occ.due.due)
    if not limit:
        return None
    opened = local_instant(occ.opens, plan.commune.sweep_time, plan.zone)
    late = [
        s
        for s in plan.timeline(oid, occ.due.due, opened)
        if s.kind == StepKind.ESCALATION and local_date(s.at, plan.zone) > limit
    ]
    if not late:
        return None
    return (
        f"warning: period {occ.period.key}: escalation level {late[0].level} "
        f"on {vn_date(local_date(late[0].at, plan.zone))} comes after "
        f"'{consolidator}' is due on {vn_date(limit)}: add "
        "`before: consolidated_due` to the level or shorten `after` (cấp đôn "
        "đốc đến sau hạn báo cáo tổng hợp)"
    )
