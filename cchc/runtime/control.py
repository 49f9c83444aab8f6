"""Talking to the engine from another process, without loading it: where its pid is kept (in a
file it locks while it runs), asking it to reload, and whether flow runs would go to a Prefect
server. No APScheduler or Prefect import here: `cchc reload` and `cchc attach` use this
module."""

from __future__ import annotations

import fcntl
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from cchc.runtime.settings import Settings
from usecases.errors import UserError

if TYPE_CHECKING:
    from schedules.city import City

PID_FILE = "cchc-run.pid"
"""In the data folder while an engine runs, locked by it (`flock`) for as long as it runs:
`cchc reload` signals the pid it holds only while it is locked."""


def pid_path(settings: Settings) -> Path:
    return settings.data_dir / PID_FILE


def running_pid(settings: Settings) -> int | None:
    """The pid of the engine running on this data folder: the one its pid file names, while an
    engine holds the file's lock. A file nobody locks was left by an engine that died, and the
    pid it names may be another process's by now: None."""
    try:
        fd = os.open(pid_path(settings), os.O_RDONLY)
    except OSError:
        return None
    try:
        if not _locked(fd):
            return None
        return int(os.read(fd, 32).strip())
    except (OSError, ValueError):  # an engine that is just writing it: as if none
        return None
    finally:
        os.close(fd)


def _locked(fd: int) -> bool:
    """Whether another open file holds an exclusive lock on `fd`'s file."""
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False


@contextmanager
def holding_pid_file(settings: Settings) -> Iterator[None]:
    """Hold the data folder's pid file while the block runs (the engine's life): created if
    needed, locked (`flock`, released by the kernel if the process dies), our pid written in
    it; removed at the end. Raises UserError when another engine holds it."""
    path = pid_path(settings)
    fd = _lock(path)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        path.unlink(missing_ok=True)  # before the lock goes: a newcomer then makes a new file
        os.close(fd)


def _lock(path: Path) -> int:
    """An open descriptor of `path`, exclusively locked. A file removed by an engine that was
    stopping while we opened it is not the pid file any more: open the new one."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise UserError(
                f"Đã có `cchc run` đang chạy trên {path.parent} (pid {other})"
            ) from None
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def request_reload(settings: Settings, city: City | None = None) -> int:
    """Ask the running engine to re-read its config (SIGHUP); returns its pid. With `city` (the
    config on disk), its mail templates are checked first, as `cchc check` does: UserError
    (FILE:LINE: message each) when one fails, and the engine is not asked."""
    if city is not None:
        from datetime import UTC, datetime

        from notifications.template_sets import TemplatesInvalid, checked_templates

        try:
            checked_templates(city.select(None), settings.smtp.sender, datetime.now(UTC))
        except TemplatesInvalid as exc:
            raise UserError(exc.lines()) from None
    pid = running_pid(settings)
    if pid is None:
        raise UserError(
            f"Không có `cchc run` nào đang chạy trên {settings.data_dir} (không có tệp pid bị khóa "
            f"{pid_path(settings)})"
        )
    os.kill(pid, signal.SIGHUP)
    return pid


def prefect_server_configured() -> bool:
    """Whether runs would be recorded in a real Prefect server (PREFECT_API_URL is set). Read
    from the environment only: answering must not import Prefect."""
    return bool(os.environ.get("PREFECT_API_URL"))
