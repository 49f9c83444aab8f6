"""A file's digital signatures as the receipt, the mails and the office page say them, from the
verdict the intake stored (`Deliverable.signature`, see `cchc.intake.signatures`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from schedules.dates import VN_ZONE, vn_datetime

UNSIGNED = "chưa ký số"
INVALID = "chữ ký không hợp lệ"
NOT_CHAINED = "chưa xác minh chuỗi chứng thư"


def signature_text(verdict: dict[str, Any] | None, zone: ZoneInfo = VN_ZONE) -> str:
    """ "ký số bởi … lúc …, toàn vẹn" (each signature), "chưa ký số", "chữ ký không hợp lệ";
    "" when nothing was checked (not a PDF, or handed in without the check)."""
    if not verdict:
        return ""
    state = verdict.get("state")
    if state == "unsigned":
        return UNSIGNED
    signatures = verdict.get("signatures") or []
    if state != "signed" or not signatures:
        return INVALID
    return "; ".join(_one(s, bool(verdict.get("roots")), zone) for s in signatures)


def _one(signature: dict[str, Any], roots: bool, zone: ZoneInfo) -> str:
    text = f"ký số bởi {signature.get('signer') or 'người ký không rõ'}"
    at = signature.get("at")
    if at:
        text += f" lúc {vn_datetime(datetime.fromisoformat(at), zone)}"
    text += ", toàn vẹn"
    if not roots:
        return f"{text}, {NOT_CHAINED}"
    if signature.get("trusted"):
        return f"{text}, chứng thư hợp lệ"
    return f"{text}, chứng thư không thuộc tổ chức chứng thực được tin cậy"


def is_signed(verdict: dict[str, Any] | None) -> bool:
    """A signature was found and every one is intact."""
    return verdict is not None and verdict.get("state") == "signed"
