"""The checks of a plan as a whole: every rule that spans more than one value of its files.

`check_plan` merges the parsed files (`schedules.plan_merge`), makes the `Plan` and checks it:
unknown unit codes and obligations, escalation ladders, schedules that never fire or fall due
inside their data window, consolidated reports due before what they sum up. Every problem is
an issue at its `FILE:LINE`; `ConfigInvalid` lists them all. What is odd but workable becomes a
warning in `Plan.warnings` (`cchc check` prints them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from dateutil.rrule import rrulestr

from schedules.calendar import WorkingCalendar
from schedules.commune_kinds import COMMUNE_KIND_LABELS, CommuneKind
from schedules.config import (
    ALL_UNITS,
    ESCALATION_ROLES,
    Commune,
    Indicator,
    Obligation,
    Policy,
    Unit,
)
from schedules.dates import local_date, local_instant, vn_date
from schedules.notices import overview_leaders
from schedules.occurrences import CompiledSchedule, Occurrence, compile_schedule, nominal_due
from schedules.plan import Plan
from schedules.plan_merge import Merged, Parsed, Where, merge
from schedules.plan_warnings import doubled_period_words, unreached_rows
from schedules.vocabulary import REPORT_KINDS, ObligationKind, StepKind
from schedules.yamlsource import ConfigInvalid, ConfigIssue, YamlSource

PLACEHOLDERS = ("{plan_short}", "{plan}", "{commune_kind}")
"""What an obligation's texts may name: the commune's plan (short reference, full name), and
what the commune is (xã, phường, đặc khu: "Báo cáo … của {commune_kind}")."""
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_FILLED = ("title", "product", "timing", "description", "due_source")
"""The obligation's texts whose placeholders are filled."""
_OWN_PLACEHOLDERS = {"product": {"{period}"}, "due_source": {"{year}"}}
"""Placeholders a field keeps until a mail is written: the item's period, its due date's year."""


def check_plan(
    folder: Path,
    parsed: Parsed,
    rank: dict[int, int] | None = None,
    defaults: Policy | None = None,
    foreign: frozenset[str] = frozenset(),
) -> Plan:
    """The plan of the files `parsed` (`rank`: the layer of each, see `plan_merge`), checked;
    ConfigInvalid with every problem found. `defaults`: the city's policy defaults, for a
    commune whose files set none; `foreign`: obligations of another level that `consolidates`
    may name (the communes', for the city office's reports)."""
    checks = _Checks(merge(parsed, rank), parsed, foreign)
    plan = checks.plan(folder, defaults)
    checks.check(plan)
    if checks.issues:
        raise ConfigInvalid(checks.issues)
    checks.warn(plan)
    return plan


