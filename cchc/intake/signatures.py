"""What the office learns about a PDF's digital signatures, with pyHanko.

Each signature embedded in the PDF is validated: its cryptographic value, the bytes it covers
(`intact`: nothing changed after signing but what the signer allowed) and, when the deployment
trusts some roots, its certificate chain. Trust roots are a config file, `trust-roots.pem` in the
config folder (the PEM certificates of the CAs the office trusts: the Vietnamese government CA,
licensed public CAs); none is shipped, and until an admin adds it the chain is reported as not
verified ("chưa xác minh chuỗi chứng thư"). Nothing is fetched: no CRL, no OCSP, no network.

The verdict is stored with the deliverable (`Deliverable.signature`) and shown by
`notifications.signatures.signature_text`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

TRUST_ROOTS = "trust-roots.pem"
MAX_SIGNATURES = 20
log = logging.getLogger(__name__)


def trust_roots(config_dir: Path | None) -> list | None:
    """The certificates of `trust-roots.pem` in the config folder; None when there is none."""
    if config_dir is None:
        return None
    path = Path(config_dir) / TRUST_ROOTS
    if not path.is_file():
        return None
    from asn1crypto import pem, x509

    data = path.read_bytes()
    if not pem.detect(data):
        return [x509.Certificate.load(data)]
    return [x509.Certificate.load(der) for _, _, der in pem.unarmor(data, multiple=True)]


def verify(path: Path, config_dir: Path | None) -> dict[str, Any]:
    """The signatures of the PDF at `path`: {"state": "signed" | "unsigned" | "invalid",
    "signatures": [...], "roots": whether trust roots were configured}."""
    roots = trust_roots(config_dir)
    verdict: dict[str, Any] = {"state": "unsigned", "signatures": [], "roots": roots is not None}
    try:
        found = _signatures(path, roots)
    except Exception as exc:  # noqa: BLE001  (a malformed signature is an invalid one)
        log.warning("signature of %s not verifiable: %s", path.name, exc)
        return {**verdict, "state": "invalid"}
    if found:
        ok = all(s["intact"] for s in found)
        verdict.update(state="signed" if ok else "invalid", signatures=found)
    return verdict


def _signatures(path: Path, roots: list | None) -> list[dict[str, Any]]:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    found = []
    with open(path, "rb") as stream:
        reader = PdfFileReader(stream, strict=False)
        for embedded in reader.embedded_signatures[:MAX_SIGNATURES]:
            context = ValidationContext(
                trust_roots=roots or [], allow_fetching=False, revocation_mode="soft-fail"
            )
            status = validate_pdf_signature(embedded, context)
            at = status.timestamp_validity.timestamp if status.timestamp_validity else None
            at = at or status.signer_reported_dt
            found.append(
                {
                    "signer": _signer(status.signing_cert),
                    "at": at.isoformat() if at else None,
                    "intact": bool(
                        status.intact and status.valid and status.docmdp_ok is not False
                    ),
                    "trusted": bool(status.trusted) if roots is not None else None,
                }
            )
    return found


def _signer(cert) -> str:
    """The signer's common name, with the organisation when the certificate names one."""
    if cert is None:
        return ""
    subject = cert.subject.native
    name = subject.get("common_name") or cert.subject.human_friendly
    organisation = subject.get("organization_name")
    if isinstance(name, list):
        name = name[0]
    if isinstance(organisation, list):
        organisation = organisation[0]
    return f"{name} ({organisation})" if organisation and organisation != name else str(name)
