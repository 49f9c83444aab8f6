"""What an uploaded file is, by its content, never by its name; and a name safe to show.

Accepted: PDF, Word (DOC, DOCX), Excel (XLS, XLSX), OpenDocument text and spreadsheet (ODT, ODS)
and ZIP archives. `puremagic` names what a file's first bytes say; the formats that share a
container are then told apart by their structure:

- an OLE2 compound file (`olefile`) with a `WordDocument` stream is DOC, with `Workbook` is XLS;
- a ZIP is DOCX/XLSX only when it really is an Office Open XML package: `_rels/.rels` names the
  main part, the part exists, and `[Content_Types].xml` gives it the main content type of a
  Word document or an Excel workbook; ODT/ODS only when its first entry is a stored `mimetype`
  naming one, and `content.xml` is there (and the manifest, when present, agrees);
- any other ZIP is an archive.

Every ZIP, Office/ODF containers included, gets the same entry checks, recursively (a ZIP, an
Office document or an OLE file inside is opened and checked in turn, down to `MAX_DEPTH`): no
program (by name or first bytes), no path leaving the folder, no link, no password, no archive
of a kind that cannot be checked. Limits on depth, entry count and total declared size refuse a
ZIP bomb from its central directory, before anything is inflated (zipfile never inflates an entry
past its declared size). Macros are found by content: macro content types in
`[Content_Types].xml`, macro relationship types in any `_rels/*.rels`, and VBA storages inside
any OLE file (`VBA`, `_VBA_PROJECT`, `PROJECT`, `Macros`), whatever the part is named. A file
that cannot be parsed is refused as damaged (415), never an error of the server.
"""

from __future__ import annotations

import re
import shutil
import stat
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import IO
from xml.etree import ElementTree

import olefile
import puremagic

HEAD = 8192
MAX_ZIP_MEMBERS = 5000
"""Entries of a ZIP, counted over every nested archive."""
MAX_DEPTH = 3
"""Archives inside archives: a ZIP in a ZIP in a ZIP in the upload is checked, one more is
refused."""
MAX_DECLARED_BYTES = 512 * 1024 * 1024
"""Total uncompressed size the central directories declare, over every nested archive."""
MAX_XML_PART = 2 * 1024 * 1024
"""`[Content_Types].xml`, a `.rels` part, `mimetype`, the ODF manifest: read up to this."""
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
_OOXML_MAIN_TYPES = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": "xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": "pptx",
}
"""The content type of an OOXML package's main part, and what the package then is."""
_MACRO_MARKS = ("macroenabled", "vbaproject", "macrosheet", "vbadata")
"""In a content type or a relationship type: a part holding macros (VBA, Excel 4.0 sheets)."""
_VBA_NAMES = frozenset({"vba", "_vba_project", "_vba_project_cur", "macros", "project"})
"""Storages and streams of a VBA project inside an OLE file (lower case)."""
_INSTALLER_CLSIDS = ("000C1084", "000C1086", "000C1082")
"""Root CLSIDs of Windows Installer packages, patches and transforms (MSI, MSP, MST)."""
_ODF_PREFIX = "application/vnd.oasis.opendocument."
_ODF_TYPES = {
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
}
_OPAQUE_ARCHIVES = (
    (b"Rar!\x1a\x07", "RAR"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"MSCF\x00\x00\x00\x00", "CAB"),
    (b"\xfd7zXZ\x00", "XZ"),
    (b"ITSF", "CHM"),
)
"""Archives inside a ZIP whose content cannot be checked here: refused."""
_RELS = re.compile(r"(^|/)_rels/[^/]*\.rels$")
_DAMAGED = (
    "Tệp bị hỏng hoặc không đúng định dạng, không mở được. Hãy mở tệp trên máy để kiểm tra, "
    "lưu lại rồi nộp lại."
)
_FAKE_OFFICE = (
    "Tệp có dạng tài liệu Office/OpenDocument nhưng cấu trúc không đúng ({why}). Hãy mở tệp "
    "bằng Word, Excel hoặc LibreOffice, lưu lại rồi nộp lại."
)
_MACRO = "Tệp chứa macro (mã lệnh). Hãy lưu lại dưới dạng không có macro (DOCX, XLSX, ODT, ODS)."


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
    """The accepted type of the file at `path`, or Refused (a damaged file too: never another
    exception)."""
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
    try:
        return TYPES[_accepted(_kind(path, head))]
    except Refused:
        raise
    except zipfile.BadZipFile:
        raise Refused("Tệp ZIP bị hỏng, không mở được.") from None
    except Exception:  # noqa: BLE001  (parsers of damaged files raise anything: a refusal)
        raise Refused(_DAMAGED) from None


