"""The whole plan as a catalogue: one row per obligation of the config, standing and ad hoc ones
included (`cchc obligations`). Pure: the plan and a day in, rows out."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from schedules.config_obligations import Obligation
from schedules.plan import Plan
from schedules.vocabulary import ObligationKind

Tracking = Literal["scheduled", "reported_in", "ad_hoc"]

KIND_LABELS: dict[ObligationKind, str] = {
    ObligationKind.PERIODIC_REPORT: "báo cáo định kỳ",
    ObligationKind.CONSOLIDATED_REPORT: "báo cáo tổng hợp",
    ObligationKind.ANNUAL_PLAN: "kế hoạch năm",
    ObligationKind.REVIEW_PLAN: "kế hoạch rà soát",
    ObligationKind.SELF_SCORING: "tự chấm điểm",
    ObligationKind.SURVEY: "khảo sát",
    ObligationKind.SELF_INSPECTION: "tự kiểm tra",
    ObligationKind.TRAINING: "tập huấn",
    ObligationKind.ANNUAL_TASK: "nhiệm vụ năm",
    ObligationKind.ONE_OFF: "một lần",
    ObligationKind.FINAL_SUMMARY: "tổng kết",
    ObligationKind.STANDING: "thường xuyên",
    ObligationKind.AD_HOC: "đột xuất",
}
"""An obligation's kind as a table shows it."""

TRACKING_LABELS: dict[str, str] = {
    "scheduled": "theo lịch",
    "reported_in": "qua báo cáo",
    "ad_hoc": "khi có chỉ đạo",
}


def tracking(ob: Obligation) -> Tracking:
    """How the engine follows the obligation: its own schedule, by hand (ad hoc), or through
    the report that covers it (a standing task; `reported_in` may be unset)."""
    if ob.schedule is not None:
        return "scheduled"
    return "ad_hoc" if ob.kind == ObligationKind.AD_HOC else "reported_in"


def next_due(plan: Plan, obligation_id: str, today: date) -> date | None:
    """The first due date on or after `today` among the occurrences the engine acts on."""
    last = plan.commune.plan_end
    if obligation_id not in plan.schedules or today > last:
        return None
    found = plan.acted_on(today, last, obligation=obligation_id)
    return min((o.due.due for o in found), default=None)


def coordinators(plan: Plan, ob: Obligation, lead: list[str]) -> list[str]:
    """The obligation's coordinators, ALL expanded. A unit that ALL brings in is not listed
    again when it leads; a unit the plan names as coordinator is kept, even when a lead of ALL
    also counts it (II.1: "Các cơ quan, đơn vị" lead, the Trung tâm Phục vụ hành chính công
    coordinates)."""
    named = set(ob.coordinators) - set(ob.lead)
    return [c for c in plan.units_of(ob, "coordinators") if c not in lead or c in named]


def obligation_row(plan: Plan, obligation_id: str, today: date) -> dict[str, Any]:
    ob = plan.obligations[obligation_id]
    lead = plan.lead_units(obligation_id)  # ALL expanded; the office owes no report to itself
    description = " ".join((ob.description or "").split()) or None
    return {
        "id": ob.id,
        "ref": ob.ref,
        "title": ob.title,
        "kind": ob.kind,
        "lead": lead,
        "coordinators": coordinators(plan, ob, lead),
        "timing": ob.timing,
        "product": ob.product,
        "description": description,
        "tracking": tracking(ob),
        "reported_in": ob.reported_in,
        "consolidates": ob.consolidates,
        "next_due": next_due(plan, obligation_id, today),
    }


def obligation_rows(plan: Plan, today: date) -> list[dict[str, Any]]:
    """Every obligation of the plan, in the config's order, with its units expanded (ALL: every
    unit counted in "Các cơ quan, đơn vị") and its next due date from `today`."""
    return [obligation_row(plan, oid, today) for oid in plan.obligations]
