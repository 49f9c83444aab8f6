"""The reminder and escalation rules of config files (`policy`, a commune's or city's
`defaults`): the escalation ladder's levels and the policy fields with their defaults."""

from __future__ import annotations

from datetime import time
from typing import Annotated, Literal

from pydantic import Field, field_validator

from schedules.config_base import Strict, clock_time

ESCALATION_ROLES = ("head", "leadership", "leader_in_charge", "standing_office")
"""Targets of an escalation level besides a unit code: the item's head of unit, the commune's
leadership (those marked `escalation: true`), the leader in charge of administrative reform
(`in_charge: true`; the whole leadership when nobody is), the standing office's address."""

Shift = Literal["next_working_day", "previous_working_day", "none"]
WorkingDays = Annotated[int, Field(ge=0, le=260)]


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


def complete_defaults(value: Policy | None) -> Policy | None:
    """A commune's (or city's) `defaults` set every field but the optional ones."""
    if value is None:
        return None
    missing = [k for k, v in value.model_dump().items() if v is None and k not in OPTIONAL_DEFAULTS]
    if missing:
        raise ValueError(f"defaults must set {', '.join(missing)}")
    return value