def _kind(path: Path, head: bytes) -> str:
    """What the content is, accepted or not (`_accepted` decides)."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(olefile.MAGIC):
        return _ole_kind(str(path))
    if head.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(path) as archive:
            if not archive.infolist():
                raise Refused("Tệp ZIP rỗng (không có tệp nào bên trong).")
            return _inspect_zip(archive, _Budget(), depth=0)
    if head.startswith(b"PK\x05\x06"):
        raise Refused("Tệp ZIP rỗng (không có tệp nào bên trong).")
    raise Refused(
        f"Định dạng tệp không được nhận{_named(head)}. Chỉ nhận {ACCEPTED_LABEL}; "
        "định dạng được xác định theo nội dung tệp, không theo tên."
    )


def _accepted(kind: str) -> str:
    if kind in TYPES:
        return kind
    if kind.startswith(_ODF_PREFIX):
        raise Refused(f"Tệp OpenDocument loại “{kind[:60]}” không được nhận; chỉ nhận ODT, ODS.")
    raise Refused(
        f"Tệp Office này không phải văn bản Word hay bảng tính Excel. Chỉ nhận {ACCEPTED_LABEL}."
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


# ----- OLE2 compound files (DOC, XLS, and OLE parts inside Office documents) ------------------


def _ole_kind(source: str | IO[bytes]) -> str:
    """DOC or XLS; anything else in an OLE file is refused."""
    top = _check_ole(source)
    if {"EncryptionInfo", "EncryptedPackage"} <= top:
        raise Refused(
            "Tệp có đặt mật khẩu: không kiểm tra được nội dung. Hãy bỏ mật khẩu rồi nộp lại."
        )
    if "WordDocument" in top:
        return "doc"
    if {"Workbook", "Book"} & top:
        return "xls"
    return "ole"


def _check_ole(source: str | IO[bytes]) -> set[str]:
    """Refuse an OLE file holding a VBA project (found by its storages and streams, wherever
    they are), an installer, or an embedded package that is a program; its top-level names."""
    try:
        with olefile.OleFileIO(source) as ole:
            entries = ole.listdir(streams=True, storages=True)
            clsid = (ole.root.clsid or "").upper() if ole.root is not None else ""
            natives = [e for e in entries if e[-1] == "\x01Ole10Native"]
            packaged = [ole.openstream(e).read(HEAD) for e in natives]
    except Refused:
        raise
    except Exception:  # noqa: BLE001  (olefile raises anything on a damaged file)
        raise Refused("Tệp Word/Excel 97-2003 (OLE) bị hỏng, không mở được.") from None
    if any(part.lower() in _VBA_NAMES for entry in entries for part in entry):
        raise Refused(_MACRO)
    if clsid.startswith(_INSTALLER_CLSIDS):
        raise Refused("Tệp là gói cài đặt Windows (MSI), không phải tài liệu.")
    for data in packaged:
        _check_packaged(data)
    return {entry[0] for entry in entries}


def _check_packaged(data: bytes) -> None:
    """An `\\x01Ole10Native` stream (an object packaged into a document): refuse a program.
    Layout: size (4), flags (2), label\\0, source path\\0, 8 bytes, temp path\\0, size (4),
    the file's bytes."""
    try:
        label, rest = data[6:].split(b"\0", 1)
        source, rest = rest.split(b"\0", 1)
        temp, rest = rest[8:].split(b"\0", 1)
        body = rest[4:]
    except ValueError:
        return  # not the packager's layout: nothing more to read
    names = [n.decode("latin-1").replace("\\", "/") for n in (label, source, temp)]
    if _program(body) or any(
        PurePosixPath(n).suffix.lower() in _EXECUTABLE_EXTENSIONS for n in names
    ):
        raise Refused(
            f"Tài liệu có gắn kèm tệp chương trình ({_shown(PurePosixPath(names[0]).name)})."
        )


# ----- ZIP archives and the Office/ODF packages built on them -----------------------------------


@dataclass
class _Budget:
    """What the central directories declare, over every nested archive."""

    entries: int = 0
    declared: int = 0

    def take(self, members: list[zipfile.ZipInfo]) -> None:
        self.entries += len(members)
        if self.entries > MAX_ZIP_MEMBERS:
            raise Refused(
                f"Tệp ZIP có quá nhiều tệp bên trong (hơn {MAX_ZIP_MEMBERS}, kể cả các tệp nén "
                "lồng bên trong)."
            )
        self.declared += sum(m.file_size for m in members)
        if self.declared > MAX_DECLARED_BYTES:
            raise Refused(
                f"Tệp nén khi giải nén sẽ lớn hơn {MAX_DECLARED_BYTES // 2**20} MB (có thể là "
                "“bom nén”). Hãy nén lại chỉ những tài liệu cần nộp."
            )


