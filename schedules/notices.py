"""Who is told what: the notices (mail kind, step, to, cc) of each event of a work item.

The one place that picks recipients. The sweep, closing and returning an item, the receipt of a
later version, the notice of an undelivered mail and `cchc preview` all ask here; the outbox
turns a notice into one row per recipient (`models.store.outbox_rows`), the copy going on the
first mail only.

| event                              | kind       | to                          | cc              |
|------------------------------------|------------|-----------------------------|-----------------|
| the item opens                     | opened     | the unit                    |                 |
|                                    | coordinate | each coordinating unit (1)  |                 |
| reminder, due day, overdue         | that step  | the unit                    |                 |
| the reminder before inputs are due | coordinate | each coordinating unit      |                 |
| escalation level N                 | escalation | the level's targets         | office, unit (4)|
| a deliverable closes the item      | closed     | the unit, standing office   |                 |
|   (the standing office's own item) | (none)     |                             |                 |
| a later version of a closed item   | closed     | the unit (`closed-vN`)      |                 |
| the office returns the deliverable | returned   | the unit (`returned-N`)     | standing office |
| a unit asks for an extension       | extension  | standing office (2)         |                 |
| an extension is granted            | extension  | the unit (`extended-N`)     | office, coord.  |
| an extension request is refused    | extension  | the unit (`refused-N`)      | standing office |
| the product of an escalated item   | correction | who got its escalations (3) |                 |
|   arrives                          |            |                             |                 |
| a mail to X refused for good       | its kind   | standing office, unless X   |                 |
| a quarter's overview is due        | overview   | each overview leader (5)    | standing office |

(The notice of a refused mail has the step `undelivered-STEP`. (1) but the standing office, which
sends these requests. (2) for the office's own item: the leader in charge, who decides. (3) the
escalations sent in the item's current round, but for the addresses its `closed` mail goes to.
(4) the standing office, but on its own items; the unit too on a level that goes to its head:
a unit keeps hearing of its own late item. The copy goes with the leader in charge's mail when
a level goes to several leaders, so the office gets one copy of a run's leader mails.
(5) `overview_leaders`: the Chủ tịch and the leader in charge, unless the config says otherwise;
the rows hang on the item of the quarter's consolidated report.)

A directive's item (`usecases.directives`) names its coordinating units itself: the callers pass
them (`coordinators`) instead of the obligation's.

An item whose unit left the config has no recipient: its notices are empty.

The standing office's own items do not make it notify itself: their first level goes to the
office's own head (the Trưởng phòng Văn hóa - Xã hội: `head`, with the office in copy), the
others to the leader in charge of administrative reform (`standing_office` stands for that
leader), without the office in copy.

A city's commune owes the city office (Sở Nội vụ) the reports the city's own report sums up
(`Plan.city_report`). For such an item the Sở speaks (`notifications.city_voice`): its
overdue notice is the Sở's reminder to the commune; its last escalation level is the Sở's, to
the commune's Chủ tịch (`chair_addresses`), the level's own targets and the standing office in
copy; and its closing gets the Sở's receipt, to the standing office.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from schedules.step_names import MAIL_OF_STEP, format_step, parse_step
from schedules.vocabulary import MailKind, StepKind

if TYPE_CHECKING:  # the plan imports nothing from here
    from schedules.plan import Plan
    from schedules.timeline import Step


@dataclass(frozen=True)
class Notice:
    """One mail per address in `to`, for the item's step `step`; `cc` is copied once."""

    kind: MailKind
    step: str
    to: tuple[str, ...]
    cc: tuple[str, ...] = ()


def _unit(plan: Plan, unit: str) -> tuple[str, ...]:
    found = plan.units.get(unit)
    return (str(found.email),) if found else ()


def _office(plan: Plan) -> tuple[str, ...]:
    return _unit(plan, plan.commune.standing_office)


