"""Use cases of indicator values: what a unit's item owes (with the previous period's value
beside each), and entering or correcting values, checked, as append-only rows.

A value belongs to the item of the report that carries it (the unit's periodic report of a
period). It can change until the office accepts a version of that report; after that it is
frozen: the office returns the report (`usecases.review.return_version`) before a value is
corrected. A value more than the indicator's `jump_factor` away from the unit's previous one is
a warning the person confirms (`confirm`); any refused value refuses the whole entry: nothing is
stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from models.db import transaction
from models.store import log_event
from models.tables import Deliverable, IndicatorValue, WorkItem
from schedules.config_indicators import Indicator
from schedules.indicators import Figure, jump, owed, parse_figure, ratio_figure
from schedules.plan import Plan
from schedules.vocabulary import DeliverableStatus, EventKind, ItemStatus
from usecases.errors import UserError
from usecases.items import get_item


class NeedsConfirmation(UserError):
    """Every value is valid, but some jump from the previous period: confirm to store them."""

    def __init__(self, warnings: list[str]):
        super().__init__(
            "Cần xác nhận (--confirm) vì số liệu thay đổi bất thường so với kỳ trước:\n"
            + "\n".join(f"- {w}" for w in warnings)
        )
        self.warnings = warnings


@dataclass(frozen=True)
class Owed:
    """One indicator an item owes: its value in force, the unit's previous period's."""

    indicator: Indicator
    current: Figure | None
    previous: Figure | None
    previous_period: str | None


@dataclass(frozen=True)
class Entered:
    indicator: Indicator
    figure: Figure | None
    warning: str | None


def figure_of(row: IndicatorValue | None) -> Figure | None:
    if row is None or row.numerator is None:
        return None
    return Figure(row.numerator, row.denominator)


def newest_values(
    session: Session, item_ids: Iterable[int]
) -> dict[tuple[int, str], IndicatorValue]:
    """The value in force of each (item, indicator) of `item_ids`: its newest row."""
    ids = list(item_ids)
    if not ids:
        return {}
    newest = (
        select(func.max(col(IndicatorValue.id)))
        .where(col(IndicatorValue.item_id).in_(ids))
        .group_by(col(IndicatorValue.item_id), col(IndicatorValue.indicator))
    )
    rows = session.scalars(select(IndicatorValue).where(col(IndicatorValue.id).in_(newest)))
    return {(row.item_id, row.indicator): row for row in rows}


def frozen(session: Session, item_id: int) -> bool:
    """The office accepted a version of the item's report, and returned none after it: its
    values no longer change."""

    def last(status: DeliverableStatus) -> int | None:
        return session.scalar(
            select(func.max(col(Deliverable.version))).where(
                col(Deliverable.item_id) == item_id, col(Deliverable.status) == status
            )
        )

    accepted = last(DeliverableStatus.ACCEPTED)
    if accepted is None:
        return False
    returned = last(DeliverableStatus.RETURNED)
    return returned is None or returned < accepted


def _earlier_items(session: Session, item: WorkItem) -> list[WorkItem]:
    """The unit's earlier items of the same obligation, newest period first."""
    query = (
        select(WorkItem)
        .where(
            col(WorkItem.commune) == item.commune,
            col(WorkItem.obligation) == item.obligation,
            col(WorkItem.unit) == item.unit,
            col(WorkItem.window_end) < item.window_end,
        )
        .order_by(col(WorkItem.window_end).desc())
    )
    return list(session.scalars(query))


def _previous(
    session: Session, item: WorkItem, indicators: list[Indicator]
) -> dict[str, tuple[Figure, str]]:
    """The unit's latest earlier value of each indicator, with its period."""
    earlier = _earlier_items(session, item)
    values = newest_values(session, [e.id for e in earlier if e.id is not None])
    found: dict[str, tuple[Figure, str]] = {}
    for indicator in indicators:
        for before in earlier:
            figure = figure_of(values.get((before.id or 0, indicator.id)))
            if figure is not None:
                found[indicator.id] = (figure, before.period)
                break
    return found


def owed_by(session: Session, plan: Plan, item: WorkItem) -> list[Owed]:
    """What the item owes, each with its value in force and the unit's previous one."""
    indicators = owed(plan, item.obligation, item.unit)
    if not indicators or item.id is None:
        return []
    values = newest_values(session, [item.id])
    previous = _previous(session, item, indicators)
    return [
        Owed(
            indicator,
            figure_of(values.get((item.id, indicator.id))),
            previous.get(indicator.id, (None, None))[0],
            previous.get(indicator.id, (None, None))[1],
        )
        for indicator in indicators
    ]


def owed_values(plan: Plan, engine: Engine, item_id: int) -> list[Owed]:
    with transaction(engine) as session:
        return owed_by(session, plan, get_item(session, plan, item_id))


