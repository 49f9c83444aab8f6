"""Official documents (văn bản) as an office names them: the number and symbol ("số, ký hiệu":
125/SNV-CCHC), the kind of document its symbol shows, and the sentence a letter opens with
("Thực hiện Công văn số 125/SNV-CCHC ngày 18/03/2027 của Sở Nội vụ về …").

The symbol follows Nghị định 30/2020/NĐ-CP (Phụ lục III): a kind's abbreviation, then the
issuer's ("84/KH-UBND": a Kế hoạch of the UBND); a công văn has no kind's abbreviation, only the
issuer's and its drafting unit's ("125/SNV-CCHC").
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from schedules.dates import vn_date

DOC_NUMBER_MAX = 64
EARLIEST = date(2000, 1, 1)
"""A document dated before this is a typing error (0001-01-01, 1900-...)."""
DOC_NUMBER_EXAMPLE = "125/SNV-CCHC"
_DOC_NUMBER = re.compile(r"^\d{1,7}[a-z]?(?:/\d{4})?/[^\W_][\w.&-]*$", re.IGNORECASE)
"""A number, a slash, the symbol ("125/SNV-CCHC", "05/2024/TT-BNV", "12a/BC-CAX")."""

KINDS = {
    "NQ": "Nghị quyết",
    "QĐ": "Quyết định",
    "CT": "Chỉ thị",
    "QC": "Quy chế",
    "QYĐ": "Quy định",
    "TC": "Thông cáo",
    "TB": "Thông báo",
    "HD": "Hướng dẫn",
    "CTR": "Chương trình",
    "KH": "Kế hoạch",
    "PA": "Phương án",
    "ĐA": "Đề án",
    "DA": "Dự án",
    "BC": "Báo cáo",
    "BB": "Biên bản",
    "TTR": "Tờ trình",
    "HĐ": "Hợp đồng",
    "CĐ": "Công điện",
    "GM": "Giấy mời",
    "KL": "Kết luận",
    "NĐ": "Nghị định",
    "TT": "Thông tư",
}
"""Abbreviations of document kinds (upper case) → the kind's name."""
DEFAULT_KIND = "Văn bản"
LETTER_KIND = "Công văn"


def clean_text(text: str | None) -> str:
    """One line of text as typed in a form or on the command line: control characters (NUL
    included) removed, whitespace collapsed, NFC-normalised (a Vietnamese letter typed as a base
    letter and combining marks compares equal to the precomposed one)."""
    text = unicodedata.normalize("NFC", text or "")
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in text)
    return " ".join(text.split())


def clean_doc_number(text: str | None) -> str:
    """The number and symbol as an office writes it ("125/SNV-CCHC"): spaces around "/" and "-"
    dropped; ValueError, with an example, for what has not that shape."""
    number = clean_text(text)
    number = re.sub(r"\s*([/-])\s*", r"\1", number)
    if not number:
        raise ValueError(f"Cần nhập số, ký hiệu văn bản (ví dụ {DOC_NUMBER_EXAMPLE}).")
    if len(number) > DOC_NUMBER_MAX:
        raise ValueError(f"Số, ký hiệu văn bản dài quá {DOC_NUMBER_MAX} ký tự.")
    if not _DOC_NUMBER.match(number):
        raise ValueError(
            f"'{number}' không phải số, ký hiệu văn bản: cần số, dấu /, rồi ký hiệu "
            f"(ví dụ {DOC_NUMBER_EXAMPLE} hoặc 12/BC-CAX)."
        )
    return number


def document_kind(number: str) -> str:
    """The kind its symbol shows: "Kế hoạch" for 84/KH-UBND, "Công văn" for 125/SNV-CCHC (a
    symbol of two parts or more whose first is no kind), else "Văn bản"."""
    symbol = number.rsplit("/", 1)[-1]
    parts = symbol.split("-")
    found = KINDS.get(parts[0].upper())
    if found:
        return found
    return LETTER_KIND if len(parts) >= 2 and all(parts) else DEFAULT_KIND


def document_title(number: str) -> str:
    """ "Công văn số 125/SNV-CCHC"."""
    return f"{document_kind(number)} số {number}"


def version_document(number: str | None, issued: date | None) -> str:
    """ "Báo cáo số 12/BC-CAX ngày 05/04/2027" (the kind its symbol shows) for a version handed
    in as a document's number rather than a file; "" without a number."""
    if not number:
        return ""
    day = f" ngày {issued.strftime('%d/%m/%Y')}" if issued else ""
    return f"{document_title(number)}{day}"


def document_reference(number: str, issued_on: date, issuer: str) -> str:
    """ "Công văn số 125/SNV-CCHC ngày 18/03/2027 của Sở Nội vụ"."""
    return f"{document_title(number)} ngày {vn_date(issued_on)} của {issuer}"


def subject_phrase(subject: str) -> str:
    """The subject (trích yếu) as it follows the document in a sentence: "về …"; "V/v" is
    written out, and a first word in capitals (an abbreviation) is left as it is."""
    text = clean_text(subject)
    lowered = text.lower()
    for prefix, spelt in (("v/v", "về việc"), ("về việc", "về việc"), ("về", "về")):
        if lowered.startswith(prefix + " ") or lowered == prefix:
            return f"{spelt} {text[len(prefix) :].strip()}".strip()
    return f"về {lower_first(text)}"


def lower_first(text: str) -> str:
    """The first letter in lower case unless the first word is an abbreviation (CCHC, UBND)."""
    if not text:
        return text
    first = text.split(" ", 1)[0]
    if len(first) > 1 and first[1:].lower() != first[1:]:
        return text
    return text[0].lower() + text[1:]


def directive_basis(number: str, issued_on: date, issuer: str, subject: str) -> str:
    """ "Công văn số 125/SNV-CCHC ngày 18/03/2027 của Sở Nội vụ về việc báo cáo …": what a
    letter acting on the directive opens with, after "Thực hiện"."""
    return f"{document_reference(number, issued_on, issuer)} {subject_phrase(subject)}"


DIRECTIVE_PERIOD = "vb-"
"""A directive's item's period key: `vb-<directive id>` (each directive, its own items: several
directives may task a unit with the same due date)."""


def directive_period(directive_id: int) -> str:
    return f"{DIRECTIVE_PERIOD}{directive_id}"


def is_directive_period(key: str) -> bool:
    return key.startswith(DIRECTIVE_PERIOD)
