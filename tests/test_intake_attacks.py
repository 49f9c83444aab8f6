"""The upload attack list of issue 11 (items 1-10), each attack driven as it was found: real HTTP
to the intake under uvicorn, on SQLite and PostgreSQL, and the real `cchc attach` command. Each
test failed on the code before the fix."""

from __future__ import annotations

import os
import re
import socket
import struct
import subprocess
from datetime import timedelta

import httpx
import pytest
from intake_support import (
    DOCX_MAIN,
    OFFICE_DOCUMENT_REL,
    SECRET,
    VBA_PROJECT,
    VBA_PROJECT_REL,
    WORD_DOCUMENT_XML,
    Clock,
    LiveIntake,
    content_types,
    deliverable_count,
    deliverables,
    docx_bytes,
    exe_bytes,
    multipart,
    odf_bytes,
    ole_bytes,
    pdf_bytes,
    relationships,
    reload,
    stored_files,
    t,
    xlsx_bytes,
    zip_bytes,
)
from support import cli_env, find_item, run_cchc, run_cchc_process

from cchc.intake import filetypes
from cchc.intake.formats.zipread import StrictZip
from notifications.links import office_secret, office_token
from usecases.sweep import sweep

REPORT = "bao-cao-cchc-dinh-ky"
NOW = "2027-03-10T09:00"  # Q1 2027 report of VP: open, due 16/03/2027
DOCM_MAIN = "application/vnd.ms-word.document.macroEnabled.main+xml"
XLSM_MAIN = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"


@pytest.fixture
def item(plan, engine):
    sweep(plan, engine, t("2027-03-02T07:30"))
    return find_item(engine, REPORT, "VP", "2027-Q1")


@pytest.fixture
def live(plan, engine, tmp_path):
    with LiveIntake(plan, engine, tmp_path / "data", Clock(t(NOW))) as server:
        yield server


def post_files(url: str, *files: tuple[str, bytes], note: str | None = None) -> httpx.Response:
    parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
    data = {"note": note} if note is not None else {}
    return httpx.post(url, files=parts, data=data, follow_redirects=False, timeout=30)


def assert_refused(response: httpx.Response, live, engine, item, status: int, says: str) -> None:
    """Refused with a Vietnamese reason and the usual headers; nothing stored; item open."""
    assert response.status_code == status, response.text[-600:]
    assert says in response.text
    assert "Không có tệp nào được lưu" in response.text
    assert_secured(response)
    assert deliverable_count(engine) == 0
    assert stored_files(live.data_dir) == []
    assert reload(engine, item.id).status == "open"


def assert_secured(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def ooxml(main_type: str, *extra: tuple[str, bytes], overrides=(), rels=()) -> bytes:
    """A Word package with its main part typed `main_type`, more entries, content-type
    overrides and relationships of the main part."""
    entries = [
        ("[Content_Types].xml", content_types(("/word/document.xml", main_type), *overrides)),
        ("_rels/.rels", relationships((OFFICE_DOCUMENT_REL, "word/document.xml"))),
        ("word/document.xml", WORD_DOCUMENT_XML),
    ]
    if rels:
        entries.append(("word/_rels/document.xml.rels", relationships(*rels)))
    return zip_bytes(*entries, *extra)


def nested(data: bytes, levels: int, name: str = "bao-cao.pdf") -> bytes:
    """`data` named `name` inside `levels` ZIPs, each inside the next."""
    for level in range(levels):
        data = zip_bytes((name, data))
        name = f"lop-{level}.zip"
    return data


def declared_bomb(declared: int = 0xFFFF0000) -> bytes:
    """A ZIP whose central directory declares an entry of `declared` bytes (4 GB): the kind of
    size a bomb announces; refusing it must not need inflating anything."""
    data = bytearray(zip_bytes(("bom.txt", b"0" * 1000)))
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, declared)
    local = data.find(b"PK\x03\x04")
    struct.pack_into("<I", data, local + 22, declared)
    return bytes(data)