def _inspect_zip(archive: zipfile.ZipFile, budget: _Budget, depth: int) -> str:
    """The package's kind (docx, xlsx, pptx, odt, ods, another ODF mimetype, or zip) after
    every check of its entries, nested archives included."""
    members = archive.infolist()
    budget.take(members)
    _check_names(members)
    kind = _package_kind(archive, members)
    for member in members:
        if not member.is_dir():
            _check_entry(archive, member, budget, depth)
    return kind


def _check_names(members: list[zipfile.ZipInfo]) -> None:
    """No password, no path leaving the folder, no link, no program by its name."""
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
        if (
            pure.is_absolute()
            or ".." in pure.parts
            or PureWindowsPath(name).drive
            or any(unicodedata.category(ch) == "Cc" for ch in name)
        ):
            raise Refused(f"Tệp ZIP chứa đường dẫn không hợp lệ ({_shown(name)}).")
        if member.create_system == 3 and stat.S_ISLNK(member.external_attr >> 16):
            raise Refused(f"Tệp ZIP chứa liên kết (symlink) {_shown(name)}: không được nhận.")
        if not member.is_dir() and pure.suffix.lower() in _EXECUTABLE_EXTENSIONS:
            raise Refused(f"Tệp ZIP chứa tệp chương trình ({_shown(pure.name)}).")


def _check_entry(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, budget: _Budget, depth: int
) -> None:
    """One entry, by its content: a program, a nested ZIP (inspected in turn), an OLE file
    (VBA, installer), an archive that cannot be checked."""
    shown = _shown(PurePosixPath(member.filename.replace("\\", "/")).name)
    try:
        with archive.open(member) as entry:
            head = entry.read(512)
    except Exception:  # noqa: BLE001  (zlib, zipfile and lzma errors alike)
        raise Refused(
            f"Không đọc được tệp {shown} trong tệp ZIP (nén theo cách không hỗ trợ hoặc bị hỏng)."
        ) from None
    if _program(head):
        raise Refused(f"Tệp ZIP chứa tệp chương trình ({shown}).")
    opaque = _opaque_archive(head)
    if opaque:
        raise Refused(
            f"Tệp ZIP chứa tệp nén {opaque} ({shown}): không kiểm tra được nội dung. Hãy giải "
            "nén và nộp các tài liệu (hoặc nén lại bằng ZIP)."
        )
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        if depth >= MAX_DEPTH:
            raise Refused(
                f"Tệp ZIP lồng nhau quá {MAX_DEPTH} lớp ({shown}). Hãy giải nén bớt rồi nén lại."
            )
        with _spooled(archive, member) as inner, zipfile.ZipFile(inner) as nested:
            _inspect_zip(nested, budget, depth + 1)
    elif head.startswith(olefile.MAGIC):
        with _spooled(archive, member) as inner:
            _check_ole(inner)


def _opaque_archive(head: bytes) -> str | None:
    """The kind of archive these first bytes open, when its content cannot be checked here; a
    gzip stream is looked into (Office keeps its EMF pictures gzipped)."""
    for magic, label in _OPAQUE_ARCHIVES:
        if head.startswith(magic):
            return label
    if head[257:262] == b"ustar":
        return "TAR"
    if head.startswith(b"BZh") and head[4:10] == b"1AY&SY":
        return "BZIP2"
    if head.startswith(b"\x1f\x8b"):
        inflated = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 1024)
        if _program(inflated):
            raise Refused("Tệp ZIP chứa tệp chương trình đã nén (GZIP).")
        if inflated[257:262] == b"ustar":
            return "TAR"
    return None


@contextmanager
def _spooled(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> Iterator[IO[bytes]]:
    """The entry's bytes as a seekable file (memory up to 8 MB, then a temporary file); never
    more than its declared size, which the budget has counted."""
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as out:
        with archive.open(member) as entry:
            shutil.copyfileobj(entry, out, 1024 * 1024)
        out.seek(0)
        yield out


def _package_kind(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo]) -> str:
    """Office Open XML, OpenDocument or a plain ZIP; macros declared anywhere are refused."""
    lower = {m.filename.lower(): m for m in members}
    types = (
        _content_types(archive, lower["[content_types].xml"])
        if "[content_types].xml" in lower
        else {}
    )
    if any(mark in ct for ct in types.values() for mark in _MACRO_MARKS):
        raise Refused(_MACRO)
    rels = {name: _relationships(archive, m) for name, m in lower.items() if _RELS.search(name)}
    if any(mark in kind for found in rels.values() for kind, _ in found for mark in _MACRO_MARKS):
        raise Refused(_MACRO)
    if any(name.startswith(("basic/", "scripts/")) for name in lower):
        raise Refused(_MACRO)  # OpenDocument macros (StarBasic, scripts)
    if "mimetype" in lower:
        return _odf_kind(archive, members, lower)
    if "[content_types].xml" in lower:
        return _ooxml_kind(types, rels.get("_rels/.rels", []), lower)
    return "zip"


