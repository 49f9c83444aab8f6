"""The intake web app: a unit opens the signed link of its mail, sees the item and hands in its
files; the standing office lists the items and accepts or returns what was handed in.

Thin routes over the use cases of `usecases.review`; every check that guards the data (the link's
signature, the item's unit, waived items, the files' types and sizes) runs before a byte is
stored. Pages are Jinja2 templates in Vietnamese, autoescaped.

The routes live at module level in two routers, `unit_routes` (the home page and a unit's item
pages) and `office_routes` (the offices); `create_app` builds one `IntakeContext` per app (the
city, engine, settings, signing secret, clock, templates), keeps it on `app.state.cchc`, and
every route and error handler reads it from there (the `context` dependency).

One app serves every commune of a `schedules.city.City` (a single commune is a city of one): an
item's page and actions use its own commune's plan, and an item of a commune the config does
not hold is not found. The office pages are scoped by their token (`Office`): a token signed
for a commune's code is that commune's standing office, which sees and acts on its own items
only; a token signed for the city's code is the city's office (Sở Nội vụ), which sees every
commune, with a filter by commune. Every office route asks `Office.sees` before it reads or
changes an item, and answers 404 for an item out of its scope (as for one that does not exist).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
import secrets
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi import Path as UrlPath
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, pass_context, select_autoescape
from sqlalchemy import Engine, func, select
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from cchc.intake import filetypes
from cchc.intake.guard import LoginThrottle, client_of, public_redirects
from cchc.intake.upload import (
    ReceivedForm,
    UploadRefused,
    clean_text,
    declared_length,
    receive_form,
)
from cchc.runtime.status import item_changed
from models import store
from models.blobs import remove_stale_temp
from models.db import transaction
from models.tables import Contribution, Deliverable, WorkItem
from notifications.links import (
    LinkInvalid,
    office_scope,
    office_secret,
    office_token,
    verify_item_token,
)
from notifications.views import (
    STATUS_LABELS,
    file_size,
    item_view,
    period_label,
    shorten,
    source_states,
    unit_view,
)
from schedules.city import City
from schedules.dates import VN_ZONE, local_date, vn_date, vn_datetime
from schedules.plan import Plan
from schedules.vocabulary import OPEN_STATUSES, DeliverableStatus, ItemStatus
from usecases.errors import UserError
from usecases.lifecycle import receive_document
from usecases.review import (
    MAX_NOTE,
    OFFICE,
    IncomingFile,
    accept_version,
    contribute,
    contributions,
    return_version,
    submit,
    versions,
)

if TYPE_CHECKING:
    from cchc.runtime.courier import Courier
    from cchc.runtime.settings import IntakeSettings, Settings

MAX_FILES = 10
MAX_FORM_BYTES = 64 * 1024
"""The office's forms (a reason, a date): anything larger is refused unread."""
MAX_ID = 2**31 - 1
"""Ids are 32-bit integers in PostgreSQL: a larger one in an address names nothing."""
Id = Annotated[int, UrlPath(ge=1, le=MAX_ID)]
MAX_ROWS = 300
"""Items the office page shows in full at once; its counts cover every item the filters select.
A commune's year stays well below it, a city's does not (114 communes): filter to see more."""
RETURN_HORIZON = timedelta(days=366)
"""A returned version's new due date lies within a year of today."""
DELIVERABLE_LABELS = {
    DeliverableStatus.RECEIVED: "Đã nhận, chờ xem xét",
    DeliverableStatus.ACCEPTED: "Đã chấp nhận",
    DeliverableStatus.RETURNED: "Bị trả lại",
}
HERE = Path(__file__).parent
CITY_OFFICE = "city_office"
"""The actor of what the city's office does through its link (a standing office's: OFFICE)."""


class PageError(Exception):
    """Answer with an error page: HTTP `status`, a title and a message in Vietnamese."""

    def __init__(
        self,
        status: int,
        title: str,
        message: str,
        headers: dict | None = None,
        file: str | None = None,
    ):
        super().__init__(message)
        self.status, self.title, self.message, self.headers = status, title, message, headers
        self.file = file
        """The refused file's name, when one file caused the refusal."""
        self.back: str | None = None
        """The upload form to go back to (a refused upload: `refused.html`)."""


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
    settings: Settings | None = None
    """For the Prefect run after a change (`cchc.runtime.status`)."""
    office_secret: str = ""
    """The key of the office's tokens (`notifications.links.office_secret`)."""
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    """Failed basic-auth logins per client."""
    courier: Courier | None = None
    """Delivers the mail an action queued, in the background (`cchc.runtime.courier.Courier`);
    None: the engine's next run delivers it."""

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


@dataclass(frozen=True)
class Office:
    """Who acts on the office pages, and over which communes (see the module's docstring)."""

    actor: str
    """OFFICE or CITY_OFFICE (a signed link), or the basic-auth user: who accepted, returned
    or recorded, in the item's events."""
    scope: str
    """The code its token names: a commune's, or the city's (`office_link`)."""
    commune: str | None
    """The commune of a standing office; None: the city's office, every commune."""

    def sees(self, commune: str) -> bool:
        return self.commune is None or commune == self.commune


