"""As of what the status pages of the Prefect UI were last published, and whether anything they
show changed since: what lets a sweep's publishing cost what changed, not what is open.

Every change to a work item (opened, moved on by the sweep, handed in, accepted, returned,
waived, reopened) writes an event in the same transaction, so "did a commune's items change
since its page was read" is "is there an event of its items after the last event id then":
one range read on the event log's primary key, its size the events since (`PageLog`).

One gap, and what covers it: on PostgreSQL an event id is taken when the row is inserted, not
when its transaction commits, so a change committed just after a page read its items may carry
an id below the one the page recorded. The intake and the command line publish after their own
commit (`flows.status.item_changed`), and a sweep publishes its own changes, so only a
change made without a Prefect server configured, while a page is being read, waits for the next
day's refresh.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Engine, func, select
from sqlmodel import col

from models.db import transaction
from models.store import upsert
from models.tables import Event, PublishedPage, WorkItem

STATUS = "status"
"""A commune's open-items, late-items and consolidated-report tables (published together)."""
LEAGUE = "league"
"""A city's league table (under the city's code)."""


@dataclass
class PageLog:
    """One read, for every page of a run: what each was published as of, the event log's last
    id now, and the latest event id of each commune whose items changed since the oldest of
    those pages."""

    page: str
    published: dict[str, PublishedPage]
    last_event: int
    changed: dict[str, int]

    def is_current(
        self, commune: str, day: date, fingerprint: str, communes: Iterable[str] | None = None
    ) -> bool:
        """Whether `commune`'s page, as of `day` with the config `fingerprint`, is the one last
        published: same day, same config, and no event since of the items of `communes`
        (default: the commune's own)."""
        row = self.published.get(commune)
        if row is None or row.day != day or row.fingerprint != fingerprint:
            return False
        return all(self.changed.get(c, 0) <= row.event_id for c in communes or [commune])


def page_log(engine: Engine, page: str, communes: Collection[str]) -> PageLog:
    """The `PageLog` of `page` for `communes`. Read it before the items a page shows: an event
    after its `last_event` then makes the page stale, never one before."""
    with transaction(engine) as session:
        last = _last_event(session)
        rows = session.execute(
            select(PublishedPage).where(
                col(PublishedPage.page) == page, col(PublishedPage.commune).in_(list(communes))
            )
        ).scalars()
        published = {row.commune: row for row in rows}
        changed: dict[str, int] = {}
        since = min((row.event_id for row in published.values()), default=last)
        if since < last:
            query = (
                select(col(WorkItem.commune), func.max(col(Event.id)))
                .join(WorkItem, col(WorkItem.id) == col(Event.item_id))
                .where(col(Event.id) > since)
                .group_by(col(WorkItem.commune))
            )
            changed = dict(session.execute(query).all())
    return PageLog(page, published, last, changed)


def mark_published(
    engine: Engine,
    page: str,
    commune: str,
    day: date,
    event_id: int,
    fingerprint: str,
    at: datetime,
) -> None:
    """Record that `commune`'s `page` was published as of `day` and `at`, from items read
    after event `event_id` (`PageLog.last_event` read before them)."""
    row = dict(
        commune=commune, page=page, day=day, event_id=event_id, fingerprint=fingerprint, at=at
    )
    with transaction(engine) as session:
        upsert(session, PublishedPage, row)


def last_event_id(engine: Engine) -> int:
    """The event log's last id (0 when empty): read it before the items a page shows."""
    with transaction(engine) as session:
        return _last_event(session)


def _last_event(session) -> int:
    return session.execute(select(func.coalesce(func.max(Event.id), 0))).scalar_one()
