"""Hostile files of the issue 21 campaign, built byte by byte: archives of every kind, ZIPs whose
central directory lies, OLE objects, active and polyglot PDFs, Office files that reach outside."""

from __future__ import annotations

import gzip
import io
import lzma
import struct
import zlib

from intake_support import (
    DOCX_MAIN,
    OFFICE_DOCUMENT_REL,
    content_types,
    docx_bytes,
    exe_bytes,
    ole_bytes,
    pdf_bytes,
    relationships,
    zip_bytes,
)

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
OLE_OBJECT = "application/vnd.openxmlformats-officedocument.oleObject"


def raw_zip(
    entries: list[tuple[str, bytes, int | None, int | None]], stored: bool = False
) -> bytes:
    """A ZIP written by hand: (name, data, declared size, declared CRC) per entry; a declared
    value of None is the true one. The data is deflated (or stored) in full whatever is
    declared: the lie `unzip` follows and `zipfile` trusts."""
    out = io.BytesIO()
    central = io.BytesIO()
    for name, data, size, crc in entries:
        packed = data if stored else _deflate(data)
        size = len(data) if size is None else size
        crc = zlib.crc32(data) if crc is None else crc
        method = 0 if stored else 8
        offset = out.tell()
        encoded = name.encode()
        out.write(
            struct.pack(
                "<4sHHHHHIIIHH",
                b"PK\x03\x04",
                20,
                0,
                method,
                0,
                0x21,
                crc,
                len(packed),
                size,
                len(encoded),
                0,
            )  # fmt: skip
            + encoded
            + packed
        )
        central.write(
            struct.pack(
                "<4sHHHHHHIIIHHHHHII",
                b"PK\x01\x02",
                20,
                20,
                0,
                method,
                0,
                0x21,
                crc,
                len(packed),
                size,
                len(encoded),
                0,
                0,
                0,
                0,
                0,
                offset,
            )  # fmt: skip
            + encoded
        )
    start = out.tell()
    directory = central.getvalue()
    out.write(directory)
    out.write(
        struct.pack(
            "<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(directory), start, 0
        )  # fmt: skip
    )
    return out.getvalue()


def _deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