# ----- 1. archives inside archives -------------------------------------------------------------


@pytest.mark.parametrize(
    "data, says",
    [
        (zip_bytes(("inner.zip", zip_bytes(("setup.exe", exe_bytes())))), "chương trình"),
        (zip_bytes(("inner.zip", zip_bytes(("readme.txt", exe_bytes())))), "tệp nén khác"),
        (nested(exe_bytes(), 3, name="setup.exe"), "tệp nén khác"),  # two levels deep
        (
            zip_bytes(("a.pdf", pdf_bytes()), ("inner.zip", nested(exe_bytes(), 2, "chay.bin"))),
            "tệp nén khác",
        ),
    ],
    ids=["by-name", "by-content", "two-levels", "beside-a-pdf"],
)
def test_a_program_inside_a_nested_zip_is_refused(data, says, live, engine, item):
    response = post_files(live.link(item), ("minh-chung.zip", data))
    assert_refused(response, live, engine, item, 415, says)


def test_a_zip_is_one_level_of_documents(live, engine, item):
    deep = post_files(live.link(item), ("sau.zip", nested(pdf_bytes(), 2)))
    assert_refused(deep, live, engine, item, 415, "tệp nén khác")
    ok = post_files(live.link(item), ("vua.zip", nested(pdf_bytes(), 1)))
    assert ok.status_code == 303, ok.text
    assert [d.file_type for d in deliverables(engine, item.id)] == ["zip"]


def test_a_zip_bomb_is_refused_by_its_declared_size(live, engine, item, monkeypatch):
    """Refused from the central directory alone: no entry of the bomb is read (inflated)."""
    bomb, small = declared_bomb(), zip_bytes(("bao-cao.pdf", pdf_bytes()))
    read = []
    inflate = StrictZip.chunks

    def recording_chunks(archive, member):  # every entry's bytes go through here
        for piece in inflate(archive, member):
            read.append(member.filename)
            yield piece

    monkeypatch.setattr(StrictZip, "chunks", recording_chunks)  # the server is in-process
    response = post_files(live.link(item), ("bom.zip", bomb))
    assert_refused(response, live, engine, item, 415, "bom nén")
    assert read == []
    accepted = post_files(live.link(item), ("nho.zip", small))
    assert "bao-cao.pdf" in read  # what the recording sees of an entry it does inflate
    assert accepted.status_code == 303  # a folder of documents is taken


def test_entries_are_counted_before_any_is_read(live, engine, item):
    many = zip_bytes(*[(f"b{n}.pdf", b"x") for n in range(filetypes.MAX_ENTRIES + 1)])
    response = post_files(live.link(item), ("nhieu.zip", many))
    assert_refused(response, live, engine, item, 415, "quá nhiều tệp")


def test_other_archives_inside_a_zip_are_refused(live, engine, item):
    rar = b"Rar!\x1a\x07\x01\x00" + bytes(64)
    response = post_files(live.link(item), ("nen.zip", zip_bytes(("tai-lieu.rar", rar))))
    assert_refused(response, live, engine, item, 415, "không kiểm tra được")


# ----- 2. Office and ODF containers get the archive checks, and must really be one ---------------


@pytest.mark.parametrize(
    "name, data, says",
    [
        (
            "ke-hoach.docx",
            zip_bytes(
                ("[Content_Types].xml", b'<?xml version="1.0"?><Types/>'),
                ("word/document.xml", b"<w:document/>"),
                ("setup.exe", exe_bytes()),
                ("../../evil.sh", b"#!/bin/sh\nid\n"),
            ),
            "chương trình",
        ),
        ("ke-hoach.docx", ooxml(DOCX_MAIN, ("../../evil.sh", b"echo")), "đường dẫn không hợp lệ"),
        ("ke-hoach.docx", ooxml(DOCX_MAIN, ("word/media/a.png", exe_bytes())), "chương trình"),
        (
            "van-ban.odt",
            zip_bytes(
                ("mimetype", b"application/vnd.oasis.opendocument.text"),
                ("content.xml", b"<office:document-content/>"),
                ("Pictures/setup.exe", exe_bytes()),
            ),
            "chương trình",
        ),
        (
            "van-ban.odt",
            zip_bytes(
                ("mimetype", b"application/vnd.oasis.opendocument.text"),
                ("content.xml", b"<office:document-content/>"),
                ("/etc/cron.d/job", b"* * * * * root id"),
            ),
            "đường dẫn không hợp lệ",
        ),
    ],
    ids=["smuggled-docx", "docx-traversal", "docx-program-by-content", "odt-program", "odt-abs"],
)
def test_office_containers_get_the_archive_checks(name, data, says, live, engine, item):
    response = post_files(live.link(item), (name, data))
    assert_refused(response, live, engine, item, 415, says)


