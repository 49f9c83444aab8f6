"""Sample mails for `cchc check` (every template rendered against them) and `cchc preview`:
an in-memory item like the sweep would open, and a context for every kind of mail and the
variants its templates branch on (the office's daily work: `office_samples`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from notifications.compose import Composer
from notifications.facts import RECEIPT_KINDS, Facts
from notifications.office_samples import office_samples
from notifications.render import Renderer, TemplateIssue, check_renders
from notifications.sample_rows import changed, deliverable_row, item_row
from schedules.dates import local_date, local_instant
from schedules.plan import Plan
from schedules.vocabulary import MailKind, ObligationKind

if TYPE_CHECKING:
    from models.tables import WorkItem


def check_mail(
    plan: Plan, sender: str | None, at: datetime, renderer: Renderer | None = None
) -> list[TemplateIssue | str]:
    """Problems `cchc check` reports about mail: a sender that is not an address, a template
    that does not parse, or that uses a variable no mail provides (of `renderer`'s set; by
    default the plan's templates as they are on disk). Reads no database: the samples are
    plain rows (`notifications.sample_rows`)."""
    try:
        composer = Composer(plan, sender, renderer=renderer)
    except ValueError as exc:
        return [str(exc)]
    return list(check_renders(composer.renderer, sample_contexts(composer, at)))


SAMPLE_VOICE = {
    "office": "Sở Nội vụ thành phố",
    "email": "cchc@snv.example.invalid",
    "commune": "UBND xã",
    "city_due": "24/03/2027",
    "contact": {"name": "Phòng Cải cách hành chính", "email": "cchc@snv.example.invalid",
                "phone": ""},
    "city": "Thành phố",
}  # fmt: skip
"""A `city_voice` for `cchc check`: the Sở's branch of the templates renders too."""


def sample_item(plan: Plan, at: datetime) -> WorkItem:
    """An in-memory item like the sweep would open: the first periodic report from the
    commune's start (or any scheduled obligation), for the first lead unit."""
    first = local_date(at, plan.zone)
    found = plan.acted_on(first, max(first, plan.commune.start) + timedelta(days=800))
    found.sort(key=lambda o: plan.obligations[o.obligation].kind != ObligationKind.PERIODIC_REPORT)
    if found:
        occ = found[0]
        obligation, unit, period = occ.obligation, occ.unit, occ.period
        due, opens, window = occ.due.due, occ.opens, (period.window_start, period.window_end)
        key = period.key
    else:  # a config with no schedule at all: an ad hoc item
        obligation = next(iter(plan.obligations))
        unit = next(iter(plan.units))
        due = plan.calendar.add_working_days(first, 10)
        opens, window, key = first, (first, due), due.isoformat()
    opened_at = local_instant(opens, plan.commune.sweep_time, plan.zone)
    return item_row(
        id=0,
        commune=plan.commune.code,
        obligation=obligation,
        unit=unit,
        period=key,
        title=plan.obligations[obligation].title,
        window_start=window[0],
        window_end=window[1],
        opens_on=opens,
        due=due,
        adhoc=False,
        status="open",
        step="opened",
        escalation_level=0,
        opened_at=opened_at,
    )


def sample_contexts(composer: Composer, at: datetime) -> list[tuple[MailKind, dict]]:
    """A context for every kind (and the variants their templates branch on), from a sample
    item: what `cchc check` renders every template against."""
    plan = composer.plan
    item = sample_item(plan, at)
    cal = plan.calendar
    morning = plan.commune.sweep_time
    opened = item.opened_at
    when = {
        MailKind.OPENED: opened,
        MailKind.REMINDER: local_instant(cal.add_working_days(item.due, -2), morning, plan.zone),
        MailKind.DUE: local_instant(item.due, morning, plan.zone),
        MailKind.OVERDUE: local_instant(cal.add_working_days(item.due, 1), morning, plan.zone),
        MailKind.ESCALATION: local_instant(cal.add_working_days(item.due, 5), morning, plan.zone),
        MailKind.CLOSED: local_instant(item.due, morning, plan.zone),
        MailKind.RETURNED: local_instant(item.due, morning, plan.zone),
        MailKind.COORDINATE: opened,
        MailKind.CORRECTION: local_instant(cal.add_working_days(item.due, 3), morning, plan.zone),
    }
    when[MailKind.REMINDER] = max(when[MailKind.REMINDER], opened)
    steps = {
        MailKind.ESCALATION: "escalation-1",
        MailKind.RETURNED: "returned-1",
        MailKind.COORDINATE: "opened",
        MailKind.CORRECTION: "correction",
    }
    closed_item, facts = _sample_facts(item, when[MailKind.CLOSED])
    recipient = plan.units[item.unit].email if item.unit in plan.units else "x@example.invalid"
    out: list[tuple[MailKind, dict]] = []
    for kind, at_kind in when.items():
        subject = closed_item if kind in RECEIPT_KINDS else item
        entry = composer.entry(kind, steps.get(kind, str(kind)), subject, at_kind, facts)
        opening = kind == MailKind.OPENED
        out.append((kind, composer.context(kind, str(recipient), at_kind, [entry], (), opening)))
    voiced = (MailKind.OVERDUE, MailKind.ESCALATION, MailKind.CLOSED, MailKind.RETURNED)
    for kind in (*voiced, MailKind.CORRECTION):
        # The Sở Nội vụ's words to a commune about its report to the city (`city_voice`).
        subject = closed_item if kind in RECEIPT_KINDS else item
        entry = composer.entry(kind, steps.get(kind, str(kind)), subject, when[kind], facts)
        entry = entry | {"city_voice": SAMPLE_VOICE}
        out.append((kind, composer.context(kind, str(recipient), when[kind], [entry])))
    failure = [(str(recipient), "550 5.1.1 mailbox unavailable")]
    reminder = MailKind.REMINDER
    entry = composer.entry(reminder, "reminder-2", item, when[reminder], facts)
    out.append((reminder, composer.context(reminder, str(recipient), at, [entry], failure)))
    overdue = when[MailKind.OVERDUE]
    entries = [
        composer.entry(
            kind,
            steps.get(kind, str(kind)),
            closed_item if kind in RECEIPT_KINDS else item,
            overdue,
            facts,
        )
        for kind in when
    ]
    digest = MailKind.DIGEST
    out.append((digest, composer.context(digest, str(recipient), overdue, entries, failure, True)))
    leaders = [str(p.email) for p in plan.commune.leadership]
    if leaders:  # a leader's digest: the escalations of one run, in the leader's wording
        at_level = when[MailKind.ESCALATION]
        escalated = composer.entry(MailKind.ESCALATION, "escalation-1", item, at_level, facts)
        out.append((digest, composer.context(digest, leaders[0], at_level, [escalated] * 2)))
        out.append(_overview_sample(composer, item, facts, overdue, leaders[0]))
        if composer.plan.upper is not None:  # a city's templates: the Sở's overview renders too
            upper = composer.plan.upper
            out.append(_overview_sample(composer, item, facts, overdue, leaders[0], upper))
    return out + office_samples(composer, item, when[MailKind.OPENED], str(recipient))


def _overview_sample(
    composer: Composer,
    item: WorkItem,
    facts: Facts,
    at: datetime,
    leader: str,
    office: Plan | None = None,
) -> tuple[MailKind, dict]:
    """The quarterly overview to a leader, every unit with nothing counted yet, every
    indicator without data (`office`, a city office's plan: the Sở's overview, every commune's
    report missing)."""
    from notifications.documents.overview import overview_view
    from schedules.indicators import NO_DATA, target_words
    from schedules.overview import quarter_cycle
    from usecases.overview_data import IndicatorLine, Overview, UnitQuarter

    plan = office or composer.plan
    day = item.due
    cycle = quarter_cycle(plan, day.year, (day.month - 1) // 3 + 1)
    units = [UnitQuarter(code, unit.name) for code, unit in plan.units.items()]
    overview = Overview(plan.commune.name, plan.commune.plan_short, cycle, at, plan.zone, units)
    overview.indicators = [
        IndicatorLine(
            i.id,
            i.ref,
            i.name,
            cycle.period or "",
            "—",
            target_words(i, day.year),
            NO_DATA,
            1,
            0,
            0,
        )
        for i in plan.indicators.values()
    ]
    if plan.communes is not None:  # the Sở's overview: every commune's report still missing
        from schedules.city import short_name
        from usecases.overview_data import MISSING, CommuneReport

        overview.communes = [
            CommuneReport(code, short_name(name), MISSING, cycle.last, None)
            for code, name in plan.communes.items()
        ]
        overview.kinds = plan.kinds_phrase
    kind = MailKind.OVERVIEW
    entry = composer.entry(kind, str(kind), item, at, facts) | {"overview": overview_view(overview)}
    return kind, composer.context(kind, leader, at, [entry])


def _sample_facts(item: WorkItem, closed_at: datetime) -> tuple[WorkItem, Facts]:
    """The sample item once closed, and the facts its receipt and return mails read."""
    closed_item = changed(item, status="closed", step="closed", closed_at=closed_at, on_time=True)
    facts = Facts(
        items={0: item},
        deliverables={
            0: deliverable_row(
                item_id=0,
                version=1,
                original_name="bao-cao.pdf",
                size=123456,
                sha256="0" * 64,
                stored_path="",
                received_at=closed_at,
            )
        },
        returns={
            (0, "returned-1"): {"reason": "Thiếu số liệu kiểm chứng", "previous_due": "2027-03-16"}
        },
    )
    return closed_item, facts
