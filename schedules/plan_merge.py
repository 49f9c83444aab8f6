"""The files of a plan merged into one set of values, layer over layer.

A commune's config comes in layers, later ones winning: the city's shared files, the template
plan its files `extends`, its own folder. A later layer replaces a unit, an obligation or the
commune of the same key; calendar years add up. Two files of one layer that set the same key
clash: each clash is an issue at its `FILE:LINE`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schedules.calendar import YearOverride
from schedules.config import ConfigFile, YearCalendar
from schedules.config_indicators import Indicator
from schedules.config_obligations import Obligation
from schedules.config_units import Commune, Unit
from schedules.yamlsource import ConfigIssue, YamlSource

SHARED, TEMPLATE, OWN = 0, 1, 2
"""Layers of a commune's config, later ones winning (see the module's docstring)."""

Parsed = list[tuple[YamlSource, ConfigFile]]
"""Config files read and validated, each with its source (for the lines of its values)."""

Where = tuple[YamlSource, tuple[Any, ...]]
"""A value's place: its file and its path in that file's YAML."""


def place(where: Where) -> str:
    """`FILE:LINE` of a value, as a message names another place."""
    source, loc = where
    return f"{source.path.name}:{source.line_of(loc)}"


@dataclass
class Merged:
    """What the files set, merged; where each unit and obligation was set, and the clashes."""

    commune: Commune | None = None
    commune_source: YamlSource | None = None
    units: dict[str, Unit] = field(default_factory=dict)
    obligations: dict[str, Obligation] = field(default_factory=dict)
    overrides: dict[int, YearOverride] = field(default_factory=dict)
    unit_at: dict[str, Where] = field(default_factory=dict)
    obligation_at: dict[str, Where] = field(default_factory=dict)
    indicators: dict[str, Indicator] = field(default_factory=dict)
    indicator_at: dict[str, Where] = field(default_factory=dict)
    replaced: list[tuple[str, Where]] = field(default_factory=list)
    """Obligations of a commune's own files that replace a template's or the city's."""
    issues: list[ConfigIssue] = field(default_factory=list)

    def fail(self, where: Where, message: str) -> None:
        source, loc = where
        self.issues.append(source.issue(loc, message))


def merge(parsed: Parsed, rank: dict[int, int] | None = None) -> Merged:
    """The values of `parsed`, file by file; `rank`: the layer of each source (by id),
    OWN for a source it does not list."""
    merger = _Merger(rank or {})
    for source, cfg in parsed:
        merger.add(source, cfg)
    return merger.merged


class _Merger:
    def __init__(self, rank: dict[int, int]):
        self.rank = rank
        self.merged = Merged()
        self.year_at: dict[int, YamlSource] = {}

    def replaces(self, later: YamlSource, earlier: YamlSource) -> bool:
        """A file of a later layer (the commune's own over a template, a template over the
        city's) replaces what an earlier one set; two files of one layer clash."""
        return self.rank.get(id(later), OWN) > self.rank.get(id(earlier), OWN)

    def add(self, source: YamlSource, cfg: ConfigFile) -> None:
        if cfg.commune is not None:
            self._commune(source, cfg.commune)
        for i, unit in enumerate(cfg.units or []):
            self._unit(source, i, unit)
        for i, ob in enumerate(cfg.obligations or []):
            self._obligation(source, i, ob)
        for year, cal in (cfg.calendar or {}).items():
            self._year(source, year, cal)
        for i, indicator in enumerate(cfg.indicators or []):
            self._indicator(source, i, indicator)

    def _indicator(self, source: YamlSource, i: int, indicator: Indicator) -> None:
        """Like an obligation: a later layer replaces the indicator of the same id (a commune
        may set its own yearly steps), two files of one layer clash."""
        merged = self.merged
        where = (source, ("indicators", i))
        first = merged.indicator_at.get(indicator.id)
        if first and not self.replaces(source, first[0]):
            merged.fail(
                (source, ("indicators", i, "id")),
                f"duplicate indicator id '{indicator.id}', first at {place(first)} "
                "(mã chỉ tiêu bị trùng)",
            )
        merged.indicators[indicator.id] = indicator
        merged.indicator_at[indicator.id] = where

    def _commune(self, source: YamlSource, commune: Commune) -> None:
        merged = self.merged
        if merged.commune_source is not None and not self.replaces(source, merged.commune_source):
            merged.fail(
                (source, ("commune",)),
                f"commune is already set in {merged.commune_source.path.name}: keep one "
                "(xã đã được khai báo ở tệp kia: chỉ giữ một)",
            )
        merged.commune, merged.commune_source = commune, source

    def _unit(self, source: YamlSource, i: int, unit: Unit) -> None:
        merged = self.merged
        where = (source, ("units", i, "code"))
        first = merged.unit_at.get(unit.code)
        if first and not self.replaces(source, first[0]):
            merged.fail(
                where,
                f"duplicate unit code '{unit.code}', first at {place(first)} (mã đơn vị bị trùng)",
            )
        merged.units[unit.code] = unit
        merged.unit_at[unit.code] = where

    def _obligation(self, source: YamlSource, i: int, ob: Obligation) -> None:
        merged = self.merged
        where = (source, ("obligations", i))
        first = merged.obligation_at.get(ob.id)
        if first and self.replaces(source, first[0]):
            merged.replaced.append((ob.id, where))
        elif first:
            merged.fail(
                (source, ("obligations", i, "id")),
                f"duplicate obligation id '{ob.id}', first at {place(first)} "
                "(mã nhiệm vụ bị trùng)",
            )
        merged.obligations[ob.id] = ob
        merged.obligation_at[ob.id] = where

    def _year(self, source: YamlSource, year: int, cal: YearCalendar) -> None:
        merged = self.merged
        override = self._year_override(source, year, cal)
        earlier = merged.overrides.get(year)
        if earlier is not None:
            if not self.replaces(source, self.year_at[year]):
                merged.fail(
                    (source, ("calendar", year)),
                    f"calendar year {year} is set twice: keep one (năm {year} được "
                    "khai báo hai lần: chỉ giữ một)",
                )
            override = YearOverride(
                earlier.days_off | override.days_off,
                earlier.working_days | override.working_days,
            )
        merged.overrides[year] = override
        self.year_at[year] = source

    def _year_override(self, source: YamlSource, year: int, cal: YearCalendar) -> YearOverride:
        for field_name in ("days_off", "working_days"):
            for i, day in enumerate(getattr(cal, field_name)):
                if day.year != year:
                    self.merged.fail(
                        (source, ("calendar", year, field_name, i)),
                        f"{day} is not in year {year}: move it under {day.year} "
                        f"(ngày không thuộc năm {year})",
                    )
        return YearOverride(frozenset(cal.days_off), frozenset(cal.working_days))
