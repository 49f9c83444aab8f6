"""The rules of an indicator's values, pure: the target of a year, what a figure typed by a
person means, whether it is a valid value, a jump from the last period, and the verdict.

One home for each: the use cases (`usecases/indicator_values.py`, `usecases/indicator_report.py`)
and every page and mail ask here. Messages are Vietnamese (they reach the unit and the office).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from schedules.config_indicators import Indicator
from schedules.plan import Plan

YES = ("1", "có", "co", "yes", "true", "đạt")
NO = ("0", "không", "khong", "no", "false")


@dataclass(frozen=True)
class Figure:
    """A value as stored: numerator, and denominator for a ratio or a yes/no (1); `value` is
    what is compared with the target (% for a ratio or a yes/no, the number for a count)."""

    numerator: float
    denominator: float | None

    @property
    def value(self) -> float:
        if self.denominator is None:
            return self.numerator
        return 100.0 * self.numerator / self.denominator if self.denominator else 0.0


def target_for(indicator: Indicator, year: int) -> float:
    """The target in force in `year`: that year's step, else the last step before it, else
    the plan's target (due by `by`)."""
    earlier = [y for y in indicator.steps if y <= year]
    return indicator.steps[max(earlier)] if earlier else indicator.target


def percent(indicator: Indicator) -> bool:
    return indicator.measure != "count"


def vn_number(value: float, digits: int = 1) -> str:
    """A number as Vietnamese write it: "85", "85,5" (comma for the decimal point)."""
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:.0f}"
    return text.replace(".", ",")


def shown(indicator: Indicator, value: float | None) -> str:
    """The value as people read it: "85,5 %", "12"; "—" when there is none."""
    if value is None:
        return "—"
    return f"{vn_number(value)} %" if percent(indicator) else vn_number(value)


def target_words(indicator: Indicator, year: int) -> str:
    """ "≥ 85 %" (by 2030: "≥ 85 % (năm 2030)")."""
    sign = "≥" if indicator.direction == "at_least" else "≤"
    text = f"{sign} {shown(indicator, target_for(indicator, year))}"
    return f"{text} (đến năm {indicator.by})" if indicator.by and indicator.by != year else text


NO_DATA = "chưa có số liệu"
MET = "đạt"


def gap(indicator: Indicator, value: float, year: int) -> float:
    """How far `value` is from the year's target: positive when short of it (above a ceiling)."""
    target = target_for(indicator, year)
    return target - value if indicator.direction == "at_least" else value - target


def verdict(indicator: Indicator, value: float | None, year: int) -> str:
    """ "đạt", "chưa đạt (còn thiếu x điểm %)" ("vượt x" for a ceiling), "chưa có số liệu"."""
    if value is None:
        return NO_DATA
    missing = gap(indicator, value, year)
    if missing <= 1e-9:
        return MET
    unit = " điểm %" if percent(indicator) else ""
    what = "còn thiếu" if indicator.direction == "at_least" else "vượt"
    return f"chưa đạt ({what} {vn_number(missing)}{unit})"


_NUMBER = re.compile(r"^\d+(?:[.,]\d+)?$")


def parse_number(text: str, what: str) -> float:
    """A non-negative number typed by a person ("12", "12,5", "12.5"); ValueError in
    Vietnamese otherwise."""
    cleaned = text.strip().replace(" ", "")
    if not _NUMBER.fullmatch(cleaned):
        raise ValueError(f"{what} phải là một số không âm (chỉ gồm chữ số), không phải '{text}'")
    number = float(cleaned.replace(",", "."))
    if not math.isfinite(number):
        raise ValueError(f"{what} không phải là một số hợp lệ: '{text}'")
    return number


def parse_figure(indicator: Indicator, text: str) -> Figure:
    """The figure of `text` for `indicator` ("NUM/DEN" for a ratio, "NUM" for a count, 1/0 or
    có/không for a yes/no), checked: numbers only, numerator ≤ denominator, within range.
    ValueError with the reason in Vietnamese."""
    text = text.strip()
    if indicator.measure == "yes_no":
        word = text.lower()
        if word in YES:
            return Figure(1.0, 1.0)
        if word in NO:
            return Figure(0.0, 1.0)
        raise ValueError(f"chỉ tiêu có/không: nhập 1 (có) hoặc 0 (không), không phải '{text}'")
    if indicator.measure == "ratio":
        parts = text.split("/")
        if len(parts) != 2:
            raise ValueError(
                f"chỉ tiêu tỷ lệ: nhập TỬ/MẪU, ví dụ 170/200 ({indicator.numerator} / "
                f"{indicator.denominator}), không phải '{text}'"
            )
        return ratio_figure(indicator, parts[0], parts[1])
    if "/" in text:
        raise ValueError(f"chỉ tiêu số lượng: nhập một số, không phải tỷ lệ '{text}'")
    number = parse_number(text, "Số liệu")
    if indicator.maximum is not None and number > indicator.maximum:
        raise ValueError(
            f"{vn_number(number)} vượt giá trị lớn nhất {vn_number(indicator.maximum)} của chỉ tiêu"
        )
    return Figure(number, None)


def ratio_figure(indicator: Indicator, numerator: str, denominator: str) -> Figure:
    """A ratio's two fields, checked (the upload page's two inputs)."""
    top = parse_number(numerator, f"Tử số ({indicator.numerator})")
    bottom = parse_number(denominator, f"Mẫu số ({indicator.denominator})")
    if bottom == 0:
        raise ValueError(f"Mẫu số ({indicator.denominator}) phải lớn hơn 0")
    if top > bottom:
        raise ValueError(
            f"Tử số {vn_number(top)} lớn hơn mẫu số {vn_number(bottom)}: tỷ lệ không thể vượt 100 %"
        )
    return Figure(top, bottom)


def jump(indicator: Indicator, previous: float | None, value: float) -> str | None:
    """The warning about a value more than `jump_factor` times (or less than 1/`jump_factor`
    of) the unit's previous period's; None when there is no previous value or it is 0."""
    if previous is None or previous <= 0:
        return None
    factor = indicator.jump_factor
    if value > previous * factor or value < previous / factor:
        return (
            f"{shown(indicator, value)} khác nhiều so với kỳ trước ({shown(indicator, previous)}, "
            f"chênh quá {vn_number(factor)} lần): kiểm tra lại rồi xác nhận"
        )
    return None


def reporters(plan: Plan, indicator: Indicator) -> list[str]:
    """The units that report `indicator`: those of `reported_by` (ALL: every unit) that owe
    the report carrying it."""
    owing = (
        plan.lead_units(indicator.reported_in) if indicator.reported_in in plan.obligations else []
    )
    named = plan.expand_units(indicator.reported_by)
    return [code for code in owing if code in named]


def owed(plan: Plan, obligation: str, unit: str) -> list[Indicator]:
    """The indicators a unit's item of `obligation` carries, in the config's order."""
    return [
        indicator
        for indicator in plan.indicators.values()
        if indicator.reported_in == obligation and unit in reporters(plan, indicator)
    ]


def period_year(period: str) -> int:
    """The year of a period key ("2027-Q1", "2027-H1", "2027"): whose target applies."""
    return int(period[:4])
