"""The communes one deployment serves: a single commune's folder, or a city's folder.

A city's folder holds `city.yaml` (the city, its office, optionally its leadership, policy
defaults, calendar and obligations), other files with `calendar` and `obligations` shared by every
commune, and `communes/<code>/`, each a commune's folder in the single-commune format whose
`commune.code` is the folder's name. A commune's files may `extends:` a template plan.

`load_city` reads either form; everything downstream loops over `City.plans`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from schedules.commune_kinds import commune_kinds_phrase
from schedules.config import City as CityInfo
from schedules.config import (
    CityFile,
    Commune,
    ConfigFile,
    Leader,
    Obligation,
    Person,
    Policy,
    Unit,
)
from schedules.dates import vn_date
from schedules.plan import Plan
from schedules.plan_checks import late_ladder
from schedules.plan_loader import build_plan, config_files, load_plan, parse_files
from schedules.plan_merge import Parsed
from schedules.yamlsource import ConfigInvalid, ConfigIssue, YamlSource

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


def load_city(folder: Path | str, replaced: Mapping[str, Path | None] | None = None) -> City:
    """The communes of `folder`; ConfigInvalid lists every problem of every commune, those of a
    file shared by several communes once, naming the communes. `replaced`: quarantined
    communes (`schedules.quarantine`), each read from another folder (its last valid files) or,
    None, left out (paused)."""
    folder = Path(folder)
    if not is_city_folder(folder):
        return City.of(load_plan(folder))
    city_source, city_cfg, others = _city_files(folder)
    shared: Parsed = [
        (
            city_source,
            ConfigFile(
                calendar=city_cfg.calendar,
                obligations=city_cfg.obligations,
                indicators=city_cfg.indicators,
            ),
        ),
        *others,
    ]
    communes_dir = folder / COMMUNES
    codes = _commune_codes(communes_dir)
    issues = [
        *_shared_only(others),
        *_no_communes(city_source, codes, communes_dir),
        *_unknown_communes(shared, set(codes)),
        *_code_taken(city_source, city_cfg.city, codes),
    ]
    plans, failed = _load_communes(folder, codes, shared, city_cfg.city.defaults, replaced or {})
    issues += [_for_communes(key, names, communes_dir) for key, names in failed.items()]
    if issues:
        raise ConfigInvalid(issues)
    warnings = _dedupe([w for plan in plans.values() for w in plan.warnings])
    years = frozenset(year for _, cfg in shared for year in cfg.calendar or {})
    office = (
        _office_plan(folder, city_source, city_cfg, others, plans) if city_cfg.reports else None
    )
    warnings += _shared_addresses(plans)
    if office is not None:
        warnings += _late_ladders(office, plans, city_source)
    return City(folder, city_cfg.city, plans, warnings, years, office)


def _city_files(folder: Path) -> tuple[YamlSource, CityFile, Parsed]:
    """`city.yaml`, and the other files of the city's folder (what every commune shares)."""
    others = [p for p in config_files(folder) if p.name != CITY_FILE]
    [(city_source, city_cfg)] = parse_files([folder / CITY_FILE], CityFile)
    return city_source, city_cfg, parse_files(others)


def _commune_codes(communes_dir: Path) -> list[str]:
    """The communes' codes: the names of the folders under `communes/`, in order."""
    if not communes_dir.is_dir():
        return []
    return sorted(p.name for p in communes_dir.iterdir() if p.is_dir())


def _no_communes(source: YamlSource, codes: list[str], communes_dir: Path) -> list[ConfigIssue]:
    if codes:
        return []
    message = (
        f"no commune folder under {communes_dir} (chưa có thư mục xã nào trong "
        f"{COMMUNES}/): add {COMMUNES}/<code>/ with the commune's files"
    )
    return [source.issue((), message)]


def _code_taken(source: YamlSource, info: CityInfo, codes: list[str]) -> list[ConfigIssue]:
    if info.code not in codes:
        return []
    message = (
        f"city.code '{info.code}' is also a commune's folder name: the city office's items "
        "and links would be that commune's; give the city another code (mã thành phố trùng "
        "mã một xã)"
    )
    return [source.issue(("city", "code"), message)]


