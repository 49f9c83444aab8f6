"""What a mail says about a work item: plain values for the templates, in Vietnamese.

Pure functions of the plan, the item and the day the mail is written; the templates only lay
these values out, so an admin who overrides a template cannot get a date or a count wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from notifications.commune_views import UnitView, coordinators_label, unit_view
from notifications.directive_views import DirectiveView, directive_view
from notifications.phrases import countdown, file_size, shorten, span_label
from schedules.config_obligations import Obligation
from schedules.contents import ContentGroup, note_for_units, report_contents
from schedules.dates import local_date, vn_date, vn_weekday
from schedules.documents import lower_first
from schedules.item_standing import standing
from schedules.periods import period_label
from schedules.plan import Plan
from schedules.timeliness import timeliness_label
from schedules.vocabulary import REPORT_KINDS, ItemStatus, ObligationKind, working_days

if TYPE_CHECKING:  # the tables (SQLModel, SQLAlchemy) only for type hints: `cchc plan` needs none
    from models.tables import Directive, WorkItem

SUBJECT_BUDGET = 54
"""A subject is "[CCHC] unit, hạn dd/mm/yyyy – kind: title": about 40 characters besides the
unit's name and the title, so a title of `SUBJECT_BUDGET - len(unit)` keeps it near 100."""
SUBJECT_TITLE_MIN = 30
OWN_SUBJECT_TITLE = 64
"""The office's own "[CCHC] Nhắc việc, hạn dd/mm/yyyy: title" has 34 characters besides it."""


@dataclass(frozen=True)
class ItemView:
    """One work item as the mails state it."""

    id: int
    obligation: str
    title: str
    short_title: str
    product: str
    description: str
    timing: str
    ref: str
    """The plan's reference: "84/KH-UBND, Phụ lục mục II.2"."""
    due_basis: str
    """Where the dates come from: "Thời gian theo Kế hoạch: hằng năm; hạn theo Kế hoạch CCHC
    năm 2027" (the due date set by the commune, `due_source`), or the plan's timing alone."""
    kind: ObligationKind
    period: str
    period_label: str
    window_start: str
    window_end: str
    window_label: str
    """"số liệu từ 15/12/2026 đến 14/03/2027" for reports, else the period's span."""
    due: str
    due_iso: str
    due_weekday: str
    due_note: str
    """Why the due date is not the one set: "22/05/2027 là ngày nghỉ (Thứ Bảy), chuyển sang
    ngày làm việc tiếp theo"; empty when it is."""
    days_left: int
    days_late: int
    """Working days; both 0 on the due date."""
    due_today: bool
    is_late: bool
    countdown: str
    """"còn 5 ngày làm việc", "hạn là hôm nay", "đã quá hạn 2 ngày làm việc"."""
    coordinators: str
    unit: UnitView
    status: str
    status_label: str
    """The item's status on the day, as every surface words it
    (`schedules.item_standing.standing`)."""
    is_open: bool
    escalation_level: int
    adhoc: bool
    note: str
    """The obligation's description for the units ("Lưu ý"), asides for admins left out."""
    contents: tuple[ContentGroup, ...]
    """The standing tasks a periodic report covers (`schedules.contents`)."""
    office_own: bool
    """An item of the standing office itself: its mails are the office's own reminders."""

    @property
    def deadline_word(self) -> str:
        """ "hạn nộp" of a unit's product; "hạn hoàn thành" of the standing office's own task
        (it hands nothing in to itself)."""
        return "hạn hoàn thành" if self.office_own else "hạn nộp"

    @property
    def deadline_label(self) -> str:
        """The same, as a label starts: "Hạn nộp", "Hạn hoàn thành"."""
        return self.deadline_word.capitalize()

    lead_label: str
    """ "Đơn vị chủ trì" (a commune's unit), "Cơ quan chủ trì" (the city office, a Sở)."""
    catch_up: str
    """For an item opened after its due date: the new "at the latest" date; else empty."""
    catch_up_weekday: str
    inputs_due: str
    """When the coordinating units send their inputs (items with coordinators), else empty."""
    inputs_due_weekday: str
    deliverable: str
    """What is owed, as a subject names it: "Báo cáo CCHC quý I năm 2027" for a periodic
    report, a directive's product, else "sản phẩm nhiệm vụ «short title»"."""
    original_due: str = ""
    """The first due date in force, when an extension or a return moved it; else empty."""
    timeliness: str = ""
    """The verdict once a version arrived: "đúng hạn", "đúng hạn (được gia hạn)", "quá hạn",
    with "phải hoàn thiện" / "quá hạn hoàn thiện" for a returned item; else empty."""
    directive: DirectiveView | None = None
    """The directive the item acts on; None for the plan's items."""
    subject_title: str = ""
    """What a subject names after the unit and the deadline: "Báo cáo CCHC quý I năm 2027" for
    a periodic report, else the title cut to keep the subject near 100 characters."""
    leader_subject_title: str = ""
    """What an escalation's subject to a leader says after "Kính báo cáo:": "chưa nộp Báo cáo
    CCHC quý I năm 2027" (a unit's report), else "chưa hoàn thành" and the title, its first
    letter lower-cased and cut shorter to keep the subject near 100 characters."""
    own_subject_title: str = ""
    """`subject_title` for the office's own "Nhắc việc" subject, which names no unit: the title
    cut at `OWN_SUBJECT_TITLE` ("Thông tin, tuyên truyền về công tác cải cách hành chính", not
    "Thông tin, tuyên truyền về…")."""
    escalates_to_head: bool = False
    """A level of the item's ladder goes to its head of unit (for the office's own items, the
    office's Trưởng phòng, before the leader in charge)."""


