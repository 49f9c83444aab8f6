"""What the office page shows: the items of the office's communes under its filters, with
their counts by state (`office_list`), and the labels of its commune and unit filters.

The counts are the database's and cover every item the filters select; the rows are the first
`MAX_ROWS` of them (commune, unit, due date), each with its versions, the ones awaiting review
and the defaults of its forms."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlmodel import col

from cchc.intake.item_views import consolidated_sources, owed_fields, version_view
from models.db import transaction
from models.tables import Deliverable, Directive, WorkItem, saved_id
from notifications.commune_views import unit_view
from notifications.facts import load_directives
from notifications.item_view import item_view
from notifications.phrases import shorten
from schedules.periods import period_label
from schedules.vocabulary import OPEN_STATUSES, DeliverableStatus, ItemStatus

if TYPE_CHECKING:
    from cchc.intake.context import IntakeContext
    from schedules.plan import Plan

MAX_ROWS = 300
"""Items the office page shows in full at once; its counts cover every item the filters select.
A commune's year stays well below it, a city's does not (114 communes): filter to see more."""
COUNTED = ("total", "review", "late", "escalated", "open", "closed", "waived")
"""The counts at the top of the office page (and per commune for the city's office)."""
_PEOPLES_COMMITTEE = re.compile(r"^(ủy|uỷ) ban nhân dân\s+", re.IGNORECASE)

Versions = dict[int, list[Deliverable]]
"""An item's handed-in parts, by version."""
ALL_YEARS = "all"
"""The year filter's choice of every item of every year. No year chosen: the items still to
act on (owed, or with a version awaiting review), whatever their year."""
Year = int | str | None
"""The year filter: a year (the items due in it), `ALL_YEARS`, or None (still to act on)."""
LATE = "late"
"""The status filter's choice of the late items (`ItemStatus.late_on`): overdue, escalated,
or still open past the due date."""
REVIEW = "review"
"""The status filter's choice of the items with a version awaiting review."""


def commune_label(plan: Plan) -> str:
    """A commune as the city's office reads it in a list: "xã Mao Điền" for "Ủy ban nhân dân
    xã Mao Điền"; the city office's own plan by the office's name."""
    if plan.communes is not None:
        return unit_view(plan, plan.commune.standing_office).name
    name = unicodedata.normalize("NFC", plan.commune.name)
    return _PEOPLES_COMMITTEE.sub("", name) or name


def unit_choices(ctx: IntakeContext, communes: list[str]) -> dict[str, str]:
    """The units the filter offers (code → name), those of `communes`: a code several communes
    share (each has its Văn phòng, VP) is offered once and selects it in each."""
    choices: dict[str, str] = {}
    for code in communes:
        for unit_code, unit in ctx.city.known_plan(code).units.items():
            choices.setdefault(unit_code, unit.name)
    return choices


@dataclass(frozen=True)
class _Found:
    """What the database holds for the office page, read in one transaction."""

    by_status: Sequence
    """(commune, status, due, count) of the selected items."""
    in_review: Sequence
    """(commune, count) of the selected items with a version awaiting review."""
    items: list[WorkItem]
    """The first MAX_ROWS selected items."""
    files: list[Deliverable]
    """Every handed-in part of those items."""
    directives: dict[int, Directive]
    """The directives those items act on, by id."""


def office_list(
    ctx: IntakeContext,
    communes: list[str],
    year: Year,
    unit: str | None,
    status: str | None,
    today: date,
) -> dict:
    """What the office page lists for `communes` under the filters:

    1. `counts`: how many items the filters select, by state (`COUNTED`), counted by the
       database, and `by_commune` the same per commune (when there are several);
    2. `rows`: the first MAX_ROWS of those items (commune, unit, due date), each with its
       versions, the ones awaiting review and the forms' defaults.
    """
    found = _read(ctx, _chosen(communes, year, unit, status, today))
    counts = _counts(communes, found, today)
    several = len(communes) > 1
    return {
        "rows": _rows(ctx, found, several, today),
        "counts": {key: sum(c[key] for c in counts.values()) for key in COUNTED},
        "by_commune": [
            {
                "code": code,
                "label": commune_label(ctx.city.known_plan(code)),
                "counts": counts[code],
            }
            for code in communes
        ]
        if several
        else [],
    }


def _awaiting():
    """The ids of the items with a version awaiting review."""
    return select(col(Deliverable.item_id)).where(
        col(Deliverable.status) == DeliverableStatus.RECEIVED
    )


def _chosen(
    communes: list[str], year: Year, unit: str | None, status: str | None, today: date
) -> list[ColumnElement[bool]]:
    """The conditions the filters put on the items: due in `year` (`Year`), of `unit`, in
    `status` as of `today` (`_status_condition`)."""
    due = col(WorkItem.due)
    chosen: list[ColumnElement[bool]] = [col(WorkItem.commune).in_(communes)]
    if isinstance(year, int):
        chosen += [due >= date(year, 1, 1), due <= date(year, 12, 31)]
    elif year is None:
        chosen.append(
            or_(col(WorkItem.status).in_(OPEN_STATUSES), col(WorkItem.id).in_(_awaiting()))
        )
    if unit:
        chosen.append(col(WorkItem.unit) == unit)
    if status:
        chosen.append(_status_condition(status, today))
    return chosen


def _status_condition(status: str, today: date) -> ColumnElement[bool]:
    """The items a status filter selects on `today`, as the page counts them: "trong hạn" the
    open items not yet past due, "quá hạn" the overdue ones and those open past due, `LATE`
    every late one (escalated too), `REVIEW` those with a version awaiting review."""
    stored, due = col(WorkItem.status), col(WorkItem.due)
    past_due = and_(stored == ItemStatus.OPEN, due < today)
    if status == REVIEW:
        return col(WorkItem.id).in_(_awaiting())
    if status == LATE:
        return or_(stored.in_([ItemStatus.OVERDUE, ItemStatus.ESCALATED]), past_due)
    if status == ItemStatus.OPEN:
        return and_(stored == ItemStatus.OPEN, due >= today)
    if status == ItemStatus.OVERDUE:
        return or_(stored == ItemStatus.OVERDUE, past_due)
    return stored == status


def year_choices(ctx: IntakeContext, communes: list[str], today: date) -> list[int]:
    """The years the year filter offers, newest first: from the last year an item is due in
    (this year at least) back to the first."""
    with transaction(ctx.engine) as session:
        first, last = session.execute(
            select(func.min(WorkItem.due), func.max(WorkItem.due)).where(
                col(WorkItem.commune).in_(communes)
            )
        ).one()
    newest = max(last.year if last else today.year, today.year)
    oldest = min(first.year if first else today.year, today.year)
    return list(range(newest, oldest - 1, -1))


def _read(ctx: IntakeContext, chosen: list) -> _Found:
    """The counts of the items `chosen` selects, the first MAX_ROWS of them and their parts."""
    with transaction(ctx.engine) as session:
        by_status = session.execute(
            select(col(WorkItem.commune), col(WorkItem.status), col(WorkItem.due), func.count())
            .where(*chosen)
            .group_by(col(WorkItem.commune), col(WorkItem.status), col(WorkItem.due))
        ).all()
        in_review = session.execute(
            select(col(WorkItem.commune), func.count())
            .where(*chosen, col(WorkItem.id).in_(_awaiting()))
            .group_by(col(WorkItem.commune))
        ).all()
        items = list(
            session.scalars(
                select(WorkItem)
                .where(*chosen)
                .order_by(
                    col(WorkItem.commune), col(WorkItem.unit), col(WorkItem.due), col(WorkItem.id)
                )
                .limit(MAX_ROWS)
            )
        )
        ids = [i.id for i in items]
        files = (
            list(
                session.scalars(
                    select(Deliverable)
                    .where(col(Deliverable.item_id).in_(ids))
                    .order_by(col(Deliverable.version), col(Deliverable.part))
                )
            )
            if ids
            else []
        )
        directives = load_directives(session, items)
    return _Found(by_status, in_review, items, files, directives)


def _counts(communes: list[str], found: _Found, today: date) -> dict[str, dict[str, int]]:
    """The `COUNTED` counts of each commune as of `today`: "late" as every surface says it
    (`ItemStatus.late_on`: overdue, escalated, or open past its due date), "open" the open
    items still in time."""
    counts = {code: dict.fromkeys(COUNTED, 0) for code in communes}
    for code, item_status, due, n in found.by_status:
        status = ItemStatus(item_status)
        late = status.late_on(due, today)
        key = (ItemStatus.OVERDUE if status == ItemStatus.OPEN and late else status).value
        counts[code]["total"] += n
        counts[code][key] = counts[code].get(key, 0) + n
        if late:
            counts[code]["late"] += n
    for code, n in found.in_review:
        counts[code]["review"] = n
    return counts


def _rows(ctx: IntakeContext, found: _Found, several: bool, today: date) -> list[dict]:
    """The listed items, each with its versions; a returned version's default new due date is
    five working days ahead on its commune's calendar."""
    by_item: dict[int, Versions] = {}
    for part in found.files:
        by_item.setdefault(part.item_id, {}).setdefault(part.version, []).append(part)
    default_due: dict[str, str] = {}
    rows = []
    for item in found.items:
        plan = ctx.city.known_plan(item.commune)
        if item.commune not in default_due:
            default_due[item.commune] = plan.calendar.add_working_days(today, 5).isoformat()
        directive = found.directives.get(item.directive_id) if item.directive_id else None
        row = _row(ctx, plan, item, by_item.get(saved_id(item), {}), several, today, directive)
        rows.append({**row, "default_due": default_due[item.commune]})
    return rows


def _row(
    ctx: IntakeContext,
    plan: Plan,
    item: WorkItem,
    found: Versions,
    several: bool,
    today: date,
    directive: Directive | None = None,
) -> dict:
    """One listed item; `several`: the page lists several communes (the heading names the
    commune); `directive`: the one it acts on, if any."""
    unit_name = plan.units[item.unit].name if item.unit in plan.units else item.unit
    view = item_view(plan, item, today, directive)
    return {
        "item": item,
        "state": view.status_label,
        "unit_name": unit_name,
        "group": _group(commune_label(plan), unit_name) if several else unit_name,
        "title": shorten(item.title, 110),
        "period": period_label(item.period),
        "countdown": view.countdown if item.status in OPEN_STATUSES else "",
        "receivable": item.status in OPEN_STATUSES,
        "latest": version_view(plan, found[max(found)]) if found else None,
        "awaiting": [
            version_view(plan, parts)
            for _, parts in sorted(found.items())
            if parts[0].status == DeliverableStatus.RECEIVED
        ],
        "newest_version": max(found) if found else None,
        "version_count": len(found),
        "view": view,
        "sources": consolidated_sources(ctx, plan, item, today),
        "owed": owed_fields(ctx, plan, item),
    }


def _group(commune: str, unit: str) -> str:
    """The heading an item is listed under on the city's office page."""
    return unit if commune == unit else f"{commune} · {unit}"
