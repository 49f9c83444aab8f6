"""What the standing office sees in the Prefect UI: status tables, a Vietnamese summary of what
changed, and the events that automations hook.

Builders are pure functions of plain data (work items, a sweep's report); `publish_*` hand their
output to Prefect. Artifact keys are stable, so each key is a versioned "latest status" page:

- `cchc-<commune>-open-items`: every open, overdue or escalated item, by unit (rewritten by each
  change made by the intake or the command line, and by a sweep when it may show something else
  than when last published: the commune's items changed, or the day did; see `models.pages`);
- `cchc-<commune>-late-items`: the overdue and escalated items, latest first, with unit names
  (with the open-items table);
- `cchc-<commune>-sweep-summary`: what the last sweep changed, in Vietnamese (each sweep);
- `cchc-<commune>-opened-<obligation>`: the items an opening run opened.

A city's config adds the city's own pages (`cchc-<city>-...`, the city's code):

- `cchc-<city>-sweep-summary`: what the last sweep changed, one row per commune;
- `cchc-<city>-opened-<obligation>`: what an opening run opened, one row per commune;
- `cchc-<city>-league`: the communes ranked by their on-time record (flows.league_artifact).

Lateness also shows on the run list: the sweep run ends in a Completed state named "18 việc quá
hạn" (`late_state`), tagged with each unit that has late items (`late_tags`); in a city, with
each commune that has late items (`city_late_state`, `city_late_tags`).

Events: one `cchc.item.<kind>` (`EVENT_KINDS`) per kind and unit per run (not per item, so their
number follows units, like the task runs), with the items in the payload; one `cchc.mail.failed`
per commune and run whose delivery gave up on some mail; one `cchc.sweep.completed` per sweep
that ended well (what the "sweep missing" automation of `cchc deploy` waits for).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import Engine

from notifications.delivery_report import DeliveryReport, waiting_words
from notifications.views import period_label, step_label
from schedules.city import City
from schedules.dates import local_date, vn_date, vn_datetime
from schedules.plan import Plan
from schedules.vocabulary import OPEN_STATUSES, ItemStatus, StepKind, parse_step
from usecases.league import short_name
from usecases.scorecard import build_scorecard, scorecard_markdown, scorecard_png

MAX_TABLE_ROWS = 2000
"""A table artifact beyond this is cut (the note says so): the UI is no place for a city's list."""

EVENT_KINDS = ("opened", "overdue", "escalated", "closed", "accepted", "returned", "waived")
"""Item events (`cchc.item.<kind>`); besides them, `cchc.mail.failed` when mail fails for good.
The sweep emits the first three; a hand-in (closed), the office's review (accepted, returned)
and a waiver come from the intake and the command line (`flows.status`)."""

LATE_TAG = "quá hạn:"
"""Run tag prefix: `quá hạn:VP` on a sweep run while unit VP has late items (in a city:
`quá hạn:xa001` while commune xa001 has some)."""

MAIL_FAILED = "cchc.mail.failed"
SWEEP_COMPLETED = "cchc.sweep.completed"


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


def late_items_key(plan: Plan) -> str:
    return f"cchc-{plan.commune.code}-late-items"


def opened_key(plan: Plan, obligation: str) -> str:
    return f"cchc-{plan.commune.code}-opened-{obligation}"


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
    return _fingerprint(units, calendar, consolidated, plan.communes, server)


def league_fingerprint(city: City, server: str | None) -> str:
    """What the league table shows besides the items and the day: the communes and their names."""
    return _fingerprint([(code, p.commune.name) for code, p in city.plans.items()], server)