def _office_head(plan: Plan) -> tuple[str, ...]:
    """The head of the standing office, whom its own late items reach first; the leader in
    charge when the office has no head of its own (a city office whose head is its contact, at
    the office's own address)."""
    office = plan.units[plan.commune.standing_office]
    head = str(office.head.email)
    itself = {str(office.email).lower(), str(plan.commune.contact.email).lower()}
    return leaders_in_charge(plan) if head.lower() in itself else (head,)


def leaders_in_charge(plan: Plan) -> tuple[str, ...]:
    """The leader in charge of administrative reform (`in_charge: true`), else the leaders
    marked for escalation."""
    leaders = [p for p in plan.commune.leadership if p.in_charge]
    leaders = leaders or [p for p in plan.commune.leadership if p.escalation]
    return tuple(str(p.email) for p in leaders)


def chair_addresses(plan: Plan) -> tuple[str, ...]:
    """The commune's Chủ tịch: the leader marked `chair: true`, else those whose title (or
    name) starts with "Chủ tịch", else the leader in charge."""
    leaders = [p for p in plan.commune.leadership if p.chair]
    leaders = leaders or [
        p for p in plan.commune.leadership if (p.title or p.name).casefold().startswith("chủ tịch")
    ]
    return tuple(str(p.email) for p in leaders) or leaders_in_charge(plan)


def is_city_escalation(plan: Plan, obligation: str, level: int) -> bool:
    """Whether escalation level `level` of an item of `obligation` is the city office's: the
    last level of a commune's report to the city."""
    if plan.city_report(obligation) is None:
        return False
    levels = plan.policy(obligation).escalation
    return level >= len(levels)


def escalation_addresses(plan: Plan, targets: tuple[str, ...], unit: str) -> tuple[str, ...]:
    """The addresses of an escalation level's targets for an item of `unit`: its head of unit
    (`head`), the leaders marked for escalation (`leadership`), the leader in charge
    (`leader_in_charge`), the standing office (`standing_office`) or a unit by code; each
    address once. For the standing office's own items, `head` is the office's own head (its
    Trưởng phòng hears before the leaders) and `standing_office` means the leader in charge: the
    office does not escalate to itself."""
    own = unit == plan.commune.standing_office
    found: list[str] = []
    for target in targets:
        if own and target == "standing_office":
            found += leaders_in_charge(plan)
        elif own and target == "head":
            found += _office_head(plan)
        elif target == "head":
            found.append(str(plan.units[unit].head.email))
        elif target == "leadership":
            found += [str(p.email) for p in plan.commune.leadership if p.escalation]
        elif target == "leader_in_charge":
            found += leaders_in_charge(plan)
        elif target == "standing_office":
            found += _office(plan)
        else:
            found += _unit(plan, target)
    return tuple(dict.fromkeys(found))


CHAIR_TITLE = "chủ tịch"
"""A leader whose title (or name) starts with this is the Chủ tịch (a "Phó Chủ tịch" is not)."""


def overview_leaders(plan: Plan) -> tuple[str, ...]:
    """Who receives the quarterly overview: each leader with `overview: true`; a leader
    without the key when the Chủ tịch (title or name starting "Chủ tịch") or in charge of
    administrative reform."""

    def chair(text: str | None) -> bool:
        return unicodedata.normalize("NFC", text or "").strip().lower().startswith(CHAIR_TITLE)

    found = [
        str(p.email)
        for p in plan.commune.leadership
        if p.overview or (p.overview is None and (p.in_charge or chair(p.title) or chair(p.name)))
    ]
    return tuple(dict.fromkeys(found))


def overview_notices(plan: Plan) -> list[Notice]:
    """The quarterly overview: one mail to each overview leader, the standing office copied
    once (it wrote the overview and answers the leaders' questions)."""
    to = overview_leaders(plan)
    cc = tuple(a for a in _office(plan) if a not in to)
    return [Notice(MailKind.OVERVIEW, StepKind.OVERVIEW, to, cc)] if to else []


def digest_addresses(plan: Plan) -> set[str]:
    """Addresses (lower case) of the units that take one digest mail instead of one per item."""
    return {str(u.email).lower() for u in plan.units.values() if u.digest}


