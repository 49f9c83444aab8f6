"""What every format check shares: the refusal, the cost budget of one upload, what a file's
first bytes say it is (to name what is refused), and the polyglot scans."""

from __future__ import annotations

import re
import struct
import unicodedata
from dataclasses import dataclass

MAX_ENTRIES = 2000
"""Entries of the ZIP containers of one upload (a folder ZIP and the Office files in it)."""
MAX_INFLATED = 256 * 1024 * 1024
"""Bytes inflated from every ZIP container of one upload, all files together."""
MAX_RATIO = 200
"""An entry may inflate to at most this many times its compressed size (past `RATIO_FLOOR`):
text-heavy spreadsheets reach 50, a zip bomb thousands."""
RATIO_FLOOR = 1024 * 1024
"""Entries that inflate to less than this are not held to `MAX_RATIO`."""

DAMAGED = (
    "Tệp bị hỏng hoặc không đúng định dạng, không mở được. Hãy mở tệp trên máy để kiểm tra, "
    "lưu lại rồi nộp lại."
)
PASSWORD = "Tệp có đặt mật khẩu: không kiểm tra được nội dung. Hãy bỏ mật khẩu rồi nộp lại."
MACRO = (
    "Tệp chứa macro (mã lệnh). Hãy lưu lại dưới dạng không có macro (DOCX, XLSX, PPTX, ODT, "
    "ODS) hoặc xuất ra PDF rồi nộp lại."
)
EMBEDDED = (
    "Tài liệu có gắn đối tượng nhúng ({what}). Hệ thống không nhận đối tượng nhúng vì có thể "
    "chứa chương trình. Hãy dán nội dung dưới dạng ảnh hoặc bảng, hoặc xuất tài liệu ra PDF rồi "
    "nộp lại."
)
EXTERNAL = (
    "Tài liệu có liên kết tới nội dung bên ngoài ({what}). Hệ thống không nhận tài liệu tự tải "
    "nội dung từ nơi khác. Hãy chèn trực tiếp nội dung (ảnh, văn bản) hoặc xuất ra PDF rồi nộp "
    "lại."
)
AS_PDF = "Hãy xuất (in) lại tài liệu ra PDF từ Word/Excel hoặc phần mềm ký số rồi nộp lại."


class Refused(ValueError):
    """A file that is not accepted; `message` says why, in Vietnamese; `status` for HTTP (415
    for a type or content not accepted, 400 for a bad name or an empty file)."""

    def __init__(self, message: str, status: int = 415):
        super().__init__(message)
        self.message = message
        self.status = status


def shown(name: str) -> str:
    """A name as a message may quote it: control characters made visible, length capped."""
    visible = "".join(
        ch if unicodedata.category(ch)[0] != "C" else f"\\x{ord(ch):02x}" for ch in name
    )
    return f"“{visible[:80]}”"


@dataclass
class Budget:
    """The cost of one upload: ZIP entries and bytes really inflated, over all its files."""

    entries: int = 0
    declared: int = 0
    inflated: int = 0

    def count(self, entries: int) -> None:
        """When a ZIP container is opened: refused by the number of its entries."""
        self.entries += entries
        if self.entries > MAX_ENTRIES:
            raise Refused(
                f"Tệp nén có quá nhiều tệp bên trong (hơn {MAX_ENTRIES}). Hãy chỉ nén những "
                "tài liệu cần nộp."
            )

    def admit(self, name: str, size: int, compressed: int) -> None:
        """Before an entry is read: refused by ratio and declared total."""
        if size > RATIO_FLOOR and size > MAX_RATIO * max(compressed, 1):
            raise Refused(
                f"Tệp {shown(name)} trong tệp nén giải nén ra lớn gấp hơn {MAX_RATIO} lần (có "
                "thể là “bom nén”). Hệ thống không nhận tệp này."
            )
        self.declared += size
        if self.declared > MAX_INFLATED:
            raise Refused(
                f"Tệp nén khi giải nén sẽ lớn hơn {MAX_INFLATED // 2**20} MB (có thể là “bom "
                "nén”). Hãy nén lại chỉ những tài liệu cần nộp."
            )

    def spend(self, n: int) -> None:
        """Bytes really inflated (a lying entry is refused by the reader before this)."""
        self.inflated += n
        if self.inflated > MAX_INFLATED:
            raise Refused(
                f"Tệp nén khi giải nén lớn hơn {MAX_INFLATED // 2**20} MB (có thể là “bom nén”)."
            )


