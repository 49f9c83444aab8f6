"""What the command groups share: the `App` the commands are given (settings, the communes'
plans, the database), the parameter types parsed at the edge, how a command fails, and the
status line of long commands. Light at import, as the read-only commands need (see
`cchc.cli`)."""

from __future__ import annotations

import errno
import sys
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import click

from cchc.cli.output import Column
from cchc.runtime.settings import Settings
from schedules.dates import parse_date, parse_instant, vn_datetime


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
    record_scope: bool = False
    """Set by `init-db`: communes new to the database are recorded (`usecases.served`)."""
    rebind: bool = False
    """`init-db --rebind`: a database stamped for another code is re-stamped for this one."""
    served = None
    """What `usecases.served.check_served` found when the writing database was opened."""

    strict: bool = False
    """Set by `check`: a broken commune is an error, never quarantined (`cchc.cli.quarantine`)."""

    @cached_property
    def city(self):
        """Every commune of the config folder (a single commune's folder, or a city's), compiled
        (`schedules.compiled`); a city's broken communes quarantined (`cchc.cli.quarantine`)
        unless `strict`."""
        from schedules.compiled import load_compiled
        from schedules.yamlsource import ConfigInvalid

        try:
            if self.strict:
                city = load_compiled(self.settings.config_dir, self.settings.config_cache)
            else:
                from cchc.cli.quarantine import serving_city

                city = serving_city(
                    self.settings.config_dir, self.settings.database_url, self.settings.config_cache
                )
        except ConfigInvalid as exc:
            for issue in exc.issues:
                click.echo(str(issue), err=True)
            click.echo(f"Cấu hình không hợp lệ: {len(exc.issues)} lỗi", err=True)
            if self.strict:
                from cchc.cli.quarantine import quarantine_hint

                quarantine_hint(self.settings.config_dir, exc)
            fallback = self._last_valid_city() if self.read_only else None
            if fallback is None:
                sys.exit(1)
            city = fallback
        if self.commune is not None and not city.knows(self.commune):
            paused = [q for q in city.quarantined if q.code == self.commune]
            if paused:
                fail(f"xã {self.commune} bị cách ly, {paused[0].runs_on()}: sửa lỗi cấu hình")
            fail(f"Không có xã mã '{self.commune}'; các mã có: {known(city)}")
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
                f"Cấu hình này có {count} xã: chọn một xã bằng --commune CODE; các mã có: "
                f"{known(self.city)}"
            )
        return plans[0]

    def tagged(self, plan) -> dict:
        """A row's commune, for a city's rows (a single commune's rows stay as they were)."""
        return {"commune": plan.commune.code} if self.city.is_city else {}

    def columns(self, columns: list[Column]) -> list[Column]:
        """A table's columns, with the commune first for a city."""
        if not self.city.is_city:
            return columns
        return [Column("commune", self.city.kinds.capitalize()), *columns]

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

        from models.snapshots import last_config, write_snapshot
        from schedules.city_loader import load_city

        snapshot = last_config(self.reader)
        if snapshot is None:
            return None
        folder = Path(tempfile.mkdtemp(prefix="cchc-config-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        write_snapshot(snapshot, folder)
        click.echo(
            "cảnh báo: dùng cấu hình hợp lệ gần nhất đã áp dụng vào cơ sở dữ liệu "
            f"({vn_datetime(snapshot.saved_at)}) cho đến khi sửa xong các lỗi trên",
            err=True,
        )
        return load_city(folder)

    @cached_property
    def engine(self):
        """The database for commands that write: its schema is brought up to date first, it
        must serve these communes (`usecases.served`: stamped on first use, a database of
        another city refused), and the config they apply is kept there as the last valid one
        (see `_last_valid_city`)."""
        from models.db import ensure_schema, make_engine
        from usecases.quarantine import remember_applied
        from usecases.served import WrongDatabase, check_served

        city = self.city
        engine = make_engine(self.settings.database_url)
        ensure_schema(engine)
        try:
            self.served = check_served(
                engine, city, datetime.now(UTC), record=self.record_scope, rebind=self.rebind
            )
        except WrongDatabase as exc:
            fail(str(exc))
        remember_applied(engine, city, datetime.now(UTC))
        return engine

    @cached_property
    def reader(self):
        """The database for read-only commands: never created nor migrated by them."""
        from models.db import current_revision, make_engine, sqlite_path

        path = sqlite_path(self.settings.database_url)
        engine = None if path and not path.exists() else make_engine(self.settings.database_url)
        if engine is None or current_revision(engine) is None:
            fail("Cơ sở dữ liệu chưa được khởi tạo: chạy `cchc init-db`")
        return engine


pass_app = click.make_pass_decorator(App)


def known(city) -> str:
    """The codes --commune takes: the communes', and the city office's."""
    office = f"; cơ quan thành phố: {city.office.commune.code}" if city.office else ""
    return ", ".join(city.plans) + office


def now_or(at: datetime | None) -> datetime:
    return at or datetime.now(UTC)


def fail(message: str) -> None:
    """Print a refusal ("lỗi: …", Vietnamese: docs/development.md) on stderr and exit 1."""
    click.echo(f"lỗi: {message}", err=True)
    sys.exit(1)


def user_errors(func):
    """Run a command; a refused request prints its reason and exits 1 (nothing was changed), as
    does a disk or a database that refuses a read or write (one line, no traceback)."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from sqlalchemy.exc import OperationalError

        from usecases.errors import StorageFull, UserError

        try:
            return func(*args, **kwargs)
        except StorageFull as exc:
            fail(disk_refused(exc.cause))
        except UserError as exc:
            fail(str(exc))
        except OperationalError as exc:  # the database's disk is full, or the server is down
            fail(
                f"database: {str(exc.orig).strip()} (lỗi cơ sở dữ liệu: không có gì được ghi nhận)"
            )
        except OSError as exc:
            if exc.errno not in DISK_ERRORS:
                raise
            fail(disk_refused(exc))  # the disk refused (full, read-only, a file-size limit)

    return wrapper


DISK_ERRORS = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EROFS,
    errno.EFBIG,
    errno.EIO,
    errno.EACCES,
    errno.EPERM,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.EEXIST,
    errno.ENOENT,
}
"""What a file system answers when it will not read or write a file."""


def disk_refused(exc: OSError) -> str:
    """One line for a file the system would not read or write: which, and why."""
    where = f"{exc.filename}: " if exc.filename else ""
    return (
        f"{where}{exc.strerror or exc} (lỗi đọc/ghi tệp: không có gì được ghi nhận; "
        "`cchc clean` dọn tệp dở dang)"
    )


def known_unit(app: App, unit: str | None) -> None:
    """A --unit filter must name a unit of one of the communes: exit 1 otherwise."""
    if unit is not None and not any(unit in plan.units for plan in app.plans):
        from usecases.errors import unknown_unit

        fail(str(unknown_unit(unit)))


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
    from notifications.phrases import shorten

    return shorten(title or "", TITLE_WIDTH)


def period_words(key: str) -> str:
    """ "2027-Q1" → "quý I năm 2027", as the mails say it."""
    from schedules.periods import period_label

    return period_label(key)