def leader_addresses(plan: Plan) -> set[str]:
    """Addresses (lower case) of the commune's leaders: a delivery run sends each of them one
    mail at most, its escalations together (a digest when there are several)."""
    return {str(p.email).lower() for p in plan.commune.leadership}


def in_digest(recipient: str, cc: list[str], digest: set[str]) -> bool:
    """Whether an outbox row goes out in its recipient's digest: a digest unit's own mail, not
    one that copies somebody (that one goes out alone, with its copy)."""
    return recipient.lower() in digest and not cc


def _coordinators(
    plan: Plan, obligation: str, unit: str, codes: Sequence[str] | None = None
) -> tuple[str, ...]:
    """The coordinating units' addresses (`codes`, else the obligation's); not the standing
    office's: it sends these requests (it may still contribute through the intake)."""
    office = plan.commune.standing_office
    if codes is None:
        codes = plan.coordinating_units(obligation, unit)
    codes = [c for c in codes if c != office]
    return tuple(a for code in codes for a in _unit(plan, code))


def escalation_copies(plan: Plan, targets: Sequence[str], unit: str) -> tuple[str, ...]:
    """Who is copied on an escalation level of an item of `unit`: the standing office (not on
    its own items: it does not report to itself), and the unit itself on a level that goes to
    its head, so that a unit hears of its own late item when its head does."""
    own = unit == plan.commune.standing_office
    copies = () if own else _office(plan)
    headed = not own or _office_head(plan) != leaders_in_charge(plan)
    if "head" in targets and headed:
        copies += _unit(plan, unit)
    return tuple(dict.fromkeys(copies))


def in_charge_first(plan: Plan, addresses: Sequence[str]) -> tuple[str, ...]:
    """`addresses` with the leader in charge's first: a notice's copy goes with its first mail
    (`models.store.outbox_rows`), so a level to several leaders copies the standing office on
    the leader in charge's mail, where its other levels' copies go too (one copy per run)."""
    first = {a.lower() for a in leaders_in_charge(plan)}
    return tuple(sorted(addresses, key=lambda a: a.lower() not in first))


def step_notices(plan: Plan, obligation: str, unit: str, step: Step) -> list[Notice]:
    """A timeline step reached: the unit hears of its own item; an escalation goes to its
    level's targets (head of unit, leadership, ...) with its copies (`escalation_copies`) but
    those it goes to; the reminder before the inputs are due also reminds the coordinating
    units."""
    if unit not in plan.units:
        return []
    if step.kind == StepKind.ESCALATION and is_city_escalation(plan, obligation, step.level):
        to = chair_addresses(plan)
        copied = escalation_addresses(plan, step.to, unit) + _office(plan)
        cc = tuple(dict.fromkeys(a for a in copied if a.lower() not in {t.lower() for t in to}))
        return [Notice(MailKind.ESCALATION, step.name, to, cc)] if to else []
    if step.kind == StepKind.ESCALATION:
        to = in_charge_first(plan, escalation_addresses(plan, step.to, unit))
        told = {a.lower() for a in to}
        cc = tuple(a for a in escalation_copies(plan, step.to, unit) if a.lower() not in told)
        return [Notice(MailKind.ESCALATION, step.name, to, cc)] if to else []
    found = [Notice(MAIL_OF_STEP[step.kind], step.name, _unit(plan, unit))]
    coordinators = _coordinators(plan, obligation, unit) if step.asks_inputs else ()
    if coordinators:
        found.append(Notice(MailKind.COORDINATE, step.name, coordinators))
    return found


def opening_notices(
    plan: Plan,
    obligation: str,
    unit: str,
    reached: Step,
    coordinators: Sequence[str] | None = None,
) -> list[Notice]:
    """The item opens (thông báo nhiệm vụ): the notice to the unit, and to each coordinating
    unit (`coordinators`: codes, else the obligation's) its request for inputs; an item opened
    already escalated (a level due before the item opened, only for an item opened by hand past
    its due date) escalates at once too. Reminders it opened past are not sent."""
    if unit not in plan.units:
        return []
    found = [Notice(MailKind.OPENED, StepKind.OPENED, _unit(plan, unit))]
    coordinators = _coordinators(plan, obligation, unit, coordinators)
    if coordinators:
        found.append(Notice(MailKind.COORDINATE, StepKind.OPENED, coordinators))
    if reached.kind == StepKind.ESCALATION:
        found += step_notices(plan, obligation, unit, reached)
    return found


