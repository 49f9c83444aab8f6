"""The id of a saved row, without the tables: light enough for what never reads the database
(the mail of `cchc check`'s samples)."""

from __future__ import annotations

from typing import Protocol


class Row(Protocol):
    @property
    def id(self) -> int | None: ...


def saved_id(row: Row) -> int:
    """The id of a row the database holds (read, or flushed after its insert): a new row's
    is None until then."""
    assert row.id is not None, f"{type(row).__name__} has no id: it was never saved"
    return row.id
