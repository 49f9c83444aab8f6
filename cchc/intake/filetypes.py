"""What an uploaded file is, by its content, never by its name; and a name safe to show.

Accepted: PDF, Word (DOC, DOCX), Excel (XLS, XLSX), OpenDocument text and spreadsheet (ODT, ODS)
and ZIP archives. `puremagic` names what a file's first bytes say; the formats that share a
container are then told apart by their structure: a ZIP holding `[Content_Types].xml` and
`word/` is DOCX, one whose `mimetype` entry says `opendocument.text` is ODT; an OLE2 compound file
(`olefile`) with a `WordDocument` stream is DOC, with `Workbook` is XLS. Executables, macro-bearing
documents and archives that carry programs are refused, each with a Vietnamese message.
"""

from __future__ import annotations

import stat
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

import olefile
import puremagic

HEAD = 8192
MAX_ZIP_MEMBERS = 5000
MAX_NAME = 200


@dataclass(frozen=True)
class FileType:
    kind: str
    """pdf, doc, docx, xls, xlsx, odt, ods, zip"""
    label: str
    mime: str
    extension: str


TYPES = {
    t.kind: t
    for t in (
        FileType("pdf", "PDF", "application/pdf", ".pdf"),
        FileType("doc", "Word 97-2003 (DOC)", "application/msword", ".doc"),
        FileType(
            "docx",
            "Word (DOCX)",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ".docx",
        ),
        FileType("xls", "Excel 97-2003 (XLS)", "application/vnd.ms-excel", ".xls"),
        FileType(
            "xlsx",
            "Excel (XLSX)",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ".xlsx",
        ),
        FileType("odt", "OpenDocument (ODT)", "application/vnd.oasis.opendocument.text", ".odt"),
        FileType(
            "ods",
            "OpenDocument bảng tính (ODS)",
            "application/vnd.oasis.opendocument.spreadsheet",
            ".ods",
        ),
        FileType("zip", "Tệp nén ZIP", "application/zip", ".zip"),
    )
}
ACCEPTED_LABEL = "PDF, DOC/DOCX, XLS/XLSX, ODT/ODS hoặc ZIP"
ACCEPT_ATTRIBUTE = ",".join(t.extension for t in TYPES.values())
"""For the form's <input accept=...>: a hint to the browser; the server checks the content."""

_EXECUTABLE_MAGIC = (
    (b"MZ", "chương trình Windows (EXE/DLL)"),
    (b"\x7fELF", "chương trình Linux (ELF)"),
    (b"\xfe\xed\xfa\xce", "chương trình macOS (Mach-O)"),
    (b"\xfe\xed\xfa\xcf", "chương trình macOS (Mach-O)"),
    (b"\xce\xfa\xed\xfe", "chương trình macOS (Mach-O)"),
    (b"\xcf\xfa\xed\xfe", "chương trình macOS (Mach-O)"),
    (b"\xca\xfe\xba\xbe", "chương trình (Mach-O/Java)"),
    (b"#!", "tập lệnh (script)"),
    (b"\x00asm", "chương trình WebAssembly"),
)
_EXECUTABLE_EXTENSIONS = frozenset(
    {
        *(".exe", ".dll", ".com", ".scr", ".msi", ".msp", ".bat", ".cmd", ".ps1", ".vbs"),
        *(".vbe", ".js", ".jse", ".wsf", ".wsh", ".hta", ".cpl", ".jar", ".apk", ".app"),
        *(".sh", ".elf", ".so", ".dylib", ".lnk", ".reg", ".pif", ".gadget", ".msc", ".appx"),
        ".msix",
    }
)
_OOXML_MAIN = {"word/document.xml": "docx", "xl/workbook.xml": "xlsx"}
_ODF_TYPES = {
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
}


class Refused(ValueError):
    """A file that is not accepted; `message` says why, in Vietnamese; `status` for HTTP (415
    for a type not accepted, 400 for a bad name or an empty file)."""

    def __init__(self, message: str, status: int = 415):
        super().__init__(message)
        self.message = message
        self.status = status