@pytest.mark.parametrize(
    "data, says",
    [
        # [Content_Types].xml and word/document.xml alone make no Word document
        (
            zip_bytes(
                ("[Content_Types].xml", b'<?xml version="1.0"?><Types/>'),
                ("word/document.xml", b"<w:document/>"),
            ),
            "cấu trúc không đúng",
        ),
        # the package names a main part that is not there
        (
            zip_bytes(
                ("[Content_Types].xml", content_types(("/word/document.xml", DOCX_MAIN))),
                ("_rels/.rels", relationships((OFFICE_DOCUMENT_REL, "word/document.xml"))),
            ),
            "cấu trúc không đúng",
        ),
        # a main part declared as something else than a document
        (ooxml("application/xml"), "không phải văn bản Word"),
        # an ODF `mimetype` that is not the first, stored entry
        (
            zip_bytes(
                ("content.xml", b"<office:document-content/>"),
                ("mimetype", b"application/vnd.oasis.opendocument.text"),
            ),
            "cấu trúc không đúng",
        ),
        # an ODF `mimetype` and nothing else
        (
            zip_bytes(("mimetype", b"application/vnd.oasis.opendocument.text")),
            "cấu trúc không đúng",
        ),
    ],
    ids=["no-rels", "no-main-part", "wrong-main-type", "mimetype-not-first", "no-content"],
)
def test_a_container_is_office_only_when_it_really_is_one(data, says, live, engine, item):
    response = post_files(live.link(item), ("ke-hoach.docx", data))
    assert_refused(response, live, engine, item, 415, says)


def test_real_office_documents_are_still_told_apart(live, engine, item):
    files = [
        ("ke-hoach.docx", docx_bytes()),
        ("so-lieu.xlsx", xlsx_bytes()),
        ("van-ban.odt", odf_bytes("text")),
        ("minh-chung.zip", zip_bytes(("a.docx", docx_bytes()), ("b.pdf", pdf_bytes()))),
    ]
    response = post_files(live.link(item), *files)
    assert response.status_code == 303, response.text
    assert [d.file_type for d in deliverables(engine, item.id)] == ["docx", "xlsx", "odt", "zip"]


# ----- 3. macros found by content, not by name ----------------------------------------------------

VBA_OLE = ole_bytes("PROJECT", "dir", storages=("VBA",))
"""The storages of a VBA project (what vbaProject.bin holds), whatever the part is called."""


