"""Signed, expiring links: one per work item and unit for the intake page, one per scope (a
commune's standing office, or the city's office) for the review page.

A token is the payload signed with HMAC (itsdangerous, SHA-1 HMAC over a key derived from
CCHC_SECRET with a per-purpose salt) and the instant it was issued; it expires `link_days` after
that. Nothing is stored: the mail carries the token, the server checks it. Time is a parameter
(`at`), as everywhere in cchc.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from usecases.errors import UserError

if TYPE_CHECKING:  # itsdangerous loads when a link is made or checked, not with the settings
    from itsdangerous import URLSafeTimedSerializer

ITEM_SALT = "cchc.intake.item"
OFFICE_SALT = "cchc.intake.office"
OFFICE_DAYS = 30
"""An office link (`cchc link --office`) lasts a month by default (CCHC_OFFICE_LINK_DAYS)."""
OFFICE_SESSION = timedelta(hours=12)
"""The token an office page carries after a basic-auth login (for its forms and downloads):
a working day, not a bookmark."""


class SecretMissing(ValueError):
    """CCHC_SECRET is needed: links would leave this machine, or the database is shared."""


class LinksUnreachable(UserError):
    """The links would point at a loopback address while other machines may run this set-up
    (`Settings.unreachable_links`): nothing is sent until CCHC_PUBLIC_URL is set."""


class LinkInvalid(Exception):
    """A token that is forged, damaged, for another item, or expired; `reason` is for the log,
    `message` for the person holding the link (Vietnamese)."""

    def __init__(self, reason: str, message: str):
        super().__init__(reason)
        self.reason = reason
        self.message = message


@functools.cache
def _signer_class() -> type:
    from itsdangerous import TimestampSigner

    class _Signer(TimestampSigner):
        """A timestamp signer whose "now" is given (issuing and checking at an instant `at`)."""

        def __init__(self, *args, now: float | None = None, **kwargs):
            super().__init__(*args, **kwargs)
            self._now = now

        def get_timestamp(self) -> int:
            return int(self._now) if self._now is not None else super().get_timestamp()

    return _Signer


@functools.lru_cache(maxsize=16)
def _serializer(secret: str, salt: str, at: datetime) -> URLSafeTimedSerializer:
    """One per key, purpose and instant (a delivery run signs every link as of its `at`)."""
    from itsdangerous import URLSafeTimedSerializer

    if at.tzinfo is None:
        raise ValueError("`at` must be an aware instant")
    return URLSafeTimedSerializer(
        secret, salt=salt, signer=_signer_class(), signer_kwargs={"now": at.timestamp()}
    )


def item_token(secret: str, item_id: int, unit: str, at: datetime) -> str:
    return _serializer(secret, ITEM_SALT, at).dumps({"i": int(item_id), "u": unit})


def item_link(settings, item_id: int, unit: str, at: datetime) -> str:
    """The intake page of one item for one unit, valid `link_days` after `at`.

    Raises `SecretMissing` when no signing key may be used."""
    token = item_token(settings.link_secret(), item_id, unit, at)
    return _item_url(settings.intake.base_url, item_id, token)


def _item_url(base_url: str, item_id: int, token: str) -> str:
    return f"{base_url}/items/{int(item_id)}/{token}"


def verify_item_token(
    secret: str, token: str, at: datetime, max_age: timedelta = timedelta(days=60)
) -> tuple[int, str]:
    """(item id, unit code) the token was issued for, or LinkInvalid."""
    data = _loads(secret, ITEM_SALT, token, at, max_age)
    try:
        item_id, unit = int(data["i"]), str(data["u"])
    except (KeyError, TypeError, ValueError):
        raise LinkInvalid("malformed payload", _FORGED) from None
    return item_id, unit


def intake_linker(settings):
    """`link(item_id, unit, at)` for the mails, or None (with a warning) when no signing key
    may be used: the mails then go out without a link rather than not at all. Raises
    `LinksUnreachable` when the links would reach nobody (a loopback address in a set-up other
    machines share): the mails wait in the outbox until the address is set."""
    import logging

    try:
        secret = settings.link_secret()
    except SecretMissing as exc:
        logging.getLogger("cchc.links").warning("mails carry no upload link: %s", exc)
        return None
    unreachable = settings.unreachable_links()
    if unreachable:
        raise LinksUnreachable(unreachable)
    base_url = settings.intake.base_url
    made: dict[tuple[int, str, datetime], str] = {}

    def link(item_id: int, unit: str, at: datetime) -> str:
        """`item_link`, signed once per item, unit and instant: the rows of an item in one
        delivery run (its notices, a closed mail's copies) carry the same link."""
        key = (int(item_id), unit, at)
        if key not in made:
            made[key] = _item_url(base_url, item_id, item_token(secret, item_id, unit, at))
        return made[key]

    return link


def verify_item_link(settings, token: str, at: datetime) -> tuple[int, str]:
    """(item id, unit code) of a token from `item_link`, or LinkInvalid."""
    return verify_item_token(
        settings.link_secret(), token, at, timedelta(days=settings.intake.link_days)
    )


def office_secret(secret: str, office_key: str | None) -> str:
    """The key that signs the office's tokens: CCHC_SECRET, joined with CCHC_OFFICE_KEY when
    set, so changing the office key revokes every office link and no unit's link."""
    return f"{secret}\x1foffice\x1f{office_key}" if office_key else secret


def office_token(secret: str, scope: str, at: datetime, session: bool = False) -> str:
    """An office token for `scope` (see `office_link`); `session`: the short-lived one a page
    carries after a basic-auth login (OFFICE_SESSION), instead of a link's."""
    payload = {"office": scope, **({"s": 1} if session else {})}
    return _serializer(secret, OFFICE_SALT, at).dumps(payload)


def office_link(settings, scope: str, at: datetime) -> str:
    """The office's review page, valid CCHC_OFFICE_LINK_DAYS after `at`. `scope` is what the
    link opens: a commune's code, that commune's standing office (its items only); the city's
    code, the city's office (every commune). For a single commune the two codes are one."""
    secret = office_secret(settings.link_secret(), settings.intake.office_key)
    token = office_token(secret, scope, at)
    return f"{settings.intake.base_url}/office?t={token}"


def office_scope(
    secret: str, token: str, at: datetime, max_age: timedelta = timedelta(days=OFFICE_DAYS)
) -> str:
    """The scope (a commune's code or the city's) `token` was signed for, or LinkInvalid
    unless it is an office token younger than `max_age` (OFFICE_SESSION for a session token).
    Whether the scope is one the app serves is the app's question. `secret`: see
    `office_secret`."""
    data = _loads(secret, OFFICE_SALT, token, at, max_age)
    scope = data.get("office") if isinstance(data, dict) else None
    if not isinstance(scope, str) or not scope:
        raise LinkInvalid("malformed office payload", _FORGED)
    if data.get("s"):
        _loads(secret, OFFICE_SALT, token, at, min(max_age, OFFICE_SESSION))
    return scope


_FORGED = (
    "Đường liên kết không hợp lệ (có thể đã bị sửa hoặc chép thiếu). "
    "Hãy mở lại đường liên kết trong thư của hệ thống."
)
_EXPIRED = (
    "Đường liên kết đã hết hạn. Hãy dùng đường liên kết trong thư nhắc mới nhất, "
    "hoặc liên hệ cơ quan thường trực về cải cách hành chính."
)


def _loads(secret: str, salt: str, token: str, at: datetime, max_age: timedelta):
    from itsdangerous import BadSignature, SignatureExpired

    if not token or len(token) > 1000:
        raise LinkInvalid("empty or oversized token", _FORGED)
    try:
        data = _serializer(secret, salt, at).loads(token, max_age=int(max_age.total_seconds()))
    except SignatureExpired:
        raise LinkInvalid("expired", _EXPIRED) from None
    except BadSignature:
        raise LinkInvalid("bad signature", _FORGED) from None
    return data
