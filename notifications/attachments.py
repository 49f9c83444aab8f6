"""Files a mail carries from the data folder: the directive's file (văn bản chỉ đạo) on the
mails that give a directive's item, so a unit reads what it is asked without another login."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from notifications.message import Attachment
from schedules.vocabulary import MailKind

if TYPE_CHECKING:
    from models.tables import Directive

log = logging.getLogger("cchc.mail")

DIRECTIVE_FILE_KINDS = (MailKind.OPENED, MailKind.COORDINATE)
"""Mails that attach the directive's file: the notice of the item and the request for inputs."""
MAX_ATTACHED = 10 * 1024 * 1024
"""A larger file is named in the mail, not attached (mail servers refuse big messages)."""
MIME_TYPES = {
    "pdf": ("application", "pdf"),
    "doc": ("application", "msword"),
    "docx": ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "xls": ("application", "vnd.ms-excel"),
    "xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "odt": ("application", "vnd.oasis.opendocument.text"),
    "ods": ("application", "vnd.oasis.opendocument.spreadsheet"),
    "zip": ("application", "zip"),
    "png": ("image", "png"),
    "jpg": ("image", "jpeg"),
    "jpeg": ("image", "jpeg"),
}


def directive_attachment(directive: Directive | None) -> list[Attachment]:
    """The directive's file as an attachment ([] without one, when it is too large, or when it
    cannot be read: the mail still goes, naming the file)."""
    if directive is None or not directive.file_path or not directive.file_name:
        return []
    if (directive.file_size or 0) > MAX_ATTACHED:
        return []
    try:
        data = Path(directive.file_path).read_bytes()
    except OSError as exc:
        log.warning(
            "directive %s: cannot read its file %s: %s", directive.id, directive.file_path, exc
        )
        return []
    suffix = (directive.file_type or Path(directive.file_name).suffix.lstrip(".")).lower()
    maintype, subtype = MIME_TYPES.get(suffix, ("application", "octet-stream"))
    return [Attachment(directive.file_name, maintype, subtype, data)]
