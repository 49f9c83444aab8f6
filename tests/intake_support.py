"""Helpers of the intake tests: the app under a real uvicorn on a free loopback port, and small
but real files of every kind the intake takes or refuses."""

from __future__ import annotations

import io
import socket
import struct
import threading
import time
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import uvicorn
from sqlalchemy import func, select

from cchc.intake import create_app
from cchc.runtime.settings import IntakeSettings, Settings
from models.db import transaction
from models.tables import Deliverable, WorkItem
from notifications.links import item_link, office_link
from schedules.city import City
from schedules.dates import parse_instant
from schedules.plan import Plan

ROOT = Path(__file__).resolve().parent.parent
SECRET = "test-secret-0123456789abcdef-intake"


@dataclass
class Clock:
    at: datetime

    def __call__(self) -> datetime:
        return self.at


@dataclass
class LiveIntake:
    """`create_app` served by uvicorn in a thread, on a loopback port of its own. `plan`: a
    single commune's Plan (served as `City.of(plan)`) or a City."""

    plan: Plan | City
    engine: object
    data_dir: Path
    clock: Clock
    max_bytes: int = 20 * 1024 * 1024
    office_user: str | None = None
    office_password: str | None = None
    intake_options: dict = field(default_factory=dict)
    """More IntakeSettings fields (body_timeout, office_key, ...)."""
    server_options: dict = field(default_factory=dict)
    """More uvicorn options (`cchc.intake.serving.server_options`: as `cchc serve-intake`)."""
    settings: Settings = field(init=False)
    base: str = field(init=False)
    city: City = field(init=False)

    def __enter__(self) -> LiveIntake:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        port = self._sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        self.settings = Settings(
            config_dir=ROOT / "config",
            data_dir=self.data_dir,
            database_url=str(self.engine.url),
            intake=IntakeSettings(
                secret=SECRET,
                public_url=self.base,
                single_machine=True,  # a loopback intake, on PostgreSQL too
                max_bytes=self.max_bytes,
                office_user=self.office_user,
                office_password=self.office_password,
                **self.intake_options,
            ),
        )
        self.city = self.plan if isinstance(self.plan, City) else City.of(self.plan)
        app = create_app(self.city, self.engine, self.settings, clock=self.clock)
        config = uvicorn.Config(app, log_level="warning", lifespan="off", **self.server_options)
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the intake server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def link(self, item: WorkItem, at: datetime | None = None) -> str:
        return item_link(self.settings, item.id, item.unit, at or self.clock.at)

    def office(self, at: datetime | None = None, scope: str | None = None) -> str:
        """The office link of `scope` (default: the city's code, which for a single commune
        is its own)."""
        return office_link(self.settings, scope or self.city.code, at or self.clock.at)


def t(text: str) -> datetime:
    return parse_instant(text)


def reload(engine, item_id: int) -> WorkItem:
    with transaction(engine) as s:
        return s.get(WorkItem, item_id)


def deliverables(engine, item_id: int | None = None) -> list[Deliverable]:
    query = select(Deliverable).order_by(Deliverable.version, Deliverable.part)
    if item_id is not None:
        query = query.where(Deliverable.item_id == item_id)
    with transaction(engine) as s:
        return list(s.exec(query).scalars())


def deliverable_count(engine) -> int:
    with transaction(engine) as s:
        return s.execute(select(func.count()).select_from(Deliverable)).scalar()


def stored_files(data_dir: Path) -> list[Path]:
    """Every file the intake left on disk: stored blobs and leftover temporary uploads."""
    found = []
    for sub in ("deliverables", "incoming"):
        root = data_dir / sub
        if root.exists():
            found += [p for p in root.rglob("*") if p.is_file()]
    return found


# ----- files ---------------------------------------------------------------------------------


