"""XML parts of Office and OpenDocument files, parsed to their end with expat (no DTD, no entity:
nothing to expand, nothing fetched), each element shown to a checker that refuses what is active
or external."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol
from xml.parsers import expat

from cchc.intake.formats.common import EXTERNAL, Refused, shown


class Checker(Protocol):
    """Shown each element of a part as it is parsed; names are "{namespace}local"."""

    def start(self, name: str, attrs: dict[str, str]) -> None: ...

    def end(self, name: str) -> None: ...

    def text(self, data: str) -> None: ...


SAFE_LINK = re.compile(r"^(https?://|mailto:|#)", re.IGNORECASE)
"""A hyperlink the office may follow by a click: the web, mail, a place in the document."""
_EXTERNAL_MARKS = ("mhtml:", "file:", "\\\\", "smb:", "search-ms:", "ms-its:", "ms-msdt:", "its:")


def refuse_broken(part: str) -> Refused:
    return Refused(
        f"Tệp có dạng tài liệu Office/OpenDocument nhưng phần {shown(part)} không đọc được. Hãy "
        "mở tệp bằng Word, Excel hoặc LibreOffice, lưu lại rồi nộp lại."
    )


def parse(chunks: Iterable[bytes], part: str, check: Checker) -> None:
    """Parse one XML part to its end, every element through `check`."""
    parser = expat.ParserCreate(namespace_separator="}")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def doctype(*_args) -> None:
        raise Refused(
            f"Tệp có phần {shown(part)} khai báo DOCTYPE/ENTITY, điều tài liệu Office không có. "
            "Hãy lưu lại tài liệu rồi nộp lại."
        )

    def start(name: str, attrs: dict[str, str]) -> None:
        check.start(_clark(name), {_clark(k): v for k, v in attrs.items()})

    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    parser.StartElementHandler = start
    parser.EndElementHandler = lambda name: check.end(_clark(name))
    parser.CharacterDataHandler = check.text
    try:
        for chunk in chunks:
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError:
        raise refuse_broken(part) from None


def _clark(name: str) -> str:
    """expat's "uri}local" as "{uri}local" (a name without namespace stays as it is)."""
    return "{" + name if "}" in name else name


def local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def external_value(value: str) -> bool:
    """An attribute value reaching outside the document: a UNC path, `file:`, `mhtml:`..."""
    text = value.strip().lower()
    return text.startswith(_EXTERNAL_MARKS) or "mhtml:" in text


def refuse_external_values(attrs: dict[str, str], part: str) -> None:
    for value in attrs.values():
        if external_value(value):
            raise Refused(EXTERNAL.format(what=f"{shown(value[:60])} trong {shown(part)}"))


# ----- Word fields that fetch or run something ------------------------------------------------

_FIELDS = re.compile(r"(?<![A-Z])(DDEAUTO|DDE|INCLUDETEXT|INCLUDEPICTURE|IMPORT|LINK)\b")


def refuse_active_fields(instructions: str, part: str) -> None:
    """Word field codes that load another file or start a program (DDE)."""
    found = _FIELDS.search(instructions.upper())
    if found:
        raise Refused(
            f"Tài liệu có trường lệnh {found.group(1)} trong {shown(part)}: trường này tải nội "
            "dung từ nơi khác hoặc mở chương trình. Hãy xóa trường (hoặc chuyển thành văn bản "
            "thường: chọn rồi nhấn Ctrl+Shift+F9) rồi nộp lại."
        )
