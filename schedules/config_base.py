"""What every model of the config files shares: the strict base model, the patterns of unit
codes and obligation ids, and the check of a clock time."""

from __future__ import annotations

import re
from datetime import time

from pydantic import BaseModel, ConfigDict

UNIT_CODE = r"^[A-Z][A-Z0-9_]{0,31}$"
OBLIGATION_ID = r"^[a-z0-9][a-z0-9-]{1,63}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def clock_time(value: object) -> object:
    """Only HH:MM (or HH:MM:SS) for a clock time: pydantic would read 450 or "0730" as
    seconds."""
    if isinstance(value, time):
        return value
    if not (isinstance(value, str) and re.fullmatch(r"\d\d:\d\d(:\d\d)?", value)):
        raise ValueError(
            f'{value!r} is not a time HH:MM: write it quoted, e.g. "07:30" (a number such '
            "as 0730 is read as a number) (giờ phải viết HH:MM, đặt trong dấu nháy)"
        )
    return value
