"""The command line's side of quarantine (`schedules.quarantine`): a command loads the city
with its broken communes set aside, says on stderr which commune is quarantined, why (FILE:LINE)
and on what config it runs, and goes on for the others. A command that wrote to the database
while a commune was quarantined then exits with `QUARANTINE_EXIT` (its work for the others is
done): a cron job or a systemd unit shows it as not clean, so the admin fixes the files."""

from __future__ import annotations

import click

QUARANTINE_EXIT = 3
"""The exit code of a writing command that did its work while some commune was quarantined
(1: refused, nothing done). systemd: `SuccessExitStatus=3` to accept it."""


def serving_city(config_dir, database_url: str, cache_dir=None):
    """The city, its broken communes quarantined on the database's last valid config (the
    database is only read, and only when a commune is broken); warns on stderr for each."""
    from schedules.quarantine import load_quarantined

    def last_valid():  # the database is opened only when some commune is broken
        from usecases.quarantine import last_valid_config

        return last_valid_config(_existing_engine(database_url))

    city = load_quarantined(config_dir, last_valid, cache_dir)
    for quarantined in city.quarantined:
        for line in quarantined.lines():
            click.echo(line, err=True)
    if city.quarantined:
        click.echo(
            f"cảnh báo: {len(city.quarantined)} xã bị cách ly; các xã khác vẫn chạy bình thường. "
            "Sửa các lỗi trên (xem `cchc check`).",
            err=True,
        )
    return city


def quarantine_hint(config_dir, exc) -> None:
    """After `cchc check`'s errors: the communes the other commands would quarantine (the
    others go on), when the errors break only some communes."""
    from schedules.quarantine import broken_communes

    broken = sorted(broken_communes(config_dir, exc.issues))
    if broken:
        click.echo(
            f"Các lệnh khác cách ly {len(broken)} xã ({', '.join(broken[:10])}"
            f"{', …' if len(broken) > 10 else ''}) và vẫn chạy các xã khác cho đến khi sửa xong.",
            err=True,
        )


def _existing_engine(database_url: str):
    """The database when it exists (never created here); None otherwise."""
    from models.db import make_engine, sqlite_path

    path = sqlite_path(database_url)
    if path is not None and not path.exists():
        return None
    return make_engine(database_url)


APPLYING = frozenset({"deploy", "reload"})
"""Commands that apply the config elsewhere than the database (Prefect, the running engine)."""


def exit_code(app, command: str | None) -> int:
    """`QUARANTINE_EXIT` when the command applied the config (wrote to the database, or is one
    of `APPLYING`) while a commune was quarantined; 0 otherwise."""
    city = app.__dict__.get("city")
    wrote = "engine" in app.__dict__ or command in APPLYING
    return QUARANTINE_EXIT if wrote and city is not None and city.quarantined else 0
