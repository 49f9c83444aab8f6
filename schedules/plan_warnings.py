"""Warnings about a plan's words and rows: what `cchc check` says but does not refuse.

- A commune's own copy of a template's obligation: later edits of the template no longer reach
  it.
- A commune's or a unit's name that says another kind of commune (a phường's "Trạm Y tế xã"), or
  an economic office named as the other kind's (Nghị định 150/2025/NĐ-CP).
- A quarterly overview that reaches no leader.
- A standing task attached (`reported_in`) to a report that its lead unit never owes: the row
  reaches nobody (the Front, which the plan requests and does not command, is not among "Các
  cơ quan, đơn vị" that owe the periodic report).
- `{period}` after its own unit word: the item's period already says "tháng 01/2027", "quý I
  năm 2027", so "Báo cáo tháng {period}" would read "Báo cáo tháng tháng 01/2027".
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from schedules.commune_kinds import COMMUNE_KIND_LABELS, CommuneKind
from schedules.contents import unreached_leads
from schedules.notices import overview_leaders
from schedules.plan import Plan
from schedules.plan_merge import Where
from schedules.vocabulary import ObligationKind
from schedules.yamlsource import YamlSource

PERIOD_WORD = re.compile(r"\b(tháng|quý|năm|kỳ|đợt|ngày)\s*\{period\}", re.IGNORECASE)
"""A unit word right before `{period}`: the period's label starts with one of its own."""

ECONOMIC_OFFICE = {
    CommuneKind.XA: "Phòng Kinh tế",
    CommuneKind.PHUONG: "Phòng Kinh tế, Hạ tầng và Đô thị",
}
"""The economic office's name by commune kind (Nghị định 150/2025/NĐ-CP): a unit named as the
other kind's is a copied folder not adapted."""
ECONOMIC_OFFICES = {name.casefold() for name in ECONOMIC_OFFICE.values()}


def warn_replaced(plan: Plan, replaced: list[tuple[str, Where]]) -> None:
    """A commune's own copy of a template's obligation shadows it: later edits of the
    template no longer reach the commune. Said once per commune, at the first copy."""
    if not replaced:
        return
    ids = [oid for oid, _ in replaced]
    shown = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
    source, loc = replaced[0][1]
    plan.warnings.append(
        source.issue(
            loc + ("id",),
            f"warning: {len(ids)} obligation(s) of this commune replace the shared ones of "
            f"the same id ({shown}): later edits of the template plan or the city's files do "
            "not reach them; delete the copies that should follow it (nhiệm vụ của xã thay "
            "cho nhiệm vụ dùng chung cùng mã)",
        )
    )


def warn_kind_words(plan: Plan, commune_source: YamlSource, unit_at: dict[str, Where]) -> None:
    """A commune's name and its units' names say what it is: a phường's "Trạm Y tế xã" or
    "Ủy ban nhân dân xã …" is a copy of a xã's config not yet adapted (Nghị định 150/2025
    names a phường's units its own way), or a `commune.kind` not set."""
    own = plan.kind_label
    others = [w for w in COMMUNE_KIND_LABELS.values() if w != own and w not in own]
    named: list[tuple[Where, str]] = [((commune_source, ("commune", "name")), plan.commune.name)]
    for code, (source, loc) in unit_at.items():
        if code in plan.units:
            named.append(((source, loc + ("name",)), plan.units[code].name))
    for (source, loc), name in named[1:]:
        expected = ECONOMIC_OFFICE.get(plan.commune.kind)
        if expected and name.casefold() in ECONOMIC_OFFICES and name != expected:
            plan.warnings.append(
                source.issue(
                    loc,
                    f"warning: '{name}': a {own}'s economic office is '{expected}' (Nghị "
                    f"định 150/2025/NĐ-CP; tên phòng của {own} là “{expected}”)",
                )
            )
    for (source, loc), name in named:
        word = next((w for w in others if _names_kind(name, w)), None)
        if word:
            plan.warnings.append(
                source.issue(
                    loc,
                    f"warning: '{name}' names a {word}, but commune.kind is "
                    f"{plan.commune.kind} ({own}): set `kind:` under commune, or rename "
                    f"(tên ghi “{word}” nhưng đơn vị hành chính là “{own}”)",
                )
            )


def _names_kind(name: str, word: str) -> bool:
    """Whether `name` uses the kind word `word` as a word ("UBND xã Mẫu", "Trạm Y tế xã"), not
    inside another ("Xã hội" is not a xã)."""
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)(?! hội)", name) is not None


def warn_no_overview(plan: Plan, commune_source: YamlSource) -> None:
    """The quarterly overview reaches nobody: no leader is the Chủ tịch, in charge, or marked
    `overview: true` (said only when a consolidated report would trigger it)."""
    if not plan.commune.leadership or plan.communes is not None:
        return
    consolidated = [
        oid
        for oid, ob in plan.obligations.items()
        if ob.kind == ObligationKind.CONSOLIDATED_REPORT and oid in plan.schedules
    ]
    if consolidated and not overview_leaders(plan):
        plan.warnings.append(
            commune_source.issue(
                ("commune", "leadership"),
                "warning: no leader receives the quarterly overview: set `overview: true` "
                "on the Chủ tịch or the leader in charge (không lãnh đạo nào nhận bản tổng "
                "hợp tình hình quý)",
            )
        )


def unreached_rows(plan: Plan) -> Iterator[tuple[str, str, str]]:
    """(obligation, field, warning) for each task whose rows reach none of its lead units."""
    for oid, ob in plan.obligations.items():
        missed = unreached_leads(plan, oid)
        if not missed:
            continue
        names = ", ".join(plan.units[u].name if u in plan.units else u for u in missed)
        yield (
            oid,
            "reported_in",
            f"warning: '{oid}' is reported in '{ob.reported_in}', which {', '.join(missed)} "
            f"never owes: the row reaches nobody; remove reported_in or give the task to a "
            f"unit that reports (nhiệm vụ gắn vào báo cáo mà {names} không phải nộp: không ai "
            "nhận được nội dung này)",
        )


def doubled_period_words(plan: Plan) -> Iterator[tuple[str, str, str]]:
    """(obligation, field, warning) for each `product` whose `{period}` follows a unit word."""
    for oid, ob in plan.obligations.items():
        found = PERIOD_WORD.search(ob.product)
        if found is None:
            continue
        word = found.group(1)
        yield (
            oid,
            "product",
            f"warning: product '{found.group(0)}': {{period}} already holds its unit word "
            f"('tháng 01/2027', 'quý I năm 2027', 'năm 2027'), so the mails would read "
            f"'{word} {word} …'; write '{{period}}' without '{word}' (chỗ thay thế {{period}} "
            "đã có chữ tháng, quý, năm: bỏ chữ đứng trước)",
        )
