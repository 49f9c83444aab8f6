"""The checked config, compiled once and reused while its files are unchanged.

Reading a config folder (YAML, validation, the checks, the working-day calendar) costs about
10 ms per commune: a country's 3,321 communes took every command ~44 s before it did anything.
`load_compiled` keeps the `City` that `load_city` made, pickled, in a cache folder
(`Settings.config_cache`: CCHC_CONFIG_CACHE, else the user's `~/.cache/cchc/config/`; one file
per config folder, the `KEEP` most recent kept), with what it was made from:

- the path, modification time (ns) and size of every file read (its own, the city's, a
  template's), and its content's digest when it was modified within `RACY_SECONDS` before the
  cache was written (a file rewritten within the file system's clock tick keeps its time);
- the modification time of every folder under the config folder, and of every other folder a
  file was read from (a template's): a file or a commune added or removed changes them;
- the code that made it: the modification time and size of every `schedules/*.py`, of the
  `holidays` and pydantic versions' files, and Python's version.

The next command checks those (a stat per file: ~0.1 s for a country) and loads the pickle
(~0.5 ms per commune) instead of the YAML. Anything that differs, a cache file that cannot be
read, is truncated or was written by other code: the config is read again, as without a
cache, and the cache rewritten. An invalid config is never cached: its errors are raised with
their FILE:LINE each time. A pickle runs code when it is loaded: the cache folder is made
(0700) and each file written (0600) so that only the user who runs cchc can write what it loads.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from schedules import yamlsource

FORMAT = 1
"""Bumped when the cache file's layout changes."""
KEEP = 64
"""Cache files kept (the most recently written): tests and trials make many config folders."""
RACY_SECONDS = 2.0
"""A file modified less than this before its stamp was taken is also compared by content."""


@dataclass(frozen=True)
class Stamp:
    """What the compiled config was made from: files and folders as they were then."""

    code: tuple
    files: tuple[tuple[str, int, int, str | None], ...]
    """(path, mtime_ns, size, digest of the content or None)"""
    folders: tuple[tuple[str, int], ...]
    """(path, mtime_ns)"""

    def current(self) -> bool:
        """Whether every file and folder is still as stamped (and the code the same)."""
        if self.code != code_stamp():
            return False
        try:
            for path, mtime, size, digest in self.files:
                found = os.stat(path)
                if found.st_mtime_ns != mtime or found.st_size != size:
                    return False
                if digest is not None and _digest(path) != digest:
                    return False
            return all(os.stat(path).st_mtime_ns == mtime for path, mtime in self.folders)
        except OSError:
            return False


def load_compiled(folder: Path | str, cache_dir: Path | None):
    """`schedules.city_loader.load_city(folder)`, from the cache under `cache_dir` while the
    config's files are unchanged (None: no cache). Raises ConfigInvalid as `load_city` does."""
    from schedules.city import config_fingerprint
    from schedules.city_loader import load_city

    if cache_dir is None:
        return load_city(folder)
    where = cache_file(Path(folder), cache_dir)
    city = _read(where)
    if city is not None:
        return city
    started = time.time_ns()
    reads: set[str] = set()
    yamlsource.READS.append(reads)
    try:
        city = load_city(folder)
    finally:
        yamlsource.READS.remove(reads)
    # The files the database's copy of the config is made of are part of what it depends on.
    files = city.snapshot_files()
    reads |= {os.path.abspath(city.folder / name) for name in files}
    stamp = _stamp(Path(folder), reads, started)
    if stamp is not None:
        city.fingerprint = config_fingerprint(files)
        _warm(city)
        _write(where, stamp, city)
    return city


def cache_file(folder: Path, cache_dir: Path) -> Path:
    """The cache file of a config folder (one per folder, by its absolute path)."""
    key = hashlib.sha256(os.path.abspath(folder).encode()).hexdigest()[:24]
    return cache_dir / f"{key}.pickle"


