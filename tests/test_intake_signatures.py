"""What the office learns about a PDF's digital signatures (issue 21): pyHanko validates them; the
receipt, the office page and the receipt mail say "ký số bởi … lúc …, toàn vẹn", "chưa ký số" or
"chữ ký không hợp lệ"; trust roots come from `trust-roots.pem` in the config folder (none
shipped: "chưa xác minh chuỗi chứng thư"); an obligation may refuse unsigned reports. The
signing certificate is made in the test."""

from __future__ import annotations

import dataclasses
import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from intake_support import (
    Clock,
    LiveIntake,
    deliverables,
    pdf_bytes,
    stored_files,
    t,
    xlsx_bytes,
)
from support import cli_env, find_item
from test_intake_attacks import NOW, REPORT, post_files

from cchc.intake import filetypes
from cchc.intake.signatures import TRUST_ROOTS, verify
from schedules.plan_loader import load_plan
from schedules.yamlsource import ConfigInvalid
from usecases.sweep import sweep

SIGNER = "Nguyễn Văn An"
ORGANISATION = "UBND xã Mao Điền"


@pytest.fixture(scope="module")
def certificate():
    """A self-signed signing certificate and its key (cryptography objects)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, SIGNER),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
        ]
    )
    now = datetime.now(UTC)
    usage = x509.KeyUsage(True, True, False, False, False, True, True, False, False)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def signed(certificate, data: bytes | None = None) -> bytes:
    """`data` (a plain PDF by default) signed with pyHanko by the test certificate."""
    from asn1crypto import keys, x509
    from cryptography.hazmat.primitives import serialization
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    cert, key = certificate
    der = serialization.Encoding.DER
    signing_cert = x509.Certificate.load(cert.public_bytes(der))
    signing_key = keys.PrivateKeyInfo.load(
        key.private_bytes(der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    signer = signers.SimpleSigner(
        signing_cert=signing_cert,
        signing_key=signing_key,
        cert_registry=SimpleCertificateStore.from_certs([signing_cert]),
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(data or pdf_bytes()))
    meta = signers.PdfSignatureMetadata(field_name="ChuKy1")
    return signers.sign_pdf(writer, meta, signer=signer).getvalue()


def tampered(data: bytes) -> bytes:
    """The signed bytes with one letter of the page's text changed (still a valid PDF)."""
    at = data.index(b"Bao cao")
    return data[:at] + b"X" + data[at + 1 :]


@pytest.fixture
def item(plan, engine):
    sweep(plan, engine, t("2027-03-02T07:30"))
    return find_item(engine, REPORT, "VP", "2027-Q1")


def intake(plan, engine, tmp_path, **kwargs) -> LiveIntake:
    return LiveIntake(plan, engine, tmp_path / "data", Clock(t(NOW)), **kwargs)


# ----- verify -------------------------------------------------------------------------------------


def test_a_signed_pdf_is_taken_and_its_signature_read(certificate, tmp_path):
    path = tmp_path / "bao-cao.pdf"
    path.write_bytes(signed(certificate))
    assert filetypes.sniff(path).kind == "pdf"  # the signature's structures are not refused
    verdict = verify(path, tmp_path)
    assert verdict["state"] == "signed" and verdict["roots"] is False
    [found] = verdict["signatures"]
    assert found["signer"] == f"{SIGNER} ({ORGANISATION})"
    assert found["intact"] is True and found["trusted"] is None and found["at"]


def test_trust_roots_come_from_the_config_folder(certificate, tmp_path):
    from cryptography.hazmat.primitives import serialization

    path = tmp_path / "bao-cao.pdf"
    path.write_bytes(signed(certificate))
    pem = certificate[0].public_bytes(serialization.Encoding.PEM)
    (tmp_path / TRUST_ROOTS).write_bytes(pem)
    [found] = verify(path, tmp_path)["signatures"]
    assert found["trusted"] is True


def test_unsigned_and_tampered(certificate, tmp_path):
    path = tmp_path / "a.pdf"
    path.write_bytes(pdf_bytes())
    assert verify(path, None)["state"] == "unsigned"
    path.write_bytes(tampered(signed(certificate)))
    assert verify(path, None)["state"] == "invalid"


# ----- what the unit and the office see -----------------------------------------------------------


