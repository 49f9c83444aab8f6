"""Guards of the intake that are not about files: failed basic-auth logins throttled per client,
and redirects that point at CCHC_PUBLIC_URL whatever Host header a request carried."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from fastapi import Request, Response

MAX_FAILURES = 5
"""Wrong passwords a client may try within `WINDOW` before it has to wait."""
WINDOW = timedelta(minutes=15)
MAX_CLIENTS = 10_000
"""Clients remembered at once (the oldest are forgotten first): memory stays bounded."""


class LoginThrottle:
    """Failed logins per client (its address). After `limit` failures within `window` the
    client is refused, right password or not, until the oldest failure is `window` old: a
    guesser gets a handful of tries per quarter of an hour instead of thousands a second.
    Time is the app's clock (`at`), as everywhere in cchc."""

    def __init__(self, limit: int = MAX_FAILURES, window: timedelta = WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, list[datetime]] = {}
        self._lock = threading.Lock()

    def blocked_for(self, client: str, at: datetime) -> timedelta | None:
        """How long `client` must still wait, or None when it may try."""
        with self._lock:
            recent = self._recent(client, at)
            if len(recent) < self.limit:
                return None
            return recent[-self.limit] + self.window - at

    def failed(self, client: str, at: datetime) -> None:
        with self._lock:
            recent = self._recent(client, at)
            recent.append(at)
            self._failures[client] = recent[-self.limit :]
            if len(self._failures) > MAX_CLIENTS:
                oldest = min(self._failures, key=lambda c: self._failures[c][-1])
                del self._failures[oldest]

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)

    def _recent(self, client: str, at: datetime) -> list[datetime]:
        return [t for t in self._failures.get(client, []) if at - t < self.window]


def client_of(request: Request) -> str:
    """The client's address (behind a reverse proxy: the one uvicorn's proxy headers give)."""
    return request.client.host if request.client else "unknown"


def public_redirects(
    base_url: str,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    """A middleware that rebuilds every absolute redirect (Starlette's trailing-slash
    redirects, `/static` → `/static/`, build theirs from the Host header) on CCHC_PUBLIC_URL, so
    a forged Host never sends a user elsewhere. Relative redirects are left as they are."""
    public = urlsplit(base_url)
    prefix = public.path.rstrip("/")

    async def middleware(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        location = response.headers.get("location")
        if location and 300 <= response.status_code < 400:
            target = urlsplit(location)
            if target.scheme or target.netloc:
                path = target.path or "/"
                if prefix and not (path == prefix or path.startswith(prefix + "/")):
                    path = prefix + path
                response.headers["location"] = urlunsplit(
                    (public.scheme, public.netloc, path, target.query, "")
                )
        return response

    return middleware
