"""Office Open XML packages: DOCX, XLSX, PPTX.

A package is one when `_rels/.rels` names its main part, the part is there and
`[Content_Types].xml` gives it the main content type of a Word document, an Excel workbook or a
PowerPoint presentation. Then every part is read to its end: the content types and every
relationship part are parsed first (macro, OLE object, ActiveX and other active kinds refused,
whatever a part is called; a relationship leaving the package refused unless it is a web or mail
hyperlink), every XML part is parsed (no DTD; no UNC, `file:` or `mhtml:` reference; no Word
field that loads a file or runs DDE), every binary part is a picture, a font or printer settings
(`parts.check_binary`). An embedded workbook (a chart's data) is inspected as a package in its
turn, one level down only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import IO

from cchc.intake.formats import xmlscan
from cchc.intake.formats.common import EMBEDDED, EXTERNAL, MACRO, Refused, shown
from cchc.intake.formats.parts import check_binary
from cchc.intake.formats.zipread import StrictZip

MAIN_TYPES = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": "xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": "pptx",
}
"""The content type of a package's main part, and what the package then is."""
_EMBEDDED_PACKAGES = {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
"""Packages a document may embed (the workbook behind a chart), inspected in turn."""
_ACTIVE_TYPES = (
    ("macroenabled", MACRO),
    ("vbaproject", MACRO),
    ("vbadata", MACRO),
    ("macrosheet", MACRO),
    ("attachedtoolbars", MACRO),
    ("activex", EMBEDDED.format(what="điều khiển ActiveX")),
    ("oleobject", EMBEDDED.format(what="đối tượng OLE")),
)
"""Marks in a declared content type, and the refusal."""
_ACTIVE_RELATIONSHIPS = {
    "oleobject": EMBEDDED.format(what="đối tượng OLE"),
    "activexcontrol": EMBEDDED.format(what="điều khiển ActiveX"),
    "activexcontrolbinary": EMBEDDED.format(what="điều khiển ActiveX"),
    "control": EMBEDDED.format(what="điều khiển ActiveX"),
    "vbaproject": MACRO,
    "vbaprojectsignature": MACRO,
    "wordvbadata": MACRO,
    "attachedtoolbars": MACRO,
    "keymapcustomizations": MACRO,
    "attachedtemplate": (
        "Tài liệu gắn với mẫu văn bản (template) ở máy hoặc địa chỉ khác, có thể tự tải mã lệnh "
        "khi mở. Hãy lưu lại tài liệu dưới dạng PDF, hoặc trong Word chọn Tệp → Tùy chọn → "
        "Phần bổ trợ → Mẫu và bỏ mẫu đính kèm, rồi nộp lại."
    ),
    "subdocument": EXTERNAL.format(what="văn bản con"),
    "afchunk": EMBEDDED.format(what="nội dung nhập từ định dạng khác (altChunk)"),
    "frame": EXTERNAL.format(what="khung trang"),
    "externallink": EXTERNAL.format(what="liên kết dữ liệu tới bảng tính khác"),
    "externallinkpath": EXTERNAL.format(what="liên kết dữ liệu tới bảng tính khác"),
}
"""Relationship types (their last segment, lower case) that are refused wherever they are."""
_XML = re.compile(r"(\+xml|/xml)$")
_LOCAL_TEMPLATE = re.compile(r"^(file:///)?[a-z]:[\\/]", re.IGNORECASE)
"""A template on the sender's own drive (Word records the one a document was made from): on the
office's computer it names a path that is not there, or the office's own template."""


def _binary_kind(content_type: str) -> bool:
    """The binary parts an Office document holds besides pictures."""
    return content_type.endswith("printersettings") or "font" in content_type


def _fake(why: str) -> Refused:
    return Refused(
        f"Tệp có dạng tài liệu Office nhưng cấu trúc không đúng ({why}). Hãy mở tệp bằng Word, "
        "Excel hoặc PowerPoint, lưu lại rồi nộp lại."
    )


@dataclass
class _Types:
    """`[Content_Types].xml`: part name or extension → content type (lower case)."""

    overrides: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)

    def start(self, name: str, attrs: dict[str, str]) -> None:
        kind = (attrs.get("ContentType") or "").strip().lower()
        if xmlscan.local(name) == "Override":
            part = (attrs.get("PartName") or "").strip().lstrip("/").lower()
            self.overrides[part] = kind
        elif xmlscan.local(name) == "Default":
            self.defaults[(attrs.get("Extension") or "").strip().lower()] = kind

    def end(self, name: str) -> None:
        pass

    def text(self, data: str) -> None:
        pass

    def of(self, part: str) -> str:
        lower = part.lower()
        return self.overrides.get(lower) or self.defaults.get(PurePosixPath(lower).suffix[1:], "")


