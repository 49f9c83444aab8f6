"""The parts of a mail's entry that only some kinds of mail carry, for the templates.

An escalation's level, label and earlier levels (`escalation_context`), a receipt's verdict and
file (`closed_context`), a returned version's reason (`returned_context`) and the city office's
voice to a commune (`voice_context`): pure functions of the plan, the item and the facts read
for the mail (`notifications.facts`); `Composer.entry` puts them together.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from models.ids import saved_id
from notifications.city_voice import city_voice
from notifications.commune_views import unit_view
from notifications.facts import Facts, receipt_verdict
from notifications.phrases import file_size
from notifications.signatures import signature_text
from schedules.dates import local_date, vn_date, vn_datetime
from schedules.item_standing import days_late
from schedules.notices import escalation_addresses
from schedules.plan import Plan
from schedules.step_names import parse_step
from schedules.vocabulary import MailKind, StepKind, working_days

if TYPE_CHECKING:
    from models.tables import WorkItem
    from schedules.timeline import Step

ROLE_LABELS = {"head": "thủ trưởng đơn vị", "leadership": "lãnh đạo Ủy ban nhân dân {kind}"}


def escalation_context(
    plan: Plan,
    leaders: set[str],
    step: str,
    item: WorkItem,
    today: date,
    recipient: str = "",
    facts: Facts | None = None,
) -> dict:
    """What an escalation mail says of its level, as `recipient` (the mail's To) reads it:
    `level` counts the mails of the item's ladder that reach this recipient (a leader's
    first mail is "Kính báo cáo", never "lần 2" because a head was told first), `step_level`
    is the ladder's; `label` heads the mail; `earlier` lists the levels told before this one
    ("đã nhắc Trưởng đơn vị ngày 21/07"); `late_line` is the item's line in a leader's
    digest ("quá hạn 02 ngày làm việc (hạn 20/07/2027; đã nhắc Trưởng đơn vị ngày 21/07)")."""
    step_level = parse_step(step).number or 1
    steps = plan.timeline(item.obligation, item.due, item.opened_at)
    levels = [s for s in steps if s.kind == StepKind.ESCALATION]
    this = next((s for s in levels if s.level == step_level), None)
    targets = this.to if this else ()
    office = plan.commune.standing_office
    own = item.unit == office
    labels = [
        ROLE_LABELS.get(t, "").format(kind=plan.kind_label)
        or (unit_view(plan, office).name if t == "standing_office" else None)
        or unit_view(plan, t).name
        for t in targets
    ]
    who = recipient.lower()
    queued = facts.escalations.get(saved_id(item)) if facts is not None else None
    if queued:  # the mails the outbox holds: what was told, to whom, when
        told: dict[int, datetime] = {}
        mine_levels: set[int] = set()
        for name, to, at in queued:
            number = parse_step(name).number or 0
            if number < step_level:
                told[number] = min(told.get(number, at), at)
                if to.lower() == who:
                    mine_levels.add(number)
        by_level = {s.level: s for s in levels}
        sent = [(by_level[n], at) for n, at in sorted(told.items()) if n in by_level]
        level = len(mine_levels) + 1
    else:  # a preview, a sample: the ladder (not the levels an item opened late went past)
        sent = [(s, s.at) for s in levels if s.level < step_level and s.at > item.opened_at]
        level = 1 + sum(
            who in {a.lower() for a in escalation_addresses(plan, s.to, item.unit)} for s, _ in sent
        )
    # A leader is reported to ("kính báo cáo"); a head of unit is asked ("đề nghị").
    if recipient:
        to_leaders = who in leaders
    else:
        to_leaders = bool(set(targets) & {"leadership", "leader_in_charge"})
        to_leaders = to_leaders or (own and bool(set(targets) & {"head", "standing_office"}))
    if to_leaders:
        label = "Kính báo cáo" if level == 1 else f"Kính báo cáo lần {level}"
    else:
        label = f"{'Nhắc việc' if own else 'Đôn đốc'} lần {level}"
    earlier = [_told(plan, leaders, s, at, item) for s, at in sent]
    return {
        "level": level,
        "step_level": step_level,
        "label": label,
        "targets": ", ".join(labels) or "lãnh đạo",
        "to_leaders": to_leaders,
        "earlier": earlier,
        "late_line": _late_line(plan, item, today, earlier),
    }


def _told(plan: Plan, leaders: set[str], level: Step, at: datetime, item: WorkItem) -> str:
    """An earlier level of the ladder as a leader's digest names it: "đã nhắc Trưởng đơn vị
    ngày 21/07" (a unit's head; the standing office's own: its Trưởng phòng by name), "đã
    báo cáo lãnh đạo ngày 22/07"."""
    day = local_date(at, plan.zone).strftime("%d/%m")
    own = item.unit == plan.commune.standing_office
    heads = {a.lower() for a in escalation_addresses(plan, ("head",), item.unit)}
    told = {a.lower() for a in escalation_addresses(plan, level.to, item.unit)}
    if told and told <= heads and not told & leaders:
        head = unit_view(plan, item.unit).head_name if own else "Trưởng đơn vị"
        return f"đã nhắc {head} ngày {day}"
    return f"đã báo cáo lãnh đạo ngày {day}"


