"""Transports: hand a message to an SMTP server (aiosmtplib), or write it as an .eml file.

A transport is opened once per delivery run and reused for every message of it (one SMTP
connection per batch). `send` never raises for a delivery problem: it answers an `Outcome` for
each recipient of the message (To and copies alike), which the delivery records in the outbox.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, cast

if TYPE_CHECKING:  # aiosmtplib (asyncio, ssl) and the email package load when a mail is sent:
    # every command reads SmtpSettings, few send
    from email.generator import BytesGenerator
    from email.message import EmailMessage
    from email.policy import EmailPolicy

    import aiosmtplib

Status = Literal["sent", "retry", "failed"]
Cause = Literal["refused", "slow", "down", "unbuilt"]
"""Why a row waits for a retry: a 4xx answer; a server slower than CCHC_SMTP_TIMEOUT for longer
than the run may wait for it; a server not answering or out of reach (or a file that cannot be
written); a mail that cannot be built (a template broken after `cchc check`)."""
SmtpSecurity = Literal["none", "starttls", "tls"]
_DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}
DATA_REPLY_TIMEOUT = 600.0
"""Seconds to wait for the server's answer to a message's data (RFC 5321 §4.5.3.2.6: 10
minutes). A server may take long to answer it (content filters) and still take the message:
giving up sooner would send the message again at the next attempt."""
SLOW_BUDGET = 1800.0
"""Seconds a run keeps sending to a slow server (30 minutes: the day's mail of a commune at a
minute a message), before the rest waits for the next run."""
CONNECTIONS = 3
"""SMTP connections a delivery run uses at once by default: a server that takes a second or
more to answer each message (content filters, a provider's relay) still takes a city's morning
of mail in minutes, and few servers refuse three connections from one client."""
MAX_CONNECTIONS = 20
log = logging.getLogger("cchc.mail")


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
    """Seconds for connecting and for each SMTP command. A server that lets one pass unanswered
    is not answering: the run stops sending (see `SmtpTransport`)."""
    data_timeout: float = DATA_REPLY_TIMEOUT
    """Seconds to wait for the answer to a message's data (see `DATA_REPLY_TIMEOUT`)."""
    slow_budget: float = SLOW_BUDGET
    """CCHC_SMTP_SLOW_BUDGET: seconds a run keeps sending to a server that answers messages
    slower than `timeout`, pausing between them (see `SmtpTransport`)."""
    connections: int = CONNECTIONS
    """CCHC_SMTP_CONNECTIONS: SMTP connections a delivery run sends over at once (the first
    opened when the run starts, the others when it has a mail for them)."""

    @classmethod
    def from_env(cls) -> SmtpSettings:
        """Read CCHC_SMTP_*; raises ValueError naming the variable when a value is unusable."""
        env = os.environ
        security = (env.get("CCHC_SMTP_SECURITY") or "none").strip().lower()
        if security not in _DEFAULT_PORTS:
            raise ValueError(f"CCHC_SMTP_SECURITY={security!r}: chọn none, starttls hoặc tls")
        port = env_number("CCHC_SMTP_PORT", int, _DEFAULT_PORTS[security])
        if not 0 < port < 65536:
            raise ValueError(f"CCHC_SMTP_PORT={port}: không phải số cổng")
        timeout = env_number("CCHC_SMTP_TIMEOUT", float, 30.0)
        if timeout <= 0:
            raise ValueError(f"CCHC_SMTP_TIMEOUT={timeout}: phải lớn hơn 0 giây")
        slow_budget = env_number("CCHC_SMTP_SLOW_BUDGET", float, SLOW_BUDGET)
        if slow_budget < 0:
            raise ValueError(f"CCHC_SMTP_SLOW_BUDGET={slow_budget}: phải từ 0 giây trở lên")
        connections = env_number("CCHC_SMTP_CONNECTIONS", int, CONNECTIONS)
        if not 1 <= connections <= MAX_CONNECTIONS:
            raise ValueError(
                f"CCHC_SMTP_CONNECTIONS={connections}: phải từ 1 đến {MAX_CONNECTIONS} kết nối"
            )
        return cls(
            host=env.get("CCHC_SMTP_HOST") or None,
            port=port,
            username=env.get("CCHC_SMTP_USERNAME") or None,
            password=env.get("CCHC_SMTP_PASSWORD") or None,
            security=cast(SmtpSecurity, security),  # one of _DEFAULT_PORTS, checked above
            sender=env.get("CCHC_SMTP_FROM") or None,
            timeout=timeout,
            slow_budget=slow_budget,
            connections=connections,
        )


def env_number(name: str, kind: type, default):
    text = os.environ.get(name)
    if not text:
        return default
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"{name}={text!r}: không phải số") from None


