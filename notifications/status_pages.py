"""A commune's status pages in the Prefect UI, built as plain data (`Page`): what each table or
markdown artifact shows, under which stable key, with which description. `flows.artifacts`
hands them to Prefect; nothing here imports it.

Keys (`cchc-<commune>-...`): `open-items`, `late-items`, `opened-<obligation>`,
`consolidated`, `indicators`, `scorecard-<year>`; the sweep summary is
`notifications.sweep_summary`'s, a city's own pages `notifications.city_pages`'.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from models.db import transaction
from models.store import consolidated_sources
from models.tables import WorkItem
from notifications.documents.indicators import indicators_markdown
from notifications.documents.scorecard import scorecard_markdown, scorecard_png
from notifications.source_states import source_states
from schedules.dates import local_date, vn_date, vn_datetime
from schedules.item_standing import Standing, standing
from schedules.periods import period_label
from schedules.plan import Plan
from schedules.vocabulary import OPEN_STATUSES
from usecases.indicator_report import IndicatorRow, indicator_rows
from usecases.scorecard import Scorecard

MAX_TABLE_ROWS = 2000
"""A table artifact beyond this is cut (the note says so): the UI is no place for a city's list."""


class ItemLike(Protocol):
    id: int | None
    obligation: str
    unit: str
    period: str
    title: str
    window_start: date
    window_end: date
    due: date
    status: str
    step: str
    escalation_level: int
    on_time: bool | None


@dataclass(frozen=True)
class Page:
    """One artifact's content: its stable key (each key is a versioned "latest status" page),
    a table's rows or a markdown text, and the line the artifact list shows."""

    key: str
    content: list[dict[str, Any]] | str
    description: str


def open_items_key(plan: Plan) -> str:
    return f"cchc-{plan.commune.code}-open-items"


def late_items_key(plan: Plan) -> str:
    return f"cchc-{plan.commune.code}-late-items"


def opened_key(plan: Plan, obligation: str) -> str:
    return f"cchc-{plan.commune.code}-opened-{obligation}"


def consolidated_key(plan: Plan) -> str:
    return f"cchc-{plan.commune.code}-consolidated"


def scorecard_key(plan: Plan, year: int) -> str:
    return f"cchc-{plan.commune.code}-scorecard-{year}"


def status_fingerprint(plan: Plan, server: str | None) -> str:
    """What the status tables (open items, late items, consolidated report) show besides the
    items and the day: the units' names and order, the calendar (working days late), the units
    or communes a consolidated report expects; and the Prefect server they are published to.
    When it changes, the next sweep rewrites them (`models.pages`)."""
    consolidated = {
        oid: plan.lead_units(ob.consolidates) if ob.consolidates in plan.obligations else []
        for oid, ob in plan.obligations.items()
        if ob.consolidates
    }
    calendar = sorted(
        (y, sorted(map(str, o.days_off)), sorted(map(str, o.working_days)))
        for y, o in plan.calendar.overrides.items()
    )
    units = [(code, unit.name) for code, unit in plan.units.items()]
    return fingerprint(units, calendar, consolidated, plan.communes, server)