def clean_name(raw: str) -> str:
    """The sender's file name as it will be shown; refused when it carries a folder path or
    control characters (the bytes are stored under their sha256, never under this name)."""
    name = unicodedata.normalize("NFC", raw or "").strip()
    if not name:
        raise Refused("Tệp không có tên. Hãy chọn lại tệp cần nộp.", status=400)
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        raise Refused(
            f"Tên tệp {_shown(name)} chứa ký tự điều khiển. Hãy đổi tên tệp (chỉ dùng chữ, số, "
            "dấu cách, gạch ngang, dấu chấm) rồi nộp lại.",
            status=400,
        )
    pure = PureWindowsPath(name)
    if (
        "/" in name
        or "\\" in name
        or pure.drive
        or name in (".", "..")
        or PurePosixPath(name).name != name
    ):
        raise Refused(
            f"Tên tệp {_shown(name)} chứa đường dẫn thư mục. Hãy chọn trực tiếp tệp cần nộp.",
            status=400,
        )
    if len(name) > MAX_NAME:
        _, dot, ext = name.rpartition(".")
        keep = f"{dot}{ext}" if dot and len(ext) <= 10 else ""
        name = name[: MAX_NAME - len(keep)].rstrip() + keep
    return name


def _shown(name: str) -> str:
    """A name as a message may quote it: control characters made visible, length capped."""
    visible = "".join(
        ch if unicodedata.category(ch)[0] != "C" else f"\\x{ord(ch):02x}" for ch in name
    )
    return f"“{visible[:80]}”"


def display_name(name: str, file_type: FileType) -> str:
    """The name for a download: the sender's, with the extension its content calls for."""
    if name.lower().endswith(file_type.extension):
        return name
    return f"{name}{file_type.extension}"


def sniff(path: Path) -> FileType:
    """The accepted type of the file at `path`, or Refused."""
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise Refused("Không đọc được tệp đã gửi.", status=400)
    if info.st_size == 0:
        raise Refused("Tệp rỗng (0 byte). Hãy kiểm tra lại tệp trước khi nộp.", status=400)
    with open(path, "rb") as stream:
        head = stream.read(HEAD)
    program = _program(head)
    if program:
        raise Refused(
            f"Tệp là {program}, không phải tài liệu. Hệ thống không nhận tệp chương trình."
        )
    if head.startswith(b"%PDF-"):
        return TYPES["pdf"]
    if head.startswith(olefile.MAGIC):
        return TYPES[_ole_kind(path)]
    if head.startswith(b"PK\x03\x04"):
        return TYPES[_zip_kind(path)]
    if head.startswith(b"PK\x05\x06"):
        raise Refused("Tệp ZIP rỗng (không có tệp nào bên trong).")
    raise Refused(
        f"Định dạng tệp không được nhận{_named(head)}. Chỉ nhận {ACCEPTED_LABEL}; "
        "định dạng được xác định theo nội dung tệp, không theo tên."
    )


def _guess(head: bytes):
    """puremagic's best match for these first bytes, or None."""
    try:
        found = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        return None
    return found[0] if found else None


def _named(head: bytes) -> str:
    """What the content looks like, for the message (empty when puremagic cannot tell)."""
    match = _guess(head)
    return f" (nội dung là: {match.name})" if match is not None and match.name else ""


def _program(head: bytes) -> str | None:
    """A label when these first bytes are a program; containers (ZIP, OLE2) are judged by
    their structure instead."""
    for magic, label in _EXECUTABLE_MAGIC:
        if head.startswith(magic):
            return label
    if head.startswith((b"PK", olefile.MAGIC, b"%PDF-")):
        return None
    match = _guess(head)
    if match is not None and (
        match.extension.lower() in _EXECUTABLE_EXTENSIONS or "executable" in (match.mime_type or "")
    ):
        return f"chương trình ({match.name})"
    return None