def _connection_errors() -> tuple[type[BaseException], ...]:
    """`CONNECTION_ERRORS`. SMTPConnectError is an OSError (ConnectionError);
    asyncio.TimeoutError is an OSError alias since 3.11 (TimeoutError)."""
    import aiosmtplib

    return (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError)


def _smtp_errors() -> tuple[type[BaseException], ...]:
    """An SMTP error of any kind, or the connection's."""
    import aiosmtplib

    return (aiosmtplib.SMTPException, *_connection_errors())


def __getattr__(name: str):
    if name == "CONNECTION_ERRORS":  # built on first use: aiosmtplib loads only to send
        return _connection_errors()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class Outcome:
    status: Status
    error: str | None = None
    """Why it was not sent, or a note (a copy refused) when it was."""
    code: int | None = None
    """The SMTP reply code, when a server answered."""
    cause: Cause | None = None
    """Why a `retry` waits (None: the server's answer, `code`, says it)."""

    @classmethod
    def from_reply(cls, code: int, message: str, who: str = "") -> Outcome:
        """4xx: try again later; 5xx: permanent."""
        text = f"{code} {message}".strip() + (f" ({who})" if who else "")
        return cls("failed" if 500 <= code < 600 else "retry", text, code)

    @property
    def waits_for(self) -> Cause:
        """Why a `retry` waits."""
        return self.cause or ("refused" if self.code is not None else "down")


class Transport(Protocol):
    via: str

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def send(
        self, message: EmailMessage, sender: str, recipients: Sequence[str]
    ) -> list[Outcome]:
        """Hand `message` over for `recipients`; one outcome per recipient, in order."""
        ...


