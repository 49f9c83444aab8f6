"""The shape of config/*.yaml: the files of a commune's folder and a city's `city.yaml`.

These pydantic models, with those of their parts (`schedules.config_units`: the commune, its
units and people; `schedules.config_policy`: reminders and escalations;
`schedules.config_obligations`: obligations and schedules; `schedules.config_indicators`:
indicators), are the single source of the config's rules; `cchc schema` exports them as JSON
Schema for editors. Cross-file rules (unknown unit codes, duplicate ids, RRULEs that never fire,
...) live in `schedules.plan_checks` and the checks it runs.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import EmailStr, Field, field_validator

from schedules.config_base import UNIT_CODE, Strict
from schedules.config_indicators import Indicator
from schedules.config_obligations import Obligation
from schedules.config_policy import Policy, complete_defaults
from schedules.config_units import Commune, Leader, Person, Unit


class YearCalendar(Strict):
    days_off: list[date] = Field([], description="Extra days off (e.g. a swapped Monday)")
    working_days: list[date] = Field([], description="Extra working days (ngày làm bù)")


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