def _load_communes(
    folder: Path,
    codes: list[str],
    shared: Parsed,
    defaults: Policy | None,
    replaced: Mapping[str, Path | None],
) -> tuple[dict[str, Plan], dict[tuple[str, int, str], list[str]]]:
    """Each commune's plan, and the problems of those that failed, each once with the
    communes it breaks (a shared file's problem breaks them all)."""
    plans: dict[str, Plan] = {}
    failed: dict[tuple[str, int, str], list[str]] = defaultdict(list)
    templates: dict[Path, Parsed] = {}
    for code in codes:
        own = folder / COMMUNES / code
        source = replaced.get(code, own)
        if source is None:  # paused
            continue
        try:
            plan = load_plan(source, shared, defaults, templates)
        except ConfigInvalid as exc:
            for issue in exc.issues:
                failed[(issue.file, issue.line, issue.message)].append(code)
            continue
        if plan.commune.code != code:
            failed[_misnamed(plan, code)].append(code)
            continue
        plan.folder, plan.city_folder = own, folder  # a replaced one's templates: its own
        plans[code] = plan
    return plans, failed


def _misnamed(plan: Plan, code: str) -> tuple[str, int, str]:
    """The problem of a commune whose `commune.code` is not its folder's name."""
    source = next(s for s, c in parse_files(config_files(plan.folder)) if c.commune)
    return (
        str(source.path),
        source.line_of(("commune", "code")),
        f"commune.code '{plan.commune.code}' differs from its folder name '{code}': "
        f"make them equal (mã xã phải trùng tên thư mục)",
    )


def _office_plan(
    folder: Path, source: YamlSource, cfg: CityFile, others: Parsed, plans: dict[str, Plan]
) -> Plan:
    """The city office's own reports as a plan: the office is its only unit and standing
    office, the city's leadership its leadership (the office itself when none is given), its
    dates those of the communes' plans, their calendar shared. Its reports consolidate the
    communes' reports: each level its own deadline (Nghị định 09/2019), the city's after the
    communes' for every period."""
    info, first = cfg.city, next(iter(plans.values())).commune
    office = info.office
    contact = office.contact or Person(name=office.name, email=office.email)
    leadership = info.leadership or [Leader(name=office.name, email=office.email)]
    if office.director is not None:
        # The office's own lateness goes to its head (Giám đốc Sở) first; the city's leaders
        # stay reachable by a level's `leadership`, not as the leader in charge.
        director = Leader(**office.director.model_dump(), in_charge=True)
        leadership = [director, *(p.model_copy(update={"in_charge": False}) for p in leadership)]
    commune = Commune(
        code=info.code,
        name=info.name,
        plan=info.plan or f"Kế hoạch cải cách hành chính của {info.name}",
        plan_short=info.plan or info.name,
        timezone=first.timezone,
        standing_office=office.code,
        contact=contact,
        leadership=leadership,
        plan_start=min(p.commune.plan_start for p in plans.values()),
        plan_end=max(p.commune.plan_end for p in plans.values()),
        start=min(p.commune.start for p in plans.values()),
        # Live when its communes are, if they all set the date; else its own first sweep.
        go_live=_earliest_go_live(plans),
        sweep_time=first.sweep_time,
        defaults=info.defaults or first.defaults,
    )
    head = office.director or contact
    unit = Unit(code=office.code, name=office.name, email=office.email, head=head)
    # Errors in `reports` point at their lines: the builder reads them as `obligations`.
    lines = dict(source.lines)
    lines |= {("obligations",) + k[1:]: v for k, v in source.lines.items() if k[:1] == ("reports",)}
    reports = YamlSource(source.path, source.data, lines)
    kinds = {code: str(p.commune.kind) for code, p in plans.items()}
    obligations = _with_commune_kinds(cfg.reports or [], commune_kinds_phrase(kinds.values()))
    parsed = [
        (reports, ConfigFile(commune=commune, units=[unit], obligations=obligations,
                             calendar=cfg.calendar)),
        *((s, ConfigFile(calendar=c.calendar)) for s, c in others if c.calendar),
    ]  # fmt: skip
    foreign = frozenset(oid for plan in plans.values() for oid in plan.obligations)
    plan = build_plan(folder, parsed, foreign)
    plan.city_folder = folder
    plan.communes = {code: p.commune.name for code, p in plans.items()}
    plan.commune_kinds = kinds
    plan.lower = dict(plans)
    _check_levels(plan, plans, reports)
    for commune_plan in plans.values():
        commune_plan.attach_upper(plan)
    return plan