class SmtpTransport:
    """One aiosmtplib connection for the whole run. The run stops sending (every later message
    answers `retry` without an attempt) when the server is down or not answering: a connection
    that cannot be made, or is lost and cannot be made again; or a command left unanswered for
    `timeout` seconds. A server that is down so costs one timeout per run, not one per message.

    A message whose data took longer than `timeout` to be answered (a slow server: its answer
    is still awaited, up to `data_timeout`, so a message it took is never sent again) makes
    the run pause before the next one (1, 2, 4 ... seconds, at most `timeout`), and stop once
    it has been at a slow server for `slow_budget` seconds: a server slower than the timeout
    still takes the day's mail, and a run still ends."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self.via = f"smtp://{settings.host}:{settings.port} ({settings.security})"
        self.smtp: aiosmtplib.SMTP | None = None
        self.down: str | None = None
        """Why the run sends nothing more, once it must stop."""
        self.down_cause: Cause = "down"
        self.slow_since: float | None = None
        """When the first slow answer of the run was awaited (monotonic clock)."""
        self.slow_answers = 0
        self.pause = 0.0
        """Seconds to wait before the next message (a slow server)."""

    def _client(self) -> aiosmtplib.SMTP:
        import aiosmtplib

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
        except _smtp_errors() as exc:
            self.smtp = None
            self.down = f"cannot connect to {self.settings.host}:{self.settings.port}: {exc}"
            log.warning("mail: %s", self.down)
            return
        self.smtp, self.down = client, None

    async def close(self) -> None:
        if self.smtp is not None and self.smtp.is_connected:
            try:
                await self.smtp.quit()
            except _smtp_errors():
                self.smtp.close()
        self.smtp = None

    def _stop(self, reason: str, cause: Cause = "down") -> None:
        """Send nothing more in this run: the rest waits for the next one."""
        if self.down is None:
            self.down, self.down_cause = reason, cause
            log.warning("mail: %s; the rest waits for the next delivery run", reason)

    def _slow(self, started: float, waited: float) -> None:
        """The answer to a message's data took `waited` seconds, more than `timeout`: pause
        before the next message, or stop once the run has been at a slow server for
        `slow_budget` seconds."""
        s = self.settings
        reason = (
            f"{s.host} answered the data after {waited:.0f} s (CCHC_SMTP_TIMEOUT={s.timeout:g})"
        )
        if self.slow_since is None:
            self.slow_since = started
        self.slow_answers += 1
        spent = time.monotonic() - self.slow_since
        if spent >= s.slow_budget:
            budget = f"CCHC_SMTP_SLOW_BUDGET={s.slow_budget:g}"
            self._stop(f"{reason}; slow for {spent:.0f} s ({budget})", "slow")
            return
        self.pause = min(2.0 ** (self.slow_answers - 1), s.timeout)
        if self.slow_answers == 1:
            log.warning(
                "mail: %s; pausing between messages, for up to %g s in this run",
                reason,
                s.slow_budget,
            )

    async def send(
        self, message: EmailMessage, sender: str, recipients: Sequence[str]
    ) -> list[Outcome]:
        import aiosmtplib

        def every(outcome: Outcome) -> list[Outcome]:
            return [outcome] * len(recipients)

        if self.pause:
            import asyncio  # here: a command that never sends mail never loads it

            await asyncio.sleep(self.pause)
            self.pause = 0.0
        if self.down is not None:
            return every(Outcome("retry", self.down, cause=self.down_cause))
        if self.smtp is None or not self.smtp.is_connected:
            await self._connect()  # lost since the last message: one new attempt
            if self.smtp is None:
                return every(Outcome("retry", self.down, cause="down"))
        try:
            errors = await self._transaction(message, sender, list(recipients))
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = {r.recipient.lower(): r for r in exc.recipients}
            return [
                Outcome.from_reply(refused[r.lower()].code, refused[r.lower()].message)
                if r.lower() in refused
                else Outcome("retry", "not tried: every other recipient refused")
                for r in recipients
            ]
        except aiosmtplib.SMTPTimeoutError as exc:
            self._close_lost()
            reason = f"no answer from {self.settings.host} ({exc or 'timeout'})"
            self._stop(reason)
            return every(Outcome("retry", reason, cause="down"))
        except aiosmtplib.SMTPResponseException as exc:
            if not self.smtp.is_connected:
                self.smtp = None
            return every(Outcome.from_reply(exc.code, exc.message))
        except _connection_errors() as exc:
            self._close_lost()
            lost = f"connection lost: {exc or type(exc).__name__}"
            return every(Outcome("retry", lost, cause="down"))
        except aiosmtplib.SMTPException as exc:  # e.g. SMTPUTF8 needed but not offered
            return every(Outcome("failed", str(exc)))
        return [
            Outcome.from_reply(errors[r.lower()].code, errors[r.lower()].message)
            if r.lower() in errors
            else Outcome("sent")
            for r in recipients
        ]

    def _close_lost(self) -> None:
        if self.smtp is not None:
            self.smtp.close()
        self.smtp = None

    async def _transaction(self, message: EmailMessage, sender: str, recipients: list[str]):
        """One mail transaction; the recipients refused, by address (lower case). aiosmtplib's
        `send_message` (the same SMTP dialogue, the same bytes), with the message written out by
        `smtp_bytes` at about a third of the cost, and the answer to the data awaited for
        `data_timeout` (a slow answer stops the run after this message). A message with a Bcc,
        or an address that needs SMTPUTF8, takes aiosmtplib's own path."""
        import aiosmtplib

        smtp = self.smtp
        assert smtp is not None, "send() connects before a transaction"
        data_timeout = max(self.settings.data_timeout, self.settings.timeout)
        if (
            "Bcc" in message
            or "Resent-Bcc" in message
            or not "".join([sender, *recipients]).isascii()
        ):
            errors, _ = await smtp.send_message(
                message, sender=sender, recipients=recipients, timeout=data_timeout
            )
            return {a.lower(): r for a, r in errors.items()}
        if smtp.is_ehlo_or_helo_needed:  # as send_message does: EHLO, else HELO
            try:
                await smtp.ehlo()
            except aiosmtplib.SMTPHeloError:
                if not smtp.is_connected:
                    raise
                await smtp.helo()
        options = ["BODY=8BITMIME"] if smtp.supports_extension("8BITMIME") else []
        data = smtp_bytes(message, cte_type="8bit" if options else "7bit")
        try:
            await smtp.mail(sender, options=options)
            errors = await self._recipients(recipients)
            started = time.monotonic()
            await smtp.data(data, timeout=data_timeout)
        except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
            if smtp.is_connected:  # as sendmail does: reset the envelope for the next one
                try:
                    await smtp.rset()
                except _smtp_errors():
                    pass
            raise
        waited = time.monotonic() - started
        if waited > self.settings.timeout:
            self._slow(started, waited)
        else:
            self.slow_answers = 0  # up to speed again: the next slow answer pauses 1 s
        return errors

    async def _recipients(self, recipients: list[str]) -> dict:
        """RCPT TO for each; the refusals by address (lower case). All refused:
        SMTPRecipientsRefused, as aiosmtplib's `sendmail` raises."""
        import aiosmtplib

        smtp = self.smtp
        assert smtp is not None, "the transaction holds the connection"
        refused: list[aiosmtplib.SMTPRecipientRefused] = []
        for address in recipients:
            try:
                await smtp.rcpt(address)
            except aiosmtplib.SMTPRecipientRefused as exc:
                refused.append(exc)
        if len(refused) == len(recipients):
            raise aiosmtplib.SMTPRecipientsRefused(refused)
        return {e.recipient.lower(): e for e in refused}