class _Checks:
    """The checks of one plan; the issues found so far are the merge's, then these."""

    def __init__(self, merged: Merged, parsed: Parsed, foreign: frozenset[str]):
        self.merged = merged
        self.parsed = parsed
        self.foreign = foreign
        self.issues = merged.issues
        self.obligation_at = merged.obligation_at

    def fail(self, where: Where, message: str) -> None:
        self.merged.fail(where, message)

    @property
    def commune_source(self) -> YamlSource:
        """The file that set the commune (once there is one, a file set it)."""
        source = self.merged.commune_source
        assert source is not None, "the commune's file is asked for only once it is set"
        return source

    # --- the plan, from what the files set --------------------------------------------------

    def plan(self, folder: Path, defaults: Policy | None) -> Plan:
        """The plan of the merged files: the commune's obligations, placeholders filled."""
        commune = self._commune(folder, defaults)
        obligations = {
            oid: self._fill_placeholders(commune, oid, ob)
            for oid, ob in self.merged.obligations.items()
            if ob.communes is None or commune.code in ob.communes
        }
        self._require_content(obligations, self.merged.units)
        overrides = self.merged.overrides
        calendar = WorkingCalendar(commune.plan_start.year, commune.plan_end.year, overrides)
        plan = Plan(folder, commune, self.merged.units, obligations, calendar)
        plan.indicators = {
            iid: indicator
            for iid, indicator in self.merged.indicators.items()
            if indicator.communes is None or commune.code in indicator.communes
        }
        return plan

    def _commune(self, folder: Path, defaults: Policy | None) -> Commune:
        """The commune, with the city's `defaults` when it sets none; ConfigInvalid when no
        file sets it, or nothing gives its defaults."""
        commune = self.merged.commune
        if commune is None:
            message = "no file sets 'commune' (chưa có tệp nào khai báo xã, khóa commune:)"
            raise ConfigInvalid(self.issues + [ConfigIssue(str(folder), 1, message)])
        if commune.defaults is not None:
            return commune
        if defaults is None:
            self.fail(
                (self.commune_source, ("commune",)),
                "commune: missing field 'defaults' (thiếu trường bắt buộc)",
            )
            raise ConfigInvalid(self.issues)
        return commune.model_copy(update={"defaults": defaults})

    def _fill_placeholders(self, commune: Commune, oid: str, ob: Obligation) -> Obligation:
        """`{plan_short}` and `{plan}` in an obligation's texts become the commune's (a template
        plan shared by many communes names each one's plan); `{period}` in `product` is the
        item's, and `{year}` in `due_source` its due date's year, filled when a mail is
        written. Any other `{...}` is an error."""
        kind = COMMUNE_KIND_LABELS[commune.kind]
        values = dict(zip(PLACEHOLDERS, (commune.plan_short, commune.plan, kind), strict=True))
        update = {}
        for name in _FILLED:
            text = getattr(ob, name) or ""
            allowed = values.keys() | _OWN_PLACEHOLDERS.get(name, set())
            self._check_placeholders(oid, name, text, allowed)
            if any(token in text for token in values):
                for token, value in values.items():
                    text = text.replace(token, value)
                update[name] = text
        return ob.model_copy(update=update) if update else ob

    def _check_placeholders(self, oid: str, name: str, text: str, allowed: set[str]) -> None:
        for token in set(_PLACEHOLDER.findall(text)) - allowed:
            source, loc = self.obligation_at[oid]
            self.fail(
                (source, loc + (name,)),
                f"unknown placeholder {token}: use {', '.join(sorted(allowed))} (chỗ "
                "thay thế không hợp lệ)",
            )

    def _require_content(self, obligations: dict[str, Obligation], units: dict[str, Unit]) -> None:
        """A plan has obligations and units. With no unit at all, this is said once here; the
        unit codes the plan names are then not checked."""
        commune_at = (self.commune_source, ("commune",))
        if not obligations:
            self.fail(
                commune_at,
                "no obligation is defined (chưa khai báo nhiệm vụ nào): add obligations, or "
                "`extends:` a template plan at the top level of a file (thêm nhiệm vụ hoặc kế "
                "thừa kế hoạch mẫu bằng extends:)",
            )
        if not units:
            holder = next((s for s, _ in self.parsed if "units" in s.data), None)
            name = holder.path.name if holder else "units.yaml"
            self.fail(
                (holder, ("units",)) if holder else commune_at,
                f"no unit is defined (chưa khai báo đơn vị nào): add units to {name} "
                f"(khai báo các đơn vị trong {name})",
            )

    # --- the rules --------------------------------------------------------------------------

    def check(self, plan: Plan) -> None:
        """Every rule; the consolidated reports' dates only when all else holds (they need
        every schedule compiled)."""
        self._check_calendar(plan)
        self._check_commune(plan)
        for oid, ob in plan.obligations.items():
            self._check_obligation(plan, oid, ob)
        for iid, indicator in plan.indicators.items():
            self._check_indicator(plan, iid, indicator)
        if not self.issues:
            for oid in plan.obligations:
                self._check_consolidation(plan, oid)

    def _check_calendar(self, plan: Plan) -> None:
        bare = WorkingCalendar(plan.calendar.first_year, plan.calendar.last_year)
        for source, cfg in self.parsed:
            for year, cal in (cfg.calendar or {}).items():
                for i, day in enumerate(cal.working_days):
                    if bare.is_working_day(day):
                        self.fail(
                            (source, ("calendar", year, "working_days", i)),
                            f"{vn_date(day)} is already a working day (đã là ngày làm việc)",
                        )

    def _check_commune(self, plan: Plan) -> None:
        source = self.commune_source
        if plan.units and plan.commune.standing_office not in plan.units:
            self.fail(
                (source, ("commune", "standing_office")),
                f"unknown unit '{plan.commune.standing_office}' as standing office "
                f"(đơn vị thường trực không tồn tại); known: {', '.join(plan.units)}",
            )
        defaults = plan.defaults
        self._check_escalation(plan, (source, ("commune", "defaults", "escalation")), defaults)
        where = (source, ("commune", "defaults", "escalation_time"))
        self._check_escalation_time(plan, where, defaults)
        # Checked here, once: an obligation is blamed only for what its own policy sets.
        opens = defaults.open_before_due  # set: complete_defaults requires it
        if defaults.reminders and opens is not None and max(defaults.reminders) > opens:
            self.fail(
                (source, ("commune", "defaults", "reminders")),
                f"a reminder {max(defaults.reminders)} working days before the due date comes "
                f"before the item opens ({defaults.open_before_due} working days before): "
                "lower the reminder or raise open_before_due (nhắc việc trước ngày mở nhiệm vụ: "
                "giảm số ngày nhắc hoặc tăng open_before_due)",
            )

    def _check_obligation(self, plan: Plan, oid: str, ob: Obligation) -> None:
        source, loc = self.obligation_at[oid]
        self._check_unit_codes(plan, ob, (source, loc))
        self._check_references(plan, oid, ob, (source, loc))
        if ob.start and ob.end and ob.end < ob.start:
            self.fail(
                (source, loc + ("end",)), "end is before start (ngày kết thúc trước ngày bắt đầu)"
            )
        self._check_escalation(plan, (source, loc + ("policy", "escalation")), ob.policy)
        where = (source, loc + ("policy", "escalation_time"))
        self._check_escalation_time(plan, where, ob.policy)
        if ob.schedule is not None:
            self._compile(plan, oid, ob, (source, loc))

    def _check_indicator(self, plan: Plan, iid: str, indicator: Indicator) -> None:
        """An indicator is carried by a scheduled report of the plan, reported by units that
        owe that report, with its yearly steps inside the plan's years."""
        source, loc = self.merged.indicator_at[iid]
        carrier = plan.obligations.get(indicator.reported_in)
        if carrier is None:
            self.fail(
                (source, loc + ("reported_in",)),
                f"unknown obligation '{indicator.reported_in}' (nhiệm vụ không tồn tại); "
                "name the report that carries the indicator, e.g. bao-cao-cchc-dinh-ky",
            )
            return
        if carrier.schedule is None:
            self.fail(
                (source, loc + ("reported_in",)),
                f"'{indicator.reported_in}' has no schedule, so it cannot carry an indicator "
                "(nhiệm vụ này không có lịch nên không mang được chỉ tiêu)",
            )
            return
        if not plan.units:
            return
        owing = plan.lead_units(indicator.reported_in)
        for i, code in enumerate(indicator.reported_by):
            if code != ALL_UNITS and code not in plan.units:
                self.fail(
                    (source, loc + ("reported_by", i)),
                    f"unknown unit '{code}' (đơn vị không tồn tại); known: "
                    f"{', '.join(plan.units)}, ALL",
                )
            elif code != ALL_UNITS and code not in owing:
                self.fail(
                    (source, loc + ("reported_by", i)),
                    f"unit '{code}' owes no '{indicator.reported_in}' report, so it cannot "
                    f"report this indicator with it (đơn vị không có báo cáo này); units that "
                    f"owe it: {', '.join(owing) or '-'}",
                )
        first, last = plan.commune.plan_start.year, plan.commune.plan_end.year
        for year in indicator.steps:
            if not first <= year <= last:
                self.fail(
                    (source, loc + ("steps", year)),
                    f"step year {year} is outside the plan's years {first}-{last} "
                    "(năm của lộ trình nằm ngoài thời gian kế hoạch)",
                )

    def _check_unit_codes(self, plan: Plan, ob: Obligation, where: Where) -> None:
        source, loc = where
        known = ", ".join(plan.units)
        for field_name in ("lead", "coordinators", "all_except"):
            for i, code in enumerate(getattr(ob, field_name)):
                if plan.units and code != ALL_UNITS and code not in plan.units:
                    self.fail(
                        (source, loc + (field_name, i)),
                        f"unknown unit '{code}' (đơn vị không tồn tại); known: {known}, ALL",
                    )

    def _check_references(self, plan: Plan, oid: str, ob: Obligation, where: Where) -> None:
        """`reported_in` and `consolidates` name another obligation (of this plan, or a foreign
        one); `reported_in` one with a schedule."""
        source, loc = where
        known = plan.obligations | dict.fromkeys(self.foreign)
        for field_name in ("reported_in", "consolidates"):
            target = getattr(ob, field_name)
            if target is not None and target not in known:
                self.fail(
                    (source, loc + (field_name,)),
                    f"unknown obligation '{target}' (nhiệm vụ không tồn tại)",
                )
            elif target == oid:
                self.fail(
                    (source, loc + (field_name,)),
                    f"{field_name} names the obligation itself (nhiệm vụ tự trỏ vào chính nó)",
                )
        carrier = plan.obligations.get(ob.reported_in) if ob.reported_in else None
        if carrier is not None and carrier.schedule is None:
            self.fail(
                (source, loc + ("reported_in",)),
                f"'{ob.reported_in}' has no schedule, so it cannot carry this report "
                "(nhiệm vụ này không có lịch nên không nhận báo cáo thay được)",
            )

    def _check_escalation(self, plan: Plan, where: Where, policy: Policy) -> None:
        """Each level later than the one before, to known targets, none of them twice."""
        source, loc = where
        if policy.escalation is None:
            return
        seen: dict[str, int] = {}
        previous = 0
        for i, level in enumerate(policy.escalation):
            if level.after <= previous:
                self.fail(
                    (source, loc + (i, "after")),
                    f"level {i + 1} (after {level.after}) is not later than level {i} "
                    "(mỗi cấp phải muộn hơn cấp trước)",
                )
            previous = level.after
            self._check_targets(plan, (source, loc + (i, "to")), level.to, seen, i)

    def _check_escalation_time(self, plan: Plan, where: Where, policy: Policy) -> None:
        """Escalations go out later in the day than the sweep (the morning's documents are
        recorded first), on the same day."""
        at, sweep = policy.escalation_time, plan.commune.sweep_time
        if at is not None and at <= sweep:
            self.fail(
                where,
                f"escalation_time {at:%H:%M} is not later than sweep_time {sweep:%H:%M}: "
                'escalations go out after the morning\'s documents are recorded, e.g. "14:00" '
                "(giờ chuyển cấp phải sau giờ rà soát buổi sáng)",
            )

    def _check_targets(
        self, plan: Plan, where: Where, targets: list[str], seen: dict[str, int], level: int
    ) -> None:
        """The targets of escalation level `level` (0-based); `seen`: the first level of each
        target so far."""
        for target in targets:
            # With no unit at all, the plan has said so once.
            if plan.units and target not in ESCALATION_ROLES and target not in plan.units:
                self.fail(
                    where,
                    f"unknown escalation target '{target}': use "
                    f"{', '.join(ESCALATION_ROLES)} or a unit code (nơi chuyển cấp không "
                    "tồn tại)",
                )
            elif target in seen:
                self.fail(
                    where,
                    f"escalation cycles back to '{target}' (already level "
                    f"{seen[target] + 1}); each level must go higher up the chain "
                    "(chuyển cấp quay vòng: mỗi cấp phải lên cao hơn)",
                )
            seen.setdefault(target, level)

    # --- schedules --------------------------------------------------------------------------

    def _compile(self, plan: Plan, oid: str, ob: Obligation, where: Where) -> None:
        """Compile the obligation's schedule into `plan.schedules`, once it fires and names
        its periods; check its reminders and its data windows."""
        source, loc = where
        assert ob.schedule is not None, f"{oid}: only a scheduled obligation is compiled"
        compiled = compile_schedule(ob.schedule, plan.commune.plan_start)
        anchors = self._anchors(plan, compiled, where)
        if anchors is None:
            return
        policy = plan.policy(oid)
        own = ob.policy.reminders is not None or ob.policy.open_before_due is not None
        if own and policy.reminders and policy.reminders[0] > policy.open_before_due:
            self.fail(
                (source, loc + ("policy",)),
                f"a reminder {policy.reminders[0]} working days before the due date comes "
                f"before the item opens ({policy.open_before_due} working days before) "
                "(nhắc việc trước ngày mở nhiệm vụ)",
            )
        if ob.kind in REPORT_KINDS or ob.schedule.window_start_day is not None:
            self._check_after_window(plan, oid, ob, compiled, anchors, where)
        plan.schedules[oid] = compiled

    def _anchors(self, plan: Plan, compiled: CompiledSchedule, where: Where) -> list[date] | None:
        """The schedule's anchors within the plan; None (and the problem said) when its RRULE
        is bad, it never fires, or an anchor names no period."""
        source, loc = where
        start, end = plan.commune.plan_start, plan.commune.plan_end
        try:
            rrulestr(compiled.rule)
            anchors = compiled.anchors(start, end)
        except (ValueError, TypeError) as exc:
            self.fail((source, loc + ("schedule", "rrule")), f"bad RRULE '{compiled.rule}': {exc}")
            return None
        if not anchors:
            self.fail(
                (source, loc + ("schedule",)),
                f"the schedule never fires between {vn_date(start)} and {vn_date(end)} "
                "(lịch không bao giờ đến hạn)",
            )
            return None
        try:
            for anchor in anchors:
                compiled.period(anchor)
        except ValueError as exc:
            self.fail((source, loc + ("schedule",)), str(exc))
            return None
        return anchors

    def _check_after_window(
        self,
        plan: Plan,
        oid: str,
        ob: Obligation,
        compiled: CompiledSchedule,
        anchors: Iterable[date],
        where: Where,
    ) -> None:
        """A report falls due after its data window closes (at least one working day between,
        Nghị định 09/2019): a due date on or before the cut-off is a mistake of the rule."""
        source, loc = where
        assert ob.schedule is not None, f"{oid}: compiled, so it has a schedule"
        for anchor in anchors:
            period = compiled.period(anchor)
            nominal, _ = nominal_due(ob.schedule.due, period, anchor, plan.calendar)
            due = plan.effective_due(oid, nominal).due
            if due <= period.window_end:
                self.fail(
                    (source, loc + ("schedule", "due")),
                    f"period {period.key}: due {vn_date(due)} is not after its data window "
                    f"closes on {vn_date(period.window_end)} (hạn nộp phải sau ngày chốt số "
                    "liệu); use a due rule after the window, e.g. day_of_month_after or "
                    "working_days_after_window",
                )
                return

    def _check_consolidation(self, plan: Plan, oid: str) -> None:
        """A consolidated report must fall due after every report it sums up, period by period."""
        target = plan.obligations[oid].consolidates
        if not target or oid not in plan.schedules or target not in plan.schedules:
            return
        span = (plan.commune.plan_start, plan.commune.plan_end)
        own = {o.period.key: o.due.due for o in plan.occurrences(*span, obligation=oid)}
        for occ in plan.occurrences(*span, obligation=target):
            mine = own.get(occ.period.key)
            if mine is not None and mine <= occ.due.due:
                self.fail(
                    self.obligation_at[oid],
                    f"period {occ.period.key}: due {vn_date(mine)} is not after the "
                    f"units' due date {vn_date(occ.due.due)} of '{target}'",
                )
                return

    # --- warnings ---------------------------------------------------------------------------

    def warn(self, plan: Plan) -> None:
        """What is odd but workable, into `plan.warnings`."""
        for oid in plan.obligations:
            self._warn_late_ladder(plan, oid)
        self._warn_replaced(plan)
        self._warn_kind_words(plan)
        plan.unit_sources = {
            code: source.issue(loc + ("email",), "")
            for code, (source, loc) in self.merged.unit_at.items()
        }
        self._warn_no_overview(plan)
        for oid, field_name, message in [*unreached_rows(plan), *doubled_period_words(plan)]:
            source, loc = self.obligation_at[oid]
            plan.warnings.append(source.issue(loc + (field_name,), message))

    def _warn_late_ladder(self, plan: Plan, oid: str) -> None:
        """A report that another one sums up should have escalated all the way before the
        consolidated report is due: warn about a level that comes after it."""
        consolidator = plan.consolidator(oid)
        if consolidator not in plan.schedules:
            return
        message = late_ladder(plan, oid, consolidator)
        if message:
            source, loc = self.obligation_at[oid]
            where = loc + ("policy",) if plan.obligations[oid].policy.escalation else loc
            plan.warnings.append(source.issue(where, message))

    def _warn_kind_words(self, plan: Plan) -> None:
        """A commune's name and its units' names say what it is: a phường's "Trạm Y tế xã" or
        "Ủy ban nhân dân xã …" is a copy of a xã's config not yet adapted (Nghị định 150/2025
        names a phường's units its own way), or a `commune.kind` not set."""
        own = plan.kind_label
        others = [w for w in COMMUNE_KIND_LABELS.values() if w != own and w not in own]
        named: list[tuple[Where, str]] = [
            ((self.commune_source, ("commune", "name")), plan.commune.name)
        ]
        for code, (source, loc) in self.merged.unit_at.items():
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

    def _warn_no_overview(self, plan: Plan) -> None:
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
                self.commune_source.issue(
                    ("commune", "leadership"),
                    "warning: no leader receives the quarterly overview: set `overview: true` "
                    "on the Chủ tịch or the leader in charge (không lãnh đạo nào nhận bản tổng "
                    "hợp tình hình quý)",
                )
            )

    def _warn_replaced(self, plan: Plan) -> None:
        """A commune's own copy of a template's obligation shadows it: later edits of the
        template no longer reach the commune. Said once per commune, at the first copy."""
        replaced = self.merged.replaced
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


