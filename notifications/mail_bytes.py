"""A message written out as bytes: for the SMTP data (`smtp_bytes`), or for an .eml file
(`eml_bytes`)."""

from __future__ import annotations

import functools
import io
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the email package loads when a mail is sent
    from email.generator import BytesGenerator
    from email.message import EmailMessage
    from email.policy import EmailPolicy


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


def eml_bytes(message: EmailMessage) -> bytes:
    from email.generator import BytesGenerator

    from notifications.message import MAIL_POLICY

    buffer = io.BytesIO()
    BytesGenerator(buffer, policy=MAIL_POLICY).flatten(message)
    return buffer.getvalue()
