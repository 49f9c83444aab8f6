"""What the city's admin is told of its quarantined communes (`schedules.quarantine`): a section
of the city's sweep summary, a line of the sweep run's final state, the sweep summary's
`quarantined` field and the `cchc.commune.quarantined` event that `cchc deploy`'s "commune
quarantined" automation mails on. Bounded: at most `MAX_LISTED` communes and `MAX_PROBLEMS`
problems each are listed (the counts say how many in all)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from notifications.markdown_text import md_text
from schedules.city import City

COMMUNE_QUARANTINED = "cchc.commune.quarantined"
MAX_LISTED = 50
"""Communes listed at most (in the summary, the event)."""
MAX_PROBLEMS = 5
"""Problems listed at most per commune."""


def quarantined_rows(city: City) -> list[dict[str, Any]]:
    """One row per quarantined commune: its code, on what it runs, its problems."""
    return [
        {
            "commune": q.code,
            "paused": q.paused,
            "runs_on": q.runs_on(),
            "count": len(q.issues),
            "problems": [str(issue) for issue in q.issues[:MAX_PROBLEMS]],
        }
        for q in city.quarantined[:MAX_LISTED]
    ]


def quarantine_line(city: City) -> str | None:
    """The final state's words ("2 xã bị cách ly do cấu hình lỗi: xa002, xa007"); None: none."""
    codes = [q.code for q in city.quarantined]
    if not codes:
        return None
    more = f" và {len(codes) - 5} xã khác" if len(codes) > 5 else ""
    return f"{len(codes)} xã bị cách ly do cấu hình lỗi: {', '.join(codes[:5])}{more}"


def quarantine_markdown(city: City) -> list[str]:
    """The city summary's section on its quarantined communes (none: no lines)."""
    if not city.quarantined:
        return []
    lines = [
        "## Xã bị cách ly do cấu hình lỗi",
        "",
        "Các xã khác vẫn được rà soát và gửi thư. Sửa các lỗi dưới đây (`cchc check`).",
        "",
    ]
    for row in quarantined_rows(city):
        lines.append(f"- **{md_text(row['commune'])}** — {md_text(row['runs_on'])}")
        lines += [f"  - {md_text(problem)}" for problem in row["problems"]]
        if row["count"] > len(row["problems"]):
            lines.append(f"  - … và {row['count'] - len(row['problems'])} lỗi khác")
    if len(city.quarantined) > MAX_LISTED:
        lines.append(f"- … và {len(city.quarantined) - MAX_LISTED} xã khác")
    return [*lines, ""]


def commune_quarantined_event(city: City, at: datetime) -> dict[str, Any]:
    """Keyword arguments of `emit_event` for a run that served `city` with communes
    quarantined: one event per run, the communes in the payload."""
    rows = quarantined_rows(city)
    return dict(
        event=COMMUNE_QUARANTINED,
        occurred=at,
        resource={
            "prefect.resource.id": f"cchc.{city.code}.config",
            "prefect.resource.name": f"Cấu hình — {city.name}",
            "cchc.city": city.code,
        },
        payload={
            "count": len(city.quarantined),
            "communes": rows,
            "line": quarantine_line(city),
        },
    )
