"""The pages: the Jinja2 environment of the templates (Vietnamese, autoescaped) with its
filters and the values every page shows, and `page`, which renders one under the masthead of
its commune (or of the city)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, pass_context, select_autoescape

from cchc.intake import filetypes
from cchc.intake.item_views import DELIVERABLE_LABELS
from cchc.intake.upload import MAX_FILES
from notifications.phrases import file_size
from schedules.dates import VN_ZONE, vn_date, vn_datetime
from schedules.vocabulary import ItemStatus

if TYPE_CHECKING:
    from cchc.intake.context import IntakeContext
    from cchc.runtime.settings import IntakeSettings
    from schedules.plan import Plan


@pass_context
def _local_datetime(values, at: datetime) -> str:
    return vn_datetime(at, values.get("zone", VN_ZONE))


@pass_context
def _local_seconds(values, at: datetime) -> str:
    return at.astimezone(values.get("zone", VN_ZONE)).strftime("%d/%m/%Y %H:%M:%S")


def environment(intake: IntakeSettings, prefix: str) -> Environment:
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
        status_choices={status.value: status.label for status in ItemStatus},
    )
    return env


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
        # "xã, phường": the kinds of the communes the city's pages speak of.
        "kinds": ctx.city.kinds,
        # "xã", "phường", "đặc khu": what the page's commune is ("Toàn phường").
        "kind_label": plan.kind_label if plan else "xã",
    }
    html = ctx.env.get_template(name).render(**masthead, **values)
    return HTMLResponse(html, status_code=code, headers=headers)