def due_basis(ob: Obligation | None, due: date) -> str:
    """ "Thời gian theo Kế hoạch: hằng năm; hạn theo Kế hoạch CCHC năm 2027": the plan's words
    for the time, and who set the due date when the plan does not (`due_source`)."""
    if ob is None:
        return ""
    timing = " ".join(ob.timing.split())
    timing = timing[:1].lower() + timing[1:]
    timing = timing.replace("hàng năm", "hằng năm").replace("hàng quý", "hằng quý")
    basis = f"Thời gian theo Kế hoạch: {timing}"
    if ob.due_source:
        basis += f"; hạn theo {ob.due_source.replace('{year}', str(due.year))}"
    return basis


def item_view(
    plan: Plan, item: WorkItem, today: date, directive: Directive | None = None
) -> ItemView:
    """What the mails say of `item` as of `today`; `directive`: the one it acts on, if any (its
    task, product, coordinators and reference stand in for the obligation's)."""
    ob = plan.obligations.get(item.obligation)
    kind = ob.kind if ob else ObligationKind.AD_HOC
    span = f"từ {vn_date(item.window_start)} đến {vn_date(item.window_end)}"
    label = period_label(item.period)
    if ob is not None and ob.schedule is not None and ob.schedule.once is not None:
        label = span_label(item.window_start, ob.schedule.once)
    catch_up = plan.catch_up_deadline(item.obligation, item.due, item.opened_at)
    coordinators, asks = _coordination(plan, item, directive)
    # Coordinators asked on opening only while their date lay ahead (`Plan.inputs_due`).
    asks = asks and plan.asks_inputs_on_opening(item.obligation, item.due, item.opened_at)
    inputs = plan.inputs_due(item.obligation, item.due, item.opened_at) if asks else None
    unit = unit_view(plan, item.unit)
    # An item opened past its due date counts from its fresh deadline, not the plan's date.
    deadline = catch_up or item.due
    left, late, phrase = countdown(plan, deadline, today)
    if catch_up and today > catch_up and late:
        what = "hoàn thành bổ sung" if item.unit == plan.commune.standing_office else "gửi bổ sung"
        phrase = f"đã quá hạn {what} {working_days(late)}"
    found = _directive_of(plan, item, directive)
    ref, product, deliverable = _owed(plan, item, label, found)
    late_notice = late_notice_note(plan, item)
    first_due = None if late_notice else item.original_due
    day_off = (
        plan.day_off_note(item.nominal_due, item.due)
        if item.nominal_due and item.nominal_due != item.due
        else ""
    )
    return ItemView(
        id=item.id or 0,
        obligation=item.obligation,
        title=item.title,
        short_title=shorten(item.title),
        product=product,
        description=" ".join((ob.description or "").split()) if ob and not found else "",
        timing=ob.timing if ob else "",
        ref=ref,
        # The plan's year: an item re-opened at go-live or extended keeps its plan's reference.
        due_basis=""
        if item.adhoc
        else due_basis(ob, item.original_due or item.nominal_due or item.due),
        kind=kind,
        period=item.period,
        period_label=label,
        window_start=vn_date(item.window_start),
        window_end=vn_date(item.window_end),
        window_label=("số liệu " if kind in REPORT_KINDS else "thời gian ") + span,
        due=vn_date(item.due),
        due_iso=item.due.isoformat(),
        due_weekday=vn_weekday(item.due),
        due_note="; ".join(n for n in (late_notice, day_off) if n),
        days_left=left,
        days_late=late,
        due_today=today == deadline,
        is_late=today > deadline,
        countdown=phrase,
        coordinators=coordinators_label(
            plan, coordinators, ob.all_except if ob is not None and found is None else None
        ),
        unit=unit,
        status=item.status,
        status_label=standing(item, today, plan.calendar).label,
        is_open=ItemStatus(item.status).is_open,
        escalation_level=item.escalation_level,
        adhoc=item.adhoc,
        note=note_for_units(ob.description) if ob and not found else "",
        contents=tuple(report_contents(plan, item.obligation, item.unit)),
        office_own=item.unit == plan.commune.standing_office,
        lead_label="Cơ quan chủ trì" if plan.communes is not None else "Đơn vị chủ trì",
        catch_up=vn_date(catch_up) if catch_up else "",
        catch_up_weekday=vn_weekday(catch_up) if catch_up else "",
        inputs_due=vn_date(inputs) if inputs else "",
        inputs_due_weekday=vn_weekday(inputs) if inputs else "",
        deliverable=deliverable,
        subject_title=f"Báo cáo CCHC {label}"
        if kind in REPORT_KINDS
        else shorten(item.title, max(SUBJECT_TITLE_MIN, SUBJECT_BUDGET - len(unit.subject_name))),
        leader_subject_title=leader_subject_title(
            item.title, label, kind, unit.subject_name, item.unit == plan.commune.standing_office
        ),
        own_subject_title=f"Báo cáo CCHC {label}"
        if kind in REPORT_KINDS
        else shorten(item.title, OWN_SUBJECT_TITLE),
        original_due=vn_date(first_due) if first_due and first_due != item.due else "",
        timeliness=timeliness_label(item, today),
        directive=found,
        escalates_to_head=ob is not None
        and any("head" in level.to for level in plan.policy(item.obligation).escalation),
    )


