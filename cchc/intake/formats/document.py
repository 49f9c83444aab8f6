"""One document, by its content: which accepted format it is, checked to its end; and a ZIP
taken only as a folder of such documents (one level: no archive of any kind inside, each entry
an accepted document whose name's extension agrees with its content)."""

from __future__ import annotations

from typing import IO

import puremagic

from cchc.intake import names
from cchc.intake.formats import image
from cchc.intake.formats.allowlist import ACCEPTED_LABEL, TYPES
from cchc.intake.formats.common import Budget, Refused, archive, program, shown
from cchc.intake.formats.odf import inspect_odf
from cchc.intake.formats.ole import MAGIC as OLE_MAGIC
from cchc.intake.formats.ole import inspect_ole
from cchc.intake.formats.ooxml import inspect_ooxml
from cchc.intake.formats.pdf import inspect_pdf
from cchc.intake.formats.zipread import StrictZip

HEAD = 0x9006
"""Enough to tell a disc image (ISO 9660 marks sit at 32 KB)."""


def inspect(stream: IO[bytes], budget: Budget, in_folder: bool = False) -> str:
    """The accepted kind of the document in `stream`, after every check of its format;
    Refused otherwise (a ZIP that is no Office/ODF package is refused `in_folder`)."""
    stream.seek(0)
    head = stream.read(HEAD)
    stream.seek(0)
    found = program(head)
    if found:
        raise Refused(f"Tệp là {found}, không phải tài liệu. Hệ thống không nhận tệp chương trình.")
    if head.startswith(b"%PDF-"):
        return inspect_pdf(stream)
    if head.startswith(OLE_MAGIC):
        return inspect_ole(stream)
    if head.startswith((image.PNG_MAGIC, image.JPEG_MAGIC)):
        return image.inspect_image(stream)
    if head.startswith(b"PK\x03\x04"):
        return _container(StrictZip(stream, budget), in_folder)
    if head.startswith(b"PK\x05\x06"):
        raise Refused("Tệp ZIP rỗng (không có tệp nào bên trong).")
    found = archive(head)
    if found:
        raise Refused(
            f"Tệp là tệp nén {found}: không kiểm tra được nội dung. Chỉ nhận {ACCEPTED_LABEL}; "
            "nhiều tài liệu thì nén bằng ZIP (Windows: Gửi tới → Thư mục nén)."
        )
    raise Refused(
        f"Định dạng tệp không được nhận{_named(head)}. Chỉ nhận {ACCEPTED_LABEL}; định dạng "
        "được xác định theo nội dung tệp, không theo tên."
    )


def _named(head: bytes) -> str:
    """What the content looks like, for the message (empty when puremagic cannot tell)."""
    try:
        found = puremagic.magic_string(head[:8192])
    except (puremagic.PureError, ValueError):
        return ""
    return f" (nội dung là: {found[0].name})" if found and found[0].name else ""


def _container(package: StrictZip, in_folder: bool) -> str:
    if not package.members:
        raise Refused("Tệp ZIP rỗng (không có tệp nào bên trong).")
    _check_entries(package)
    lower = {m.filename.lower() for m in package.members}
    if "mimetype" in lower:
        return inspect_odf(package)
    if "[content_types].xml" in lower:
        return inspect_ooxml(package)
    if in_folder:
        raise Refused(
            "Tệp ZIP chứa một tệp nén khác bên trong: chỉ nhận một lớp thư mục nén. Hãy giải "
            "nén và nén lại tất cả tài liệu trong một tệp ZIP."
        )
    return _folder(package)


def _check_entries(package: StrictZip) -> None:
    """Every entry's name and attributes: a path inside, not a link, not a program's name."""
    for member in package.members:
        names.check_entry_name(member.filename)
        if member.create_system == 3 and (member.external_attr >> 16) & 0o170000 == 0o120000:
            raise Refused(f"Tệp ZIP chứa liên kết (symlink) {shown(member.filename)}.")
        if not member.is_dir():
            _not_a_program_name(member.filename)


_PROGRAM_EXTENSIONS = frozenset(
    {
        *(".exe", ".dll", ".com", ".scr", ".msi", ".msp", ".bat", ".cmd", ".ps1", ".vbs"),
        *(".vbe", ".js", ".jse", ".wsf", ".wsh", ".hta", ".cpl", ".jar", ".apk", ".app"),
        *(".sh", ".elf", ".so", ".dylib", ".lnk", ".reg", ".pif", ".gadget", ".msc", ".appx"),
        *(".msix", ".py", ".pyw", ".url", ".scf", ".inf", ".iso", ".img", ".vhd", ".vhdx"),
    }
)


def _not_a_program_name(name: str) -> None:
    if names.extension_of(name) in _PROGRAM_EXTENSIONS:
        base = name.replace("\\", "/").rsplit("/", 1)[-1]
        raise Refused(f"Tệp ZIP chứa tệp chương trình ({shown(base)}).")


def _folder(package: StrictZip) -> str:
    """A ZIP of documents: each entry read to its end and inspected as an upload is."""
    for member in package.members:
        if member.is_dir():
            continue
        base = member.filename.replace("\\", "/").rsplit("/", 1)[-1]
        with package.spool(member) as stream:
            try:
                kind = inspect(stream, package.budget, in_folder=True)
            except Refused as exc:
                raise Refused(f"Trong tệp ZIP, tệp {shown(base)}: {exc.message}") from None
        names.check_extension(base)
        if not names.matches(base, TYPES[kind]):
            raise Refused(
                f"Trong tệp ZIP, tệp {shown(base)} có nội dung {TYPES[kind].label} nhưng đuôi tệp "
                f"khác: máy nhận sẽ mở sai. Hãy đổi đuôi thành “{TYPES[kind].extension}” rồi nén "
                "lại."
            )
    return "zip"
