"""What the routes of one app share: `IntakeContext`, built once by `create_app` and kept on
`app.state.cchc`; every route reads it through the `Context` dependency (and every error
handler from `app.state`). Also `Id`, the type of an id in an address."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi import Path as UrlPath
from jinja2 import Environment
from sqlalchemy import Engine

from cchc.intake.auth import LoginThrottle
from cchc.intake.limits import UploadQuota
from schedules.city import City
from schedules.plan import Plan

if TYPE_CHECKING:
    from cchc.runtime.courier import Courier
    from cchc.runtime.settings import IntakeSettings, Settings

MAX_ID = 2**31 - 1
"""Ids are 32-bit integers in PostgreSQL: a larger one in an address names nothing."""
Id = Annotated[int, UrlPath(ge=1, le=MAX_ID)]


@dataclass(frozen=True)
class IntakeContext:
    """What the routes of one app share, built once by `create_app`."""

    city: City
    """The communes served, and the city office's own reports (`City.plan_of(item.commune)` is
    an item's plan)."""
    engine: Engine
    intake: IntakeSettings
    secret: str
    """The key that signs and checks the links."""
    now: Callable[[], datetime]
    link_age: timedelta
    """How long a unit's link stays valid."""
    data_dir: Path
    incoming: Path
    """Where uploads are spooled before they are checked."""
    blob_root: Path
    """The stored deliverables (resolved): no file outside it is ever served."""
    env: Environment
    prefix: str
    """The path a reverse proxy serves the app under (from CCHC_PUBLIC_URL), for links."""
    settings: Settings
    """For the Prefect run after a change (`flows.status`)."""
    office_secret: str = ""
    """The key of the office's tokens (`notifications.links.office_secret`)."""
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    """Failed basic-auth logins per client."""
    uploads: UploadQuota = field(default_factory=lambda: UploadQuota(30))
    """Uploads per unit's link within an hour (CCHC_INTAKE_UPLOADS_PER_HOUR)."""
    courier: Courier | None = None
    """Delivers the mail an action queued, in the background (`cchc.runtime.courier.Courier`); None:
    the engine's next run delivers it."""

    @property
    def home(self) -> Plan | None:
        """The plan a page shows when no item names its commune: the single commune's, or
        None for a city (its pages then show the city)."""
        return None if self.city.is_city else next(iter(self.city.plans.values()))

    @property
    def served(self) -> dict[str, Plan]:
        """Every plan whose items the app serves, by code: the communes', then the city
        office's own (its reports, under the city's code) when it has any."""
        return {plan.commune.code: plan for plan in self.city.select(None)}

    @property
    def zone(self) -> ZoneInfo:
        """Where "today" is read for the office (every commune of a city shares its zone)."""
        return self.city.zone


async def context(request: Request) -> IntakeContext:
    """The `IntakeContext` of the app serving this request."""
    return request.app.state.cchc


Context = Annotated[IntakeContext, Depends(context)]
