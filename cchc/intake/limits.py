"""How often a client may do something: `RecentEvents` counts what each key did within a sliding
window, in bounded memory. The login throttle (`cchc.intake.auth.LoginThrottle`) and the upload
quota of a unit's link (`UploadQuota`) are built on it. Time is the app's clock (`at`), as
everywhere in cchc; the counts live in the server's memory (one process serves the intake)."""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timedelta

MAX_KEYS = 10_000
"""Keys remembered at once (the least recently active are forgotten first)."""


class RecentEvents:
    """At most `limit` events per key within `window`: `wait` says how long a key must still
    wait, `add` counts one more. Thread-safe (the routes run in a thread pool)."""

    def __init__(self, limit: int, window: timedelta, max_keys: int = MAX_KEYS) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._events: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def wait(self, key: str, at: datetime) -> timedelta | None:
        """How long `key` must still wait, or None when it may act."""
        with self._lock:
            return self._wait(self._recent(key, at), at)

    def add(self, key: str, at: datetime) -> None:
        """Count an event of `key`."""
        with self._lock:
            self._add(key, self._recent(key, at), at)

    def take(self, key: str, at: datetime) -> timedelta | None:
        """Count an event of `key` when it may act (None); else how long it must wait."""
        with self._lock:
            recent = self._recent(key, at)
            wait = self._wait(recent, at)
            if wait is None:
                self._add(key, recent, at)
            return wait

    def _wait(self, recent: deque[datetime], at: datetime) -> timedelta | None:
        if len(recent) < self.limit:
            return None
        return recent[-self.limit] + self.window - at

    def _add(self, key: str, recent: deque[datetime], at: datetime) -> None:
        recent.append(at)
        self._events.pop(key, None)
        self._events[key] = recent  # most recently active last
        while len(self._events) > self.max_keys:
            del self._events[next(iter(self._events))]

    def clear(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)

    def _recent(self, key: str, at: datetime) -> deque[datetime]:
        recent = self._events.get(key, deque(maxlen=self.limit))
        while recent and at - recent[0] >= self.window:
            recent.popleft()
        return recent


def minutes_to_wait(wait: timedelta) -> int:
    """A wait as the whole minutes a page states (at least one)."""
    return max(1, -(-int(wait.total_seconds()) // 60))


def retry_after(wait: timedelta) -> dict[str, str]:
    """The `Retry-After` header of a 429 answer."""
    return {"Retry-After": str(max(1, int(wait.total_seconds())))}


class UploadQuota:
    """Uploads per link (an item and unit) within an hour, counted when they arrive, refused
    or not: a leaked or fuzzed link cannot make hundreds of versions and receipt mails."""

    WINDOW = timedelta(hours=1)

    def __init__(self, per_hour: int) -> None:
        self.per_hour = per_hour
        self._events = RecentEvents(per_hour, self.WINDOW)

    def take(self, item_id: int, unit: str, at: datetime) -> timedelta | None:
        """Count an upload of the link; how long it must wait instead when over the quota."""
        return self._events.take(f"{item_id}:{unit}", at)
