"""OLE2 compound files: legacy Word (DOC) and Excel (XLS) documents, read with olefile.

Communes still send DOC and XLS (old templates, old office suites), so they are taken, but only
plain: no VBA project, no Excel 4.0 macro sheet, no embedded or packaged object (`ObjectPool`,
Excel's `MBD…` storages, `\\x01Ole10Native`, `Package`: compound-file names compare without
case), no password, no Windows Installer. Every stream is read to its end (its sector chain
checked); the Excel workbook stream is walked record by record.
"""

from __future__ import annotations

import struct
from typing import IO

import olefile

from cchc.intake.formats.common import (
    EMBEDDED,
    MACRO,
    PASSWORD,
    Refused,
    no_polyglot,
)

MAGIC = olefile.MAGIC
_VBA = frozenset({"vba", "_vba_project", "_vba_project_cur", "macros", "project", "projectwm"})
"""Storages and streams of a VBA project (lower case)."""
_OBJECTS = {
    "objectpool": "đối tượng OLE",
    "\x01ole10native": "gói Ole10Native",
    "package": "gói tệp (Package)",
}
"""Storages and streams of an embedded or packaged object (lower case)."""
_INSTALLER_CLSIDS = ("000C1084", "000C1086", "000C1082")
"""Root CLSIDs of Windows Installer packages, patches and transforms (MSI, MSP, MST)."""
_WORD8 = 0xA5EC
_BOUNDSHEET, _FILEPASS = 0x0085, 0x002F
_MACRO_SHEETS = {0x01: "trang macro Excel 4.0", 0x06: "mô-đun VBA"}


def _damaged() -> Refused:
    return Refused("Tệp Word/Excel 97-2003 (DOC/XLS) bị hỏng, không mở được.")


def inspect_ole(source: IO[bytes]) -> str:
    """doc or xls, after every check; Refused otherwise."""
    source.seek(0)
    try:
        with olefile.OleFileIO(source) as ole:
            entries = ole.listdir(streams=True, storages=True)
            clsid = (ole.root.clsid or "").upper() if ole.root is not None else ""
            refuse_active(entries, clsid)
            top = {entry[0] for entry in entries}
            if {"EncryptionInfo", "EncryptedPackage"} <= top:
                raise Refused(PASSWORD)
            streams = {}
            for entry in ole.listdir(streams=True, storages=False):
                data = ole.openstream(entry).read()  # the whole chain: a broken one raises
                if len(entry) == 1 and entry[0] in ("WordDocument", "Workbook", "Book"):
                    streams[entry[0]] = data
    except Refused:
        raise
    except Exception:  # noqa: BLE001  (olefile raises anything on a damaged file)
        raise _damaged() from None
    _no_zip_inside(source)
    if "WordDocument" in streams:
        _check_word(streams["WordDocument"])
        return "doc"
    book = streams.get("Workbook") or streams.get("Book")
    if book is not None:
        _check_workbook(book)
        return "xls"
    raise Refused(
        "Tệp Office 97-2003 này không phải văn bản Word hay bảng tính Excel. Hãy lưu lại dưới "
        "dạng DOCX/XLSX hoặc xuất ra PDF rồi nộp lại."
    )


def _no_zip_inside(source: IO[bytes]) -> None:
    """A ZIP hidden in the compound file (HTML is not looked for: a Word document's text is
    stored as typed)."""
    source.seek(0)
    no_polyglot(source.read(), "Word/Excel 97-2003", html=False)
    source.seek(0)


def refuse_active(entries: list[list[str]], clsid: str) -> None:
    """Refuse a VBA project, an embedded object or an installer, wherever they sit."""
    names = [part.lower() for entry in entries for part in entry]
    if any(name in _VBA for name in names):
        raise Refused(MACRO)
    for name in names:
        what = _OBJECTS.get(name) or ("đối tượng nhúng của Excel" if name.startswith("mbd") else "")
        if what:
            raise Refused(EMBEDDED.format(what=what))
    if clsid.startswith(_INSTALLER_CLSIDS):
        raise Refused("Tệp là gói cài đặt Windows (MSI), không phải tài liệu.")


def refuse_embedded_ole(source: IO[bytes], part: str) -> None:
    """An OLE file found inside an Office/ODF package: a macro project says so; anything else
    is an embedded object."""
    try:
        with olefile.OleFileIO(source) as ole:
            entries = ole.listdir(streams=True, storages=True)
    except Exception:  # noqa: BLE001
        entries = []
    if any(p.lower() in _VBA for entry in entries for p in entry):
        raise Refused(MACRO)
    raise Refused(EMBEDDED.format(what=f"đối tượng OLE “{part[:60]}”"))


def _check_word(data: bytes) -> None:
    """The Word 97+ file information block: its magic, no template, no password."""
    if len(data) < 12:
        raise _damaged()
    ident, _nfib, _unused, _lid, _next, flags = struct.unpack_from("<HHHHHH", data)
    if ident != _WORD8:
        raise Refused(
            "Tệp Word quá cũ (trước Word 97) hoặc bị hỏng. Hãy mở bằng Word, lưu lại dưới dạng "
            "DOCX rồi nộp lại."
        )
    if flags & 0x0100:
        raise Refused(PASSWORD)
    if flags & 0x0001:
        raise Refused(
            "Tệp là mẫu văn bản Word (DOT), không phải văn bản. Hãy lưu lại dưới dạng DOCX rồi "
            "nộp lại."
        )


def _check_workbook(data: bytes) -> None:
    """Walk the workbook's BIFF records to the end: no password, no macro sheet."""
    at = 0
    while at + 4 <= len(data):
        kind, size = struct.unpack_from("<HH", data, at)
        body = data[at + 4 : at + 4 + size]
        if len(body) != size:
            raise _damaged()
        if kind == _FILEPASS:
            raise Refused(PASSWORD)
        if kind == _BOUNDSHEET and len(body) >= 6 and body[5] in _MACRO_SHEETS:
            raise Refused(f"{MACRO} (Bảng tính có {_MACRO_SHEETS[body[5]]}.)")
        at += 4 + size