LEADER_SUBJECT_TITLE_MIN = 24
"""A leader's subject says "Kính báo cáo: chưa hoàn thành " (30 characters) before the title."""


def leader_subject_title(title: str, label: str, kind: str, unit_name: str, own: bool) -> str:
    """ "chưa nộp Báo cáo CCHC quý I năm 2027", "chưa hoàn thành lập dự toán kinh phí…": see
    `ItemView.leader_subject_title`."""
    if kind in REPORT_KINDS:
        return f"{'chưa hoàn thành' if own else 'chưa nộp'} Báo cáo CCHC {label}"
    budget = max(LEADER_SUBJECT_TITLE_MIN, SUBJECT_BUDGET - 16 - len(unit_name))
    return f"chưa hoàn thành {lower_first(shorten(title, budget))}"


def late_notice_note(plan: Plan, item: WorkItem) -> str:
    """Why an item's due date is not the plan's, when the unit heard of it late: opened close
    to its due date (`Plan.notice_deadline`: "hạn theo Kế hoạch: …; nhiệm vụ được thông báo
    ngày …, còn 2 ngày làm việc đến hạn, nên hạn nộp được tính 5 ngày làm việc kể từ ngày
    thông báo"), or held at go-live and re-opened by the office with a fresh date; else ""."""
    planned = item.original_due
    if planned is None or planned == item.due or item.adhoc:
        return ""
    opened_on = local_date(item.opened_at, plan.zone)
    if item.held_on is not None and planned < item.held_on:
        office = unit_view(plan, plan.commune.standing_office).name
        word = "hạn hoàn thành" if item.unit == plan.commune.standing_office else "hạn nộp"
        return (
            f"hạn theo Kế hoạch: {vn_date(planned)}, trước ngày hệ thống nhắc việc bắt đầu vận "
            f"hành là ngày {vn_date(item.held_on)}; {office} định lại {word} như trên"
        )
    if plan.notice_deadline(item.obligation, planned, item.opened_at, item.opens_on) != item.due:
        return ""
    left = plan.calendar.working_days_between(opened_on, planned)
    when = (
        "đúng ngày đến hạn"
        if left <= 0
        else f"ngày {vn_date(opened_on)}, chỉ còn {working_days(left)} đến hạn"
    )
    notice = plan.policy(item.obligation).min_notice
    word = "hạn hoàn thành" if item.unit == plan.commune.standing_office else "hạn nộp"
    return (
        f"hạn theo Kế hoạch: {vn_weekday(planned)}, ngày {vn_date(planned)}; nhiệm vụ được "
        f"thông báo {when}, nên {word} được tính {working_days(notice)} kể từ ngày thông báo"
    )