def pdf_bytes(text: str = "Bao cao CCHC quy I") -> bytes:
    """A small valid one-page PDF."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % n + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def pdf_with(catalog: bytes = b"", objects: tuple[bytes, ...] = (), comment: bytes = b"") -> bytes:
    """A one-page PDF whose catalog carries `catalog` (more keys), with more objects numbered
    from 4 on, and a `comment` line after the header; offsets and xref right."""
    base = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog + b" >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
        *objects,
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    if comment:
        out.write(b"%" + comment + b"\n")
    offsets = []
    for n, body in enumerate(base, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % n + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(base) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(base) + 1, xref)
    )
    return out.getvalue()


def stream_object(data: bytes, keys: bytes = b"") -> bytes:
    return b"<< /Length %d %s >>\nstream\n" % (len(data), keys) + data + b"\nendstream"


def _zip(entries: list[tuple[str, bytes]], stored_first: bool = False) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for n, (name, data) in enumerate(entries):
            kind = zipfile.ZIP_STORED if stored_first and n == 0 else zipfile.ZIP_DEFLATED
            archive.writestr(name, data, compress_type=kind)
    return out.getvalue()


CONTENT_TYPES_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
OFFICE_DOCUMENT_REL = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
)
DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
DOCM_MAIN = "application/vnd.ms-word.document.macroEnabled.main+xml"
VBA_PROJECT = "application/vnd.ms-office.vbaProject"
VBA_PROJECT_REL = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"


WORD_DOCUMENT_XML = (
    b'<?xml version="1.0"?><w:document xmlns:w='
    b'"http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body/></w:document>'
)
ODF_CONTENT_XML = (
    b'<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"/>'
)


def content_types(*overrides: tuple[str, str]) -> bytes:
    rows = "".join(f'<Override PartName="{p}" ContentType="{c}"/>' for p, c in overrides)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="{CONTENT_TYPES_NS}">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        f'<Default Extension="xml" ContentType="application/xml"/>{rows}</Types>'
    ).encode()


def relationships(*rels: tuple[str, str]) -> bytes:
    rows = "".join(
        f'<Relationship Id="rId{n}" Type="{kind}" Target="{target}"/>'
        for n, (kind, target) in enumerate(rels, start=1)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{RELS_NS}">{rows}'
        "</Relationships>"
    ).encode()


def docx_bytes(macro: bool = False) -> bytes:
    """A minimal but real Word package: `_rels/.rels` names `word/document.xml`, which
    `[Content_Types].xml` declares as a document's main part (macro: a .docm with its
    vbaProject part)."""
    overrides = [("/word/document.xml", DOCM_MAIN if macro else DOCX_MAIN)]
    if macro:
        overrides.append(("/word/vbaProject.bin", VBA_PROJECT))
    entries = [
        ("[Content_Types].xml", content_types(*overrides)),
        ("_rels/.rels", relationships((OFFICE_DOCUMENT_REL, "word/document.xml"))),
        ("word/document.xml", WORD_DOCUMENT_XML),
    ]
    if macro:
        entries.append(("word/vbaProject.bin", b"\xd0\xcf\x11\xe0macro"))
    return _zip(entries)


def xlsx_bytes() -> bytes:
    """A real workbook, written by openpyxl."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.active["A1"] = "Số liệu"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def odf_bytes(kind: str = "text") -> bytes:
    mimetype = f"application/vnd.oasis.opendocument.{kind}".encode()
    return _zip(
        [("mimetype", mimetype), ("content.xml", ODF_CONTENT_XML)],
        stored_first=True,
    )


def zip_bytes(*entries: tuple[str, bytes]) -> bytes:
    return _zip(list(entries) or [("bao-cao.pdf", pdf_bytes())])


WORD_FIB = struct.pack("<HHHHHH", 0xA5EC, 0xC1, 0, 0x409, 0, 0)
"""The start of a Word 97 document's WordDocument stream (its file information block)."""
XLS_BOF = struct.pack("<HH", 0x0809, 16) + struct.pack("<HHHHII", 0x600, 5, 0, 0, 0, 0)
"""A BIFF8 workbook's first record; the zeros that follow read as empty records."""


