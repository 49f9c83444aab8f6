"""Mail delivery as the engine runs it: the outbox delivered with the scorecard evidence wired in
(the self-scoring item's mails carry the on-time scorecard). The CLI, the intake and the sweep
flow call here; delivery takes the evidence as an argument rather than importing the scorecard,
so a mail module never reaches into the use cases' database reads.

Mail queued outside a sweep (a receipt, a return, an acceptance, an item opened by hand) is
delivered right away by whoever queued it: the CLI with `deliver_items` after its action, the
intake through a `Courier` (in the background: an upload never waits for the mail server). What
fails is retried by the engine's sweeps and `cchc send`. Nothing here imports Prefect.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import Engine

from cchc.runtime.settings import Settings
from models.store import communes_of
from notifications.delivery import deliver_pending
from notifications.delivery_report import DeliveryReport
from notifications.documents.scorecard import evidence_for
from schedules.city import City
from schedules.plan import Plan

log = logging.getLogger("cchc.mail")


def deliver_mail(
    plan: Plan,
    engine: Engine,
    settings: Settings,
    at: datetime,
    force: bool = False,
    items: Collection[int] | None = None,
) -> DeliveryReport:
    """Deliver the outbox rows due at `at` (every pending row with `force`; only those of
    `items` when given)."""
    evidence = evidence_for(plan, engine)
    return deliver_pending(plan, engine, settings, at, force, evidence=evidence, items=items)


def deliver_communes(
    plans: Sequence[Plan], engine: Engine, settings: Settings, at: datetime, force: bool = False
) -> DeliveryReport:
    """`deliver_mail` for each commune of `plans` (a city), in one report."""
    report = DeliveryReport(at)
    for plan in plans:
        report.add(deliver_mail(plan, engine, settings, at, force))
    return report


def deliver_items(
    plan: Plan, engine: Engine, settings: Settings, items: Collection[int], at: datetime
) -> DeliveryReport:
    """Deliver now the mail an action just queued for `items` (due at `at`). A mail the server
    does not take stays pending for the engine's next run, as any."""
    return deliver_mail(plan, engine, settings, at, items=list(items))


class Courier:
    """Delivers in the background the mail the intake's actions queue: one worker thread, so
    the request answers at once and deliveries do not pile up on the mail server."""

    def __init__(
        self,
        city: City,
        engine: Engine,
        settings: Settings,
        clock: Callable[[], datetime] | None = None,
    ):
        self.city, self.engine, self.settings = city, engine, settings
        self.clock = clock or (lambda: datetime.now(UTC))
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="cchc-mail")

    def deliver(self, items: Collection[int], at: datetime | None = None) -> Future:
        """Queue a delivery of `items`' mail due at `at` (default: the clock's now)."""
        when = at or self.clock()
        return self.pool.submit(self._run, list(items), when)

    def _run(self, items: list[int], at: datetime) -> DeliveryReport | None:
        try:
            report = DeliveryReport(at)
            for commune, ids in communes_of(self.engine, items).items():
                plan = self.city.plan_of(commune)
                if plan is not None:
                    report.add(deliver_items(plan, self.engine, self.settings, ids, at))
        except Exception:  # noqa: BLE001  (the engine retries; the intake keeps serving)
            log.exception("mail: delivery after an intake action failed (items %s)", items)
            return None
        log.info(
            "mail: %d message(s) for items %s; %d to retry, %d failed",
            report.messages,
            items,
            len(report.retrying),
            len(report.failed),
        )
        return report

    def close(self) -> None:
        self.pool.shutdown(wait=True)
