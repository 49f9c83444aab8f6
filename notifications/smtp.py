"""The SMTP transport: hand a message to an SMTP server (aiosmtplib), over one connection for
the whole run; and `make_transports`, the transports of a delivery run (SMTP connections, or a
folder of .eml files when no host is configured). What a transport answers:
`notifications.transport`."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from notifications.file_transport import FileTransport
from notifications.mail_bytes import smtp_bytes
from notifications.transport import Cause, Outcome, Transport

if TYPE_CHECKING:  # aiosmtplib (asyncio, ssl) and the email package load when a mail is sent:
    # every command reads SmtpSettings, few send
    from email.message import EmailMessage

    import aiosmtplib

    from notifications.smtp_settings import SmtpSettings

log = logging.getLogger("cchc.mail")


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
