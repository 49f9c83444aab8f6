"""The rules in their one home, without a database: the plan's methods (which occurrences the
engine acts on, the effective due date, the timeline, timeliness), who is told (notices), the
item state machine and the grammar of step names. Each runs in milliseconds."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from support import with_shift

from schedules.dates import parse_instant
from schedules.notices import (
    closed_notices,
    opening_notices,
    returned_notices,
    step_notices,
    undelivered_notice,
)
from schedules.step_names import format_step, parse_step
from schedules.timeline import Step, current_step, state_at
from schedules.transitions import TRANSITIONS, IllegalTransition, ItemEvent, allowed, sources
from schedules.vocabulary import OPEN_STATUSES, ItemStatus, MailKind, StepKind

REPORT = "bao-cao-cchc-dinh-ky"


def emails(plan, *codes: str) -> tuple[str, ...]:
    return tuple(str(plan.units[c].email) for c in codes)


# ----- the plan ------------------------------------------------------------------------------


def test_acted_on_is_occurrences_due_from_the_start_date(plan):
    start = plan.commune.start
    span = (plan.commune.plan_start, start + timedelta(days=200))
    every = plan.occurrences(*span)
    acted = plan.acted_on(*span)
    assert any(o.due.due < start for o in every)  # the shipped plan has some before the start
    assert acted == [o for o in every if o.due.due >= start]
    by_opening = plan.acted_on(*span, obligation=REPORT, by="opens")
    assert by_opening and all(o.due.due >= start and o.obligation == REPORT for o in by_opening)


def test_effective_due_moves_a_day_off_by_the_policy(plan):
    saturday, monday = date(2027, 5, 22), date(2027, 5, 24)
    moved = plan.effective_due("nhiem-vu-dot-xuat", saturday)
    assert (moved.nominal, moved.due) == (saturday, monday)
    assert moved.basis == "22/05/2027 là ngày nghỉ (Thứ Bảy), chuyển sang ngày làm việc tiếp theo"
    kept = with_shift(plan, "none").effective_due("nhiem-vu-dot-xuat", saturday, "theo chỉ đạo")
    assert (kept.due, kept.basis) == (saturday, "theo chỉ đạo")
    tet = plan.effective_due(REPORT, date(2027, 2, 8))  # Tết 2027
    assert tet.due == date(2027, 2, 11) and "Tết" in tet.basis
    assert plan.effective_due(REPORT, monday).basis == ""  # a working day stays as it is


def test_every_scheduled_due_date_is_the_effective_one(plan):
    for occ in plan.occurrences(date(2027, 1, 1), date(2027, 12, 31)):
        assert plan.effective_due(occ.obligation, occ.due.nominal).due == occ.due.due


def test_timeline_and_timeliness(plan):
    due = date(2027, 3, 16)
    opened = parse_instant("2027-03-02T07:30")
    steps = plan.timeline(REPORT, due, opened)
    assert [s.name for s in steps] == [
        "opened",
        "reminder-5",
        "reminder-2",
        "due",
        "overdue",
        "escalation-1",
        "escalation-2",
    ]
    assert [parse_step(s.name).rank for s in steps] == sorted(
        parse_step(s.name).rank for s in steps
    )
    at = parse_instant("2027-03-17T07:00")
    reached = current_step(steps, at)
    assert state_at(steps, reached) == {
        "status": ItemStatus.OVERDUE,
        "step": "overdue",
        "escalation_level": 0,
        "next_action_at": steps[reached + 1].at,
    }
    assert plan.received_on_time(due, parse_instant("2027-03-16T23:59:59"))
    assert not plan.received_on_time(due, parse_instant("2027-03-17T00:00"))


# ----- who is told ---------------------------------------------------------------------------


def test_who_is_told_at_each_step(plan):
    opened = parse_instant("2027-03-02T07:30")
    steps = {s.name: s for s in plan.timeline(REPORT, date(2027, 3, 16), opened)}
    unit = emails(plan, "VP")
    office = emails(plan, plan.commune.standing_office)
    [reminder] = step_notices(plan, REPORT, "VP", steps["reminder-2"])
    assert (reminder.kind, reminder.step, reminder.to, reminder.cc) == (
        MailKind.REMINDER,
        "reminder-2",
        unit,
        (),
    )
    # The head of unit, the standing office and the unit itself in copy: a unit keeps
    # hearing of its own late item.
    [head] = step_notices(plan, REPORT, "VP", steps["escalation-1"])
    assert head.to == (str(plan.units["VP"].head.email),) and head.cc == office + unit
    [leader] = step_notices(plan, REPORT, "VP", steps["escalation-2"])
    in_charge = tuple(str(p.email) for p in plan.commune.leadership if p.in_charge)
    assert leader.to == in_charge and leader.cc == office
    level = Step("escalation-3", StepKind.ESCALATION, opened, 3, ("leadership",))
    [leaders] = step_notices(plan, REPORT, "VP", level)
    leadership = {str(p.email) for p in plan.commune.leadership if p.escalation}
    assert set(leaders.to) == leadership and leaders.cc == office  # one copy, not one per leader
    # The copy goes with the leader in charge's mail, where the office's other copies go.
    assert leaders.to[0] == in_charge[0]
    # A level whose targets include the standing office: no copy of it besides (the unit's,
    # as its head is told).
    level = Step("escalation-3", StepKind.ESCALATION, opened, 3, ("standing_office", "head"))
    [to_office] = step_notices(plan, REPORT, "VP", level)
    assert to_office.to == office + (str(plan.units["VP"].head.email),) and to_office.cc == unit


def test_the_offices_own_items_reach_its_head_before_the_leaders(plan):
    """The standing office's own item: its Trưởng phòng first (the office copied), then the
    leaders, without the office in copy; never the office alone."""
    own = "bao-cao-cchc-tong-hop"
    office = plan.commune.standing_office
    due = plan.occurrences(date(2027, 3, 1), date(2027, 3, 31), obligation=own)[0].due.due
    steps = [s for s in plan.timeline(own, due, parse_instant("2027-03-02T07:30"))]
    levels = [s for s in steps if s.kind == StepKind.ESCALATION]
    [first] = step_notices(plan, own, office, levels[0])
    assert first.to == ("truongphong.vhxh@maodien.example",)
    assert first.cc == emails(plan, office)  # the office hears of its own late item
    [then] = step_notices(plan, own, office, levels[1])
    leaders = {str(p.email) for p in plan.commune.leadership if p.escalation}
    assert set(then.to) == leaders and then.cc == ()
    # `standing_office` in a ladder still means the leader in charge for the office's own.
    level = Step("escalation-3", StepKind.ESCALATION, levels[0].at, 3, ("standing_office",))
    [lead] = step_notices(plan, own, office, level)
    assert lead.to == ("pct.vhxh@maodien.example",) and lead.cc == ()


def test_an_item_opened_late_is_told_when_its_fresh_deadline_ends(plan):
    """Opened past its due date: overdue at once, one mail with a fresh deadline; when that
    deadline ends the unit gets its "quá hạn" (`overdue-1`) before its head hears of it."""
    opened = parse_instant("2027-03-30T07:30")
    steps = plan.timeline(REPORT, date(2027, 3, 16), opened)
    assert [s.name for s in steps] == ["opened", "overdue", "overdue-1", "escalation-1",
                                       "escalation-2"]  # fmt: skip
    fresh = plan.catch_up_deadline(REPORT, date(2027, 3, 16), opened)
    lapsed = steps[2]
    assert lapsed.at == parse_instant(f"{fresh + timedelta(days=1)}T00:00")
    assert lapsed.at < steps[3].at and state_at(steps, 2)["status"] == ItemStatus.OVERDUE
    [told] = step_notices(plan, REPORT, "VP", lapsed)
    assert (told.kind, told.step, told.to) == (MailKind.OVERDUE, "overdue-1", emails(plan, "VP"))
    assert parse_step("overdue-1").rank > parse_step("overdue").rank
    assert str(parse_step("overdue-1")) == "overdue-1"


def test_who_is_told_when_an_item_opens_closes_and_returns(plan):
    steps = plan.timeline(REPORT, date(2027, 3, 16), parse_instant("2027-03-30T07:30"))
    unit, office = emails(plan, "VP"), emails(plan, plan.commune.standing_office)
    late = steps[current_step(steps, parse_instant("2027-03-30T07:30"))]
    # Opened after its due date: one notice with a fresh deadline, no escalation at once.
    assert late.name == "overdue"
    assert [(n.kind, n.step) for n in opening_notices(plan, REPORT, "VP", late)] == [
        (MailKind.OPENED, "opened"),
    ]
    [closed] = closed_notices(plan, "VP")
    assert (closed.step, closed.to, closed.cc) == ("closed", unit + office, ())
    [receipt] = closed_notices(plan, "VP", later_version=2)
    assert (receipt.step, receipt.to) == ("closed-v2", unit)
    [returned] = returned_notices(plan, "VP", 3)
    assert (returned.kind, returned.step, returned.to, returned.cc) == (
        MailKind.RETURNED,
        "returned-3",
        unit,
        office,
    )
    assert step_notices(plan, REPORT, "GONE", steps[1]) == []  # a unit no longer in the config
    assert opening_notices(plan, REPORT, "GONE", steps[0]) == []


def test_who_is_told_of_an_undelivered_mail(plan):
    office = emails(plan, plan.commune.standing_office)
    notice = undelivered_notice(plan, "reminder-2", "reminder", "vp@maodien.example")
    assert (notice.kind, notice.step, notice.to) == (
        MailKind.REMINDER,
        "undelivered-reminder-2",
        office,
    )
    archived = undelivered_notice(plan, "reminder-2#1", "reminder", "vp@maodien.example")
    assert archived.step == "undelivered-reminder-2#1"
    assert undelivered_notice(plan, "closed", "closed", office[0].upper()) is None  # no loop
    assert undelivered_notice(plan, "undelivered-due", "due", "x@maodien.example") is None


# ----- the item state machine ----------------------------------------------------------------


def test_the_transition_table():
    # A held item (due before go-live) closes when its product arrives, or is waived.
    held = {ItemStatus.HELD}
    assert set(sources(ItemEvent.CLOSE, ItemStatus.CLOSED)) == set(OPEN_STATUSES) | held
    assert set(sources(ItemEvent.WAIVE, ItemStatus.WAIVED)) == set(OPEN_STATUSES) | held
    assert sources(ItemEvent.RESUME, ItemStatus.OPEN) == (ItemStatus.HELD,)
    assert [e for e in ItemEvent if allowed(ItemStatus.HELD, e)] == [
        ItemEvent.CLOSE,
        ItemEvent.WAIVE,
        ItemEvent.RESUME,
    ]
    assert sources(ItemEvent.REOPEN, ItemStatus.OPEN) == (ItemStatus.CLOSED,)
    # The sweep moves an open item to any open status its timeline reached (a policy edit that
    # drops the escalation levels makes an escalated item overdue again).
    for status in OPEN_STATUSES:
        assert set(sources(ItemEvent.ADVANCE, status)) == set(OPEN_STATUSES)
    for bad in [(ItemEvent.CLOSE, ItemStatus.OPEN), (ItemEvent.ADVANCE, ItemStatus.CLOSED)]:
        with pytest.raises(IllegalTransition, match="no item reaches"):
            sources(*bad)
    assert not any(allowed(ItemStatus.WAIVED, event) for event in ItemEvent)  # waived is final
    assert [e for e in ItemEvent if allowed(ItemStatus.CLOSED, e)] == [ItemEvent.REOPEN]
    statuses = {s for (s, _), targets in TRANSITIONS.items() for s in {s, *targets}}
    assert statuses == set(ItemStatus)
    closable = {s for s in ItemStatus if allowed(s, ItemEvent.CLOSE)}
    assert closable == set(OPEN_STATUSES) | held


# ----- the grammar of step names -------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "opened",
        "reminder-5",
        "due",
        "overdue",
        "escalation-2",
        "closed",
        "closed-v3",
        "returned-1",
        "waived",
        "undelivered-reminder-5",
        "reminder-5#2",
        "undelivered-escalation-1#1",
    ],
)
def test_step_names_round_trip(name):
    parsed = parse_step(name)
    assert str(parsed) == name
    assert (
        format_step(
            parsed.kind, parsed.number, undelivered=parsed.undelivered, archived=parsed.archived
        )
        == name
    )


@pytest.mark.parametrize(
    "name", ["reminder", "closed-3", "due-1", "later", "escalation-v2", "reminder-2#x", "x-1"]
)
def test_step_names_outside_the_grammar_are_refused(name):
    with pytest.raises(ValueError, match="not a step name"):
        parse_step(name)


def test_format_step_refuses_a_missing_or_extra_number():
    with pytest.raises(ValueError, match="needs a number"):
        format_step(StepKind.REMINDER)
    with pytest.raises(ValueError, match="takes no number"):
        format_step(StepKind.DUE, 1)
