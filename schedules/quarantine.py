"""A broken commune does not stop its city: quarantine.

When some communes' own files are invalid (an admin mid-edit in `communes/<code>/`, a shared
file that breaks only some communes), the city is loaded without them and the others go on.
Each quarantined commune is named with its problems (FILE:LINE, as `cchc check` prints them)
and

- runs on its **last valid** files: those of the config snapshot the database keeps of the
  last config a writing command applied (`models.snapshots`), when the city's
  `city.quarantine` is `last_valid` (the default) and the snapshot holds its folder and they
  still fit the city's files as they are now;
- is **paused** otherwise (`quarantine: pause`, or no valid files of it were ever applied): no
  items opened or moved, no mail built for it, until its files are fixed.

A problem in the city's own files (city.yaml, a shared file that breaks every commune) still
stops the city, as before. A single commune's folder has no quarantine: it is the whole
deployment. `cchc check` does not quarantine: it names every error and exits 1.

This module is pure (files in, a `City` out): the database's snapshot is given by the caller
(`usecases.quarantine`).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from schedules.city import CITY_FILE, COMMUNES, City, is_city_folder
from schedules.city_loader import load_city
from schedules.config import CityFile
from schedules.dates import vn_datetime
from schedules.plan_loader import parse_files
from schedules.yamlsource import ConfigInvalid, ConfigIssue

LAST_VALID = "last_valid"
PAUSE = "pause"


@dataclass(frozen=True)
class Quarantined:
    """A commune set aside because its files are invalid."""

    code: str
    issues: tuple[ConfigIssue, ...]
    """Its problems, FILE:LINE: message each."""
    paused: bool
    """True: no items opened or moved, no mail, until its files are fixed; False: it runs on
    its last valid files."""
    saved_at: datetime | None = None
    """When the last valid config it runs on was applied (when known)."""
    by_setting: bool = False
    """Paused by `quarantine: pause` (not for want of last valid files)."""

    def runs_on(self) -> str:
        """On what it runs, in Vietnamese ("cấu hình hợp lệ gần nhất (…)", "tạm dừng …")."""
        if not self.paused:
            when = f" ({vn_datetime(self.saved_at)})" if self.saved_at else ""
            return f"chạy theo cấu hình hợp lệ gần nhất{when}"
        if self.by_setting:
            return "tạm dừng (cài đặt quarantine: pause)"
        return "tạm dừng (chưa có cấu hình hợp lệ nào của xã được áp dụng trước đó)"

    def lines(self) -> list[str]:
        """What a writing command prints on stderr: which commune, why, on what it runs."""
        head = f"cảnh báo: xã {self.code} bị cách ly do cấu hình lỗi, {self.runs_on()}:"
        return [head, *(f"  {issue}" for issue in self.issues)]


LastValid = tuple[Mapping[str, str] | None, datetime | None]
"""The last valid config applied (relative file name -> text), and when; (None, None): none."""


def load_quarantined(
    folder: Path | str,
    last_valid: Callable[[], LastValid] = lambda: (None, None),
    cache_dir: Path | None = None,
) -> City:
    """The city of `folder`, its broken communes quarantined (`City.quarantined`);
    `last_valid` is asked only then. Raises ConfigInvalid, as `load_city` does, when the
    city's own files are invalid or every commune is broken. A valid config comes from the
    compiled cache under `cache_dir` (`schedules.compiled`; a quarantined city is never
    cached)."""
    from schedules.compiled import load_compiled

    folder = Path(folder)
    try:
        return load_compiled(folder, cache_dir)
    except ConfigInvalid as exc:
        first = exc
    broken = broken_communes(folder, first.issues)
    if not broken:
        raise first
    issues = {code: tuple(i for i in first.issues if code in i.communes) for code in broken}
    by_setting = _mode(folder) == PAUSE
    last_files, saved_at = (None, None) if by_setting else last_valid()
    staged = _stage(last_files, broken) if last_files else None
    replaced: dict[str, Path | None] = {code: _kept(staged, code) for code in broken}
    try:
        city = load_city(folder, replaced)
    except ConfigInvalid as again:  # a last valid commune no longer fits the city's files
        unfit = {code for issue in again.issues for code in issue.communes}
        if not unfit or not unfit <= {c for c, p in replaced.items() if p is not None}:
            raise first from again
        replaced |= dict.fromkeys(unfit)
        city = load_city(folder, replaced)
    city.quarantined = [
        Quarantined(
            code,
            issues[code],
            paused=replaced[code] is None,
            saved_at=saved_at if replaced[code] is not None else None,
            by_setting=by_setting,
        )
        for code in sorted(broken)
    ]
    return city


def broken_communes(folder: Path | str, issues: list[ConfigIssue]) -> set[str]:
    """The communes to quarantine: those the problems break, when every problem breaks only
    some communes (none: the city's own files are at fault, or every commune is broken)."""
    folder = Path(folder)
    if not is_city_folder(folder) or any(not issue.communes for issue in issues):
        return set()
    broken = {code for issue in issues for code in issue.communes}
    communes = {p.name for p in (folder / COMMUNES).iterdir() if p.is_dir()}
    return set() if broken >= communes else broken


def _mode(folder: Path) -> str:
    [(_, city_file)] = parse_files([folder / CITY_FILE], CityFile)
    return city_file.city.quarantine


def _stage(files: Mapping[str, str], broken: set[str]) -> Path:
    """The last valid files of the `broken` communes, and the city's (their templates), written
    to a temporary folder (removed at exit) laid out as the config folder, so that a commune's
    `extends:` finds its template there."""
    staged = Path(tempfile.mkdtemp(prefix="cchc-last-valid-"))
    atexit.register(shutil.rmtree, staged, ignore_errors=True)
    for name, text in files.items():
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts:
            continue
        if relative.parts[0] == COMMUNES and relative.parts[1:2] not in [(c,) for c in broken]:
            continue  # another commune's: not needed
        target = staged.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return staged


def _kept(staged: Path | None, code: str) -> Path | None:
    """The commune's last valid folder in `staged`; None (paused) when it holds none."""
    if staged is None:
        return None
    own = staged / COMMUNES / code
    return own if own.is_dir() and any(own.glob("*.y*ml")) else None


def applied_files(city: City, current: Mapping[str, str], last: Mapping[str, str]) -> dict:
    """The files to keep as the last valid config: the folder's as they are, but each
    quarantined commune's last valid ones (its broken files are never kept, so that it can run
    on its last valid ones until they are fixed)."""
    prefixes = tuple(f"{COMMUNES}/{q.code}/" for q in city.quarantined)
    if not prefixes:
        return dict(current)
    kept = {name: text for name, text in current.items() if not _under(name, prefixes)}
    return kept | {name: text for name, text in last.items() if _under(name, prefixes)}


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return PurePosixPath(name).as_posix().startswith(prefixes)
