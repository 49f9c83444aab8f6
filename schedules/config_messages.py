"""Pydantic's validation errors of a config file as `FILE:LINE: message` issues.

Pydantic says what is wrong in English; an admin also needs to know what to write. Each error
becomes an issue at its line, its path as the editor counts (`units[2] (VP).email`), its
message with a hint in English and a gloss in Vietnamese.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from schedules.config import ConfigFile
from schedules.config_base import OBLIGATION_ID, UNIT_CODE
from schedules.yamlsource import ConfigIssue, YamlSource

# Pydantic's messages are English: each error type gets a hint of what to write (English, may
# be None) and its Vietnamese gloss; "{name}" takes the error's context (ge, le, min_length...).
_GLOSS: dict[str, tuple[str | None, str]] = {
    "int_parsing": ("write a whole number, e.g. 5", "phải là số nguyên"),
    "int_type": ("write a whole number, e.g. 5", "phải là số nguyên"),
    "int_from_float": ("write a whole number, e.g. 5", "phải là số nguyên"),
    "float_parsing": (None, "phải là số"),
    "float_type": (None, "phải là số"),
    "bool_parsing": ("write true or false", "phải là true hoặc false"),
    "bool_type": ("write true or false", "phải là true hoặc false"),
    "date_from_datetime_parsing": ("write YYYY-MM-DD, e.g. 2026-12-01", "phải là ngày YYYY-MM-DD"),
    "date_from_datetime_inexact": ("write YYYY-MM-DD, e.g. 2026-12-01", "phải là ngày YYYY-MM-DD"),
    "date_parsing": ("write YYYY-MM-DD, e.g. 2026-12-01", "phải là ngày YYYY-MM-DD"),
    "date_type": ("write YYYY-MM-DD, e.g. 2026-12-01", "phải là ngày YYYY-MM-DD"),
    "time_parsing": ("write HH:MM, e.g. 07:30", "phải là giờ HH:MM, từ 00:00 đến 23:59"),
    "time_type": ("write HH:MM, e.g. 07:30", "phải là giờ HH:MM, từ 00:00 đến 23:59"),
    "string_type": ('quote it if needed: "..."', "phải là chuỗi ký tự"),
    "string_too_short": (None, "không được để trống"),
    "string_too_long": (None, "dài quá {max_length} ký tự"),
    "too_short": (None, "cần ít nhất {min_length} mục"),
    "too_long": (None, "nhiều nhất {max_length} mục"),
    "greater_than_equal": (None, "phải lớn hơn hoặc bằng {ge}"),
    "greater_than": (None, "phải lớn hơn {gt}"),
    "less_than_equal": (None, "phải nhỏ hơn hoặc bằng {le}"),
    "less_than": (None, "phải nhỏ hơn {lt}"),
    "literal_error": (None, "phải là một trong các giá trị trên"),
    "enum": (None, "phải là một trong các giá trị trên"),
    "list_type": ("write a list, e.g. [VHXH, VP]", "phải là danh sách"),
    "dict_type": ("write key: value lines", "phải là một khối khóa: giá trị"),
    "model_type": ("write key: value lines", "phải là một khối khóa: giá trị"),
    "model_attributes_type": ("write key: value lines", "phải là một khối khóa: giá trị"),
}
_PATTERN_GLOSS: dict[str, tuple[str, str]] = {
    UNIT_CODE: ("capitals, digits, _, e.g. VHXH", "mã đơn vị: chữ in hoa không dấu, số, dấu _"),
    OBLIGATION_ID: (
        "lower case, digits, -, e.g. bao-cao-quy",
        "mã nhiệm vụ: chữ thường không dấu, số, dấu -",
    ),
    r"^\d\d-\d\d$": ("month-day, e.g. 12-25", "tháng-ngày dạng MM-DD"),
    r"^[a-z0-9][a-z0-9-]{0,31}$": (
        "lower case, digits, -, e.g. maodien",
        "chữ thường không dấu, số, dấu -",
    ),
}
# The rules of schedules/config*.py, by words of their message.
_VALUE_GLOSS: dict[str, str] = {
    "not a valid email address": "địa chỉ thư điện tử không hợp lệ",
    "give exactly one of every, rrule, once": "khai báo đúng một trong every, rrule, once",
    "give at most one of": "chỉ khai báo một quy tắc tính hạn",
    "period goes with rrule only": "period chỉ dùng cùng rrule",
    "window_from goes with once only": "window_from chỉ dùng cùng once",
    "window_start_day goes with": "window_start_day chỉ dùng với các kỳ đã nêu",
    "is not a day of the year": "không phải một ngày trong năm",
    "obligation has no schedule": "nhiệm vụ loại này không có lịch: bỏ schedule",
    "obligation needs a schedule": "nhiệm vụ loại này cần có lịch (schedule)",
    "unknown time zone": "múi giờ không tồn tại; ví dụ Asia/Ho_Chi_Minh",
    "defaults must set": "defaults phải khai báo đủ các mục này",
    "must lie between plan_start": "ngày start phải nằm trong khoảng plan_start - plan_end",
}


def pydantic_issue(
    source: YamlSource, err: Any, model: type[BaseModel] = ConfigFile
) -> ConfigIssue:
    """A pydantic error at its line, its path as the editor counts ("units[2] (VP).email"),
    its message in English with a hint and a Vietnamese gloss."""
    loc = tuple(err["loc"])
    kind, ctx = err["type"], err.get("ctx") or {}
    message = err["msg"].removeprefix("Value error, ")
    where = source.describe(loc)
    gloss: str | None
    if kind in ("missing", "extra_forbidden"):
        where, hint = source.describe(loc[:-1]), None
        message, gloss = _field_problem(kind, loc, model)
    else:
        hint, gloss = _hint_and_gloss(kind, ctx, message)
    if hint:
        message = f"{message}: {hint}"
    if gloss:
        message = f"{message} ({gloss.format(**ctx)})"
    return source.issue(loc, f"{where}: {message}" if where else message)


def _field_problem(kind: str, loc: tuple[Any, ...], model: type[BaseModel]) -> tuple[str, str]:
    """The message and gloss of a field missing, or one the model does not know (at the top
    level: with the keys it knows)."""
    if kind == "missing":
        return f"missing field '{loc[-1]}'", "thiếu trường bắt buộc"
    message = f"unknown field '{loc[-1]}'"
    if len(loc) == 1:
        keys = ", ".join(model.model_fields)
        return f"{message}: use {keys}", "khóa cấp cao nhất không hợp lệ"
    return message, "trường không hợp lệ; kiểm tra chính tả và thụt lề"


def _hint_and_gloss(kind: str, ctx: dict[str, Any], message: str) -> tuple[str | None, str | None]:
    """What to write (English, may be None) and the Vietnamese gloss of an error of type
    `kind`; a message pydantic wrote (ASCII) gets at least "invalid value"."""
    if kind == "string_pattern_mismatch":
        return _PATTERN_GLOSS.get(ctx.get("pattern", ""), (None, "không đúng định dạng"))
    if kind == "value_error":
        found = [vi for en, vi in _VALUE_GLOSS.items() if en in message]
        if found:
            return None, found[0]
        return None, "giá trị không hợp lệ" if message.isascii() else None
    hint, gloss = _GLOSS.get(kind, (None, None))
    if gloss is None and message.isascii():
        gloss = "giá trị không hợp lệ"
    return hint, gloss
