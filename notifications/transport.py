"""What a transport is: it hands a message over (to an SMTP server, or to an .eml file).

A transport is opened once per delivery run and reused for every message of it (one SMTP
connection per batch). `send` never raises for a delivery problem: it answers an `Outcome` for
each recipient of the message (To and copies alike), which the delivery records in the outbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:  # the email package loads when a mail is sent
    from email.message import EmailMessage

Status = Literal["sent", "retry", "failed"]
Cause = Literal["refused", "slow", "down", "unbuilt"]
"""Why a row waits for a retry: a 4xx answer; a server slower than CCHC_SMTP_TIMEOUT for longer
than the run may wait for it; a server not answering or out of reach (or a file that cannot be
written); a mail that cannot be built (a template broken after `cchc check`)."""


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
