"""`cchc new-config`: a commented config skeleton for the next commune that adopts cchc.

The skeleton (templates in `cchc/cli/skeleton/`) holds the commune, two units, an empty calendar
year, one obligation of each schedule form and one indicator, with the JSON Schema beside them
for the editor; it
passes `cchc check` as written, so an admin edits from a working config."""

from __future__ import annotations

import json
import re
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from cchc.schema import config_schema
from schedules.commune_kinds import COMMUNE_KIND_LABELS, CommuneKind

FILES = ("commune.yaml", "units.yaml", "calendar.yaml", "obligations.yaml", "indicators.yaml")
COMMUNE_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


def _kind_of(name: str) -> CommuneKind:
    """What the commune's name says it is ("Ủy ban nhân dân phường …" is a phường); a xã
    otherwise."""
    lowered = name.casefold()
    for kind in (CommuneKind.DAC_KHU, CommuneKind.PHUONG):
        if f"{COMMUNE_KIND_LABELS[kind]} " in lowered:
            return kind
    return CommuneKind.XA


def write_config(folder: Path, code: str, name: str, year: int) -> list[Path]:
    """Write the skeleton into `folder` (created; it must be empty); returns the files written.
    Raises ValueError with a message for the admin."""
    if not COMMUNE_CODE.fullmatch(code):
        raise ValueError(
            f"Mã xã {code!r} không hợp lệ: chỉ chữ thường không dấu, chữ số và '-', tối đa 32 ký tự"
        )
    name = " ".join(name.split())
    if not name:
        raise ValueError('Cần tên xã, ví dụ --name "Ủy ban nhân dân xã …"')
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ValueError(f"{folder} đã có và không phải thư mục trống")
    env = Environment(
        loader=PackageLoader("cchc.cli", "skeleton"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    kind = _kind_of(name)
    values = {
        "code": code,
        "name": name.replace('"', "'"),
        "year": year,
        "folder": folder,
        "kind": kind,
        "kind_word": COMMUNE_KIND_LABELS[kind],
    }
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for file in FILES:
        path = folder / file
        path.write_text(env.get_template(f"{file}.j2").render(values), encoding="utf-8")
        written.append(path)
    schema = folder / "schema.json"
    text = json.dumps(config_schema(), ensure_ascii=False, indent=2) + "\n"
    schema.write_text(text, encoding="utf-8")
    return written + [schema]
