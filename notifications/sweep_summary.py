"""What a sweep says it did, in Vietnamese: its summary page (`cchc-<commune>-sweep-summary`,
or a city's `cchc-<city>-sweep-summary`, one row per commune), the delivery line in it, and
the message and tags of the sweep run's final state ("18 việc quá hạn, ...", `quá hạn:VP`; the
state keeps Prefect's name, Completed). Plain data; `flows.artifacts` and
`flows.status_publishing` hand it to Prefect."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from notifications.city_pages import commune_label
from notifications.delivery_report import DeliveryReport, waiting_words
from notifications.labels import step_label
from notifications.markdown_text import md_text
from notifications.quarantine_notice import quarantine_markdown
from notifications.status_pages import ItemLike, Page, obligation_title, unit_name
from schedules.city import City
from schedules.commune_kinds import commune_kinds_phrase, communes_count
from schedules.dates import vn_date, vn_datetime
from schedules.periods import period_label
from schedules.plan import Plan
from schedules.step_names import parse_step
from schedules.vocabulary import OPEN_STATUSES, REPORTED_UP, ItemStatus, StepKind

LATE_TAG = "quá hạn:"
"""Run tag prefix: `quá hạn:VP` on a sweep run while unit VP has late items (in a city:
`quá hạn:xa001` while commune xa001 has some)."""

FILE_DELIVERY = "vào thư mục thư đi trên máy chủ (chưa cấu hình máy chủ thư)"
"""No SMTP host: the mails were written as .eml files
(`notifications.file_transport.FileTransport`)."""

NO_LATE = "Không có việc quá hạn"

LATE_TAGS = 10
"""At most this many `quá hạn:` tags on a sweep run (the units or communes with most late
items): Prefect's server refuses a state change whose run carries more than 100 related
resources (its tags among them), which once left a city's sweep "Running" for good. The
per-commune detail is in the city's summary and each commune's late-items table."""
LATE_TAG_MORE = "quá hạn:khác"
"""The tag a sweep run carries besides the `LATE_TAGS` named ones when more have late items."""


def sweep_summary_key(plan: Plan) -> str:
    return f"cchc-{plan.commune.code}-sweep-summary"


def city_summary_key(city: City) -> str:
    return f"cchc-{city.code}-sweep-summary"


def delivery_line(report: DeliveryReport) -> str:
    """What a delivery run did, in one Vietnamese line (the sweep summary's "Gửi thư"). It
    says how the mail went, never the server's folders or addresses: a clerk reads it."""
    how = "qua máy chủ thư" if report.via.startswith("smtp") else FILE_DELIVERY
    return (
        f"{report.messages} thư đã gửi {how} ({report.deliveries} lượt nhận, "
        f"{len(report.sent)} thông báo); "
        f"{waiting_words(report)}, {len(report.failed)} lỗi, "
        f"{len(report.dropped)} hủy"
    )


# --- the run's final state and tags ----------------------------------------------------------


def late_counts(counts: dict[str, Counter]) -> dict[str, int]:
    """Late (overdue or escalated) items per unit code, from `usecases.reporting.open_counts`;
    units with none are left out. Counted by status: right after a sweep, every item past its
    due date has been moved to overdue."""
    late = {
        code: sum(n for status, n in c.items() if ItemStatus(status).is_overdue)
        for code, c in counts.items()
    }
    return {code: n for code, n in late.items() if n}


def bounded_late_tags(late: dict[str, int]) -> list[str]:
    """`quá hạn:<code>` of the `LATE_TAGS` codes with most late items (ties by code, listed by
    code), and `LATE_TAG_MORE` when more have some: a bounded number of tags however many
    units or communes are late."""
    worst = sorted(late, key=lambda code: (-late[code], code))
    tags = [f"{LATE_TAG}{code}" for code in sorted(worst[:LATE_TAGS])]
    return tags + ([LATE_TAG_MORE] if len(worst) > LATE_TAGS else [])


def late_tags(counts: dict[str, Counter]) -> list[str]:
    """A run tag per unit with late items (`quá hạn:VP`), for the run list's tag filter
    (bounded: `bounded_late_tags`)."""
    return bounded_late_tags(late_counts(counts))


def late_message(plan: Plan, counts: dict[str, Counter]) -> str:
    """The message of a sweep run's final Completed state (the run page, the run list's
    tooltip): how many items are late, how many escalated, and per unit, the unit with most
    late items first. The state keeps Prefect's name: a state named by the count would make
    the dashboard count no failure and Prefect emit one event type per count
    (`prefect.flow-run.18 việc quá hạn`), which no automation on Completed sees."""
    late = late_counts(counts)
    total = sum(late.values())
    if not total:
        return f"{NO_LATE}."
    escalated = sum(c[ItemStatus.ESCALATED] for c in counts.values())
    worst = sorted(late.items(), key=lambda kv: (-kv[1], kv[0]))
    units = "; ".join(f"{unit_name(plan, code)}: {n}" for code, n in worst)
    return f"{total} việc quá hạn, trong đó {escalated} việc {REPORTED_UP} — {units}."


def late_by_commune(counts: dict[str, dict[str, Counter]]) -> dict[str, int]:
    """Late items per commune code (communes with none left out), from each commune's
    `open_counts`."""
    late = {code: sum(late_counts(c).values()) for code, c in counts.items()}
    return {code: n for code, n in late.items() if n}


def city_late_tags(counts: dict[str, dict[str, Counter]]) -> list[str]:
    """A run tag per commune with late items (`quá hạn:xa001`), from each commune's
    `open_counts`: a city's run list filters by commune (a unit's code means nothing there).
    Bounded (`bounded_late_tags`): the communes with most late items."""
    return bounded_late_tags(late_by_commune(counts))


def city_late_message(city: City, counts: dict[str, dict[str, Counter]]) -> str:
    """`late_message` of a city's sweep: the count of every commune's late items, then the
    communes, the one with most late items first."""
    late = late_by_commune(counts)
    total = sum(late.values())
    if not total:
        return f"{NO_LATE}."
    escalated = sum(c[ItemStatus.ESCALATED] for units in counts.values() for c in units.values())
    worst = sorted(late.items(), key=lambda kv: (-kv[1], kv[0]))
    communes = "; ".join(f"{commune_label(city.known_plan(code))}: {n}" for code, n in worst)
    where = communes_count(str(city.plans[c].commune.kind) for c in late if c in city.plans)
    if any(c not in city.plans for c in late):  # the city office's own items
        where = f"{where} và cơ quan thành phố" if where != "0 xã" else "cơ quan thành phố"
    return f"{total} việc quá hạn ở {where}, trong đó {escalated} việc {REPORTED_UP} — {communes}."


# --- a commune's summary ---------------------------------------------------------------------


def sweep_summary_markdown(
    plan: Plan,
    at: datetime,
    opened: list[tuple[int, str, str, str]],
    advanced: list[tuple[int, str, str]],
    queued: int,
    touched: Sequence[ItemLike],
    counts: dict[str, Counter],
    delivery: str | None,
) -> str:
    """What the sweep at `at` changed (the `touched` items: opened or moved), in Vietnamese,
    then the open items counted by unit (`usecases.reporting.open_counts`)."""
    by_id = {i.id: i for i in touched}
    moved = Counter(parse_step(step).kind for _, step, _ in advanced)
    totals = None
    if opened or advanced or queued:
        totals = [
            f"- Mở mới: **{len(opened)}** việc",
            f"- Nhắc hạn: **{moved[StepKind.REMINDER] + moved[StepKind.DUE]}** việc",
            f"- Chuyển sang quá hạn: **{moved[StepKind.OVERDUE]}** việc",
            f"- Chuyển cấp (báo cáo lãnh đạo): **{moved[StepKind.ESCALATION]}** việc",
            f"- Thư chờ gửi mới: **{queued}**",
        ]
    who = md_text(f"{plan.commune.name} — {plan.commune.plan_short}")
    lines = _heading(vn_datetime(at, plan.zone), who, totals, delivery)
    if opened:
        lines += ["## Việc mở mới", ""]
        lines += [
            f"- #{item_id} {md_text(unit)} — {md_text(obligation_title(plan, ob))}, "
            f"{md_text(period_label(period))}" + _due(by_id.get(item_id))
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
            lines += [_advanced_line(item_id, step, by_id.get(item_id)) for item_id, step in rows]
            lines.append("")
    return "\n".join(lines + _open_by_unit(plan, counts))


def _heading(when: str, who: str, totals: list[str] | None, delivery: str | None) -> list[str]:
    """The summary's title, whose it is, the totals (None: nothing changed), the delivery."""
    lines = [f"# Kết quả rà soát lúc {when}", "", who, ""]
    lines += ["**Không có thay đổi.**", ""] if totals is None else [*totals, ""]
    if delivery:
        lines += [f"**Gửi thư:** {delivery}", ""]
    return lines


def _open_by_unit(plan: Plan, counts: dict[str, Counter]) -> list[str]:
    lines = ["## Việc đang mở theo đơn vị", ""]
    if not counts:
        return lines + ["Không có việc nào đang mở.", ""]
    lines += [
        f"| Đơn vị | Tên đơn vị | Trong hạn | Quá hạn | {REPORTED_UP.capitalize()} | Tổng |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for code, c in counts.items():
        total = sum(c[s] for s in OPEN_STATUSES)
        lines.append(
            f"| {md_text(code)} | {md_text(unit_name(plan, code))} | {c['open']} | {c['overdue']} "
            f"| {c['escalated']} | {total} |"
        )
    return lines + [""]


def _due(item: ItemLike | None) -> str:
    return f" (hạn {vn_date(item.due)})" if item is not None else ""


def _advanced_line(item_id: int, step: str, item: ItemLike | None) -> str:
    if item is None:  # closed or waived meanwhile
        return f"- #{item_id}: {step_label(step)}"
    return (
        f"- #{item_id} {md_text(item.unit)} — {md_text(item.title)}, "
        f"{md_text(period_label(item.period))}{_due(item)}: {step_label(step)}"
    )


def sweep_summary_page(
    plan: Plan,
    at: datetime,
    opened: list[tuple[int, str, str, str]],
    advanced: list[tuple[int, str, str]],
    queued: int,
    touched: Sequence[ItemLike],
    counts: dict[str, Counter],
    delivery: str | None,
) -> Page:
    return Page(
        sweep_summary_key(plan),
        sweep_summary_markdown(plan, at, opened, advanced, queued, touched, counts, delivery),
        f"Kết quả rà soát lúc {vn_datetime(at, plan.zone)}",
    )


# --- a city's summary ------------------------------------------------------------------------


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
    opened, advanced, queued = (sum(changes[k].values()) for k in ("opened", "advanced", "queued"))
    totals = None
    if opened or advanced or queued:
        totals = [
            f"- Mở mới: **{opened}** việc",
            f"- Nhắc hạn, quá hạn, chuyển cấp: **{advanced}** việc",
            f"- Thư chờ gửi mới: **{queued}**",
        ]
    kinds = [str(p.commune.kind) for p in city.plans.values()]
    who = md_text(f"{city.name} — {communes_count(kinds)}")
    lines = _heading(vn_datetime(at, city.zone), who, totals, delivery)
    lines += quarantine_markdown(city)
    heading = commune_kinds_phrase(kinds).capitalize()
    lines += [
        f"## Theo {commune_kinds_phrase(kinds)}",
        "",
        f"| {heading} | Mở mới | Nhắc hạn, quá hạn, chuyển cấp | Thư mới | Đang mở | Quá hạn "
        f"| {REPORTED_UP.capitalize()} |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for plan in city.select(None):  # the communes, then the city office's own items
        code = plan.commune.code
        units = counts.get(code, {}).values()
        total = sum(c[s] for c in units for s in OPEN_STATUSES)
        lines.append(
            f"| {md_text(commune_label(plan))} | {changes['opened'][code]} "
            f"| {changes['advanced'][code]} "
            f"| {changes['queued'][code]} | {total} | {sum(c['overdue'] for c in units)} "
            f"| {sum(c['escalated'] for c in units)} |"
        )
    lines.append("")
    return "\n".join(lines)


def city_summary_page(
    city: City,
    at: datetime,
    changes: dict[str, Counter],
    counts: dict[str, dict[str, Counter]],
    delivery: str | None,
) -> Page:
    return Page(
        city_summary_key(city),
        city_sweep_markdown(city, at, changes, counts, delivery),
        f"Kết quả rà soát các {city.kinds} lúc {vn_datetime(at, city.zone)}",
    )
