"""How uvicorn serves the intake (`server_options`, for `cchc serve-intake` and the tests):

- proxy headers only from the proxies CCHC_TRUSTED_PROXIES names (uvicorn's own default believes
  `X-Forwarded-For` from loopback, so anyone on the machine, or any client of a same-host
  proxy that passes the header on, could pick the address the login throttle counts);
- a header timeout (`HeaderTimeoutProtocol`): uvicorn has none (its keep-alive timer starts
  after a first answer and any byte stops it), so a connection sending a header block a byte
  at a time, or nothing at all, would be held for ever. The body has its own
  (CCHC_INTAKE_BODY_TIMEOUT, `cchc.intake.upload`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

if TYPE_CHECKING:
    from cchc.runtime.settings import IntakeSettings

log = logging.getLogger("cchc.intake")


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request headers have not all arrived
    `header_timeout` seconds after it opened or after its previous answer."""

    header_timeout: float = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:  # the request's headers are all in
            self._disarm_header_timer()

    def on_response_complete(self) -> None:
        self._arm_header_timer()  # for the next request on this connection (kept alive)
        super().on_response_complete()  # handles a pipelined request already there

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._header_timed_out)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            log.warning(
                "closed a connection from %s: no complete request headers within %g s",
                self.client[0] if self.client else "unknown",
                self.header_timeout,
            )
            self.transport.close()


def server_options(intake: IntakeSettings) -> dict[str, Any]:
    """uvicorn's options for the intake (besides the app, host and port): see the module."""
    protocol = type(
        "IntakeH11Protocol", (HeaderTimeoutProtocol,), {"header_timeout": intake.header_timeout}
    )
    options: dict[str, Any] = {
        "http": protocol,
        "proxy_headers": bool(intake.trusted_proxies),
        "server_header": False,
    }
    if intake.trusted_proxies:
        options["forwarded_allow_ips"] = list(intake.trusted_proxies)
    return options
