"""The flows about given items, run by hand or by the intake and the command line:

- `cchc-close`: attaches a deliverable and closes the item, emits `cchc.item.closed`;
- `cchc-item-changed`: after the intake or the command line changed items (handed in,
  accepted, returned, waived), emits their event and refreshes the status tables;
- `cchc-open-ad-hoc`: opens an ad hoc item by hand (a directive arrived).

They carry the tags of their communes' sweep runs (`cchc`, `commune:<code>` or `city:<code>`),
and those of the items they concern: `commune:<code>` in a city (whose code also comes first in
their name) and `unit:<CODE>` (`flows.runtime_state.tag_concerned`).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from flows import artifacts
from flows.item_reads import read_items
from flows.runtime_state import instant, runtime, tag_concerned
from flows.status_publishing import changed_pages
from schedules.vocabulary import ItemChange
from usecases.errors import UserError
from usecases.lifecycle import open_ad_hoc
from usecases.review import Submission, attach

CLOSE_FLOW = "cchc-close"
ADHOC_FLOW = "cchc-open-ad-hoc"
CHANGED_FLOW = "cchc-item-changed"
CHANGE_WORDS = {
    ItemChange.OPENED: "mở theo văn bản chỉ đạo",
    ItemChange.EXTENDED: "gia hạn",
    ItemChange.CLOSED: "nộp",
    ItemChange.ACCEPTED: "chấp nhận",
    ItemChange.RETURNED: "trả lại",
    ItemChange.WAIVED: "miễn",
    ItemChange.RESUMED: "mở lại việc tồn đọng",
}
"""The changes made outside a sweep (`flows.status`), as a run name says them."""


# --- run names (a name must never fail the run) ----------------------------------------------


def _when(at) -> str:
    try:
        return f"{instant(at).astimezone(runtime().zone):%Y-%m-%d %H:%M}"
    except Exception:  # noqa: BLE001  (a name must never fail the run)
        return "?"


def _commune_of_items(ids: list[int]) -> str:
    """A run name's commune prefix for these items (`Runtime.named`); empty when unknown."""
    try:
        rt = runtime()
        if not rt.city.is_city or not ids:
            return ""
        return rt.named(rt.plan_of_item(int(ids[0])).commune.code)
    except Exception:  # noqa: BLE001  (a name must never fail the run)
        return ""


def _close_run_name() -> str:
    params = flow_run.parameters
    item_id = params.get("item_id")
    return f"{_commune_of_items([item_id])}close · #{item_id} · {_when(params.get('at'))}"


def _changed_run_name() -> str:
    params = flow_run.parameters
    item_ids = params.get("item_ids") or []
    ids = ", ".join(f"#{i}" for i in item_ids)
    kind = params.get("kind")
    word = CHANGE_WORDS.get(kind, kind)
    return f"{_commune_of_items(item_ids)}{word} · {ids} · {_when(params.get('at'))}"


def _adhoc_run_name() -> str:
    params = flow_run.parameters
    commune = params.get("commune")
    prefix = f"{commune} · " if commune else ""
    return f"{prefix}{params.get('obligation')} · {params.get('unit')} · {params.get('due')}"


# --- the flows -------------------------------------------------------------------------------


@task(name="attach", cache_policy=NO_CACHE)
def attach_deliverable(
    item_id: int, file: str, at: datetime, by: str | None, note: str | None
) -> Submission:
    rt = runtime()
    plan = rt.plan_of_item(item_id)
    tag_concerned(rt, [(i.commune, i.unit) for i in read_items(rt.engine, [item_id])])
    return attach(plan, rt.engine, rt.settings.data_dir, item_id, Path(file), at, by=by, note=note)


@flow(
    name=CLOSE_FLOW,
    flow_run_name=_close_run_name,
    description="Nhận sản phẩm của một việc và đóng việc.",
)
def close_flow(
    item_id: int,
    file: str,
    by: str | None = None,
    note: str | None = None,
    at: datetime | None = None,
):
    """Attach a deliverable to an item (of any commune of the runtime) and close it; emits
    `cchc.item.closed` when this run closed it. Returns what `usecases.review.attach` did (a
    `Submission`)."""
    when = instant(at)
    done = attach_deliverable(item_id, file, when, by, note)
    if done.closed_item:
        changed_pages(ItemChange.CLOSED, [item_id], when)
    return done


@flow(
    name=CHANGED_FLOW,
    flow_run_name=_changed_run_name,
    description="Cập nhật bảng tình trạng khi đơn vị nộp sản phẩm, cơ quan thường trực chấp "
    "nhận hoặc trả lại, hoặc một việc được miễn.",
)
def item_changed_flow(
    kind: ItemChange, item_ids: list[int], at: datetime | None = None
) -> dict[str, dict[str, str]]:
    """Items changed outside a sweep (`kind` of `CHANGE_WORDS`): emit `cchc.item.<kind>` and
    refresh the open-items and late-items tables, so the UI does not wait for the next sweep."""
    if kind not in CHANGE_WORDS:
        raise UserError(f"unknown change {kind!r}")
    rt = runtime()
    tag_concerned(rt, [(i.commune, i.unit) for i in read_items(rt.engine, item_ids)])
    return changed_pages(kind, item_ids, instant(at))


@flow(
    name=ADHOC_FLOW,
    flow_run_name=_adhoc_run_name,
    description="Mở việc đột xuất theo văn bản chỉ đạo (chọn đơn vị và hạn; với cấu hình cấp "
    "thành phố, chọn cả xã).",
)
def open_ad_hoc_flow(
    obligation: str,
    unit: str,
    due: date,
    at: datetime | None = None,
    commune: str | None = None,
) -> dict:
    """Open an ad hoc item for `unit` of `commune` (which may be left out when the config
    serves one commune)."""
    rt = runtime()
    plan = rt.plan_of(commune)
    tag_concerned(rt, [(plan.commune.code, unit)])
    when = instant(at)
    item = open_ad_hoc(plan, rt.engine, obligation, unit, due, when)
    artifacts.publish_opened(plan, obligation, [item.period], [item])
    artifacts.emit_item_events(plan, ItemChange.OPENED, [item], when)
    return {
        "item": item.id,
        "commune": plan.commune.code,
        "obligation": obligation,
        "unit": unit,
        "due": item.due.isoformat(),
    }