def create_app(
    city: City | Plan,
    engine: Engine,
    settings: Settings,
    clock: Callable[[], datetime] | None = None,
    courier: Courier | None = None,
) -> FastAPI:
    """The intake app for every commune of `city` (a single commune's `Plan` is taken as
    `City.of(plan)`). Raises `cchc.runtime.settings.SecretMissing` when links may not be signed
    (so a server without CCHC_SECRET outside the embedded default never starts), and ValueError
    when the city's code is also a commune's (an office link would be ambiguous). With
    `courier`, the mail an upload or a review queues is delivered at once, in the background.
    Temporary files a killed upload left behind are removed here."""
    if isinstance(city, Plan):
        city = City.of(city)
    if city.is_city and city.code in city.plans:
        raise ValueError(
            f"the city's code '{city.code}' is also a commune's: give the city another code "
            f"(mã thành phố trùng mã một xã)"
        )
    secret = settings.link_secret()
    intake = settings.intake
    data_dir = Path(settings.data_dir)
    remove_stale_temp(data_dir)
    prefix = urlsplit(intake.base_url).path.rstrip("/")
    ctx = IntakeContext(
        city=city,
        engine=engine,
        intake=intake,
        secret=secret,
        now=clock or (lambda: datetime.now(UTC)),
        link_age=timedelta(days=intake.link_days),
        data_dir=data_dir,
        incoming=data_dir / "incoming",
        blob_root=(data_dir / "deliverables").resolve(),
        env=_environment(intake, prefix),
        prefix=prefix,
        settings=settings,
        office_secret=office_secret(secret, intake.office_key),
        courier=courier,
    )

    app = FastAPI(title="cchc intake", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.cchc = ctx
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.middleware("http")(security_headers)
    app.middleware("http")(public_redirects(intake.base_url))
    app.add_exception_handler(Exception, server_error)
    app.add_exception_handler(PageError, page_error)
    app.add_exception_handler(RequestValidationError, bad_request)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.include_router(unit_routes)
    app.include_router(office_routes)
    return app


@pass_context
def _local_datetime(values, at: datetime) -> str:
    return vn_datetime(at, values.get("zone", VN_ZONE))


@pass_context
def _local_seconds(values, at: datetime) -> str:
    return at.astimezone(values.get("zone", VN_ZONE)).strftime("%d/%m/%Y %H:%M:%S")


def _environment(intake: IntakeSettings, prefix: str) -> Environment:
    """The page templates, with the filters and the values every page shows. What depends on
    the commune (its name, office and zone) is given per page (`page`)."""
    env = Environment(
        loader=PackageLoader("cchc.intake", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["vn_date"] = vn_date
    env.filters["vn_datetime"] = _local_datetime
    env.filters["vn_seconds"] = _local_seconds
    env.filters["size"] = file_size
    env.globals.update(
        prefix=prefix,
        accept_attribute=filetypes.ACCEPT_ATTRIBUTE,
        accepted_label=filetypes.ACCEPTED_LABEL,
        max_size=file_size(intake.max_bytes),
        max_files=MAX_FILES,
        deliverable_labels=DELIVERABLE_LABELS,
        status_labels=STATUS_LABELS,
    )
    return env


async def context(request: Request) -> IntakeContext:
    """The `IntakeContext` of the app serving this request."""
    return request.app.state.cchc


Context = Annotated[IntakeContext, Depends(context)]


def page(
    ctx: IntakeContext,
    name: str,
    code: int = 200,
    headers: dict | None = None,
    plan: Plan | None = None,
    **values,
) -> HTMLResponse:
    """Render `name` under the masthead of `plan`'s commune (default `ctx.home`); with no
    commune, the city's."""
    plan = plan or ctx.home
    masthead = {
        "commune": plan.commune if plan else None,
        "office_unit": plan.units.get(plan.commune.standing_office) if plan else None,
        "city": ctx.city.info,
        "zone": plan.zone if plan else ctx.zone,
    }
    html = ctx.env.get_template(name).render(**masthead, **values)
    return HTMLResponse(html, status_code=code, headers=headers)


# ----- middleware and error pages ---------------------------------------------------------


async def security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    return _secured(await call_next(request), request.url.path)


def _secured(response: Response, path: str) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'",
    )
    if not path.startswith("/static"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


async def server_error(request: Request, exc: Exception) -> Response:
    """Whatever was not foreseen: a page in Vietnamese with the usual headers (this answer
    bypasses the middleware), never a bare 500; the error itself goes to the log."""
    logging.getLogger("cchc.intake").error(
        "%s %s failed", request.method, redact(request.url.path), exc_info=exc
    )
    response = page(
        request.app.state.cchc,
        "error.html",
        500,
        title="Có lỗi xảy ra",
        message="Hệ thống gặp lỗi khi xử lý yêu cầu; không có thay đổi nào được ghi. Hãy thử "
        "lại sau ít phút hoặc liên hệ cơ quan thường trực về cải cách hành chính.",
    )
    return _secured(response, request.url.path)


async def page_error(request: Request, exc: PageError) -> HTMLResponse:
    return page(
        request.app.state.cchc,
        "refused.html" if exc.back else "error.html",
        exc.status,
        exc.headers,
        title=exc.title,
        message=exc.message,
        file=exc.file,
        back=exc.back,
    )


def deliver_soon(ctx: IntakeContext, item_id: int, at: datetime) -> None:
    """Deliver the mail the action just queued for the item, in the courier's thread: the page
    never waits for the mail server."""
    if ctx.courier is not None:
        ctx.courier.deliver([item_id], at)


def after_change(
    ctx: IntakeContext, plan: Plan, kind: str, item_id: int, at: datetime
) -> BackgroundTask:
    """Tell Prefect once the response is sent (`cchc.runtime.status`): the page never waits for it.
    `plan`: the item's commune's."""
    return BackgroundTask(
        item_changed, plan, ctx.engine, ctx.settings, kind, [item_id], at, city=ctx.city
    )


async def bad_request(request: Request, exc: RequestValidationError) -> HTMLResponse:
    """A malformed address (a non-numeric id, say) is a page that does not exist."""
    return page(
        request.app.state.cchc,
        "error.html",
        404,
        title="Không tìm thấy trang",
        message="Địa chỉ không đúng. Hãy mở lại đường liên kết trong thư của hệ thống.",
    )


async def http_error(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
    titles = {404: "Không tìm thấy trang", 405: "Thao tác không được hỗ trợ"}
    return page(
        request.app.state.cchc,
        "error.html",
        exc.status_code,
        title=titles.get(exc.status_code, "Có lỗi xảy ra"),
        message="Hãy mở lại đường liên kết trong thư của hệ thống.",
    )


# ----- a unit's item page -----------------------------------------------------------------

unit_routes = APIRouter()
"""The home page, the health check and a unit's item pages (opened by its signed link)."""


def unit_item(
    ctx: IntakeContext, item_id: int, token: str, at: datetime
) -> tuple[WorkItem, str, Plan]:
    """The item the link opens, the unit it is for and the item's commune's plan, or PageError
    403/404: a link is for one item and unit (item ids are unique across the communes)."""
    try:
        linked_id, unit = verify_item_token(ctx.secret, token, at, ctx.link_age)
    except LinkInvalid as exc:
        raise PageError(403, "Đường liên kết không dùng được", exc.message) from None
    if linked_id != item_id:
        raise PageError(
            403,
            "Đường liên kết không dùng được",
            "Đường liên kết này dành cho một nhiệm vụ khác. Hãy mở đường liên kết trong "
            "thư về đúng nhiệm vụ cần nộp.",
        )
    with transaction(ctx.engine) as session:
        item = session.get(WorkItem, item_id)
    plan = ctx.city.plan_of(item.commune) if item else None
    if item is None or plan is None:
        raise PageError(404, "Không tìm thấy nhiệm vụ", f"Không có nhiệm vụ số {item_id}.")
    if item.unit != unit and unit not in plan.coordinating_units(item.obligation, item.unit):
        raise PageError(
            403,
            "Đường liên kết không dùng được",
            "Đường liên kết này không dành cho đơn vị được giao nhiệm vụ.",
        )
    return item, unit, plan


def consolidated_sources(ctx: IntakeContext, plan: Plan, item: WorkItem, today) -> dict | None:
    """For a consolidated report's item: where the reports it sums up (the units', or for the
    city office's report the communes') stand today."""
    ob = plan.obligations.get(item.obligation)
    if ob is None or not ob.consolidates:
        return None
    with transaction(ctx.engine) as session:
        sources = store.consolidated_sources(session, plan, item)
    return source_states(plan, item, sources, today)


def item_context(ctx: IntakeContext, plan: Plan, item: WorkItem, at: datetime) -> dict:
    """What the item and receipt pages show: the item as of `at` and its handed-in versions."""
    today = local_date(at, plan.zone)
    found = versions(ctx.engine, item.id)
    return {
        "item": item,
        "view": item_view(plan, item, today),
        "sources": consolidated_sources(ctx, plan, item, today),
        "contributions": [
            {
                "id": c.id,
                "unit": unit_view(plan, c.unit).name,
                "name": c.original_name,
                "size": file_size(c.size),
                "received_at": vn_datetime(c.received_at, plan.zone),
            }
            for c in contributions(ctx.engine, item.id)
        ],
        "unit": plan.units.get(item.unit),
        "versions": [_version_view(plan, rows) for _, rows in sorted(found.items(), reverse=True)],
        "today": today,
    }


@unit_routes.get("/", response_class=HTMLResponse)
async def home(ctx: Context):
    return page(ctx, "home.html")


@unit_routes.get("/healthz")
async def healthz():
    return {"status": "ok"}


@unit_routes.get("/items/{item_id}/{token}", response_class=HTMLResponse)
async def item_page(ctx: Context, item_id: int, token: str, sent: int = 0):
    at = ctx.now()
    item, unit, plan = await run_in_threadpool(unit_item, ctx, item_id, token, at)
    values = await run_in_threadpool(item_context, ctx, plan, item, at)
    if unit != item.unit:  # a coordinating unit's link: its input for the lead
        mine = await run_in_threadpool(_contributions_of, ctx, plan, item.id, unit)
        return page(
            ctx, "contribute.html", plan=plan, token=token, sender=unit_view(plan, unit),
            mine=mine, sent=bool(sent), **values,
        )  # fmt: skip
    return page(ctx, "item.html", plan=plan, token=token, **values)


@unit_routes.post("/items/{item_id}/{token}")
async def item_upload(ctx: Context, item_id: int, token: str, request: Request):
    at = ctx.now()
    item, unit, plan = await run_in_threadpool(unit_item, ctx, item_id, token, at)
    if unit != item.unit:
        return await _contribution_upload(ctx, plan, item, unit, token, request, at)
    if item.status == ItemStatus.WAIVED:
        raise PageError(
            409,
            "Không nhận sản phẩm",
            f"Nhiệm vụ này đã được miễn ({item.waived_reason or 'không nêu lý do'}): hệ "
            "thống không nhận sản phẩm cho nhiệm vụ đã miễn. Không có tệp nào được lưu.",
        )
    form = await upload_form(ctx, request, f"{ctx.prefix}/items/{item_id}/{token}", "Chưa nộp được")
    try:
        submission = await run_in_threadpool(_hand_in, ctx, plan, item, unit, form, at)
    except PageError as refused:
        refused.back = f"{ctx.prefix}/items/{item_id}/{token}"
        raise
    finally:
        form.discard()
    target = f"{ctx.prefix}/items/{item_id}/{token}/v/{submission.version}"
    if not submission.created:
        target += "?lap=1"
    response = RedirectResponse(target, status_code=303)
    if submission.created:
        deliver_soon(ctx, item_id, at)
    if submission.closed_item:
        response.background = after_change(ctx, plan, "closed", item_id, at)
    return response


@unit_routes.get("/items/{item_id}/{token}/inputs/{contribution_id}")
async def contribution_file(ctx: Context, item_id: int, token: str, contribution_id: Id):
    """A coordinating unit's file, for the lead unit (its own link) only."""
    item, unit, _plan = await run_in_threadpool(unit_item, ctx, item_id, token, ctx.now())
    with transaction(ctx.engine) as session:
        row = session.get(Contribution, contribution_id)
    if unit != item.unit or row is None or row.item_id != item.id:
        raise PageError(404, "Không tìm thấy tệp", f"Không có tệp số {contribution_id}.")
    return stored_file(ctx, row)


@unit_routes.get("/items/{item_id}/{token}/v/{version}", response_class=HTMLResponse)
async def receipt(ctx: Context, item_id: int, token: str, version: int, lap: int = 0):
    at = ctx.now()
    item, _unit, plan = await run_in_threadpool(unit_item, ctx, item_id, token, at)
    values = await run_in_threadpool(item_context, ctx, plan, item, at)
    shown = next((v for v in values["versions"] if v["version"] == version), None)
    if shown is None:
        raise PageError(404, "Không tìm thấy biên nhận", f"Chưa có phiên bản {version}.")
    return page(
        ctx, "receipt.html", plan=plan, token=token, shown=shown, repeated=bool(lap), **values
    )


# ----- the offices --------------------------------------------------------------------------

office_routes = APIRouter()
"""The offices' list, their accept/return/receive forms and their file downloads."""


def office_auth(ctx: IntakeContext, request: Request, token: str | None, at: datetime) -> Office:
    """Who is acting, and over which communes: a valid office token (its scope), else basic
    auth when configured (CCHC_OFFICE_USER is the deployment's office: the single commune's
    standing office, or the city's office)."""
    intake = ctx.intake
    if token:
        try:
            scope = office_scope(
                ctx.office_secret, token, at, timedelta(days=intake.office_link_days)
            )
        except LinkInvalid as exc:
            raise PageError(403, "Đường liên kết không dùng được", exc.message) from None
        return _office_of(ctx, scope)
    client = client_of(request)
    wait = ctx.throttle.blocked_for(client, at)
    if wait is not None:
        minutes = max(1, -(-int(wait.total_seconds()) // 60))
        raise PageError(
            429,
            "Đăng nhập sai quá nhiều lần",
            f"Đã nhập sai mật khẩu quá nhiều lần. Hãy thử lại sau {minutes} phút.",
            headers={"Retry-After": str(max(1, int(wait.total_seconds())))},
        )
    user = _basic_user(request, intake.office_user, intake.office_password)
    if user:
        ctx.throttle.succeeded(client)
        return _office_of(ctx, ctx.city.code, user)
    if request.headers.get("authorization") and intake.office_user and intake.office_password:
        ctx.throttle.failed(client, at)
    if intake.office_user and intake.office_password:
        raise PageError(
            401,
            "Cần đăng nhập",
            "Trang này dành cho cơ quan thường trực về CCHC: hãy đăng nhập.",
            headers={"WWW-Authenticate": 'Basic realm="cchc", charset="UTF-8"'},
        )
    raise PageError(
        403,
        "Không có quyền truy cập",
        "Trang này dành cho cơ quan thường trực về CCHC: hãy mở đường liên kết dành cho "
        "cơ quan thường trực (lệnh `cchc link --office`).",
    )


def _office_of(ctx: IntakeContext, scope: str, user: str | None = None) -> Office:
    """The office `scope` names: a commune the config holds (its standing office), or the city
    (its office). A token for anything else, a commune since removed from the config say,
    opens nothing. `user`: the basic-auth login, the actor instead of the office's name."""
    if scope in ctx.city.plans:
        return Office(user or OFFICE, scope, scope)
    if scope == ctx.city.code:
        return Office(user or CITY_OFFICE, scope, None)
    raise PageError(
        403,
        "Đường liên kết không dùng được",
        "Đường liên kết này không dành cho xã, phường nào hệ thống đang phục vụ. Hãy dùng "
        "đường liên kết mới nhất của cơ quan thường trực.",
    )


def office_item(ctx: IntakeContext, office: Office, item_id: int) -> tuple[WorkItem, Plan]:
    """The item an office acts on, with its commune's plan; 404 when there is none or it lies
    outside the office's scope: another commune's item is not shown to exist."""
    with transaction(ctx.engine) as session:
        item = session.get(WorkItem, item_id)
    plan = ctx.city.plan_of(item.commune) if item else None
    if item is None or plan is None or not office.sees(item.commune):
        raise PageError(404, "Không tìm thấy nhiệm vụ", f"Không có nhiệm vụ số {item_id}.")
    return item, plan


def office_masthead(ctx: IntakeContext, office: Office) -> Plan | None:
    """A standing office's pages show its commune; the city's office's show the city."""
    return ctx.city.plan_of(office.commune) if office.commune else None


async def office_form(ctx: IntakeContext, request: Request, at: datetime) -> tuple[dict, Office]:
    """The fields of an office form; its token must be valid (basic auth alone is not
    enough to change anything: the token in the form guards against cross-site posts)."""
    try:
        length = declared_length(request)
    except UploadRefused as exc:
        raise PageError(exc.status, "Yêu cầu không hợp lệ", exc.message) from None
    if length is None or length > MAX_FORM_BYTES:
        raise PageError(413, "Yêu cầu quá lớn", "Nội dung gửi lên quá dài.")
    try:
        form = await asyncio.wait_for(
            request.form(max_files=0, max_fields=10), ctx.intake.body_timeout
        )
    except TimeoutError:
        raise PageError(408, "Yêu cầu không hợp lệ", "Quá thời gian chờ dữ liệu.") from None
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    token = fields.get("t", "")
    if not token:
        raise PageError(403, "Không có quyền", "Thiếu mã xác thực của cơ quan thường trực.")
    return fields, office_auth(ctx, request, token, at)


@office_routes.get("/office", response_class=HTMLResponse)
async def office_page(
    ctx: Context,
    request: Request,
    t: str | None = None,
    commune: str | None = None,
    unit: str | None = None,
    status: str | None = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
):
    """The items of the office's scope due in `year`, filtered by unit and status, and for
    the city's office by commune; an unknown value of a filter is no filter."""
    at = ctx.now()
    office = office_auth(ctx, request, t, at)
    # after a basic-auth login: a short-lived token for the page's forms, not a bookmark
    token = t or office_token(ctx.office_secret, office.scope, at, session=True)
    today = local_date(at, ctx.zone)
    year = year or today.year
    # a standing office sees its own commune, whatever the address asks for
    served = ctx.served
    commune = office.commune or (commune if commune in served else None)
    communes = [commune] if commune else list(served)
    units = _unit_choices(ctx, communes)
    unit = unit if unit in units else None
    status = status if status in (*ItemStatus, "review") else None
    listing = await run_in_threadpool(_office_list, ctx, communes, year, unit, status, today)
    city_wide = office.commune is None
    return page(
        ctx,
        "office.html",
        plan=office_masthead(ctx, office),
        token=token,
        actor=office.actor,
        city_wide=city_wide,
        commune_choices={code: commune_label(p) for code, p in served.items()} if city_wide else {},
        chosen_commune=commune if city_wide else None,
        units=units,
        unit=unit,
        status=status,
        year=year,
        today=today,
        min_due=today.isoformat(),
        **listing,
    )


@office_routes.post("/office/items/{item_id}/versions/{version}/{action}")
async def office_review(ctx: Context, request: Request, item_id: Id, version: Id, action: str):
    at = ctx.now()
    if action not in ("accept", "return"):
        raise PageError(404, "Không tìm thấy trang", "Thao tác không tồn tại.")
    fields, office = await office_form(ctx, request, at)
    _item, plan = await run_in_threadpool(office_item, ctx, office, item_id)
    try:
        if action == "accept":
            item = await run_in_threadpool(
                accept_version, plan, ctx.engine, item_id, version, at, office.actor
            )
            done = f"Đã chấp nhận phiên bản {version} của nhiệm vụ số {item_id}."
        else:
            new_due, reason = _return_fields(plan, fields, at)
            item = await run_in_threadpool(
                return_version,
                plan,
                ctx.engine,
                item_id,
                version,
                reason,
                new_due,
                at,
                office.actor,
            )
            done = (
                f"Đã trả lại phiên bản {version} của nhiệm vụ số {item_id}; hạn mới "
                f"{vn_date(item.due)}. Đơn vị sẽ nhận được thư thông báo."
            )
    except UserError as exc:
        raise PageError(409, "Chưa thực hiện được", str(exc)) from None
    deliver_soon(ctx, item_id, at)
    response = page(
        ctx,
        "done.html",
        plan=office_masthead(ctx, office),
        message=done,
        token=fields["t"],
        item=item,
    )
    kind = "accepted" if action == "accept" else "returned"
    response.background = after_change(ctx, plan, kind, item_id, at)
    return response


@office_routes.post("/office/items/{item_id}/receive")
async def office_receive(ctx: Context, request: Request, item_id: Id):
    """The product came through the document-management system: the office records the
    document's number and date, and the item closes (`usecases.lifecycle.receive_document`)."""
    at = ctx.now()
    fields, office = await office_form(ctx, request, at)
    _item, plan = await run_in_threadpool(office_item, ctx, office, item_id)
    try:
        try:
            day = date.fromisoformat(fields["date"]) if fields.get("date") else None
        except ValueError:
            raise UserError("Ngày văn bản không hợp lệ: hãy chọn một ngày.") from None
        done = await run_in_threadpool(
            receive_document, plan, ctx.engine, item_id, fields.get("doc", ""), day, at
        )
    except UserError as exc:
        raise PageError(409, "Chưa ghi nhận được", str(exc)) from None
    verdict = {True: ", đúng hạn", False: ", quá hạn"}.get(done.deliverable.on_time, "")
    message = (
        f"Đã ghi nhận {done.deliverable.document} cho nhiệm vụ số {item_id} "
        f"(phiên bản {done.deliverable.version}{verdict})."
        if done.created
        else f"{done.deliverable.document} đã được ghi nhận trước đó cho nhiệm vụ số {item_id}."
    )
    if done.created:
        deliver_soon(ctx, item_id, at)
    response = page(
        ctx,
        "done.html",
        plan=office_masthead(ctx, office),
        message=message,
        token=fields["t"],
        item=done.item,
    )
    if done.closed_item:
        response.background = after_change(ctx, plan, "closed", item_id, at)
    return response


@office_routes.get("/office/files/{deliverable_id}")
async def office_file(ctx: Context, request: Request, deliverable_id: Id, t: str | None = None):
    office = office_auth(ctx, request, t, ctx.now())
    with transaction(ctx.engine) as session:
        row = session.get(Deliverable, deliverable_id)
        item = session.get(WorkItem, row.item_id) if row else None
    if (
        row is None
        or item is None
        or ctx.city.plan_of(item.commune) is None
        or not office.sees(item.commune)
    ):
        raise PageError(404, "Không tìm thấy tệp", f"Không có tệp số {deliverable_id}.")
    return stored_file(ctx, row)


def stored_file(ctx: IntakeContext, row: Deliverable | Contribution) -> FileResponse:
    """A stored file as a download, under the name it was sent with and the type its content
    was found to be; 404 when its bytes are not in the store."""
    path = Path(row.stored_path).resolve()
    if not path.is_relative_to(ctx.blob_root) or not path.is_file():
        raise PageError(404, "Không tìm thấy tệp", "Tệp không còn trong kho lưu trữ.")
    kind = filetypes.TYPES.get(row.file_type or "")
    name = filetypes.display_name(row.original_name, kind) if kind else row.original_name
    return FileResponse(
        path,
        media_type=kind.mime if kind else "application/octet-stream",
        filename=name,
        content_disposition_type="attachment",
    )


_TOKEN_IN_PATH = re.compile(r"(/items/\d+/)[^/?\s]+")
_TOKEN_IN_QUERY = re.compile(r"([?&]t=)[^&\s]+")


def redact(text: str) -> str:
    """A URL with its signed tokens cut out: links are credentials, logs are not the place."""
    return _TOKEN_IN_QUERY.sub(r"\1…", _TOKEN_IN_PATH.sub(r"\1…", text))


class RedactTokens(logging.Filter):
    """For uvicorn's access log (its record args: client, method, path, version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def log_config() -> dict:
    """uvicorn's logging set-up, with the tokens redacted from the access log."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_tokens"] = {"()": RedactTokens}
    config["handlers"]["access"]["filters"] = ["redact_tokens"]
    return config


def _contributions_of(ctx: IntakeContext, plan: Plan, item_id: int, unit: str) -> list[dict]:
    return [
        {
            "name": c.original_name,
            "size": file_size(c.size),
            "received_at": vn_datetime(c.received_at, plan.zone),
        }
        for c in contributions(ctx.engine, item_id)
        if c.unit == unit
    ]


async def upload_form(ctx: IntakeContext, request: Request, back: str, title: str) -> ReceivedForm:
    """The files and fields of an upload, spooled to disk within the intake's limits; a refusal
    is a page titled `title` with a way back to `back`."""
    max_bytes = ctx.intake.max_bytes
    try:
        return await receive_form(
            request,
            ctx.incoming,
            max_file_bytes=max_bytes,
            max_files=MAX_FILES,
            max_body=max_bytes * MAX_FILES + MAX_FORM_BYTES,
            read_timeout=ctx.intake.body_timeout,
        )
    except UploadRefused as exc:
        refused = PageError(exc.status, title, exc.message, exc.headers)
        refused.back = back
        raise refused from None


async def _contribution_upload(
    ctx: IntakeContext,
    plan: Plan,
    item: WorkItem,
    unit: str,
    token: str,
    request: Request,
    at: datetime,
) -> Response:
    """A coordinating unit's files for the lead's item: checked like a deliverable, stored as
    contributions (they never close the item), then back to its page."""
    back = f"{ctx.prefix}/items/{item.id}/{token}"
    form = await upload_form(ctx, request, back, "Chưa gửi được")
    try:
        await run_in_threadpool(_hand_in, ctx, plan, item, unit, form, at, contribute)
    except PageError as refused:
        refused.back = back
        raise
    finally:
        form.discard()
    return RedirectResponse(f"{back}?sent=1", status_code=303)


def _hand_in(
    ctx: IntakeContext,
    plan: Plan,
    item: WorkItem,
    unit: str,
    form: ReceivedForm,
    at: datetime,
    record=submit,
):
    """Check every file (name, then content), then record them (`submit` a version, or
    `contribute` a coordinating unit's input); PageError on any refusal, with nothing stored."""
    if not form.files:
        raise PageError(400, "Chưa nộp được", "Chưa chọn tệp nào. Hãy chọn ít nhất một tệp.")
    try:  # every text field is checked before a byte is stored
        note = clean_text(form.fields.get("note"), MAX_NOTE, "Ghi chú")
    except UploadRefused as exc:
        raise PageError(exc.status, "Chưa nộp được", exc.message) from None
    incoming = []
    try:
        for received in form.files:
            name = filetypes.clean_name(received.filename)
            kind = filetypes.sniff(received.path)
            incoming.append(IncomingFile(name, received.path, kind.kind))
    except filetypes.Refused as exc:
        raise PageError(
            exc.status,
            "Chưa nộp được",
            f"{exc.message} Không có tệp nào được lưu.",
            file=received.filename,
        ) from None
    try:
        return record(
            plan,
            ctx.engine,
            ctx.data_dir,
            item.id,
            unit,
            incoming,
            at,
            note=note,
            max_bytes=ctx.intake.max_bytes,
        )
    except UserError as exc:
        raise PageError(409, "Chưa nộp được", str(exc)) from None


def _return_fields(plan: Plan, fields: dict, at: datetime) -> tuple[date, str]:
    """The new due date and the reason of a return, or PageError 400 (a date that is not one,
    or more than a year ahead; a reason with control characters or too long)."""
    try:
        new_due = date.fromisoformat(fields.get("due", ""))
    except ValueError:
        raise PageError(
            400, "Chưa thực hiện được", "Hạn mới không hợp lệ: hãy chọn một ngày."
        ) from None
    if new_due > local_date(at, plan.zone) + RETURN_HORIZON:
        raise PageError(
            400,
            "Chưa thực hiện được",
            f"Hạn mới {vn_date(new_due)} quá xa: hãy chọn trong vòng một năm kể từ hôm nay.",
        )
    try:
        reason = clean_text(fields.get("reason"), MAX_NOTE, "Lý do trả lại") or ""
    except UploadRefused as exc:
        raise PageError(exc.status, "Chưa thực hiện được", exc.message) from None
    return new_due, reason


def _version_view(plan: Plan, rows: list[Deliverable]) -> dict:
    first = rows[0]
    return {
        "version": first.version,
        "received_at": first.received_at,
        "status": first.status,
        "status_label": DELIVERABLE_LABELS.get(first.status, first.status),
        "on_time": first.on_time,
        "note": first.note,
        "review_note": first.review_note,
        "reviewed_at": first.reviewed_at,
        "doc": first.document,  # received as an official document: no file
        "files": [
            {
                "id": r.id,
                "name": r.original_name,
                "size": r.size,
                "sha256": r.sha256,
                "type": filetypes.TYPES[r.file_type].label
                if r.file_type in filetypes.TYPES
                else "",
            }
            for r in rows
            if not r.document
        ],
    }


def commune_label(plan: Plan) -> str:
    """A commune as the city's office reads it in a list: "xã Mao Điền" for "Ủy ban nhân dân
    xã Mao Điền"; the city office's own plan by the office's name."""
    if plan.communes is not None:
        return unit_view(plan, plan.commune.standing_office).name
    name = unicodedata.normalize("NFC", plan.commune.name)
    return _PEOPLES_COMMITTEE.sub("", name) or name


_PEOPLES_COMMITTEE = re.compile(r"^(ủy|uỷ) ban nhân dân\s+", re.IGNORECASE)


def _group(commune: str, unit: str) -> str:
    """The heading an item is listed under on the city's office page."""
    return unit if commune == unit else f"{commune} · {unit}"


def _unit_choices(ctx: IntakeContext, communes: list[str]) -> dict[str, str]:
    """The units the filter offers (code → name), those of `communes`: a code several communes
    share (each has its Văn phòng, VP) is offered once and selects it in each."""
    choices: dict[str, str] = {}
    for code in communes:
        for unit_code, unit in ctx.city.plan_of(code).units.items():
            choices.setdefault(unit_code, unit.name)
    return choices


COUNTED = ("total", "review", "late", "escalated", "open", "closed", "waived")
"""The counts at the top of the office page (and per commune for the city's office)."""


def _office_list(
    ctx: IntakeContext,
    communes: list[str],
    year: int,
    unit: str | None,
    status: str | None,
    today: date,
) -> dict:
    """What the office page lists for `communes` under the filters:

    1. `counts`: how many items the filters select, by state (`COUNTED`), counted by the
       database, and `by_commune` the same per commune (when there are several);
    2. `rows`: the first MAX_ROWS of those items (commune, unit, due date), each with its
       versions, the ones awaiting review and the forms' defaults.
    """
    awaiting = select(Deliverable.item_id).where(Deliverable.status == DeliverableStatus.RECEIVED)
    chosen = [
        WorkItem.commune.in_(communes),
        WorkItem.due >= date(year, 1, 1),
        WorkItem.due <= date(year, 12, 31),
    ]
    if unit:
        chosen.append(WorkItem.unit == unit)
    if status == "review":
        chosen.append(WorkItem.id.in_(awaiting))
    elif status:
        chosen.append(WorkItem.status == status)
    with transaction(ctx.engine) as session:
        by_status = session.execute(
            select(WorkItem.commune, WorkItem.status, func.count())
            .where(*chosen)
            .group_by(WorkItem.commune, WorkItem.status)
        ).all()
        in_review = session.execute(
            select(WorkItem.commune, func.count())
            .where(*chosen, WorkItem.id.in_(awaiting))
            .group_by(WorkItem.commune)
        ).all()
        items = list(
            session.exec(
                select(WorkItem)
                .where(*chosen)
                .order_by(WorkItem.commune, WorkItem.unit, WorkItem.due, WorkItem.id)
                .limit(MAX_ROWS)
            ).scalars()
        )
        ids = [i.id for i in items]
        files = (
            list(
                session.exec(
                    select(Deliverable)
                    .where(Deliverable.item_id.in_(ids))
                    .order_by(Deliverable.version, Deliverable.part)
                ).scalars()
            )
            if ids
            else []
        )
    counts = {code: dict.fromkeys(COUNTED, 0) for code in communes}
    for code, item_status, n in by_status:
        counts[code]["total"] += n
        counts[code][item_status] = counts[code].get(item_status, 0) + n
        if item_status in (ItemStatus.OVERDUE, ItemStatus.ESCALATED):
            counts[code]["late"] += n
    for code, n in in_review:
        counts[code]["review"] = n
    by_item: dict[int, dict[int, list[Deliverable]]] = {}
    for row in files:
        by_item.setdefault(row.item_id, {}).setdefault(row.version, []).append(row)
    several = len(communes) > 1
    default_due: dict[str, str] = {}
    rows = []
    for item in items:
        plan = ctx.city.plan_of(item.commune)
        if item.commune not in default_due:
            default_due[item.commune] = plan.calendar.add_working_days(today, 5).isoformat()
        found = by_item.get(item.id, {})
        unit_name = plan.units[item.unit].name if item.unit in plan.units else item.unit
        view = item_view(plan, item, today)
        rows.append(
            {
                "item": item,
                "unit_name": unit_name,
                "group": _group(commune_label(plan), unit_name) if several else unit_name,
                "title": shorten(item.title, 110),
                "period": period_label(item.period),
                "countdown": view.countdown if item.status in OPEN_STATUSES else "",
                "receivable": item.status in OPEN_STATUSES,
                "latest": _version_view(plan, found[max(found)]) if found else None,
                "awaiting": [
                    _version_view(plan, parts)
                    for _, parts in sorted(found.items())
                    if parts[0].status == DeliverableStatus.RECEIVED
                ],
                "newest_version": max(found) if found else None,
                "version_count": len(found),
                "view": view,
                "sources": consolidated_sources(ctx, plan, item, today),
                "default_due": default_due[item.commune],
            }
        )
    return {
        "rows": rows,
        "counts": {key: sum(c[key] for c in counts.values()) for key in COUNTED},
        "by_commune": [
            {"code": code, "label": commune_label(ctx.city.plan_of(code)), "counts": counts[code]}
            for code in communes
        ]
        if several
        else [],
    }


def _basic_user(request: Request, user: str | None, password: str | None) -> str | None:
    if not (user and password):
        return None
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        given_user, _, given_password = (
            base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        return None
    ok_user = secrets.compare_digest(given_user.encode(), user.encode())
    ok_password = secrets.compare_digest(given_password.encode(), password.encode())
    return given_user if ok_user and ok_password else None
