"""The automations `cchc deploy` keeps beside the deployments, watching the communes' runs and
telling the admin (through `CCHC_ALERT_BLOCK`) what the standing office would otherwise not
see: a sweep that has not ended well 45 minutes after its start, mail given up on
(`cchc.mail.failed`), mail still waiting a day after it was queued (`cchc.mail.stuck`), a sweep
the embedded engine's clock missed (`cchc.sweep.skipped`), a config the engine refused to reload
(`cchc.config.refused`), a city's commune quarantined for its invalid files
(`cchc.commune.quarantined`, once per sweep while it lasts). Created when missing, updated
when they differ, one of each name.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any, NamedTuple

from prefect.automations import (
    AutomationCore,
    DoNothing,
    EventTrigger,
    Posture,
    SendNotification,
)
from prefect.exceptions import ObjectNotFound

from flows.deploy_plan import DeployDiff, tags_for
from notifications.event_payloads import (
    CONFIG_REFUSED,
    MAIL_FAILED,
    MAIL_STUCK,
    SWEEP_COMPLETED,
    SWEEP_SKIPPED,
)
from notifications.quarantine_notice import COMMUNE_QUARANTINED
from schedules.city import City
from usecases.errors import UserError

SWEEP_GRACE = timedelta(minutes=45)
"""How long after a sweep run starts (or is marked Late, when no worker took it) the "sweep
missing" automation waits for `cchc.sweep.completed`."""

ALERT_BLOCK_ENV = "CCHC_ALERT_BLOCK"
"""`<block-type-slug>/<block-name>` of a Prefect notification block (e.g.
`sendgrid-email/so-noi-vu`): the automations send through it; unset, they only record that they
fired (Prefect UI → Automations, Event feed)."""


class AutomationNames(NamedTuple):
    sweep_missing: str
    mail_failed: str
    mail_stuck: str
    sweep_skipped: str
    config_refused: str
    commune_quarantined: str


def automation_names(city: City) -> AutomationNames:
    return AutomationNames(
        *(
            f"cchc-{city.code}-{what}"
            for what in (
                "sweep-missing",
                "mail-failed",
                "mail-stuck",
                "sweep-skipped",
                "config-refused",
                "commune-quarantined",
            )
        )
    )


class Alert(NamedTuple):
    """A reactive automation: on each `event` of the communes, mail the admin."""

    name: str
    """Its `AutomationNames` field."""
    event: str
    what: str
    """Its description (and mail subject), before " — <communes' name>"."""
    body: str
    """The mail's text (a Jinja template over the event)."""
    subject: str | None = None
    """The mail's subject when not `what`, before " — <communes' name>"."""


ALERTS = (
    Alert(
        "mail_failed",
        MAIL_FAILED,
        "Thư không gửi được sau các lần thử lại",
        "{{ event.payload.count }} thư của {{ event.resource['prefect.resource.name'] }} "
        "không gửi được sau các lần thử lại. Xem `cchc outbox` hoặc trang của cơ quan "
        "thường trực.",
        subject="Thư không gửi được",
    ),
    Alert(
        "mail_stuck",
        MAIL_STUCK,
        "Thư chờ gửi quá một ngày",
        "{{ event.payload.count }} thư của {{ event.resource['prefect.resource.name'] }} "
        "đã chờ gửi hơn một ngày (không tạo được thư: mẫu thư lỗi, hoặc máy chủ thư không "
        "nhận). Lỗi gần nhất: {{ event.payload.rows[0].error }}. Chạy `cchc check`, "
        "`cchc outbox --status pending`, rồi `cchc send`.",
    ),
    Alert(
        "sweep_skipped",
        SWEEP_SKIPPED,
        "Bỏ lỡ lần rà soát",
        "Máy chạy `cchc run` đã bỏ lỡ lần rà soát lúc {{ event.payload.scheduled }} (máy "
        "ngủ hoặc bận). Lần rà soát sau sẽ bù; muốn rà soát ngay: `cchc sweep`.",
    ),
    Alert(
        "config_refused",
        CONFIG_REFUSED,
        "Cấu hình mới bị từ chối",
        "`cchc run` không nạp cấu hình mới ({{ event.payload.count }} lỗi) và vẫn chạy cấu "
        "hình cũ. Lỗi đầu tiên: {{ event.payload.problems[0] }}. Sửa theo `cchc check`, "
        "rồi `cchc reload`.",
    ),
    Alert(
        "commune_quarantined",
        COMMUNE_QUARANTINED,
        "Xã bị cách ly do cấu hình lỗi",
        "Lần rà soát của {{ event.resource['prefect.resource.name'] }} đã cách ly "
        "{{ event.payload.count }} xã có tệp cấu hình lỗi; các xã khác vẫn được rà soát và "
        "gửi thư. {% for row in event.payload.communes %}Xã {{ row.commune }}: "
        "{{ row.runs_on }}; lỗi: {{ row.problems[0] }}. {% endfor %}Sửa theo `cchc check`.",
    ),
)
"""The reactive automations, each on one cchc event (`notifications.event_payloads`)."""