def _ole_kind(path: Path) -> str:
    try:
        with olefile.OleFileIO(str(path)) as ole:
            streams = {"/".join(entry) for entry in ole.listdir(streams=True, storages=True)}
    except OSError:
        raise Refused("Tệp Word/Excel 97-2003 bị hỏng, không mở được.") from None
    top = {s.split("/", 1)[0] for s in streams}
    if {"Macros", "_VBA_PROJECT_CUR", "_VBA_PROJECT"} & top:
        raise Refused("Tệp chứa macro (mã lệnh VBA). Hãy lưu lại dưới dạng không có macro.")
    if "WordDocument" in top:
        return "doc"
    if {"Workbook", "Book"} & top:
        return "xls"
    raise Refused(
        f"Tệp Office cũ này không phải văn bản Word hay bảng tính Excel. Chỉ nhận {ACCEPTED_LABEL}."
    )


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > MAX_ZIP_MEMBERS:
                raise Refused(f"Tệp ZIP có quá nhiều tệp bên trong (hơn {MAX_ZIP_MEMBERS}).")
            names = {m.filename for m in members}
            if not members:
                raise Refused("Tệp ZIP rỗng (không có tệp nào bên trong).")
            if "mimetype" in names:
                return _odf_kind(archive, names)
            if "[Content_Types].xml" in names:
                return _ooxml_kind(names)
            _check_archive(archive, members)
            return "zip"
    except zipfile.BadZipFile:
        raise Refused("Tệp ZIP bị hỏng, không mở được.") from None


def _odf_kind(archive: zipfile.ZipFile, names: set[str]) -> str:
    with archive.open("mimetype") as entry:
        mimetype = entry.read(100).decode("ascii", "replace").strip()
    kind = _ODF_TYPES.get(mimetype)
    if kind is None:
        raise Refused(
            f"Tệp OpenDocument loại “{mimetype[:60]}” không được nhận; chỉ nhận ODT, ODS."
        )
    if any(n.startswith(("Basic/", "Scripts/")) for n in names):
        raise Refused("Tệp chứa macro (mã lệnh). Hãy lưu lại dưới dạng không có macro.")
    return kind


def _ooxml_kind(names: set[str]) -> str:
    if any(n.lower().endswith("vbaproject.bin") for n in names):
        raise Refused("Tệp chứa macro (mã lệnh VBA). Hãy lưu lại dưới dạng DOCX/XLSX thường.")
    for main, kind in _OOXML_MAIN.items():
        if main in names:
            return kind
    raise Refused(
        f"Tệp Office này không phải văn bản Word hay bảng tính Excel. Chỉ nhận {ACCEPTED_LABEL}."
    )


def _check_archive(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo]) -> None:
    """A plain ZIP: no programs inside, no entry that would unpack outside its folder, no
    password (its content could not be checked)."""
    names = {m.filename for m in members}
    if "classes.dex" in names or "AndroidManifest.xml" in names:
        raise Refused("Tệp là ứng dụng Android (APK), không phải tài liệu.")
    if "META-INF/MANIFEST.MF" in names and any(n.endswith(".class") for n in names):
        raise Refused("Tệp là chương trình Java (JAR), không phải tài liệu.")
    for member in members:
        name = member.filename
        if member.flag_bits & 0x1:
            raise Refused(
                "Tệp ZIP có đặt mật khẩu: không kiểm tra được nội dung. Hãy nén lại không mật khẩu."
            )
        pure = PurePosixPath(name.replace("\\", "/"))
        if pure.is_absolute() or ".." in pure.parts or PureWindowsPath(name).drive:
            raise Refused(f"Tệp ZIP chứa đường dẫn không hợp lệ ({_shown(name)}).")
        if member.is_dir():
            continue
        if pure.suffix.lower() in _EXECUTABLE_EXTENSIONS:
            raise Refused(f"Tệp ZIP chứa tệp chương trình ({_shown(pure.name)}).")
        try:
            with archive.open(member) as entry:
                head = entry.read(64)
        except (NotImplementedError, RuntimeError, zipfile.BadZipFile, OSError):
            raise Refused(
                f"Không đọc được tệp {_shown(pure.name)} trong tệp ZIP (nén theo cách không hỗ "
                "trợ hoặc bị hỏng)."
            ) from None
        if _program(head):
            raise Refused(f"Tệp ZIP chứa tệp chương trình ({_shown(pure.name)}).")
