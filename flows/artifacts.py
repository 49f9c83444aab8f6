"""What the standing office sees in the Prefect UI: status tables, a Vietnamese summary of what
changed, and the events that automations hook.

Builders are pure functions of plain data (work items, a sweep's report); `publish_*` hand their
output to Prefect. Artifact keys are stable, so each key is a versioned "latest status" page:

- `cchc-<commune>-open-items`: every open, overdue or escalated item, by unit (each sweep);
- `cchc-<commune>-sweep-summary`: what the last sweep changed, in Vietnamese (each sweep);
- `cchc-<commune>-opened-<obligation>`: the items an opening run opened.

Events: one `cchc.item.<opened|overdue|escalated|closed>` per kind and unit per run (not per
item, so their number follows units, like the task runs), with the items in the payload; one
`cchc.mail.failed` per run whose delivery gave up on some mail.
"""

from __future__ import annotations

import base64
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import Engine

from notifications.delivery import DeliveryReport
from schedules.dates import local_date, vn_date, vn_datetime
from schedules.plan import Plan
from schedules.vocabulary import OPEN_STATUSES, ItemStatus, StepKind, parse_step
from usecases.scorecard import build_scorecard, scorecard_markdown, scorecard_png

MAX_TABLE_ROWS = 2000
"""A table artifact beyond this is cut (the note says so): the UI is no place for a city's list."""

EVENT_KINDS = ("opened", "overdue", "escalated", "closed")
"""Item events (`cchc.item.<kind>`); besides them, `cchc.mail.failed` when mail fails for good."""


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


def open_items_key(plan: Plan) -> str:
    return f"cchc-{plan.commune.code}-open-items"


def sweep_summary_key(plan: Plan) -> str:
    return f"cchc-{plan.commune.code}-sweep-summary"


def opened_key(plan: Plan, obligation: str) -> str:
    return f"cchc-{plan.commune.code}-opened-{obligation}"


def unit_name(plan: Plan, code: str) -> str:
    unit = plan.units.get(code)
    return unit.name if unit else code


def status_words(plan: Plan, item: ItemLike, today: date) -> str:
    """The item's state in the words of Vietnamese task trackers."""
    if item.status == ItemStatus.ESCALATED:
        return f"quá hạn, đã chuyển cấp {item.escalation_level}"
    if item.status == ItemStatus.OVERDUE or item.due < today:
        return "quá hạn"
    if item.due == today:
        return "đến hạn hôm nay"
    return "trong hạn"


def late_days(plan: Plan, item: ItemLike, today: date) -> int:
    """Working days past the due date (0 while not late)."""
    return max(plan.calendar.working_days_between(item.due, today), 0)


def open_items_table(plan: Plan, items: Iterable[ItemLike], at: datetime) -> list[dict[str, Any]]:
    """One row per open item, grouped by unit (standing order of the config), then by due date."""
    today = local_date(at, plan.zone)
    order = {code: i for i, code in enumerate(plan.units)}
    rows = sorted(items, key=lambda i: (order.get(i.unit, len(order)), i.unit, i.due, i.id or 0))
    return [
        {
            # Short columns first: the long title would push them off a laptop screen.
            "Đơn vị": item.unit,
            "Tình trạng": status_words(plan, item, today),
            "Hạn": vn_date(item.due),
            "Trễ (ngày làm việc)": late_days(plan, item, today),
            "Kỳ": item.period,
            "Mã việc": item.id,
            "Nhiệm vụ": item.title,
            "Tên đơn vị": unit_name(plan, item.unit),
        }
        for item in rows[:MAX_TABLE_ROWS]
    ]


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
    title = plan.obligations[obligation].title if obligation in plan.obligations else obligation
    kys = ", ".join(periods) or "—"
    if count == 0:
        return f"{title} — kỳ {kys}: không có việc mới (đã mở trước đó hoặc chưa đến ngày mở)."
    return f"{title} — kỳ {kys}: mở {count} việc."