def _xml(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> ElementTree.Element:
    """A small XML part of a package, parsed (no DTD: nothing to expand)."""
    if member.file_size > MAX_XML_PART:
        raise Refused(_FAKE_OFFICE.format(why=f"phần {_shown(member.filename)} quá lớn"))
    data = archive.read(member)
    if b"<!DOCTYPE" in data.upper():
        raise Refused(_FAKE_OFFICE.format(why=f"phần {_shown(member.filename)} có DOCTYPE"))
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError:
        raise Refused(
            _FAKE_OFFICE.format(why=f"phần {_shown(member.filename)} không đọc được")
        ) from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _content_types(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> dict[str, str]:
    """`[Content_Types].xml`: part name (`/word/document.xml`) or extension (`.xml`) → content
    type, all lower case."""
    found = {}
    for node in _xml(archive, member).iter():
        ct = (node.get("ContentType") or "").strip().lower()
        if _local(node.tag) == "Override":
            found["/" + (node.get("PartName") or "").strip().lstrip("/").lower()] = ct
        elif _local(node.tag) == "Default":
            found["." + (node.get("Extension") or "").strip().lower()] = ct
    return found


def _relationships(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> list[tuple[str, str]]:
    """(type in lower case, target) of every relationship of a `.rels` part."""
    return [
        ((node.get("Type") or "").strip().lower(), (node.get("Target") or "").strip())
        for node in _xml(archive, member).iter()
        if _local(node.tag) == "Relationship"
    ]


def _ooxml_kind(
    types: dict[str, str], package_rels: list[tuple[str, str]], lower: dict[str, zipfile.ZipInfo]
) -> str:
    """docx, xlsx or pptx when the package's main part is there with its main content type."""
    targets = [target for kind, target in package_rels if kind.endswith("/officedocument")]
    if len(targets) != 1:
        raise Refused(_FAKE_OFFICE.format(why="không có phần chính của tài liệu"))
    main = PurePosixPath("/", targets[0].replace("\\", "/")).as_posix().lower()
    if main.lstrip("/") not in lower:
        raise Refused(_FAKE_OFFICE.format(why=f"thiếu phần chính {_shown(main)}"))
    content_type = types.get(main) or types.get(PurePosixPath(main).suffix, "")
    kind = _OOXML_MAIN_TYPES.get(content_type)
    if kind is None:
        raise Refused(
            f"Tệp Office này không phải văn bản Word hay bảng tính Excel. Chỉ nhận "
            f"{ACCEPTED_LABEL}."
        )
    return kind


def _odf_kind(
    archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], lower: dict[str, zipfile.ZipInfo]
) -> str:
    """odt, ods (or another ODF mimetype) when the package is one: `mimetype` first and stored,
    `content.xml` present, the manifest (when there) of the same type and not encrypted."""
    first = members[0]
    if first.filename != "mimetype" or first.compress_type != zipfile.ZIP_STORED:
        raise Refused(_FAKE_OFFICE.format(why="mục “mimetype” không đứng đầu"))
    if first.file_size > 200:
        raise Refused(_FAKE_OFFICE.format(why="mục “mimetype” không đúng"))
    mimetype = archive.read(first).decode("ascii", "replace").strip()
    if not mimetype.startswith(_ODF_PREFIX):
        raise Refused(_FAKE_OFFICE.format(why=f"loại “{mimetype[:60]}” không phải OpenDocument"))
    if "content.xml" not in lower:
        raise Refused(_FAKE_OFFICE.format(why="thiếu phần nội dung content.xml"))
    manifest = lower.get("meta-inf/manifest.xml")
    if manifest is not None:
        for node in _xml(archive, manifest).iter():
            if _local(node.tag) == "encryption-data":
                raise Refused(
                    "Tệp có đặt mật khẩu: không kiểm tra được nội dung. Hãy bỏ mật khẩu rồi nộp "
                    "lại."
                )
            if _local(node.tag) != "file-entry":
                continue
            attrs = {_local(k): v for k, v in node.attrib.items()}
            path = attrs.get("full-path", "")
            if path.lower().startswith(("basic/", "scripts/")):
                raise Refused(_MACRO)
            if path == "/" and attrs.get("media-type", mimetype) != mimetype:
                raise Refused(_FAKE_OFFICE.format(why="tệp kê khai không khớp loại tài liệu"))
    return _ODF_TYPES.get(mimetype, mimetype)
