"""Mail delivery as the engine runs it: the outbox delivered with the scorecard evidence wired in
(the self-scoring item's mails carry the on-time scorecard). The CLI and the sweep flow call
`deliver_mail`; delivery takes the evidence as an argument rather than importing the scorecard,
so a mail module never reaches into the use cases' database reads."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from flows.settings import Settings
from notifications.delivery import DeliveryReport, deliver_pending
from schedules.plan import Plan
from usecases.scorecard import evidence_for


def deliver_mail(
    plan: Plan, engine: Engine, settings: Settings, at: datetime, force: bool = False
) -> DeliveryReport:
    """Deliver the outbox rows due at `at` (every pending row with `force`)."""
    return deliver_pending(plan, engine, settings, at, force, evidence=evidence_for(plan, engine))
