"""Middleware that hardens every answer of the intake: the security headers (no sniffing, no
framing, no referrer, a strict content policy, nothing cached but the static files), and
redirects that point at CCHC_PUBLIC_URL whatever Host header a request carried."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit, urlunsplit

from fastapi import Request, Response


async def security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    return secured(await call_next(request), request.url.path)


def secured(response: Response, path: str) -> Response:
    """`response` with the security headers it does not set itself (`path`: the request's;
    only the static files may be cached)."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'",
    )
    if not path.startswith("/static"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


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
