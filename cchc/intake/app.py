"""The intake web app: a unit opens the signed link of its mail, sees the item and hands in its
files; the standing office lists the items and accepts or returns what was handed in.

Thin routes over the use cases of `usecases.review`; every check that guards the data (the link's
signature, the item's unit, waived items, the files' types and sizes) runs before a byte is
stored. Pages are Jinja2 templates in Vietnamese, autoescaped.

`create_app` builds one `IntakeContext` per app (`cchc.intake.context`: the city, engine,
settings, signing secret, clock, templates), keeps it on `app.state.cchc`, and wires the two
routers (`unit_routes`: the home page and a unit's item pages; `office_routes`: the offices,
scoped as `cchc.intake.auth` says), the middleware (`guard`) and the error pages (`errors`).

One app serves every commune of a `schedules.city.City` (a single commune is a city of one): an
item's page and actions use its own commune's plan, and an item of a commune the config does
not hold is not found.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from cchc.intake import (
    directive_routes,
    extension_routes,
    office_routes,
    triage_routes,
    unit_routes,
)
from cchc.intake.context import IntakeContext
from cchc.intake.errors import PageError, bad_request, http_error, page_error, server_error
from cchc.intake.guard import public_redirects, security_headers
from cchc.intake.limits import UploadQuota
from cchc.intake.pages import environment
from models.housekeeping import clean_data_dir
from notifications.links import office_secret
from schedules.city import City
from schedules.plan import Plan

if TYPE_CHECKING:
    from cchc.runtime.courier import Courier
    from cchc.runtime.settings import IntakeSettings, Settings

__all__ = ["create_app"]

HERE = Path(__file__).parent


def create_app(
    city: City | Plan,
    engine: Engine,
    settings: Settings,
    clock: Callable[[], datetime] | None = None,
    courier: Courier | None = None,
) -> FastAPI:
    """The intake app for every commune of `city` (a single commune's `Plan` is taken as
    `City.of(plan)`). Raises `cchc.runtime.settings.SecretMissing` when links may not be signed
    (so a server without CCHC_SECRET outside the embedded default never starts), and ValueError when
    the city's code is also a commune's (an office link would be ambiguous). With `courier`,
    the mail an upload or a review queues is delivered at once, in the background. What killed
    or failed writes left in the data dir is removed here (`models.housekeeping`)."""
    if isinstance(city, Plan):
        city = City.of(city)
    if city.is_city and city.code in city.plans:
        raise ValueError(
            f"the city's code '{city.code}' is also a commune's: give the city another code "
            f"(mã thành phố trùng mã một xã)"
        )
    ctx = _context(city, engine, settings, clock, courier)
    app = FastAPI(title="cchc intake", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.cchc = ctx
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.middleware("http")(security_headers)
    app.middleware("http")(public_redirects(ctx.intake.base_url))
    app.add_exception_handler(Exception, server_error)
    app.add_exception_handler(PageError, page_error)
    app.add_exception_handler(RequestValidationError, bad_request)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.include_router(unit_routes.router)
    app.include_router(office_routes.router)
    app.include_router(directive_routes.router)
    app.include_router(extension_routes.router)
    app.include_router(triage_routes.router)
    return app


def _context(
    city: City,
    engine: Engine,
    settings: Settings,
    clock: Callable[[], datetime] | None,
    courier: Courier | None,
) -> IntakeContext:
    """What the app's routes share, from the settings (the secret is read first: without one,
    nothing else is done)."""
    secret = settings.link_secret()
    intake: IntakeSettings = settings.intake
    data_dir = Path(settings.data_dir)
    clean_data_dir(engine, data_dir)
    prefix = urlsplit(intake.base_url).path.rstrip("/")
    return IntakeContext(
        city=city,
        engine=engine,
        intake=intake,
        secret=secret,
        now=clock or (lambda: datetime.now(UTC)),
        link_age=timedelta(days=intake.link_days),
        data_dir=data_dir,
        incoming=data_dir / "incoming",
        blob_root=(data_dir / "deliverables").resolve(),
        env=environment(intake, prefix),
        prefix=prefix,
        settings=settings,
        office_secret=office_secret(secret, intake.office_key),
        courier=courier,
        uploads=UploadQuota(intake.uploads_per_hour),
    )
