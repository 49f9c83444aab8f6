"""The commune of a config folder, its units and its people (`commune`, `units`)."""

from __future__ import annotations

from datetime import date, time
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import EmailStr, Field, ValidationInfo, WithJsonSchema, field_validator

from schedules.commune_kinds import CommuneKind
from schedules.config_base import UNIT_CODE, Strict, clock_time
from schedules.config_policy import Policy, complete_defaults

ALL_UNITS = "ALL"
"""In `lead` or `coordinators`: every unit counted among "Các cơ quan, đơn vị"."""


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