def parse_entries(
    indicators: Mapping[str, Indicator], texts: Mapping[str, str | tuple[str, str]]
) -> tuple[dict[str, Figure | None], list[str]]:
    """Each text parsed as its indicator's figure (a pair: a ratio's two fields; "" or a blank
    pair: clear the value); the reasons of those refused."""
    figures: dict[str, Figure | None] = {}
    errors: list[str] = []
    known = ", ".join(indicators) or "không có"
    for iid, text in texts.items():
        indicator = indicators.get(iid)
        if indicator is None:
            errors.append(
                f"Chỉ tiêu '{iid}' không thuộc báo cáo này; các chỉ tiêu của báo cáo: {known}"
            )
            continue
        try:
            if isinstance(text, tuple):
                blank = not any(part.strip() for part in text)
                figures[iid] = None if blank else ratio_figure(indicator, *text)
            else:
                figures[iid] = None if not text.strip() else parse_figure(indicator, text)
        except ValueError as exc:
            errors.append(f"{indicator.name} ({iid}): {exc}")
    return figures, errors


def enter_values(
    plan: Plan,
    engine: Engine,
    item_id: int,
    texts: Mapping[str, str | tuple[str, str]],
    at: datetime,
    actor: str,
    source: str = "cli",
    confirm: bool = False,
    unit: str | None = None,
) -> list[Entered]:
    """Enter or correct the item's indicator values (`texts`: indicator id -> "NUM/DEN",
    "NUM", or a ratio's two fields). `unit`: the unit entering them on its page (the item must
    be its own). All or nothing: UserError with every reason when a value is refused, the item
    is not taking values, or (without `confirm`) a value jumps from the unit's previous one
    (`NeedsConfirmation`). Unchanged values are not written again."""
    if not texts:
        raise UserError("Chưa nhập chỉ tiêu nào: dùng --set MÃ=TỬ/MẪU hoặc --set MÃ=SỐ")
    with transaction(engine) as session:
        item = get_item(session, plan, item_id)
        if unit is not None and item.unit != unit:
            raise UserError(f"Nhiệm vụ số {item_id} không phải của đơn vị {unit}.")
        indicators = {i.id: i for i in owed(plan, item.obligation, item.unit)}
        if not indicators:
            raise UserError(f"Nhiệm vụ số {item_id} không có chỉ tiêu nào phải báo cáo.")
        if item.status == ItemStatus.WAIVED:
            raise UserError("Nhiệm vụ đã được miễn: không nhận số liệu chỉ tiêu.")
        if frozen(session, item_id):
            raise UserError(
                f"Số liệu chỉ tiêu của nhiệm vụ số {item_id} đã chốt khi văn phòng chấp nhận báo "
                "cáo; chỉ sửa được khi báo cáo được trả lại (return)."
            )
        figures, errors = parse_entries(indicators, texts)
        if errors:
            raise UserError(
                "Số liệu không hợp lệ, chưa lưu gì:\n" + "\n".join(f"- {e}" for e in errors)
            )
        current = newest_values(session, [item_id])
        previous = _previous(session, item, list(indicators.values()))
        entered: list[Entered] = []
        for iid, figure in figures.items():
            if figure == figure_of(current.get((item_id, iid))):
                continue
            before = previous.get(iid)
            warning = (
                jump(indicators[iid], before[0].value, figure.value)
                if before is not None and figure is not None
                else None
            )
            entered.append(Entered(indicators[iid], figure, warning))
        warnings = [f"{e.indicator.name}: {e.warning}" for e in entered if e.warning]
        if warnings and not confirm:
            raise NeedsConfirmation(warnings)
        for e in entered:
            session.add(_row(item, e, at, actor, source))
        if entered:
            log_event(
                session,
                item_id,
                at,
                EventKind.INDICATORS,
                actor=actor,
                source=source,
                values={e.indicator.id: _text(e.figure) for e in entered},
                confirmed=warnings,
            )
        return entered


def _row(item: WorkItem, e: Entered, at: datetime, actor: str, source: str) -> IndicatorValue:
    assert item.id is not None, "an item read from the database has an id"
    return IndicatorValue(
        item_id=item.id,
        commune=item.commune,
        indicator=e.indicator.id,
        unit=item.unit,
        period=item.period,
        numerator=e.figure.numerator if e.figure else None,
        denominator=e.figure.denominator if e.figure else None,
        at=at,
        actor=actor,
        source=source,
        confirmed=e.warning,
    )


def _text(figure: Figure | None) -> str | None:
    if figure is None:
        return None
    if figure.denominator is None:
        return f"{figure.numerator:g}"
    return f"{figure.numerator:g}/{figure.denominator:g}"