def _late_line(plan: Plan, item: WorkItem, today: date, earlier: list[str]) -> str:
    """ "quá hạn 02 ngày làm việc (hạn 20/07/2027; đã nhắc Trưởng đơn vị ngày 21/07)", as an
    office writes an item's line to a leader; for an item opened past its due date, its
    fresh deadline ("quá hạn gửi bổ sung …", "hạn gửi bổ sung …")."""
    catch_up = plan.catch_up_deadline(item.obligation, item.due, item.opened_at)
    deadline = catch_up or item.due
    late = days_late(deadline, today, plan.calendar)
    own = item.unit == plan.commune.standing_office
    extra = (" hoàn thành bổ sung" if own else " gửi bổ sung") if catch_up else ""
    head = f"quá hạn{extra} {working_days(late)}" if late else f"quá hạn{extra}"
    return f"{head} ({'; '.join([f'hạn{extra} {vn_date(deadline)}', *earlier])})"


def closed_context(plan: Plan, item: WorkItem, facts: Facts) -> dict:
    """What a receipt mail says of the version received: when, the verdict, and its file (name,
    size, fingerprint, signature) or the official document it came as."""
    got = facts.deliverables.get(saved_id(item))
    received = got.received_at if got else item.closed_at
    verdict = receipt_verdict(item)
    doc = got.document if got else ""  # received as an official document: no file
    file = got if got and not doc else None
    when = vn_datetime(received, plan.zone) if received else ""
    return {
        "received_at": vn_date(got.doc_date) if got and doc and got.doc_date else when,
        "on_time": item.on_time,
        "verdict": verdict,
        "doc": doc,
        "file": file.original_name if file else "",
        "version": got.version if got else 0,
        "size": file_size(file.size) if file else "",
        "sha256": file.sha256 if file else "",
        "signature": signature_text(file.signature, plan.zone) if file else "",
    }


def returned_context(item: WorkItem, step: str, facts: Facts) -> dict:
    """What a returned mail says: the version sent back, the reason, the due date it had."""
    item_id = saved_id(item)
    detail = facts.returns.get((item_id, step)) or facts.returns.get((item_id, "")) or {}
    previous = detail.get("previous_due")
    got = facts.deliverables.get(item_id)
    what = ""
    if got is not None:
        what = got.document or f"tệp {got.original_name}, lần nộp thứ {got.version}"
    return {
        "what": what,
        "reason": detail.get("reason") or "(chưa ghi lý do)",
        "previous_due": vn_date(date.fromisoformat(previous)) if previous else "",
    }


def voice_context(
    plan: Plan, kind: MailKind, step: str, item: WorkItem, facts: Facts
) -> dict | None:
    """The city office's voice, for the mails it sends a commune (`city_voice`)."""
    if plan.upper is None:
        return None
    by = ""
    if kind == MailKind.RETURNED:
        item_id = saved_id(item)
        detail = facts.returns.get((item_id, step)) or facts.returns.get((item_id, "")) or {}
        by = detail.get("by", "")
    voice = city_voice(plan, item, kind, step, by)
    return voice.as_dict() if voice else None
