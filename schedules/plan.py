"""The plan: a commune's units, obligations and calendar, and the rules that follow from them.

A `Plan` answers "when?": the occurrences of each obligation, their due dates moved off days
off, the timeline of an item, what a consolidated report waits for. `schedules.plan_loader`
makes one from the config folder and `schedules.plan_checks` checks it whole: every other part
trusts it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

from schedules.calendar import WorkingCalendar
from schedules.commune_kinds import COMMUNE_KIND_LABELS, commune_kinds_phrase
from schedules.config_indicators import Indicator
from schedules.config_obligations import Obligation
from schedules.config_policy import Policy
from schedules.config_units import ALL_UNITS, Commune, Unit
from schedules.dates import end_of_day, local_date, vn_date, vn_weekday
from schedules.occurrences import (
    CompiledSchedule,
    DueDate,
    Occurrence,
    nominal_due,
    opening_date,
)
from schedules.policy import ResolvedPolicy, resolve_policy
from schedules.timeline import Step, catch_up_deadline, inputs_due, notice_deadline, timeline
from schedules.yamlsource import ConfigIssue

# How far a due date may lie from its anchor (an annual plan is due the December before its year).
_ANCHOR_REACH = timedelta(days=800)


@dataclass
class Plan:
    folder: Path
    commune: Commune
    units: dict[str, Unit]
    obligations: dict[str, Obligation]
    calendar: WorkingCalendar
    schedules: dict[str, CompiledSchedule] = field(default_factory=dict)
    warnings: list[ConfigIssue] = field(default_factory=list)
    indicators: dict[str, Indicator] = field(default_factory=dict)
    """The plan's numeric targets (chỉ tiêu), reported with the reports that carry them."""
    """What `cchc check` warns about but does not refuse (`FILE:LINE: message`)."""
    unit_sources: dict[str, ConfigIssue] = field(default_factory=dict)
    """Where each unit's address is set (file and line; empty message), for the city's check
    of addresses shared between communes."""
    city_folder: Path | None = None
    """A city's commune: the city's folder (its mail templates/ stand in for the commune's)."""
    communes: dict[str, str] | None = None
    """The city office's plan (its own reports): the communes' codes and names, whose reports
    its consolidated reports sum up. None for a commune."""
    commune_kinds: dict[str, str] | None = None
    """The city office's plan: each commune's kind (`CommuneKind`) by code. None for a commune."""
    upper: Plan | None = None
    """A city's commune: the city office's plan, whose report may consolidate the commune's
    (a level's `before: consolidated_due` then ends before the city's due date)."""
    lower: dict[str, Plan] | None = field(default=None, repr=False, compare=False)
    """The city office's plan: its communes' plans by code (their indicators, for the Sở's
    overview). None for a commune."""

    def attach_upper(self, upper: Plan) -> None:
        self.upper = upper
        self.__dict__.pop("_consolidated_dues", None)

    @property
    def kind_label(self) -> str:
        """ "xã", "phường" or "đặc khu": what the commune is, as its texts name it."""
        return COMMUNE_KIND_LABELS[self.commune.kind]

    @property
    def kinds_phrase(self) -> str:
        """ "xã, phường": the kinds of the communes the plan speaks of (the city office's: its
        communes'; a commune's: its own)."""
        if self.commune_kinds is not None:
            return commune_kinds_phrase(self.commune_kinds.values())
        return self.kind_label

    def city_report(self, obligation_id: str) -> str | None:
        """A city's commune: the city office's report that sums up this commune's reports of
        `obligation_id` (its report to the city), if any."""
        return self.upper.consolidator(obligation_id) if self.upper is not None else None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.commune.timezone)

    @property
    def defaults(self) -> Policy:
        """The commune's policy defaults: its own or the city's (a plan always has them)."""
        defaults = self.commune.defaults
        assert defaults is not None, f"{self.commune.code}: a plan is built with its defaults"
        return defaults

    @cached_property
    def _policies(self) -> dict[str, ResolvedPolicy]:
        return {
            oid: resolve_policy(self.defaults, ob.policy) for oid, ob in self.obligations.items()
        }

    def policy(self, obligation_id: str) -> ResolvedPolicy:
        """The obligation's policy; the commune's defaults for an id no longer in the config."""
        found = self._policies.get(obligation_id)
        return found or resolve_policy(self.defaults, Policy())

    def expand_units(self, codes: list[str], excluded: list[str] | None = None) -> list[str]:
        """Unit codes with ALL replaced by every unit counted in "Các cơ quan, đơn vị", but
        the `excluded` ones (an obligation's `all_except`)."""
        out: list[str] = []
        for code in codes:
            expanded = (
                [u.code for u in self.units.values() if u.in_all and u.code not in (excluded or ())]
                if code == ALL_UNITS
                else [code]
            )
            out += [c for c in expanded if c not in out]
        return out

    def units_of(self, ob: Obligation, role: str) -> list[str]:
        """An obligation's `lead` or `coordinators` (`role`), ALL expanded without the units its
        `all_except` leaves out."""
        return self.expand_units(getattr(ob, role), ob.all_except)

    def lead_units(self, obligation_id: str) -> list[str]:
        """The units that own an item of the obligation each period. The standing office does
        not owe itself a report that its own consolidated report sums up."""
        units = self.units_of(self.obligations[obligation_id], "lead")
        office = self.commune.standing_office
        consolidator = self.consolidator(obligation_id)
        if consolidator and office in self.expand_units(self.obligations[consolidator].lead):
            units = [u for u in units if u != office]
        return units

    def coordinating_units(self, obligation_id: str, unit: str) -> list[str]:
        """The units asked for inputs to `unit`'s item: the coordinators, ALL expanded, but the
        lead units. A consolidated report asks nobody: its inputs are the units' own reports."""
        ob = self.obligations.get(obligation_id)
        if ob is None or ob.consolidates:
            return []
        leads = set(self.units_of(ob, "lead")) | {unit}
        return [u for u in self.units_of(ob, "coordinators") if u not in leads]

    def inputs_due(self, obligation_id: str, due: date, opened_at: datetime | None = None) -> date:
        """When the coordinating units of an item due on `due` send their inputs. For an item
        opened past its due date, counted back from its fresh deadline, and never on or before
        the day it opened (then: the working day before that deadline, or the deadline)."""
        caught_up = opened_at and self.catch_up_deadline(obligation_id, due, opened_at)
        if not caught_up or opened_at is None:
            return inputs_due(due, self.policy(obligation_id), self.calendar)
        opened_on = local_date(opened_at, self.zone)
        for day in (
            inputs_due(caught_up, self.policy(obligation_id), self.calendar),
            self.calendar.add_working_days(caught_up, -1),
        ):
            if day > opened_on:
                return day
        return caught_up

    def occurrences(
        self,
        first: date,
        last: date,
        *,
        obligation: str | None = None,
        unit: str | None = None,
        by: str = "due",
    ) -> list[Occurrence]:
        """Occurrences whose `by` date ("due" or "opens") lies in [first, last], in date order."""
        found: list[Occurrence] = []
        ids = [obligation] if obligation else list(self.schedules)
        for oid in ids:
            compiled = self.schedules.get(oid)
            if compiled is None:
                continue
            ob = self.obligations[oid]
            assert ob.schedule is not None, f"{oid}: compiled, so it has a schedule"
            policy = self.policy(oid)
            lo = max(first - _ANCHOR_REACH, self.commune.plan_start)
            hi = min(last + _ANCHOR_REACH, self.commune.plan_end)
            units = [u for u in self.lead_units(oid) if unit in (None, u)]
            for anchor in compiled.anchors(lo, hi) if units else []:
                period = compiled.period(anchor)
                due = self.effective_due(
                    oid, *nominal_due(ob.schedule.due, period, anchor, self.calendar)
                )
                if (ob.start and due.due < ob.start) or (ob.end and due.due > ob.end):
                    continue
                if compiled.period_kind == "date" and due.due < period.window_end:
                    # A one-off moved to an earlier working day: its time ends with it.
                    period = period.with_window(period.window_start, due.due)
                opens = min(opening_date(due.due, policy, self.calendar), due.due)
                if not first <= (due.due if by == "due" else opens) <= last:
                    continue
                found += [Occurrence(oid, u, period, anchor, opens, due) for u in units]
        found.sort(key=lambda o: (o.due.due, o.obligation, o.unit))
        return found

    def acted_on(
        self,
        first: date,
        last: date,
        *,
        obligation: str | None = None,
        unit: str | None = None,
        by: str = "due",
    ) -> list[Occurrence]:
        """The occurrences the engine acts on (opens, reminds, escalates): `occurrences` due on
        or after the commune's `start`. Earlier ones belong to the time before cchc ran;
        `cchc plan` still lists them."""
        found = self.occurrences(first, last, obligation=obligation, unit=unit, by=by)
        return [o for o in found if o.due.due >= self.commune.start]

    def effective_due(self, obligation_id: str, nominal: date, basis: str = "") -> DueDate:
        """The due date in force for a nominal one, for scheduled, ad hoc and returned items
        alike, when it falls on a day off: moved to the next working day when the obligation's
        policy says `next_working_day` (the civil code's rule), to the previous one with
        `previous_working_day` (a deadline within a month ends on its last working day), kept
        with `none`. `basis` says how the nominal date was found; the shift, if any, is added."""
        shift = self.policy(obligation_id).shift
        due = nominal
        if shift == "next_working_day":
            due = self.calendar.next_working_day(nominal)
        elif shift == "previous_working_day":
            due = self.calendar.previous_working_day(nominal)
        if due != nominal:
            note = self.day_off_note(nominal, due)
            basis = f"{basis}; {note}" if basis else note
        return DueDate(nominal, due, basis)

    def day_off_note(self, nominal: date, due: date) -> str:
        """Why a due date moved off `nominal` to `due`, in Vietnamese, as the mails and
        `cchc plan` say."""
        why = self.calendar.holiday_name(nominal) or vn_weekday(nominal)
        where = "tiếp theo" if due > nominal else "liền trước"
        return f"{vn_date(nominal)} là ngày nghỉ ({why}), chuyển sang ngày làm việc {where}"

    def timeline(self, obligation_id: str, due: date, opened_at: datetime) -> list[Step]:
        """The steps of an item of `obligation_id` due on `due` and opened at `opened_at`."""
        return timeline(
            due,
            opened_at,
            self.policy(obligation_id),
            self.calendar,
            self.zone,
            self.commune.sweep_time,
            self.consolidated_due(obligation_id, due),
        )

    def catch_up_deadline(self, obligation_id: str, due: date, opened_at: datetime) -> date | None:
        """The fresh deadline of an item opened after its due date (see `timeline`)."""
        policy = self.policy(obligation_id)
        return catch_up_deadline(due, opened_at, policy, self.calendar, self.zone)

    def notice_deadline(
        self, obligation_id: str, due: date, opened_at: datetime, opens_on: date
    ) -> date | None:
        """The due date in force of an item opened late, close to its scheduled due date `due`
        (`schedules.timeline.notice_deadline`); None when the item keeps `due`."""
        policy = self.policy(obligation_id)
        return notice_deadline(due, opened_at, opens_on, policy, self.calendar, self.zone)

    def asks_inputs_on_opening(self, obligation_id: str, due: date, opened_at: datetime) -> bool:
        """Whether an item opened at `opened_at` still asks its coordinating units for inputs:
        only while their date (`inputs_due`) lies after the day it opened; a contribution date
        already come or past is never asked for."""
        return self.inputs_due(obligation_id, due, opened_at) > local_date(opened_at, self.zone)

    def consolidator(self, obligation_id: str) -> str | None:
        """The obligation whose report sums up `obligation_id`'s reports, if any."""
        return next(
            (o for o, ob in self.obligations.items() if ob.consolidates == obligation_id), None
        )

    @cached_property
    def _consolidated_dues(self) -> dict[str, dict[date, date]]:
        """Per consolidated obligation: its units' due date → the consolidating report's due
        date for the same period (all units of a period share a due date)."""
        found: dict[str, dict[date, date]] = {}
        span = (self.commune.plan_start, self.commune.plan_end)
        # This commune's consolidated reports first, then the city office's (a level up).
        for level in (self, self.upper) if self.upper else (self,):
            for oid in level.schedules:
                target = level.obligations[oid].consolidates
                if not target or target not in self.schedules or target in found:
                    continue
                own = {o.period.key: o.due.due for o in level.occurrences(*span, obligation=oid)}
                found[target] = {
                    o.due.due: own[o.period.key]
                    for o in self.occurrences(*span, obligation=target)
                    if o.period.key in own
                }
        return found

    def consolidated_due(self, obligation_id: str, due: date) -> date | None:
        """The due date of the report consolidating an item of `obligation_id` due on `due`;
        None when nothing consolidates it, or `due` is not a scheduled one (a returned item)."""
        return self._consolidated_dues.get(obligation_id, {}).get(due)

    def received_on_time(self, due: date, at: datetime) -> bool:
        """The one rule of timeliness: received by the end of the due date, local time."""
        return at < end_of_day(due, self.zone)

    def fingerprint(self, obligation_id: str) -> str:
        """Changes whenever anything that decides this obligation's occurrences changes.
        Computed once per plan (a compiled config keeps it: every sweep asks for every
        obligation of every commune)."""
        found = self._fingerprints.get(obligation_id)
        if found is None:
            found = self._fingerprints[obligation_id] = self._fingerprint(obligation_id)
        return found

    @cached_property
    def _fingerprints(self) -> dict[str, str]:
        return {}

    def _fingerprint(self, obligation_id: str) -> str:
        payload = {
            # When escalations go out, and the grace of an item opened late, decide no
            # occurrence: left out of the fingerprint.
            "obligation": self.obligations[obligation_id].model_dump(
                mode="json", exclude={"policy": {"escalation_time", "min_notice"}}
            ),
            "units": self.lead_units(obligation_id),
            "defaults": self.defaults.model_dump(
                mode="json", exclude={"escalation_time", "min_notice"}
            ),
            "start": self.commune.start.isoformat(),
            "calendar": sorted(
                (y, sorted(map(str, o.days_off)), sorted(map(str, o.working_days)))
                for y, o in self.calendar.overrides.items()
            ),
        }
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()[:16]
