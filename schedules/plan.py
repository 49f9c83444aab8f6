"""The plan: every file of the config folder read, merged and checked as a whole.

`load_plan` either returns a `Plan` that every other part can trust, or raises `ConfigInvalid`
listing each problem as `FILE:LINE: message`. Nothing else reads config files.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from pydantic import BaseModel, ValidationError

from schedules.calendar import WorkingCalendar, YearOverride
from schedules.config import (
    ALL_UNITS,
    ESCALATION_ROLES,
    OBLIGATION_ID,
    UNIT_CODE,
    Commune,
    ConfigFile,
    Obligation,
    Policy,
    Unit,
)
from schedules.dates import end_of_day, local_date, local_instant, vn_date, vn_weekday
from schedules.occurrences import (
    CompiledSchedule,
    DueDate,
    Occurrence,
    compile_schedule,
    nominal_due,
    opening_date,
)
from schedules.policy import ResolvedPolicy, resolve_policy
from schedules.timeline import Step, catch_up_deadline, inputs_due, timeline
from schedules.vocabulary import StepKind
from schedules.yamlsource import ConfigInvalid, ConfigIssue, YamlSource, read_yaml

REPORT_KINDS = ("periodic_report", "consolidated_report")
"""Obligations whose period is a data window ("thời gian chốt số liệu")."""

# How far a due date may lie from its anchor (an annual plan is due the December before its year).
_ANCHOR_REACH = timedelta(days=800)


@dataclass
class Plan:
    folder: Path
    commune: Commune
    units: dict[str, Unit]
    obligations: dict[str, Obligation]
    calendar: WorkingCalendar
    schedules: dict[str, CompiledSchedule] = field(default_factory=dict)
    warnings: list[ConfigIssue] = field(default_factory=list)
    """What `cchc check` warns about but does not refuse (`FILE:LINE: message`)."""
    city_folder: Path | None = None
    """A city's commune: the city's folder (its mail templates/ stand in for the commune's)."""
    communes: dict[str, str] | None = None
    """The city office's plan (its own reports): the communes' codes and names, whose reports
    its consolidated reports sum up. None for a commune."""
    upper: Plan | None = None
    """A city's commune: the city office's plan, whose report may consolidate the commune's
    (a level's `before: consolidated_due` then ends before the city's due date)."""

    def attach_upper(self, upper: Plan) -> None:
        self.upper = upper
        self.__dict__.pop("_consolidated_dues", None)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.commune.timezone)

    @cached_property
    def _policies(self) -> dict[str, ResolvedPolicy]:
        return {
            oid: resolve_policy(self.commune.defaults, ob.policy)
            for oid, ob in self.obligations.items()
        }

    def policy(self, obligation_id: str) -> ResolvedPolicy:
        """The obligation's policy; the commune's defaults for an id no longer in the config."""
        found = self._policies.get(obligation_id)
        return found or resolve_policy(self.commune.defaults, Policy())

    def expand_units(self, codes: list[str]) -> list[str]:
        """Unit codes with ALL replaced by every unit counted in "Các cơ quan, đơn vị"."""
        out: list[str] = []
        for code in codes:
            expanded = (
                [u.code for u in self.units.values() if u.in_all] if code == ALL_UNITS else [code]
            )
            out += [c for c in expanded if c not in out]
        return out

    def lead_units(self, obligation_id: str) -> list[str]:
        """The units that own an item of the obligation each period. The standing office does
        not owe itself a report that its own consolidated report sums up."""
        units = self.expand_units(self.obligations[obligation_id].lead)
        office = self.commune.standing_office
        consolidator = self.consolidator(obligation_id)
        if consolidator and office in self.expand_units(self.obligations[consolidator].lead):
            units = [u for u in units if u != office]
        return units

    def coordinating_units(self, obligation_id: str, unit: str) -> list[str]:
        """The units asked for inputs to `unit`'s item: the coordinators, ALL expanded, but the
        lead units. A consolidated report asks nobody: its inputs are the units' own reports."""
        ob = self.obligations.get(obligation_id)
        if ob is None or ob.consolidates:
            return []
        leads = set(self.expand_units(ob.lead)) | {unit}
        return [u for u in self.expand_units(ob.coordinators) if u not in leads]

    def inputs_due(self, obligation_id: str, due: date, opened_at: datetime | None = None) -> date:
        """When the coordinating units of an item due on `due` send their inputs. For an item
        opened past its due date, counted back from its fresh deadline, and never on or before
        the day it opened (then: the working day before that deadline, or the deadline)."""
        caught_up = opened_at and self.catch_up_deadline(obligation_id, due, opened_at)
        if not caught_up:
            return inputs_due(due, self.policy(obligation_id), self.calendar)
        opened_on = local_date(opened_at, self.zone)
        for day in (
            inputs_due(caught_up, self.policy(obligation_id), self.calendar),
            self.calendar.add_working_days(caught_up, -1),
        ):
            if day > opened_on:
                return day
        return caught_up

    def occurrences(
        self,
        first: date,
        last: date,
        *,
        obligation: str | None = None,
        unit: str | None = None,
        by: str = "due",
    ) -> list[Occurrence]:
        """Occurrences whose `by` date ("due" or "opens") lies in [first, last], in date order."""
        found: list[Occurrence] = []
        ids = [obligation] if obligation else list(self.schedules)
        for oid in ids:
            compiled = self.schedules.get(oid)
            if compiled is None:
                continue
            ob = self.obligations[oid]
            policy = self.policy(oid)
            lo = max(first - _ANCHOR_REACH, self.commune.plan_start)
            hi = min(last + _ANCHOR_REACH, self.commune.plan_end)
            units = [u for u in self.lead_units(oid) if unit in (None, u)]
            for anchor in compiled.anchors(lo, hi) if units else []:
                period = compiled.period(anchor)
                due = self.effective_due(
                    oid, *nominal_due(ob.schedule.due, period, anchor, self.calendar)
                )
                if (ob.start and due.due < ob.start) or (ob.end and due.due > ob.end):
                    continue
                if compiled.period_kind == "date" and due.due < period.window_end:
                    # A one-off moved to an earlier working day: its time ends with it.
                    period = period.with_window(period.window_start, due.due)
                opens = min(opening_date(due.due, policy, self.calendar), due.due)
                if not first <= (due.due if by == "due" else opens) <= last:
                    continue
                found += [Occurrence(oid, u, period, anchor, opens, due) for u in units]
        found.sort(key=lambda o: (o.due.due, o.obligation, o.unit))
        return found

    def acted_on(
        self,
        first: date,
        last: date,
        *,
        obligation: str | None = None,
        unit: str | None = None,
        by: str = "due",
    ) -> list[Occurrence]:
        """The occurrences the engine acts on (opens, reminds, escalates): `occurrences` due on
        or after the commune's `start`. Earlier ones belong to the time before cchc ran;
        `cchc plan` still lists them."""
        found = self.occurrences(first, last, obligation=obligation, unit=unit, by=by)
        return [o for o in found if o.due.due >= self.commune.start]

    def effective_due(self, obligation_id: str, nominal: date, basis: str = "") -> DueDate:
        """The due date in force for a nominal one, for scheduled, ad hoc and returned items
        alike, when it falls on a day off: moved to the next working day when the obligation's
        policy says `next_working_day` (the civil code's rule), to the previous one with
        `previous_working_day` (a deadline within a month ends on its last working day), kept
        with `none`. `basis` says how the nominal date was found; the shift, if any, is added."""
        shift = self.policy(obligation_id).shift
        due = nominal
        if shift == "next_working_day":
            due = self.calendar.next_working_day(nominal)
        elif shift == "previous_working_day":
            due = self.calendar.previous_working_day(nominal)
        if due != nominal:
            note = self.day_off_note(nominal, due)
            basis = f"{basis}; {note}" if basis else note
        return DueDate(nominal, due, basis)

    def day_off_note(self, nominal: date, due: date) -> str:
        """Why a due date moved off `nominal` to `due`, in Vietnamese, as the mails and
        `cchc plan` say."""
        why = self.calendar.holiday_name(nominal) or vn_weekday(nominal)
        where = "tiếp theo" if due > nominal else "liền trước"
        return f"{vn_date(nominal)} là ngày nghỉ ({why}), chuyển sang ngày làm việc {where}"

    def timeline(self, obligation_id: str, due: date, opened_at: datetime) -> list[Step]:
        """The steps of an item of `obligation_id` due on `due` and opened at `opened_at`."""
        return timeline(
            due,
            opened_at,
            self.policy(obligation_id),
            self.calendar,
            self.zone,
            self.commune.sweep_time,
            self.consolidated_due(obligation_id, due),
        )

    def catch_up_deadline(self, obligation_id: str, due: date, opened_at: datetime) -> date | None:
        """The fresh deadline of an item opened after its due date (see `timeline`)."""
        policy = self.policy(obligation_id)
        return catch_up_deadline(due, opened_at, policy, self.calendar, self.zone)

    def consolidator(self, obligation_id: str) -> str | None:
        """The obligation whose report sums up `obligation_id`'s reports, if any."""
        return next(
            (o for o, ob in self.obligations.items() if ob.consolidates == obligation_id), None
        )

    @cached_property
    def _consolidated_dues(self) -> dict[str, dict[date, date]]:
        """Per consolidated obligation: its units' due date → the consolidating report's due
        date for the same period (all units of a period share a due date)."""
        found: dict[str, dict[date, date]] = {}
        span = (self.commune.plan_start, self.commune.plan_end)
        # This commune's consolidated reports first, then the city office's (a level up).
        for level in (self, self.upper) if self.upper else (self,):
            for oid in level.schedules:
                target = level.obligations[oid].consolidates
                if not target or target not in self.schedules or target in found:
                    continue
                own = {o.period.key: o.due.due for o in level.occurrences(*span, obligation=oid)}
                found[target] = {
                    o.due.due: own[o.period.key]
                    for o in self.occurrences(*span, obligation=target)
                    if o.period.key in own
                }
        return found

    def consolidated_due(self, obligation_id: str, due: date) -> date | None:
        """The due date of the report consolidating an item of `obligation_id` due on `due`;
        None when nothing consolidates it, or `due` is not a scheduled one (a returned item)."""
        return self._consolidated_dues.get(obligation_id, {}).get(due)

    def received_on_time(self, due: date, at: datetime) -> bool:
        """The one rule of timeliness: received by the end of the due date, local time."""
        return at < end_of_day(due, self.zone)

    def fingerprint(self, obligation_id: str) -> str:
        """Changes whenever anything that decides this obligation's occurrences changes."""
        payload = {
            "obligation": self.obligations[obligation_id].model_dump(mode="json"),
            "units": self.lead_units(obligation_id),
            "defaults": self.commune.defaults.model_dump(mode="json"),
            "start": self.commune.start.isoformat(),
            "calendar": sorted(
                (y, sorted(map(str, o.days_off)), sorted(map(str, o.working_days)))
                for y, o in self.calendar.overrides.items()
            ),
        }
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def config_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


