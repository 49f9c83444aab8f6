"""Transports: hand a message to an SMTP server (aiosmtplib), or write it as an .eml file.

A transport is opened once per delivery run and reused for every message of it (one SMTP
connection per batch). `send` never raises for a delivery problem: it answers an `Outcome` for
the row's recipient, which the delivery records in the outbox.
"""

from __future__ import annotations

import io
import logging
import os
import re
from dataclasses import dataclass, field
from email.generator import BytesGenerator
from email.message import EmailMessage
from pathlib import Path
from typing import Literal, Protocol

import aiosmtplib

from notifications.message import MAIL_POLICY

log = logging.getLogger("cchc.mail")

Status = Literal["sent", "retry", "failed"]
SmtpSecurity = Literal["none", "starttls", "tls"]
_DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}


@dataclass(frozen=True)
class SmtpSettings:
    """Where mail goes. No host (the default): each message is written as an .eml file under
    `$CCHC_DATA_DIR/outbox/` instead, so a machine with no mail server still works."""

    host: str | None = None
    port: int = 25
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    security: SmtpSecurity = "none"
    sender: str | None = None
    """`From`, e.g. `CCHC Mao Điền <cchc@maodien.example>`; unset: the standing office's address."""
    timeout: float = 30.0
    """Seconds for connecting and for each SMTP command."""

    @classmethod
    def from_env(cls) -> SmtpSettings:
        """Read CCHC_SMTP_*; raises ValueError naming the variable when a value is unusable."""
        env = os.environ
        security = (env.get("CCHC_SMTP_SECURITY") or "none").strip().lower()
        if security not in _DEFAULT_PORTS:
            raise ValueError(f"CCHC_SMTP_SECURITY={security!r}: use none, starttls or tls")
        port = env_number("CCHC_SMTP_PORT", int, _DEFAULT_PORTS[security])
        if not 0 < port < 65536:
            raise ValueError(f"CCHC_SMTP_PORT={port}: not a port number")
        timeout = env_number("CCHC_SMTP_TIMEOUT", float, 30.0)
        if timeout <= 0:
            raise ValueError(f"CCHC_SMTP_TIMEOUT={timeout}: must be more than 0 seconds")
        return cls(
            host=env.get("CCHC_SMTP_HOST") or None,
            port=port,
            username=env.get("CCHC_SMTP_USERNAME") or None,
            password=env.get("CCHC_SMTP_PASSWORD") or None,
            security=security,
            sender=env.get("CCHC_SMTP_FROM") or None,
            timeout=timeout,
        )


def env_number(name: str, kind: type, default):
    text = os.environ.get(name)
    if not text:
        return default
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"{name}={text!r}: not a number") from None


CONNECTION_ERRORS = (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError)
"""SMTPConnectError is an OSError (ConnectionError); asyncio.TimeoutError is an OSError alias
since 3.11 (TimeoutError)."""


@dataclass(frozen=True)
class Outcome:
    status: Status
    error: str | None = None
    """Why it was not sent, or a note (a copy refused) when it was."""
    code: int | None = None
    """The SMTP reply code, when a server answered."""

    @classmethod
    def from_reply(cls, code: int, message: str, who: str = "") -> Outcome:
        """4xx: try again later; 5xx: permanent."""
        text = f"{code} {message}".strip() + (f" ({who})" if who else "")
        return cls("failed" if 500 <= code < 600 else "retry", text, code)


class Transport(Protocol):
    via: str

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def send(self, message: EmailMessage, sender: str, to: str, cc: list[str]) -> Outcome: ...


class SmtpTransport:
    """One aiosmtplib connection for the whole run. A connection that cannot be made, or is lost
    and cannot be made again, answers `retry` for the rest of the run without new attempts, so a
    server that is down costs one timeout per run, not one per message."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self.via = f"smtp://{settings.host}:{settings.port} ({settings.security})"
        self.smtp: aiosmtplib.SMTP | None = None
        self.down: str | None = None

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            username=s.username,
            password=s.password,
            use_tls=s.security == "tls",
            start_tls=s.security == "starttls",
            timeout=s.timeout,
        )

    async def open(self) -> None:
        await self._connect()

    async def _connect(self) -> None:
        client = self._client()
        try:
            await client.connect()
        except (aiosmtplib.SMTPException, *CONNECTION_ERRORS) as exc:
            self.smtp = None
            self.down = f"cannot connect to {self.settings.host}:{self.settings.port}: {exc}"
            log.warning("mail: %s", self.down)
            return
        self.smtp, self.down = client, None

    async def close(self) -> None:
        if self.smtp is not None and self.smtp.is_connected:
            try:
                await self.smtp.quit()
            except (aiosmtplib.SMTPException, *CONNECTION_ERRORS):
                self.smtp.close()
        self.smtp = None

    async def send(self, message: EmailMessage, sender: str, to: str, cc: list[str]) -> Outcome:
        if self.smtp is None or not self.smtp.is_connected:
            if self.down is not None:
                return Outcome("retry", self.down)
            await self._connect()  # lost since the last message: one new attempt
            if self.smtp is None:
                return Outcome("retry", self.down)
        try:
            errors, _reply = await self.smtp.send_message(
                message, sender=sender, recipients=[to, *cc]
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            mine = [r for r in exc.recipients if r.recipient == to] or exc.recipients
            return Outcome.from_reply(mine[0].code, mine[0].message)
        except aiosmtplib.SMTPResponseException as exc:
            if not self.smtp.is_connected:
                self.smtp = None
            return Outcome.from_reply(exc.code, exc.message)
        except CONNECTION_ERRORS as exc:
            self.smtp.close()
            self.smtp = None
            return Outcome("retry", f"connection lost: {exc or type(exc).__name__}")
        except aiosmtplib.SMTPException as exc:  # e.g. SMTPUTF8 needed but not offered
            return Outcome("failed", str(exc))
        if to in errors:
            return Outcome.from_reply(errors[to].code, errors[to].message)
        notes = [f"copy to {a} refused: {r.code} {r.message}" for a, r in errors.items()]
        return Outcome("sent", "; ".join(notes) or None)


_FILE_UNSAFE = re.compile(r"[^A-Za-z0-9._@+=-]+")


class FileTransport:
    """Writes each message as an RFC 5322 .eml file, named after its Message-ID: a resend
    overwrites the same file. What runs when no SMTP host is configured."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.via = f"files in {self.folder}"

    async def open(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    async def close(self) -> None:
        pass

    async def send(self, message: EmailMessage, sender: str, to: str, cc: list[str]) -> Outcome:
        try:
            write_eml(message, self.folder)
        except OSError as exc:
            return Outcome("retry", f"cannot write file: {exc}")
        return Outcome("sent")


def eml_name(message: EmailMessage) -> str:
    return _FILE_UNSAFE.sub("_", str(message["Message-ID"]).strip("<> ")) + ".eml"


def eml_bytes(message: EmailMessage) -> bytes:
    buffer = io.BytesIO()
    BytesGenerator(buffer, policy=MAIL_POLICY).flatten(message)
    return buffer.getvalue()


def write_eml(message: EmailMessage, folder: Path) -> Path:
    target = folder / eml_name(message)
    tmp = target.with_suffix(".eml.tmp")
    with open(tmp, "wb") as out:
        out.write(eml_bytes(message))
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, target)
    return target


def make_transport(settings: SmtpSettings, data_dir: Path) -> Transport:
    if settings.host:
        return SmtpTransport(settings)
    return FileTransport(Path(data_dir) / "outbox")
