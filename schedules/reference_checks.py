"""Errors about what a plan's values name: the unit codes of an obligation and of an indicator,
the obligations `reported_in` and `consolidates` name, the report that carries an indicator."""

from __future__ import annotations

from schedules.config_indicators import Indicator
from schedules.config_obligations import Obligation
from schedules.config_units import ALL_UNITS
from schedules.plan import Plan
from schedules.plan_merge import Merged, Where


def check_unit_codes(merged: Merged, plan: Plan, ob: Obligation, where: Where) -> None:
    source, loc = where
    known = ", ".join(plan.units)
    for field_name in ("lead", "coordinators", "all_except"):
        for i, code in enumerate(getattr(ob, field_name)):
            if plan.units and code != ALL_UNITS and code not in plan.units:
                merged.fail(
                    (source, loc + (field_name, i)),
                    f"unknown unit '{code}' (đơn vị không tồn tại); known: {known}, ALL",
                )


def check_references(
    merged: Merged, plan: Plan, oid: str, ob: Obligation, where: Where, foreign: frozenset[str]
) -> None:
    """`reported_in` and `consolidates` name another obligation (of this plan, or a `foreign`
    one); `reported_in` one with a schedule."""
    source, loc = where
    known = plan.obligations | dict.fromkeys(foreign)
    for field_name in ("reported_in", "consolidates"):
        target = getattr(ob, field_name)
        if target is not None and target not in known:
            merged.fail(
                (source, loc + (field_name,)),
                f"unknown obligation '{target}' (nhiệm vụ không tồn tại)",
            )
        elif target == oid:
            merged.fail(
                (source, loc + (field_name,)),
                f"{field_name} names the obligation itself (nhiệm vụ tự trỏ vào chính nó)",
            )
    carrier = plan.obligations.get(ob.reported_in) if ob.reported_in else None
    if carrier is not None and carrier.schedule is None:
        merged.fail(
            (source, loc + ("reported_in",)),
            f"'{ob.reported_in}' has no schedule, so it cannot carry this report "
            "(nhiệm vụ này không có lịch nên không nhận báo cáo thay được)",
        )


def check_indicator(merged: Merged, plan: Plan, iid: str, indicator: Indicator) -> None:
    """An indicator is carried by a scheduled report of the plan, reported by units that
    owe that report, with its yearly steps inside the plan's years."""
    source, loc = merged.indicator_at[iid]
    carrier = plan.obligations.get(indicator.reported_in)
    if carrier is None:
        merged.fail(
            (source, loc + ("reported_in",)),
            f"unknown obligation '{indicator.reported_in}' (nhiệm vụ không tồn tại); "
            "name the report that carries the indicator, e.g. bao-cao-cchc-dinh-ky",
        )
        return
    if carrier.schedule is None:
        merged.fail(
            (source, loc + ("reported_in",)),
            f"'{indicator.reported_in}' has no schedule, so it cannot carry an indicator "
            "(nhiệm vụ này không có lịch nên không mang được chỉ tiêu)",
        )
        return
    if not plan.units:
        return
    owing = plan.lead_units(indicator.reported_in)
    for i, code in enumerate(indicator.reported_by):
        if code != ALL_UNITS and code not in plan.units:
            merged.fail(
                (source, loc + ("reported_by", i)),
                f"unknown unit '{code}' (đơn vị không tồn tại); known: "
                f"{', '.join(plan.units)}, ALL",
            )
        elif code != ALL_UNITS and code not in owing:
            merged.fail(
                (source, loc + ("reported_by", i)),
                f"unit '{code}' owes no '{indicator.reported_in}' report, so it cannot "
                f"report this indicator with it (đơn vị không có báo cáo này); units that "
                f"owe it: {', '.join(owing) or '-'}",
            )
    first, last = plan.commune.plan_start.year, plan.commune.plan_end.year
    for year in indicator.steps:
        if not first <= year <= last:
            merged.fail(
                (source, loc + ("steps", year)),
                f"step year {year} is outside the plan's years {first}-{last} "
                "(năm của lộ trình nằm ngoài thời gian kế hoạch)",
            )
