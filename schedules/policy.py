"""An obligation's reminder and escalation policy: its own settings over the commune's defaults."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from schedules.config_policy import OPTIONAL_DEFAULTS, EscalationLevel, Policy, Shift


@dataclass(frozen=True)
class ResolvedPolicy:
    open_before_due: int
    reminders: tuple[int, ...]
    due_day_notice: bool
    escalation: tuple[EscalationLevel, ...]
    shift: Shift
    inputs_before_due: int
    catch_up_grace: int
    min_notice: int = 5
    """Working days an item opened late gets at the least before its due date."""
    escalation_time: time | None = None
    """When the escalations go out (local time); None: with the sweep."""


def resolve_policy(defaults: Policy, override: Policy) -> ResolvedPolicy:
    def pick(name: str):
        value = getattr(override, name)
        value = getattr(defaults, name) if value is None else value
        return OPTIONAL_DEFAULTS.get(name) if value is None else value

    return ResolvedPolicy(
        open_before_due=pick("open_before_due"),
        reminders=tuple(sorted(set(pick("reminders")), reverse=True)),
        due_day_notice=pick("due_day_notice"),
        escalation=tuple(sorted(pick("escalation"), key=lambda level: level.after)),
        shift=pick("shift"),
        inputs_before_due=pick("inputs_before_due"),
        catch_up_grace=pick("catch_up_grace"),
        min_notice=pick("min_notice"),
        escalation_time=pick("escalation_time"),
    )
