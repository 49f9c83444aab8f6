"""The binary parts of an Office or OpenDocument package (pictures, fonts, printer settings),
read to their end: pictures are decoded, a gzipped Office picture (EMZ/WMZ) is inflated within
the budget and must hold one, and anything else must be declared as one of the few binary kinds
a document holds. A program, an archive, an OLE object or a PDF inside is refused by content,
whatever the part is called."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import IO

from cchc.intake.formats import image
from cchc.intake.formats.common import EMBEDDED, Budget, Refused, program_or_archive, shown
from cchc.intake.formats.ole import MAGIC as OLE_MAGIC
from cchc.intake.formats.ole import refuse_embedded_ole
from cchc.intake.formats.zipread import StrictZip

_PICTURES = (
    (image.PNG_MAGIC, "PNG"),
    (image.JPEG_MAGIC, "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)
"""Pictures Pillow decodes to the last pixel."""
_METAFILES = (
    b"BM",  # BMP
    b"II*\x00",  # TIFF
    b"MM\x00*",
    b"II\xbc",  # HD Photo (WDP)
    b"\xd7\xcd\xc6\x9a",  # placeable WMF
    b"\x01\x00\x09\x00",  # WMF
    b"\x02\x00\x09\x00",
    b"VCLMTF",  # StarView metafile (LibreOffice's object replacements)
    b"RIFF",  # WebP
)
"""Other picture formats Office keeps: taken by their magic (EMF below, by its signature)."""
_GZIPPED_PICTURES = ("image/x-emz", "image/x-wmz")

Package = Callable[[StrictZip, int], str]
"""Inspects an embedded Office package one level down: its kind."""


def is_emf(head: bytes) -> bool:
    return head.startswith(b"\x01\x00\x00\x00") and head[40:44] == b" EMF"


def is_picture(head: bytes) -> bool:
    return is_emf(head) or head.startswith(tuple(m for m, _ in _PICTURES) + _METAFILES)


def check_binary(
    stream: IO[bytes],
    name: str,
    declared: str,
    allowed: Callable[[str], bool],
    budget: Budget,
    embedded: Callable[[IO[bytes], str], None] | None = None,
) -> None:
    """One binary part (read whole into `stream`): refused unless a picture, a gzipped Office
    picture, an embedded Office package `embedded` accepts, or of a binary kind `allowed`
    (its declared content type or name)."""
    head = stream.read(65536)
    stream.seek(0)
    if head.startswith(OLE_MAGIC):
        refuse_embedded_ole(stream, name)
    if head.startswith(b"%PDF"):
        raise Refused(EMBEDDED.format(what=f"tệp PDF {shown(name)}"))
    if head.startswith(b"PK\x03\x04") and embedded is not None:
        embedded(stream, name)
        return
    if head.startswith(b"\x1f\x8b") and declared in _GZIPPED_PICTURES:
        _gzipped_picture(stream, name, budget)
        return
    program_or_archive(head, name)
    for magic, expected in _PICTURES:
        if head.startswith(magic):
            image.decode(stream, expected)
            return
    if is_picture(head) or allowed(declared):
        return
    raise Refused(
        f"Tài liệu có phần {shown(name)} không phải nội dung của văn bản (loại "
        f"{shown(declared or 'không rõ')}). Hãy mở tài liệu, lưu lại (hoặc xuất ra PDF) rồi "
        "nộp lại."
    )


def _gzipped_picture(stream: IO[bytes], name: str, budget: Budget) -> None:
    """An EMZ/WMZ picture: one gzip member, inflated to its end within the budget, holding an
    EMF or WMF and nothing else."""
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    budget.admit(name, 0, 1)
    head = b""
    try:
        for raw in iter(lambda: stream.read(65536), b""):
            while raw:
                piece = inflate.decompress(raw, 1024 * 1024)
                raw = inflate.unconsumed_tail
                budget.spend(len(piece))
                head += piece[: max(0, 64 - len(head))]
                if inflate.eof and (inflate.unused_data or raw):
                    raise Refused(f"Ảnh nén {shown(name)} có dữ liệu thừa sau phần ảnh.")
    except zlib.error:
        raise Refused(f"Ảnh nén {shown(name)} trong tài liệu bị hỏng.") from None
    if not inflate.eof or not (is_emf(head) or head.startswith(_METAFILES[4:7])):
        raise Refused(f"Ảnh nén {shown(name)} trong tài liệu không phải ảnh EMF/WMF.")
