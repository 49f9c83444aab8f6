"""A database that fails under a command (cut, hung past its timeouts, refusing connections):
one line that names the cause, and exit 1, instead of SQLAlchemy's traceback. What the command
had not yet written is done again by the next run (the outbox's leases: no mail is lost)."""

from __future__ import annotations

import functools
import sys

import click


def database_errors(func):
    """Run a command; a database error prints its cause in one line on stderr and exits 1."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from sqlalchemy.exc import DBAPIError

        try:
            return func(*args, **kwargs)
        except DBAPIError as exc:
            click.echo(f"lỗi cơ sở dữ liệu (database error): {cause(exc)}", err=True)
            sys.exit(1)

    return wrapper


def cause(exc: Exception) -> str:
    """The driver's own message, first line (psycopg and sqlite3 put hints on the next ones)."""
    original = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    return lines[0] if lines else type(original).__name__