COMMUNE_KINDS_TOKEN = "{commune_kinds}"
"""In the city office's reports: the kinds of the city's communes ("xã, phường, đặc khu")."""


def _with_commune_kinds(reports: list[Obligation], phrase: str) -> list[Obligation]:
    """`{commune_kinds}` in a city report's texts becomes the kinds its communes are ("Tổng
    hợp báo cáo … của các {commune_kinds}" → "… của các xã, phường, đặc khu")."""
    fields = ("title", "product", "timing", "description")
    found = []
    for ob in reports:
        update = {
            f: getattr(ob, f).replace(COMMUNE_KINDS_TOKEN, phrase)
            for f in fields
            if getattr(ob, f) and COMMUNE_KINDS_TOKEN in getattr(ob, f)
        }
        found.append(ob.model_copy(update=update) if update else ob)
    return found


def _check_levels(office: Plan, plans: dict[str, Plan], source: YamlSource) -> None:
    """Each city report sums up a report every commune owes, and falls due after it, period by
    period."""
    issues = []
    for i, report in enumerate(office.obligations.values()):
        target = report.consolidates
        lacking = [code for code, plan in plans.items() if target and target not in plan.schedules]
        if lacking:
            issues.append(
                source.issue(
                    ("reports", i, "consolidates"),
                    f"'{target}' is not a scheduled obligation of every commune: missing in "
                    f"{_names(lacking)} (xã chưa có nhiệm vụ này)",
                )
            )
            continue
        if not target or report.id not in office.schedules:
            continue
        span = (office.commune.plan_start, office.commune.plan_end)
        own = {o.period.key: o.due.due for o in office.occurrences(*span, obligation=report.id)}
        late = next(
            (
                (code, occ)
                for code, plan in plans.items()
                if target in plan.schedules
                for occ in plan.occurrences(*span, obligation=target)
                if occ.period.key in own and own[occ.period.key] <= occ.due.due
            ),
            None,
        )
        if late:
            code, occ = late
            issues.append(
                source.issue(
                    ("reports", i, "schedule"),
                    f"period {occ.period.key}: due {vn_date(own[occ.period.key])} is not after "
                    f"commune {code}'s due date {vn_date(occ.due.due)} of '{target}' (hạn của "
                    "thành phố phải sau hạn của xã)",
                )
            )
    if issues:
        raise ConfigInvalid(issues)


def _late_ladders(office: Plan, plans: dict[str, Plan], source: YamlSource) -> list[ConfigIssue]:
    """A commune's report to the city escalates all the way before the city's report is due
    (its ladder ends by the city's due date for it): one warning per city report, at its
    schedule, with the first commune's first late level and the communes it concerns."""
    found = []
    for i, (rid, report) in enumerate(office.obligations.items()):
        target = report.consolidates
        if not target or rid not in office.schedules:
            continue
        late: dict[str, str] = {}
        # Communes of one template and calendar share their ladders: each worked out once.
        known: dict[str, str | None] = {}
        for code, plan in plans.items():
            if target not in plan.schedules:
                continue
            key = plan.fingerprint(target)
            if key not in known:
                known[key] = late_ladder(plan, target, rid)
            if known[key]:
                late[code] = known[key] or ""
        if late:
            first, message = next(iter(late.items()))
            found.append(
                source.issue(
                    ("reports", i, "schedule"),
                    f"warning: commune {first}: {message.removeprefix('warning: ')} (the report "
                    f"the city office sums up; thang đôn đốc của xã phải kết thúc trước hạn của "
                    f"thành phố) [{'commune' if len(late) == 1 else 'communes'}: "
                    f"{_names(list(late))}]",
                )
            )
    return found


