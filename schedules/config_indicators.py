"""The indicators of config files (`indicators`): the plan's numeric targets (chỉ tiêu)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from schedules.config_base import OBLIGATION_ID, Strict

IndicatorMeasure = Literal["ratio", "count", "yes_no"]
"""How an indicator is measured: a ratio of a named numerator over a named denominator (shown in
%), a count, or a yes/no (1 or 0; a commune's is the share of its units that answer yes)."""
Direction = Literal["at_least", "at_most"]


class Indicator(Strict):
    """A numeric target of the plan (chỉ tiêu), whose value units report with a report."""

    id: str = Field(pattern=OBLIGATION_ID, description="Indicator id, e.g. ho-so-truc-tuyen")
    ref: str = Field(min_length=1, description='Where the plan sets it, e.g. "Mục II.2.a"')
    name: str = Field(min_length=1)
    reported_by: list[str] = Field(
        min_length=1, description="Unit codes that report it, or ALL (every unit)"
    )
    measure: IndicatorMeasure
    numerator: str | None = Field(None, description="With ratio: what the numerator counts")
    denominator: str | None = Field(None, description="With ratio: what the denominator counts")
    direction: Direction = "at_least"
    target: Annotated[float, Field(ge=0)] = Field(
        description="The target: a percentage for ratio and yes_no (100: every unit says yes), "
        "a number for count"
    )
    by: int | None = Field(None, ge=2000, le=2100, description="The year the target is due")
    steps: dict[int, Annotated[float, Field(ge=0)]] = Field(
        {}, description="Yearly steps the annual plans set: year -> target of that year"
    )
    reported_in: str = Field(
        min_length=1, description="Obligation id whose report carries the value"
    )
    maximum: float | None = Field(None, gt=0, description="With count: the largest value")
    jump_factor: float = Field(
        2.0,
        gt=1,
        description="A value more than this many times (or less than 1/this of) the unit's "
        "previous one is a warning the unit confirms",
    )
    communes: list[str] | None = Field(
        None, description="In a city's shared indicators: only these communes; unset: every one"
    )

    @model_validator(mode="after")
    def _measure_fits(self) -> Indicator:
        named = self.numerator is not None and self.denominator is not None
        if self.measure == "ratio" and not named:
            raise ValueError("a ratio names its numerator and its denominator")
        if self.measure != "ratio" and (self.numerator or self.denominator):
            raise ValueError("numerator and denominator go with measure: ratio only")
        if self.maximum is not None and self.measure != "count":
            raise ValueError("maximum goes with measure: count only (a ratio is 0-100 %)")
        percent = self.measure != "count"
        values: dict[str, float] = {"target": self.target}
        values |= {f"steps.{year}": value for year, value in self.steps.items()}
        for where, value in values.items():
            if percent and value > 100:
                raise ValueError(f"{where}: {value:g} is a percentage, at most 100")
        if self.by is not None and any(year > self.by for year in self.steps):
            raise ValueError(f"steps after {self.by} (by): the target is due by then")
        return self
