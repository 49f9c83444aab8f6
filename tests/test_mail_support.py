"""What the mail tests share: a real SMTP server on loopback (aiosmtpd) that keeps what it
receives and can be told to answer 451 or 550, the settings that point cchc at it, the shipped
plan starting on 01/03/2027, and helpers that decode received messages. Holds no tests of its
own."""

from __future__ import annotations

import email
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from conftest import SHIPPED_CONFIG

from cchc.runtime.settings import Settings
from notifications.delivery import deliver_pending
from notifications.delivery_report import DeliveryReport
from notifications.smtp_settings import SmtpSettings
from schedules.dates import local_instant
from schedules.plan_loader import load_plan
from usecases.sweep import sweep


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def msg(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=policy.default)

    def header(self, name: str) -> str:
        """A header decoded by RFC 2047 rules (the stdlib's parser keeps an extra space
        between two encoded words of a display name)."""
        raw = email.message_from_bytes(self.raw, policy=policy.compat32)[name]
        return "" if raw is None else str(make_header(decode_header(raw)))

    @property
    def kind(self) -> str:
        return self.msg["X-CCHC-Kind"]

    @property
    def items(self) -> list[int]:
        return [int(x) for x in self.msg["X-CCHC-Item"].split(",")]

    @property
    def text(self) -> str:
        return self.msg.get_body(("plain",)).get_content()

    @property
    def html(self) -> str:
        return self.msg.get_body(("html",)).get_content()


@dataclass
class Inbox:
    """aiosmtpd handler: keeps every message; `refuse` answers a recipient for good,
    `temporary` answers 451 that many times before accepting it."""

    messages: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    temporary: dict[str, int] = field(default_factory=dict)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        address = address.lower()
        if address in self.refuse:
            return self.refuse[address]
        if self.temporary.get(address, 0) > 0:
            self.temporary[address] -= 1
            return "451 4.3.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
        )
        return "250 Message accepted for delivery"

    def for_item(self, item_id: int) -> list[Received]:
        return [m for m in self.messages if item_id in m.items]


class SmtpServer:
    """A real SMTP server on 127.0.0.1 that can be stopped and started again on its port."""

    def __init__(self):
        self.inbox = Inbox()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@contextmanager
def running_smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def mail_settings(config_dir: Path, data_dir: Path, db_url: str, port: int | None) -> Settings:
    smtp = SmtpSettings(host="127.0.0.1", port=port, timeout=5) if port else SmtpSettings()
    return Settings(
        config_dir=Path(config_dir), data_dir=Path(data_dir), database_url=db_url, smtp=smtp
    )


def start_in_march(config_dir: Path) -> None:
    """Move the commune of the config folder `config_dir` from its shipped start, 01/12/2026, to
    01/03/2027: a first sweep has no backlog of earlier items to mail about, so a test sends a
    handful of mails, not fifty."""
    commune = config_dir / "commune.yaml"
    text = commune.read_text(encoding="utf-8")
    assert "\n  start: 2026-12-01\n" in text
    commune.write_text(text.replace("\n  start: 2026-12-01\n", "\n  start: 2027-03-01\n"), "utf-8")


def plan_from_march(folder: Path):
    """The shipped plan copied to `folder` (a new folder), starting on 01/03/2027
    (`start_in_march`)."""
    shutil.copytree(SHIPPED_CONFIG, folder)
    start_in_march(folder)
    return load_plan(folder)


def morning(plan, day, hour: int = 8) -> datetime:
    """A working morning instant, after the sweep time."""
    from datetime import time

    return local_instant(day, time(hour, 0), plan.zone)


def sweep_and_send(plan, engine, settings, at: datetime, force: bool = False) -> DeliveryReport:
    """What `cchc sweep --at` does."""
    sweep(plan, engine, at)
    return deliver_pending(plan, engine, settings, at, force)


def later(at: datetime, **delta) -> datetime:
    return at + timedelta(**delta)
