"""Talking to the engine from another process, without loading it: where its pid is kept,
asking it to reload, and whether flow runs would go to a Prefect server. No APScheduler or
Prefect import here: `cchc reload` and `cchc attach` use this module."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from cchc.runtime.settings import Settings
from usecases.errors import UserError

PID_FILE = "cchc-run.pid"
"""In the data folder while an engine runs: `cchc reload` signals the pid it holds."""


def pid_path(settings: Settings) -> Path:
    return settings.data_dir / PID_FILE


def running_pid(settings: Settings) -> int | None:
    """The pid of the engine running on this data folder, if one is alive."""
    path = pid_path(settings)
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def request_reload(settings: Settings) -> int:
    """Ask the running engine to re-read its config (SIGHUP); returns its pid."""
    pid = running_pid(settings)
    if pid is None:
        raise UserError(
            f"Không có `cchc run` nào đang chạy trên {settings.data_dir} (không có pid còn sống "
            f"trong {pid_path(settings)})"
        )
    os.kill(pid, signal.SIGHUP)
    return pid


def prefect_server_configured() -> bool:
    """Whether runs would be recorded in a real Prefect server (PREFECT_API_URL is set). Read
    from the environment only: answering must not import Prefect."""
    return bool(os.environ.get("PREFECT_API_URL"))
