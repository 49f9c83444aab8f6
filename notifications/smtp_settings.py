"""Where mail goes: the SMTP settings (CCHC_SMTP_*), read from the environment. No host (the
default): each message is written as an .eml file instead (`notifications.file_transport`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal, cast

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