def _fingerprint(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


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


def late_items_table(plan: Plan, items: Iterable[ItemLike], at: datetime) -> list[dict[str, Any]]:
    """The late items (overdue, escalated, or open past their due date), latest first: the
    clerk's call list. Unit names, not codes, lead each row."""
    today = local_date(at, plan.zone)
    late = [(late_days(plan, i, today), i) for i in items if is_late(i, today)]
    late.sort(key=lambda p: (-p[0], p[1].due, unit_name(plan, p[1].unit), p[1].id or 0))
    return [
        {
            "Trễ (ngày làm việc)": days,
            "Đơn vị": unit_name(plan, item.unit),
            "Tình trạng": status_words(plan, item, today),
            "Hạn": vn_date(item.due),
            "Kỳ": period_label(item.period),
            "Nhiệm vụ": item.title,
            "Mã việc": item.id,
            "Mã đơn vị": item.unit,
        }
        for days, item in late[:MAX_TABLE_ROWS]
    ]


def is_late(item: ItemLike, today: date) -> bool:
    """Overdue or escalated, or still open past its due date (before a sweep moves it)."""
    return item.status in (ItemStatus.OVERDUE, ItemStatus.ESCALATED) or (
        item.status == ItemStatus.OPEN and item.due < today
    )


def late_counts(counts: dict[str, Counter]) -> dict[str, int]:
    """Late (overdue or escalated) items per unit code, from `usecases.reporting.open_counts`;
    units with none are left out."""
    late = {code: c[ItemStatus.OVERDUE] + c[ItemStatus.ESCALATED] for code, c in counts.items()}
    return {code: n for code, n in late.items() if n}


def late_tags(counts: dict[str, Counter]) -> list[str]:
    """One run tag per unit with late items (`quá hạn:VP`), for the run list's tag filter."""
    return [f"{LATE_TAG}{code}" for code in sorted(late_counts(counts))]


def late_state(plan: Plan, counts: dict[str, Counter]) -> tuple[str, str]:
    """(name, message) of a sweep run's final Completed state: the run list shows the name
    ("18 việc quá hạn"), the run page the message (how many escalated, and per unit, the unit
    with most late items first)."""
    late = late_counts(counts)
    total = sum(late.values())
    if not total:
        return "Không có việc quá hạn", "Không có việc quá hạn."
    escalated = sum(c[ItemStatus.ESCALATED] for c in counts.values())
    worst = sorted(late.items(), key=lambda kv: (-kv[1], kv[0]))
    units = "; ".join(f"{unit_name(plan, code)}: {n}" for code, n in worst)
    name = f"{total} việc quá hạn"
    return name, f"{name}, trong đó {escalated} việc đã chuyển cấp — {units}."


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
            f"- #{item_id} {unit} — {_title(plan, ob)}, {period_label(period)}"
            + _due(by_id.get(item_id))
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
        return f"- #{item_id}: {step_label(step)}"
    return (
        f"- #{item_id} {item.unit} — {item.title}, {period_label(item.period)}{_due(item)}: "
        f"{step_label(step)}"
    )


FILE_DELIVERY = "vào thư mục thư đi trên máy chủ (chưa cấu hình máy chủ thư)"
"""No SMTP host: the mails were written as .eml files (`notifications.smtp.FileTransport`)."""


def delivery_line(report: DeliveryReport) -> str:
    """What a delivery run did, in one Vietnamese line (the sweep summary's "Gửi thư"). It
    says how the mail went, never the server's folders or addresses: a clerk reads it."""
    how = "qua máy chủ thư" if report.via.startswith("smtp") else FILE_DELIVERY
    return (
        f"{report.messages} thư đã gửi {how} ({len(report.sent)} lượt nhận); "
        f"{waiting_words(report)}, {len(report.failed)} lỗi, "
        f"{len(report.dropped)} hủy"
    )


def mail_failed_event(
    plan: Plan, failed: list[tuple], at: datetime, city: str | None = None
) -> dict[str, Any]:
    """Keyword arguments of `emit_event` for the outbox rows of one commune that failed for good
    in a run: (outbox id, recipient, error) each. `city`: the code of the communes the run
    serves (the commune's own for a single commune), the label automations match."""
    commune = plan.commune.code
    return dict(
        event=MAIL_FAILED,
        occurred=at,
        resource={
            "prefect.resource.id": f"cchc.{commune}.outbox",
            "prefect.resource.name": f"Hộp thư đi — {plan.commune.name}",
            "cchc.commune": commune,
            "cchc.city": city or commune,
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


# --- a city's own pages ----------------------------------------------------------------------


def city_summary_key(city: City) -> str:
    return f"cchc-{city.code}-sweep-summary"


def city_opened_key(city: City, obligation: str) -> str:
    return f"cchc-{city.code}-opened-{obligation}"


def commune_label(plan: Plan) -> str:
    """ "xã Mao Điền (maodien)": how a city's pages name a commune."""
    return f"{short_name(plan.commune.name)} ({plan.commune.code})"


def _late_by_commune(counts: dict[str, dict[str, Counter]]) -> dict[str, int]:
    late = {code: sum(late_counts(c).values()) for code, c in counts.items()}
    return {code: n for code, n in late.items() if n}


def city_late_tags(counts: dict[str, dict[str, Counter]]) -> list[str]:
    """One run tag per commune with late items (`quá hạn:xa001`), from each commune's
    `open_counts`: a city's run list filters by commune (a unit's code means nothing there)."""
    return [f"{LATE_TAG}{code}" for code in sorted(_late_by_commune(counts))]


def city_late_state(city: City, counts: dict[str, dict[str, Counter]]) -> tuple[str, str]:
    """`late_state` of a city's sweep: the name counts every commune's late items, the message
    names the communes, the one with most late items first."""
    late = _late_by_commune(counts)
    total = sum(late.values())
    if not total:
        return "Không có việc quá hạn", "Không có việc quá hạn."
    escalated = sum(c[ItemStatus.ESCALATED] for units in counts.values() for c in units.values())
    worst = sorted(late.items(), key=lambda kv: (-kv[1], kv[0]))
    communes = "; ".join(f"{commune_label(city.plan_of(code))}: {n}" for code, n in worst)
    name = f"{total} việc quá hạn"
    return name, f"{name} ở {len(late)} xã, trong đó {escalated} việc đã chuyển cấp — {communes}."


def city_sweep_markdown(
    city: City,
    at: datetime,
    changes: dict[str, Counter],
    counts: dict[str, dict[str, Counter]],
    delivery: str | None,
) -> str:
    """What a city's sweep changed, in Vietnamese: the totals, the delivery (one run for the
    city), then one row per commune (opened, moved on, mails queued, open, late, escalated).
    `changes`: counters by commune under "opened", "advanced" and "queued"."""
    zone = city.zone
    lines = [
        f"# Kết quả rà soát lúc {vn_datetime(at, zone)}",
        "",
        f"{city.name} — {len(city.plans)} xã",
        "",
    ]
    opened, advanced, queued = (sum(changes[k].values()) for k in ("opened", "advanced", "queued"))
    if not opened and not advanced and not queued:
        lines += ["**Không có thay đổi.**", ""]
    else:
        lines += [
            f"- Mở mới: **{opened}** việc",
            f"- Nhắc hạn, quá hạn, chuyển cấp: **{advanced}** việc",
            f"- Thư chờ gửi mới: **{queued}**",
            "",
        ]
    if delivery:
        lines += [f"**Gửi thư:** {delivery}", ""]
    lines += [
        "## Theo xã",
        "",
        "| Xã | Mở mới | Nhắc hạn, quá hạn, chuyển cấp | Thư mới | Đang mở | Quá hạn "
        "| Đã chuyển cấp |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for plan in city.select(None):  # the communes, then the city office's own items
        code = plan.commune.code
        units = counts.get(code, {}).values()
        total = sum(c[s] for c in units for s in OPEN_STATUSES)
        lines.append(
            f"| {commune_label(plan)} | {changes['opened'][code]} | {changes['advanced'][code]} "
            f"| {changes['queued'][code]} | {total} | {sum(c['overdue'] for c in units)} "
            f"| {sum(c['escalated'] for c in units)} |"
        )
    lines.append("")
    return "\n".join(lines)


def city_opened_table(
    city: City, todo: dict[str, list[str]], opened: dict[str, int]
) -> list[dict[str, Any]]:
    """One row per commune an opening run served: its periods and how many items it opened."""
    return [
        {
            "Xã": commune_label(city.plan_of(code)),
            "Kỳ": ", ".join(periods),
            "Mở mới": opened.get(code, 0),
            "Mã xã": code,
        }
        for code, periods in list(todo.items())[:MAX_TABLE_ROWS]
    ]


def sweep_completed_event(city: City, summary: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments of `emit_event` when a sweep ended well. It occurs *now* (not at the
    sweep's instant, which is in the summary): the "sweep missing" automation counts it in the
    window that the run's own start opened."""
    return dict(
        event=SWEEP_COMPLETED,
        resource={
            "prefect.resource.id": f"cchc.{city.code}.sweep",
            "prefect.resource.name": f"Rà soát — {city.name if city.is_city else city.code}",
            "cchc.city": city.code,
        },
        payload={k: summary.get(k) for k in ("at", "opened", "advanced", "queued", "open", "late")},
    )


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
    """The sweep's artifacts; returns their keys. The open-items and late-items tables are
    rewritten only when `open_items` is given (they may show something else than when last
    published: `flows.prefect_flows._commune_pages` decides): the pages cost what changed."""
    from prefect.artifacts import create_markdown_artifact

    keys = {"summary": sweep_summary_key(plan)}
    if open_items is not None:
        keys |= publish_status(plan, open_items, at)
    create_markdown_artifact(
        sweep_summary_markdown(plan, at, opened, advanced, queued, touched, counts, delivery),
        key=keys["summary"],
        description=f"Kết quả rà soát lúc {vn_datetime(at, plan.zone)}",
    )
    return keys


def publish_status(plan: Plan, open_items: list[ItemLike], at: datetime) -> dict[str, str]:
    """The two status tables as of `at`: every open item by unit, and the late ones latest
    first. Returns their keys ("table", "late")."""
    from prefect.artifacts import create_table_artifact

    when = vn_datetime(at, plan.zone)
    table = open_items_table(plan, open_items, at)
    late = late_items_table(plan, open_items, at)
    keys = {"table": open_items_key(plan), "late": late_items_key(plan)}
    create_table_artifact(
        table or [{"Tình trạng": "Không có việc nào đang mở"}],
        key=keys["table"],
        description=(
            f"Việc đang mở, quá hạn, đã chuyển cấp theo đơn vị — {when}: "
            f"{len(open_items)} việc{_cut_note(len(open_items), len(table))}"
        ),
    )
    today = local_date(at, plan.zone)
    late_total = sum(is_late(i, today) for i in open_items)
    create_table_artifact(
        late or [{"Tình trạng": "Không có việc quá hạn"}],
        key=keys["late"],
        description=(
            f"Việc quá hạn, trễ lâu nhất trước — {when}: "
            f"{late_total} việc{_cut_note(late_total, len(late))}"
        ),
    )
    return keys


def _cut_note(total: int, shown: int) -> str:
    return f" (chỉ hiện {shown} dòng đầu)" if total > shown else ""


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


def emit_mail_failed(
    plan: Plan, failed: list[tuple], at: datetime, city: str | None = None
) -> None:
    from prefect.events import emit_event

    emit_event(**mail_failed_event(plan, failed, at, city))


def emit_sweep_completed(city: City, summary: dict[str, Any]) -> None:
    from prefect.events import emit_event

    emit_event(**sweep_completed_event(city, summary))


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


def consolidated_key(plan: Plan) -> str:
    return f"cchc-{plan.commune.code}-consolidated"


def consolidated_table(plan: Plan, engine: Engine, at: datetime) -> list[dict[str, Any]]:
    """For each open consolidated report's item: where the units' reports it sums up stand
    (received, late, missing), one row per unit, as the item's mails state it."""
    from sqlalchemy import select

    from models.db import transaction
    from models.store import consolidated_sources
    from models.tables import WorkItem
    from notifications.views import source_states

    consolidating = [oid for oid, ob in plan.obligations.items() if ob.consolidates]
    if not consolidating:
        return []
    today = local_date(at, plan.zone)
    rows: list[dict[str, Any]] = []
    with transaction(engine) as session:
        query = select(WorkItem).where(
            WorkItem.commune == plan.commune.code,
            WorkItem.obligation.in_(consolidating),
            WorkItem.status.in_(list(OPEN_STATUSES)),
        )
        for item in session.execute(query.order_by(WorkItem.due, WorkItem.id)).scalars():
            states = source_states(plan, item, consolidated_sources(session, plan, item), today)
            rows += [
                {
                    "Báo cáo tổng hợp": f"#{item.id} {period_label(item.period)}",
                    "Hạn tổng hợp": vn_date(item.due),
                    "Đơn vị": row["unit"],
                    "Báo cáo của đơn vị": row["state"],
                }
                for row in states["rows"]
            ]
    return rows


def publish_consolidated(plan: Plan, engine: Engine, at: datetime) -> str | None:
    """The consolidated report's view of the units' reports, when one is open."""
    from prefect.artifacts import create_table_artifact

    table = consolidated_table(plan, engine, at)
    if not table:
        return None
    key = consolidated_key(plan)
    create_table_artifact(
        table,
        key=key,
        description=f"Tình hình nhận báo cáo của các đơn vị cho báo cáo tổng hợp — "
        f"{vn_datetime(at, plan.zone)}",
    )
    return key


def publish_city_sweep(
    city: City,
    at: datetime,
    changes: dict[str, Counter],
    counts: dict[str, dict[str, Counter]],
    delivery: str | None,
) -> str:
    from prefect.artifacts import create_markdown_artifact

    key = city_summary_key(city)
    zone = city.zone
    create_markdown_artifact(
        city_sweep_markdown(city, at, changes, counts, delivery),
        key=key,
        description=f"Kết quả rà soát các xã lúc {vn_datetime(at, zone)}",
    )
    return key


def publish_city_opened(
    city: City, obligation: str, todo: dict[str, list[str]], opened: dict[str, int], at: datetime
) -> str:
    """The city's view of an opening run: one row per commune it served."""
    from prefect.artifacts import create_table_artifact

    having = [p for p in city.select(None) if obligation in p.obligations]
    title = having[0].obligations[obligation].title if having else obligation
    zone = city.zone
    key = city_opened_key(city, obligation)
    create_table_artifact(
        city_opened_table(city, todo, opened) or [{"Kết quả": "Không có xã nào đến ngày mở kỳ"}],
        key=key,
        description=f"{title} — mở {sum(opened.values())} việc ở {len(todo)} xã "
        f"({vn_datetime(at, zone)})",
    )
    return key