@dataclass
class _Relationships:
    """One `.rels` part, refused as its relationships are parsed."""

    part: str
    found: list[tuple[str, str]] = field(default_factory=list)

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if xmlscan.local(name) != "Relationship":
            return
        kind = (attrs.get("Type") or "").strip().lower().rsplit("/", 1)[-1]
        target = (attrs.get("Target") or "").strip()
        if kind == "attachedtemplate" and _LOCAL_TEMPLATE.match(target):
            return
        if kind in _ACTIVE_RELATIONSHIPS:
            raise Refused(_ACTIVE_RELATIONSHIPS[kind])
        external = (attrs.get("TargetMode") or "").strip().lower() == "external"
        if external and not (kind == "hyperlink" and xmlscan.SAFE_LINK.match(target)):
            raise Refused(EXTERNAL.format(what=f"{shown(target[:60])} ({kind})"))
        if xmlscan.external_value(target):
            raise Refused(EXTERNAL.format(what=shown(target[:60])))
        self.found.append((kind, target))

    def end(self, name: str) -> None:
        pass

    def text(self, data: str) -> None:
        pass


@dataclass
class _Part:
    """An XML part: no UNC, `file:` or `mhtml:` reference, no OLE object, no field that loads
    a file or runs DDE (`w:fldSimple`, or `w:instrText` pieces between `w:fldChar`s)."""

    part: str
    _instruction: list[str] = field(default_factory=list)
    _in_instruction: bool = False

    def start(self, name: str, attrs: dict[str, str]) -> None:
        xmlscan.refuse_external_values(attrs, self.part)
        tag = xmlscan.local(name)
        if tag == "OLEObject":
            raise Refused(EMBEDDED.format(what="đối tượng OLE"))
        if tag == "fldSimple":
            instr = next((v for k, v in attrs.items() if xmlscan.local(k) == "instr"), "")
            xmlscan.refuse_active_fields(instr, self.part)
        elif tag == "fldChar":
            self._field_boundary()
        elif tag == "instrText":
            self._in_instruction = True

    def end(self, name: str) -> None:
        if xmlscan.local(name) == "instrText":
            self._in_instruction = False

    def text(self, data: str) -> None:
        if self._in_instruction:
            self._instruction.append(data)

    def _field_boundary(self) -> None:
        xmlscan.refuse_active_fields("".join(self._instruction), self.part)
        self._instruction.clear()


def inspect_ooxml(package: StrictZip, depth: int = 0) -> str:
    """docx, xlsx or pptx, after every part is checked."""
    members = {m.filename: m for m in package.members if not m.is_dir()}
    lower = {name.lower(): m for name, m in members.items()}
    if "[content_types].xml" not in lower:
        raise _fake("thiếu [Content_Types].xml")
    types = _Types()
    xmlscan.parse(package.chunks(lower["[content_types].xml"]), "[Content_Types].xml", types)
    for declared in (*types.overrides.values(), *types.defaults.values()):
        for mark, refusal in _ACTIVE_TYPES:
            if mark in declared:
                raise Refused(refusal)
    rels = {}
    for name, member in members.items():
        if name.lower().endswith(".rels"):
            rels[name.lower()] = _Relationships(name)
            xmlscan.parse(package.chunks(member), name, rels[name.lower()])
    kind = _main_kind(types, rels.get("_rels/.rels"), lower)
    for name, member in members.items():
        if name.lower() == "[content_types].xml" or name.lower() in rels:
            continue
        _check_part(package, member, types.of(name), depth)
    return kind


def _main_kind(types: _Types, package_rels: _Relationships | None, lower: dict) -> str:
    targets = [t for k, t in (package_rels.found if package_rels else []) if k == "officedocument"]
    if len(targets) != 1:
        raise _fake("không có phần chính của tài liệu")
    main = PurePosixPath("/", targets[0].replace("\\", "/")).as_posix().lstrip("/").lower()
    if main not in lower:
        raise _fake(f"thiếu phần chính {shown(main)}")
    kind = MAIN_TYPES.get(types.of(main))
    if kind is None:
        raise Refused(
            "Tệp Office này không phải văn bản Word, bảng tính Excel hay bản trình chiếu "
            "PowerPoint. Hãy lưu lại dưới dạng DOCX, XLSX hoặc PPTX (hoặc xuất ra PDF) rồi nộp lại."
        )
    return kind


def _check_part(package: StrictZip, member, declared: str, depth: int) -> None:
    name = member.filename
    if _XML.search(declared) or (not declared and name.lower().endswith(".xml")):
        xmlscan.parse(package.chunks(member), name, _Part(name))
    elif name.lower().endswith(".vml"):
        _check_vml(package.read(member), name)
    else:
        with package.spool(member) as stream:
            embedded = None
            if depth == 0 and declared in _EMBEDDED_PACKAGES:
                embedded = _embedded(package)
            check_binary(stream, name, declared, _binary_kind, package.budget, embedded)


def _embedded(package: StrictZip):
    def inspect(stream: IO[bytes], name: str) -> None:
        inspect_ooxml(StrictZip(stream, package.budget), depth=1)

    return inspect


_VML_REFERENCE = re.compile(rb"""(?:href|src)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)


def _check_vml(data: bytes, name: str) -> None:
    """A legacy VML drawing (not always well-formed XML): no OLE object, no outside picture."""
    if b"oleobject" in data.lower():
        raise Refused(EMBEDDED.format(what="đối tượng OLE"))
    for found in _VML_REFERENCE.finditer(data):
        target = found.group(1).decode("latin-1")
        if xmlscan.external_value(target) or "://" in target:
            raise Refused(EXTERNAL.format(what=f"{shown(target[:60])} trong {shown(name)}"))