def sweep_summary_markdown(
    plan: Plan,
    at: datetime,
    opened: list[tuple[int, str, str, str]],
    advanced: list[tuple[int, str, str]],
    queued: int,
    touched: list[ItemLike],
    counts: dict[str, Counter],
    delivery: str | None,
) -> str:
    """What the sweep at `at` changed (the `touched` items: opened or moved), in Vietnamese,
    then the open items counted by unit (`usecases.reporting.open_counts`)."""
    by_id = {i.id: i for i in touched}
    lines = [
        f"# Kết quả rà soát lúc {vn_datetime(at, plan.zone)}",
        "",
        f"{plan.commune.name} — {plan.commune.plan_short}",
        "",
    ]
    moved = Counter(parse_step(step).kind for _, step, _ in advanced)
    if not opened and not advanced and not queued:
        lines += ["**Không có thay đổi.**", ""]
    else:
        lines += [
            f"- Mở mới: **{len(opened)}** việc",
            f"- Nhắc hạn: **{moved['reminder'] + moved['due']}** việc",
            f"- Chuyển sang quá hạn: **{moved['overdue']}** việc",
            f"- Chuyển cấp (báo cáo lãnh đạo): **{moved['escalation']}** việc",
            f"- Thư chờ gửi mới: **{queued}**",
            "",
        ]
    if delivery:
        lines += [f"**Gửi thư:** {delivery}", ""]
    if opened:
        lines += ["## Việc mở mới", ""]
        lines += [
            f"- #{item_id} {unit} — {_title(plan, ob)}, kỳ {period}" + _due(by_id.get(item_id))
            for item_id, ob, unit, period in opened
        ]
        lines.append("")
    for kind, heading in (
        (StepKind.ESCALATION, "## Chuyển cấp"),
        (StepKind.OVERDUE, "## Quá hạn"),
        (StepKind.REMINDER, "## Nhắc hạn"),
        (StepKind.DUE, "## Đến hạn hôm nay"),
    ):
        rows = [(i, s) for i, s, _ in advanced if parse_step(s).kind == kind]
        if rows:
            lines += [heading, ""]
            lines += [
                _advanced_line(plan, item_id, step, by_id.get(item_id)) for item_id, step in rows
            ]
            lines.append("")
    lines += ["## Việc đang mở theo đơn vị", ""]
    if not counts:
        lines += ["Không có việc nào đang mở.", ""]
    else:
        lines += [
            "| Đơn vị | Tên đơn vị | Trong hạn | Quá hạn | Đã chuyển cấp | Tổng |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for code, c in counts.items():
            total = sum(c[s] for s in OPEN_STATUSES)
            lines.append(
                f"| {code} | {unit_name(plan, code)} | {c['open']} | {c['overdue']} "
                f"| {c['escalated']} | {total} |"
            )
        lines.append("")
    return "\n".join(lines)


def _title(plan: Plan, obligation: str) -> str:
    ob = plan.obligations.get(obligation)
    return ob.title if ob else obligation


def _due(item: ItemLike | None) -> str:
    return f" (hạn {vn_date(item.due)})" if item is not None else ""


def _advanced_line(plan: Plan, item_id: int, step: str, item: ItemLike | None) -> str:
    if item is None:  # closed or waived meanwhile
        return f"- #{item_id}: {step}"
    return f"- #{item_id} {item.unit} — {item.title}, kỳ {item.period}{_due(item)}: {step}"


def delivery_line(report: DeliveryReport) -> str:
    """What a delivery run did, in one Vietnamese line (the sweep summary's "Gửi thư")."""
    return (
        f"{report.messages} thư đã gửi qua {report.via or '?'} ({len(report.sent)} lượt nhận); "
        f"{len(report.retrying)} chờ gửi lại, {len(report.failed)} lỗi, "
        f"{len(report.dropped)} hủy"
    )


def mail_failed_event(plan: Plan, failed: list[tuple], at: datetime) -> dict[str, Any]:
    """Keyword arguments of `emit_event` for the outbox rows that failed for good in a run:
    (outbox id, recipient, error) each."""
    commune = plan.commune.code
    return dict(
        event="cchc.mail.failed",
        occurred=at,
        resource={
            "prefect.resource.id": f"cchc.{commune}.outbox",
            "prefect.resource.name": f"Hộp thư đi — {plan.commune.name}",
            "cchc.commune": commune,
        },
        payload={
            "count": len(failed),
            "rows": [
                {"outbox_id": row[0], "recipient": row[1], "error": row[2]}
                for row in failed
                if len(row) >= 3
            ],
        },
    )


def item_events(
    plan: Plan, kind: str, items: Iterable[ItemLike], at: datetime
) -> list[dict[str, Any]]:
    """Keyword arguments of `emit_event`: one event per unit for the items that reached `kind`.

    The resource is the unit (`cchc.<commune>.unit.<CODE>`), each obligation is a related
    resource, the payload lists the items. Automations match on the event name and resource."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown event kind {kind!r}")
    commune = plan.commune.code
    by_unit: dict[str, list[ItemLike]] = defaultdict(list)
    for item in items:
        by_unit[item.unit].append(item)
    events = []
    for unit, group in by_unit.items():
        obligations = list(dict.fromkeys(i.obligation for i in group))
        events.append(
            dict(
                event=f"cchc.item.{kind}",
                occurred=at,
                resource={
                    "prefect.resource.id": f"cchc.{commune}.unit.{unit}",
                    "prefect.resource.name": unit_name(plan, unit),
                    "cchc.commune": commune,
                    "cchc.unit": unit,
                },
                related=[
                    {
                        "prefect.resource.id": f"cchc.{commune}.obligation.{ob}",
                        "prefect.resource.role": "obligation",
                        "prefect.resource.name": _title(plan, ob),
                    }
                    for ob in obligations
                ],
                payload={
                    "count": len(group),
                    "items": [
                        {
                            "id": i.id,
                            "obligation": i.obligation,
                            "period": i.period,
                            "due": i.due.isoformat(),
                            "status": i.status,
                            "step": i.step,
                            "escalation_level": i.escalation_level,
                        }
                        for i in group
                    ],
                },
            )
        )
    return events


# --- publishing (Prefect imported here only) ------------------------------------------------


def publish_sweep(
    plan: Plan,
    at: datetime,
    opened: list[tuple[int, str, str, str]],
    advanced: list[tuple[int, str, str]],
    queued: int,
    touched: list[ItemLike],
    counts: dict[str, Counter],
    open_items: list[ItemLike] | None,
    delivery: str | None = None,
) -> dict[str, str]:
    """The sweep's artifacts; returns their keys. The open-items table is rewritten only when
    `open_items` is given (the sweep changed something): the pages cost what changed."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    keys = {"summary": sweep_summary_key(plan)}
    if open_items is not None:
        table = open_items_table(plan, open_items, at)
        cut = len(open_items) - len(table)
        note = f" (chỉ hiện {len(table)} dòng đầu)" if cut > 0 else ""
        keys["table"] = open_items_key(plan)
        create_table_artifact(
            table or [{"Tình trạng": "Không có việc nào đang mở"}],
            key=keys["table"],
            description=(
                f"Việc đang mở, quá hạn, đã chuyển cấp theo đơn vị — "
                f"{vn_datetime(at, plan.zone)}: {len(open_items)} việc{note}"
            ),
        )
    create_markdown_artifact(
        sweep_summary_markdown(plan, at, opened, advanced, queued, touched, counts, delivery),
        key=keys["summary"],
        description=f"Kết quả rà soát lúc {vn_datetime(at, plan.zone)}",
    )
    return keys


def publish_opened(plan: Plan, obligation: str, periods: list[str], items: list[ItemLike]) -> str:
    from prefect.artifacts import create_table_artifact

    key = opened_key(plan, obligation)
    table = opened_table(plan, items)
    create_table_artifact(
        table or [{"Kết quả": "Không có việc mới"}],
        key=key,
        description=opened_description(plan, obligation, periods, len(items)),
    )
    return key


def emit_item_events(plan: Plan, kind: str, items: Iterable[ItemLike], at: datetime) -> int:
    """Emit the events of `item_events`; returns how many were emitted."""
    from prefect.events import emit_event

    events = item_events(plan, kind, items, at)
    for kwargs in events:
        emit_event(**kwargs)
    return len(events)


def emit_mail_failed(plan: Plan, failed: list[tuple], at: datetime) -> None:
    from prefect.events import emit_event

    emit_event(**mail_failed_event(plan, failed, at))


def scorecard_key(plan: Plan, year: int) -> str:
    return f"cchc-{plan.commune.code}-scorecard-{year}"


def publish_scorecard(plan: Plan, engine: Engine, year: int, at: datetime) -> str:
    """A Prefect markdown artifact (stable key per year): the table and the chart, inline."""
    from prefect.artifacts import create_markdown_artifact

    card = build_scorecard(plan, engine, year, at)
    png = base64.b64encode(scorecard_png(card)).decode("ascii")
    markdown = (
        scorecard_markdown(card)
        + f"\n![Tỷ lệ đúng hạn theo đơn vị và theo quý, năm {year}](data:image/png;base64,{png})\n"
        + "\nTài liệu kiểm chứng cho việc tự chấm điểm PAR INDEX: `cchc report --year "
        + f"{year} --format xlsx --output FILE` (bảng tính) và thư giao việc tự chấm điểm.\n"
    )
    key = scorecard_key(plan, year)
    create_markdown_artifact(
        markdown=markdown,
        key=key,
        description=f"Kết quả thực hiện đúng hạn nhiệm vụ CCHC năm {year}, theo đơn vị và quý",
    )
    return key