def test_receipt_and_office_page_say_who_signed(certificate, plan, engine, tmp_path, item):
    files = [
        ("bao-cao.pdf", signed(certificate)),
        ("phu-luc.pdf", pdf_bytes("Phu luc")),
        ("sua.pdf", tampered(signed(certificate))),
        ("so-lieu.xlsx", xlsx_bytes()),
    ]
    with intake(plan, engine, tmp_path, office_user="vp", office_password="mk-thu") as live:
        response = post_files(live.link(item), *files)
        assert response.status_code == 303, response.text[-400:]
        receipt = httpx.get(live.base + response.headers["location"]).text
        office = httpx.get(live.office()).text
    for page in (receipt, office):
        assert f"ký số bởi {SIGNER} ({ORGANISATION}) lúc " in page
        assert "toàn vẹn, chưa xác minh chuỗi chứng thư" in page
        assert "Chữ ký số: chưa ký số" in page
        assert "Chữ ký số: chữ ký không hợp lệ" in page
    states = [(r.original_name, (r.signature or {}).get("state")) for r in deliverables(engine)]
    assert states == [
        ("bao-cao.pdf", "signed"),
        ("phu-luc.pdf", "unsigned"),
        ("sua.pdf", "invalid"),
        ("so-lieu.xlsx", None),
    ]


def test_the_receipt_mail_says_it(certificate, plan, tmp_path):
    from models.tables import Deliverable, Outbox, WorkItem
    from notifications.compose import Composer
    from notifications.facts import Facts
    from notifications.samples import sample_item

    at = datetime(2027, 3, 9, 1, 0, tzinfo=UTC)
    item = sample_item(plan, at)
    closed = WorkItem(**item.model_dump() | {"status": "closed", "step": "closed", "closed_at": at})
    path = tmp_path / "bao-cao.pdf"
    path.write_bytes(signed(certificate))
    got = Deliverable(
        item_id=0,
        version=1,
        original_name="bao-cao.pdf",
        size=1,
        sha256="0" * 64,
        stored_path="",
        received_at=at,
        signature=verify(path, None),
    )
    row = Outbox(id=1, item_id=0, step="closed", kind="closed", recipient="a@b.example", cc=[],
                 created_at=at, send_after=at)  # fmt: skip
    mail = Composer(plan).for_row(row, Facts(items={0: closed}, deliverables={0: got}), at)
    text = mail.message.get_body(("plain",)).get_content()
    assert f"Chữ ký số: ký số bởi {SIGNER} ({ORGANISATION}) lúc " in text
    assert "toàn vẹn, chưa xác minh chuỗi chứng thư." in text


# ----- policy per obligation ------------------------------------------------------------------


def test_an_obligation_may_refuse_unsigned_reports(certificate, plan, engine, tmp_path, item):
    strict = plan.obligations[REPORT].model_copy(update={"signature": "refuse"})
    refusing = dataclasses.replace(plan, obligations={**plan.obligations, REPORT: strict})
    with intake(refusing, engine, tmp_path) as live:
        for files in ([("a.pdf", pdf_bytes())], [("b.pdf", tampered(signed(certificate)))]):
            response = post_files(live.link(item), *files)
            assert response.status_code == 422, response.text[-300:]
            assert "yêu cầu báo cáo có chữ ký số" in response.text
            assert stored_files(live.data_dir) == [] and deliverables(engine) == []
        files = [("bao-cao.pdf", signed(certificate)), ("so-lieu.xlsx", xlsx_bytes())]
        ok = post_files(live.link(item), *files)
        assert ok.status_code == 303, ok.text[-300:]


def test_the_policy_is_checked_with_the_config(config_dir):
    plan_file = config_dir / "obligations-plan.yaml"
    text = plan_file.read_text(encoding="utf-8")
    anchor = "  - id: bao-cao-cchc-dinh-ky\n"
    plan_file.write_text(text.replace(anchor, anchor + "    signature: refuse\n"), "utf-8")
    assert load_plan(config_dir).obligations[REPORT].signature == "refuse"
    plan_file.write_text(text.replace(anchor, anchor + "    signature: sometimes\n"), "utf-8")
    with pytest.raises(ConfigInvalid) as invalid:
        load_plan(config_dir)
    assert "signature" in str(invalid.value)


def test_attach_records_the_signature(certificate, tmp_path, sqlite_url, plan):
    from models.db import ensure_schema, make_engine

    engine = make_engine(sqlite_url)
    ensure_schema(engine)
    sweep(plan, engine, t("2027-03-02T07:30"))
    found = find_item(engine, REPORT, "VP", "2027-Q1")
    path = tmp_path / "bao-cao.pdf"
    path.write_bytes(signed(certificate))
    env = cli_env(tmp_path / "data", sqlite_url)
    done = subprocess.run(
        [sys.executable, "-m", "cchc.cli", "attach", str(found.id), str(path), "--at", NOW],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    [row] = deliverables(engine, found.id)
    engine.dispose()
    assert row.signature["state"] == "signed" and row.file_type == "pdf"