def closed_notices(
    plan: Plan, unit: str, later_version: int | None = None, obligation: str = ""
) -> list[Notice]:
    """A deliverable closed the item: the unit (its receipt) and the standing office. A later
    version of an already closed item: a receipt to the unit only, step `closed-vN`. The
    standing office's own item: no receipt from the office to itself, but for a report to the
    city (`obligation`), the city office's receipt to it."""
    if unit == plan.commune.standing_office and not plan.city_report(obligation):
        return []
    if later_version is not None:
        step = format_step(StepKind.CLOSED, later_version)
        return [Notice(MailKind.CLOSED, step, _unit(plan, unit))] if unit in plan.units else []
    to = tuple(dict.fromkeys(_unit(plan, unit) + _office(plan)))
    return [Notice(MailKind.CLOSED, StepKind.CLOSED, to)] if to else []


def correction_notices(
    plan: Plan, unit: str, told: Sequence[str], obligation: str = ""
) -> list[Notice]:
    """The product of an escalated item arrived: each address `told` of its escalations (heads,
    leaders; a copy included) gets a short correction, but those its `closed` mail reaches
    (the unit, the standing office): they hear of it there; nor the standing office of its
    own item, which it handed in itself."""
    receipt = {a.lower() for n in closed_notices(plan, unit, obligation=obligation) for a in n.to}
    receipt |= {a.lower() for a in _unit(plan, unit) + _office(plan)}
    to = tuple(dict.fromkeys(a for a in told if a.lower() not in receipt))
    return [Notice(MailKind.CORRECTION, StepKind.CORRECTION, to)] if to else []


def returned_notices(plan: Plan, unit: str, round_no: int) -> list[Notice]:
    """The standing office returned the deliverable: the unit, with the office in copy."""
    if unit not in plan.units:
        return []
    to = _unit(plan, unit)
    cc = tuple(a for a in _office(plan) if a not in to)
    return [Notice(MailKind.RETURNED, format_step(StepKind.RETURNED, round_no), to, cc)]


def extension_notices(
    plan: Plan, unit: str, step: StepKind, number: int, coordinators: Sequence[str] = ()
) -> list[Notice]:
    """An extension's notice, step `requested-N`, `extended-N` or `refused-N`: a unit's request
    goes to the standing office (the leader in charge for the office's own item); a grant to the
    unit, copied to the office and to the coordinating units (`coordinators`: codes; their
    inputs are due later too); a refusal to the unit, copied to the office."""
    if unit not in plan.units:
        return []
    name = format_step(step, number)
    office = _office(plan)
    own = unit == plan.commune.standing_office
    if step == StepKind.REQUESTED:
        to = leaders_in_charge(plan) if own else office
        return [Notice(MailKind.EXTENSION, name, to)] if to else []
    to = _unit(plan, unit)
    copied = () if own else office
    if step == StepKind.EXTENDED:
        copied += _coordinators(plan, "", unit, [c for c in coordinators if c != unit])
    cc = tuple(dict.fromkeys(a for a in copied if a not in to))
    return [Notice(MailKind.EXTENSION, name, to, cc)]


def undelivered_notice(
    plan: Plan, step: str, kind: MailKind | str, failed_recipient: str
) -> Notice | None:
    """A mail refused for good: tell the standing office, with the same kind and the text of
    the undelivered notice. None when the office's own address failed, or the failed mail was
    itself such a notice (no loop), or there is no office."""
    office = _office(plan)
    if not office or failed_recipient.lower() in (a.lower() for a in office):
        return None
    name = parse_step(step)
    if name.undelivered:
        return None
    notice_step = format_step(name.kind, name.number, undelivered=True, archived=name.archived)
    return Notice(MailKind(kind), notice_step, office)
