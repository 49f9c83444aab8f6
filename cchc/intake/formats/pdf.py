"""PDF, opened by pikepdf (qpdf), every object walked (those in object streams too, names with
their `#xx` escapes decoded): refused on anything that runs, launches, embeds, fetches or acts by
itself, and on anything hidden around the document (data before `%PDF-` or after the last
`%%EOF`, a ZIP or a web page inside)."""

from __future__ import annotations

import io
import re
from typing import IO

import pikepdf

from cchc.intake.formats.common import AS_PDF, DAMAGED, PASSWORD, Refused, no_polyglot

MAX_TRAILING = 1024
"""Whitespace a PDF writer may leave after the last %%EOF."""
_KEYS = {
    "/JS": "mã JavaScript",
    "/JavaScript": "mã JavaScript",
    "/AA": "hành động tự chạy khi mở hoặc xem trang (/AA)",
    "/EmbeddedFiles": "tệp đính kèm nhúng",
    "/EF": "tệp đính kèm nhúng",
    "/XFA": "biểu mẫu XFA",
    "/RichMediaContent": "nội dung đa phương tiện (RichMedia)",
}
_ACTIONS = {
    "/JavaScript": "mã JavaScript",
    "/Launch": "lệnh mở chương trình (Launch)",
    "/GoToE": "liên kết tới tệp nhúng (GoToE)",
    "/GoToR": "liên kết tới tệp khác (GoToR)",
    "/ImportData": "lệnh nạp dữ liệu từ tệp khác (ImportData)",
    "/SubmitForm": "lệnh gửi dữ liệu ra ngoài (SubmitForm)",
    "/RichMediaExecute": "lệnh chạy nội dung đa phương tiện",
    "/Rendition": "lệnh phát nội dung đa phương tiện (Rendition)",
}
_SUBTYPES = {
    "/FileAttachment": "tệp đính kèm nhúng",
    "/RichMedia": "nội dung đa phương tiện (RichMedia)",
    "/3D": "nội dung 3D (có thể chứa mã lệnh)",
}
_TYPES = {"/EmbeddedFile": "tệp đính kèm nhúng"}
_SAFE_URI = re.compile(rb"^(https?://|mailto:)", re.IGNORECASE)
_DIRECT = (pikepdf.ObjectType.dictionary, pikepdf.ObjectType.stream, pikepdf.ObjectType.array)


def refused_because(what: str) -> Refused:
    return Refused(
        f"Tệp PDF có {what}: hệ thống chỉ nhận PDF thuần nội dung (không mã lệnh, không tệp "
        f"nhúng, không hành động tự chạy hay mở nơi khác). {AS_PDF}"
    )


def inspect_pdf(source: IO[bytes]) -> str:
    """pdf, after every check."""
    source.seek(0)
    data = source.read()
    _check_envelope(data)
    source.seek(0)
    try:
        with pikepdf.open(io.BytesIO(data)) as document:
            if len(document.pages) == 0:
                raise Refused("Tệp PDF không có trang nào.")
            for obj in document.objects:
                _walk(obj)
    except pikepdf.PasswordError:
        raise Refused(PASSWORD) from None
    except Refused:
        raise
    except Exception:  # noqa: BLE001  (qpdf raises several kinds on a damaged file)
        raise Refused(DAMAGED) from None
    return "pdf"


def _check_envelope(data: bytes) -> None:
    """Nothing before `%PDF-`, nothing but a little whitespace after the last `%%EOF`, no ZIP
    and no web page inside."""
    if not data.startswith(b"%PDF-"):
        raise Refused(f"Tệp PDF có dữ liệu lạ trước phần đầu “%PDF-”. {AS_PDF}")
    end = data.rfind(b"%%EOF")
    if end == -1:
        raise Refused(DAMAGED)
    trailing = data[end + 5 :]
    if trailing.strip(b" \t\r\n\f\x00") or len(trailing) > MAX_TRAILING:
        raise Refused(f"Tệp PDF có dữ liệu lạ nối sau phần kết thúc “%%EOF”. {AS_PDF}")
    no_polyglot(data, "PDF")


def _walk(top: pikepdf.Object) -> None:
    """Check an indirect object and the direct objects inside it (indirect ones are walked in
    their turn by the caller)."""
    stack = [top]
    while stack:
        obj = stack.pop()
        code = obj._type_code
        if code == pikepdf.ObjectType.array:
            children = list(obj)
        elif code in (pikepdf.ObjectType.dictionary, pikepdf.ObjectType.stream):
            _check_dictionary(obj)
            children = [obj[key] for key in obj.keys()]  # noqa: SIM118  (a PDF dictionary)
        else:
            continue
        stack += [c for c in children if _code(c) in _DIRECT and not c.is_indirect]


def _check_dictionary(obj: pikepdf.Object) -> None:
    for key, what in _KEYS.items():
        if key in obj:
            raise refused_because(what)
    for key, table in (("/S", _ACTIONS), ("/Subtype", _SUBTYPES), ("/Type", _TYPES)):
        value = obj.get(key)
        if _code(value) == pikepdf.ObjectType.name_:
            found = table.get(str(value))
            if found:
                raise refused_because(found)
    opening = obj.get("/OpenAction")
    if opening is not None and _code(opening) == pikepdf.ObjectType.dictionary:
        kind = str(opening.get("/S", ""))
        if kind != "/GoTo":
            raise refused_because(
                _ACTIONS.get(kind, "liên kết tự mở (URI)" if kind == "/URI" else "hành động")
                + " chạy ngay khi mở tệp"
            )
    if str(obj.get("/S", "")) == "/URI":
        uri = obj.get("/URI")
        target = bytes(uri) if uri is not None and _code(uri) == pikepdf.ObjectType.string else b""
        if not _SAFE_URI.match(target.strip()):
            shown_target = target[:60].decode("latin-1")
            raise refused_because(f"liên kết không phải trang web ({shown_target})")


def _code(value: object) -> pikepdf.ObjectType | None:
    """The PDF type of a value pikepdf returns (numbers and booleans come back as Python's)."""
    return value._type_code if isinstance(value, pikepdf.Object) else None
