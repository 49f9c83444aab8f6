"""The `cchc` command line. Read-only commands never import Prefect: they answer in well under a
second. "Now" enters here (`--at`), nowhere deeper."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import click

from cchc.dberrors import database_errors
from cchc.output import Column, render
from flows.settings import Settings
from schedules.dates import local_date, parse_date, parse_instant, vn_date, vn_datetime
from schedules.vocabulary import ItemStatus, MailKind, OutboxStatus


class Parsed(click.ParamType):
    """A value parsed at the edge by one of schedules.dates' parsers, with its own message."""

    def __init__(self, name: str, parse):
        self.name, self.parse = name, parse

    def convert(self, value, param, ctx):
        try:
            return value if not isinstance(value, str) else self.parse(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DATE = Parsed("DATE", parse_date)
INSTANT = Parsed("DATETIME", parse_instant)
at_option = click.option(
    "--at",
    type=INSTANT,
    default=None,
    help="Instant to act as of (ISO 8601; no offset means Asia/Ho_Chi_Minh). Default: now.",
)


class App:
    """What the commands share: settings, and the communes' plans and database loaded on first
    use. `--commune` (on every command) narrows the communes a command acts on."""

    def __init__(self, settings: Settings):
        self.settings = settings

    read_only: bool = False
    """Set by the read-only commands on the database: while the config on disk is invalid they
    answer with the last valid config applied to the database (an admin is mid-edit)."""
    commune: str | None = None
    """`--commune CODE`: only this commune; None: all of them (or the only one)."""

    @cached_property
    def city(self):
        """Every commune of the config folder (a single commune's folder, or a city's)."""
        from schedules.city import load_city
        from schedules.yamlsource import ConfigInvalid

        try:
            city = load_city(self.settings.config_dir)
        except ConfigInvalid as exc:
            for issue in exc.issues:
                click.echo(str(issue), err=True)
            click.echo(
                f"config invalid: {len(exc.issues)} error(s) (cấu hình không hợp lệ)", err=True
            )
            fallback = self._last_valid_city() if self.read_only else None
            if fallback is None:
                sys.exit(1)
            city = fallback
        if self.commune is not None and not city.knows(self.commune):
            fail(f"unknown commune '{self.commune}' (xã không tồn tại); known: {known(city)}")
        return city

    @property
    def plans(self) -> list:
        """The plans a command acts on: the --commune's, or every commune's."""
        return self.city.select(self.commune)

    @property
    def plan(self):
        """The one commune a command acts on: the --commune's, or the only one."""
        plans = self.plans
        if len(plans) > 1:
            count = len(self.city.plans)
            fail(
                f"this config serves {count} communes: give --commune CODE (cấu hình có {count} "
                f"xã: chọn một xã bằng --commune); known: {known(self.city)}"
            )
        return plans[0]

    def tagged(self, plan) -> dict:
        """A row's commune, for a city's rows (a single commune's rows stay as they were)."""
        return {"commune": plan.commune.code} if self.city.is_city else {}

    def columns(self, columns: list[Column]) -> list[Column]:
        """A table's columns, with the commune first for a city."""
        return [Column("commune", "Xã"), *columns] if self.city.is_city else columns

    def item_plan(self, item_id: int, engine):
        """The plan of the commune an item belongs to (the --commune's when given: an item of
        another commune is then refused as unknown)."""
        if self.commune is not None or len(self.city.plans) == 1:
            return self.plan
        from models.store import communes_of

        found = communes_of(engine, [item_id])
        return self.city.plan_of(next(iter(found), "")) or self.plans[0]

    def _last_valid_city(self):
        """The config the last writing command applied to the database, loaded from its copy
        there; None when the database holds none."""
        import atexit
        import shutil
        import tempfile

        from models.snapshots import last_config
        from schedules.city import load_city

        snapshot = last_config(self.reader)
        if snapshot is None:
            return None
        folder = Path(tempfile.mkdtemp(prefix="cchc-config-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        for name, text in snapshot.files.items():
            relative = Path(name)
            if relative.is_absolute() or ".." in relative.parts:
                continue
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_text(text, encoding="utf-8")
        click.echo(
            f"warning: using the last valid config applied to the database "
            f"({vn_datetime(snapshot.saved_at)}) until the errors above are fixed "
            "(dùng cấu hình hợp lệ gần nhất cho đến khi sửa xong các lỗi trên)",
            err=True,
        )
        return load_city(folder)

    @cached_property
    def engine(self):
        """The database for commands that write: its schema is brought up to date first, and
        the config they apply is kept there as the last valid one (see `_last_valid_city`)."""
        from models.db import ensure_schema, make_engine
        from models.snapshots import remember_config

        city = self.city
        engine = make_engine(self.settings.database_url)
        ensure_schema(engine)
        files = {
            str(p.relative_to(city.folder)): p.read_text(encoding="utf-8") for p in city.files()
        }
        remember_config(engine, city.code, files, datetime.now(UTC))
        return engine

    @cached_property
    def reader(self):
        """The database for read-only commands: never created nor migrated by them."""
        from models.db import current_revision, make_engine, sqlite_path

        path = sqlite_path(self.settings.database_url)
        engine = None if path and not path.exists() else make_engine(self.settings.database_url)
        if engine is None or current_revision(engine) is None:
            fail("the database is not initialised: run `cchc init-db` (chưa khởi tạo CSDL)")
        return engine


def known(city) -> str:
    """The codes --commune takes: the communes', and the city office's."""
    office = f"; the city office: {city.office.commune.code}" if city.office else ""
    return ", ".join(city.plans) + office


def now_or(at: datetime | None) -> datetime:
    return at or datetime.now(UTC)


def tell_prefect(app: App, kind: str, item_id: int, at: datetime) -> None:
    """After a command changed an item: its event and fresh status tables in the Prefect UI
    (`flows.status`); nothing, and no Prefect import, without a server (PREFECT_API_URL)."""
    from flows.status import item_changed

    plan = app.item_plan(item_id, app.engine)
    item_changed(plan, app.engine, app.settings, kind, [item_id], at, city=app.city)


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
        fail(f"settings: {exc}")


pass_app = click.make_pass_decorator(App)


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def user_errors(func):
    """Run a command; a refused request prints its reason and exits 1 (nothing was changed)."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from usecases.errors import UserError

        try:
            return func(*args, **kwargs)
        except UserError as exc:
            fail(str(exc))

    return wrapper


def known_unit(app: App, unit: str | None) -> None:
    """A --unit filter must name a unit of one of the communes: exit 1 otherwise."""
    if unit is not None and not any(unit in plan.units for plan in app.plans):
        fail(f"unknown unit '{unit}' (đơn vị không tồn tại)")


@contextmanager
def working(text: str):
    """While a long command works, a status line on stderr ("- Đang rà soát… 12 giây"), cleared
    at the end. Only when stderr is a terminal: scripts and tests see the same output."""
    if not sys.stderr.isatty():
        yield
        return
    import itertools
    import threading
    import time

    done, start = threading.Event(), time.monotonic()

    def spin() -> None:
        for frame in itertools.cycle("-\\|/"):
            sys.stderr.write(f"\r\033[K{frame} {text} {int(time.monotonic() - start)} giây")
            sys.stderr.flush()
            if done.wait(0.2):
                break
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    try:
        yield
    finally:
        done.set()
        spinner.join()


TITLE_WIDTH = 60
"""Characters of an obligation's title in a table (its "Nhiệm vụ" column)."""


def short_title(title: str) -> str:
    from notifications.views import shorten

    return shorten(title or "", TITLE_WIDTH)


def period_words(key: str) -> str:
    """ "2027-Q1" → "quý I năm 2027", as the mails say it."""
    from notifications.views import period_label

    return period_label(key)


@main.command()
@pass_app
def check(app: App) -> None:
    """Validate the config (every commune of a city); print FILE:LINE: message for each error.
    Writes nothing."""
    from notifications.preview import check_mail
    from notifications.render import renderer_for
    from schedules.city import calendar_warnings

    city, now = app.city, now_or(None)
    plans = app.plans
    warnings = [w for w in city.warnings if app.commune is None or app.commune in str(w)]
    for warning in warnings + calendar_warnings(city, local_date(now, plans[0].zone)):
        click.echo(str(warning), err=True)
    # The templates are a city's (or a commune's own): render them once per template set.
    by_templates = {id(renderer_for(p.folder, p.city_folder)): p for p in reversed(plans)}
    problems = [
        p for plan in by_templates.values() for p in check_mail(plan, app.settings.smtp.sender, now)
    ]
    for problem in dict.fromkeys(str(p) for p in problems):
        click.echo(problem, err=True)
    if problems:
        click.echo(
            f"mail templates invalid: {len(problems)} error(s) (mẫu thư không hợp lệ)", err=True
        )
        sys.exit(1)
    if not city.is_city:
        plan = plans[0]
        click.echo(
            f"OK: {len(plan.units)} units, {len(plan.obligations)} obligations "
            f"({len(plan.schedules)} scheduled) in {plan.folder}; every mail template renders"
        )
        return
    communes = [plan for plan in plans if plan is not city.office]
    units = sum(len(plan.units) for plan in communes)
    obligations = sum(len(plan.obligations) for plan in communes)
    reports = len(city.office.obligations) if city.office in plans else 0
    click.echo(
        f"OK: city {city.code}, communes: {len(communes)}, units: {units}, obligations: "
        f"{obligations}, the city office's reports: {reports}, in {city.folder}; every mail "
        "template renders"
    )


@main.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None)
@click.option("--city", is_flag=True, help="The schema of a city's city.yaml instead.")
def schema(output: str | None, city: bool) -> None:
    """Export the JSON Schema of the config files (for editors and standard validators)."""
    from cchc.schema import config_schema

    text = json.dumps(config_schema(city), ensure_ascii=False, indent=2) + "\n"
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


PLAN_COLUMNS = [
    Column("due", "Hạn"),
    Column("period", "Kỳ", period_words),
    Column("title", "Nhiệm vụ", short_title),
    Column("unit", "Đơn vị"),
    Column("window_start", "Số liệu từ"),
    Column("window_end", "đến"),
    Column("opens", "Mở"),
    Column("basis", "Căn cứ"),
]


@main.command("plan")
@click.option("--from", "first", type=DATE, required=True)
@click.option("--to", "last", type=DATE, required=True)
@click.option("--unit", default=None)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
@pass_app
def plan_cmd(app: App, first, last, unit, fmt) -> None:
    """Every occurrence due between --from and --to (every commune's, in a city)."""
    if last < first:
        fail("--to is before --from")
    known_unit(app, unit)
    rows = [
        app.tagged(plan)
        | {
            "obligation": o.obligation,
            "title": plan.obligations[o.obligation].title,
            "kind": plan.obligations[o.obligation].kind,
            "unit": o.unit,
            "period": o.period.key,
            "window_start": o.period.window_start,
            "window_end": o.period.window_end,
            "opens": o.opens,
            "due": o.due.due,
            "nominal_due": o.due.nominal,
            "basis": o.due.basis,
            "ref": plan.obligations[o.obligation].ref,
        }
        for plan in app.plans
        for o in plan.occurrences(first, last, unit=unit)
    ]
    if len(app.plans) > 1:
        rows.sort(key=lambda r: (r["due"], r["commune"]))
    columns = app.columns(PLAN_COLUMNS) if fmt == "table" else _all_columns(rows)
    click.echo(render(rows, fmt, columns))


def _all_columns(rows: list[dict]) -> list[Column]:
    return [Column(k, k) for k in (rows[0] if rows else {})]


class LazyChoice(click.Choice):
    """A choice whose values are read on first use: the config's vocabulary loads pydantic, which
    the commands that do not read the config never need."""

    def __init__(self, load) -> None:
        self._load, self.case_sensitive = load, True

    @cached_property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(self._load())


def obligation_kinds() -> tuple[str, ...]:
    from typing import get_args

    from schedules.config import ObligationKind

    return get_args(ObligationKind)


OBLIGATION_FIELDS = [
    "id",
    "ref",
    "title",
    "kind",
    "lead",
    "coordinators",
    "timing",
    "product",
    "description",
    "tracking",
    "reported_in",
    "consolidates",
    "next_due",
]


def _units_cell(codes: list[str]) -> str:
    """A list of units in a table cell: the codes, or their count when there are many."""
    return ", ".join(codes) if len(codes) <= 2 else f"{len(codes)} đơn vị"


def _short_ref(ref: str) -> str:
    """ "Phụ lục mục II.2, ý 1" → "PL II.2, ý 1"; "Mục V.1; Mục V.2.a" → "KH V.1; V.2.a"."""
    for long, short in (("Phụ lục mục ", "PL "), ("Mục ", "KH ")):
        if ref.startswith(long):
            return short + "; ".join(p.strip().removeprefix(long) for p in ref.split(";"))
    return ref


def _obligation_columns() -> list[Column]:
    from notifications.views import shorten
    from schedules.catalogue import KIND_LABELS

    return [
        Column("ref", "Mục", _short_ref),
        Column("title", "Nhiệm vụ", lambda title: shorten(title, 30)),
        Column("kind", "Loại", lambda kind: KIND_LABELS.get(kind, kind)),
        Column("lead", "Chủ trì", _units_cell),
        Column("coordinators", "Phối hợp", _units_cell),
        Column("next_due", "Hạn tới"),
    ]


@main.command("obligations")
@click.option("--unit", default=None, help="Only what this unit leads or coordinates.")
@click.option("--kind", type=LazyChoice(obligation_kinds), default=None)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
@at_option
@pass_app
def obligations_cmd(app: App, unit, kind, fmt, at) -> None:
    """Every obligation of the plan, standing and ad hoc ones included, with its units (ALL
    expanded), how it is tracked and its next due date on or after the --at day."""
    from schedules.catalogue import obligation_rows

    known_unit(app, unit)
    rows = [
        app.tagged(plan) | row
        for plan in app.plans
        for row in obligation_rows(plan, local_date(now_or(at), plan.zone))
        if (kind is None or row["kind"] == kind)
        and (unit is None or unit in row["lead"] + row["coordinators"])
    ]
    if fmt == "csv":
        rows = [{k: " ".join(v) if isinstance(v, list) else v for k, v in r.items()} for r in rows]
    fields = ([] if not app.city.is_city else ["commune"]) + OBLIGATION_FIELDS
    columns = (
        app.columns(_obligation_columns()) if fmt == "table" else [Column(k, k) for k in fields]
    )
    click.echo(render(rows, fmt, columns))


@main.command("init-db")
@pass_app
def init_db(app: App) -> None:
    """Create or upgrade the database schema; refused while the config is invalid."""
    app.city  # noqa: B018  (prints the config's errors and exits 1 when it is invalid)
    app.engine  # noqa: B018  (ensure_schema runs on first use)
    click.echo(f"database ready: {app.settings.database_url}")


@main.command("sweep")
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
        from flows.mail import deliver_communes
        from notifications.delivery import describe_delivery

        with working("Đang gửi thư…"):
            delivered = deliver_communes(app.plans, app.engine, app.settings, when)
        click.echo(describe_delivery(delivered))


def describe_sweep(report, city) -> str:
    """What a sweep did, in Vietnamese: the counts, then one line per item opened or moved
    (with its commune, in a city)."""
    from notifications.views import item_status_label, step_label

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
    where = (lambda i: f"[{report.communes.get(i, '')}] ") if city.is_city else (lambda i: "")
    lines += [
        f"  {where(i)}việc #{i} → {step_label(step)} (trạng thái: {item_status_label(status)})"
        for i, step, status in report.advanced
    ]
    return "\n".join(lines)


def item_columns(today) -> list[Column]:
    """The table of `cchc items`; the status as of `today` (trong hạn, đến hạn, quá hạn, ...)."""
    from notifications.views import item_status_label

    def status(row: dict) -> str:
        return item_status_label(row["status"], row["due"], today, row["escalation_level"])

    return [
        Column("id", "ID"),
        Column("title", "Nhiệm vụ", short_title),
        Column("unit", "Đơn vị"),
        Column("period", "Kỳ", period_words),
        Column("status", "Trạng thái", status, of_row=True),
        Column("due", "Hạn"),
        Column("opened_at", "Mở lúc"),
        Column("closed_at", "Đóng lúc"),
        Column("on_time", "Đúng hạn"),
        Column("mail_failed", "Thư lỗi", lambda n: str(n or "")),
    ]


def item_row(item) -> dict:
    return {
        "id": item.id,
        "obligation": item.obligation,
        "title": item.title,
        "unit": item.unit,
        "period": item.period,
        "status": item.status,
        "due": item.due,
        "window_start": item.window_start,
        "window_end": item.window_end,
        "opened_at": item.opened_at,
        "closed_at": item.closed_at,
        "on_time": item.on_time,
        "escalation_level": item.escalation_level,
        "adhoc": item.adhoc,
        "waived_reason": item.waived_reason,
        "next_action_at": item.next_action_at,
    }


@main.command("items")
@click.option("--status", type=click.Choice([s.value for s in ItemStatus]), default=None)
@click.option("--unit", default=None)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@at_option
@pass_app
def items_cmd(app: App, status, unit, fmt, at) -> None:
    """Work items (all of them without --status); the table gives each one's state as of --at."""
    app.read_only = True
    from notifications.outbox import failed_counts
    from usecases.reporting import list_items

    known_unit(app, unit)
    rows = []
    for plan in app.plans:
        failed = failed_counts(plan, app.reader)
        rows += [
            app.tagged(plan) | item_row(i) | {"mail_failed": failed.get(i.id, 0)}
            for i in list_items(plan, app.reader, status, unit)
        ]
    zone = app.plans[0].zone
    columns = app.columns(item_columns(local_date(now_or(at), zone)))
    click.echo(render(rows, fmt, columns, zone))


@main.command("attach")
@click.argument("item_id", type=int)
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--by", default=None, help="Unit code of who hands it in.")
@click.option("--note", default=None)
@click.option(
    "--no-check",
    is_flag=True,
    help="Skip the content check of the web upload (accepted types, programs, macros).",
)
@at_option
@pass_app
@user_errors
def attach_cmd(app: App, item_id, file, by, note, no_check, at) -> None:
    """Attach a deliverable to an item and close it (as a `cchc-close` Prefect flow run when a
    Prefect server is configured: PREFECT_API_URL). FILE must be a regular file (no link, no
    FIFO or device); its content is checked as a web upload's unless --no-check."""
    from flows.control import prefect_server_configured

    plan = app.item_plan(item_id, app.engine)
    with attachable(file, app.settings.data_dir, check=not no_check) as copy:
        if prefect_server_configured():
            from flows.prefect_flows import close_flow, use_runtime

            use_runtime(app.city, app.engine, app.settings)
            done = close_flow(item_id, str(copy), by=by, note=note, at=now_or(at))
        else:
            from usecases.review import attach

            done = attach(
                plan, app.engine, app.settings.data_dir, item_id, copy, now_or(at), by=by,
                note=note,
            )  # fmt: skip
    item, deliverable = done.item, done.files[0]
    verdict = {True: "on time (đúng hạn)", False: "late (quá hạn)", None: ""}[item.on_time]
    click.echo(
        f"item {item.id}: {item.status} {verdict}; deliverable v{deliverable.version} "
        f"{deliverable.original_name} sha256 {deliverable.sha256}"
    )
    deliver_queued(app, item.id, now_or(at))


def deliver_queued(app: App, item_id: int, at: datetime) -> None:
    """Deliver at once the mail a command just queued for the item (due at `at`), instead of
    leaving it to the next sweep; what the server does not take is retried by the engine."""
    from flows.mail import deliver_items
    from notifications.delivery import describe_delivery

    with working("Đang gửi thư…"):
        plan = app.item_plan(item_id, app.engine)
        report = deliver_items(plan, app.engine, app.settings, [item_id], at)
    click.echo(describe_delivery(report))


@contextmanager
def attachable(file: Path, data_dir: Path, check: bool):
    """A private copy of FILE (same name, under the data dir's `incoming/`), removed afterwards.

    The copy is read through one descriptor opened without following a symbolic link and
    without blocking, and only when that descriptor is a regular file: a link (to the password
    file, say) is refused, a FIFO cannot hang the command, and the bytes checked are the bytes
    stored. `check`: refuse what the web upload refuses (cchc.intake.filetypes)."""
    import errno
    import os
    import shutil
    import stat
    import tempfile

    from usecases.errors import UserError

    try:
        fd = os.open(file, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UserError(
                f"{file} is a symbolic link: attach the file itself (là liên kết, không phải tệp)"
            ) from None
        raise UserError(f"cannot read {file}: {exc.strerror} (không đọc được tệp)") from None
    with os.fdopen(fd, "rb") as source:
        mode = os.fstat(source.fileno()).st_mode
        if stat.S_ISDIR(mode):
            raise UserError(f"{file} is a folder, not a file (không phải tệp)")
        if not stat.S_ISREG(mode):
            raise UserError(
                f"{file} is not a regular file (FIFO, device or socket) (không phải tệp thường)"
            )
        os.set_blocking(source.fileno(), True)
        incoming = Path(data_dir) / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(dir=incoming, prefix=".attach-"))
        copy = folder / (file.name or "tep")
        with open(copy, "xb") as out:
            shutil.copyfileobj(source, out)
    try:
        if check:
            _check_content(file, copy)
        yield copy
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _check_content(file: Path, copy: Path) -> None:
    """UserError when the web upload would refuse this file."""
    from cchc.intake import filetypes
    from usecases.errors import UserError

    try:
        filetypes.sniff(copy)
    except filetypes.Refused as exc:
        raise UserError(f"{file}: {exc.message} (refused; --no-check attaches it anyway)") from None


@main.command("receive")
@click.argument("item_id", type=int)
@click.option(
    "--doc", "number", required=True, help='Number and symbol of the document, e.g. "12/BC-CAX".'
)
@click.option("--date", "day", type=DATE, default=None, help="Its date (default: the --at day).")
@click.option("--by", default=None, help="Unit code of who sent it (default: the item's unit).")
@at_option
@pass_app
@user_errors
def receive_cmd(app: App, item_id, number, day, by, at) -> None:
    """The product came through the document-management system: record the document (number
    and date, no file) and close the item; on time is judged by the document's date."""
    from usecases.lifecycle import receive_document

    plan = app.item_plan(item_id, app.engine)
    done = receive_document(plan, app.engine, item_id, number, day, now_or(at), by=by)
    item, version = done.item, done.deliverable
    verdict = {True: "on time (đúng hạn)", False: "late (quá hạn)", None: ""}[item.on_time]
    again = "" if done.created else " (đã ghi nhận trước đó)"
    click.echo(
        f"item {item.id}: {item.status} {verdict}; deliverable v{version.version} "
        f"{version.document}{again}"
    )
    deliver_queued(app, item.id, now_or(at))
    if done.closed_item:
        tell_prefect(app, "closed", item.id, now_or(at))


@main.command("waive")
@click.argument("item_id", type=int)
@click.option("--reason", required=True)
@at_option
@pass_app
@user_errors
def waive_cmd(app: App, item_id, reason, at) -> None:
    """Waive an open item, with a reason."""
    from usecases.lifecycle import waive

    item = waive(app.item_plan(item_id, app.engine), app.engine, item_id, reason, now_or(at))
    click.echo(f"item {item.id}: waived ({item.waived_reason})")
    tell_prefect(app, "waived", item.id, now_or(at))


@main.command("open")
@click.option("--obligation", required=True)
@click.option("--unit", required=True)
@click.option("--due", type=DATE, required=True)
@at_option
@pass_app
@user_errors
def open_cmd(app: App, obligation, unit, due, at) -> None:
    """Open an ad hoc item (a directive arrived)."""
    from usecases.lifecycle import open_ad_hoc

    item = open_ad_hoc(app.plan, app.engine, obligation, unit, due, now_or(at))
    moved = item.nominal_due != item.due
    click.echo(
        f"item {item.id}: opened {item.obligation} {item.unit} due {vn_date(item.due)}"
        + (f" ({app.plan.day_off_note(item.nominal_due, item.due)})" if moved else "")
    )
    deliver_queued(app, item.id, now_or(at))


REPORT_COLUMNS = [
    Column("unit", "Đơn vị"),
    Column("name", "Tên"),
    Column("due", "Đến hạn"),
    Column("on_time", "Đúng hạn"),
    Column("late", "Quá hạn (đã nộp)"),
    Column("overdue_open", "Quá hạn (chưa nộp)"),
    Column("pending", "Trong hạn"),
    Column("on_time_rate", "Tỷ lệ đúng hạn"),
]


@main.command("report")
@click.option("--year", type=click.IntRange(2000, 2100), required=True)
@click.option(
    "--by",
    type=click.Choice(["unit", "commune"]),
    default="unit",
    show_default=True,
    help="unit: a commune's units (its scorecard); commune: the city's league table of its "
    "communes (the city office's view before the PAR INDEX appraisal).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "csv", "xlsx"]), default="table"
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the report to FILE (required with --format xlsx).",
)
@click.option(
    "--chart",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the chart of on-time rate per unit and quarter (per commune with --by "
    "commune) (PNG) to FILE.",
)
@at_option
@pass_app
def report_cmd(app: App, year, by, fmt, output, chart, at) -> None:
    """Per unit: items due in the year, closed on time, late, open overdue, on-time rate.
    `--by commune`: the same per commune of a city, ranked, with escalations and the rate per
    quarter. `--format xlsx` writes the workbook (table, per quarter, chart)."""
    app.read_only = True
    if fmt == "xlsx" and output is None:
        fail("--format xlsx needs --output FILE")
    if by == "commune":
        from usecases.league import COLUMNS, league, league_png, league_xlsx

        with working("Đang lập bảng xếp hạng…"):
            sheet = league(app.city, app.reader, year, now_or(at))
        rows, draw, workbook = sheet.rows(), league_png, league_xlsx
        columns = [Column(key, header) for key, header in COLUMNS]
    elif fmt == "xlsx" or chart is not None:
        from usecases.scorecard import build_scorecard, scorecard_png, scorecard_xlsx

        with working("Đang lập bảng điểm…"):
            sheet = build_scorecard(app.plan, app.reader, year, now_or(at))
        rows, draw, workbook = sheet.rows(), scorecard_png, scorecard_xlsx
    else:
        from usecases.reporting import year_report

        rows = [r.as_dict() for r in year_report(app.plan, app.reader, year, now_or(at))]
    if by == "unit":
        columns = REPORT_COLUMNS + ([] if fmt == "table" else [Column("waived", "waived")])
    png = draw(sheet) if fmt == "xlsx" or chart is not None else None
    if chart is not None:
        chart.write_bytes(png)
    if fmt == "xlsx":
        output.write_bytes(workbook(sheet, png))
        what = "league" if by == "commune" else "scorecard"
        click.echo(f"{what} {year}: {output}" + (f", chart {chart}" if chart else ""))
        return
    text = render(rows, fmt, columns, app.plans[0].zone)
    if output is not None:
        output.write_text(text + "\n", encoding="utf-8")
    else:
        click.echo(text)


@main.command("run")
@pass_app
@user_errors
def run_cmd(app: App) -> None:
    """The engine: an APScheduler clock runs each obligation's opening flow at its opening
    instants and the sweep flow each working-day morning, as Prefect flow runs recorded in the
    server PREFECT_API_URL names (`make run` starts one). SIGHUP / `cchc reload` re-reads the
    config; SIGTERM / SIGINT stop."""
    from flows.engine import run_engine
    from flows.settings import SecretMissing

    try:
        app.settings.link_secret()  # the mails carry signed links: no key, no start
    except SecretMissing as exc:
        fail(str(exc))
    run_engine(app.city, app.engine, app.settings)


@main.command("deploy")
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


@main.command("reload")
@pass_app
@user_errors
def reload_cmd(app: App) -> None:
    """Check the config, then make the running engine (`cchc run`) re-read it (SIGHUP). An
    invalid config is refused here and the engine keeps the one it runs."""
    from flows.control import request_reload

    city = app.city  # exits with the errors when the config is invalid
    pid = request_reload(app.settings, city)
    click.echo(f"reload requested: engine pid {pid}, config {city.folder}")


@main.command("serve-intake")
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Default 8080.")
@pass_app
def serve_intake_cmd(app: App, host, port) -> None:
    """The intake web app: units hand in deliverables through the signed links of their mails;
    the standing office accepts or returns them. Links carry CCHC_PUBLIC_URL."""
    from flows.settings import DEFAULT_INTAKE_HOST, DEFAULT_INTAKE_PORT, SecretMissing

    try:
        app.settings.link_secret()
    except SecretMissing as exc:
        fail(str(exc))
    import uvicorn

    from cchc.intake import create_app
    from cchc.intake.app import log_config
    from flows.mail import Courier

    web = create_app(
        app.city, app.engine, app.settings, courier=Courier(app.city, app.engine, app.settings)
    )
    host = host or DEFAULT_INTAKE_HOST
    port = port or DEFAULT_INTAKE_PORT
    click.echo(f"intake on http://{host}:{port} (links: {app.settings.intake.base_url})")
    uvicorn.run(
        web, host=host, port=port, log_config=log_config(), log_level="info", server_header=False
    )


@main.command("link")
@click.argument("item_id", type=int, required=False)
@click.option("--office", is_flag=True, help="The standing office's review page instead.")
@at_option
@pass_app
@user_errors
def link_cmd(app: App, item_id, office, at) -> None:
    """Print the signed intake link of an item (for its unit), or the office's (--office)."""
    app.read_only = True
    from flows.settings import SecretMissing
    from notifications.links import item_link, office_link

    if (item_id is None) == (not office):
        fail("give ITEM_ID or --office")
    try:
        if office:
            scope = app.commune or app.city.code
            click.echo(office_link(app.settings, scope, now_or(at)))
            return
        from models.db import transaction
        from usecases.lifecycle import get_item

        with transaction(app.reader) as session:
            item = get_item(session, app.item_plan(item_id, app.reader), item_id)
        click.echo(item_link(app.settings, item.id, item.unit, now_or(at)))
    except SecretMissing as exc:
        fail(str(exc))


def _kind(kind: str) -> str:
    from notifications.views import kind_label

    return kind_label(kind)


def _step(step: str) -> str:
    from notifications.views import step_label

    return step_label(step)


def _outbox_status(status: str) -> str:
    from notifications.views import outbox_status_label

    return outbox_status_label(status)


OUTBOX_COLUMNS = [
    Column("id", "ID"),
    Column("item_id", "Nhiệm vụ"),
    Column("unit", "Đơn vị"),
    Column("kind", "Loại", _kind),
    Column("step", "Bước", _step),
    Column("recipient", "Người nhận"),
    Column("status", "Trạng thái", _outbox_status),
    Column("attempts", "Lần gửi"),
    Column("send_after", "Gửi từ"),
    Column("sent_at", "Đã gửi lúc"),
    Column("last_error", "Lỗi"),
]


@main.command("outbox")
@click.option("--status", type=click.Choice([s.value for s in OutboxStatus]))
@click.option("--item", "item_id", type=int, default=None)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_app
@user_errors
def outbox_cmd(app: App, status, item_id, fmt) -> None:
    """The outbox: every notification queued, sent, failed or cancelled."""
    app.read_only = True
    from notifications.outbox import list_outbox

    plans = app.plans
    if item_id is not None:  # an item of these communes, or exit 1
        from models.db import transaction
        from usecases.lifecycle import get_item

        plans = [app.item_plan(item_id, app.reader)]
        with transaction(app.reader) as session:
            get_item(session, plans[0], item_id)
    rows = [
        app.tagged(plan) | row
        for plan in plans
        for row in list_outbox(plan, app.reader, status, item_id)
    ]
    click.echo(render(rows, fmt, app.columns(OUTBOX_COLUMNS), plans[0].zone))


@main.command("send")
@at_option
@pass_app
@database_errors
def send_cmd(app: App, at) -> None:
    """Deliver every pending mail now, waiting for its next retry or not ("retry now")."""
    from flows.mail import deliver_communes
    from notifications.delivery import describe_delivery

    with working("Đang gửi thư…"):
        report = deliver_communes(app.plans, app.engine, app.settings, now_or(at), force=True)
    click.echo(describe_delivery(report))


@main.command("preview")
@click.argument("item_id", type=int)
@click.option(
    "--kind",
    required=True,
    type=click.Choice([k.value for k in MailKind]),
)
@click.option("--to", "recipient", default=None, help="Render for this address.")
@click.option("--format", "fmt", type=click.Choice(["text", "html", "eml"]), default="text")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None)
@click.option(
    "--at",
    type=INSTANT,
    default=None,
    help="Render as of this instant (ISO 8601). Default: when the notice is due (its step's "
    "instant, the item's opening or closing), not the machine clock.",
)
@pass_app
@user_errors
def preview_cmd(app: App, item_id, kind, recipient, fmt, output, at) -> None:
    """Render an item's mail of --kind to stdout or a file, without sending it."""
    app.read_only = True
    from notifications.links import intake_linker
    from notifications.preview import describe_mail, preview_mail

    mail = preview_mail(
        app.item_plan(item_id, app.reader),
        app.reader,
        item_id,
        kind,
        at,
        app.settings.smtp.sender,
        recipient,
        link=intake_linker(app.settings),
    )
    data = describe_mail(mail, fmt)
    if output:
        Path(output).write_bytes(data)
        click.echo(f"written {output}")
    else:
        click.echo(data.decode(errors="replace"), nl=not data.endswith(b"\n"))


@main.command("return")
@click.argument("item_id", type=int)
@click.option("--reason", required=True, help="Why the deliverable is refused.")
@click.option("--due", type=DATE, required=True, help="New due date.")
@at_option
@pass_app
@user_errors
def return_cmd(app: App, item_id, reason, due, at) -> None:
    """Return a closed item's deliverable for correction: reopen it with a new due date and
    mail the unit."""
    from usecases.lifecycle import return_deliverable
    from usecases.review import return_version, versions

    plan = app.item_plan(item_id, app.engine)
    handed_in = versions(app.engine, item_id)
    if handed_in:  # the newest version is marked returned, as on the office's page
        item = return_version(
            plan, app.engine, item_id, max(handed_in), reason, due, now_or(at), actor="admin"
        )
    else:
        item = return_deliverable(plan, app.engine, item_id, reason, due, now_or(at))
    click.echo(f"item {item.id}: returned, open again until {vn_date(item.due)}")
    deliver_queued(app, item.id, now_or(at))
    tell_prefect(app, "returned", item.id, now_or(at))


@main.command("new-config")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--commune", "code", required=True, help="Short code, e.g. phuongnam.")
@click.option("--name", required=True, help='e.g. "Ủy ban nhân dân xã Phương Nam".')
@click.option(
    "--year",
    type=click.IntRange(2000, 2100),
    default=None,
    help="First year of the plan (default: this year); it runs five years, to YEAR+4.",
)
def new_config_cmd(folder: Path, code: str, name: str, year: int | None) -> None:
    """Write a commented config skeleton into FOLDER (new or empty) for another commune: the
    commune, two units, the calendar, one obligation of each schedule form and the schema for
    the editor. It passes `cchc check` as written; edit it from there."""
    from cchc.newconfig import write_config
    from schedules.dates import VN_ZONE

    try:
        written = write_config(folder, code, name, year or datetime.now(VN_ZONE).year)
    except ValueError as exc:
        fail(str(exc))
    for path in written:
        click.echo(f"written {path}")
    click.echo(f"next: edit the TODO values, then `cchc --config {folder} check`")


def _select_commune(ctx: click.Context, param, value: str | None) -> None:
    if value is not None:
        ctx.find_object(App).commune = value


for _name, _command in main.commands.items():
    if _name not in ("schema", "new-config"):  # new-config's --commune names the new commune
        _command.params.append(
            click.Option(
                ["--commune"],
                metavar="CODE",
                expose_value=False,
                callback=_select_commune,
                help="Only this commune of a city's config (default: every commune).",
            )
        )


if __name__ == "__main__":
    main()