def fingerprint(*parts: Any) -> str:
    """A short stable digest of plain values (what a page shows besides its items)."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def unit_name(plan: Plan, code: str) -> str:
    unit = plan.units.get(code)
    return unit.name if unit else code


def obligation_title(plan: Plan, obligation: str) -> str:
    ob = plan.obligations.get(obligation)
    return ob.title if ob else obligation


def directive_of(item: ItemLike) -> str:
    """The number of the directive the item acts on ("125/SNV-CCHC"; "" for the plan's items):
    the `directive` of a row read with it (`flows.item_reads.open_items_now`)."""
    return getattr(item, "directive", None) or ""


def standings(
    plan: Plan, items: Iterable[ItemLike], at: datetime
) -> list[tuple[Standing, ItemLike]]:
    """Each item with where it stands at `at` (`schedules.item_standing.standing`)."""
    today = local_date(at, plan.zone)
    return [(standing(item, today, plan.calendar), item) for item in items]


def open_items_table(plan: Plan, items: Iterable[ItemLike], at: datetime) -> list[dict[str, Any]]:
    """One row per open item, grouped by unit (standing order of the config), then by due date."""
    order = {code: i for i, code in enumerate(plan.units)}
    rows = sorted(
        standings(plan, items, at),
        key=lambda p: (order.get(p[1].unit, len(order)), p[1].unit, p[1].due, p[1].id or 0),
    )
    return [
        {
            # Short columns first: the long title would push them off a laptop screen.
            "Đơn vị": item.unit,
            "Tình trạng": state.label,
            "Hạn": vn_date(item.due),
            "Trễ (ngày làm việc)": state.days_late,
            "Kỳ": item.period,
            "Mã việc": item.id,
            "Văn bản": directive_of(item),
            "Nhiệm vụ": item.title,
            "Tên đơn vị": unit_name(plan, item.unit),
        }
        for state, item in rows[:MAX_TABLE_ROWS]
    ]


def late_items_table(plan: Plan, items: Iterable[ItemLike], at: datetime) -> list[dict[str, Any]]:
    """The late items (overdue, escalated, or open past their due date), latest first: the
    clerk's call list. Unit names, not codes, lead each row."""
    late = [(state, i) for state, i in standings(plan, items, at) if state.late]
    late.sort(key=lambda p: (-p[0].days_late, p[1].due, unit_name(plan, p[1].unit), p[1].id or 0))
    return [
        {
            "Trễ (ngày làm việc)": state.days_late,
            "Đơn vị": unit_name(plan, item.unit),
            "Tình trạng": state.label,
            "Hạn": vn_date(item.due),
            "Kỳ": period_label(item.period),
            "Văn bản": directive_of(item),
            "Nhiệm vụ": item.title,
            "Mã việc": item.id,
            "Mã đơn vị": item.unit,
        }
        for state, item in late[:MAX_TABLE_ROWS]
    ]


def status_pages(plan: Plan, open_items: list[ItemLike], at: datetime) -> dict[str, Page]:
    """The two status tables as of `at`: every open item by unit ("table"), and the late ones
    latest first ("late")."""
    when = vn_datetime(at, plan.zone)
    table = open_items_table(plan, open_items, at)
    late = late_items_table(plan, open_items, at)
    late_total = sum(state.late for state, _ in standings(plan, open_items, at))
    return {
        "table": Page(
            open_items_key(plan),
            table or [{"Tình trạng": "Không có việc nào đang mở"}],
            f"Việc đang mở (trong hạn, quá hạn, đã báo cáo cấp trên) theo đơn vị — {when}: "
            f"{len(open_items)} việc{cut_note(len(open_items), len(table))}",
        ),
        "late": Page(
            late_items_key(plan),
            late or [{"Tình trạng": "Không có việc quá hạn"}],
            f"Việc quá hạn, trễ lâu nhất trước — {when}: "
            f"{late_total} việc{cut_note(late_total, len(late))}",
        ),
    }


def cut_note(total: int, shown: int) -> str:
    return f" (chỉ hiện {shown} dòng đầu)" if total > shown else ""


def opened_table(plan: Plan, items: Iterable[ItemLike]) -> list[dict[str, Any]]:
    """The items an opening run opened: who owes what, for which data window, by when."""
    return [
        {
            "Đơn vị": item.unit,
            "Kỳ": item.period,
            "Hạn": vn_date(item.due),
            "Số liệu từ": vn_date(item.window_start),
            "đến": vn_date(item.window_end),
            "Mã việc": item.id,
            "Tên đơn vị": unit_name(plan, item.unit),
        }
        for item in list(items)[:MAX_TABLE_ROWS]
    ]


def opened_description(plan: Plan, obligation: str, periods: list[str], count: int) -> str:
    title = obligation_title(plan, obligation)
    kys = ", ".join(periods) or "—"
    if count == 0:
        return f"{title} — kỳ {kys}: không có việc mới (đã mở trước đó hoặc chưa đến ngày mở)."
    return f"{title} — kỳ {kys}: mở {count} việc."


def opened_page(plan: Plan, obligation: str, periods: list[str], items: Sequence[ItemLike]) -> Page:
    """What an opening run opened in the commune (`cchc-<commune>-opened-<obligation>`)."""
    return Page(
        opened_key(plan, obligation),
        opened_table(plan, items) or [{"Kết quả": "Không có việc mới"}],
        opened_description(plan, obligation, periods, len(items)),
    )


def _open_consolidated(plan: Plan, session: Session, consolidating: list[str]) -> list[WorkItem]:
    """The commune's open items of the `consolidating` obligations (its consolidated reports'),
    by due date."""
    query = select(WorkItem).where(
        col(WorkItem.commune) == plan.commune.code,
        col(WorkItem.obligation).in_(consolidating),
        col(WorkItem.status).in_(list(OPEN_STATUSES)),
    )
    return list(session.scalars(query.order_by(col(WorkItem.due), col(WorkItem.id))))


def consolidated_table(plan: Plan, engine: Engine, at: datetime) -> list[dict[str, Any]]:
    """For each open consolidated report's item: where the units' reports it sums up stand
    (received, late, missing), one row per unit, as the item's mails state it."""
    consolidating = [oid for oid, ob in plan.obligations.items() if ob.consolidates]
    if not consolidating:
        return []
    today = local_date(at, plan.zone)
    rows: list[dict[str, Any]] = []
    with transaction(engine) as session:
        for item in _open_consolidated(plan, session, consolidating):
            states = source_states(plan, item, consolidated_sources(session, plan, item), today)
            rows += [
                {
                    "Báo cáo tổng hợp": f"#{item.id} {period_label(item.period)}",
                    "Hạn tổng hợp": vn_date(item.due),
                    "Đơn vị": row["unit"],
                    "Báo cáo của đơn vị": row["state"],
                }
                | ({"Hạn của đơn vị": row["due"]} if row["due"] else {})
                for row in states["rows"]
            ]
    return rows


def consolidated_page(plan: Plan, engine: Engine, at: datetime) -> Page | None:
    """The consolidated report's view of the units' reports, when one is open."""
    table = consolidated_table(plan, engine, at)
    if not table:
        return None
    return Page(
        consolidated_key(plan),
        table,
        f"Tình hình nhận báo cáo của các đơn vị cho báo cáo tổng hợp — "
        f"{vn_datetime(at, plan.zone)}",
    )


def indicators_key(plan: Plan) -> str:
    return f"cchc-{plan.commune.code}-indicators"


def indicators_page(plan: Plan, engine: Engine, at: datetime) -> Page | None:
    """The indicators of each open consolidated report's period (`cchc-<commune>-indicators`,
    markdown): each indicator for the commune and per unit against its target, the verdict,
    how many units reported; None when no consolidated report is open or the plan has no
    indicators."""
    consolidating = [oid for oid, ob in plan.obligations.items() if ob.consolidates]
    if not consolidating or not plan.indicators:
        return None
    parts = []
    with transaction(engine) as session:
        items = _open_consolidated(plan, session, consolidating)
        by_period: dict[str, list[IndicatorRow]] = defaultdict(list)
        periods = {item.period for item in items}
        for row in indicator_rows(plan, session, None, periods) if periods else []:
            by_period[row.period].append(row)
        for item in items:
            rows = by_period.get(item.period)
            if not rows:
                continue
            parts.append(
                f"## Chỉ tiêu của kế hoạch, {period_label(item.period)} (báo cáo tổng hợp "
                f"#{item.id}, hạn {vn_date(item.due)})\n\n{indicators_markdown(rows)}\n"
            )
    if not parts:
        return None
    note = (
        "\nGiá trị toàn xã: tổng tử số của các đơn vị chia cho tổng mẫu số. Biểu đồ diễn biến "
        "theo kỳ: `cchc indicators --year YYYY --chart FILE.png`.\n"
    )
    return Page(
        indicators_key(plan),
        "\n".join(parts) + note,
        f"Chỉ tiêu của kế hoạch so với mục tiêu — {vn_datetime(at, plan.zone)}",
    )


def scorecard_page(plan: Plan, card: Scorecard) -> Page:
    """The year's scorecard as markdown, the table and the chart inline (stable key per year)."""
    year = card.year
    png = base64.b64encode(scorecard_png(card)).decode("ascii")
    markdown = (
        scorecard_markdown(card)
        + f"\n![Tỷ lệ đúng hạn theo đơn vị và theo quý, năm {year}](data:image/png;base64,{png})\n"
        + "\nTài liệu kiểm chứng cho việc tự chấm điểm PAR INDEX: `cchc report --year "
        + f"{year} --format xlsx --output FILE` (bảng tính) và thư giao việc tự chấm điểm.\n"
    )
    return Page(
        scorecard_key(plan, year),
        markdown,
        f"Kết quả thực hiện đúng hạn nhiệm vụ CCHC năm {year}, theo đơn vị và quý",
    )
