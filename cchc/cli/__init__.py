"""The `cchc` command line: the `main` group, and the commands of each group registered on it.
"Now" enters here (`--at`), nowhere deeper.

One module per group of commands: `config` (check, schema, plan, obligations, new-config,
init-db), `items` (items, link), `lifecycle` (open, attach, receive, accept, waive, return),
`directives` (directive, extend, refuse-extension), `triage` (triage, triage reopen, triage
waive: what was held at go-live), `mail` (outbox, send, preview), `engine`
(run, deploy, reload, serve-intake, sweep), `reports` (report, overview), `indicators` (value,
indicators); `common` holds what they share (App, parameter types, fail, working).

The lazy-import rule, for every module of this package: importing `cchc.cli` imports every
group module, and the read-only commands (check, plan, items, obligations, report, schema,
outbox, preview, link) must answer in well under a second. So no module here imports Prefect,
APScheduler, the intake (FastAPI, uvicorn) or another heavy library (SQLAlchemy, pydantic,
openpyxl, matplotlib) at module level: each command imports what it needs inside its function,
and a read-only command never imports what loads Prefect or APScheduler (tests/test_cli.py
checks it; `python -X importtime -c "import cchc.cli"` shows what the package itself costs)."""

from __future__ import annotations

import click

from cchc.cli.common import App, fail
from cchc.cli.config import check, init_db, new_config_cmd, obligations_cmd, plan_cmd, schema
from cchc.cli.directives import directive_cmd, extend_cmd, refuse_extension_cmd
from cchc.cli.engine import deploy_cmd, reload_cmd, run_cmd, serve_intake_cmd, sweep_cmd
from cchc.cli.indicators import indicators_cmd, value_cmd
from cchc.cli.items import items_cmd, link_cmd
from cchc.cli.lifecycle import (
    accept_cmd,
    attach_cmd,
    open_cmd,
    receive_cmd,
    return_cmd,
    waive_cmd,
)
from cchc.cli.mail import outbox_cmd, preview_cmd, send_cmd
from cchc.cli.maintenance import clean_cmd
from cchc.cli.overview import overview_cmd
from cchc.cli.reports import report_cmd
from cchc.cli.triage import triage_cmd
from cchc.runtime.settings import Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Config folder (default $CCHC_CONFIG or ./config).",
)
@click.pass_context
def main(ctx: click.Context, config_dir: str | None) -> None:
    """cchc: recurring CCHC duties as work items, reminders and escalations."""
    try:
        ctx.obj = App(Settings.from_env(config_dir))
    except ValueError as exc:  # an unusable CCHC_* variable
        fail(f"Biến môi trường không dùng được: {exc}")


COMMANDS = [
    # config and plan
    check,
    schema,
    plan_cmd,
    obligations_cmd,
    new_config_cmd,
    init_db,
    clean_cmd,
    # items and their lifecycle
    items_cmd,
    open_cmd,
    attach_cmd,
    receive_cmd,
    accept_cmd,
    waive_cmd,
    return_cmd,
    link_cmd,
    # the office's daily work: directives and extensions
    directive_cmd,
    extend_cmd,
    refuse_extension_cmd,
    # what was held at go-live
    triage_cmd,
    # mail
    outbox_cmd,
    send_cmd,
    preview_cmd,
    # the engine and Prefect
    run_cmd,
    deploy_cmd,
    reload_cmd,
    serve_intake_cmd,
    sweep_cmd,
    # reports
    report_cmd,
    overview_cmd,
    # indicators
    value_cmd,
    indicators_cmd,
]


def _select_commune(ctx: click.Context, param, value: str | None) -> None:
    if value is not None:
        app = ctx.find_object(App)
        assert app is not None, "the main group makes the App first"
        app.commune = value


def _commune_option() -> click.Option:
    return click.Option(
        ["--commune"],
        metavar="CODE",
        expose_value=False,
        callback=_select_commune,
        help="Only this commune of a city's config (default: every commune).",
    )


for _command in COMMANDS:
    main.add_command(_command)
    if _command.name not in ("schema", "new-config"):  # new-config's --commune: the new one
        _command.params.append(_commune_option())
    if isinstance(_command, click.Group):  # `triage reopen --commune CODE` too
        for _sub in _command.commands.values():
            _sub.params.append(_commune_option())
