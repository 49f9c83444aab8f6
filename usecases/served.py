"""The database serves one city (or one commune) and its communes: the first `init-db` or
writing command stamps it (`models.scope`), and a process whose config names another city, or
communes the database was not set up for, is refused before it writes anything. A worker once
took a 114-commune city's run with a 30-commune city's CCHC_DATABASE_URL and opened 1,786 items
and sent 5,230 mails there.

The rule: the config's code must be the stamp's, and each of its communes must be in the
stamp. Fewer communes than stamped is accepted (`--commune`, a paused commune); new communes are
recorded by `cchc init-db`, the admin's deliberate step, which also re-stamps a code with
`--rebind`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from models.scope import served_scope, stamp_scope
from models.tables import ServedScope
from schedules.city import City
from schedules.dates import vn_datetime
from usecases.errors import UserError

SHOWN = 8
"""Commune codes named in a message; the rest counted."""


class WrongDatabase(UserError):
    """The database serves another city, or not these communes: nothing was written."""


@dataclass(frozen=True)
class Served:
    """What `check_served` found: `stamped` when it stamped (first use, or `init-db`'s new
    communes or code), with the communes it added."""

    stamped: bool
    added: tuple[str, ...] = ()


def scope_communes(city: City) -> list[str]:
    """The codes a city's stamp lists: its communes', and its office's."""
    return sorted(plan.commune.code for plan in city.select(None))


def check_served(
    engine: Engine, city: City, at: datetime, *, record: bool = False, rebind: bool = False
) -> Served:
    """Refuse (`WrongDatabase`) when the database serves another city or not every commune of
    `city`; stamp it when it has no stamp yet. With `record` (`cchc init-db`) new communes are
    recorded instead of refused, and with `rebind` too a new code."""
    communes = scope_communes(city)
    known = served_scope(engine)
    if known is None:
        stamp_scope(engine, city.code, city.is_city, communes, at)
        return Served(stamped=True, added=tuple(communes))
    added = tuple(c for c in communes if c not in set(known.communes))
    if known.code != city.code and not rebind:
        raise WrongDatabase(_other_code(known, city))
    if added and not record:
        raise WrongDatabase(_new_communes(known, city, added))
    if known.code == city.code and known.communes == communes:
        return Served(stamped=False)
    if record:
        stamp_scope(engine, city.code, city.is_city, communes, at)
        return Served(stamped=True, added=added)
    return Served(stamped=False)


def _what(code: str, is_city: bool) -> str:
    return f"thành phố mã '{code}'" if is_city else f"xã mã '{code}'"


def _codes(codes: tuple[str, ...] | list[str]) -> str:
    shown = ", ".join(codes[:SHOWN])
    return shown + (f" và {len(codes) - SHOWN} xã khác" if len(codes) > SHOWN else "")


def _other_code(known: ServedScope, city: City) -> str:
    return (
        f"Cơ sở dữ liệu này phục vụ {_what(known.code, known.is_city)} "
        f"({len(known.communes)} xã, ghi nhận lúc {vn_datetime(known.stamped_at)}), không phải "
        f"{_what(city.code, city.is_city)} của cấu hình {city.folder}: không ghi gì. Kiểm tra "
        "CCHC_DATABASE_URL (mỗi thành phố một cơ sở dữ liệu) và CCHC_CONFIG. Nếu đúng là cùng "
        "một nơi đã đổi mã, chạy `cchc init-db --rebind`."
    )


def _new_communes(known: ServedScope, city: City, added: tuple[str, ...]) -> str:
    return (
        f"Cơ sở dữ liệu này phục vụ {len(known.communes)} xã của {_what(known.code, known.is_city)}"
        f" (ghi nhận lúc {vn_datetime(known.stamped_at)}); cấu hình {city.folder} có thêm "
        f"{len(added)} xã chưa được ghi nhận ({_codes(added)}): không ghi gì. Có thể "
        "CCHC_DATABASE_URL trỏ nhầm cơ sở dữ liệu của nơi khác. Nếu đúng là đã thêm xã vào cấu "
        "hình, chạy `cchc init-db` để ghi nhận."
    )