@pytest.mark.parametrize(
    "name, data",
    [
        # a .docm whose macro part is renamed: its content type still says what it is
        (
            "ke-hoach.docx",
            ooxml(
                DOCM_MAIN,
                ("word/payload.dat", VBA_OLE),
                overrides=[("/word/payload.dat", VBA_PROJECT)],
                rels=[(VBA_PROJECT_REL, "payload.dat")],
            ),
        ),
        # only the content type declaration
        (
            "ke-hoach.docx",
            ooxml(
                DOCX_MAIN,
                ("word/payload.dat", b"x" * 64),
                overrides=[("/word/payload.dat", VBA_PROJECT)],
            ),
        ),
        # only the relationship
        (
            "ke-hoach.docx",
            ooxml(
                DOCX_MAIN, ("word/payload.dat", b"x" * 64), rels=[(VBA_PROJECT_REL, "payload.dat")]
            ),
        ),
        # no declaration at all: the OLE storage of the VBA project, by content
        ("ke-hoach.docx", ooxml(DOCX_MAIN, ("word/payload.dat", VBA_OLE))),
        # a macro-enabled workbook's main content type
        ("so-lieu.xlsx", ooxml(XLSM_MAIN)),
        # a Word 97 document whose VBA project is a stream, not the `Macros` storage
        ("van-ban.doc", ole_bytes("WordDocument", "PROJECT", storages=("VBA",))),
        # a macro document inside a plain ZIP
        ("minh-chung.zip", zip_bytes(("ke-hoach.docm", docx_bytes(macro=True)))),
    ],
    ids=[
        "renamed-part",
        "content-type-only",
        "relationship-only",
        "ole-storage-only",
        "xlsm",
        "doc-vba-stream",
        "docm-in-zip",
    ],
)
def test_macros_are_found_by_content(name, data, live, engine, item):
    response = post_files(live.link(item), (name, data))
    assert_refused(response, live, engine, item, 415, "macro")


# ----- 4. a truncated multipart body --------------------------------------------------------------


def test_a_truncated_upload_is_refused(live, engine, item):
    body, content_type = multipart([(b"bao-cao.pdf", pdf_bytes())], {"note": "x"})
    cut = body[: body.rindex(b"\r\n--")]  # the file's bytes, without the closing boundary
    response = httpx.post(live.link(item), content=cut, headers={"content-type": content_type})
    assert_refused(response, live, engine, item, 400, "không đầy đủ")


# ----- 5. text fields are checked before anything is written --------------------------------------


@pytest.mark.parametrize(
    "note, says",
    [
        ("Kính gửi\x00", "ký tự điều khiển"),
        ("Báo cáo \x1b[31m", "ký tự điều khiển"),
        ("x" * 2001, "quá dài"),
    ],
    ids=["nul", "escape", "too-long"],
)
def test_bad_notes_are_refused_before_a_byte_is_stored(note, says, live, engine, item):
    response = post_files(live.link(item), ("bao-cao.pdf", pdf_bytes()), note=note)
    assert_refused(response, live, engine, item, 400, says)


def test_a_note_keeps_its_lines_and_tabs(live, engine, item):
    note = "Dòng 1\r\n\tDòng 2"
    assert post_files(live.link(item), ("a.pdf", pdf_bytes()), note=note).status_code == 303
    assert deliverables(engine, item.id)[0].note == "Dòng 1\n\tDòng 2"


# ----- 6. damaged files, out-of-range numbers -----------------------------------------------------


def corrupt_zip() -> bytes:
    data = bytearray(zip_bytes(("a.pdf", pdf_bytes() * 20)))
    start = data.find(b"a.pdf") + len("a.pdf")
    for n in range(start + 10, start + 60):
        data[n] ^= 0x55
    return bytes(data)


def encrypted_mimetype_odt() -> bytes:
    data = bytearray(odf_bytes("text"))
    data[6] |= 1  # the local header's "encrypted" flag
    data[data.find(b"PK\x01\x02") + 8] |= 1  # and the central directory's
    return bytes(data)


@pytest.mark.parametrize(
    "name, data",
    [
        ("hong.zip", corrupt_zip()),
        ("van-ban.odt", encrypted_mimetype_odt()),
        ("van-ban.doc", bytes.fromhex("D0CF11E0A1B11AE1") + b"\xff" * 3000),
        ("van-ban.doc", bytes.fromhex("D0CF11E0A1B11AE1") + os.urandom(3000)),
        ("ke-hoach.docx", ooxml(DOCX_MAIN)[:-30]),  # the central directory cut short
    ],
    ids=["corrupt-zip-data", "encrypted-odt-mimetype", "ole-ff", "ole-garbage", "cut-zip"],
)
def test_damaged_files_are_refused_with_415(name, data, live, engine, item):
    response = post_files(live.link(item), (name, data))
    assert response.status_code == 415, response.text[-400:]
    assert re.search("hỏng|mật khẩu|không mở được|không đọc được", response.text)
    assert_refused(response, live, engine, item, 415, "Chưa nộp được")


