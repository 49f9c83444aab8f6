"""The obligations of config files (`obligations`, a city's `reports`): what is owed, by whom,
and on which schedule its due dates fall."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field, WithJsonSchema, model_validator

from schedules.config_base import OBLIGATION_ID, Strict
from schedules.config_policy import Policy
from schedules.vocabulary import UNSCHEDULED_KINDS, ObligationKind

PeriodKind = Literal["year", "half", "quarter", "cchc", "month", "date"]
NamedSet = Literal["quarterly-cchc", "annual", "semiannual", "quarterly", "monthly"]
SignaturePolicy = Literal["warn", "refuse"]
"""What the intake does with a version holding no validly signed PDF: take it and say so on the
receipt and the office page (warn), or refuse it (refuse)."""

DUE_RULES = (
    "day_of_last_month",
    "day_of_month_after",
    "working_days_after_window",
    "working_days_after_period_end",
    "on",
)


class DueRule(Strict):
    """How the due date follows from the period; none set means the occurrence date itself."""

    day_of_last_month: int | None = Field(
        None, ge=1, le=31, description="Day N of the period's last month (a short month: its last)"
    )
    day_of_month_after: int | None = Field(
        None,
        ge=1,
        le=31,
        description="Day N of the month after the period's last month (a short month: its last)",
    )
    working_days_after_window: int | None = Field(
        None, ge=1, le=260, description="Working days after the data window closes (>= 1)"
    )
    working_days_after_period_end: int | None = Field(
        None, ge=1, le=260, description="Working days after the period's last day"
    )
    on: str | None = Field(None, pattern=r"^\d\d-\d\d$", description="MM-DD in the period's year")
    year_offset: int = Field(0, ge=-1, le=1, description="With `on`: year relative to the period")

    @model_validator(mode="after")
    def _one_rule(self) -> DueRule:
        rules = {name: getattr(self, name) for name in DUE_RULES}
        if sum(r is not None for r in rules.values()) > 1:
            raise ValueError(f"give at most one of {', '.join(DUE_RULES)}")
        if self.on is not None:
            month, day = (int(x) for x in self.on.split("-"))
            try:
                date(2028, month, day)  # a leap year: 02-29 is allowed, clamped in other years
            except ValueError as exc:
                raise ValueError(f"'on: {self.on}' is not a day of the year") from exc
        return self


WINDOWED_SETS = ("monthly", "quarterly", "semiannual", "annual")
"""Named sets whose data window `window_start_day` may offset from the calendar period."""


class Schedule(Strict):
    every: NamedSet | None = Field(None, description="A named period set")
    rrule: str | None = Field(None, description="RFC 5545 RRULE; occurrences are period anchors")
    once: date | None = Field(None, description="A one-off deadline")
    period: PeriodKind | None = Field(None, description="With rrule: the period an anchor names")
    due: DueRule = DueRule()
    window_from: date | None = Field(None, description="With once: start of the work window")
    window_start_day: int | None = Field(
        None,
        ge=2,
        le=28,
        description="With every: monthly, quarterly, semiannual or annual: the data window runs "
        "from day D of the month before the period's first month to day D-1 of its last month "
        "(monthly, 15: 2027-02 -> 15/01/2027-14/02/2027)",
    )
    q3_window_from_june: bool = Field(
        True, description="quarterly-cchc: Q3 data window 15/6-14/9 (else 15/12-14/9)"
    )

    @model_validator(mode="after")
    def _one_recurrence(self) -> Schedule:
        given = [self.every is not None, self.rrule is not None, self.once is not None]
        if sum(given) != 1:
            raise ValueError("give exactly one of every, rrule, once")
        if self.period is not None and self.rrule is None:
            raise ValueError("period goes with rrule only")
        if self.window_from is not None and self.once is None:
            raise ValueError("window_from goes with once only")
        if self.rrule is not None and self.period is None:
            raise ValueError(
                "rrule needs period: the period its occurrences name (year, half, quarter, "
                "cchc, month or date) (thiếu kỳ của lịch rrule)"
            )
        if self.window_start_day is not None and self.every not in WINDOWED_SETS:
            raise ValueError(
                f"window_start_day goes with every: {' | '.join(WINDOWED_SETS)} only "
                "(quarterly-cchc has the data windows of Nghị định 09/2019)"
            )
        return self


class Obligation(Strict):
    id: str = Field(pattern=OBLIGATION_ID)
    title: str = Field(min_length=1)
    kind: Annotated[
        ObligationKind,
        # The schema keeps the plain list of words editors offer (no $ref to the enum).
        WithJsonSchema(
            {"enum": [str(k) for k in ObligationKind], "title": "Kind", "type": "string"}
        ),
    ]
    ref: str = Field(min_length=1, description='Where the plan sets it, e.g. "Phụ lục mục II.2"')
    lead: list[str] = Field(min_length=1, description="Unit codes, or ALL")
    coordinators: list[str] = []
    all_except: list[str] = Field(
        [],
        description="Units that ALL does not cover in this obligation's lead and coordinators "
        "(a row about public service units: not the commune police)",
    )
    product: str = Field(
        min_length=1,
        description='What is handed in; "{period}" stands for the item\'s own period, e.g. '
        '"Báo cáo ... {period}" -> "Báo cáo ... quý I năm 2027"; "{plan_short}" and "{plan}" '
        'for the commune\'s plan, "{commune_kind}" for what it is (xã, phường, đặc khu) (also '
        "in title, timing, description)",
    )
    timing: str = Field(min_length=1, description="The plan's own words for the timing")
    due_source: str | None = Field(
        None,
        description='Who sets the due date when the plan gives only a time frame ("Hàng năm"), '
        'e.g. "Kế hoạch CCHC năm {year}" ({year}: the due date\'s year); the mails say "hạn '
        "theo ...\". Unset: the due date is the plan's own",
    )
    description: str | None = None
    schedule: Schedule | None = Field(None, description="None: standing or ad hoc")
    reported_in: str | None = Field(None, description="Obligation id whose report covers this")
    consolidates: str | None = Field(None, description="Obligation id whose reports this sums up")
    start: date | None = None
    end: date | None = None
    policy: Policy = Policy()
    signature: SignaturePolicy = "warn"
    communes: list[str] | None = Field(
        None,
        description="In a city's shared obligations: only these communes (codes); "
        "unset: every commune",
    )

    @model_validator(mode="after")
    def _kind_fits(self) -> Obligation:
        if self.kind in UNSCHEDULED_KINDS:
            if self.schedule is not None:
                raise ValueError(f"a {self.kind} obligation has no schedule")
        elif self.schedule is None:
            raise ValueError(f"a {self.kind} obligation needs a schedule")
        return self
