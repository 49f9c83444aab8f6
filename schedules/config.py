"""The shape of config/*.yaml: the commune, its units, the calendar overrides and the obligations.

These pydantic models are the single source of the config's rules; `cchc schema` exports them as
JSON Schema for editors. Cross-file rules (unknown unit codes, duplicate ids, RRULEs that never
fire, ...) live in `schedules.plan_checks`.
"""

from __future__ import annotations

import re
from datetime import date, time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from schedules.commune_kinds import CommuneKind
from schedules.vocabulary import UNSCHEDULED_KINDS, ObligationKind

UNIT_CODE = r"^[A-Z][A-Z0-9_]{0,31}$"
OBLIGATION_ID = r"^[a-z0-9][a-z0-9-]{1,63}$"
ALL_UNITS = "ALL"
"""In `lead` or `coordinators`: every unit counted among "Các cơ quan, đơn vị"."""

ESCALATION_ROLES = ("head", "leadership", "leader_in_charge", "standing_office")
"""Targets of an escalation level besides a unit code: the item's head of unit, the commune's
leadership (those marked `escalation: true`), the leader in charge of administrative reform
(`in_charge: true`; the whole leadership when nobody is), the standing office's address."""

PeriodKind = Literal["year", "half", "quarter", "cchc", "month", "date"]
NamedSet = Literal["quarterly-cchc", "annual", "semiannual", "quarterly", "monthly"]
Shift = Literal["next_working_day", "previous_working_day", "none"]
SignaturePolicy = Literal["warn", "refuse"]
"""What the intake does with a version holding no validly signed PDF: take it and say so on the
receipt and the office page (warn), or refuse it (refuse)."""
WorkingDays = Annotated[int, Field(ge=0, le=260)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Person(Strict):
    name: str = Field(min_length=1)
    title: str | None = None
    email: EmailStr
    phone: str | None = None


class Leader(Person):
    escalation: bool = Field(True, description="Receives escalations of overdue items")
    in_charge: bool = Field(
        False,
        description="The leader in charge of administrative reform (Phó Chủ tịch phụ trách): "
        "escalation target leader_in_charge; the standing office's own items escalate here "
        "after its head",
    )
    overview: bool | None = Field(
        None,
        description="Receives the quarterly overview; unset: the Chủ tịch (title or name "
        "starting with 'Chủ tịch') and the leader in charge do",
    )
    chair: bool = Field(
        False,
        description="The Chủ tịch (the head of the commune's People's Committee): the city "
        "office's escalation of a report late to the city is addressed here; unset on every "
        'leader: the one whose title starts with "Chủ tịch"',
    )


class Unit(Strict):
    code: str = Field(pattern=UNIT_CODE, description="Short code, e.g. VHXH")
    name: str = Field(min_length=1, description="Vietnamese name of the unit")
    short_name: str | None = Field(
        None,
        min_length=1,
        max_length=30,
        description="The name mail subjects use, to keep them under ~100 characters, e.g. "
        '"Trung tâm PVHCC" (default: name)',
    )
    email: EmailStr
    head: Person
    in_all: bool = Field(
        True, description='Counted in "Các cơ quan, đơn vị" (ALL) when that is the lead'
    )
    digest: bool = Field(False, description="One daily digest mail instead of one per item")


ESCALATION_LIMITS = ("consolidated_due",)
"""What a level may be pulled forward to (`before`): the due date of the report that
consolidates the item's obligation, for the same data window."""


class EscalationLevel(Strict):
    after: int = Field(ge=1, le=260, description="Working days after the due date")
    to: list[str] = Field(
        min_length=1, description="head | leadership | leader_in_charge | standing_office | CODE"
    )
    before: Literal["consolidated_due"] | None = Field(
        None,
        description="At the latest on this date: consolidated_due, the due date of the report "
        "that consolidates this one (same period), so the ladder ends before it is due",
    )


class Policy(Strict):
    """Reminder and escalation rules; unset fields fall back to the commune's defaults."""

    open_before_due: WorkingDays | None = Field(
        None, description="Open the item this many working days before its due date"
    )
    reminders: list[Annotated[int, Field(ge=1, le=260)]] | None = Field(
        None, description="Reminder lead times, in working days before the due date"
    )
    due_day_notice: bool | None = Field(None, description="Mail on the due date itself")
    escalation: list[EscalationLevel] | None = None
    shift: Shift | None = Field(
        None,
        description="Due date on a day off: move to the next working day (BLDS), to the previous"
        " one (a deadline within a month: its last working day), or keep it",
    )
    inputs_before_due: WorkingDays | None = Field(
        None,
        description="Coordinating units send their inputs this many working days before the "
        "lead's due date (default 3)",
    )
    catch_up_grace: Annotated[int, Field(ge=1, le=60)] | None = Field(
        None,
        description="An item opened after its due date (a late first run, catch-up) gets this "
        "many working days from its opening before any escalation (default 3)",
    )
    min_notice: Annotated[int, Field(ge=1, le=60)] | None = Field(
        None,
        description="An item opened late (after its opening day, e.g. by a commune's first "
        "run) fewer than this many working days before its due date is due this many working "
        "days after the day it opened instead; the mails state it (default 5)",
    )
    escalation_time: time | None = Field(
        None,
        description="Local time the escalations to heads and leaders go out, later than the "
        "sweep (the morning's documents are recorded first); unset: with the sweep",
    )

    @field_validator("escalation_time", mode="before")
    @classmethod
    def _clock_time(cls, value: object) -> object:
        return None if value is None else clock_time(value)


OPTIONAL_DEFAULTS = {
    "inputs_before_due": 3,
    "catch_up_grace": 3,
    "min_notice": 5,
    "escalation_time": None,
}
"""Policy fields the commune's `defaults` may leave out, and their built-in values
(`escalation_time` None: the escalations go out with the sweep)."""


def clock_time(value: object) -> object:
    """Only HH:MM (or HH:MM:SS) for a clock time: pydantic would read 450 or "0730" as
    seconds."""
    if isinstance(value, time):
        return value
    if not (isinstance(value, str) and re.fullmatch(r"\d\d:\d\d(:\d\d)?", value)):
        raise ValueError(
            f'{value!r} is not a time HH:MM: write it quoted, e.g. "07:30" (a number such '
            "as 0730 is read as a number) (giờ phải viết HH:MM, đặt trong dấu nháy)"
        )
    return value


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


class Sender(Strict):
    """Who a commune's mails come from (From), instead of CCHC_SMTP_FROM."""

    name: str = Field(min_length=1, description='Display name, e.g. "UBND phường Mẫu"')
    email: EmailStr


class Commune(Strict):
    code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")
    name: str
    kind: Annotated[
        CommuneKind,
        WithJsonSchema({"enum": [str(k) for k in CommuneKind], "title": "Kind", "type": "string"}),
    ] = Field(
        CommuneKind.XA,
        description="xa | phuong | dac_khu: how mails, pages and shared plans name the commune "
        "({commune_kind} in a shared plan's texts)",
    )
    sender: Sender | None = Field(
        None,
        description="From of this commune's mails; unset: in a city, its standing office's name "
        "and address, else CCHC_SMTP_FROM",
    )
    plan: str = Field(description='The plan, e.g. "Kế hoạch số 84/KH-UBND ngày 13/10/2025"')
    plan_short: str = Field(description='Short reference, e.g. "84/KH-UBND"')
    timezone: str = "Asia/Ho_Chi_Minh"
    standing_office: str = Field(pattern=UNIT_CODE)
    contact: Person = Field(description="Whom units call at the standing office")
    leadership: list[Leader] = Field(min_length=1)
    plan_start: date
    plan_end: date
    start: date = Field(description="The engine opens and nags only items due on or after this")
    go_live: date | None = Field(
        None,
        description="The day the commune goes live: items due before it and not done are held "
        "for the standing office to sort out (`cchc triage`), never mailed; unset: the day of "
        "the commune's first sweep, as the database recorded it",
    )
    catch_up_days: int = Field(
        366, ge=1, description="On a config change, look back at most this many days"
    )
    sweep_time: time = Field(time(7, 30), description="Local time of the working-day sweep")
    overview_after: int = Field(
        3,
        ge=0,
        le=30,
        description="Working days after each consolidated report's due date when the quarterly "
        "overview goes to the leaders (`overview`)",
    )
    submit_hint: str = Field(
        "", description="How to hand in a deliverable, shown in mails until the upload link exists"
    )
    defaults: Policy | None = Field(
        None, description="Required, unless the city (city.yaml) sets the defaults"
    )

    @field_validator("sweep_time", mode="before")
    @classmethod
    def _clock_time(cls, value: object) -> object:
        return clock_time(value)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    # Field validators, not a model validator: an error then points at `defaults:` or `start:`.
    @field_validator("defaults")
    @classmethod
    def _complete_defaults(cls, value: Policy | None) -> Policy | None:
        return complete_defaults(value)

    @field_validator("start")
    @classmethod
    def _start_in_plan(cls, value: date, info: ValidationInfo) -> date:
        first, last = info.data.get("plan_start"), info.data.get("plan_end")
        if first and last and not first <= value <= last:
            raise ValueError(
                f"start {value} must lie between plan_start {first} and plan_end {last}"
            )
        return value

    @field_validator("go_live")
    @classmethod
    def _go_live_in_plan(cls, value: date | None, info: ValidationInfo) -> date | None:
        start, last = info.data.get("start"), info.data.get("plan_end")
        if value is not None and start and last and not start <= value <= last:
            raise ValueError(
                f"go_live {value} must lie between start {start} and plan_end {last} "
                "(ngày vận hành phải nằm trong khoảng từ start đến plan_end)"
            )
        return value


def complete_defaults(value: Policy | None) -> Policy | None:
    """A commune's (or city's) `defaults` set every field but the optional ones."""
    if value is None:
        return None
    missing = [k for k, v in value.model_dump().items() if v is None and k not in OPTIONAL_DEFAULTS]
    if missing:
        raise ValueError(f"defaults must set {', '.join(missing)}")
    return value


class YearCalendar(Strict):
    days_off: list[date] = Field([], description="Extra days off (e.g. a swapped Monday)")
    working_days: list[date] = Field([], description="Extra working days (ngày làm bù)")


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


class ConfigFile(Strict):
    """One YAML file of the config folder; the folder's files together make the plan."""

    commune: Commune | None = None
    units: list[Unit] | None = None
    calendar: dict[int, YearCalendar] | None = None
    obligations: list[Obligation] | None = None
    indicators: list[Indicator] | None = None
    extends: str | None = Field(
        None,
        description="A template plan folder (relative to this file's folder) whose files come "
        "first: this folder's obligations replace the template's of the same id",
    )


class CityOffice(Strict):
    name: str = Field(min_length=1, description='The city\'s office, e.g. "Sở Nội vụ"')
    email: EmailStr
    code: str = Field("SNV", pattern=UNIT_CODE, description="Its unit code in `reports`")
    contact: Person | None = None
    address: str | None = None
    director: Person | None = Field(
        None,
        description="The office's head (Giám đốc Sở): the office's own late items escalate to "
        "him or her, not to the city's leaders",
    )


class City(Strict):
    code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")
    name: str = Field(min_length=1)
    office: CityOffice
    leadership: list[Leader] = Field(
        [], description="The city's leaders that commune-level items escalate to"
    )
    defaults: Policy | None = Field(
        None, description="The policy defaults of every commune that sets none of its own"
    )
    plan: str | None = Field(None, description="The city's plan its own reports follow")
    quarantine: Literal["last_valid", "pause"] = Field(
        "last_valid",
        description="A commune whose own files are invalid is quarantined while the others go "
        "on: it runs on its last valid files (last_valid; paused when it has none) or is paused "
        "(pause)",
    )

    @field_validator("defaults")
    @classmethod
    def _complete_defaults(cls, value: Policy | None) -> Policy | None:
        return complete_defaults(value)


class CityFile(Strict):
    """`city.yaml` at the top of a city's config folder; beside it, files with `calendar` and
    `obligations` shared by every commune, and one folder per commune under `communes/`."""

    city: City
    calendar: dict[int, YearCalendar] | None = None
    obligations: list[Obligation] | None = None
    indicators: list[Indicator] | None = None
    reports: list[Obligation] | None = Field(
        None,
        description="The city office's own items, e.g. its report that consolidates the "
        "communes' (`consolidates` names the communes' obligation; `lead` the office's code)",
    )
