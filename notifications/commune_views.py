"""Who a commune's mails name: its units, the people they greet, its office and contact.

Pure functions of the plan: the names, salutations and the context every mail of the commune
shares (`common_context`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from schedules.config_units import ALL_UNITS
from schedules.dates import vn_date, vn_datetime, vn_weekday
from schedules.plan import Plan


@dataclass(frozen=True)
class UnitView:
    code: str
    name: str
    email: str
    head_name: str
    subject_name: str = ""
    """The name a mail subject leads with: the unit's `short_name` when set, else its name."""


def unit_view(plan: Plan, code: str) -> UnitView:
    unit = plan.units.get(code)
    if unit is None:
        return UnitView(code, code, "", "", code)
    return UnitView(code, unit.name, str(unit.email), unit.head.name, unit.short_name or unit.name)


def coordinators_label(plan: Plan, codes: list[str], excluded: list[str] | None = None) -> str:
    """ "Các cơ quan, đơn vị" for ALL ("(trừ Công an xã)" when the obligation leaves units
    out), else the units' names."""
    everyone = "Các cơ quan, đơn vị"
    if excluded:
        everyone += f" (trừ {', '.join(unit_view(plan, c).name for c in excluded)})"
    names = [everyone if c == ALL_UNITS else unit_view(plan, c).name for c in codes]
    return "; ".join(names)


def people(plan: Plan) -> dict[str, str]:
    """Display name for each address the config knows (first mention wins)."""
    names: dict[str, str] = {}
    for unit in plan.units.values():
        names.setdefault(str(unit.email).lower(), unit.name)
    for unit in plan.units.values():
        head = unit.head
        names.setdefault(str(head.email).lower(), head.name)
    for leader in plan.commune.leadership:
        title = f"{leader.title} " if leader.title and leader.title not in leader.name else ""
        names.setdefault(str(leader.email).lower(), f"{title}{leader.name}".strip())
    contact = plan.commune.contact
    names.setdefault(str(contact.email).lower(), contact.name)
    return names


def _personal(name: str, title: str | None) -> tuple[str, str | None]:
    """A person's name and title as a salutation puts them: the title dropped when the name
    already says it ("Chủ tịch UBND xã", title "Chủ tịch")."""
    return name, (title if title and title not in name else None)


def salutations(plan: Plan) -> dict[str, tuple[str, str]]:
    """How a mail greets each address the config knows, as an office writes it: per address
    the "Kính gửi" line's words and the name that follows "đồng chí" in a sentence. Leaders
    and heads of units: "Đồng chí Nguyễn Đình Hiền, Phó Chủ tịch UBND xã" ("Đồng chí Trưởng
    phòng Kinh tế" when the config names only the office); a unit and the contact: their
    name. First mention wins, as in `people`."""
    found: dict[str, tuple[str, str]] = {}
    for unit in plan.units.values():
        found.setdefault(str(unit.email).lower(), (unit.name, unit.name))
    persons = [unit.head for unit in plan.units.values()] + list(plan.commune.leadership)
    for person in persons:
        name, title = _personal(person.name, person.title)
        greeting = f"Đồng chí {name}, {title}" if title else f"Đồng chí {name}"
        found.setdefault(str(person.email).lower(), (greeting, name))
    contact = plan.commune.contact
    found.setdefault(str(contact.email).lower(), (contact.name, contact.name))
    return found


def leader_in_charge(plan: Plan) -> str:
    """The leader in charge of administrative reform as a sentence names them after "đồng
    chí": the config's title ("Phó Chủ tịch UBND xã"), else "lãnh đạo Ủy ban nhân dân xã …"."""
    for leader in plan.commune.leadership:
        if leader.in_charge:
            return leader.title or leader.name
    return f"lãnh đạo {plan.commune.name}"


def common_context(plan: Plan, today: date, at: datetime) -> dict:
    """What every mail of this commune states: who sends it, how to hand in, whom to call."""
    commune = plan.commune
    office = unit_view(plan, commune.standing_office)
    contact = commune.contact
    return {
        "commune": {
            "code": commune.code,
            "name": commune.name,
            "plan": commune.plan,
            "plan_short": commune.plan_short,
            "kind": plan.kind_label,  # "xã", "phường", "đặc khu": "UBND {{ commune.kind }}"
        },
        "office": office,
        "contact": {
            "name": contact.name,
            "title": contact.title or "",
            "email": str(contact.email),
            "phone": contact.phone or "",
        },
        "leader_in_charge": leader_in_charge(plan),
        "submit_hint": " ".join(commune.submit_hint.split()),
        "today": vn_date(today),
        "today_weekday": vn_weekday(today),
        "written_at": vn_datetime(at, plan.zone),
    }
