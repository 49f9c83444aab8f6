"""The engine and its Prefect side: `run` (the clock), `deploy` (Prefect deployments), `reload`
(the running engine re-reads the config), `serve-intake` (the web app), `sweep` (one sweep by
hand)."""

from __future__ import annotations

import click

from cchc.cli.common import (
    App,
    at_option,
    fail,
    now_or,
    pass_app,
    period_words,
    short_title,
    user_errors,
    working,
)
from cchc.cli.dberrors import database_errors
from schedules.dates import vn_datetime
from schedules.vocabulary import ItemStatus


@click.command("run")
@pass_app
@user_errors
def run_cmd(app: App) -> None:
    """The engine: an APScheduler clock runs each obligation's opening flow at its opening
    instants and the sweep flow each working-day morning, as Prefect flow runs recorded in the
    server PREFECT_API_URL names (`make run` starts one). SIGHUP / `cchc reload` re-reads the
    config; SIGTERM / SIGINT stop."""
    from cchc.runtime.settings import SecretMissing
    from flows.engine import run_engine

    try:
        app.settings.link_secret()  # the mails carry signed links: no key, no start
    except SecretMissing as exc:
        fail(str(exc))
    run_engine(app.city, app.engine, app.settings)


@click.command("deploy")
@click.option("--pool", default="cchc", show_default=True, help="Prefect process work pool.")
@click.option(
    "--prune",
    type=click.Choice(["pause", "delete"]),
    default="pause",
    show_default=True,
    help="What happens to deployments of obligations no longer in the config.",
)
@click.option("--dry-run", is_flag=True, help="Print the difference; change nothing.")
@pass_app
@user_errors
def deploy_cmd(app: App, pool, prune, dry_run) -> None:
    """Register one Prefect deployment per obligation (its opening instants, every commune's in
    a city, as an RRule schedule in Asia/Ho_Chi_Minh), the sweep's, and the self-monitoring
    automations, on the server PREFECT_API_URL names; print the diff."""
    from flows.deploy import deploy

    with working("Đang đăng ký lịch chạy với Prefect…"):
        diff = deploy(app.city, app.settings, pool=pool, prune=prune, dry_run=dry_run)
    click.echo("\n".join(diff.lines()))


@click.command("reload")
@pass_app
@user_errors
def reload_cmd(app: App) -> None:
    """Check the config, then make the running engine (`cchc run`) re-read it (SIGHUP). An
    invalid config is refused here and the engine keeps the one it runs."""
    from cchc.runtime.control import request_reload

    city = app.city  # exits with the errors when the config is invalid
    pid = request_reload(app.settings, city)
    click.echo(f"Đã yêu cầu `cchc run` (pid {pid}) nạp lại cấu hình {city.folder}")


@click.command("serve-intake")
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Default 8080.")
@pass_app
def serve_intake_cmd(app: App, host, port) -> None:
    """The intake web app: units hand in deliverables through the signed links of their mails;
    the standing office accepts or returns them. Links carry CCHC_PUBLIC_URL. Proxy headers
    are believed only from CCHC_TRUSTED_PROXIES; request headers must arrive within
    CCHC_INTAKE_HEADER_TIMEOUT seconds (`cchc.intake.serving`)."""
    from cchc.runtime.settings import DEFAULT_INTAKE_HOST, DEFAULT_INTAKE_PORT, SecretMissing

    try:
        app.settings.link_secret()
    except SecretMissing as exc:
        fail(str(exc))
    import uvicorn

    from cchc.intake import create_app
    from cchc.intake.logs import log_config
    from cchc.intake.serving import server_options
    from cchc.runtime.courier import Courier

    web = create_app(
        app.city, app.engine, app.settings, courier=Courier(app.city, app.engine, app.settings)
    )
    host = host or DEFAULT_INTAKE_HOST
    port = port or DEFAULT_INTAKE_PORT
    base = app.settings.intake.base_url
    click.echo(f"Trang nộp sản phẩm (intake): http://{host}:{port} (đường dẫn trong thư: {base})")
    uvicorn.run(
        web,
        host=host,
        port=port,
        log_config=log_config(),
        log_level="info",
        **server_options(app.settings.intake),
    )


@click.command("sweep")
@at_option
@click.option("--no-mail", is_flag=True, help="Only queue the mails (`cchc send` delivers).")
@pass_app
@database_errors
def sweep_cmd(app: App, at, no_mail) -> None:
    """One sweep as of --at: open due items, mark overdue, queue reminders and escalations,
    then deliver the mail due."""
    from usecases.sweep import sweep_communes

    when = now_or(at)
    with working("Đang rà soát…"):
        report = sweep_communes(app.plans, app.engine, when)
    click.echo(describe_sweep(report, app.city))
    if not no_mail:
        from cchc.runtime.courier import deliver_communes
        from notifications.delivery_report import describe_delivery

        with working("Đang gửi thư…"):
            delivered = deliver_communes(app.plans, app.engine, app.settings, when)
        click.echo(describe_delivery(delivered))


def describe_sweep(report, city) -> str:
    """What a sweep did, in Vietnamese: the counts, then one line per item opened or moved
    (with its commune, in a city)."""
    from notifications.labels import step_label

    def title(obligation: str, item_id: int) -> str:
        commune = report.communes.get(item_id, "")
        plan = city.plan_of(commune)
        known = plan.obligations.get(obligation) if plan else None
        text = short_title(known.title) if known else obligation
        return f"[{commune}] {text}" if city.is_city else text

    lines = [
        f"Rà soát lúc {vn_datetime(report.at)}: mở {len(report.opened)} việc, "
        f"chuyển bước {len(report.advanced)} việc, {report.queued} thư chờ gửi"
    ]
    lines += [
        f"  mở việc #{i}: {title(ob, i)} — {unit}, {period_words(period)}"
        for i, ob, unit, period in report.opened
    ]
    if report.held:
        waived = len(report.superseded)
        lines.append(
            f"  giữ lại {len(report.held) - waived} việc có hạn trước ngày vận hành, chưa hoàn "
            "thành (không gửi thư), chờ cơ quan thường trực xử lý bằng `cchc triage`"
            + (f"; tự động miễn {waived} báo cáo đã có báo cáo kỳ sau thay thế" if waived else "")
        )
    where = (lambda i: f"[{report.communes.get(i, '')}] ") if city.is_city else (lambda i: "")
    lines += [
        f"  {where(i)}việc #{i} → {step_label(step)} (trạng thái: {ItemStatus(status).label})"
        for i, step, status in report.advanced
    ]
    return "\n".join(lines)