def _shared_addresses(plans: dict[str, Plan]) -> list[ConfigIssue]:
    """A unit address used by units of several communes: a copied folder kept the other
    commune's addresses, and its mails would reach the wrong commune. One warning per
    address, at the second commune's unit."""
    first: dict[str, str] = {}
    found = []
    for code, plan in plans.items():
        for unit in plan.units.values():
            email = str(unit.email).lower()
            owner = first.setdefault(email, code)
            if owner == code:
                continue
            where = plan.unit_sources.get(unit.code) or ConfigIssue(str(plan.folder), 1, "")
            found.append(
                ConfigIssue(
                    where.file,
                    where.line,
                    f"warning: unit {unit.code} of commune {code} has the address {email} of "
                    f"a unit of commune {owner}: its mails would reach the other commune; give "
                    f"each commune its own addresses (hai xã dùng chung địa chỉ thư của đơn vị)",
                )
            )
    return found


def _shared_only(parsed: Parsed) -> list[ConfigIssue]:
    """A city-level file holds what every commune shares, never a commune nor units."""
    found = []
    for source, cfg in parsed:
        for key in ("commune", "units", "extends"):
            if getattr(cfg, key) is not None:
                found.append(
                    source.issue(
                        (key,),
                        f"'{key}' belongs in a commune's folder ({COMMUNES}/<code>/), not at "
                        f"the city level (khai báo trong thư mục của xã)",
                    )
                )
    return found


def _unknown_communes(shared: Parsed, codes: set[str]) -> list[ConfigIssue]:
    found = []
    for source, cfg in shared:
        for key in ("obligations", "indicators"):
            found += _unknown_in(source, key, getattr(cfg, key) or [], codes)
    return found


def _unknown_in(source: YamlSource, key: str, rows: list, codes: set[str]) -> list[ConfigIssue]:
    """Commune codes of a shared file's `key` rows (`communes:`) that no commune has."""
    found = []
    for i, row in enumerate(rows):
        for j, code in enumerate(row.communes or []):
            if code not in codes:
                found.append(
                    source.issue(
                        (key, i, "communes", j),
                        f"unknown commune '{code}' (xã không tồn tại); known: "
                        f"{', '.join(sorted(codes)) or '-'}",
                    )
                )
    return found


def _for_communes(key: tuple[str, int, str], codes: list[str], communes_dir: Path) -> ConfigIssue:
    """One issue per problem: a file of a commune's own folder names it already; a shared
    file's problem says which communes it breaks."""
    file, line, message = key
    if Path(file).is_relative_to(communes_dir):
        return ConfigIssue(file, line, message, tuple(codes))
    return ConfigIssue(file, line, f"{message} [{'commune' if len(codes) == 1 else 'communes'}: "
                       f"{_names(codes)}]", tuple(codes))  # fmt: skip


def _names(codes: list[str]) -> str:
    """ "xa001, xa002, xa003, xa004, xa005 and 3 more" """
    return ", ".join(codes[:5]) + (f" and {len(codes) - 5} more" if len(codes) > 5 else "")


def _dedupe(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    seen: dict[tuple[str, int, str], ConfigIssue] = {}
    for issue in issues:
        seen.setdefault((issue.file, issue.line, issue.message), issue)
    return list(seen.values())


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


def _earliest_go_live(plans: dict[str, Plan]) -> date | None:
    """The earliest `go_live` of the communes when every one sets it; None otherwise."""
    found = [p.commune.go_live for p in plans.values()]
    dates = [d for d in found if d is not None]
    return min(dates) if dates and len(dates) == len(found) else None


def short_name(name: str) -> str:
    """ "Ủy ban nhân dân xã Mao Điền" → "xã Mao Điền": the commune, as the city names it."""
    return re.sub(r"^(?:(?:Ủy|Uỷ) ban nhân dân|UBND)\s+", "", name, flags=re.IGNORECASE)
