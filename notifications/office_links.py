"""Where the standing office looks for what is late, as the links every sweep run carries
(Prefect link artifacts, on the run's Artifacts tab): each late-items table
(`cchc-<commune>-late-items`, a stable key: a page the office can bookmark) and, when the intake
is public (CCHC_PUBLIC_URL), the office's page there. Plain data; `flows.artifacts` publishes
them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from urllib.parse import quote

from notifications.city_pages import commune_label
from notifications.status_pages import late_items_key
from notifications.sweep_summary import NO_LATE, late_by_commune
from schedules.city import City

LATE_LINKS = 10
"""A city sweep run links the late-items tables of at most this many communes (those with most
late items): the city's summary has a row for every commune."""


@dataclass(frozen=True)
class Link:
    url: str
    text: str
    description: str


def artifact_url(ui_url: str, key: str) -> str:
    """The Prefect UI's page of the latest artifact of `key` (what the Artifacts page opens)."""
    return f"{ui_url.rstrip('/')}/artifacts/key/{quote(key)}"


def late_links(city: City, counts: dict[str, dict[str, Counter]], ui_url: str | None) -> list[Link]:
    """Links to the late-items tables: a single commune's always (it says "none" when none is
    late); in a city, those of the communes with late items, the one with most first (the
    city's summary has a row for every commune). None without a Prefect UI to link to."""
    if not ui_url:
        return []
    late = late_by_commune(counts)
    if city.is_city:
        codes = sorted(late, key=lambda code: (-late[code], code))[:LATE_LINKS]
    else:
        codes = [plan.commune.code for plan in city.plans.values()]
    links = []
    for code in codes:
        plan = city.known_plan(code)
        n = late.get(code, 0)
        links.append(
            Link(
                artifact_url(ui_url, late_items_key(plan)),
                f"Việc quá hạn — {commune_label(plan)}",
                f"{n} việc quá hạn: bảng {late_items_key(plan)}" if n else NO_LATE,
            )
        )
    return links


def office_link(public_url: str | None) -> Link | None:
    """The intake's office page (a login with the office's account: the link carries no key),
    when the intake is reachable at CCHC_PUBLIC_URL; None otherwise (a local address means
    nothing to whoever reads the Prefect UI elsewhere)."""
    if not public_url:
        return None
    return Link(
        f"{public_url.rstrip('/')}/office",
        "Trang của cơ quan thường trực",
        "Danh sách việc theo đơn vị, nhận và trả lại sản phẩm (đăng nhập bằng tài khoản của cơ "
        "quan thường trực)",
    )
