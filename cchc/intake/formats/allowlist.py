"""The formats the intake accepts: nothing else is taken. README's table "Accepted formats"
lists the same rows (a test holds them together)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FileType:
    kind: str
    label: str
    mime: str
    extensions: tuple[str, ...]
    """The names it may carry, the first the one a download gets."""

    @property
    def extension(self) -> str:
        return self.extensions[0]


_OOXML = "application/vnd.openxmlformats-officedocument"
ACCEPTED = (
    FileType("pdf", "PDF", "application/pdf", (".pdf",)),
    FileType("docx", "Word (DOCX)", f"{_OOXML}.wordprocessingml.document", (".docx",)),
    FileType("xlsx", "Excel (XLSX)", f"{_OOXML}.spreadsheetml.sheet", (".xlsx",)),
    FileType("pptx", "PowerPoint (PPTX)", f"{_OOXML}.presentationml.presentation", (".pptx",)),
    FileType("odt", "OpenDocument (ODT)", "application/vnd.oasis.opendocument.text", (".odt",)),
    FileType(
        "ods",
        "OpenDocument bảng tính (ODS)",
        "application/vnd.oasis.opendocument.spreadsheet",
        (".ods",),
    ),
    FileType("png", "Ảnh PNG", "image/png", (".png",)),
    FileType("jpeg", "Ảnh JPEG", "image/jpeg", (".jpg", ".jpeg")),
    FileType("doc", "Word 97-2003 (DOC)", "application/msword", (".doc",)),
    FileType("xls", "Excel 97-2003 (XLS)", "application/vnd.ms-excel", (".xls",)),
    FileType("zip", "Thư mục nén ZIP", "application/zip", (".zip",)),
)
TYPES = {t.kind: t for t in ACCEPTED}
EXTENSIONS = frozenset(ext for t in ACCEPTED for ext in t.extensions)
ACCEPTED_LABEL = "PDF, DOCX, XLSX, PPTX, ODT, ODS, ảnh PNG/JPEG, DOC/XLS (không macro) hoặc ZIP"
ACCEPT_ATTRIBUTE = ",".join(sorted(EXTENSIONS))
"""For the form's <input accept=...>: a hint to the browser; the server checks the content."""
