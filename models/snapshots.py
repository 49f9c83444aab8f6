"""The last valid config each command applied to the database, kept so that read-only commands
still answer while the config on disk is being edited (and is invalid)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, select
from sqlmodel import col

from models.db import transaction
from models.store import upsert
from models.tables import ConfigSnapshot
from schedules.city import config_fingerprint


def remember_config(
    engine: Engine,
    commune: str,
    files: Callable[[], dict[str, str]],
    at: datetime,
    fingerprint: str | None = None,
) -> bool:
    """Keep `files()` (name -> text) as the commune's last valid config; True when they
    changed. `fingerprint`: their `config_fingerprint` when known (a compiled config's), so that
    the files are read only when the database's copy differs."""
    with transaction(engine) as session:
        known = session.get(ConfigSnapshot, commune)
        if fingerprint is not None and known is not None and known.fingerprint == fingerprint:
            return False
        texts = files()
        fingerprint = config_fingerprint(texts)
        if known is not None and known.fingerprint == fingerprint:
            return False
        row = dict(commune=commune, fingerprint=fingerprint, files=texts, saved_at=at)
        upsert(session, ConfigSnapshot, row)
        return True


def last_config(engine: Engine) -> ConfigSnapshot | None:
    """The most recently saved snapshot (a single-commune database holds one)."""
    query = select(ConfigSnapshot).order_by(col(ConfigSnapshot.saved_at).desc()).limit(1)
    with transaction(engine) as session:
        return session.scalars(query).first()


def config_of(engine: Engine, code: str) -> ConfigSnapshot | None:
    """The snapshot of `code`'s config (a city's, or a single commune's)."""
    with transaction(engine) as session:
        return session.get(ConfigSnapshot, code)


def write_snapshot(snapshot: ConfigSnapshot, folder: Path) -> Path:
    """Write the snapshot's files under `folder` (names that would leave it are skipped), as
    a config folder `schedules.city_loader.load_city` reads; returns `folder`."""
    for name, text in snapshot.files.items():
        relative = Path(name)
        if relative.is_absolute() or ".." in relative.parts:
            continue
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text, encoding="utf-8")
    return folder
