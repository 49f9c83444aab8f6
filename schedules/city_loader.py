"""Loading the communes of a config folder (`load_city`): a single commune's, or a city's with
the checks across its communes (commune folders, shared files, shared addresses), each problem
reported once with the communes it breaks."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

from schedules.city import CITY_FILE, COMMUNES, City, is_city_folder, listed_codes
from schedules.city_office import late_ladders, office_plan
from schedules.config import City as CityInfo
from schedules.config import CityFile, ConfigFile
from schedules.config_policy import Policy
from schedules.plan import Plan
from schedules.plan_loader import config_files, load_plan, parse_files
from schedules.plan_merge import Parsed
from schedules.yamlsource import ConfigInvalid, ConfigIssue, YamlSource


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
    office = office_plan(folder, city_source, city_cfg, others, plans) if city_cfg.reports else None
    warnings += _shared_addresses(plans)
    if office is not None:
        warnings += late_ladders(office, plans, city_source)
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
                       f"{listed_codes(codes)}]", tuple(codes))  # fmt: skip


def _dedupe(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    seen: dict[tuple[str, int, str], ConfigIssue] = {}
    for issue in issues:
        seen.setdefault((issue.file, issue.line, issue.message), issue)
    return list(seen.values())
