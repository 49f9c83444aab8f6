"""The communes one deployment serves: a single commune's folder, or a city's folder.

A city's folder holds `city.yaml` (the city, its office, optionally its leadership, policy
defaults, calendar and obligations), other files with `calendar` and `obligations` shared by every
commune, and `communes/<code>/`, each a commune's folder in the single-commune format whose
`commune.code` is the folder's name. A commune's files may `extends:` a template plan.

`schedules.city_loader.load_city` reads either form; everything downstream loops over
`City.plans`. This module holds the `City` and what is looked up in it; the city office's own plan
is built by `schedules.city_office`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from schedules.commune_kinds import commune_kinds_phrase
from schedules.config import City as CityInfo
from schedules.plan import Plan
from schedules.plan_loader import config_files
from schedules.yamlsource import ConfigIssue

if TYPE_CHECKING:
    from schedules.quarantine import Quarantined

CITY_FILE = "city.yaml"
COMMUNES = "communes"


@dataclass
class City:
    folder: Path
    info: CityInfo | None
    """None: the folder is a single commune's."""
    plans: dict[str, Plan]
    """By commune code, in code order."""
    warnings: list[ConfigIssue] = field(default_factory=list)
    calendar_years: frozenset[int] = frozenset()
    """A city's: the years its shared calendar enters (ngày nghỉ, làm bù)."""
    office: Plan | None = None
    """A city's office's own items (city.yaml `reports`), as a plan of its own whose commune
    code is the city's: e.g. its consolidated report of the communes' reports."""
    fingerprint: str | None = None
    """Set in a compiled config (`schedules.compiled`): the `config_fingerprint` of
    `snapshot_files()`, so that a command need not read every file again to know whether the
    database's copy of the config is current."""
    quarantined: list[Quarantined] = field(default_factory=list)
    """The communes whose own files are invalid, each on its last valid files or paused
    (`schedules.quarantine`); the others run on their files as they are."""

    @classmethod
    def of(cls, plan: Plan) -> City:
        """A single commune's plan as the communes of a deployment."""
        return cls(plan.folder, None, {plan.commune.code: plan}, list(plan.warnings))

    @property
    def code(self) -> str:
        """The city's code, or the single commune's."""
        return self.info.code if self.info else next(iter(self.plans))

    @property
    def name(self) -> str:
        """The city's name, or the single commune's."""
        return self.info.name if self.info else next(iter(self.plans.values())).commune.name

    @property
    def zone(self) -> ZoneInfo:
        """Every commune of a city is in one zone (its first commune's)."""
        return next(iter(self.plans.values())).zone

    @property
    def is_city(self) -> bool:
        return self.info is not None

    @property
    def kinds(self) -> str:
        """ "xã, phường, đặc khu": the kinds of its communes, in the law's order (the city
        office's own plan aside)."""
        return commune_kinds_phrase(
            str(plan.commune.kind) for plan in self.plans.values() if plan is not self.office
        )

    def files(self) -> list[Path]:
        """Every config file, for the snapshot of the last valid config."""
        if self.info is None:
            return config_files(self.folder)
        return sorted(p for p in self.folder.rglob("*.y*ml") if p.suffix in (".yaml", ".yml"))

    def snapshot_files(self) -> dict[str, str]:
        """Every config file's text by its path in the folder: what the database keeps as the
        last valid config."""
        return {
            str(p.relative_to(self.folder).as_posix()): p.read_text(encoding="utf-8")
            for p in self.files()
        }

    def select(self, code: str | None) -> list[Plan]:
        """The plan of commune `code` (the city's code: the city office's), or every plan
        (None), the city office's last."""
        if code is None:
            return list(self.plans.values()) + ([self.office] if self.office else [])
        return [self.known_plan(code)]

    def plan_of(self, code: str) -> Plan | None:
        if self.office is not None and code == self.office.commune.code:
            return self.office
        return self.plans.get(code)

    def known_plan(self, code: str) -> Plan:
        """The plan of a code the city serves (a commune's, or the city's: its office's): one
        read from its own plans or from the database; KeyError for any other."""
        plan = self.plan_of(code)
        if plan is None:
            raise KeyError(f"unknown commune {code!r}")
        return plan

    def knows(self, code: str) -> bool:
        return self.plan_of(code) is not None


def config_fingerprint(files: dict[str, str]) -> str:
    """The digest of a config's files (name -> text): equal digests, equal configs."""
    blob = json.dumps(files, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()


def is_city_folder(folder: Path) -> bool:
    return (folder / CITY_FILE).is_file()


def calendar_warnings(city: City, today: date) -> list[ConfigIssue]:
    """From October on, next year's swapped days (ngày làm bù) are usually announced: warn when
    no calendar override for next year is entered (per commune, or once for the city)."""
    if today.month < 10:
        return []
    year = today.year + 1
    if not any(plan.commune.plan_end.year >= year for plan in city.plans.values()):
        return []
    # Announced nationally: entered once in the city's calendar, or in every commune's.
    entered = year in city.calendar_years or all(
        year in plan.calendar.overrides for plan in city.plans.values()
    )
    if entered:
        return []
    where = city.folder / "calendar.yaml"
    hint = "" if where.is_file() else f" (create {where.name} with `calendar:` beside city.yaml)"
    return [
        ConfigIssue(
            str(where),
            1,
            f"warning: no calendar entry for {year}: add `{year}:` with the swapped days off "
            f"and working days once announced{hint} (chưa khai báo lịch nghỉ, làm bù năm {year})",
        )
    ]


def short_name(name: str) -> str:
    """ "Ủy ban nhân dân xã Mao Điền" → "xã Mao Điền": the commune, as the city names it."""
    return re.sub(r"^(?:(?:Ủy|Uỷ) ban nhân dân|UBND)\s+", "", name, flags=re.IGNORECASE)


def listed_codes(codes: list[str]) -> str:
    """ "xa001, xa002, xa003, xa004, xa005 and 3 more" """
    return ", ".join(codes[:5]) + (f" and {len(codes) - 5} more" if len(codes) > 5 else "")
