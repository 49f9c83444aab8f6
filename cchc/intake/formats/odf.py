"""OpenDocument packages: ODT and ODS.

A package is one when its first entry is a stored `mimetype` naming a text or a spreadsheet,
`content.xml` is there and the manifest (when present) agrees and encrypts nothing. Then every
entry is read to its end: macros (`Basic/`, `Scripts/`, script event listeners, `vnd.sun.star.
script:` links) and OLE objects are refused, every XML entry is parsed (no DTD; no linked
section, table or DDE source, no applet or plugin; an `xlink:href` is a web or mail hyperlink,
or a path inside the package), every binary entry is a picture or LibreOffice's layout cache.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cchc.intake.formats import xmlscan
from cchc.intake.formats.common import EMBEDDED, EXTERNAL, MACRO, PASSWORD, Refused, shown
from cchc.intake.formats.parts import check_binary
from cchc.intake.formats.zipread import StrictZip

PREFIX = "application/vnd.oasis.opendocument."
KINDS = {
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
}
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
_REFUSED = {
    "object-ole": EMBEDDED.format(what="đối tượng OLE"),
    "applet": EMBEDDED.format(what="applet Java"),
    "plugin": EMBEDDED.format(what="plugin"),
    "event-listener": MACRO,
    "script": MACRO,
    "section-source": EXTERNAL.format(what="đoạn văn bản liên kết tới tệp khác"),
    "table-source": EXTERNAL.format(what="bảng liên kết tới tệp khác"),
    "cell-range-source": EXTERNAL.format(what="vùng ô liên kết tới tệp khác"),
    "dde-source": EXTERNAL.format(what="liên kết DDE"),
    "dde-link": EXTERNAL.format(what="liên kết DDE"),
    "dde-connection-decl": EXTERNAL.format(what="liên kết DDE"),
    "floating-frame": EXTERNAL.format(what="khung trang"),
}
"""Elements (local names) refused wherever they are."""
_HYPERLINKS = {"a"}
_INSIDE = re.compile(r"^(\./)?(?![/\\])(?!.*(^|/)\.\.(/|$))[^:]*$")
"""A path inside the package: relative, no `..`, no scheme."""
_BINARY_NAMES = {"layout-cache"}


def _fake(why: str) -> Refused:
    return Refused(
        f"Tệp có dạng tài liệu OpenDocument nhưng cấu trúc không đúng ({why}). Hãy mở tệp bằng "
        "LibreOffice, lưu lại rồi nộp lại."
    )


@dataclass
class _Part:
    part: str

    def start(self, name: str, attrs: dict[str, str]) -> None:
        tag = xmlscan.local(name)
        if tag in _REFUSED:
            raise Refused(_REFUSED[tag])
        xmlscan.refuse_external_values(attrs, self.part)
        href = attrs.get(_XLINK_HREF)
        if href is None:
            return
        if href.strip().lower().startswith(("vnd.sun.star.script:", "macro:")):
            raise Refused(MACRO)
        if tag in _HYPERLINKS and xmlscan.SAFE_LINK.match(href.strip()):
            return
        if not _INSIDE.match(href.strip()):
            raise Refused(EXTERNAL.format(what=f"{shown(href[:60])} trong {shown(self.part)}"))

    def end(self, name: str) -> None:
        pass

    def text(self, data: str) -> None:
        pass


@dataclass
class _Manifest(_Part):
    mimetype: str = ""

    def start(self, name: str, attrs: dict[str, str]) -> None:
        super().start(name, attrs)
        tag = xmlscan.local(name)
        if tag in ("encryption-data", "encrypted-key"):
            raise Refused(PASSWORD)
        if tag != "file-entry":
            return
        values = {xmlscan.local(k): v for k, v in attrs.items()}
        path = values.get("full-path", "")
        if path.lower().startswith(("basic/", "scripts/")):
            raise Refused(MACRO)
        if path == "/" and values.get("media-type", self.mimetype) != self.mimetype:
            raise _fake("tệp kê khai không khớp loại tài liệu")


def inspect_odf(package: StrictZip) -> str:
    """odt or ods, after every entry is checked."""
    members = package.members
    first = members[0]
    if first.filename != "mimetype" or first.compress_type != 0 or first.file_size > 200:
        raise _fake("mục “mimetype” không đứng đầu")
    mimetype = package.read(first).decode("ascii", "replace").strip()
    if not mimetype.startswith(PREFIX):
        raise _fake(f"loại “{mimetype[:60]}” không phải OpenDocument")
    if mimetype not in KINDS:
        raise Refused(
            f"Tệp OpenDocument loại “{mimetype[len(PREFIX) :][:40]}” không được nhận; chỉ nhận "
            "ODT, ODS (văn bản, bảng tính). Hãy xuất ra PDF rồi nộp lại."
        )
    names = {m.filename.lower() for m in members}
    if "content.xml" not in names:
        raise _fake("thiếu phần nội dung content.xml")
    if any(name.startswith(("basic/", "scripts/")) for name in names):
        raise Refused(MACRO)
    for member in members[1:]:
        if member.is_dir():
            continue
        name = member.filename
        if name.lower() == "meta-inf/manifest.xml":
            xmlscan.parse(package.chunks(member), name, _Manifest(name, mimetype))
        elif name.lower().endswith((".xml", ".rdf")):
            xmlscan.parse(package.chunks(member), name, _Part(name))
        else:
            with package.spool(member) as stream:
                check_binary(stream, name, name, lambda n: n in _BINARY_NAMES, package.budget, None)
    return KINDS[mimetype]
