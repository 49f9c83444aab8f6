"""What an uploaded file is, by its content, never by its name; and a name safe to show.

The intake takes only the formats of `ACCEPTED` (README: "Accepted formats"), each parsed to its
end by a well-kept library and refused on anything active, external or hidden
(`cchc.intake.formats`); names follow `cchc.intake.names`. `sniff` never raises anything but
`Refused` for a file it was given: a damaged file is refused (415), never an error of the server.
"""

from __future__ import annotations

import stat
from pathlib import Path

from cchc.intake.formats.allowlist import (
    ACCEPT_ATTRIBUTE,
    ACCEPTED,
    ACCEPTED_LABEL,
    TYPES,
    FileType,
)
from cchc.intake.formats.common import DAMAGED, MAX_ENTRIES, MAX_INFLATED, Budget, Refused
from cchc.intake.formats.document import inspect
from cchc.intake.names import clean_name, display_name

__all__ = [
    "ACCEPTED",
    "ACCEPTED_LABEL",
    "ACCEPT_ATTRIBUTE",
    "TYPES",
    "Budget",
    "MAX_ENTRIES",
    "MAX_INFLATED",
    "FileType",
    "Refused",
    "clean_name",
    "display_name",
    "sniff",
]


def sniff(path: Path, budget: Budget | None = None) -> FileType:
    """The accepted type of the file at `path`, or Refused (a damaged file too: never another
    exception). `budget`: the cost already spent by the other files of the same upload."""
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise Refused("Không đọc được tệp đã gửi.", status=400)
    if info.st_size == 0:
        raise Refused("Tệp rỗng (0 byte). Hãy kiểm tra lại tệp trước khi nộp.", status=400)
    try:
        with open(path, "rb") as stream:
            return TYPES[inspect(stream, budget or Budget())]
    except Refused:
        raise
    except (MemoryError, RecursionError):
        raise Refused("Tệp quá phức tạp để kiểm tra. Hãy xuất lại ra PDF rồi nộp lại.") from None
    except Exception:  # noqa: BLE001  (parsers of damaged files raise anything: a refusal)
        raise Refused(DAMAGED) from None
