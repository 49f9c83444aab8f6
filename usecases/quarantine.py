"""The city a writing command or a flow run serves: its broken communes quarantined on the last
valid config the database keeps (`schedules.quarantine`), and the config it applied kept there
as the new last valid one."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from models.snapshots import last_config, remember_config
from schedules.city import City
from schedules.quarantine import applied_files, load_quarantined


def load_serving_city(
    folder: Path | str, engine: Engine | None, cache_dir: Path | None = None
) -> City:
    """The city of `folder` (compiled, from `cache_dir`, while valid and unchanged), its broken
    communes quarantined on the last valid config that `engine`'s database keeps (None: no
    database yet, so they are paused). ConfigInvalid when the city's own files are invalid or
    every commune is broken."""
    return load_quarantined(folder, lambda: last_valid_config(engine), cache_dir)


def last_valid_config(engine: Engine | None) -> tuple[dict[str, str] | None, datetime | None]:
    """The last valid config the database keeps (file name -> text) and when it was applied;
    (None, None) without a database or a snapshot."""
    if engine is None:
        return None, None
    try:
        snapshot = last_config(engine)
    except SQLAlchemyError:  # a database not initialised yet: no last valid config
        return None, None
    return (None, None) if snapshot is None else (dict(snapshot.files), snapshot.saved_at)


def remember_applied(engine: Engine, city: City, at: datetime) -> bool:
    """Keep the config `city` applied as the last valid one: the folder's files, but each
    quarantined commune's last valid files (never its broken ones). True when it changed. A
    whole valid city is compared by its compiled fingerprint first (its files read only when
    the database's copy differs)."""
    if not city.quarantined:
        return remember_config(engine, city.code, city.snapshot_files, at, city.fingerprint)

    last, _ = last_valid_config(engine)  # read before remember_config's transaction opens
    return remember_config(
        engine, city.code, lambda: applied_files(city, city.snapshot_files(), last or {}), at
    )
