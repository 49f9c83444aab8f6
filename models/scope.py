"""Which communes the database serves (`ServedScope`, one row): read and stamped here, judged in
`usecases.served`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Engine

from models.db import transaction
from models.store import upsert
from models.tables import ServedScope


def served_scope(engine: Engine) -> ServedScope | None:
    """The database's stamp; None before the first stamp."""
    with transaction(engine) as session:
        return session.get(ServedScope, 1)


def stamp_scope(
    engine: Engine, code: str, is_city: bool, communes: Iterable[str], at: datetime
) -> None:
    """Record that the database serves `code` (a city's, or a single commune's) and `communes`."""
    row = dict(id=1, code=code, is_city=is_city, communes=sorted(communes), stamped_at=at)
    with transaction(engine) as session:
        upsert(session, ServedScope, row)