_PROGRAMS = (
    (b"MZ", "chương trình Windows (EXE/DLL)"),
    (b"\x7fELF", "chương trình Linux (ELF)"),
    (b"\xfe\xed\xfa\xce", "chương trình macOS (Mach-O)"),
    (b"\xfe\xed\xfa\xcf", "chương trình macOS (Mach-O)"),
    (b"\xce\xfa\xed\xfe", "chương trình macOS (Mach-O)"),
    (b"\xcf\xfa\xed\xfe", "chương trình macOS (Mach-O)"),
    (b"\xca\xfe\xba\xbe", "chương trình (Mach-O/Java)"),
    (b"#!", "tập lệnh (script)"),
    (b"\x00asm", "chương trình WebAssembly"),
    (b"dex\n", "chương trình Android (DEX)"),
)
_ARCHIVES = (
    (b"\x1f\x8b", "GZIP"),
    (b"\x5d\x00\x00", "LZMA"),
    (b"\xfd7zXZ\x00", "XZ"),
    (b"\x28\xb5\x2f\xfd", "Zstandard"),
    (b"BZh", "BZIP2"),
    (b"Rar!\x1a\x07", "RAR"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"MSCF\x00\x00\x00\x00", "CAB"),
    (b"ITSF", "CHM"),
    (b"PK\x03\x04", "ZIP"),
    (b"PK\x05\x06", "ZIP"),
    (b"\x04\x22\x4d\x18", "LZ4"),
    (b"xar!", "XAR"),
    (b"!<arch>", "AR/DEB"),
    (b"\xed\xab\xee\xdb", "RPM"),
    (b"koly", "DMG"),
)


def program(head: bytes) -> str | None:
    """A label when these first bytes are a program."""
    return next((label for magic, label in _PROGRAMS if head.startswith(magic)), None)


def archive(head: bytes) -> str | None:
    """A label when these first bytes (at least 32 KB + 6 for a disc image) open an archive."""
    found = next((label for magic, label in _ARCHIVES if head.startswith(magic)), None)
    if found:
        return found
    if head[257:262] == b"ustar":
        return "TAR"
    if any(head[at : at + 5] == b"CD001" for at in (0x8001, 0x8801, 0x9001)):
        return "ảnh đĩa ISO"
    return None


def program_or_archive(head: bytes, name: str) -> None:
    """Refuse a program or an archive of any kind, named `name` in the message."""
    found = program(head)
    if found:
        raise Refused(f"Tệp {shown(name)} là {found}, không phải tài liệu.")
    found = archive(head)
    if found:
        raise Refused(
            f"Tệp {shown(name)} là tệp nén {found}: hệ thống không nhận tệp nén lồng bên trong "
            "tài liệu hay tệp ZIP. Hãy giải nén và nộp trực tiếp các tài liệu."
        )


# ----- polyglots: one file read as two formats ----------------------------------------------------

_HTML = re.compile(
    rb"<(?:html|script|body|iframe|svg|object|embed|meta|form|!doctype\s+html)[\s>/]",
    re.IGNORECASE,
)


def zip_inside(data: bytes) -> bool:
    """An end-of-central-directory record that points at a central directory: a ZIP hidden in
    (or appended to) another format, which a ZIP tool would open."""
    at = data.find(b"PK\x05\x06")
    while at != -1:
        if at + 22 <= len(data):
            cd_size, cd_offset = struct.unpack_from("<II", data, at + 12)
            if data[cd_offset : cd_offset + 4] == b"PK\x01\x02" or (
                cd_size <= at and data[at - cd_size : at - cd_size + 4] == b"PK\x01\x02"
            ):
                return True
        at = data.find(b"PK\x05\x06", at + 1)
    return False


def html_inside(data: bytes) -> bool:
    """HTML markup in the raw bytes: the file would render as a web page if opened as one."""
    return _HTML.search(data) is not None


def no_polyglot(data: bytes, label: str, html: bool = True) -> None:
    """Refuse a file of format `label` that is also a ZIP (or, with `html`, a web page)."""
    if zip_inside(data):
        raise Refused(
            f"Tệp {label} có lẫn một tệp ZIP bên trong (tệp “hai mặt”). Hãy lưu lại tệp (hoặc "
            "xuất lại ra PDF) rồi nộp lại."
        )
    if html and html_inside(data):
        raise Refused(
            f"Tệp {label} có lẫn mã trang web (HTML) bên trong (tệp “hai mặt”). Hãy lưu lại "
            "tệp rồi nộp lại."
        )
