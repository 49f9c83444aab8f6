"""File names: the sender's name as it will be shown and downloaded, and the names inside a ZIP.

A name is refused (400 for an upload) when Windows would read it otherwise than it is shown: a
folder path, control or bidi characters, an unpaired surrogate, a trailing dot or space (Windows
drops them: `chay.bat.` opens as `chay.bat`), a `:` (an alternate data stream: `x.pdf::$DATA`),
a device name (`CON`, `NUL`...); and when its extension is
not one of the accepted formats' (`.url`, `.py`, `.bat`, `.docm`...). A name without extension is
taken: the download gets the extension its content calls for.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import PurePosixPath, PureWindowsPath

from cchc.intake.formats.allowlist import ACCEPTED_LABEL, EXTENSIONS, FileType
from cchc.intake.formats.common import MACRO, Refused, shown

MAX_NAME = 200
_DEVICES = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)$", re.I)
_EXTENSION = re.compile(r"^[a-z0-9_\-$~]{1,12}$", re.IGNORECASE)
_MACRO_EXTENSIONS = {".docm", ".dotm", ".xlsm", ".xltm", ".xlam", ".pptm", ".potm", ".ppsm"}
_UNSEEN = ("Cc", "Cf", "Cs", "Zl", "Zp")
"""Control, format (bidi), surrogate and separator characters."""
_RENAME = "Hãy đổi tên tệp (chỉ dùng chữ, số, dấu cách, gạch ngang, dấu chấm) rồi nộp lại."


def clean_name(raw: str) -> str:
    """The sender's file name as it will be shown; Refused (400) when it breaks a rule above
    (the bytes are stored under their sha256, never under this name)."""
    name = unicodedata.normalize("NFC", raw or "").lstrip()
    if not name.strip():
        raise Refused("Tệp không có tên. Hãy chọn lại tệp cần nộp.", status=400)
    if "/" in name or "\\" in name or PureWindowsPath(name).drive or name.strip() in (".", ".."):
        raise Refused(
            f"Tên tệp {shown(name)} chứa đường dẫn thư mục. Hãy chọn trực tiếp tệp cần nộp.",
            status=400,
        )
    check_component(name, status=400)
    check_extension(name, status=400)
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        keep = f"{dot}{ext}" if dot and len(ext) <= 10 else ""
        name = name[: MAX_NAME - len(keep)].rstrip(" .") + keep
    return name


def check_component(name: str, status: int = 415) -> None:
    """One file or folder name, by the rules Windows reads names with."""
    bad = next((ch for ch in name if unicodedata.category(ch) in _UNSEEN), None)
    if bad is not None:
        raise Refused(
            f"Tên tệp {shown(name)} chứa ký tự điều khiển hoặc không hợp lệ. {_RENAME}",
            status=status,
        )
    if name.endswith((".", " ")):
        raise Refused(
            f"Tên tệp {shown(name)} kết thúc bằng dấu chấm hoặc dấu cách (Windows sẽ đọc thành "
            f"tên khác). {_RENAME}",
            status=status,
        )
    if ":" in name:
        raise Refused(
            f"Tên tệp {shown(name)} chứa dấu hai chấm (trên Windows là luồng dữ liệu ẩn, ví dụ "
            f"“::$DATA”). {_RENAME}",
            status=status,
        )
    if _DEVICES.match(name.split(".", 1)[0].strip()):
        raise Refused(
            f"Tên tệp {shown(name)} là tên thiết bị của Windows. {_RENAME}", status=status
        )


def extension_of(name: str) -> str:
    """The name's extension in lower case ("" when it has none: a bare or a numeric suffix, as
    in "Báo cáo quý 1.2027", is no extension)."""
    suffix = PurePosixPath(name).suffix
    if not suffix or not _EXTENSION.match(suffix[1:]) or suffix[1:].isdigit():
        return ""
    return suffix.lower()


def check_extension(name: str, status: int = 415) -> None:
    ext = extension_of(name)
    if not ext or ext in EXTENSIONS:
        return
    if ext in _MACRO_EXTENSIONS:
        raise Refused(f"Tệp {shown(name)}: {MACRO}", status=status)
    raise Refused(
        f"Tệp {shown(name)} có đuôi “{ext}” không được nhận. Chỉ nhận {ACCEPTED_LABEL}. Nếu "
        "đây là tài liệu, hãy lưu lại (hoặc xuất ra PDF) với đúng đuôi tệp rồi nộp lại.",
        status=status,
    )


def check_entry_name(name: str) -> None:
    """A path inside a ZIP: relative, no `..`, no link to outside, every component a name
    Windows reads as it is shown."""
    path = name.replace("\\", "/")
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or PureWindowsPath(name).drive:
        raise Refused(f"Tệp ZIP chứa đường dẫn không hợp lệ ({shown(name)}).")
    for part in path.rstrip("/").split("/"):
        if not part:
            raise Refused(f"Tệp ZIP chứa đường dẫn không hợp lệ ({shown(name)}).")
        check_component(part)


def matches(name: str, file_type: FileType) -> bool:
    """The name's extension (if any) is one of the type's."""
    ext = extension_of(name)
    return not ext or ext in file_type.extensions


def display_name(name: str, file_type: FileType) -> str:
    """The name for a download: the sender's, with the extension its content calls for."""
    if extension_of(name) in file_type.extensions:
        return name
    return f"{name}{file_type.extension}"


def local_name(raw: str) -> str:
    """A name read from the disk (`cchc attach`), whatever its encoding: bytes that are not
    UTF-8 (a legacy Vietnamese name on a USB stick) read as Windows-1258, and what still cannot
    be read becomes `_`."""
    data = os.fsencode(raw)
    for codec in ("utf-8", "cp1258"):
        try:
            text = data.decode(codec)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover  (cp1258 leaves a few bytes undefined)
        text = data.decode("utf-8", "replace")
    text = unicodedata.normalize("NFC", text.replace("\ufffd", "_"))
    return "".join("_" if unicodedata.category(ch) in ("Cc", "Cs") else ch for ch in text)