def deflated_zeros(size: int) -> bytes:
    """`size` zero bytes deflated, without holding them in memory."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = bytes(1024 * 1024)
    parts = [packer.compress(block) for _ in range(size // len(block))]
    return b"".join(parts) + packer.compress(bytes(size % len(block))) + packer.flush()


def zip_of_zeros(name: str, size: int) -> bytes:
    """A ZIP holding `size` zero bytes as `name`, written without inflating them in memory."""
    packed = deflated_zeros(size)
    crc = 0
    block = bytes(1024 * 1024)
    for _ in range(size // len(block)):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(bytes(size % len(block)), crc)
    encoded = name.encode()
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(packed),
                        size, len(encoded), 0) + encoded  # fmt: skip
    central = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc,
                          len(packed), size, len(encoded), 0, 0, 0, 0, 0, 0) + encoded  # fmt: skip
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central),
                      len(local) + len(packed), 0)  # fmt: skip
    return local + packed + central + end


# ----- archives -----------------------------------------------------------------------------------


def gzip_named(data: bytes, name: bytes) -> bytes:
    """A gzip member with the FNAME field set (any length)."""
    header = b"\x1f\x8b\x08\x08" + struct.pack("<I", 0) + b"\x00\x03" + name + b"\x00"
    return header + _deflate(data) + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def zstd_frame(data: bytes) -> bytes:
    """A Zstandard frame holding `data` as one raw block (no library needed)."""
    header = b"\x28\xb5\x2f\xfd" + bytes([0x60]) + struct.pack("<H", len(data) - 256)
    block = struct.pack("<I", (len(data) << 3) | 1)[:3]
    return header + block + data


def iso_image(name: bytes, data: bytes) -> bytes:
    """The marks of an ISO 9660 disc image (the volume descriptor at 32 KB) and a file."""
    image = bytearray(0x8000)
    image += b"\x01CD001\x01" + bytes(2041)
    image += b"\xffCD001\x01" + bytes(2041)
    image += name + b";1" + bytes(30) + data
    return bytes(image)


ARCHIVES = {
    "gzip-zip-exe": ("bang-ke.gz", gzip.compress(zip_bytes(("setup.exe", exe_bytes()))), "GZIP"),
    "gzip-long-fname": ("bang-ke.gz", gzip_named(exe_bytes(), b"a" * 600 + b".pdf"), "GZIP"),
    "gzip-gzip-exe": ("bang-ke.gz", gzip.compress(gzip.compress(exe_bytes())), "GZIP"),
    "lzma": ("bang-ke.lzma", lzma.compress(exe_bytes(), format=lzma.FORMAT_ALONE), "LZMA"),
    "zst": ("bang-ke.zst", zstd_frame(exe_bytes()), "Zstandard"),
    "iso": ("dia.iso", iso_image(b"SETUP.EXE", exe_bytes()), "ISO"),
}


# ----- embedded objects ---------------------------------------------------------------------------


def ole10native(label: bytes, data: bytes) -> bytes:
    """An `\\x01Ole10Native` stream: a file packaged into a document."""
    body = struct.pack("<H", 2) + label + b"\0" + b"C:\\setup.exe\0" + bytes(8)
    body += b"C:\\Temp\\setup.exe\0" + struct.pack("<I", len(data)) + data
    return struct.pack("<I", len(body)) + body


def docx_with(*entries: tuple[str, bytes], overrides=(), rels=(), settings_rels=()) -> bytes:
    """A real-looking Word package with more parts, content types and relationships (of the
    main part, and of `word/settings.xml` when `settings_rels`)."""
    parts = [
        ("[Content_Types].xml", content_types(("/word/document.xml", DOCX_MAIN), *overrides)),
        ("_rels/.rels", relationships((OFFICE_DOCUMENT_REL, "word/document.xml"))),
        (
            "word/document.xml",
            f'<?xml version="1.0"?><w:document xmlns:w="{W_NS}" xmlns:r="{R_NS}"><w:body>'
            "<w:p/></w:body></w:document>".encode(),
        ),
    ]
    if rels:
        parts.append(("word/_rels/document.xml.rels", external_relationships(*rels)))
    if settings_rels:
        parts.append(("word/settings.xml", f'<w:settings xmlns:w="{W_NS}"/>'.encode()))
        parts.append(("word/_rels/settings.xml.rels", external_relationships(*settings_rels)))
    return zip_bytes(*parts, *entries)


def external_relationships(*rels: tuple[str, str, str]) -> bytes:
    """(type, target, mode) per relationship."""
    rows = "".join(
        f'<Relationship Id="rId{n}" Type="{REL}{kind}" Target="{target}"'
        + (f' TargetMode="{mode}"' if mode else "")
        + "/>"
        for n, (kind, target, mode) in enumerate(rels, start=1)
    )
    return (
        '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
        f'2006/relationships">{rows}</Relationships>'
    ).encode()


def docx_ole_package() -> bytes:
    """A DOCX whose oleObject part is an OLE file with a `Package` stream holding a .docm."""
    ole = ole_bytes("Package", data={"Package": docx_bytes(macro=True)})
    return docx_with(
        ("word/embeddings/oleObject1.bin", ole),
        overrides=[("/word/embeddings/oleObject1.bin", OLE_OBJECT)],
        rels=[("oleObject", "embeddings/oleObject1.bin", "")],
    )


EMBEDDED = {
    "doc-ole10native-upper": (
        "van-ban.doc",
        ole_bytes(
            "WordDocument",
            "\x01OLE10NATIVE",
            data={"\x01OLE10NATIVE": ole10native(b"setup.exe", exe_bytes())},
        ),
    ),
    "doc-ole10native-long-label": (
        "van-ban.doc",
        ole_bytes(
            "WordDocument",
            "\x01Ole10Native",
            data={"\x01Ole10Native": ole10native(b"a" * 9000 + b".exe", exe_bytes())},
        ),
    ),
    "doc-package-docm": (
        "van-ban.doc",
        ole_bytes("WordDocument", "Package", data={"Package": docx_bytes(macro=True)}),
    ),
    "docx-oleobject-package": ("ke-hoach.docx", docx_ole_package()),
}


# ----- PDF ---------------------------------------------------------------------------------------


def pdf_polyglot_zip() -> bytes:
    return pdf_bytes() + zip_bytes(("setup.exe", exe_bytes()))