def automations(
    city: City, block_id: Any | None = None, grace: timedelta = SWEEP_GRACE
) -> list[AutomationCore]:
    """The automations that watch the communes' runs.

    - *sweep missing* (proactive): a sweep run of these communes that starts (Pending: a worker
      or the engine took it) or is marked Late (its scheduled instant passed and no worker took
      it) opens a window of `grace`; when no `cchc.sweep.completed` of theirs arrives in it, the
      automation fires. The sweep deployment's schedule holds only working-day mornings, so this
      is "no completed sweep by sweep time + 45 minutes on a working day". (Not the flow's own
      `prefect.flow-run.Completed`: a sweep whose delivery failed must fire it too, and the
      event names the communes.)
    - the reactive ones (`ALERTS`), each on one cchc event of these communes (`cchc.city`):
      *mail failed* (a mail given up after its retries; the standing office is told by cchc
      itself), *mail stuck* (mail that has waited a day: it cannot be built, or the server does
      not take it; once per sweep while it lasts), *sweep skipped* (the embedded engine's clock
      missed a sweep: no run was made, so no window opened), *config refused* (`cchc reload` or
      a SIGHUP refused the edited config or templates; the engine keeps the previous one),
      *commune quarantined* (a sweep served the city with some commune's files invalid: that
      commune on its last valid config, or paused; `schedules.quarantine`).

    All notify through the notification block `block_id` (`ALERT_BLOCK_ENV`), or, without one,
    only record their firing (`DoNothing`) in the Prefect UI.
    """
    return [_sweep_missing(city, block_id, grace)] + [
        _on_event(city, block_id, alert) for alert in ALERTS
    ]


def _sweep_missing(city: City, block_id: Any | None, grace: timedelta) -> AutomationCore:
    scope = tags_for(city)[-1]
    where = city.name
    minutes = int(grace.total_seconds() // 60)
    return AutomationCore(
        name=automation_names(city).sweep_missing,
        description=f"Chưa có lần rà soát nào hoàn thành sau {minutes} phút — {where}",
        tags=list(tags_for(city)),
        trigger=EventTrigger(
            after={"prefect.flow-run.Pending", "prefect.flow-run.Late"},
            expect={SWEEP_COMPLETED},
            match_related=[
                {"prefect.resource.role": "flow", "prefect.resource.name": "cchc-sweep"},
                {"prefect.resource.role": "tag", "prefect.resource.id": f"prefect.tag.{scope}"},
            ],
            posture=Posture.Proactive,
            threshold=1,
            within=grace,
        ),
        actions=_notify(
            block_id,
            f"[cchc] Chưa rà soát xong — {where}",
            f"Lần rà soát buổi sáng của {where} chưa hoàn thành sau {minutes} phút "
            "(máy chạy, worker hoặc máy chủ thư có thể đang lỗi). "
            "Lần chạy: {{ event.resource['prefect.resource.name'] }} "
            "({{ event.event }}, {{ event.occurred }}). Xem Prefect UI → Runs, flow cchc-sweep.",
        ),
    )


def _on_event(city: City, block_id: Any | None, alert: Alert) -> AutomationCore:
    where = city.name
    return AutomationCore(
        name=getattr(automation_names(city), alert.name),
        description=f"{alert.what} — {where}",
        tags=list(tags_for(city)),
        trigger=EventTrigger(
            expect={alert.event},
            match={"cchc.city": city.code},
            posture=Posture.Reactive,
            threshold=1,
            within=timedelta(0),
        ),
        actions=_notify(block_id, f"[cchc] {alert.subject or alert.what} — {where}", alert.body),
    )


def _notify(block_id: Any | None, subject: str, body: str) -> list:
    if block_id is None:
        return [DoNothing()]
    return [SendNotification(block_document_id=block_id, subject=subject, body=body)]


def _shape(automation: AutomationCore) -> dict[str, Any]:
    """What `cchc deploy` compares: everything but the server's ids."""
    data = automation.model_dump(
        mode="json", include={"name", "description", "enabled", "tags", "trigger", "actions"}
    )
    data["trigger"].pop("id", None)
    return data


async def _alert_block(client) -> Any | None:
    """The id of the notification block `ALERT_BLOCK_ENV` names; None when unset."""
    ref = os.environ.get(ALERT_BLOCK_ENV, "").strip()
    if not ref:
        return None
    slug, _, name = ref.partition("/")
    try:
        return (await client.read_block_document_by_name(name, slug)).id
    except (ObjectNotFound, ValueError) as exc:
        raise UserError(
            f"{ALERT_BLOCK_ENV}={ref}: no such Prefect block (create it in the UI: Blocks → +, "
            "then give <block-type-slug>/<name>)"
        ) from exc


async def sync_automations(client, city: City, diff: DeployDiff) -> None:
    """Create the automations that are missing, update those that differ (one per name)."""
    for automation in automations(city, await _alert_block(client)):
        found = await client.read_automations_by_name(automation.name)
        if found and _shape(found[0]) == _shape(automation):
            diff.automations.append((automation.name, "="))
            continue
        diff.automations.append((automation.name, "~" if found else "+"))
        if diff.dry_run:
            continue
        if found:
            await client.update_automation(found[0].id, automation)
        else:
            await client.create_automation(automation)
        for extra in found[1:]:  # made by hand or by a race: one of each
            await client.delete_automation(extra.id)