@pytest.fixture
def office(plan, engine, tmp_path):
    with LiveIntake(
        plan,
        engine,
        tmp_path / "data",
        Clock(t(NOW)),
        office_user="vhxh",
        office_password="mat-khau-thu",
    ) as server:
        yield server


def test_out_of_range_numbers_on_office_routes(office, engine, item):
    token = httpx.URL(office.office()).params["t"]
    base = office.base
    answers = [
        httpx.get(f"{base}/office/files/{10**20}", params={"t": token}),
        httpx.get(f"{base}/office/files/{2**31}", params={"t": token}),
        httpx.post(f"{base}/office/items/{2**31}/versions/1/accept", data={"t": token}),
        httpx.post(f"{base}/office/items/{item.id}/versions/{2**31}/accept", data={"t": token}),
        httpx.post(
            f"{base}/office/items/{item.id}/versions/1/return",
            data={"t": token, "reason": "Thiếu", "due": "9999-12-31"},
        ),
        httpx.post(
            f"{base}/office/items/{item.id}/versions/1/return",
            data={"t": token, "reason": "Thiếu\x00", "due": "2027-03-23"},
        ),
    ]
    for response in answers:
        assert response.status_code in (400, 404), (response.request.url, response.status_code)
        assert_secured(response)
    for year in ("-5", "99999"):  # a year out of range is no filter: every open item, no 500
        shown = httpx.get(f"{base}/office", params={"t": token, "year": year})
        assert shown.status_code == 200 and "Tất cả các năm" in shown.text
        assert_secured(shown)
    assert reload(engine, item.id).status == "open"


# ----- 7. a stalled upload -----------------------------------------------------------------------


