"""What follows a change, after the page is answered: the mail the change queued is delivered
in the courier's thread, and Prefect is told once the response is sent. The page never waits
for the mail server nor for Prefect."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from starlette.background import BackgroundTask

from flows.status import item_changed

if TYPE_CHECKING:
    from cchc.intake.context import IntakeContext
    from schedules.plan import Plan
    from schedules.vocabulary import ItemChange


def deliver_soon(ctx: IntakeContext, item_id: int | list[int], at: datetime) -> None:
    """Deliver the mail the action just queued for the item (or items), in the courier's
    thread: the page never waits for the mail server."""
    if ctx.courier is not None:
        ctx.courier.deliver(_ids(item_id), at)


def after_change(
    ctx: IntakeContext, plan: Plan, kind: ItemChange, item_id: int | list[int], at: datetime
) -> BackgroundTask:
    """Tell Prefect once the response is sent (`flows.status`): the page never waits for it.
    `plan`: the item's (or items') commune's."""
    return BackgroundTask(
        item_changed, plan, ctx.engine, ctx.settings, kind, _ids(item_id), at, city=ctx.city
    )


def _ids(item_id: int | list[int]) -> list[int]:
    return [item_id] if isinstance(item_id, int) else list(item_id)
