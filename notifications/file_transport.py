"""The file transport: each message written as an .eml file in a folder, what runs when no
SMTP host is configured."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from notifications.mail_bytes import eml_bytes
from notifications.transport import Outcome

if TYPE_CHECKING:  # the email package loads when a mail is sent
    from email.message import EmailMessage

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
