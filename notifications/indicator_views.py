"""What a mail or the office's page shows of one period's indicators (a consolidated report's
item): each indicator for the commune against its target, its units' values beneath."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from schedules.config_units import ALL_UNITS
from schedules.periods import period_label

if TYPE_CHECKING:  # `cchc check` renders the mails without loading the database layer
    from usecases.indicator_report import IndicatorRow


def indicators_view(rows: Sequence[IndicatorRow]) -> dict | None:
    """What a mail or a page shows of one period's indicators: each indicator for the
    commune, with its units' values beneath; None when there is none."""
    communes = [r for r in rows if r.unit == ALL_UNITS]
    if not communes:
        return None
    met = sum(1 for r in communes if r.met)
    with_data = sum(1 for r in communes if r.value is not None)
    return {
        "period_label": period_label(communes[0].period),
        "summary": f"{met}/{len(communes)} chỉ tiêu đạt mục tiêu, {with_data}/{len(communes)} "
        "chỉ tiêu đã có số liệu",
        "rows": [
            {
                "id": r.id,
                "name": r.name,
                "ref": r.ref,
                "value": r.shown,
                "target": r.target_text,
                "verdict": r.verdict,
                "met": r.met,
                "reported": f"{r.reported}/{r.expected} đơn vị đã báo cáo",
                "units": [
                    {"unit": u.unit, "value": u.shown, "verdict": u.verdict}
                    for u in rows
                    if u.unit != ALL_UNITS and (u.id, u.period) == (r.id, r.period)
                ],
            }
            for r in communes
        ],
    }
