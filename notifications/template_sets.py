"""The mail templates a process builds its mails with, and the check an edited set must pass
before it replaces them.

Templates are part of the config: the engine checks them with it at start and at reload (as
`cchc check` does, `check_templates`), and a set saved while the engine runs (templates are read
again when their folder changes) is checked the same way before a delivery uses it. A set that
fails is refused with FILE:LINE in the log, and the set in use stays. A process that has no set
in use yet (a command run once) takes the templates as they are: a mail one of them cannot
build waits, and the run's summary counts it (`notifications.delivery`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from notifications.render import Renderer, TemplateIssue, renderer_for
from schedules.plan import Plan

log = logging.getLogger("cchc.mail")

Problems = Sequence[TemplateIssue | str]
_in_use: dict[tuple, Renderer] = {}
"""By config folders (a commune's, its city's): the set in use."""
_refused: dict[tuple, tuple] = {}
"""By config folders: the signature of the last set refused (checked and logged once)."""
_lock = threading.Lock()


def _folders(plan: Plan) -> tuple[Path | None, Path | None]:
    return (plan.folder, plan.city_folder)


def check_templates(
    plans: Sequence[Plan], sender: str | None, at: datetime
) -> tuple[list[TemplateIssue | str], list[tuple[Plan, Renderer]]]:
    """`cchc check`'s template check for the communes of `plans`: each template set (a city's, a
    commune's own) rendered once against sample mails. Returns the problems, and each plan with
    the set checked for it."""
    from notifications.samples import check_mail

    checked = [(plan, renderer_for(*_folders(plan))) for plan in plans]
    by_set = {id(renderer): (plan, renderer) for plan, renderer in reversed(checked)}
    problems = [p for plan, r in by_set.values() for p in check_mail(plan, sender, at, r)]
    return list(dict.fromkeys(problems)), checked


class TemplatesInvalid(Exception):
    """A template set fails `cchc check`'s check; `problems` says where and why."""

    def __init__(self, problems: Problems):
        self.problems = [str(p) for p in problems]
        super().__init__(
            f"mail templates invalid: {len(self.problems)} error(s) (mẫu thư không hợp lệ)"
        )

    def lines(self) -> str:
        """FILE:LINE: message each, then the count."""
        return "\n".join([*self.problems, str(self)])


def checked_templates(
    plans: Sequence[Plan], sender: str | None, at: datetime
) -> list[tuple[Plan, Renderer]]:
    """`check_templates`, raising TemplatesInvalid when a set fails."""
    problems, checked = check_templates(plans, sender, at)
    if problems:
        raise TemplatesInvalid(problems)
    return checked


def adopt(checked: list[tuple[Plan, Renderer]]) -> None:
    """Make the sets `check_templates` found sound the ones in use."""
    with _lock:
        for plan, renderer in checked:
            _in_use[_folders(plan)] = renderer
            _refused.pop(_folders(plan), None)


def templates_in_use(plan: Plan, sender: str | None, at: datetime) -> Renderer:
    """The set `plan`'s mails are built with: the one in use, unless the templates on disk
    changed since and pass the check (then they are in use from now on)."""
    from notifications.samples import check_mail

    return _in_use_or_checked(plan, lambda renderer: check_mail(plan, sender, at, renderer))


def _in_use_or_checked(plan: Plan, check: Callable[[Renderer], Problems]) -> Renderer:
    folders = _folders(plan)
    current = renderer_for(*folders)
    with _lock:
        used = _in_use.get(folders)
        if used is None or used is current:
            _in_use[folders] = current
            return current
        if _refused.get(folders) == current.signature:
            return used
    problems = check(current)  # outside the lock: a second or so
    with _lock:
        if problems:
            _refused[folders] = current.signature
            _refuse(problems, current.where)
            return _in_use[folders]
        _in_use[folders] = current
        _refused.pop(folders, None)
    log.info("mail templates in %s changed: checked, now in use", current.where)
    return current


def _refuse(problems: Problems, where: str) -> None:
    """Log why an edited set is refused: FILE:LINE: message each, then what stays."""
    for problem in problems:
        log.error("%s", problem)
    log.error(
        "mail templates in %s changed but are refused: %d error(s); the mails keep the "
        "templates in use (mẫu thư không hợp lệ, giữ bộ mẫu đang dùng)",
        where,
        len(problems),
    )