def test_a_stalled_upload_is_cut_after_the_body_timeout(plan, engine, tmp_path, item):
    options = {"body_timeout": 1.0}
    with LiveIntake(
        plan, engine, tmp_path / "data", Clock(t(NOW)), intake_options=options
    ) as server:
        body, content_type = multipart([(b"bao-cao.pdf", pdf_bytes())])
        url = httpx.URL(server.link(item))
        head = (
            f"POST {url.raw_path.decode()} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        # Without the body timeout nothing would ever answer: the client's own timeout (15 s)
        # would fail the test.
        with socket.create_connection((url.host, url.port), timeout=15) as conn:
            conn.sendall(head.encode() + body[:200])  # then nothing more
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = conn.recv(65536)
                assert chunk, "connection closed without an answer"
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert deliverable_count(engine) == 0
        assert stored_files(server.data_dir) == []


# ----- 8. office access ---------------------------------------------------------------------------


def test_failed_logins_are_throttled_per_client(office, item):
    url = f"{office.base}/office"
    for _ in range(5):
        assert httpx.get(url, auth=("vhxh", "doan-sai")).status_code == 401
    blocked = httpx.get(url, auth=("vhxh", "mat-khau-thu"))  # even the right password now
    assert blocked.status_code == 429 and "sai mật khẩu quá nhiều lần" in blocked.text
    assert int(blocked.headers["retry-after"]) > 0
    assert httpx.get(office.office()).status_code == 200  # the signed link is not throttled
    office.clock.at += timedelta(minutes=16)
    assert httpx.get(url, auth=("vhxh", "mat-khau-thu")).status_code == 200


def test_a_basic_auth_page_carries_a_short_lived_token(office, item):
    page = httpx.get(f"{office.base}/office", auth=("vhxh", "mat-khau-thu"))
    [token] = set(re.findall(r'name="t" value="([^"]+)"', page.text))
    url = f"{office.base}/office"
    assert httpx.get(url, params={"t": token}).status_code == 200
    office.clock.at += timedelta(hours=13)
    expired = httpx.get(url, params={"t": token})
    assert expired.status_code == 403 and "hết hạn" in expired.text


def test_office_links_expire_sooner(office, item):
    link = office.office(office.clock.at - timedelta(days=29))
    assert httpx.get(link).status_code == 200
    assert httpx.get(office.office(office.clock.at - timedelta(days=31))).status_code == 403


def test_office_links_are_revoked_by_a_new_office_key(plan, engine, tmp_path, item):
    at = t(NOW)
    old = office_token(office_secret(SECRET, None), plan.commune.code, at)
    options = {"office_key": "khoa-van-phong-2"}
    with LiveIntake(plan, engine, tmp_path / "data", Clock(at), intake_options=options) as server:
        assert httpx.get(f"{server.base}/office", params={"t": old}).status_code == 403
        assert httpx.get(server.office()).status_code == 200  # a link made with the new key
        assert httpx.get(server.link(item)).status_code == 200  # units' links stay valid


# ----- 9. cchc attach ----------------------------------------------------------------------------


@pytest.fixture
def attach_env(tmp_path, sqlite_engine, sqlite_url, plan):
    sweep(plan, sqlite_engine, t("2027-03-02T07:30"))
    found = find_item(sqlite_engine, REPORT, "VP", "2027-Q1")
    return cli_env(tmp_path / "data", sqlite_url), found.id, sqlite_url


def attach(env, *args: str, process: bool = False) -> subprocess.CompletedProcess:
    """`cchc attach ARGS` (in this process unless `process`: its own, that a timeout stops)."""
    run = run_cchc_process if process else run_cchc
    return run(env, "attach", *args, "--at", "2027-03-10T15:00", ok=False)


def item_status(url: str, item_id: int) -> str:
    from models.db import make_engine

    engine = make_engine(url)
    try:
        return reload(engine, item_id).status
    finally:
        engine.dispose()


def test_attach_refuses_a_fifo_without_hanging(attach_env, tmp_path):
    env, item_id, url = attach_env
    fifo = tmp_path / "bao-cao.pdf"
    os.mkfifo(fifo)
    done = attach(env, str(item_id), str(fifo), process=True)  # a hang would fail, not block
    assert done.returncode == 1 and "không phải tệp thường" in done.stderr
    assert item_status(url, item_id) == "open"


def test_attach_refuses_a_symlink(attach_env, tmp_path):
    env, item_id, url = attach_env
    secret = tmp_path / "mat-khau.txt"
    secret.write_bytes(b"%PDF-1.7 root:x:0:0")
    link = tmp_path / "bao-cao.pdf"
    link.symlink_to(secret)
    done = attach(env, str(item_id), str(link))
    assert done.returncode == 1 and "symbolic link" in done.stderr
    assert item_status(url, item_id) == "open"


def test_attach_checks_the_content_unless_told_not_to(attach_env, tmp_path):
    env, item_id, url = attach_env
    program = tmp_path / "bao-cao.pdf"
    program.write_bytes(exe_bytes())
    refused = attach(env, str(item_id), str(program))
    assert refused.returncode == 1 and "chương trình Windows" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert item_status(url, item_id) == "open"
    notes = tmp_path / "ghi-chu.txt"
    notes.write_text("Biên bản họp", encoding="utf-8")
    done = attach(env, str(item_id), str(notes), "--no-check")
    assert done.returncode == 0, done.stderr
    assert f"Nhiệm vụ số {item_id}: đã nộp (closed)" in done.stdout and "ghi-chu.txt" in done.stdout
    assert item_status(url, item_id) == "closed"
    assert not list((tmp_path / "data" / "incoming").iterdir())  # the private copy is gone


# ----- 10. redirects -----------------------------------------------------------------------------


def test_redirects_are_built_from_the_public_url(live):
    response = httpx.get(f"{live.base}/static", headers={"host": "evil.example"})
    assert response.status_code in (301, 302, 307, 308)
    assert response.headers["location"].startswith(live.base + "/static")
    assert "evil.example" not in response.headers["location"]