def code_stamp() -> tuple:
    """The code a compiled config depends on: a change to it makes the cache stale."""
    here = Path(__file__).parent
    found: list = [FORMAT, sys.version]
    sources = sorted(here.glob("*.py"))
    for package, name in (("holidays", "version.py"), ("pydantic", "version.py")):
        spec = importlib.util.find_spec(package)
        for root in (spec.submodule_search_locations or []) if spec else []:
            sources.append(Path(root) / name)
    for path in sources:
        try:
            info = path.stat()
        except OSError:
            continue
        found.append((str(path), info.st_mtime_ns, info.st_size))
    return tuple(found)


def _stamp(folder: Path, reads: set[str], started: int) -> Stamp | None:
    """The stamp of what was read; None when a file or folder changed while it was read (the
    config is being edited: better not cache it)."""
    now = time.time_ns()
    racy = now - int(RACY_SECONDS * 1e9)
    folders = {os.path.abspath(path) for path, _, _ in os.walk(folder)}  # a file added anywhere
    folders |= {os.path.dirname(path) for path in reads}  # a template's folder, outside
    files = []
    try:
        for path in sorted(reads):
            info = os.stat(path)
            if info.st_mtime_ns >= started:
                return None
            digest = _digest(path) if info.st_mtime_ns >= racy else None
            files.append((path, info.st_mtime_ns, info.st_size, digest))
        dirs = []
        for path in sorted(folders):
            if not os.path.isdir(path):
                continue
            mtime = os.stat(path).st_mtime_ns
            if mtime >= started:
                return None
            dirs.append((path, mtime))
    except OSError:
        return None
    return Stamp(code_stamp(), tuple(files), tuple(dirs))


def _digest(path: str) -> str:
    with open(path, "rb") as file:
        return hashlib.blake2b(file.read(), digest_size=16).hexdigest()


def _warm(city) -> None:
    """Compute what every command asks first, so that it is stored with the plans: the public
    holidays (then a command started from the cache never imports `holidays`) and the
    obligations' fingerprints (every sweep compares them with its opening marks); leave out
    what only some commands use."""
    shared: dict = {}
    for plan in city.select(None):
        calendar = plan.calendar
        calendar.is_working_day(plan.commune.start)
        for name in ("public_holidays", "_days_off", "_working_days"):
            # Equal in most communes: stored once (nearly half of a commune's pickle otherwise).
            value = calendar.__dict__[name]
            key = (name, frozenset(value.items()) if isinstance(value, dict) else value)
            calendar.__dict__[name] = shared.setdefault(key, value)
        for obligation in plan.schedules:
            plan.fingerprint(obligation)
        # Memos the checks filled (working days counted, resolved policies): cheap to refill
        # for the few communes a command works on, a third of the file if kept.
        calendar.__dict__.pop("_counted", None)
        plan.__dict__.pop("_policies", None)


def _read(where: Path):
    """The cached City, or None: absent, unreadable, corrupt, of other code, or stale."""
    try:
        with open(where, "rb") as file:
            stamp = pickle.load(file)
            if not isinstance(stamp, Stamp) or not stamp.current():
                return None
            return pickle.load(file)
    except Exception:  # noqa: BLE001  (whatever a damaged file raises: read the config again)
        return None


def _write(where: Path, stamp: Stamp, city) -> None:
    """Store the compiled config atomically (a reader sees the old file or the new one); a
    cache that cannot be written is no error."""
    try:
        where.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, temporary = tempfile.mkstemp(dir=where.parent, prefix=".config-", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                pickle.dump(stamp, file, protocol=pickle.HIGHEST_PROTOCOL)
                pickle.dump(city, file, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, where)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _prune(where.parent)
    except (OSError, pickle.PicklingError, RecursionError, TypeError, AttributeError):
        return


def _prune(folder: Path) -> None:
    """Keep the `KEEP` most recently written cache files."""
    found = []
    for path in folder.glob("*.pickle"):
        try:
            found.append((path.stat().st_mtime_ns, path))
        except OSError:
            continue
    for _, path in sorted(found, reverse=True)[KEEP:]:
        path.unlink(missing_ok=True)