def smtp_bytes(message: EmailMessage, cte_type: str = "8bit", utf8: bool = False) -> bytes:
    """What aiosmtplib's `flatten_message` makes of a message without Bcc headers: the stdlib
    generator with `policy.SMTP` (`SMTPUTF8` with `utf8`) and `cte_type`, byte for byte."""
    generator, policies = _writer()
    buffer = io.BytesIO()
    generator(buffer, policy=policies[utf8, cte_type]).flatten(message)
    return buffer.getvalue()


@functools.cache
def _writer() -> tuple[type[BytesGenerator], dict[tuple[bool, str], EmailPolicy]]:
    """The generator and policies of `smtp_bytes`, built on first use (the email package loads
    when a mail is sent). Two savings, neither changing a byte: the generator parses the raw
    Content-Type of each part up to four times (and its Content-Transfer-Encoding once), which
    costs more than all the rest of writing a message; that parse depends only on the header's
    name and value, and most values recur in every message, so it is memoised. And a body is
    written in one piece instead of two writes per 76-byte base64 line."""
    from email.generator import BytesGenerator
    from email.policy import SMTP, EmailPolicy

    nlcre = re.compile(r"\r\n|\r|\n")  # email.generator.NLCRE (typeshed leaves it out)

    @functools.lru_cache(maxsize=512)
    def parsed(name: str, value: str):
        return SMTP.header_fetch_parse(name, value)

    class WritingPolicy(EmailPolicy):
        def header_fetch_parse(self, name, value):
            return value if hasattr(value, "name") else parsed(name, value)

    class Generator(BytesGenerator):
        _NL: str  # the stdlib's, set by flatten() (typeshed leaves it out)

        def _write_lines(self, lines):
            # The stdlib writes each line then the separator, the last line without one.
            if lines and "\r" not in lines:  # our bodies: base64 lines ending in \n
                self.write(lines.replace("\n", self._NL))
            elif lines:
                self.write(self._NL.join(nlcre.split(lines)))

    policies: dict[tuple[bool, str], EmailPolicy] = {
        (utf8, cte): WritingPolicy(linesep="\r\n", utf8=utf8, cte_type=cte)
        for utf8 in (False, True)
        for cte in ("8bit", "7bit")
    }
    return Generator, policies


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

    async def send(
        self, message: EmailMessage, sender: str, recipients: Sequence[str]
    ) -> list[Outcome]:
        try:
            write_eml(message, self.folder)
        except OSError as exc:
            return [Outcome("retry", f"cannot write file: {exc}")] * len(recipients)
        return [Outcome("sent")] * len(recipients)


def eml_name(message: EmailMessage) -> str:
    return _FILE_UNSAFE.sub("_", str(message["Message-ID"]).strip("<> ")) + ".eml"


def eml_bytes(message: EmailMessage) -> bytes:
    from email.generator import BytesGenerator

    from notifications.message import MAIL_POLICY

    buffer = io.BytesIO()
    BytesGenerator(buffer, policy=MAIL_POLICY).flatten(message)
    return buffer.getvalue()


def write_eml(message: EmailMessage, folder: Path) -> Path:
    target = folder / eml_name(message)
    tmp = target.with_suffix(".eml.tmp")
    try:
        with open(tmp, "wb") as out:
            out.write(eml_bytes(message))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    finally:  # a full disk leaves no half-written mail (a killed process: `cchc clean`)
        tmp.unlink(missing_ok=True)
    return target


def make_transport(settings: SmtpSettings, data_dir: Path) -> Transport:
    if settings.host:
        return SmtpTransport(settings)
    return FileTransport(Path(data_dir) / "outbox")


def make_transports(settings: SmtpSettings, data_dir: Path) -> list[Transport]:
    """The transports of a delivery run: `settings.connections` SMTP connections, or one
    folder of .eml files (writing files in parallel gains nothing)."""
    if settings.host:
        return [SmtpTransport(settings) for _ in range(settings.connections)]
    return [make_transport(settings, data_dir)]
