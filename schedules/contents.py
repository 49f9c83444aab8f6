"""What a report must say: the plan's standing tasks a unit reports on in its periodic report.

Most rows of the annex are standing tasks "reported through the periodic report"
(`reported_in`); the body of the plan (section V.2) adds duties of named units. A unit's
periodic-report request lists, in this order, the annex rows it leads, the annex rows it
coordinates, and its own duties of the plan's body. The standing office's consolidated report
carries the office's own rows (it owes no unit-level report to itself).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from schedules.vocabulary import REPORT_KINDS

if TYPE_CHECKING:
    from schedules.plan import Plan

ANNEX_PREFIX = "Phụ lục"
"""`ref` of a row of the annex; any other ref is a duty set by the plan's body."""


@dataclass(frozen=True)
class ContentGroup:
    heading: str
    rows: tuple[tuple[str, str], ...]
    """(ref, title) of each task, in the plan's order."""
    coordinated: bool = False
    """Tasks the unit coordinates: listed in full in the item's first notice only."""


def _short_ref(ref: str) -> str:
    """ "Phụ lục mục II.2, ý 1" → "mục II.2, ý 1"; "Mục V.2.e" → "mục V.2.e"."""
    ref = ref.removeprefix(ANNEX_PREFIX).strip()
    return ref[:1].lower() + ref[1:]


def report_contents(plan: Plan, obligation_id: str, unit: str) -> list[ContentGroup]:
    """The groups of tasks `unit` reports on in its item of `obligation_id` (empty for an
    obligation that carries no standing tasks)."""
    ob = plan.obligations.get(obligation_id)
    if ob is None or ob.kind not in REPORT_KINDS:
        return []
    carrier = ob.consolidates or obligation_id
    consolidated = ob.consolidates is not None
    led, coordinated, duties = [], [], []
    for task in plan.obligations.values():
        if task.reported_in != carrier:
            continue
        row = (_short_ref(task.ref), task.title)
        leads = unit in plan.units_of(task, "lead")
        annex = task.ref.startswith(ANNEX_PREFIX)
        if leads and annex:
            led.append(row)
        elif leads:
            duties.append(row)
        elif annex and not consolidated and unit in plan.units_of(task, "coordinators"):
            coordinated.append(row)
    if plan.communes is not None:  # the city office's: the communes' reports say it all
        return []
    if consolidated and not led + duties:  # the units' reports are the whole content
        return []
    if consolidated:  # the units' reports sum up the whole plan; the office adds its own rows
        return [
            ContentGroup(
                "Tổng hợp kết quả thực hiện toàn bộ nhiệm vụ của Kế hoạch trên cơ sở báo cáo của "
                "các cơ quan, đơn vị; các nhiệm vụ do cơ quan thường trực chủ trì",
                tuple(led + duties),
            )
        ]
    groups = [
        ContentGroup("Các nhiệm vụ do đơn vị chủ trì tại Phụ lục", tuple(led)),
        ContentGroup(
            "Các nhiệm vụ đơn vị phối hợp thực hiện tại Phụ lục (báo cáo nội dung có phát sinh "
            "trong kỳ)",
            tuple(coordinated),
            coordinated=True,
        ),
        ContentGroup("Trách nhiệm cụ thể của đơn vị tại Mục V.2 của Kế hoạch", tuple(duties)),
    ]
    return [g for g in groups if g.rows]


def unreached_leads(plan: Plan, obligation_id: str) -> list[str]:
    """The lead units of a task `reported_in` a report whose rows never reach them: they owe
    no item of that report (a unit outside "Các cơ quan, đơn vị", such as the Front, which the
    plan requests and does not command), and are not the standing office whose consolidated
    report carries its own rows."""
    task = plan.obligations[obligation_id]
    carrier = task.reported_in
    if carrier is None or carrier not in plan.obligations:
        return []
    owing = set(plan.lead_units(carrier))
    consolidator = plan.consolidator(carrier)
    if consolidator in plan.obligations:
        owing |= set(plan.lead_units(consolidator))
    return [u for u in plan.units_of(task, "lead") if u not in owing]


_ASIDE = re.compile(r"\s*\(([^()]*)\)")


def _is_admin_aside(text: str) -> bool:
    """A parenthesis written for the config's admins (in English: "(Source text: ...)",
    "(Assumption: ...)"), not for the units: its letters are almost all plain ASCII."""
    letters = [c for c in text if c.isalpha()]
    if len(text.split()) < 3 or not letters:
        return False
    return sum(c.isascii() for c in letters) / len(letters) >= 0.9


_SENTENCE = re.compile(r"(?<=[.])\s+")
ADMIN_WORDS = ("mặc định", "giả định")
"""A sentence of a description holding these words explains a default to the admins (why the
config sets that date): the units are not told."""


def note_for_units(description: str | None) -> str:
    """The obligation's description as the "Lưu ý" of a mail or page: whitespace collapsed,
    asides and sentences for the admins left out; "Nội dung đầy đủ:" (the row's full text) said
    as what it is."""
    text = " ".join((description or "").split())
    text = _ASIDE.sub(lambda m: "" if _is_admin_aside(m.group(1)) else m.group(0), text)
    kept = [s for s in _SENTENCE.split(text) if not any(w in s.lower() for w in ADMIN_WORDS)]
    text = " ".join(kept).strip()
    if text.startswith("Nội dung đầy đủ:"):
        text = "Nội dung nhiệm vụ (theo Phụ lục):" + text.removeprefix("Nội dung đầy đủ:")
    return text