def _ole_stream(name: str, n: int, data: dict[str, bytes]) -> bytes:
    if name in data:
        body = data[name]
    elif name == "WordDocument":
        body = WORD_FIB
    elif name in ("Workbook", "Book"):
        body = XLS_BOF
    else:
        body = bytes([65 + n]) * 4096
    size = max(4096, -(-len(body) // 512) * 512)
    return body.ljust(size, b"\0")


def ole_bytes(
    *streams: str, storages: tuple[str, ...] = (), data: dict[str, bytes] | None = None
) -> bytes:
    """A minimal OLE2 compound file (what DOC and XLS are) with the named streams, each at least
    4 KB (regular sectors, no mini stream; `data` gives a stream's bytes, else a Word or Excel
    header or filler), and the named empty storages; all children of the root."""
    sector = 512
    free, end, fat_mark, nostream = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
    bodies = [_ole_stream(name, n, data or {}) for n, name in enumerate(streams)]
    entries = [("Root Entry", 5, end, 0)]
    fat = [fat_mark, end]
    next_sector = 2
    for name, body in zip(streams, bodies, strict=True):
        count = len(body) // sector
        entries.append((name, 2, next_sector, len(body)))
        fat += [next_sector + i + 1 for i in range(count - 1)] + [end]
        next_sector += count
    entries += [(name, 1, end, 0) for name in storages]
    if len(entries) > 4:
        raise ValueError("at most 3 streams and storages")
    if len(fat) > sector // 4:
        raise ValueError("streams too large for one FAT sector")
    fat += [free] * (sector // 4 - len(fat))
    header = bytearray(sector)
    header[0:8] = bytes.fromhex("D0CF11E0A1B11AE1")
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<I", header, 44, 1)  # FAT sectors
    struct.pack_into("<I", header, 48, 1)  # first directory sector
    struct.pack_into("<I", header, 56, 4096)
    struct.pack_into("<III", header, 60, end, 0, end)
    struct.pack_into("<I", header, 72, 0)
    struct.pack_into("<I", header, 76, 0)  # DIFAT[0]: the FAT is sector 0
    for i in range(1, 109):
        struct.pack_into("<I", header, 76 + 4 * i, free)
    directory = bytearray()
    for n, (name, kind, start, size) in enumerate(entries):
        raw = bytearray(128)
        encoded = name.encode("utf-16-le") + b"\0\0"
        raw[0 : len(encoded)] = encoded
        struct.pack_into("<HBB", raw, 64, len(encoded), kind, 1)
        left, right = nostream, nostream
        child = 1 if n == 0 and len(entries) > 1 else nostream
        if n >= 1 and n + 1 < len(entries):
            right = n + 1
        struct.pack_into("<III", raw, 68, left, right, child)
        struct.pack_into("<IQ", raw, 116, start, size)
        directory += raw
    directory += bytes(sector - len(directory))
    for n in range(len(entries), 4):
        struct.pack_into("<III", directory, n * 128 + 68, nostream, nostream, nostream)
    body = b"".join(struct.pack("<I", v) for v in fat) + bytes(directory)
    return bytes(header) + body + b"".join(bodies)


def exe_bytes() -> bytes:
    """The first bytes of a Windows program (DOS stub, PE header)."""
    head = bytearray(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00")
    head += bytes(0x3C - len(head)) + struct.pack("<I", 0x80)
    head += b"This program cannot be run in DOS mode.\r\r\n$"
    head += bytes(0x80 - len(head)) + b"PE\x00\x00" + bytes(200)
    return bytes(head)


def elf_bytes() -> bytes:
    return b"\x7fELF\x02\x01\x01" + bytes(200)


def multipart(
    files: list[tuple[bytes, bytes]], fields: dict[str, str] | None = None
) -> tuple[bytes, str]:
    """A multipart/form-data body built by hand: (raw file name bytes, content) per file, so a
    test can send names no browser would (control characters, raw paths)."""
    boundary = "cchc-test-boundary-7d9f"
    out = io.BytesIO()
    for name, value in (fields or {}).items():
        out.write(f"--{boundary}\r\n".encode())
        out.write(f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        out.write(value.encode() + b"\r\n")
    for raw_name, data in files:
        out.write(f"--{boundary}\r\n".encode())
        out.write(b'Content-Disposition: form-data; name="files"; filename="' + raw_name + b'"\r\n')
        out.write(b"Content-Type: application/octet-stream\r\n\r\n")
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"