def _coordination(
    plan: Plan, item: WorkItem, directive: Directive | None
) -> tuple[list[str], bool]:
    """The coordinating units to name (codes, ALL kept) and whether the item asks them for
    inputs: the directive's (its lead units left out), else the obligation's."""
    if directive is not None:
        codes = [c for c in plan.expand_units(directive.coordinators) if c not in directive.units]
        return codes, bool(codes)
    ob = plan.obligations.get(item.obligation)
    if ob is None:
        return [], False
    return ob.coordinators, bool(plan.coordinating_units(item.obligation, item.unit))


def _directive_of(plan: Plan, item: WorkItem, directive: Directive | None) -> DirectiveView | None:
    if directive is None:
        return None
    return directive_view(
        directive,
        office=unit_view(plan, plan.commune.standing_office).name,
        unit=unit_view(plan, item.unit).name,
        office_own=item.unit == plan.commune.standing_office,
        due=item.due,
        size=file_size(directive.file_size) if directive.file_size else "",
    )


def _owed(
    plan: Plan, item: WorkItem, label: str, directive: DirectiveView | None
) -> tuple[str, str, str]:
    """(reference, product, deliverable as a subject names it): the directive's for its items,
    else the plan's and the obligation's."""
    ob = plan.obligations.get(item.obligation)
    if directive is not None:
        return directive.reference, directive.product, lower_first(directive.product)
    if plan.communes is not None:  # the city office's report: its own basis
        ref = ob.ref if ob else plan.commune.plan
    else:
        plan_ref = f"Kế hoạch số {plan.commune.plan_short}"
        ref = f"{plan_ref}, {ob.ref}" if ob else plan_ref
    product = ob.product.replace("{period}", label) if ob else ""
    if ob is not None and ob.kind in REPORT_KINDS:
        return ref, product, f"Báo cáo CCHC {label}"
    # The whole title: a sentence to a head or a leader never breaks off at "…".
    return ref, product, f"sản phẩm nhiệm vụ «{' '.join(item.title.split())}»"
