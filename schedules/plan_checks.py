"""The checks of a plan as a whole: every rule that spans more than one value of its files.

`check_plan` merges the parsed files (`schedules.plan_merge`), makes the `Plan` and checks it:
unknown unit codes and obligations (`schedules.reference_checks`), escalation ladders
(`schedules.escalation_checks`), schedules that never fire or fall due inside their data window,
consolidated reports due before what they sum up (`schedules.schedule_checks`). Every problem is
an issue at its `FILE:LINE`; `ConfigInvalid` lists them all. What is odd but workable becomes a
warning in `Plan.warnings` (`cchc check` prints them; `schedules.plan_warnings`, and the late
ladders of `schedules.escalation_checks`). This module makes the plan, its placeholders filled,
and runs the checks in their order.
"""

from __future__ import annotations

import re
from pathlib import Path

from schedules.calendar import WorkingCalendar
from schedules.commune_kinds import COMMUNE_KIND_LABELS
from schedules.config_obligations import Obligation
from schedules.config_policy import Policy
from schedules.config_units import Commune, Unit
from schedules.escalation_checks import check_escalation, check_escalation_time, warn_late_ladder
from schedules.plan import Plan
from schedules.plan_merge import Merged, Parsed, Where, merge
from schedules.plan_warnings import (
    doubled_period_words,
    unreached_rows,
    warn_kind_words,
    warn_no_overview,
    warn_replaced,
)
from schedules.reference_checks import check_indicator, check_references, check_unit_codes
from schedules.schedule_checks import check_calendar, check_consolidation, compile_checked
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
        check_calendar(self.merged, self.parsed, plan)
        self._check_commune(plan)
        for oid, ob in plan.obligations.items():
            self._check_obligation(plan, oid, ob)
        for iid, indicator in plan.indicators.items():
            check_indicator(self.merged, plan, iid, indicator)
        if not self.issues:
            for oid in plan.obligations:
                check_consolidation(self.merged, plan, oid)

    def _check_commune(self, plan: Plan) -> None:
        source = self.commune_source
        if plan.units and plan.commune.standing_office not in plan.units:
            self.fail(
                (source, ("commune", "standing_office")),
                f"unknown unit '{plan.commune.standing_office}' as standing office "
                f"(đơn vị thường trực không tồn tại); known: {', '.join(plan.units)}",
            )
        defaults = plan.defaults
        where: Where = (source, ("commune", "defaults", "escalation"))
        check_escalation(self.merged, plan, where, defaults)
        where = (source, ("commune", "defaults", "escalation_time"))
        check_escalation_time(self.merged, plan, where, defaults)
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
        check_unit_codes(self.merged, plan, ob, (source, loc))
        check_references(self.merged, plan, oid, ob, (source, loc), self.foreign)
        if ob.start and ob.end and ob.end < ob.start:
            self.fail(
                (source, loc + ("end",)), "end is before start (ngày kết thúc trước ngày bắt đầu)"
            )
        where: Where = (source, loc + ("policy", "escalation"))
        check_escalation(self.merged, plan, where, ob.policy)
        where = (source, loc + ("policy", "escalation_time"))
        check_escalation_time(self.merged, plan, where, ob.policy)
        if ob.schedule is not None:
            compile_checked(self.merged, plan, oid, ob, (source, loc))

    # --- warnings ---------------------------------------------------------------------------

    def warn(self, plan: Plan) -> None:
        """What is odd but workable, into `plan.warnings`."""
        for oid in plan.obligations:
            warn_late_ladder(plan, oid, self.obligation_at)
        warn_replaced(plan, self.merged.replaced)
        warn_kind_words(plan, self.commune_source, self.merged.unit_at)
        plan.unit_sources = {
            code: source.issue(loc + ("email",), "")
            for code, (source, loc) in self.merged.unit_at.items()
        }
        warn_no_overview(plan, self.commune_source)
        for oid, field_name, message in [*unreached_rows(plan), *doubled_period_words(plan)]:
            source, loc = self.obligation_at[oid]
            plan.warnings.append(source.issue(loc + (field_name,), message))