ECONOMIC_OFFICE = {
    CommuneKind.XA: "Phòng Kinh tế",
    CommuneKind.PHUONG: "Phòng Kinh tế, Hạ tầng và Đô thị",
}
"""The economic office's name by commune kind (Nghị định 150/2025/NĐ-CP): a unit named as the
other kind's is a copied folder not adapted."""
ECONOMIC_OFFICES = {name.casefold() for name in ECONOMIC_OFFICE.values()}


def _names_kind(name: str, word: str) -> bool:
    """Whether `name` uses the kind word `word` as a word ("UBND xã Mẫu", "Trạm Y tế xã"), not
    inside another ("Xã hội" is not a xã)."""
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)(?! hội)", name) is not None


def late_ladder(plan: Plan, oid: str, consolidator: str) -> str | None:
    """The warning about the first period whose ladder of `oid` comes after `consolidator`'s
    report of the same period is due (`consolidated_due`: this plan's or the city office's, a
    level up); None when every ladder ends in time."""
    if oid not in plan.schedules:
        return None
    span = (plan.commune.plan_start, plan.commune.plan_end)
    seen = set()  # units of a period share its dates: one ladder per (due, opening)
    for occ in plan.occurrences(*span, obligation=oid):
        if (occ.due.due, occ.opens) in seen:
            continue
        seen.add((occ.due.due, occ.opens))
        message = _late_level(plan, occ, consolidator)
        if message:
            return message
    return None


def _late_level(plan: Plan, occ: Occurrence, consolidator: str) -> str | None:
    """The warning about the first escalation level of `occ` that comes after the report of
    `consolidator` (for the same period) is due; None when the whole ladder comes before."""
    oid = occ.obligation
    limit = plan.consolidated_due(oid, occ.due.due)
    if not limit:
        return None
    opened = local_instant(occ.opens, plan.commune.sweep_time, plan.zone)
    late = [
        s
        for s in plan.timeline(oid, occ.due.due, opened)
        if s.kind == StepKind.ESCALATION and local_date(s.at, plan.zone) > limit
    ]
    if not late:
        return None
    return (
        f"warning: period {occ.period.key}: escalation level {late[0].level} "
        f"on {vn_date(local_date(late[0].at, plan.zone))} comes after "
        f"'{consolidator}' is due on {vn_date(limit)}: add "
        "`before: consolidated_due` to the level or shorten `after` (cấp đôn "
        "đốc đến sau hạn báo cáo tổng hợp)"
    )
