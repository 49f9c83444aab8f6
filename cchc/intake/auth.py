"""Who acts on the office pages (`Office`), and over which communes.

The office pages are scoped by their token: a token signed for a commune's code is that
commune's standing office, which sees and acts on its own items only; a token signed for the
city's code is the city's office (Sở Nội vụ), which sees every commune, with a filter by
commune. Without a token, basic auth (CCHC_OFFICE_USER) logs in the deployment's office, and
failed logins are throttled per client and in all (`LoginThrottle`). Every office route asks
`Office.sees` before it reads or changes an item, and answers 404 for an item out of its scope
(as for one that does not exist).
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from fastapi import Request

from cchc.intake.errors import PageError
from cchc.intake.limits import RecentEvents, minutes_to_wait, retry_after
from notifications.links import LinkInvalid, office_scope
from usecases.review import OFFICE

if TYPE_CHECKING:
    from cchc.intake.context import IntakeContext

CITY_OFFICE = "city_office"
"""The actor of what the city's office does through its link (a standing office's: OFFICE)."""
MAX_FAILURES = 5
"""Wrong passwords a client (an address and a user name) may try within `WINDOW` before it has
to wait."""
MAX_FAILURES_ALL = 100
"""Wrong passwords from everyone together within `WINDOW`, past which every basic-auth login
waits (the office links still work): guessers spread over many addresses get no more."""
WINDOW = timedelta(minutes=15)
MAX_NAME = 64
"""Characters of a tried user name kept in the throttle's key."""


@dataclass(frozen=True)
class Office:
    """Who acts on the office pages, and over which communes (see the module's docstring)."""

    actor: str
    """OFFICE or CITY_OFFICE (a signed link), or the basic-auth user: who accepted, returned
    or recorded, in the item's events."""
    scope: str
    """The code its token names: a commune's, or the city's (`office_link`)."""
    commune: str | None
    """The commune of a standing office; None: the city's office, every commune."""

    def sees(self, commune: str) -> bool:
        return self.commune is None or commune == self.commune


class LoginThrottle:
    """Failed logins per client: its address (the connection's, or the one a trusted proxy
    names: CCHC_TRUSTED_PROXIES) and the user name it tried, plus a cap on everyone's failures
    together. After `limit` failures within `window` the client is refused, right password or
    not, until the oldest failure is `window` old; after `limit_all` failures of all clients,
    everyone is: a guesser gets a handful of tries per quarter of an hour instead of thousands
    a second, however many addresses it has, and one guesser behind a proxy does not lock out
    the office's other users."""

    def __init__(
        self,
        limit: int = MAX_FAILURES,
        window: timedelta = WINDOW,
        limit_all: int = MAX_FAILURES_ALL,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clients = RecentEvents(limit, window)
        self._everyone = RecentEvents(limit_all, window, max_keys=1)

    def blocked_for(self, client: str, at: datetime, user: str = "") -> timedelta | None:
        """How long `client` trying `user` must still wait, or None when it may try."""
        waits = [self._clients.wait(_key(client, user), at), self._everyone.wait("", at)]
        return max((w for w in waits if w is not None), default=None)

    def failed(self, client: str, at: datetime, user: str = "") -> None:
        self._clients.add(_key(client, user), at)
        self._everyone.add("", at)

    def succeeded(self, client: str, user: str = "") -> None:
        self._clients.clear(_key(client, user))


def _key(client: str, user: str) -> str:
    return f"{client}\x00{user[:MAX_NAME]}"


def client_of(request: Request) -> str:
    """The client's address: the connection's, or behind a trusted reverse proxy the one its
    `X-Forwarded-For` gives (uvicorn rewrites it only for CCHC_TRUSTED_PROXIES)."""
    return request.client.host if request.client else "unknown"


def office_auth(ctx: IntakeContext, request: Request, token: str | None, at: datetime) -> Office:
    """Who is acting, and over which communes: a valid office token (its scope), else basic
    auth when configured (CCHC_OFFICE_USER is the deployment's office: the single commune's
    standing office, or the city's office)."""
    intake = ctx.intake
    if token:
        try:
            scope = office_scope(
                ctx.office_secret, token, at, timedelta(days=intake.office_link_days)
            )
        except LinkInvalid as exc:
            raise PageError(403, "Đường liên kết không dùng được", exc.message) from None
        return office_of(ctx, scope)
    client, tried = client_of(request), basic_credentials(request)[0]
    wait = ctx.throttle.blocked_for(client, at, tried)
    if wait is not None:
        raise PageError(
            429,
            "Đăng nhập sai quá nhiều lần",
            f"Đã nhập sai mật khẩu quá nhiều lần. Hãy thử lại sau {minutes_to_wait(wait)} phút.",
            headers=retry_after(wait),
        )
    user = basic_user(request, intake.office_user, intake.office_password)
    if user:
        ctx.throttle.succeeded(client, tried)
        return office_of(ctx, ctx.city.code, user)
    if request.headers.get("authorization") and intake.office_user and intake.office_password:
        ctx.throttle.failed(client, at, tried)
    if intake.office_user and intake.office_password:
        raise PageError(
            401,
            "Cần đăng nhập",
            "Trang này dành cho cơ quan thường trực về CCHC: hãy đăng nhập.",
            headers={"WWW-Authenticate": 'Basic realm="cchc", charset="UTF-8"'},
        )
    raise PageError(
        403,
        "Không có quyền truy cập",
        "Trang này dành cho cơ quan thường trực về CCHC: hãy mở đường liên kết dành cho "
        "cơ quan thường trực (lệnh `cchc link --office`).",
    )


def office_of(ctx: IntakeContext, scope: str, user: str | None = None) -> Office:
    """The office `scope` names: a commune the config holds (its standing office), or the city
    (its office). A token for anything else, a commune since removed from the config say,
    opens nothing. `user`: the basic-auth login, the actor instead of the office's name."""
    if scope in ctx.city.plans:
        return Office(user or OFFICE, scope, scope)
    if scope == ctx.city.code:
        return Office(user or CITY_OFFICE, scope, None)
    raise PageError(
        403,
        "Đường liên kết không dùng được",
        "Đường liên kết này không dành cho xã, phường nào hệ thống đang phục vụ. Hãy dùng "
        "đường liên kết mới nhất của cơ quan thường trực.",
    )


def basic_credentials(request: Request) -> tuple[str, str]:
    """The user name and password of the request's basic-auth header ("" when there is none,
    or it cannot be read)."""
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return "", ""
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    return user, password


def basic_user(request: Request, user: str | None, password: str | None) -> str | None:
    """The user the request's basic-auth header logs in, when it names `user` with `password`
    (compared in constant time); None otherwise, or when no login is configured."""
    if not (user and password):
        return None
    given_user, given_password = basic_credentials(request)
    if not given_user:
        return None
    ok_user = secrets.compare_digest(given_user.encode(), user.encode())
    ok_password = secrets.compare_digest(given_password.encode(), password.encode())
    return given_user if ok_user and ok_password else None
