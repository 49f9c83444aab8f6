"""The small forms (an office's decision, a unit's request for more time): their fields read
within the intake's limits, and each field parsed or cleaned as it will be used. A refusal is a
`PageError` in Vietnamese; nothing is read past the limits."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import TYPE_CHECKING

from fastapi import Request

from cchc.intake.errors import PageError
from cchc.intake.upload import MAX_FORM_BYTES, UploadRefused, clean_text, declared_length
from usecases.errors import UserError

if TYPE_CHECKING:
    from cchc.intake.context import IntakeContext

MAX_SMALL_FIELDS = 10
"""Fields a small form may send."""


MAX_VALUE_FIELDS = 100
"""Fields the indicators' form may send (two per ratio, the confirmation)."""


def value_texts(fields: dict[str, str]) -> dict[str, str | tuple[str, str]]:
    """The form's fields as `enter_values` takes them: `n-ID` and `d-ID` a ratio's numerator and
    denominator, `v-ID` a count or a yes/no."""
    texts: dict[str, str | tuple[str, str]] = {}
    for name, value in fields.items():
        kind, _, iid = name.partition("-")
        if kind == "v" and iid:
            texts[iid] = value
        elif kind == "n" and iid:
            texts[iid] = (value, fields.get(f"d-{iid}", ""))
    return texts


async def small_form(
    ctx: IntakeContext, request: Request, max_fields: int = MAX_SMALL_FIELDS
) -> dict[str, str]:
    """The text fields of a small url-encoded form: 413 past `MAX_FORM_BYTES` (refused
    unread), 408 when the body does not come within the intake's read timeout."""
    try:
        length = declared_length(request)
    except UploadRefused as exc:
        raise PageError(exc.status, "Yêu cầu không hợp lệ", exc.message) from None
    if length is None or length > MAX_FORM_BYTES:
        raise PageError(413, "Yêu cầu quá lớn", "Nội dung gửi lên quá dài.")
    try:
        form = await asyncio.wait_for(
            request.form(max_files=0, max_fields=max_fields), ctx.intake.body_timeout
        )
    except TimeoutError:
        raise PageError(408, "Yêu cầu không hợp lệ", "Quá thời gian chờ dữ liệu.") from None
    return {k: v for k, v in form.items() if isinstance(v, str)}


def form_date(fields: dict[str, str], name: str, label: str) -> date:
    """The date field `name` (an ISO date, as `<input type=date>` sends it); UserError naming
    `label` when it is missing or not a date."""
    try:
        return date.fromisoformat((fields.get(name) or "").strip())
    except ValueError:
        raise UserError(f"{label} không hợp lệ: hãy chọn một ngày.") from None


def form_text(fields: dict[str, str], name: str, limit: int, label: str) -> str:
    """The text field `name` as it will be stored ("" when empty); UserError when it holds
    control characters (a NUL byte, an escape sequence) or is longer than `limit`."""
    try:
        return clean_text(fields.get(name), limit, label) or ""
    except UploadRefused as exc:
        raise UserError(exc.message.removesuffix(" Không có tệp nào được lưu.")) from None