SHARED, TEMPLATE, OWN = 0, 1, 2
"""Layers of a commune's config, later ones winning: the city's shared files, the template plan
its files `extends`, its own folder. A later layer replaces a unit, an obligation or the commune
of the same key; calendar years add up."""

Parsed = list[tuple[YamlSource, ConfigFile]]


def load_plan(
    folder: Path | str,
    shared: Parsed = (),
    defaults: Policy | None = None,
    templates: dict[Path, Parsed] | None = None,
) -> Plan:
    """The plan of the commune whose files are in `folder`. In a city: `shared` are the city's
    parsed files, `defaults` its policy defaults, `templates` a cache of the template plans
    read so far (114 communes extend the same one)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigInvalid(
            [ConfigIssue(str(folder), 1, "config folder not found (không thấy thư mục cấu hình)")]
        )
    files = config_files(folder)
    if not files:
        message = "no *.yaml files in the config folder (thư mục cấu hình không có tệp *.yaml)"
        raise ConfigInvalid([ConfigIssue(str(folder), 1, message)])
    own = parse_files(files)
    template = _template(own, {} if templates is None else templates)
    layers = [(SHARED, shared), (TEMPLATE, template), (OWN, own)]
    rank = {id(source): r for r, parsed in layers for source, _ in parsed}
    parsed = [pair for _, layer in layers for pair in layer]
    return _PlanBuilder(folder, parsed, rank, defaults).build()


def build_plan(folder: Path, parsed: Parsed, foreign: frozenset[str] = frozenset()) -> Plan:
    """A plan from files already parsed (the city office's, made from city.yaml); `foreign`:
    obligations of the level below that its reports may consolidate."""
    return _PlanBuilder(folder, parsed, foreign=foreign).build()


def parse_files(paths: list[Path], model: type[BaseModel] = ConfigFile) -> list:
    """Each file read and validated as `model`; ConfigInvalid with every problem found."""
    issues: list[ConfigIssue] = []
    parsed: list = []
    for path in paths:
        try:
            source = read_yaml(path)
        except ConfigInvalid as exc:
            issues += exc.issues
            continue
        if not isinstance(source.data, dict):
            keys = ", ".join(model.model_fields)
            message = (
                f"a config file must be a mapping of top-level keys {keys} "
                f"(tệp cấu hình gồm các khóa cấp cao nhất {keys})"
            )
            issues.append(source.issue((), message))
            continue
        try:
            parsed.append((source, model.model_validate(source.data)))
        except ValidationError as exc:
            issues += [_pydantic_issue(source, err, model) for err in exc.errors()]
    if issues:
        raise ConfigInvalid(issues)
    return parsed


def _template(own: Parsed, cache: dict[Path, Parsed]) -> Parsed:
    """The files of the template plan that the folder's files `extends` (one level: a template
    does not extend another)."""
    found: Parsed = []
    issues: list[ConfigIssue] = []
    for source, cfg in own:
        if cfg.extends is None:
            continue
        folder = (source.path.parent / cfg.extends).resolve()
        if folder not in cache:
            files = config_files(folder) if folder.is_dir() else []
            if not files:
                message = (
                    f"extends: no *.yaml files in {folder} (không thấy kế hoạch mẫu: thư mục "
                    "không tồn tại hoặc không có tệp *.yaml)"
                )
                issues.append(source.issue(("extends",), message))
                continue
            cache[folder] = parse_files(files)
        for t_source, t_cfg in cache[folder]:
            if t_cfg.extends is not None:
                message = "a template plan cannot extend another (kế hoạch mẫu không kế thừa)"
                issues.append(t_source.issue(("extends",), message))
        found += [pair for pair in cache[folder] if pair not in found]
    if issues:
        raise ConfigInvalid(issues)
    return found


# Pydantic's messages are English: each error type gets a hint of what to write (English, may
# be None) and its Vietnamese gloss; "{name}" takes the error's context (ge, le, min_length...).
_GLOSS: dict[str, tuple[str | None, str]] = {
    "int_parsing": ("write a whole number, e.g. 5", "phải là số nguyên"),
    "int_type": ("write a whole number, e.g. 5", "phải là số nguyên"),
    "int_from_float": ("write a whole number, e.g. 5", "phải là số nguyên"),
    "float_parsing": (None, "phải là số"),
    "float_type": (None, "phải là số"),
    "bool_parsing": ("write true or false", "phải là true hoặc false"),
    "bool_type": ("write true or false", "phải là true hoặc false"),
    "date_from_datetime_parsing": ("write YYYY-MM-DD, e.g. 2026-12-01", "phải là ngày YYYY-MM-DD"),
    "date_from_datetime_inexact": ("write YYYY-MM-DD, e.g. 2026-12-01", "phải là ngày YYYY-MM-DD"),
    "date_parsing": ("write YYYY-MM-DD, e.g. 2026-12-01", "phải là ngày YYYY-MM-DD"),
    "date_type": ("write YYYY-MM-DD, e.g. 2026-12-01", "phải là ngày YYYY-MM-DD"),
    "time_parsing": ("write HH:MM, e.g. 07:30", "phải là giờ HH:MM, từ 00:00 đến 23:59"),
    "time_type": ("write HH:MM, e.g. 07:30", "phải là giờ HH:MM, từ 00:00 đến 23:59"),
    "string_type": ('quote it if needed: "..."', "phải là chuỗi ký tự"),
    "string_too_short": (None, "không được để trống"),
    "string_too_long": (None, "dài quá {max_length} ký tự"),
    "too_short": (None, "cần ít nhất {min_length} mục"),
    "too_long": (None, "nhiều nhất {max_length} mục"),
    "greater_than_equal": (None, "phải lớn hơn hoặc bằng {ge}"),
    "greater_than": (None, "phải lớn hơn {gt}"),
    "less_than_equal": (None, "phải nhỏ hơn hoặc bằng {le}"),
    "less_than": (None, "phải nhỏ hơn {lt}"),
    "literal_error": (None, "phải là một trong các giá trị trên"),
    "list_type": ("write a list, e.g. [VHXH, VP]", "phải là danh sách"),
    "dict_type": ("write key: value lines", "phải là một khối khóa: giá trị"),
    "model_type": ("write key: value lines", "phải là một khối khóa: giá trị"),
    "model_attributes_type": ("write key: value lines", "phải là một khối khóa: giá trị"),
}
_PATTERN_GLOSS: dict[str, tuple[str, str]] = {
    UNIT_CODE: ("capitals, digits, _, e.g. VHXH", "mã đơn vị: chữ in hoa không dấu, số, dấu _"),
    OBLIGATION_ID: (
        "lower case, digits, -, e.g. bao-cao-quy",
        "mã nhiệm vụ: chữ thường không dấu, số, dấu -",
    ),
    r"^\d\d-\d\d$": ("month-day, e.g. 12-25", "tháng-ngày dạng MM-DD"),
    r"^[a-z0-9][a-z0-9-]{0,31}$": (
        "lower case, digits, -, e.g. maodien",
        "chữ thường không dấu, số, dấu -",
    ),
}
# The rules of schedules/config.py, by words of their message.
_VALUE_GLOSS: dict[str, str] = {
    "not a valid email address": "địa chỉ thư điện tử không hợp lệ",
    "give exactly one of every, rrule, once": "khai báo đúng một trong every, rrule, once",
    "give at most one of": "chỉ khai báo một quy tắc tính hạn",
    "period goes with rrule only": "period chỉ dùng cùng rrule",
    "window_from goes with once only": "window_from chỉ dùng cùng once",
    "window_start_day goes with": "window_start_day chỉ dùng với các kỳ đã nêu",
    "is not a day of the year": "không phải một ngày trong năm",
    "obligation has no schedule": "nhiệm vụ loại này không có lịch: bỏ schedule",
    "obligation needs a schedule": "nhiệm vụ loại này cần có lịch (schedule)",
    "unknown time zone": "múi giờ không tồn tại; ví dụ Asia/Ho_Chi_Minh",
    "defaults must set": "defaults phải khai báo đủ các mục này",
    "must lie between plan_start": "ngày start phải nằm trong khoảng plan_start - plan_end",
}


def _pydantic_issue(
    source: YamlSource, err: Any, model: type[BaseModel] = ConfigFile
) -> ConfigIssue:
    """A pydantic error at its line, its path as the editor counts ("units[2] (VP).email"),
    its message in English with a hint and a Vietnamese gloss."""
    loc = tuple(err["loc"])
    kind, ctx = err["type"], err.get("ctx") or {}
    message = err["msg"].removeprefix("Value error, ")
    where = source.describe(loc)
    hint, gloss = _GLOSS.get(kind, (None, None))
    if kind == "missing":
        where, message = source.describe(loc[:-1]), f"missing field '{loc[-1]}'"
        gloss = "thiếu trường bắt buộc"
    elif kind == "extra_forbidden":
        where, message = source.describe(loc[:-1]), f"unknown field '{loc[-1]}'"
        gloss = "trường không hợp lệ; kiểm tra chính tả và thụt lề"
        if len(loc) == 1:
            keys = ", ".join(model.model_fields)
            message, gloss = f"{message}: use {keys}", "khóa cấp cao nhất không hợp lệ"
    elif kind == "string_pattern_mismatch":
        hint, gloss = _PATTERN_GLOSS.get(ctx.get("pattern"), (None, "không đúng định dạng"))
    elif kind == "value_error":
        found = [vi for en, vi in _VALUE_GLOSS.items() if en in message]
        gloss = found[0] if found else None if not message.isascii() else "giá trị không hợp lệ"
    elif gloss is None and message.isascii():
        gloss = "giá trị không hợp lệ"
    if hint:
        message = f"{message}: {hint}"
    if gloss:
        message = f"{message} ({gloss.format(**ctx)})"
    return source.issue(loc, f"{where}: {message}" if where else message)


class _PlanBuilder:
    """Merges the files and checks every rule that spans more than one value."""

    def __init__(
        self,
        folder: Path,
        parsed: Parsed,
        rank: dict[int, int] | None = None,
        defaults: Policy | None = None,
        foreign: frozenset[str] = frozenset(),
    ):
        self.folder = folder
        self.parsed = parsed
        self.rank = rank or {}
        """Layer of each source (by id): SHARED, TEMPLATE or OWN (the default)."""
        self.defaults = defaults
        self.replaced: list[tuple[str, tuple[YamlSource, tuple[Any, ...]]]] = []
        """Obligations of a commune's own files that replace a template's or the city's."""
        self.foreign = foreign
        """Obligations of another level that `consolidates` may name (the communes', for the
        city office's reports)."""
        self.issues: list[ConfigIssue] = []
        self.unit_at: dict[str, tuple[YamlSource, tuple[Any, ...]]] = {}
        self.obligation_at: dict[str, tuple[YamlSource, tuple[Any, ...]]] = {}

    def fail(self, where: tuple[YamlSource, tuple[Any, ...]], message: str) -> None:
        source, loc = where
        self.issues.append(source.issue(loc, message))

    def build(self) -> Plan:
        commune, commune_source = None, None
        units: dict[str, Unit] = {}
        obligations: dict[str, Obligation] = {}
        overrides: dict[int, YearOverride] = {}
        year_at: dict[int, YamlSource] = {}
        for source, cfg in self.parsed:
            if cfg.commune is not None:
                if commune is not None and not self._replaces(source, commune_source):
                    self.fail(
                        (source, ("commune",)),
                        f"commune is already set in {commune_source.path.name}: keep one "
                        "(xã đã được khai báo ở tệp kia: chỉ giữ một)",
                    )
                commune, commune_source = cfg.commune, source
            for i, unit in enumerate(cfg.units or []):
                where = (source, ("units", i, "code"))
                if unit.code in units and not self._replaces(source, self.unit_at[unit.code][0]):
                    self.fail(
                        where,
                        f"duplicate unit code '{unit.code}', first at "
                        f"{self._place(self.unit_at[unit.code])} (mã đơn vị bị trùng)",
                    )
                units[unit.code] = unit
                self.unit_at[unit.code] = where
            for i, ob in enumerate(cfg.obligations or []):
                where = (source, ("obligations", i))
                if ob.id in obligations and self._replaces(source, self.obligation_at[ob.id][0]):
                    self.replaced.append((ob.id, where))
                elif ob.id in obligations:
                    self.fail(
                        (source, ("obligations", i, "id")),
                        f"duplicate obligation id '{ob.id}', first at "
                        f"{self._place(self.obligation_at[ob.id])} (mã nhiệm vụ bị trùng)",
                    )
                obligations[ob.id] = ob
                self.obligation_at[ob.id] = where
            for year, cal in (cfg.calendar or {}).items():
                override = self._year_override(source, year, cal)
                if year in overrides:
                    if not self._replaces(source, year_at[year]):
                        self.fail(
                            (source, ("calendar", year)),
                            f"calendar year {year} is set twice: keep one (năm {year} được "
                            "khai báo hai lần: chỉ giữ một)",
                        )
                    override = YearOverride(
                        overrides[year].days_off | override.days_off,
                        overrides[year].working_days | override.working_days,
                    )
                overrides[year] = override
                year_at[year] = source
        if commune is None:
            message = "no file sets 'commune' (chưa có tệp nào khai báo xã, khóa commune:)"
            raise ConfigInvalid(self.issues + [ConfigIssue(str(self.folder), 1, message)])
        if commune.defaults is None:
            if self.defaults is None:
                self.fail(
                    (commune_source, ("commune",)),
                    "commune: missing field 'defaults' (thiếu trường bắt buộc)",
                )
                raise ConfigInvalid(self.issues)
            commune = commune.model_copy(update={"defaults": self.defaults})
        obligations = {
            oid: ob
            for oid, ob in obligations.items()
            if ob.communes is None or commune.code in ob.communes
        }
        obligations = self._fill_placeholders(commune, obligations)
        if not obligations:
            self.fail(
                (commune_source, ("commune",)),
                "no obligation is defined (chưa khai báo nhiệm vụ nào): add obligations, or "
                "`extends:` a template plan at the top level of a file (thêm nhiệm vụ hoặc kế "
                "thừa kế hoạch mẫu bằng extends:)",
            )
        if not units:  # said once here; the unit codes the plan names are then not checked
            holder = next((s for s, _ in self.parsed if "units" in s.data), None)
            name = holder.path.name if holder else "units.yaml"
            self.fail(
                (holder, ("units",)) if holder else (commune_source, ("commune",)),
                f"no unit is defined (chưa khai báo đơn vị nào): add units to {name} "
                f"(khai báo các đơn vị trong {name})",
            )
        self.commune_source = commune_source
        calendar = WorkingCalendar(commune.plan_start.year, commune.plan_end.year, overrides)
        plan = Plan(self.folder, commune, units, obligations, calendar)
        self._check_calendar(plan, overrides)
        self._check_commune(plan)
        for oid, ob in obligations.items():
            self._check_obligation(plan, oid, ob)
        if not self.issues:
            for oid in obligations:
                self._check_consolidation(plan, oid)
        if self.issues:
            raise ConfigInvalid(self.issues)
        for oid in obligations:
            self._warn_late_ladder(plan, oid)
        self._warn_replaced(plan)
        return plan

    def _warn_replaced(self, plan: Plan) -> None:
        """A commune's own copy of a template's obligation shadows it: later edits of the
        template no longer reach the commune. Said once per commune, at the first copy."""
        if not self.replaced:
            return
        ids = [oid for oid, _ in self.replaced]
        shown = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
        source, loc = self.replaced[0][1]
        plan.warnings.append(
            source.issue(
                loc + ("id",),
                f"warning: {len(ids)} obligation(s) of this commune replace the shared ones of "
                f"the same id ({shown}): later edits of the template plan or the city's files do "
                "not reach them; delete the copies that should follow it (nhiệm vụ của xã thay "
                "cho nhiệm vụ dùng chung cùng mã)",
            )
        )

    def _fill_placeholders(
        self, commune: Commune, obligations: dict[str, Obligation]
    ) -> dict[str, Obligation]:
        """`{plan_short}` and `{plan}` in an obligation's texts become the commune's (a template
        plan shared by many communes names each one's plan); `{period}` in `product` is the
        item's, filled when a mail is written. Any other `{...}` is an error."""
        values = {"{plan_short}": commune.plan_short, "{plan}": commune.plan}
        filled = {}
        for oid, ob in obligations.items():
            update = {}
            for name in ("title", "product", "timing", "description"):
                text = getattr(ob, name) or ""
                allowed = values.keys() | ({"{period}"} if name == "product" else set())
                for token in set(re.findall(r"\{[^{}]*\}", text)) - allowed:
                    source, loc = self.obligation_at[oid]
                    self.fail(
                        (source, loc + (name,)),
                        f"unknown placeholder {token}: use {', '.join(sorted(allowed))} (chỗ "
                        "thay thế không hợp lệ)",
                    )
                if any(token in text for token in values):
                    for token, value in values.items():
                        text = text.replace(token, value)
                    update[name] = text
            filled[oid] = ob.model_copy(update=update) if update else ob
        return filled

    @staticmethod
    def _place(where: tuple[YamlSource, tuple[Any, ...]]) -> str:
        source, loc = where
        return f"{source.path.name}:{source.line_of(loc)}"

    def _replaces(self, later: YamlSource, earlier: YamlSource) -> bool:
        """A file of a later layer (the commune's own over a template, a template over the
        city's) replaces what an earlier one set; two files of one layer clash."""
        return self.rank.get(id(later), OWN) > self.rank.get(id(earlier), OWN)

    def _year_override(self, source: YamlSource, year: int, cal: Any) -> YearOverride:
        for field_name in ("days_off", "working_days"):
            for i, day in enumerate(getattr(cal, field_name)):
                if day.year != year:
                    self.fail(
                        (source, ("calendar", year, field_name, i)),
                        f"{day} is not in year {year}: move it under {day.year} "
                        f"(ngày không thuộc năm {year})",
                    )
        return YearOverride(frozenset(cal.days_off), frozenset(cal.working_days))

    def _check_calendar(self, plan: Plan, overrides: dict[int, YearOverride]) -> None:
        bare = WorkingCalendar(plan.calendar.first_year, plan.calendar.last_year)
        for source, cfg in self.parsed:
            for year, cal in (cfg.calendar or {}).items():
                for i, day in enumerate(cal.working_days):
                    if bare.is_working_day(day):
                        self.fail(
                            (source, ("calendar", year, "working_days", i)),
                            f"{vn_date(day)} is already a working day (đã là ngày làm việc)",
                        )

    def _check_commune(self, plan: Plan) -> None:
        source = self.commune_source
        if plan.units and plan.commune.standing_office not in plan.units:
            self.fail(
                (source, ("commune", "standing_office")),
                f"unknown unit '{plan.commune.standing_office}' as standing office "
                f"(đơn vị thường trực không tồn tại); known: {', '.join(plan.units)}",
            )
        defaults = plan.commune.defaults
        self._check_escalation(plan, (source, ("commune", "defaults", "escalation")), defaults)
        # Checked here, once: an obligation is blamed only for what its own policy sets.
        if defaults.reminders and max(defaults.reminders) > defaults.open_before_due:
            self.fail(
                (source, ("commune", "defaults", "reminders")),
                f"a reminder {max(defaults.reminders)} working days before the due date comes "
                f"before the item opens ({defaults.open_before_due} working days before): "
                "lower the reminder or raise open_before_due (nhắc việc trước ngày mở nhiệm vụ: "
                "giảm số ngày nhắc hoặc tăng open_before_due)",
            )

    def _check_obligation(self, plan: Plan, oid: str, ob: Obligation) -> None:
        source, loc = self.obligation_at[oid]
        known = ", ".join(plan.units)
        for field_name in ("lead", "coordinators"):
            for i, code in enumerate(getattr(ob, field_name)):
                if plan.units and code != ALL_UNITS and code not in plan.units:
                    self.fail(
                        (source, loc + (field_name, i)),
                        f"unknown unit '{code}' (đơn vị không tồn tại); known: {known}, ALL",
                    )
        for field_name in ("reported_in", "consolidates"):
            target = getattr(ob, field_name)
            if target is not None and target not in plan.obligations | dict.fromkeys(self.foreign):
                self.fail(
                    (source, loc + (field_name,)),
                    f"unknown obligation '{target}' (nhiệm vụ không tồn tại)",
                )
            elif target == oid:
                self.fail(
                    (source, loc + (field_name,)),
                    f"{field_name} names the obligation itself (nhiệm vụ tự trỏ vào chính nó)",
                )
        if (
            ob.reported_in
            and ob.reported_in in plan.obligations
            and plan.obligations[ob.reported_in].schedule is None
        ):
            self.fail(
                (source, loc + ("reported_in",)),
                f"'{ob.reported_in}' has no schedule, so it cannot carry this report "
                "(nhiệm vụ này không có lịch nên không nhận báo cáo thay được)",
            )
        if ob.start and ob.end and ob.end < ob.start:
            self.fail(
                (source, loc + ("end",)), "end is before start (ngày kết thúc trước ngày bắt đầu)"
            )
        self._check_escalation(plan, (source, loc + ("policy", "escalation")), ob.policy)
        if ob.schedule is not None:
            self._compile(plan, oid, ob, source, loc)

    def _check_escalation(self, plan: Plan, where, policy) -> None:
        source, loc = where
        if policy.escalation is None:
            return
        seen: dict[str, int] = {}
        previous = 0
        for i, level in enumerate(policy.escalation):
            if level.after <= previous:
                self.fail(
                    (source, loc + (i, "after")),
                    f"level {i + 1} (after {level.after}) is not later than level {i} "
                    "(mỗi cấp phải muộn hơn cấp trước)",
                )
            previous = level.after
            for target in level.to:
                # With no unit at all, build() has said so once.
                if plan.units and target not in ESCALATION_ROLES and target not in plan.units:
                    self.fail(
                        (source, loc + (i, "to")),
                        f"unknown escalation target '{target}': use "
                        f"{', '.join(ESCALATION_ROLES)} or a unit code (nơi chuyển cấp không "
                        "tồn tại)",
                    )
                elif target in seen:
                    self.fail(
                        (source, loc + (i, "to")),
                        f"escalation cycles back to '{target}' (already level "
                        f"{seen[target] + 1}); each level must go higher up the chain "
                        "(chuyển cấp quay vòng: mỗi cấp phải lên cao hơn)",
                    )
                seen.setdefault(target, i)

    def _compile(self, plan: Plan, oid: str, ob: Obligation, source: YamlSource, loc) -> None:
        """Compile the schedule of the obligation at `loc`; check it fires and names periods."""
        schedule = ob.schedule
        compiled = compile_schedule(schedule, plan.commune.plan_start)
        try:
            rrulestr(compiled.rule)
            anchors = compiled.anchors(plan.commune.plan_start, plan.commune.plan_end)
        except (ValueError, TypeError) as exc:
            self.fail((source, loc + ("schedule", "rrule")), f"bad RRULE '{compiled.rule}': {exc}")
            return
        if not anchors:
            self.fail(
                (source, loc + ("schedule",)),
                f"the schedule never fires between "
                f"{vn_date(plan.commune.plan_start)} and {vn_date(plan.commune.plan_end)} "
                "(lịch không bao giờ đến hạn)",
            )
            return
        try:
            for anchor in anchors:
                compiled.period(anchor)
        except ValueError as exc:
            self.fail((source, loc + ("schedule",)), str(exc))
            return
        policy = plan.policy(oid)
        own = ob.policy.reminders is not None or ob.policy.open_before_due is not None
        if own and policy.reminders and policy.reminders[0] > policy.open_before_due:
            self.fail(
                (source, loc + ("policy",)),
                f"a reminder {policy.reminders[0]} working days before the due date comes "
                f"before the item opens ({policy.open_before_due} working days before) "
                "(nhắc việc trước ngày mở nhiệm vụ)",
            )
        if ob.kind in REPORT_KINDS or schedule.window_start_day is not None:
            self._check_after_window(plan, oid, ob, compiled, anchors, (source, loc))
        plan.schedules[oid] = compiled

    def _check_after_window(self, plan: Plan, oid: str, ob, compiled, anchors, where) -> None:
        """A report falls due after its data window closes (at least one working day between,
        Nghị định 09/2019): a due date on or before the cut-off is a mistake of the rule."""
        source, loc = where
        for anchor in anchors:
            period = compiled.period(anchor)
            nominal, _ = nominal_due(ob.schedule.due, period, anchor, plan.calendar)
            due = plan.effective_due(oid, nominal).due
            if due <= period.window_end:
                self.fail(
                    (source, loc + ("schedule", "due")),
                    f"period {period.key}: due {vn_date(due)} is not after its data window "
                    f"closes on {vn_date(period.window_end)} (hạn nộp phải sau ngày chốt số "
                    "liệu); use a due rule after the window, e.g. day_of_month_after or "
                    "working_days_after_window",
                )
                return

    def _warn_late_ladder(self, plan: Plan, oid: str) -> None:
        """A report that another one sums up should have escalated all the way before the
        consolidated report is due: warn about a level that comes after it."""
        consolidator = plan.consolidator(oid)
        if oid not in plan.schedules or consolidator not in plan.schedules:
            return
        span = (plan.commune.plan_start, plan.commune.plan_end)
        # Units of a period share its dates: one ladder per (due, opening) is enough.
        seen = set()
        for occ in plan.occurrences(*span, obligation=oid):
            if (occ.due.due, occ.opens) in seen:
                continue
            seen.add((occ.due.due, occ.opens))
            limit = plan.consolidated_due(oid, occ.due.due)
            opened = local_instant(occ.opens, plan.commune.sweep_time, plan.zone)
            late = [
                s
                for s in plan.timeline(oid, occ.due.due, opened)
                if s.kind == StepKind.ESCALATION and limit and local_date(s.at, plan.zone) > limit
            ]
            if late:
                source, loc = self.obligation_at[oid]
                where = loc + ("policy",) if plan.obligations[oid].policy.escalation else loc
                plan.warnings.append(
                    source.issue(
                        where,
                        f"warning: period {occ.period.key}: escalation level {late[0].level} "
                        f"on {vn_date(local_date(late[0].at, plan.zone))} comes after "
                        f"'{consolidator}' is due on {vn_date(limit)}: add "
                        "`before: consolidated_due` to the level or shorten `after` (cấp đôn "
                        "đốc đến sau hạn báo cáo tổng hợp)",
                    )
                )
                return

    def _check_consolidation(self, plan: Plan, oid: str) -> None:
        """A consolidated report must fall due after every report it sums up, period by period."""
        target = plan.obligations[oid].consolidates
        if not target or oid not in plan.schedules or target not in plan.schedules:
            return
        span = (plan.commune.plan_start, plan.commune.plan_end)
        own = {o.period.key: o.due.due for o in plan.occurrences(*span, obligation=oid)}
        for occ in plan.occurrences(*span, obligation=target):
            mine = own.get(occ.period.key)
            if mine is not None and mine <= occ.due.due:
                self.fail(
                    self.obligation_at[oid],
                    f"period {occ.period.key}: due {vn_date(mine)} is not after the "
                    f"units' due date {vn_date(occ.due.due)} of '{target}'",
                )
                return
