"""An obligation's reminder and escalation policy: its own settings over the commune's defaults."""

from __future__ import annotations

from dataclasses import dataclass

from schedules.config import EscalationLevel, Policy, Shift


@dataclass(frozen=True)
class ResolvedPolicy:
    open_before_due: int
    reminders: tuple[int, ...]
    due_day_notice: bool
    escalation: tuple[EscalationLevel, ...]
    shift: Shift


def resolve_policy(defaults: Policy, override: Policy) -> ResolvedPolicy:
    def pick(name: str):
        value = getattr(override, name)
        return getattr(defaults, name) if value is None else value

    return ResolvedPolicy(
        open_before_due=pick("open_before_due"),
        reminders=tuple(sorted(set(pick("reminders")), reverse=True)),
        due_day_notice=pick("due_day_notice"),
        escalation=tuple(sorted(pick("escalation"), key=lambda level: level.after)),
        shift=pick("shift"),
    )
