"""Where the reports a consolidated report sums up stand: one row per unit (or commune).

`source_states` gives a consolidating item's mails and pages the state of each source report
as of a day: received on time, received late, missing (with how late).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from notifications.commune_views import unit_view
from notifications.phrases import countdown
from schedules.dates import vn_date
from schedules.item_standing import standing
from schedules.plan import Plan
from schedules.vocabulary import ItemStatus

if TYPE_CHECKING:  # the tables (SQLModel, SQLAlchemy) only for type hints
    from models.tables import WorkItem


def source_states(plan: Plan, item: WorkItem, sources: list[WorkItem], today: date) -> dict:
    """Where the units' reports that a consolidated report sums up stand, as of `today`:
    received on time, received late, missing (with how late), one row per unit expected (for
    the city office's report: per commune, with its own due date, `due`)."""
    ob = plan.obligations.get(item.obligation)
    if plan.communes is not None:  # the city office's report: one row per commune
        expected = list(plan.communes)
        by_key = {s.commune: s for s in sources}
        who = f"các {plan.kinds_phrase}"
    else:
        expected = (
            plan.lead_units(ob.consolidates) if ob and ob.consolidates in plan.obligations else []
        )
        by_key = {s.unit: s for s in sources}
        who = "các đơn vị"
    rows: list[dict] = []
    counts = {"received": 0, "late": 0, "missing": 0}
    for code in dict.fromkeys(expected + list(by_key)):
        source = by_key.get(code)
        if plan.communes is not None:
            name = plan.communes.get(code, code)
        else:
            name = unit_view(plan, code).name
        if source is None:
            state, group = "chưa mở nhiệm vụ", "missing"
        elif source.status == ItemStatus.HELD:  # due before go-live: the office decides
            state, group = ItemStatus.HELD.label, "missing"
        elif not ItemStatus(source.status).is_open:  # closed or waived: as every surface says
            state = standing(source, today, plan.calendar).label
            late = source.status == ItemStatus.CLOSED and source.on_time is False
            group = "late" if late else "received"
        else:
            state, group = f"chưa nộp ({countdown(plan, source.due, today)[2]})", "missing"
        counts[group] += 1
        # The city's list: each commune its own deadline (the communes' may differ: a local
        # day off, an extension, a return).
        due = vn_date(source.due) if plan.communes is not None and source is not None else ""
        rows.append({"unit": name, "state": state, "group": group, "due": due})
    total = len(rows)
    late_part = f" ({counts['late']} nộp sau hạn)" if counts["late"] else ""
    summary = (
        f"Đã nhận {counts['received'] + counts['late']}/{total} báo cáo của {who}"
        f"{late_part}; chưa nhận: {counts['missing']}"
    )
    missing_units = [r["unit"] for r in rows if r["group"] == "missing"]
    return {
        "rows": rows,
        "summary": summary,
        "missing_units": missing_units,
        "who": who,
        **counts,
    }
