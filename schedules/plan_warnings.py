"""Warnings about an obligation's words and rows: what `cchc check` says but does not refuse.

- A standing task attached (`reported_in`) to a report that its lead unit never owes: the row
  reaches nobody (the Front, which the plan requests and does not command, is not among "Các
  cơ quan, đơn vị" that owe the periodic report).
- `{period}` after its own unit word: the item's period already says "tháng 01/2027", "quý I
  năm 2027", so "Báo cáo tháng {period}" would read "Báo cáo tháng tháng 01/2027".
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from schedules.contents import unreached_leads
from schedules.plan import Plan

PERIOD_WORD = re.compile(r"\b(tháng|quý|năm|kỳ|đợt|ngày)\s*\{period\}", re.IGNORECASE)
"""A unit word right before `{period}`: the period's label starts with one of its own."""


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
